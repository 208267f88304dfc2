//! The classroom screen, in a real Chromium: at every projector size, in both languages, in
//! normal and presenter mode, the step being explained, the line of code that made it and the
//! sentence that explains it are on one screen together, with nothing to scroll; the light and
//! dark themes; the keyboard reaches every control, each with a visible focus ring; and axe-core
//! finds no serious or critical WCAG 2 A/AA violation in any view of either theme.
//!
//! Window sizes are those of a projector *with a browser's bars*: a window of W×H shows a page
//! about 143 px shorter (measured: 1280×720 leaves 1280×577), so each test sets that viewport.

use std::collections::BTreeMap;

use fantoccini::key::Key;

use super::*;

/// Projector windows, and the page each leaves inside a browser (viewport).
const WINDOWS: [((u32, u32), (u32, u32)); 4] = [
    ((1024, 768), (1024, 625)),
    ((1280, 720), (1280, 577)),
    ((1366, 768), (1366, 625)),
    ((1920, 1080), (1920, 937)),
];

/// Where the lesson's moment is on screen, as one JSON object read in one go (one render):
/// each of the three (the current step, the code — its lit line, or when the step has no line
/// of ours the caption saying why — and the narration) with its box and whether it lies in
/// the viewport and inside the panel that clips it, the page's scroll size, and the figure's
/// box, lanes and rows.
const MOMENT: &str = r#"(() => {
  const W = innerWidth, H = innerHeight;
  const box = e => { const r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]; };
  const within = (e, clip) => {
    const r = e.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) return false;
    if (!clip) return true;
    const c = clip.getBoundingClientRect();
    return r.top >= c.top - 1 && r.bottom <= c.bottom + 1 && r.left >= c.left - 1 && r.right <= c.right + 1;
  };
  const figure = document.querySelector('#figure');
  const step = document.querySelector('#figure g.step.current');
  const code = document.querySelector('#code');
  const lit = code && code.querySelector('[data-current]');
  const why = code ? code.dataset.why : 'no code panel';
  const codeEl = lit || (why ? document.querySelector('#code-caption') : null);
  const narration = document.querySelector('#narration');
  const f = figure ? figure.getBoundingClientRect() : null;
  return JSON.stringify({
    step: step ? within(step, document.querySelector('.figure-room')) : false,
    stepBox: step ? box(step) : null,
    code: codeEl ? within(codeEl, lit ? code : null) : false,
    codeBox: codeEl ? box(codeEl) : null,
    codeWhy: why || '',
    narration: narration ? within(narration) && narration.textContent.trim().length > 0 : false,
    narrationBox: narration ? box(narration) : null,
    scrollW: document.documentElement.scrollWidth, scrollH: document.documentElement.scrollHeight, W, H,
    figure: f ? [Math.round(f.width), Math.round(f.height)] : null,
    lanes: figure ? figure.querySelectorAll('g.lane').length : 0,
    rows: figure ? figure.querySelectorAll('g.step').length : 0,
    seq: figure ? figure.dataset.seq : '',
  });
})()"#;

/// Presenter mode's type, in CSS px as drawn: a lane's name (SVG units times the figure's
/// scale) and the narration.
const PRESENTER_TYPE: &str = "(() => { const s = document.querySelector('#figure'); const t = s.querySelector('.lane-name'); const lane = t ? parseFloat(getComputedStyle(t).fontSize) * s.getBoundingClientRect().width / s.viewBox.baseVal.width : 99; return [lane, parseFloat(getComputedStyle(document.querySelector('#narration')).fontSize)].join(','); })()";

/// What one check saw, kept for the summary: per window and mode, the figure's largest box and
/// the most lanes and rows it showed at once.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    figure: (u64, u64),
    lanes: u64,
    rows: u64,
}

/// Presses `F` (presenter mode on or off) unless the page is already in the wanted mode, and
/// waits until it is.
async fn presenter(c: &Client, on: bool) {
    let now = text_of(c, "document.querySelector('main.stage').dataset.presenter").await;
    if (now == "true") != on {
        press(c, "f").await;
    }
    wait_for(c, &format!("presenter mode {on}"), &format!("main.stage[data-presenter='{on}']"))
        .await;
}

