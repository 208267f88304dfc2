//! The Fig. 6.6 comparison's state: which models are ticked, and the line last sent through
//! one client on each. Pure: commands to send are returned to the reducer, which hands them
//! to the app.
//!
//! A comparison reuses an open echo client of each model where there is one (the oldest):
//! a second client of the one-thread blocking server would wait in the backlog forever while
//! the first is connected. Models without one get a new client first, and the line goes out
//! on all of them together once every client is open and accepted by its server — back to
//! back in one turn of the page's event loop, so the models see it within microseconds of
//! each other. Waiting for the accept matters: a line that reaches a socket before the server
//! has switched on receive timestamps for it cannot have its phases measured.

use kettle_shared::{BuiltIn, Command};

/// The models compared on a fresh page: one of each of Stevens' families that differ in
/// phase 1, plus the kernel's asynchronous I/O.
pub const DEFAULT_MODELS: [&str; 4] =
    [BuiltIn::Blocking.id(), BuiltIn::Select.id(), BuiltIn::Sigio.id(), BuiltIn::IoUring.id()];

/// The comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Ticked model ids.
    pub ticked: Vec<String>,
    /// The latest run.
    pub run: Option<Run>,
}

impl Default for Comparison {
    fn default() -> Self {
        Comparison { ticked: DEFAULT_MODELS.iter().map(|m| m.to_string()).collect(), run: None }
    }
}

/// One line sent to several models.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The line, as typed.
    pub text: String,
    /// One entry per model.
    pub lanes: Vec<RunLane>,
    /// The line has been handed to the service for every lane.
    pub sent: bool,
}

/// One model of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLane {
    /// The model.
    pub model: String,
    /// The echo client the line goes through, once open.
    pub client: Option<u32>,
    /// The model's connection for that client, as a recording kept it (a live page asks its
    /// echo clients instead).
    pub conn: Option<u64>,
}

impl RunLane {
    /// Its echo client and the model's connection for it: as a recording kept it, else as
    /// the client saw its connection accepted. `None` until the client is open.
    pub fn resolved(&self, clients: &[crate::state::EchoClient]) -> Option<(u32, Option<u64>)> {
        let client = self.client?;
        let conn =
            self.conn.or_else(|| clients.iter().find(|c| c.id == client).and_then(|c| c.accepted));
        Some((client, conn))
    }
}

impl Comparison {
    /// Ticks or unticks a model.
    pub fn toggle(&mut self, model: &str) {
        match self.ticked.iter().position(|m| m == model) {
            Some(i) => {
                self.ticked.remove(i);
            }
            None => self.ticked.push(model.to_owned()),
        }
    }

    /// The ticked models that run, in the catalogue's order, then the traced program (and any
    /// model the catalogue does not list) in the order the backend lists them.
    pub fn chosen(&self, running: &[String]) -> Vec<String> {
        let built_in = kettle_shared::MODELS.iter().map(|m| m.id.to_owned());
        let others = running.iter().filter(|id| kettle_shared::model(id).is_none()).cloned();
        built_in
            .chain(others)
            .filter(|id| self.ticked.contains(id) && running.contains(id))
            .collect()
    }

    /// Starts a run: the commands to open missing clients, or to send at once.
    /// `open` lists open echo clients as (model, id), oldest first; `accepted` tells which
    /// clients their server has accepted.
    pub fn start(
        &mut self,
        text: String,
        running: &[String],
        open: &[(String, u32)],
        accepted: &dyn Fn(u32) -> bool,
    ) -> Vec<Command> {
        let lanes: Vec<RunLane> = self
            .chosen(running)
            .into_iter()
            .map(|model| {
                let client = open.iter().find(|(m, _)| *m == model).map(|(_, id)| *id);
                RunLane { model, client, conn: None }
            })
            .collect();
        if lanes.is_empty() {
            return Vec::new();
        }
        let opens = lanes
            .iter()
            .filter(|l| l.client.is_none())
            .map(|l| Command::EchoOpen { model: l.model.clone(), port: None })
            .collect::<Vec<_>>();
        self.run = Some(Run { text, lanes, sent: false });
        if opens.is_empty() {
            self.sends(accepted)
        } else {
            opens
        }
    }

