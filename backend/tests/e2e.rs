//! Browser end-to-end tests: the real page in headless Chromium, driven through ChromeDriver
//! with fantoccini, against a real Kettle on ephemeral ports.
//!
//! They need the built frontend and Chromium, so they are `#[ignore]`d in a plain `cargo test`;
//! `cargo xtask test` builds and installs what they need and runs them with `--ignored`.
//! Environment: `KETTLE_DIST` (the built frontend), `CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`), `CHROMIUM` (default `/usr/lib/chromium/chromium`), and
//! `KETTLE_SCREENSHOT` (where to write the page's screenshot, e.g. `docs/screenshot.png`).

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

async fn browser(driver: &Driver) -> Client {
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
        "--window-size=1600,2200",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", driver._profile.0.display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in headless chromium")
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

/// Opens an echo client on the selected model and returns its element selector.
async fn open_client(c: &Client, nth: usize) -> String {
    c.find(Locator::Css("#echo-open")).await.unwrap().click().await.unwrap();
    wait_js(
        c,
        "an echo client",
        &format!("document.querySelectorAll('.echo-client').length >= {nth}"),
    )
    .await;
    let id = text_of(
        c,
        &format!("document.querySelectorAll('.echo-client')[{}].dataset.client", nth - 1),
    )
    .await;
    format!(".echo-client[data-client='{id}']")
}

