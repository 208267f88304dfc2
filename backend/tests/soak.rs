//! `kettle soak`'s three soaks in their short form, each against a `kettle serve` child of its
//! own, one at a time (as `kettle soak` runs them: each measures its child alone):
//!
//! - cycles: every model started and stopped three times through the API, with viewers
//!   watching and a client held open across each stop; afterwards the child's descriptors,
//!   threads and memory are back, no child process or zombie is left and every model port
//!   binds;
//! - fan-out: ten viewers while the load generator echoes 1 000 lines a second on each of four
//!   models; every viewer gets the same events (detail of the connections it spotlit, every
//!   aggregate), none dropped, none closed (delays, CPU and memory are printed, not asserted);
//! - faults: a client that resets mid-line (every model serves the next one), a viewer that
//!   never reads (dropped, memory bounded, the others served), a model thread that panics
//!   (unavailable with the reason, the others serve), `EMFILE` at the web front (no busy loop,
//!   serves again) and `SIGTERM` under load (status 0, every port freed).

use kettle_backend::tools::soak;

/// Runs the soak `name` alone and fails with its failures.
fn soak(name: &str) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let ctx = soak::Ctx {
        short: true,
        exe: env!("CARGO_BIN_EXE_kettle").into(),
        progress: Box::new(|line| eprintln!("{line}")),
    };
    let report = soak::run_one(soak::find(name).unwrap(), &ctx);
    eprintln!("{}", soak::table(std::slice::from_ref(&report)));
    assert!(report.passed(), "{:#?}", report.failures());
}

#[test]
fn start_stop_cycles_leave_no_descriptor_thread_child_or_port_behind() {
    soak("cycles");
}

#[test]
fn every_viewer_gets_what_it_asked_for_under_four_loaded_models() {
    soak("fan_out");
}

#[test]
fn faults_are_survived_reported_and_cleaned_up() {
    soak("faults");
}
