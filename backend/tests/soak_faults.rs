//! `kettle soak`'s faults: a client that resets mid-line (every model serves the next one), a
//! viewer that never reads (dropped, memory bounded, the others served), a model thread that
//! panics (unavailable with the reason, the others serve), `EMFILE` at the web front (no busy
//! loop, serves again) and `SIGTERM` under load (status 0, every port freed).

use kettle_backend::tools::soak;

#[test]
fn faults_are_survived_reported_and_cleaned_up() {
    let ctx = soak::Ctx {
        short: true,
        exe: env!("CARGO_BIN_EXE_kettle").into(),
        progress: Box::new(|line| eprintln!("{line}")),
    };
    let report = soak::run_one(soak::find("faults").unwrap(), &ctx);
    eprintln!("{}", soak::table(std::slice::from_ref(&report)));
    assert!(report.passed(), "{:#?}", report.failures());
}
