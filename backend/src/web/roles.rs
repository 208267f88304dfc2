//! The roles table: which commands a student may give. One place, called once at the top of
//! a viewer's command handling (`viewer.rs`) and by the HTTP API (`api.rs`).
//!
//! A student watches: chooses models to watch and connections to follow, opens echo clients.
//! Everything that changes the class's server for everyone — starting or stopping a model,
//! a load, an experiment, the lesson's computation, leading the class, asking a question and
//! revealing its answer — is the teacher's; everyone may vote. The
//! match is exhaustive, so a new command cannot be added without deciding who may send it.

use kettle_shared::{Command, Reason, Role};

/// A command's `op` and whether only the teacher may give it.
fn op(command: &Command) -> (&'static str, bool) {
    match command {
        Command::Subscribe { .. } => ("subscribe", false),
        Command::EchoOpen { .. } => ("echo_open", false),
        Command::EchoSend { .. } => ("echo_send", false),
        Command::EchoClose { .. } => ("echo_close", false),
        Command::Spotlight { .. } => ("spotlight", false),
        Command::Start { .. } => ("start", true),
        Command::Stop { .. } => ("stop", true),
        Command::LoadStart { .. } => ("load_start", true),
        Command::LoadStop => ("load_stop", true),
        Command::ExperimentRun { .. } => ("experiment_run", true),
        Command::Compute { .. } => ("compute", true),
        Command::FollowMe { .. } => ("follow_me", true),
        Command::Vote { .. } => ("vote", false),
        Command::Ask { .. } => ("ask", true),
        Command::Reveal { .. } => ("reveal", true),
    }
}

/// Whether `role` may give `command`; a refusal says which command was the teacher's.
pub(super) fn allowed(role: Role, command: &Command) -> Result<(), Reason> {
    match (role, op(command)) {
        (Role::Student, (what, true)) => Err(Reason::TeacherOnly { what: what.to_owned() }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::LoadSpec;

    fn every_command() -> Vec<Command> {
        let model = || "blocking".to_owned();
        vec![
            Command::Subscribe { models: None, aggregates: None },
            Command::Start { model: model() },
            Command::Stop { model: model() },
            Command::EchoOpen { model: model(), port: None },
            Command::EchoSend { client: 1, text: "hi".into() },
            Command::EchoClose { client: 1 },
            Command::Compute { ms: 10 },
            Command::Spotlight { model: model(), sample: 1 },
            Command::LoadStart {
                spec: LoadSpec { model: model(), conns: 1, rate: None, size: 64, secs: 1 },
            },
            Command::LoadStop,
            Command::ExperimentRun { name: "scan".into(), short: true },
            Command::FollowMe { view: None },
            Command::Ask { question: None },
            Command::Vote { question: "select-wait".into(), choice: 1 },
            Command::Reveal { question: "select-wait".into(), conn: 1, after_seq: 0 },
        ]
    }

    #[test]
    fn the_table_names_each_op_as_the_wire_does() {
        let commands = every_command();
        assert_eq!(commands.len(), kettle_shared::COMMAND_OPS.len(), "one of every command");
        for c in &commands {
            let wire = serde_json::to_value(c).unwrap()["op"].as_str().unwrap().to_owned();
            assert_eq!(op(c).0, wire);
        }
    }

    #[test]
    fn a_teacher_may_do_everything() {
        for c in every_command() {
            assert_eq!(allowed(Role::Teacher, &c), Ok(()), "{c:?}");
        }
    }

    #[test]
    fn a_student_watches_and_echoes_but_controls_nothing() {
        let mut refused = Vec::new();
        for c in every_command() {
            match allowed(Role::Student, &c) {
                Ok(()) => {}
                Err(Reason::TeacherOnly { what }) => refused.push(what),
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(
            refused,
            [
                "start",
                "stop",
                "compute",
                "load_start",
                "load_stop",
                "experiment_run",
                "follow_me",
                "ask",
                "reveal"
            ]
        );
    }
}