/// Waits until the figure has measured its room after a change of size and drawn again: two
/// reads 150 ms apart agree on the figure's box and the code panel's scroll.
async fn settled(c: &Client) {
    let probe = "JSON.stringify([document.querySelector('#figure') && document.querySelector('#figure').getBoundingClientRect(), document.querySelector('#code') && document.querySelector('#code').scrollTop, innerWidth, innerHeight])";
    let mut last = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = text_of(c, probe).await;
        if now == last {
            return;
        }
        last = now;
    }
}

/// At every projector window and in both modes: the moment is on one screen, nothing scrolls.
/// Returns what the figure showed, per (window, presenter).
async fn moment_fits_everywhere(c: &Client, what: &str, seen: &mut BTreeMap<(u32, bool), Seen>) {
    for presenter_on in [false, true] {
        presenter(c, presenter_on).await;
        for ((window_w, window_h), (w, h)) in WINDOWS {
            viewport(c, w, h).await;
            settled(c).await;
            let m: serde_json::Value = serde_json::from_str(&text_of(c, MOMENT).await).unwrap();
            let mode = if presenter_on { "presenter" } else { "normal" };
            let here = format!("{what}, window {window_w}×{window_h} (page {w}×{h}), {mode}: {m}");
            assert_eq!(m["step"], true, "the current step is on screen: {here}");
            assert_eq!(m["code"], true, "the lit line (or why none) is on screen: {here}");
            assert_eq!(m["narration"], true, "the narration is on screen: {here}");
            assert!(m["scrollW"].as_u64() <= m["W"].as_u64(), "no sideways scroll: {here}");
            assert!(m["scrollH"].as_u64() <= m["H"].as_u64(), "no page scroll: {here}");
            if presenter_on {
                let px = text_of(c, PRESENTER_TYPE).await;
                let px: Vec<f64> = px.split(',').map(|v| v.parse().unwrap()).collect();
                assert!(
                    px.iter().all(|p| *p >= 18.0),
                    "large type (lanes, narration) {px:?}: {here}"
                );
            }
            let s = seen.entry((window_w, presenter_on)).or_default();
            let size = (m["figure"][0].as_u64().unwrap_or(0), m["figure"][1].as_u64().unwrap_or(0));
            s.figure = (s.figure.0.max(size.0), s.figure.1.max(size.1));
            s.lanes = s.lanes.max(m["lanes"].as_u64().unwrap_or(0));
            s.rows = s.rows.max(m["rows"].as_u64().unwrap_or(0));
        }
    }
    presenter(c, false).await;
    viewport(c, 1280, 577).await;
}

/// No page scroll either way at every window, for the views without a figure (the
/// comparison's and the story's stops), the tour strip on screen.
async fn view_fits_everywhere(c: &Client, what: &str) {
    for ((window_w, window_h), (w, h)) in WINDOWS {
        viewport(c, w, h).await;
        settled(c).await;
        let js = "JSON.stringify([document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight, (() => { const t = document.querySelector('#tour').getBoundingClientRect(); return t.top >= 0 && t.bottom <= innerHeight; })()])";
        let v: serde_json::Value = serde_json::from_str(&text_of(c, js).await).unwrap();
        let here = format!("{what}, window {window_w}×{window_h}: {v}");
        assert!(v[0].as_u64() <= v[2].as_u64() && v[1].as_u64() <= v[3].as_u64(), "{here}");
        assert_eq!(v[4], true, "the tour strip is on screen: {here}");
    }
    viewport(c, 1280, 577).await;
}

/// The README's pictures of the stage (a 1280×720 window) and of presenter mode (1024×768), in
/// the page's theme, when `KETTLE_FIGURES` asks for them.
async fn pictures(c: &Client) {
    let theme = text_of(c, "document.documentElement.dataset.theme").await;
    settled(c).await;
    save_picture(c, None, &format!("stage-{theme}.png")).await;
    viewport(c, 1024, 625).await;
    presenter(c, true).await;
    settled(c).await;
    save_picture(c, None, &format!("presenter-1024-{theme}.png")).await;
    presenter(c, false).await;
    viewport(c, 1280, 577).await;
}

