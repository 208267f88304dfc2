//! The page's colours, read from `static/kettle.css` itself: in both themes text is readable
//! (WCAG 2 contrast of at least 4.5:1), and the four colours a figure teaches with — the
//! system call, its return, phase 1 (wait for data) and phase 2 (copy to the user) — stay apart
//! for a viewer with protanopia or deuteranopia, not only for everyone else.
//!
//! Colour blindness is simulated with the matrices of Machado, Oliveira and Fernandes (2009),
//! severity 1.0, applied to linear RGB; "apart" is a CIE 1976 colour difference of at least
//! [`MIN_DELTA_E`] in CIELAB (a just-noticeable difference is about 2.3). The figure never
//! relies on colour alone — every phase, call and return is also labelled in words — so this is
//! the second line of defence, not the first.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;

const CSS: &str = include_str!("../../static/kettle.css");

/// WCAG 2, level AA, body text.
const MIN_CONTRAST: f64 = 4.5;
/// How far apart the teaching colours must stay, in every kind of vision checked.
const MIN_DELTA_E: f64 = 15.0;

/// The style sheet without its comments.
fn css() -> String {
    let mut out = String::new();
    let mut rest = CSS;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..].split_once("*/").map_or("", |(_, after)| after);
    }
    out + rest
}

/// The variables of one theme's rule, `--name: #rrggbb;` only.
fn theme(selector: &str) -> BTreeMap<String, [f64; 3]> {
    let css = css();
    let start = css.find(selector).unwrap_or_else(|| panic!("no `{selector}` rule in kettle.css"));
    let body = &css[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    let mut vars = BTreeMap::new();
    for declaration in body.split(';') {
        let Some((name, value)) = declaration.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if let (Some(name), Some(hex)) = (name.strip_prefix("--"), value.strip_prefix('#')) {
            if hex.len() == 6 {
                let channel = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
                vars.insert(
                    name.to_owned(),
                    [channel(0), channel(2), channel(4)].map(|c| c / 255.0),
                );
            }
        }
    }
    vars
}

fn themes() -> [(&'static str, BTreeMap<String, [f64; 3]>); 2] {
    [
        ("dark", theme(r#":root, html[data-theme="dark"] {"#)),
        ("light", theme(r#"html[data-theme="light"] {"#)),
    ]
}

fn linear(c: f64) -> f64 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn luminance(rgb: [f64; 3]) -> f64 {
    let [r, g, b] = rgb.map(linear);
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// WCAG 2's contrast ratio, 1 to 21.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Machado et al. 2009, severity 1.0, on linear RGB.
const PROTANOPIA: [[f64; 3]; 3] = [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
];
const DEUTERANOPIA: [[f64; 3]; 3] = [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.011820, 0.042940, 0.968881],
];

/// CIELAB (D65) of an sRGB colour, as a viewer with the given vision (`None`: typical) sees it.
fn lab(rgb: [f64; 3], vision: Option<&[[f64; 3]; 3]>) -> [f64; 3] {
    let lin = rgb.map(linear);
    let [r, g, b] = match vision {
        None => lin,
        Some(m) => [0, 1, 2]
            .map(|i| (m[i][0] * lin[0] + m[i][1] * lin[1] + m[i][2] * lin[2]).clamp(0.0, 1.0)),
    };
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f =
        |t: f64| if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn var(vars: &BTreeMap<String, [f64; 3]>, theme: &str, name: &str) -> [f64; 3] {
    *vars.get(name).unwrap_or_else(|| panic!("{theme}: no --{name} colour"))
}

#[test]
fn both_themes_define_every_colour_the_page_uses() {
    let [(_, dark), (_, light)] = themes();
    assert!(dark.len() >= 30, "the dark theme's variables were not read: {dark:?}");
    let names = |vars: &BTreeMap<String, [f64; 3]>| vars.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&dark), names(&light), "a colour set in one theme only");
    for name in css().split("var(--").skip(1).filter_map(|rest| rest.split(')').next()) {
        let name = name.split(',').next().unwrap_or(name).trim();
        if ["rail-w", "side-w", "badge-room", "shadow"].contains(&name) {
            continue; // sizes and the shadow, not colours
        }
        assert!(dark.contains_key(name), "var(--{name}) has no colour in the themes");
    }
}

#[test]
fn text_is_readable_on_every_background_it_is_drawn_on_in_both_themes() {
    // (text, background): body text, the figure's labels on its panel (the SVG draws the
    // durations in the phases' colours), the code, the badges and tabs.
    let pairs = [
        ("text", "bg"),
        ("text", "panel"),
        ("text", "sunken"),
        ("text", "raised"),
        ("muted", "bg"),
        ("muted", "panel"),
        ("muted", "sunken"),
        ("muted", "raised"),
        ("comment", "sunken"),
        ("kernel-text", "panel"),
        ("accent", "panel"),
        ("accent", "sunken"),
        ("call", "panel"),
        ("return", "panel"),
        ("wait", "panel"),
        ("copy", "panel"),
        ("error", "panel"),
        ("text", "lit-line"),
        ("text", "error-bg"),
        ("accent-on", "accent-bg"),
        ("live-on", "live-bg"),
        ("replay-on", "replay-bg"),
        ("paused-on", "paused-bg"),
        ("ok-on", "ok-bg"),
        ("warn-on", "warn-bg"),
        ("teacher-on", "teacher-bg"),
        ("student-on", "student-bg"),
    ];
    let mut failures = Vec::new();
    for (name, vars) in themes() {
        for (fg, bg) in pairs {
            let ratio = contrast(var(&vars, name, fg), var(&vars, name, bg));
            if ratio < MIN_CONTRAST {
                failures.push(format!("{name}: --{fg} on --{bg} is {ratio:.2}:1"));
            }
        }
    }
    assert!(failures.is_empty(), "below {MIN_CONTRAST}:1:\n{}", failures.join("\n"));
}

#[test]
fn the_focus_ring_stands_out_from_every_background_in_both_themes() {
    // WCAG 2.1's 3:1 for the parts of a control one must see to use it (1.4.11).
    for (name, vars) in themes() {
        for bg in ["bg", "panel", "sunken", "raised", "accent-bg"] {
            let ratio = contrast(var(&vars, name, "focus"), var(&vars, name, bg));
            assert!(ratio >= 3.0, "{name}: the focus ring on --{bg} is {ratio:.2}:1");
        }
    }
}

#[test]
fn calls_returns_and_both_phases_stay_apart_under_protanopia_and_deuteranopia() {
    let teaching = ["call", "return", "wait", "copy"];
    let visions = [
        ("typical", None),
        ("protanopia", Some(&PROTANOPIA)),
        ("deuteranopia", Some(&DEUTERANOPIA)),
    ];
    let mut closest = f64::MAX;
    let mut failures = Vec::new();
    for (name, vars) in themes() {
        for (vision, matrix) in visions {
            for (i, a) in teaching.iter().enumerate() {
                for b in &teaching[i + 1..] {
                    let d =
                        delta_e(lab(var(&vars, name, a), matrix), lab(var(&vars, name, b), matrix));
                    closest = closest.min(d);
                    if d < MIN_DELTA_E {
                        failures
                            .push(format!("{name}, {vision}: --{a} and --{b} are ΔE {d:.1} apart"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "closer than ΔE {MIN_DELTA_E}:\n{}", failures.join("\n"));
    assert!(closest >= MIN_DELTA_E, "closest pair ΔE {closest:.1}");
}

#[test]
fn the_simulation_tells_apart_what_it_should_and_confuses_what_it_should() {
    // A check of the check: red and green, far apart for typical vision, nearly meet for a
    // deuteranope; blue and orange (the usual safe pair) stay far apart for everyone.
    let (red, green) = ([0.8, 0.25, 0.2], [0.35, 0.6, 0.2]);
    let typical = delta_e(lab(red, None), lab(green, None));
    let deutan = delta_e(lab(red, Some(&DEUTERANOPIA)), lab(green, Some(&DEUTERANOPIA)));
    assert!(
        typical > 50.0 && deutan < typical / 3.0,
        "typical {typical:.1}, deuteranopia {deutan:.1}"
    );
    let (blue, orange) = ([0.0, 0.45, 0.7], [0.9, 0.62, 0.0]);
    for m in [None, Some(&PROTANOPIA), Some(&DEUTERANOPIA)] {
        assert!(delta_e(lab(blue, m), lab(orange, m)) > 40.0);
    }
    assert!((contrast([0.0; 3], [1.0; 3]) - 21.0).abs() < 0.01, "black on white is 21:1");
}
