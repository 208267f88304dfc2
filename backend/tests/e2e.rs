//! Browser end-to-end tests: the real page in headless Chromium, driven through ChromeDriver
//! with fantoccini, against a real Kettle on ephemeral ports.
//!
//! They need the built frontend and Chromium, so they are `#[ignore]`d in a plain `cargo test`;
//! `cargo xtask test` builds and installs what they need and runs them with `--ignored`.
//! Environment: `KETTLE_DIST` (the built frontend), `CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`), `CHROMIUM` (default `/usr/lib/chromium/chromium`), and
//! `KETTLE_SCREENSHOT` (where to write the page's screenshot, e.g. `docs/screenshot.png`) and
//! `KETTLE_FIGURES` (a folder for one screenshot of each model's figure at 1280×720, e.g.
//! `docs/figures`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use kettle_backend::{serve, Config, Server};

/// A ChromeDriver process, killed on drop.
struct Driver {
    child: Child,
    port: u16,
    _profile: TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_driver() -> Driver {
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let port = free_port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {bin} ({e}); `cargo xtask test` installs chromium-driver")
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = std::env::temp_dir().join(format!("kettle-e2e-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&profile).unwrap();
    Driver { child, port, _profile: TempDir(profile) }
}

/// A headless chromium whose viewport is `width` × `height` CSS px.
async fn browser_sized(driver: &Driver, width: u32, height: u32) -> Client {
    let chromium =
        std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/lib/chromium/chromium".into());
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--user-data-dir={}", driver._profile.0.display()),
        format!("--window-size={width},{height}"),
    ])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in headless chromium");
    viewport(&c, width, height).await;
    c
}

/// Makes the page's viewport exactly `width` × `height` (the window may add chrome).
async fn viewport(c: &Client, width: u32, height: u32) {
    for _ in 0..3 {
        let got = c.execute("return [innerWidth, innerHeight]", vec![]).await.unwrap();
        let (w, h) = (got[0].as_u64().unwrap() as u32, got[1].as_u64().unwrap() as u32);
        if (w, h) == (width, height) {
            return;
        }
        let (ow, oh) = c.get_window_size().await.unwrap();
        let grow = |outer: u64, want: u32, got: u32| {
            (outer as i64 + i64::from(want) - i64::from(got)).max(100) as u32
        };
        let _ = c.set_window_size(grow(ow, width, w), grow(oh, height, h)).await;
    }
}

async fn kettle_with_frontend(start: &[&str]) -> Server {
    let dist = kettle_backend::web::find_dist(
        std::env::var_os("KETTLE_DIST").map(std::path::PathBuf::from).as_deref(),
    )
    .expect("the built frontend (dist/index.html): run `cargo xtask test`, which builds it");
    let config = Config {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        model_port_base: 0,
        start: start.iter().map(|s| s.to_string()).collect(),
        allow_origins: vec![],
        dist: Some(dist),
        pool_workers: 4,
        child_exe: Some(env!("CARGO_BIN_EXE_kettle").into()),
    };
    serve(config).await.unwrap()
}

/// Polls `js` (an expression) until it returns true.
async fn wait_js(c: &Client, what: &str, js: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.execute(&format!("return !!({js});"), vec![]).await.unwrap();
        if v == serde_json::Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let body = c.execute("return document.body.innerText", vec![]).await.unwrap();
            panic!("timed out waiting for {what}; page text:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn text_of(c: &Client, js: &str) -> String {
    c.execute(&format!("return String({js});"), vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn send_line(c: &Client, client: &str, text: &str) {
    let input = c.find(Locator::Css(&format!("{client} .echo-input"))).await.unwrap();
    input.send_keys(text).await.unwrap();
    c.find(Locator::Css(&format!("{client} .echo-send"))).await.unwrap().click().await.unwrap();
}

/// The Stevens figure each model draws, and the test hooks its own figure must show once a
/// line was echoed (besides lanes and, where the model has them, measured phases).
fn expected(id: &str) -> (&'static str, &'static [&'static str]) {
    match id {
        "blocking" | "thread-per-conn" | "process-per-conn" => ("6.1", &["[data-backlog]"]),
        "thread-pool" => ("6.1", &["[data-backlog]", "[data-queue]"]),
        "nonblocking" => ("6.2", &["[data-eagain]"]),
        "select" | "poll" => ("6.3", &["[data-fdset] [data-fd]", "[data-ready]"]),
        "epoll" | "epoll-et" => ("6.3", &["[data-interest] [data-fd]", "[data-readylist]"]),
        "reactor" => ("6.3", &["[data-interest] [data-fd]", "[data-readylist]", "[data-callback]"]),
        "sigio" => ("6.4", &["[data-signal]"]),
        "io-uring" => ("6.5", &["[data-ring='sq']", "[data-ring='cq']"]),
        "posix-aio" => ("6.5", &["[data-lane][data-helper]"]),
        other => panic!("no expectations for {other}"),
    }
}

/// The phases a model's figure measures: both, or (glibc's aio) one span it cannot split.
fn phases_of(id: &str) -> &'static [&'static str] {
    match id {
        "posix-aio" => &["both"],
        _ => &["wait", "copy"],
    }
}

/// Opens Kettle's page and waits until it is connected.
async fn open_page(c: &Client, server: &Server) {
    c.goto(&format!("http://127.0.0.1:{}/", server.addr.port())).await.unwrap();
    wait_js(c, "connected", "document.querySelector(\"#conn-status[data-status='connected']\")")
        .await;
}

/// Waits until the model list shows `id` running.
async fn wait_running(c: &Client, id: &str) {
    wait_js(
        c,
        &format!("{id} listed as running"),
        &format!(
            "document.querySelector(\"#model-list li[data-model='{id}'] .state[data-state='running']\")"
        ),
    )
    .await;
}

async fn select_model(c: &Client, id: &str) {
    c.execute(
        &format!("document.querySelector(\"#model-list li[data-model='{id}']\").click()"),
        vec![],
    )
    .await
    .unwrap();
    wait_js(
        c,
        &format!("{id}'s figure"),
        &format!("document.querySelector(\"#figure[data-model='{id}']\")"),
    )
    .await;
}

/// Opens an echo client on model `id` (through `#echo-model` and `#echo-open`) and returns
/// its selector.
async fn open_client_on(c: &Client, id: &str) -> String {
    let before = text_of(
        c,
        "[...document.querySelectorAll('.echo-client')].map(e => e.dataset.client).join(',')",
    )
    .await;
    c.execute(&format!("const s = document.querySelector('#echo-model'); s.value = '{id}'; s.dispatchEvent(new Event('change', {{bubbles: true}}));"), vec![]).await.unwrap();
    c.find(Locator::Css("#echo-open")).await.unwrap().click().await.unwrap();
    let known: Vec<String> =
        before.split(',').filter(|s| !s.is_empty()).map(|s| format!("'{s}'")).collect();
    let fresh = format!("[...document.querySelectorAll(\".echo-client[data-model='{id}']\")].find(e => ![{}].includes(e.dataset.client))", known.join(","));
    wait_js(c, &format!("a new echo client on {id}"), &fresh).await;
    let client = text_of(c, &format!("{fresh}.dataset.client")).await;
    format!(".echo-client[data-client='{client}']")
}

/// Waits until the model has accepted the client's connection. A line sent before that can
/// reach the socket before the server asked the kernel for receive timestamps
/// (`SO_TIMESTAMPING` is set on the accepted socket), and its phases are then not measured.
async fn wait_accepted(c: &Client, client: &str) {
    wait_js(
        c,
        &format!("{client} accepted"),
        &format!("document.querySelector(\"{client} .echo-status\").dataset.status === 'accepted'"),
    )
    .await;
}

async fn wait_reply(c: &Client, client: &str, want: &str) {
    wait_js(c, &format!("the reply {want}"), &format!("[...document.querySelectorAll(\"{client} .echo-reply\")].some(e => e.textContent.trim() === '{want}')")).await;
}

/// Everything on the page that overlaps, clips or is too small to read on a projector, as
/// sentences; empty when the page is right.
const LAYOUT_PROBLEMS: &str = r#"(() => {
  const problems = [];
  const r = e => e.getBoundingClientRect();
  const W = innerWidth;
  if (document.documentElement.scrollWidth > W + 1) problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${W}`);
  const panels = [...document.querySelectorAll('main.layout > nav, main.layout > section:not(.column-figure):not(.column-lesson), .column-figure > *, .column-lesson > *')]
    .filter(e => r(e).width > 0);
  const name = e => e.id || e.className;
  for (let i = 0; i < panels.length; i++) for (let j = i + 1; j < panels.length; j++) {
    const a = r(panels[i]), b = r(panels[j]);
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
      problems.push(`panels overlap: ${name(panels[i])} and ${name(panels[j])}`);
  }
  for (const svg of document.querySelectorAll('#figure, #compare')) {
    const s = r(svg);
    if (s.right > W + 1) problems.push(`${svg.id} runs off the page: ${s.right} > ${W}`);
    const scale = s.width / svg.viewBox.baseVal.width;
    const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() && r(t).width > 0);
    for (const t of texts) {
      const b = r(t);
      if (b.left < s.left - 1 || b.right > s.right + 1 || b.top < s.top - 1 || b.bottom > s.bottom + 1)
        problems.push(`${svg.id}: clipped "${t.textContent}" [${Math.round(b.left)}..${Math.round(b.right)}] outside [${Math.round(s.left)}..${Math.round(s.right)}]`);
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < 13.9) problems.push(`${svg.id}: "${t.textContent}" is ${px.toFixed(1)} px`);
    }
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      if (texts[i].contains(texts[j]) || texts[j].contains(texts[i])) continue;
      const a = r(texts[i]), b = r(texts[j]);
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > 4) problems.push(`${svg.id}: "${texts[i].textContent}" overlaps "${texts[j].textContent}"`);
    }
  }
  return problems;
})()"#;

async fn layout_problems(c: &Client) -> Vec<String> {
    let v = c.execute(&format!("return {LAYOUT_PROBLEMS};"), vec![]).await.unwrap();
    v.as_array().unwrap().iter().map(|p| p.as_str().unwrap_or_default().to_owned()).collect()
}

async fn assert_no_errors_shown(c: &Client, after: &str) {
    let hidden = text_of(c, "document.querySelector('#errors').hidden").await;
    assert_eq!(
        hidden,
        "true",
        "the page shows an error after {after}: {}",
        text_of(c, "document.querySelector('#errors').textContent").await
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn page_echoes_a_line_and_the_figure_plays_both_phases() {
    let server = kettle_with_frontend(&["blocking"]).await;
    let driver = start_driver();
    let c = browser_sized(&driver, 1280, 720).await;
    open_page(&c, &server).await;
    wait_running(&c, "blocking").await;
    // 1/10 000: a copy phase of tens of microseconds plays for a few hundred milliseconds.
    c.execute("const s = document.querySelector('#speed'); s.value = '4'; s.dispatchEvent(new Event('change', {bubbles: true}));", vec![]).await.unwrap();
    wait_js(
        &c,
        "speed 1/10 000",
        "document.querySelector('#playback').dataset.speed === '1/10 000'",
    )
    .await;
    // Record every phase the figure shows from now on.
    c.execute(
        "window.__phases = []; setInterval(() => { const d = document.querySelector('#figure'); \
         const p = d && d.getAttribute('data-phase'); \
         if (p && window.__phases[window.__phases.length - 1] !== p) window.__phases.push(p); }, 5);",
        vec![],
    )
    .await
    .unwrap();

    let first = open_client_on(&c, "blocking").await;
    wait_accepted(&c, &first).await;
    send_line(&c, &first, "hello").await;
    wait_reply(&c, &first, "HELLO").await;
    wait_js(
        &c,
        "the figure to play wait, then copy, then done",
        "(() => { const p = window.__phases.join(' '); return /wait.*copy.*done/.test(p); })()",
    )
    .await;
    for phase in ["wait", "copy"] {
        let ns = text_of(
            &c,
            &format!(
                "document.querySelector(\"#figure [data-phase='{phase}'][data-ns]\").dataset.ns"
            ),
        )
        .await;
        assert!(ns.parse::<u64>().is_ok(), "phase {phase} carries its measured duration: {ns:?}");
        let label = text_of(&c, &format!("document.querySelector(\"#figure [data-phase='{phase}'][data-ns] text.duration\").textContent")).await;
        assert!(
            label.chars().any(|ch| ch.is_ascii_digit()),
            "phase {phase} shows a duration: {label:?}"
        );
    }

    // The blocking thread is sampled: it sleeps in the kernel, so it is not burning a core.
    wait_js(&c, "the blocking thread's CPU sample", "document.querySelector(\"#threads tr.thread[data-burning='false'] .cpu\") && /%/.test(document.querySelector('#threads tr.thread .cpu').textContent)").await;

    // A second client waits in the backlog until the first leaves: the page says so, and the
    // figure's backlog holds it (the kernel's count, TCP_INFO).
    let second = open_client_on(&c, "blocking").await;
    send_line(&c, &second, "world").await;
    wait_js(
        &c,
        "the second client shown waiting in the backlog",
        &format!("/backlog/i.test(document.querySelector(\"{second} .echo-status\").textContent)"),
    )
    .await;
    c.find(Locator::Css("#live")).await.unwrap().click().await.unwrap();
    wait_js(&c, "the backlog holding it", "document.querySelector('#figure [data-backlog] .item')")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early =
        text_of(&c, &format!("document.querySelectorAll(\"{second} .echo-reply\").length")).await;
    assert_eq!(early, "0", "the blocking server must not answer the second client yet");

    if let Some(path) = std::env::var_os("KETTLE_SCREENSHOT") {
        c.execute("window.scrollTo(0, 0); document.activeElement.blur();", vec![]).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
    }

    c.find(Locator::Css(&format!("{first} .echo-close"))).await.unwrap().click().await.unwrap();
    wait_reply(&c, &second, "WORLD").await;
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Every model, from the page, at 1280×720: its own figure with its own shapes, lanes, and
/// measured phases; the figure and the echo input on screen together; a screenshot each.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn every_model_draws_its_own_figure_from_a_line_echoed_on_the_page() {
    let ids: Vec<&str> = kettle_shared::MODELS.iter().map(|m| m.id).collect();
    let server = kettle_with_frontend(&ids).await;
    let driver = start_driver();
    let c = browser_sized(&driver, 1280, 720).await;
    open_page(&c, &server).await;
    let figures = std::env::var_os("KETTLE_FIGURES").map(std::path::PathBuf::from);
    for id in &ids {
        wait_running(&c, id).await;
        select_model(&c, id).await;
        let (figure, hooks) = expected(id);
        wait_js(
            &c,
            &format!("{id} drawn as Fig. {figure}"),
            &format!(
                "document.querySelector(\"#figure[data-model='{id}'][data-figure='{figure}']\")"
            ),
        )
        .await;
        wait_js(&c, &format!("{id}'s lesson"), &format!("document.querySelector('#lesson').dataset.model === '{id}' && document.querySelector('#lesson .lesson-text').textContent.length > 100")).await;
        let client = open_client_on(&c, id).await;
        wait_accepted(&c, &client).await;
        // Every measured phase a lane shows while the line plays, whatever scrolls by later.
        c.execute(
            "clearInterval(window.__phaseWatch); window.__seen = {}; \
             window.__phaseWatch = setInterval(() => document.querySelectorAll(\
             '#figure [data-lane] [data-phase][data-ns]').forEach(e => { \
             window.__seen[e.dataset.phase] = e.dataset.ns; }), 10);",
            vec![],
        )
        .await
        .unwrap();
        let line = format!("line for {id}");
        send_line(&c, &client, &line).await;
        wait_reply(&c, &client, &line.to_uppercase()).await;
        for phase in phases_of(id) {
            let played = format!("/^[0-9]+$/.test(window.__seen['{phase}'])");
            wait_js(&c, &format!("{id}'s measured {phase} phase, played"), &played).await;
        }
        c.find(Locator::Css("#live")).await.unwrap().click().await.unwrap();
        wait_js(
            &c,
            &format!("{id}'s lanes"),
            "document.querySelector('#figure [data-lane][data-thread] .step')",
        )
        .await;
        for hook in hooks {
            wait_js(
                &c,
                &format!("{id}'s {hook}"),
                &format!("document.querySelector(\"#figure {hook}\")"),
            )
            .await;
        }
        // The figure and the echo input are both on screen without scrolling.
        let on_screen = format!("(() => {{ const f = document.querySelector('#figure').getBoundingClientRect(); const i = document.querySelector(\"{client} .echo-input\").getBoundingClientRect(); return f.bottom <= innerHeight && i.bottom <= innerHeight && f.top >= 0 && scrollY === 0; }})()");
        wait_js(&c, &format!("{id}'s figure and echo input on screen at 1280×720"), &on_screen)
            .await;
        let problems = layout_problems(&c).await;
        assert!(problems.is_empty(), "{id} at 1280×720:\n{}", problems.join("\n"));
        if let Some(dir) = &figures {
            std::fs::create_dir_all(dir).unwrap();
            c.execute("document.activeElement.blur();", vec![]).await.unwrap();
            let png = c.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{id}.png")), png).unwrap();
        }
        if *id == "nonblocking" {
            // The busy loop's thread keeps a core busy even while nobody talks to it.
            wait_js(
                &c,
                "the busy loop shown burning a core",
                "document.querySelector(\"#threads tr.thread[data-burning='true'] .burning-core\")",
            )
            .await;
        }
        assert_no_errors_shown(&c, id).await;
        // Close and remove the client so the next model's client is the only one.
        c.find(Locator::Css(&format!("{client} .echo-close")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_js(
            &c,
            "the client closed",
            &format!("document.querySelector(\"{client} .echo-remove\")"),
        )
        .await;
        c.find(Locator::Css(&format!("{client} .echo-remove")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Thread per connection: two clients, two threads, two lanes, each lane with the phases of
/// its own recv.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn two_clients_of_thread_per_conn_are_two_lanes_each_with_its_own_phases() {
    let server = kettle_with_frontend(&["thread-per-conn"]).await;
    let driver = start_driver();
    let c = browser_sized(&driver, 1280, 1000).await;
    open_page(&c, &server).await;
    wait_running(&c, "thread-per-conn").await;
    select_model(&c, "thread-per-conn").await;
    let a = open_client_on(&c, "thread-per-conn").await;
    let b = open_client_on(&c, "thread-per-conn").await;
    for client in [&a, &b] {
        wait_js(
            &c,
            "both accepted",
            &format!(
                "document.querySelector(\"{client} .echo-status\").dataset.status === 'accepted'"
            ),
        )
        .await;
    }
    send_line(&c, &a, "one").await;
    send_line(&c, &b, "two").await;
    wait_reply(&c, &a, "ONE").await;
    wait_reply(&c, &b, "TWO").await;
    c.find(Locator::Css("#live")).await.unwrap().click().await.unwrap();
    let lanes_with_phases = "[...document.querySelectorAll('#figure [data-lane][data-thread]')].filter(l => l.querySelector(\"[data-phase='wait'][data-ns]\") && l.querySelector(\"[data-phase='copy'][data-ns]\"))";
    wait_js(
        &c,
        "two lanes, each with its own measured phases",
        &format!("{lanes_with_phases}.length >= 2"),
    )
    .await;
    let threads =
        text_of(&c, &format!("{lanes_with_phases}.map(l => l.dataset.thread).join(',')")).await;
    let ids: Vec<&str> = threads.split(',').collect();
    assert!(ids.len() >= 2 && ids[0] != ids[1], "two different threads: {threads}");
    let problems = layout_problems(&c).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Fig. 6.6 from measurement: one line through blocking, select, sigio and io-uring at once,
/// their figures side by side with measured phases; and the browser's frame times meanwhile.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn one_line_compares_blocking_select_sigio_and_io_uring_side_by_side() {
    let models = ["blocking", "select", "sigio", "io-uring"];
    let server = kettle_with_frontend(&models).await;
    let driver = start_driver();
    let c = browser_sized(&driver, 1280, 720).await;
    open_page(&c, &server).await;
    for id in models {
        wait_running(&c, id).await;
    }
    // Frame times from now on (the figure keeps playing while the comparison is drawn).
    c.execute("window.__frames = []; let last = performance.now(); const f = t => { window.__frames.push(t - last); last = t; requestAnimationFrame(f); }; requestAnimationFrame(f);", vec![]).await.unwrap();
    wait_js(&c, "the send button", "!document.querySelector('#compare-send').disabled").await;
    let input = c.find(Locator::Css("#compare-input")).await.unwrap();
    input.send_keys("same line").await.unwrap();
    c.find(Locator::Css("#compare-send")).await.unwrap().click().await.unwrap();
    for id in models {
        wait_js(&c, &format!("{id}'s reply"), &format!("[...document.querySelectorAll(\".echo-client[data-model='{id}'] .echo-reply\")].some(e => e.textContent.trim() === 'SAME LINE')")).await;
    }
    let want = [("blocking", "6.1"), ("select", "6.3"), ("sigio", "6.4"), ("io-uring", "6.5")];
    for (id, figure) in want {
        wait_js(&c, &format!("{id}'s column with measured phases"), &format!("document.querySelector(\"#compare [data-figure='{figure}'][data-model='{id}'] [data-phase][data-ns]\")")).await;
    }
    let columns = text_of(&c, "document.querySelectorAll('#compare [data-figure]').length").await;
    assert_eq!(columns, "4");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let frames = c.execute("return window.__frames.slice(5)", vec![]).await.unwrap();
    let mut ms: Vec<f64> = frames.as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "frame times while the comparison plays: {} frames, p50 {:.1} ms, p95 {:.1} ms",
        ms.len(),
        pct(0.5),
        pct(0.95)
    );
    c.execute("document.querySelector('#compare-panel').scrollIntoView()", vec![]).await.unwrap();
    let problems = layout_problems(&c).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if let Some(dir) = std::env::var_os("KETTLE_FIGURES").map(std::path::PathBuf::from) {
        std::fs::create_dir_all(&dir).unwrap();
        let png = c.find(Locator::Css("#compare-panel")).await.unwrap().screenshot().await.unwrap();
        std::fs::write(dir.join("compare.png"), png).unwrap();
    }
    assert_no_errors_shown(&c, "the comparison").await;
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// At 1024×768 and 1280×720 nothing overlaps, clips or is too small; presenter mode shows the
/// figure and the echo clients only, larger.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn page_fits_a_projector_at_1024x768_and_1280x720_and_has_a_presenter_mode() {
    let models = ["blocking", "thread-pool", "select", "epoll", "reactor", "io-uring"];
    let server = kettle_with_frontend(&models).await;
    let driver = start_driver();
    let c = browser_sized(&driver, 1024, 768).await;
    open_page(&c, &server).await;
    for id in models {
        wait_running(&c, id).await;
        select_model(&c, id).await;
        let client = open_client_on(&c, id).await;
        wait_accepted(&c, &client).await;
        send_line(&c, &client, "fits?").await;
        wait_reply(&c, &client, "FITS?").await;
        c.find(Locator::Css("#live")).await.unwrap().click().await.unwrap();
        wait_js(&c, "steps drawn", "document.querySelector('#figure .step')").await;
        for (w, h) in [(1024, 768), (1280, 720)] {
            viewport(&c, w, h).await;
            // Let the figure measure its new room and draw again.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let problems = layout_problems(&c).await;
            assert!(problems.is_empty(), "{id} at {w}×{h}:\n{}", problems.join("\n"));
        }
        viewport(&c, 1024, 768).await;
    }
    // Presenter mode: F.
    viewport(&c, 1280, 720).await;
    c.execute("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', {key: 'f', bubbles: true}));", vec![]).await.unwrap();
    wait_js(&c, "presenter mode", "document.querySelector('main.layout.presenter') && !document.querySelector('#model-list') && !document.querySelector('#event-log')").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let lane_px = text_of(&c, "(() => { const s = document.querySelector('#figure'); const t = s.querySelector('.lane-name'); return parseFloat(getComputedStyle(t).fontSize) * s.getBoundingClientRect().width / s.viewBox.baseVal.width; })()").await;
    assert!(
        lane_px.parse::<f64>().unwrap() >= 18.0,
        "presenter mode draws larger: lane names at {lane_px} px"
    );
    let on_screen = "(() => { const f = document.querySelector('#figure').getBoundingClientRect(); const e = document.querySelector('#echo').getBoundingClientRect(); return f.bottom <= innerHeight && e.top < innerHeight && e.left >= f.right; })()";
    wait_js(&c, "figure and echo clients side by side on screen", on_screen).await;
    let problems = layout_problems(&c).await;
    assert!(problems.is_empty(), "presenter mode:\n{}", problems.join("\n"));
    c.find(Locator::Css("#presenter")).await.unwrap().click().await.unwrap();
    wait_js(&c, "back from presenter mode", "document.querySelector('#model-list')").await;
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// The kernel's own words on the lanes, from `/proc/self/task/<tid>/`: the blocking model's
/// thread waiting for data (a client is open and sends nothing) is asleep (`S`) at
/// `sk_wait_data` (its stack, where readable) or `wait_woken` (its wchan); the busy loop's
/// thread is `R`. In the definitions panel, the lesson's computation is `R` beside it: a
/// synchronous call that never sleeps.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn lanes_say_where_the_kernel_has_each_thread_and_a_computation_never_sleeps() {
    let server = kettle_with_frontend(&["blocking", "nonblocking"]).await;
    let driver = start_driver();
    let c = browser_sized(&driver, 1280, 720).await;
    open_page(&c, &server).await;
    wait_running(&c, "blocking").await;
    select_model(&c, "blocking").await;
    let client = open_client_on(&c, "blocking").await;
    wait_accepted(&c, &client).await;
    // The samples come every 100 ms, and the thread reaches recv after the accept: poll.
    let waiting = "[...document.querySelectorAll('#figure g.lane[data-lane]')].find(l => l.dataset.schedState === 'S' && (l.textContent.includes('sk_wait_data') || l.dataset.wchan === 'wait_woken'))";
    wait_js(&c, "the blocking lane asleep waiting for data", waiting).await;
    // This process is the server: where it can read a kernel stack, the lane names the frame.
    if std::fs::read_to_string("/proc/thread-self/stack").is_ok() {
        let with_frame = "[...document.querySelectorAll('#figure g.lane[data-lane]')].find(l => l.dataset.schedState === 'S' && l.querySelector('.lane-kernel') && l.textContent.includes('sk_wait_data'))";
        wait_js(&c, "sk_wait_data on the blocking lane", with_frame).await;
    }
    let problems = layout_problems(&c).await;
    assert!(problems.is_empty(), "blocking at 1280×720:\n{}", problems.join("\n"));
    // The same in Chinese: the kernel's names stay as read.
    c.find(Locator::Css("#lang")).await.unwrap().click().await.unwrap();
    wait_js(&c, "the page in Chinese", "document.documentElement.lang === 'zh-CN'").await;
    wait_js(&c, "the blocking lane asleep, in Chinese", waiting).await;
    c.find(Locator::Css("#lang")).await.unwrap().click().await.unwrap();

    wait_running(&c, "nonblocking").await;
    select_model(&c, "nonblocking").await;
    wait_js(
        &c,
        "the busy loop's lane running",
        "document.querySelector('#figure g.lane[data-lane][data-sched-state=\"R\"]')",
    )
    .await;
    let problems = layout_problems(&c).await;
    assert!(problems.is_empty(), "nonblocking at 1280×720:\n{}", problems.join("\n"));

    // The definitions panel: a computation (R) beside the blocking model's thread (S).
    c.find(Locator::Css("#compute")).await.unwrap().click().await.unwrap();
    wait_js(
        &c,
        "the computation running",
        "document.querySelector('#definitions .contrast-thread[data-role=\"compute\"][data-sched-state=\"R\"]')",
    )
    .await;
    wait_js(
        &c,
        "the blocked recv asleep beside it",
        "document.querySelector('#definitions .contrast-thread[data-role=\"blocked-recv\"][data-sched-state=\"S\"]')",
    )
    .await;
    // The lesson's computation is not a model.
    let listed =
        text_of(&c, "!!document.querySelector(\"#model-list li[data-model='lesson']\")").await;
    assert_eq!(listed, "false");
    assert_no_errors_shown(&c, "computing").await;
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}
