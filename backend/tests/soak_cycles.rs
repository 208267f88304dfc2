//! `kettle soak`'s cycles in their short form: every model started and stopped three times
//! through the API of a `kettle serve` child, with viewers watching and a client held open
//! across each stop; afterwards the child's descriptors, threads and memory are back, no child
//! process or zombie is left and every model port binds.

use kettle_backend::tools::soak;

#[test]
fn start_stop_cycles_leave_no_descriptor_thread_child_or_port_behind() {
    let ctx = soak::Ctx {
        short: true,
        exe: env!("CARGO_BIN_EXE_kettle").into(),
        progress: Box::new(|line| eprintln!("{line}")),
    };
    let report = soak::run_one(soak::find("cycles").unwrap(), &ctx);
    eprintln!("{}", soak::table(std::slice::from_ref(&report)));
    assert!(report.passed(), "{:#?}", report.failures());
}