/// One step back (`←`), waiting until the figure shows an earlier step.
async fn step_back(c: &Client) {
    let before = text_of(c, "document.querySelector('#figure').dataset.seq").await;
    press(c, "ArrowLeft").await;
    wait_js(
        c,
        "a step back",
        &format!("document.querySelector('#figure').dataset.seq !== '{before}'"),
    )
    .await;
}

/// At a tour stop: the moment on one screen everywhere; on blocking, select and io_uring again
/// after `←`, on epoll after a scrub (and the README's pictures first), on the reactor live.
/// The comparison's and the story's stops: nothing scrolls.
async fn check_stop(
    c: &Client,
    lang: &str,
    step: usize,
    model: Option<&str>,
    seen: &mut BTreeMap<(u32, bool), Seen>,
) {
    let Some(model) = model else {
        return view_fits_everywhere(c, &format!("{lang}, stop {step}")).await;
    };
    let what = format!("{lang}, stop {step} ({model})");
    moment_fits_everywhere(c, &what, seen).await;
    match model {
        "blocking" | "select" | "io-uring" => {
            step_back(c).await;
            moment_fits_everywhere(c, &format!("{what}, after ←"), seen).await;
        }
        "epoll" => {
            pictures(c).await;
            // The scrub bar, dragged to the middle of the kept history.
            c.execute(
                "const s = document.querySelector('#scrub'); s.value = String(Math.floor(s.max / 2)); s.dispatchEvent(new Event('input', {bubbles: true}));",
                vec![],
            )
            .await
            .unwrap();
            wait_for(c, "paused on the scrubbed step", "#playback[data-paused='true']").await;
            moment_fits_everywhere(c, &format!("{what}, after a scrub"), seen).await;
        }
        "reactor" => {
            click(c, "#live").await;
            wait_for(c, "live", "#playback[data-live='true']").await;
            moment_fits_everywhere(c, &format!("{what}, live"), seen).await;
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn the_step_its_code_line_and_its_sentence_share_one_screen_at_every_projector_size() {
    let (server, _driver, c) = page_on(&[], 1280, 577).await;
    let mut seen = BTreeMap::new();
    walk_the_tour(&c, false, async |step, model| {
        check_stop(&c, "en", step, model, &mut seen).await
    })
    .await;
    // The other theme and language: every model runs now, the open clients are reused.
    click(&c, "#theme").await;
    walk_the_tour(&c, true, async |step, model| check_stop(&c, "zh", step, model, &mut seen).await)
        .await;
    for ((window_w, presenter_on), s) in &seen {
        let mode = if *presenter_on { "presenter" } else { "normal" };
        eprintln!(
            "stage: window {window_w} wide, {mode}: the figure up to {}×{} px, up to {} lanes and {} rows at once",
            s.figure.0, s.figure.1, s.lanes, s.rows
        );
    }
    assert_no_errors_shown(&c, "the tour at every size").await;
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// The `rgb(…)` colours of `css` (an element) as [r, g, b] 0..255: its text and the first
/// opaque background from it up.
const COLOURS: &str = r#"((css) => {
  const rgb = s => s.match(/[\d.]+/g).slice(0, 4).map(Number);
  const e = document.querySelector(css);
  let b = e, bg = null;
  while (b) { const c = rgb(getComputedStyle(b).backgroundColor); if (c.length < 4 || c[3] > 0) { bg = c.slice(0, 3); break; } b = b.parentElement; }
  return JSON.stringify({ text: rgb(getComputedStyle(e).color).slice(0, 3), bg: bg || [255, 255, 255] });
})"#;

fn contrast(a: &serde_json::Value, b: &serde_json::Value) -> f64 {
    let lum = |v: &serde_json::Value| {
        let ch = |i: usize| {
            let c = v[i].as_f64().unwrap() / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(0) + 0.7152 * ch(1) + 0.0722 * ch(2)
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn the_theme_follows_the_system_then_the_choice_and_its_text_is_readable_in_both() {
    let (server, _driver, c) = page_on(&[], 1280, 577).await;
    let theme = "document.documentElement.dataset.theme";
    let system =
        text_of(&c, "matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'").await;
    assert_eq!(text_of(&c, theme).await, system, "the first theme is the system's");
    let other = if system == "dark" { "light" } else { "dark" };
    for (expected, reading) in [(system.as_str(), "first"), (other, "after #theme")] {
        if reading != "first" {
            click(&c, "#theme").await;
            wait_js(&c, &format!("the {expected} theme"), &format!("{theme} === '{expected}'"))
                .await;
        }
        for css in ["body", "#narration", "#figure-title", "#code-caption", "#model-list .model-id"]
        {
            let v: serde_json::Value = serde_json::from_str(
                &text_of(&c, &format!("{COLOURS}({})", serde_json::to_string(css).unwrap())).await,
            )
            .unwrap();
            let ratio = contrast(&v["text"], &v["bg"]);
            eprintln!("{expected}: {css} text {} on {} = {ratio:.2}:1", v["text"], v["bg"]);
            assert!(ratio >= 4.5, "{expected} theme: {css} contrast {ratio:.2}:1: {v}");
        }
    }
    // Carried in the link and remembered: a plain address opens the chosen theme again, and a
    // link naming a theme wins over the remembered one.
    wait_js(
        &c,
        "the theme in the address",
        &format!("new URLSearchParams(location.search).get('theme') === '{other}'"),
    )
    .await;
    let port = server.addr.port();
    c.goto(&format!("http://127.0.0.1:{port}/")).await.unwrap();
    wait_js(&c, "the remembered theme", &format!("{theme} === '{other}'")).await;
    c.goto(&format!("http://127.0.0.1:{port}/?theme={system}")).await.unwrap();
    wait_js(&c, "the linked theme", &format!("{theme} === '{system}'")).await;
    // An unknown theme in a link is ignored: the remembered one applies.
    c.goto(&format!("http://127.0.0.1:{port}/?theme=sepia")).await.unwrap();
    wait_js(&c, "the remembered theme again", &format!("{theme} === '{other}'")).await;
    c.close().await.unwrap();

    // A system that prefers dark colours and reduced motion, with nothing remembered (a new
    // profile): the page opens dark, and nothing on it moves by itself — no CSS animation or
    // transition runs, scrolling is never smooth — while the theme and panels change.
    let dark_driver = start_driver();
    let d = browser_with(
        &dark_driver,
        1280,
        577,
        &[
            "--force-dark-mode",
            "--blink-settings=preferredColorScheme=0",
            "--force-prefers-reduced-motion",
        ],
    )
    .await;
    open_page(&d, &server).await;
    let prefers = text_of(&d, "[matchMedia('(prefers-color-scheme: dark)').matches, matchMedia('(prefers-reduced-motion: reduce)').matches].join(',')").await;
    assert_eq!(prefers, "true,true", "the browser asks for dark colours and reduced motion");
    wait_js(&d, "the dark theme, as the system asks", &format!("{theme} === 'dark'")).await;
    for button in
        ["#theme", "#side-tab-log", "#side-tab-code", "#theme", "#presenter", "#presenter"]
    {
        click(&d, button).await;
        let moving = text_of(&d, "document.getAnimations().length + ',' + [...document.querySelectorAll('*')].filter(e => getComputedStyle(e).scrollBehavior === 'smooth').length").await;
        assert_eq!(moving, "0,0", "after {button}: animations, smooth scrollers");
    }
    d.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Every visible control of the page, each marked with `data-kbd` (its number) so the Tab walk
/// can name them; returns how many.
const MARK_CONTROLS: &str = r#"(() => {
  const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  const all = [...document.querySelectorAll('button:not([disabled]), select:not([disabled]), input:not([disabled]), a[href], summary, [tabindex="0"]')]
    .filter(e => visible(e) && !e.closest('[hidden]') && e.tabIndex >= 0);
  all.forEach((e, i) => e.dataset.kbd = String(i));
  return all.length;
})()"#;

/// The focused element's number, and whether it shows a focus ring (an outline of 2 px or more,
/// or a box shadow) while focused from the keyboard.
const FOCUSED: &str = r#"(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return JSON.stringify({ kbd: null });
  const s = getComputedStyle(e);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
  return JSON.stringify({ kbd: e.dataset.kbd || null, ring, what: e.id || e.className || e.tagName, visible: e.matches(':focus-visible') });
})()"#;

/// Focuses `css` and types `keys` into it, as a keyboard would.
async fn key_on(c: &Client, css: &str, keys: &str) {
    c.execute(&format!("document.querySelector({}).focus()", serde_json::json!(css)), vec![])
        .await
        .unwrap();
    c.active_element().await.unwrap().send_keys(keys).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn the_keyboard_reaches_every_control_with_a_visible_focus_ring_and_operates_them() {
    let (server, _driver, c) = page_on(&["blocking", "epoll"], 1280, 577).await;
    let client = accepted_client_on(&c, "epoll").await;
    send_line(&c, &client, "keys").await;
    wait_reply(&c, &client, "KEYS").await;
    c.execute("document.activeElement.blur(); window.scrollTo(0, 0);", vec![]).await.unwrap();
    let total = c.execute(&format!("return {MARK_CONTROLS};"), vec![]).await.unwrap();
    let total = total.as_u64().unwrap() as usize;
    assert!(total >= 25, "the page's controls were found: {total}");
    let mut reached = std::collections::BTreeSet::new();
    let body = c.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&Key::Tab.to_string()).await.unwrap();
    for _ in 0..total + 20 {
        let f: serde_json::Value = serde_json::from_str(&text_of(&c, FOCUSED).await).unwrap();
        if let Some(k) = f["kbd"].as_str() {
            assert_eq!(f["ring"], true, "a visible focus ring on {f}");
            reached.insert(k.parse::<usize>().unwrap());
        }
        c.active_element().await.unwrap().send_keys(&Key::Tab.to_string()).await.unwrap();
    }
    let missed: Vec<String> =
        (0..total).filter(|i| !reached.contains(i)).map(|i| i.to_string()).collect();
    if !missed.is_empty() {
        let names = text_of(&c, &format!("[{}].map(i => {{ const e = document.querySelector(`[data-kbd='${{i}}']`); return e.id || e.className || e.tagName; }}).join(', ')", missed.join(","))).await;
        panic!("Tab never reached {} of {total} controls: {names}", missed.len());
    }
    // Operated from the keyboard: Enter on the theme button, arrows along the side tabs, Space
    // on a focused button presses that button (not the page's pause).
    let theme = text_of(&c, "document.documentElement.dataset.theme").await;
    key_on(&c, "#theme", &Key::Enter.to_string()).await;
    wait_js(
        &c,
        "the theme switched by Enter",
        &format!("document.documentElement.dataset.theme !== '{theme}'"),
    )
    .await;
    key_on(&c, "#side-tab-code", &Key::Right.to_string()).await;
    wait_js(&c, "the next side tab", "document.querySelector(\"#side-tab-clients[aria-selected='true']\") && document.activeElement.id === 'side-tab-clients' && !document.querySelector('#side-clients').hidden").await;
    let paused = text_of(&c, "document.querySelector('#playback').dataset.paused").await;
    c.execute("document.querySelector('#side-tab-code').click()", vec![]).await.unwrap();
    key_on(&c, "#step", " ").await;
    wait_for(&c, "Space pressed the step button", "#playback[data-paused='true']").await;
    eprintln!("keyboard: {} controls reached by Tab (paused before: {paused})", reached.len());
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// axe-core, injected by the test browser: its WCAG 2 A and AA rules on the page as shown.
/// Returns one line per violated rule (impact, id, how many elements, the first ones).
async fn axe(c: &Client) -> Vec<(String, String)> {
    let path = std::env::var("KETTLE_AXE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools/axe-core/node_modules/axe-core/axe.min.js")
            .to_owned()
    });
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core at {path} ({e}): `cargo xtask test` installs it"));
    let loaded = c.execute("return typeof axe !== 'undefined';", vec![]).await.unwrap();
    if loaded != serde_json::Value::Bool(true) {
        c.execute(&source, vec![]).await.unwrap();
    }
    let run = r#"return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
      .then(r => JSON.stringify(r.violations.map(v => [v.impact, `${v.id} (${v.nodes.length}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`])));"#;
    let out = c.execute(run, vec![]).await.unwrap();
    serde_json::from_str(out.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn axe_finds_no_serious_or_critical_violation_in_any_view_of_either_theme() {
    let models = ["blocking", "select", "epoll", "io-uring"];
    let (server, _driver, c) = page_on(&models, 1280, 577).await;
    for id in ["select", "epoll"] {
        let client = accepted_client_on(&c, id).await;
        send_line(&c, &client, "axe").await;
        wait_reply(&c, &client, "AXE").await;
    }
    let mut summary = Vec::new();
    let mut serious = Vec::new();
    for theme in ["light", "dark"] {
        if text_of(&c, "document.documentElement.dataset.theme").await != theme {
            click(&c, "#theme").await;
            wait_js(&c, theme, &format!("document.documentElement.dataset.theme === '{theme}'"))
                .await;
        }
        let mut scan = |view: String, found: Vec<(String, String)>| {
            let bad: Vec<&(String, String)> = found
                .iter()
                .filter(|(impact, _)| impact == "serious" || impact == "critical")
                .collect();
            summary.push(format!(
                "{theme:5} {view:28} {} violations ({} serious or critical){}",
                found.len(),
                bad.len(),
                found.iter().map(|(i, r)| format!("\n        {i}: {r}")).collect::<String>()
            ));
            serious.extend(bad.into_iter().map(|(i, r)| format!("{theme}, {view}: {i} {r}")));
        };
        // The figure view, with each panel of the side column in turn.
        show_view(&c, "figure").await;
        for side in ["code", "clients", "load", "threads", "lesson", "log"] {
            show_side(&c, side).await;
            scan(format!("figure, side panel {side}"), axe(&c).await);
        }
        click(&c, "#side-tab-code").await;
        // The comparison, after a line through two models.
        show_view(&c, "compare").await;
        for id in ["blocking", "select"] {
            let ticked = text_of(
                &c,
                &format!("document.querySelector(\".compare-pick[value='{id}']\").checked"),
            )
            .await;
            if ticked != "true" {
                click(&c, &format!(".compare-pick[value='{id}']")).await;
            }
        }
        c.find(Locator::Css("#compare-input"))
            .await
            .unwrap()
            .send_keys("six point six")
            .await
            .unwrap();
        click(&c, "#compare-send").await;
        wait_js(
            &c,
            "the comparison drawn",
            "document.querySelectorAll('#compare g.column').length >= 2",
        )
        .await;
        scan("compare".into(), axe(&c).await);
        show_view(&c, "story").await;
        scan("story".into(), axe(&c).await);
        show_view(&c, "experiments").await;
        scan("experiments".into(), axe(&c).await);
        // Presenter mode, at the smallest projector.
        show_view(&c, "figure").await;
        viewport(&c, 1024, 625).await;
        presenter(&c, true).await;
        scan("presenter (1024×768)".into(), axe(&c).await);
        presenter(&c, false).await;
        // The model picker, opened as a menu on a narrow window.
        click(&c, "#models-toggle").await;
        wait_js(&c, "the model menu", "document.querySelector('#models.open')").await;
        scan("model menu (1024×768)".into(), axe(&c).await);
        press(&c, "Escape").await;
        wait_js(&c, "the model menu closed", "!document.querySelector('#models.open')").await;
        viewport(&c, 1280, 577).await;
    }
    eprintln!("axe-core (WCAG 2 A, AA), by view and theme:\n{}", summary.join("\n"));
    assert!(serious.is_empty(), "serious or critical:\n{}", serious.join("\n"));
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}
