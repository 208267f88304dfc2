//! Formatting of durations, times and speeds for people reading a projector.
//!
//! Pure functions only: the event log, the figures and the playback bar all format through
//! here so a duration looks the same everywhere (three significant digits, the smallest
//! unit that keeps the number at least 1).

/// Formats nanoseconds as `850 ns`, `12.3 µs`, `4.20 ms`, `1.50 s`, or `2 min 5 s`.
pub fn format_duration(ns: u64) -> String {
    if ns < 1_000 {
        return format!("{ns} ns");
    }
    if ns >= 60_000_000_000 {
        let secs = ns / 1_000_000_000;
        return format!("{} min {} s", secs / 60, secs % 60);
    }
    let (value, unit) = if ns < 1_000_000 {
        (ns as f64 / 1e3, "µs")
    } else if ns < 1_000_000_000 {
        (ns as f64 / 1e6, "ms")
    } else {
        (ns as f64 / 1e9, "s")
    };
    format!("{} {unit}", three_significant(value))
}

/// `1.23`, `12.3`, `123`: enough precision to compare phases, not more.
fn three_significant(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A signed offset from an earlier event: `+12.3 µs`. Times can go backwards (the kernel's
/// receive stamp is earlier than the `recv` call when data was already waiting): `-1.20 µs`.
pub fn format_delta(from_ns: u64, to_ns: u64) -> String {
    if to_ns >= from_ns {
        format!("+{}", format_duration(to_ns - from_ns))
    } else {
        format!("-{}", format_duration(from_ns - to_ns))
    }
}

/// The backend's clock as seconds with microsecond resolution: `12.345678 s`.
pub fn format_clock(t_ns: u64) -> String {
    format!("{}.{:06} s", t_ns / 1_000_000_000, (t_ns % 1_000_000_000) / 1_000)
}

/// A playback speed as a fraction of real time: `1×`, `1/10`, `1/10 000`.
pub fn format_speed(speed: f64) -> String {
    if speed >= 1.0 {
        return format!("{}×", speed.round() as u64);
    }
    let denominator = (1.0 / speed).round() as u64;
    format!("1/{}", group_thousands(denominator))
}

/// A count for people: `1234567` → `1 234 567`.
pub fn format_count(n: u64) -> String {
    group_thousands(n)
}

/// A rate for people: `950`, `12.3k`, `1.20M`.
pub fn format_rate(per_s: f64) -> String {
    match per_s {
        r if r < 1_000.0 => format!("{r:.0}"),
        r if r < 1e6 => format!("{}k", three_significant(r / 1e3)),
        r => format!("{}M", three_significant(r / 1e6)),
    }
}

/// Bytes for people: `512 B`, `8.00 KiB`, `2.00 MiB`.
pub fn format_bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{} KiB", three_significant(n as f64 / 1024.0)),
        n => format!("{} MiB", three_significant(n as f64 / (1024.0 * 1024.0))),
    }
}

/// `10000` → `10 000` (thin grouping that reads the same in English and Chinese).
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 3 {
        return digits;
    }
    // Groups of three from the right, then back in reading order.
    let reversed: Vec<u8> = digits.bytes().rev().collect();
    let grouped: Vec<String> =
        reversed.chunks(3).map(|c| c.iter().rev().map(|&b| char::from(b)).collect()).collect();
    grouped.into_iter().rev().collect::<Vec<_>>().join(" ")
}

/// A signal's name: the backend's (`SIGRTMIN+2`), or for an older backend, the number.
pub fn signal_name(signo: i32, name: &str) -> String {
    if name.is_empty() {
        format!("signal {signo}")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_the_smallest_readable_unit() {
        assert_eq!(format_duration(0), "0 ns");
        assert_eq!(format_duration(999), "999 ns");
        assert_eq!(format_duration(1_000), "1.00 µs");
        assert_eq!(format_duration(12_345), "12.3 µs");
        assert_eq!(format_duration(4_200_000), "4.20 ms");
        assert_eq!(format_duration(200_170_000), "200 ms");
        assert_eq!(format_duration(4_200_000_000), "4.20 s");
        assert_eq!(format_duration(125_000_000_000), "2 min 5 s");
    }

    #[test]
    fn counts_and_bytes_read_easily() {
        assert_eq!(format_count(1_234_567), "1 234 567");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(8 * 1024 * 1024), "8.00 MiB");
        assert_eq!(format_rate(352_830.0), "353k");
        assert_eq!(format_rate(1_200_000.0), "1.20M");
    }

    #[test]
    fn deltas_may_go_backwards() {
        assert_eq!(format_delta(1_000, 3_000), "+2.00 µs");
        assert_eq!(format_delta(3_000, 1_800), "-1.20 µs");
    }

    #[test]
    fn clock_has_microsecond_resolution() {
        assert_eq!(format_clock(12_345_678_901), "12.345678 s");
    }

    #[test]
    fn speeds_read_as_fractions() {
        assert_eq!(format_speed(1.0), "1×");
        assert_eq!(format_speed(0.1), "1/10");
        assert_eq!(format_speed(0.001), "1/1 000");
        assert_eq!(format_speed(0.0001), "1/10 000");
        assert_eq!(format_speed(0.000_01), "1/100 000");
    }
}