async fn send_line(c: &Client, client: &str, text: &str) {
    let input = c.find(Locator::Css(&format!("{client} .echo-input"))).await.unwrap();
    input.send_keys(text).await.unwrap();
    c.find(Locator::Css(&format!("{client} .echo-send"))).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn page_echoes_a_line_and_the_diagram_plays_both_phases() {
    let server = kettle_with_frontend(&["blocking"]).await;
    let driver = start_driver();
    let c = browser(&driver).await;
    c.goto(&format!("http://127.0.0.1:{}/", server.addr.port())).await.unwrap();
    wait_js(&c, "the blocking model listed as running", "document.querySelector(\"#model-list li[data-model='blocking'] .state[data-state='running']\")").await;
    wait_js(&c, "connected", "document.querySelector(\"#conn-status[data-status='connected']\")")
        .await;

    // 1/10 000: a copy phase of tens of microseconds plays for a few hundred milliseconds.
    c.execute("const s = document.querySelector('#speed'); s.value = '4'; s.dispatchEvent(new Event('change', {bubbles: true}));", vec![]).await.unwrap();
    wait_js(
        &c,
        "speed 1/10 000",
        "document.querySelector('#playback').dataset.speed === '1/10 000'",
    )
    .await;
    // Record every phase the diagram shows from now on.
    c.execute(
        "window.__phases = []; setInterval(() => { const d = document.querySelector('#diagram'); \
         const p = d && d.getAttribute('data-phase'); \
         if (p && window.__phases[window.__phases.length - 1] !== p) window.__phases.push(p); }, 5);",
        vec![],
    )
    .await
    .unwrap();

    let first = open_client(&c, 1).await;
    send_line(&c, &first, "hello").await;
    wait_js(&c, "the reply HELLO", &format!("[...document.querySelectorAll(\"{first} .echo-reply\")].some(e => e.textContent.trim() === 'HELLO')")).await;

    wait_js(
        &c,
        "the diagram to play wait, then copy, then done",
        "(() => { const p = window.__phases.join(' '); return /wait.*copy.*done/.test(p); })()",
    )
    .await;
    let wait_label = text_of(
        &c,
        "document.querySelector(\"#diagram g.phase[data-phase='wait'] text\").textContent",
    )
    .await;
    let copy_label = text_of(
        &c,
        "document.querySelector(\"#diagram g.phase[data-phase='copy'] text\").textContent",
    )
    .await;
    assert!(
        wait_label.chars().any(|ch| ch.is_ascii_digit()),
        "phase 1 shows a measured duration: {wait_label:?}"
    );
    assert!(
        copy_label.chars().any(|ch| ch.is_ascii_digit()),
        "phase 2 shows a measured duration: {copy_label:?}"
    );

    // The blocking thread is sampled: it sleeps in the kernel, so it is not burning a core.
    wait_js(&c, "the blocking thread's CPU sample", "document.querySelector(\"#threads tr.thread[data-burning='false'] .cpu\") && /%/.test(document.querySelector('#threads tr.thread .cpu').textContent)").await;

    // A second client waits in the backlog until the first leaves.
    let second = open_client(&c, 2).await;
    send_line(&c, &second, "world").await;
    wait_js(
        &c,
        "the second client shown waiting in the backlog",
        &format!("/backlog/i.test(document.querySelector(\"{second} .echo-status\").textContent)"),
    )
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
    wait_js(&c, "the second client's reply WORLD after the first left", &format!("[...document.querySelectorAll(\"{second} .echo-reply\")].some(e => e.textContent.trim() === 'WORLD')")).await;

    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built frontend and chromium: run `cargo xtask test`"]
async fn every_model_is_listed_echoes_from_the_page_and_draws_its_steps() {
    let ids: Vec<&str> = kettle_shared::MODELS.iter().map(|m| m.id).collect();
    let server = kettle_with_frontend(&ids).await;
    let driver = start_driver();
    let c = browser(&driver).await;
    c.goto(&format!("http://127.0.0.1:{}/", server.addr.port())).await.unwrap();
    wait_js(&c, "connected", "document.querySelector(\"#conn-status[data-status='connected']\")")
        .await;
    for (i, id) in ids.iter().enumerate() {
        wait_js(&c, &format!("{id} listed as running"), &format!("document.querySelector(\"#model-list li[data-model='{id}'] .state[data-state='running']\")")).await;
        // Select the model: its lesson, log and diagram follow.
        c.execute(
            &format!("document.querySelector(\"#model-list li[data-model='{id}']\").click()"),
            vec![],
        )
        .await
        .unwrap();
        wait_js(&c, &format!("{id}'s lesson"), &format!("document.querySelector('#lesson').dataset.model === '{id}' && document.querySelector('#lesson .lesson-text').textContent.length > 100")).await;
        // Open an echo client on it and send a line.
        c.execute(&format!("const s = document.querySelector('#echo-model'); s.value = '{id}'; s.dispatchEvent(new Event('change', {{bubbles: true}}));"), vec![]).await.unwrap();
        let client = open_client(&c, i + 1).await;
        let line = format!("line for {id}");
        send_line(&c, &client, &line).await;
        let want = line.to_uppercase();
        wait_js(&c, &format!("{id}'s reply"), &format!("[...document.querySelectorAll(\"{client} .echo-reply\")].some(e => e.textContent.trim() === '{want}')")).await;
        // The diagram draws the model's own steps, whatever their kinds.
        c.find(Locator::Css("#live")).await.unwrap().click().await.unwrap();
        wait_js(
            &c,
            &format!("{id}'s steps in the diagram"),
            "document.querySelectorAll('#diagram g.step').length > 0",
        )
        .await;
        wait_js(
            &c,
            &format!("{id}'s events in the log"),
            &format!("document.querySelector(\"#event-log tr.event-row[data-model='{id}']\")"),
        )
        .await;
        if *id == "nonblocking" {
            // The busy loop's thread keeps a core busy even while nobody talks to it.
            wait_js(
                &c,
                "the busy loop shown burning a core",
                "document.querySelector(\"#threads tr.thread[data-burning='true'] .burning-core\")",
            )
            .await;
        }
        let errors = text_of(&c, "document.querySelector('#errors').hidden").await;
        assert_eq!(
            errors,
            "true",
            "the page shows an error after {id}: {}",
            text_of(&c, "document.querySelector('#errors').textContent").await
        );
    }
    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}
