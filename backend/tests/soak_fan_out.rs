//! `kettle soak`'s fan-out in its short form: ten viewers of one `kettle serve` child while
//! the load generator echoes 1 000 lines a second on each of four models. Every viewer gets
//! the same events (detail of the connections it spotlit, every aggregate), none dropped, none
//! closed. Delays, CPU and memory are printed, not asserted.

use kettle_backend::tools::soak;

#[test]
fn every_viewer_gets_what_it_asked_for_under_four_loaded_models() {
    let ctx = soak::Ctx {
        short: true,
        exe: env!("CARGO_BIN_EXE_kettle").into(),
        progress: Box::new(|line| eprintln!("{line}")),
    };
    let report = soak::run_one(soak::find("fan_out").unwrap(), &ctx);
    eprintln!("{}", soak::table(std::slice::from_ref(&report)));
    assert!(report.passed(), "{:#?}", report.failures());
}
