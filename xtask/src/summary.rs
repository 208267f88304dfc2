//! Reading libtest's `test result:` lines and summing them up per stage.

use std::time::Duration;

use crate::process::format_duration;

/// Passed and failed tests, summed over any number of `test result:` lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, other: Counts) -> Counts {
        Counts { passed: self.passed + other.passed, failed: self.failed + other.failed }
    }
}

/// Sums every `test result: ok. 3 passed; 0 failed; …` line (or `FAILED.`) in `output`.
/// `None` if there is no such line.
pub fn parse_test_results(output: &str) -> Option<Counts> {
    output
        .lines()
        .filter_map(|line| line.split_once("test result:").map(|(_, rest)| rest))
        .map(|rest| Counts { passed: count_of(rest, "passed"), failed: count_of(rest, "failed") })
        .reduce(|a, b| a + b)
}

/// The number just before `label` in `3 passed; 1 failed; 0 ignored`.
fn count_of(text: &str, label: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|pair| pair[1].trim_end_matches([';', ',', '.']) == label)
        .and_then(|pair| pair[0].parse().ok())
        .unwrap_or(0)
}

/// What a stage contributes to the total: its tests, and one failure more if the stage
/// failed without reporting a failed test (a compile error, a clippy warning, a crash).
pub fn stage_counts(succeeded: bool, output: &str) -> Counts {
    let mut counts = parse_test_results(output).unwrap_or_default();
    if !succeeded && counts.failed == 0 {
        counts.failed += 1;
    }
    counts
}

/// One finished stage, for the table.
#[derive(Debug)]
pub struct StageReport {
    pub name: String,
    pub succeeded: bool,
    pub counts: Counts,
    pub took: Duration,
}

/// The per-stage table followed by the total, whose last line is exactly
/// `N passed, M failed`.
pub fn render(stages: &[StageReport]) -> String {
    let width = stages.iter().map(|s| s.name.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:<width$}  result  passed  failed      time\n", "stage");
    for s in stages {
        let result = if s.succeeded { "ok" } else { "FAILED" };
        out.push_str(&format!(
            "{:<width$}  {:<6}  {:>6}  {:>6}  {:>8}\n",
            s.name,
            result,
            s.counts.passed,
            s.counts.failed,
            format_duration(s.took)
        ));
    }
    let total = stages.iter().map(|s| s.counts).fold(Counts::default(), |a, b| a + b);
    let took: Duration = stages.iter().map(|s| s.took).sum();
    out.push_str(&format!("total time {}\n", format_duration(took)));
    out.push_str(&format!("{} passed, {} failed", total.passed, total.failed));
    out
}

/// Whether the whole run counts as green.
pub fn all_green(stages: &[StageReport]) -> bool {
    stages.iter().all(|s| s.succeeded && s.counts.failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO_TEST: &str = "\
running 3 tests
test a ... ok
test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/ws.rs (target/debug/deps/ws-0123)
test result: FAILED. 5 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.20s

   Doc-tests kettle_shared
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn sums_every_result_line() {
        assert_eq!(parse_test_results(CARGO_TEST), Some(Counts { passed: 8, failed: 2 }));
    }

    #[test]
    fn reads_wasm_bindgen_test_runner_output() {
        let out =
            "test result: ok. 4 passed; 0 failed; 0 ignored; 0 filtered out; finished in 0.08s\n";
        assert_eq!(parse_test_results(out), Some(Counts { passed: 4, failed: 0 }));
    }

    #[test]
    fn no_result_line_is_none() {
        assert_eq!(parse_test_results("error[E0425]: cannot find value\n"), None);
    }

    #[test]
    fn a_failed_stage_without_failed_tests_counts_once() {
        assert_eq!(
            stage_counts(false, "error: could not compile"),
            Counts { passed: 0, failed: 1 }
        );
        let built_some = "test result: ok. 2 passed; 0 failed; 0 ignored\n";
        assert_eq!(stage_counts(false, built_some), Counts { passed: 2, failed: 1 });
        assert_eq!(stage_counts(false, CARGO_TEST), Counts { passed: 8, failed: 2 });
        assert_eq!(stage_counts(true, ""), Counts::default());
    }

    #[test]
    fn the_last_line_is_the_total() {
        let stage = |name: &str, succeeded, passed, failed| StageReport {
            name: name.to_string(),
            succeeded,
            counts: Counts { passed, failed },
            took: Duration::from_secs(2),
        };
        let stages = [stage("fmt", true, 0, 0), stage("cargo test", false, 8, 2)];
        let text = render(&stages);
        assert_eq!(text.lines().last(), Some("8 passed, 2 failed"));
        assert!(text.contains("cargo test  FAILED"));
        assert!(!all_green(&stages));
        assert!(all_green(&stages[..1]));
    }
}