    /// A client was opened; if the run was waiting for it, maybe send now.
    pub fn opened(
        &mut self,
        model: &str,
        client: u32,
        accepted: &dyn Fn(u32) -> bool,
    ) -> Vec<Command> {
        let Some(run) = self.run.as_mut().filter(|r| !r.sent) else { return Vec::new() };
        match run.lanes.iter_mut().find(|l| l.model == model && l.client.is_none()) {
            Some(lane) => lane.client = Some(client),
            None => return Vec::new(),
        }
        self.sends(accepted)
    }

    /// A client could not be opened: that model leaves the run.
    pub fn open_failed(&mut self, model: &str, accepted: &dyn Fn(u32) -> bool) -> Vec<Command> {
        let Some(run) = self.run.as_mut().filter(|r| !r.sent) else { return Vec::new() };
        run.lanes.retain(|l| !(l.model == model && l.client.is_none()));
        self.sends(accepted)
    }

    /// A server accepted a connection: the run may be complete now.
    pub fn accepted(&mut self, accepted: &dyn Fn(u32) -> bool) -> Vec<Command> {
        self.sends(accepted)
    }

    /// The page reconnected: every client is gone, and with them the run.
    pub fn forget_clients(&mut self) {
        self.run = None;
    }

    /// The line for every lane, once every lane's client is open and accepted.
    fn sends(&mut self, accepted: &dyn Fn(u32) -> bool) -> Vec<Command> {
        let Some(run) = self.run.as_mut().filter(|r| !r.sent) else { return Vec::new() };
        if run.lanes.iter().any(|l| !l.client.is_some_and(accepted)) {
            return Vec::new();
        }
        run.sent = true;
        let text = format!("{}\n", run.text);
        run.lanes
            .iter()
            .filter_map(|l| l.client)
            .map(|client| Command::EchoSend { client, text: text.clone() })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Vec<String> {
        ["blocking", "select", "sigio", "io-uring", "epoll"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn test_reuses_open_clients_and_opens_the_missing_ones_then_sends_together() {
        let mut c = Comparison::default();
        let open = vec![("blocking".to_string(), 4), ("select".to_string(), 7)];
        let all = |_: u32| true;
        let cmds = c.start("hi".into(), &running(), &open, &all);
        assert_eq!(
            cmds,
            [
                Command::EchoOpen { model: "sigio".into(), port: None },
                Command::EchoOpen { model: "io-uring".into(), port: None }
            ]
        );
        assert!(c.opened("sigio", 9, &all).is_empty(), "io-uring still opening");
        // Opened, but its server has not accepted it yet: the line waits.
        assert!(c.opened("io-uring", 10, &|id| id != 10).is_empty());
        let sends = c.accepted(&all);
        let clients: Vec<u32> = sends
            .iter()
            .map(|s| match s {
                Command::EchoSend { client, text } => {
                    assert_eq!(text, "hi\n");
                    *client
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(clients, [4, 7, 9, 10]);
        assert!(c.opened("io-uring", 11, &all).is_empty(), "sent once");
    }

    #[test]
    fn test_a_model_that_cannot_open_leaves_the_run() {
        let mut c = Comparison::default();
        c.toggle("sigio");
        c.toggle("io-uring");
        let all = |_: u32| true;
        c.start("x".into(), &running(), &[("blocking".into(), 1)], &all);
        let sends = c.open_failed("select", &all);
        assert_eq!(sends, [Command::EchoSend { client: 1, text: "x\n".into() }]);
        assert_eq!(c.run.unwrap().lanes.len(), 1);
    }

    #[test]
    fn test_only_running_ticked_models_take_part() {
        let c = Comparison::default();
        assert_eq!(c.chosen(&["select".into(), "epoll".into()]), ["select"]);
    }

    #[test]
    fn test_a_ticked_traced_program_is_compared_after_the_built_in_models() {
        let mut c = Comparison::default();
        c.toggle("traced");
        let running = ["traced".to_string(), "select".to_string(), "blocking".to_string()];
        assert_eq!(c.chosen(&running), ["blocking", "select", "traced"]);
        c.toggle("traced");
        assert_eq!(c.chosen(&running), ["blocking", "select"], "unticked, it leaves");
    }
}
