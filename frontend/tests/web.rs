//! Browser tests (headless chromium via wasm-bindgen-test-runner) for the DOM glue: the app
//! mounted into a div, fed server messages through its reducer, its clicks recorded as
//! commands. Run: `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p kettle-frontend --target
//! wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use kettle_frontend::service::Sender;
use kettle_frontend::state::Action;
use kettle_frontend::{App, AppProps};
use kettle_shared::excerpt::{find_region, ExcerptText};
use kettle_shared::{
    Clock, Command, Event, EventKind, ModelInfo, ModelState, RecvOutcome, ReplyResult, SendOutcome,
    ServerMsg, ThreadRef, PROTOCOL_VERSION,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlSelectElement};
use yew::Callback;

wasm_bindgen_test_configure!(run_in_browser);

struct Page {
    root: Element,
    dispatch: Callback<Action>,
    sent: Rc<RefCell<Vec<Command>>>,
}

impl Page {
    async fn mount() -> Page {
        let document = web_sys::window().unwrap().document().unwrap();
        let root = document.create_element("div").unwrap();
        document.body().unwrap().append_child(&root).unwrap();
        let sent = Rc::new(RefCell::new(Vec::new()));
        let slot: Rc<RefCell<Option<Callback<Action>>>> = Rc::default();
        let props = AppProps {
            sender: Some(Sender::new({
                let sent = sent.clone();
                move |c| sent.borrow_mut().push(c)
            })),
            on_dispatch: Some(Callback::from({
                let slot = slot.clone();
                move |d| *slot.borrow_mut() = Some(d)
            })),
        };
        yew::Renderer::<App>::with_root_and_props(root.clone(), props).render();
        yew::scheduler::flush().await;
        let dispatch = slot.borrow().clone().expect("the app hands out its dispatcher");
        Page { root, dispatch, sent }
    }

    async fn feed(&self, msg: ServerMsg) {
        self.dispatch.emit(Action::Server(msg));
        yew::scheduler::flush().await;
    }

    fn query(&self, selector: &str) -> Option<Element> {
        self.root.query_selector(selector).unwrap()
    }

    fn text(&self, selector: &str) -> String {
        self.query(selector)
            .unwrap_or_else(|| panic!("no {selector}"))
            .text_content()
            .unwrap_or_default()
    }

    async fn click(&self, selector: &str) {
        self.query(selector).unwrap().unchecked_into::<HtmlElement>().click();
        yew::scheduler::flush().await;
    }
}

fn model(state: ModelState) -> ModelInfo {
    ModelInfo {
        id: "blocking".into(),
        title: "Blocking I/O, one thread".into(),
        title_zh: "阻塞IO模型(单线程)".into(),
        figure: "Stevens Fig. 6.1".into(),
        family: Some(kettle_shared::Family::Blocking),
        port: Some(9001),
        ports: Vec::new(),
        command: None,
        state,
        reason: None,
        passive: false,
    }
}

fn hello(version: u32, state: ModelState) -> ServerMsg {
    ServerMsg::Hello {
        protocol_version: version,
        models: vec![model(state)],
        clock: Clock { start_unix_ms: 0, now_ns: 0 },
        role: kettle_shared::Role::Teacher,
        classroom: false,
    }
}

fn ev(seq: u64, t_us: u64, model: &str, kind: EventKind) -> Event {
    Event {
        seq,
        t_ns: t_us * 1_000,
        model: model.into(),
        thread: ThreadRef { id: 1, name: "blocking".into() },
        conn: Some(1),
        kind,
    }
}

#[wasm_bindgen_test]
async fn hello_renders_the_model_list_and_start_sends_a_command() {
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION, ModelState::Stopped)).await;
    let state = page.query("#model-list li[data-model=\"blocking\"] .state").unwrap();
    assert_eq!(state.text_content().unwrap(), "stopped");
    assert_eq!(state.get_attribute("data-state").as_deref(), Some("stopped"));
    assert!(page.query("#version-mismatch").is_none());
    page.click("#model-list li[data-model=\"blocking\"] button.start").await;
    assert_eq!(page.sent.borrow().as_slice(), &[Command::Start { model: "blocking".into() }]);
    assert!(page.text("#lesson").contains("listen backlog"));

    page.click("#lang").await;
    assert_eq!(page.text("#model-list .state"), "已停止");
    let state = page.query("#model-list .state").unwrap();
    assert_eq!(state.get_attribute("data-state").as_deref(), Some("stopped"));
}

#[wasm_bindgen_test]
async fn protocol_mismatch_is_said_plainly() {
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION + 1, ModelState::Stopped)).await;
    assert!(page.text("#version-mismatch").contains("protocol version"));
}

#[wasm_bindgen_test]
async fn echo_client_shows_backlog_then_accept_and_sends_lines() {
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION, ModelState::Running)).await;
    page.click("#echo-open").await;
    assert_eq!(
        page.sent.borrow().last(),
        Some(&Command::EchoOpen { model: "blocking".into(), port: None })
    );
    page.dispatch.emit(Action::Sent {
        id: 1,
        command: Command::EchoOpen { model: "blocking".into(), port: None },
    });
    page.feed(ServerMsg::Reply {
        id: 1,
        result: ReplyResult::EchoOpened {
            client: 7,
            model: "blocking".into(),
            local: "127.0.0.1:40001".into(),
        },
    })
    .await;
    let status = ".echo-client[data-client=\"7\"] .echo-status";
    assert!(page.text(status).contains("waiting in the listen backlog"), "{}", page.text(status));

    let accept =
        EventKind::AcceptExit { fd: Some(5), peer: Some("127.0.0.1:40001".into()), error: None };
    page.feed(ServerMsg::Batch { events: vec![ev(1, 1, "blocking", accept)], dropped: 0 }).await;
    assert_eq!(page.text(status), "accepted by the server");

    let input: HtmlInputElement =
        page.query(".echo-client[data-client=\"7\"] .echo-input").unwrap().unchecked_into();
    input.set_value("hello");
    page.click(".echo-client[data-client=\"7\"] button.echo-send").await;
    assert_eq!(
        page.sent.borrow().last(),
        Some(&Command::EchoSend { client: 7, text: "hello\n".into() })
    );
    assert_eq!(input.value(), "");

    page.feed(ServerMsg::Echo { client: 7, text: "HELLO\n".into() }).await;
    assert_eq!(page.text(".echo-client[data-client=\"7\"] .echo-reply"), "HELLO\n");

    let closed = EventKind::ClientClosed { client: 7, reason: kettle_shared::Reason::ServerClosed };
    page.feed(ServerMsg::Batch { events: vec![ev(2, 2, "client", closed)], dropped: 3 }).await;
    assert_eq!(page.text(status), "closed: the server closed the connection");
    assert!(page.query(".echo-client[data-client=\"7\"] button.echo-remove").is_some());
    assert_eq!(
        page.query("#event-log .log-dropped").unwrap().get_attribute("data-count").as_deref(),
        Some("3")
    );
}

/// The blocking model echoing "hello": `recv` entered at 0, the data arriving 200 µs later,
/// copied in 30 µs, then sent back (seqs 1–5, thread 1, fd 5).
fn hello_echoed_by_blocking() -> Vec<Event> {
    let copied = EventKind::RecvExit {
        fd: 5,
        outcome: RecvOutcome::Data { bytes: 6, preview: "hello\n".into() },
        wait_ns: Some(200_000_000),
        copy_ns: Some(30_000),
    };
    let sent = EventKind::SendExit { fd: 5, outcome: SendOutcome::Sent { bytes: 6 } };
    vec![
        ev(1, 0, "blocking", EventKind::RecvEnter { fd: 5, len: 1024 }),
        ev(2, 200_000, "blocking", EventKind::DataArrived { fd: 5, stamp: None }),
        ev(3, 200_030, "blocking", copied),
        ev(4, 200_040, "blocking", EventKind::SendEnter { fd: 5, bytes: 6 }),
        ev(5, 200_050, "blocking", sent),
    ]
}

#[wasm_bindgen_test]
async fn figure_draws_its_lane_with_measured_phases_and_steps() {
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION, ModelState::Running)).await;
    page.feed(ServerMsg::Batch { events: hello_echoed_by_blocking(), dropped: 0 }).await;
    page.dispatch.emit(Action::TogglePause);
    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;
    let svg = page.query("svg#figure[data-model=\"blocking\"][data-figure=\"6.1\"]").unwrap();
    assert_eq!(svg.get_attribute("data-phase").as_deref(), Some("done"));
    assert_eq!(svg.get_attribute("data-seq").as_deref(), Some("5"));
    let lane = "#figure [data-lane][data-thread=\"1\"]";
    assert!(page.query(&format!("{lane} g.step[data-kind=\"data_arrived\"]")).is_some());
    let wait = format!("{lane} g.phase[data-phase=\"wait\"][data-ns=\"200000000\"] text.duration");
    assert_eq!(page.text(&wait), "200 ms");
    let copy = format!("{lane} g.phase[data-phase=\"copy\"][data-ns=\"30000\"] text.duration");
    assert_eq!(page.text(&copy), "30.0 µs");
    assert!(page.query("#figure [data-backlog]").is_some(), "the kernel's listen backlog");
    assert_eq!(page.root.query_selector_all("#event-log .event-row").unwrap().length(), 5);
}

#[wasm_bindgen_test]
async fn backend_errors_show_and_dismiss() {
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION, ModelState::Stopped)).await;
    assert!(page.query("#errors").unwrap().has_attribute("hidden"));
    page.feed(ServerMsg::Error {
        id: None,
        code: kettle_shared::ErrorCode::NotRunning,
        reason: kettle_shared::Reason::NotRunning { model: "blocking".into() },
    })
    .await;
    assert_eq!(
        page.text("#errors .error-text"),
        "Blocking I/O, one thread is not running; start it first"
    );
    assert_eq!(
        page.query("#errors .error").unwrap().get_attribute("data-code").as_deref(),
        Some("not_running")
    );
    // The error already shown is re-worded in the other language.
    page.click("#lang").await;
    assert_eq!(page.text("#errors .error-text"), "阻塞IO模型(单线程) 没有在运行,请先启动它");
    page.click("#errors button.dismiss").await;
    assert!(page.query("#errors .error").is_none());
}

fn key(key: &str) -> web_sys::KeyboardEvent {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap()
}

#[wasm_bindgen_test]
async fn keyboard_controls_playback_but_not_while_typing() {
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION, ModelState::Running)).await;
    let document = web_sys::window().unwrap().document().unwrap();
    let paused = |page: &Page| page.query("#pause").unwrap().get_attribute("data-paused");
    assert_eq!(paused(&page).as_deref(), Some("false"));
    document.dispatch_event(&key(" ")).unwrap();
    yew::scheduler::flush().await;
    assert_eq!(paused(&page).as_deref(), Some("true"));
    document.dispatch_event(&key("+")).unwrap();
    yew::scheduler::flush().await;
    assert_eq!(
        page.query("#playback").unwrap().get_attribute("data-speed").as_deref(),
        Some("1/1 000")
    );

    page.feed(ServerMsg::Reply {
        id: 1,
        result: ReplyResult::EchoOpened {
            client: 1,
            model: "blocking".into(),
            local: "127.0.0.1:1".into(),
        },
    })
    .await;
    let input = page.query(".echo-input").unwrap();
    input.dispatch_event(&key(" ")).unwrap();
    input.dispatch_event(&key("l")).unwrap();
    yew::scheduler::flush().await;
    assert_eq!(paused(&page).as_deref(), Some("true"), "a space typed in an echo input is text");
    assert_eq!(page.text("#lang"), "中文", "and so is an L");
    document.dispatch_event(&key("L")).unwrap();
    yew::scheduler::flush().await;
    assert_eq!(page.text("#lang"), "English");
    // F: presenter mode, the stage only: the figure, the code, the narration, one echo line.
    document.dispatch_event(&key("f")).unwrap();
    yew::scheduler::flush().await;
    assert!(page.query("main.stage.presenter #figure-panel").is_some());
    assert!(page.query("main.stage.presenter #code-panel").is_some(), "the code stays");
    assert!(page.query("main.stage.presenter #narration").is_some());
    assert!(page.query("#model-list").is_none() && page.query("#echo").is_some());
    assert!(page.query("#side-tabs").is_none() && page.query("#event-log").is_none());
}

/// Lets the browser run for `ms` (its network answers, its timers).
async fn wait_ms(ms: i32) {
    let wake = js_sys::Promise::new(&mut |resolve, _| {
        let window = web_sys::window().unwrap();
        window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(wake).await.unwrap();
}

/// The blocking model's excerpts, handed to the page as the backend would send them (no
/// backend runs here), cut from the model's file with the backend's own function.
fn provide_blocking_code() {
    let src = include_str!("../../backend/src/models/blocking.rs");
    for &x in kettle_frontend::code::code(kettle_shared::BuiltIn::Blocking).excerpts {
        let (from, to, first) = find_region(src, x.name).expect("the page's region is in the file");
        kettle_frontend::code::provide(x, ExcerptText { first, text: src[from..to].to_owned() });
    }
}

#[wasm_bindgen_test]
async fn code_panel_says_plainly_when_the_server_does_not_send_the_code() {
    // The test runner's server has no `/api/excerpts`: the page's fetch gets a 404.
    let page = Page::mount().await;
    let select = ModelInfo {
        id: "select".into(),
        figure: "Stevens Fig. 6.3".into(),
        ..model(ModelState::Running)
    };
    page.feed(ServerMsg::Hello {
        protocol_version: PROTOCOL_VERSION,
        models: vec![select],
        clock: Clock { start_unix_ms: 0, now_ns: 0 },
        role: kettle_shared::Role::Teacher,
        classroom: false,
    })
    .await;
    let mut caption = String::new();
    for _ in 0..100 {
        yew::scheduler::flush().await;
        caption = page.text("#code-caption");
        if caption.contains("did not send") {
            break;
        }
        wait_ms(50).await;
    }
    assert!(caption.contains("did not send") && caption.contains("404"), "{caption}");
    assert!(page.query("#code .code-line").is_none(), "no lines are made up");
}

#[wasm_bindgen_test]
async fn code_panel_lights_the_line_of_the_current_step_and_says_why_when_none() {
    provide_blocking_code();
    let page = Page::mount().await;
    page.feed(hello(PROTOCOL_VERSION, ModelState::Running)).await;
    let mut events = hello_echoed_by_blocking();
    let copied_and_sent = events.split_off(2); // up to the data's arrival first
    page.feed(ServerMsg::Batch { events, dropped: 0 }).await;
    page.dispatch.emit(Action::TogglePause);
    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;
    let code = page.query("#code[data-model=\"blocking\"]").expect("the blocking model's code");
    assert_eq!(code.get_attribute("data-kind").as_deref(), Some("data_arrived"));
    assert!(page.query("#code [data-current]").is_none(), "the kernel's step has no line");
    assert_eq!(code.get_attribute("data-why").as_deref(), Some("kernel"));
    assert!(page.text("#code-caption").contains("kernel"));

    page.feed(ServerMsg::Batch { events: copied_and_sent, dropped: 0 }).await;
    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;
    assert_eq!(page.root.query_selector_all("#code [data-current]").unwrap().length(), 1);
    let lit = page.query("#code .code-line[data-current][data-line]").unwrap();
    let code = page.query("#code").unwrap();
    assert_eq!(code.get_attribute("data-kind").as_deref(), Some("send_exit"));
    assert_eq!(code.get_attribute("data-call").as_deref(), Some("send"));
    assert!(lit.text_content().unwrap_or_default().contains("send"));
    let line = lit.get_attribute("data-line").unwrap();
    assert!(page.text("#code-caption").contains(&line), "the caption names the line");
    let document = web_sys::window().unwrap().document().unwrap();
    document.dispatch_event(&key("L")).unwrap();
    yew::scheduler::flush().await;
    assert!(page.text("#code-caption").contains("这一步"), "{}", page.text("#code-caption"));
}

/// The program `kettle trace` runs, as the backend lists it: recognised as `family`, or not yet.
fn traced(state: ModelState, family: Option<kettle_shared::Family>) -> ModelInfo {
    ModelInfo {
        id: "traced".into(),
        title: "python3 select_echo.py".into(),
        title_zh: "python3 select_echo.py".into(),
        figure: family.map(|f| format!("Stevens Fig. {}", f.number())).unwrap_or_default(),
        family,
        port: Some(9100),
        ports: vec![9100],
        command: Some("python3 select_echo.py".into()),
        state,
        reason: None,
        passive: false,
    }
}

async fn show_traced(page: &Page, models: Vec<ModelInfo>) {
    page.feed(ServerMsg::Hello {
        protocol_version: PROTOCOL_VERSION,
        models,
        clock: Clock { start_unix_ms: 0, now_ns: 0 },
        role: kettle_shared::Role::Teacher,
        classroom: false,
    })
    .await;
    page.dispatch.emit(Action::Select("traced".into()));
    yew::scheduler::flush().await;
}

/// A traced select server: recognised, then one line through `select` and `recv`.
fn line_through_a_traced_select_server() -> Vec<Event> {
    use kettle_shared::{ReadyFd, WaitApi};
    let recognised = EventKind::Recognised {
        family: kettle_shared::Family::Multiplex,
        call: "select".into(),
        count: 14,
        threads: 1,
    };
    let ready = vec![ReadyFd { fd: 5, readable: true, writable: false }];
    let copied = EventKind::RecvExit {
        fd: 5,
        outcome: RecvOutcome::Data { bytes: 6, preview: "hello\n".into() },
        wait_ns: Some(0),
        copy_ns: Some(20_000),
    };
    vec![
        ev(1, 0, "traced", recognised),
        ev(2, 10, "traced", EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] }),
        ev(3, 200_000, "traced", EventKind::DataArrived { fd: 5, stamp: None }),
        ev(
            4,
            200_010,
            "traced",
            EventKind::WaitReturned { api: WaitApi::Select, ready, scanned: 6 },
        ),
        ev(5, 200_020, "traced", EventKind::RecvEnter { fd: 5, len: 1024 }),
        ev(6, 200_040, "traced", copied),
    ]
}

#[wasm_bindgen_test]
async fn a_traced_select_server_is_drawn_as_fig_6_3_with_its_fd_set_and_says_why() {
    let page = Page::mount().await;
    let models = vec![
        model(ModelState::Running),
        traced(ModelState::Running, Some(kettle_shared::Family::Multiplex)),
    ];
    show_traced(&page, models).await;
    page.feed(ServerMsg::Batch { events: line_through_a_traced_select_server(), dropped: 0 }).await;
    page.dispatch.emit(Action::TogglePause);
    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;

    // The figure: Fig. 6.3 from the models list, with the same hooks as select's own.
    let figure = "svg#figure[data-model=\"traced\"][data-figure=\"6.3\"]";
    assert!(page.query(figure).is_some(), "drawn as Fig. 6.3");
    let fdset = page.query(&format!("{figure} [data-fdset]")).expect("the fd set handed to select");
    assert!(fdset.query_selector("[data-fd=\"5\"]").unwrap().is_some());
    assert!(page.query(&format!("{figure} [data-ready]")).is_some());
    assert!(page.query(&format!("{figure} [data-lane]")).is_some());
    assert!(page.query(&format!("{figure} g.phase[data-phase=\"copy\"]")).is_some());
    let why = page.text("#figure-why[data-recognised=\"true\"]");
    assert_eq!(why, "Drawn as Fig. 6.3 because select(2) was called 14 times");

    // The list: its command line as its title, its kind, its group.
    let item = "#model-list li.model-group[data-figure=\"6.3\"] li[data-model=\"traced\"]";
    assert!(page.query(item).is_some(), "grouped with the multiplexing models");
    assert_eq!(page.text(&format!("{item} .title")), "python3 select_echo.py");
    assert_eq!(page.text(&format!("{item} .kind[data-kind=\"traced\"]")), "traced");
    assert_eq!(page.text(&format!("{item} .state")), "running");
    // The echo panel can send it a line; the comparison can tick it.
    assert!(page.query("#echo-model option[value=\"traced\"]").is_some());
    // Its code: Kettle has none, and says so plainly.
    assert!(page.text("#code-caption").contains("does not have the traced program's source"));
    assert!(page.query("#code").is_none());
    // The narration of the recognition step, and the event log's label.
    assert!(
        page.text("#event-log").contains("recognised as Fig. 6.3"),
        "{}",
        page.text("#event-log")
    );

    page.click("#lang").await;
    assert_eq!(page.text("#figure-why"), "按图 6.3 绘制,因为 select(2) 被调用了 14 次");

    // Fig. 6.6 offers it beside the built-in models.
    page.dispatch.emit(Action::SetView(kettle_shared::View::Compare));
    yew::scheduler::flush().await;
    assert!(page.query("input.compare-pick[value=\"traced\"]").is_some());
    assert!(page.query("input.compare-pick[value=\"blocking\"]").is_some());
}

#[wasm_bindgen_test]
async fn a_busy_traced_program_read_from_the_kernel_says_so_under_its_figure_until_it_calms() {
    let page = Page::mount().await;
    let multiplex = Some(kettle_shared::Family::Multiplex);
    show_traced(&page, vec![model(ModelState::Running), traced(ModelState::Running, multiplex)])
        .await;
    page.feed(ServerMsg::Batch { events: line_through_a_traced_select_server(), dropped: 0 }).await;
    yew::scheduler::flush().await;
    assert!(page.query("#figure-passive").is_none(), "stopped at each call: nothing to say");

    let busy = ModelInfo { passive: true, ..traced(ModelState::Running, multiplex) };
    page.feed(ServerMsg::Model { model: busy }).await;
    let note = page.text("#figure-passive[role=\"status\"]");
    assert!(
        note.starts_with("Busy: Kettle now reads this program's calls from the kernel"),
        "{note}"
    );
    assert!(note.contains("waits are counted, not drawn"), "{note}");
    page.click("#lang").await;
    assert!(page.text("#figure-passive").starts_with("繁忙"), "{}", page.text("#figure-passive"));

    page.feed(ServerMsg::Model { model: traced(ModelState::Running, multiplex) }).await;
    assert!(page.query("#figure-passive").is_none(), "calm again");
}

#[wasm_bindgen_test]
async fn a_traced_program_not_recognised_yet_says_so_instead_of_a_figure() {
    let page = Page::mount().await;
    show_traced(&page, vec![model(ModelState::Stopped), traced(ModelState::Running, None)]).await;
    let accept = ev(1, 0, "traced", EventKind::AcceptEnter);
    page.feed(ServerMsg::Batch { events: vec![accept], dropped: 0 }).await;
    page.dispatch.emit(Action::TogglePause);
    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;

    assert!(page.query("#figure").is_none(), "no figure is guessed");
    let why = page.query("#figure-why[data-recognised=\"false\"]").expect("the honest sentence");
    let text = why.text_content().unwrap_or_default();
    assert!(
        text.starts_with("Watching the program's calls (steps so far: 1): not recognised yet"),
        "{text}"
    );
    // First in the list, in a group of its own.
    let first = page.query("#model-list > li.model-group").unwrap();
    assert_eq!(first.get_attribute("data-figure").as_deref(), Some("unrecognised"));
    assert!(first.query_selector("li[data-model=\"traced\"]").unwrap().is_some());
    assert!(page.text("#narration").contains("calls accept"), "{}", page.text("#narration"));

    // Recognised: the same page draws the figure.
    let multiplex = Some(kettle_shared::Family::Multiplex);
    page.feed(ServerMsg::Model { model: traced(ModelState::Running, multiplex) }).await;
    assert!(page.query("svg#figure[data-model=\"traced\"][data-figure=\"6.3\"]").is_some());
    assert!(page.query("#figure-why[data-recognised=\"true\"]").is_some());
}

#[wasm_bindgen_test]
async fn a_traced_program_that_exited_says_how_and_restarts_with_a_start() {
    let page = Page::mount().await;
    let exited = ModelInfo {
        reason: Some(kettle_shared::Reason::ProgramExited {
            exit: kettle_shared::ChildExit::Exited { code: 1 },
        }),
        ..traced(ModelState::Stopped, Some(kettle_shared::Family::Blocking))
    };
    show_traced(&page, vec![exited]).await;
    let item = "#model-list li[data-model=\"traced\"]";
    assert_eq!(page.text(&format!("{item} .state")), "exited (code 1)");
    assert_eq!(page.text(&format!("{item} .reason")), "the traced program ended: exit status 1");
    let restart = page.query(&format!("{item} button.start.restart")).expect("a restart button");
    assert_eq!(restart.get_attribute("aria-label").as_deref(), Some("Restart traced"));
    page.click(&format!("{item} button.start")).await;
    assert_eq!(page.sent.borrow().as_slice(), &[Command::Start { model: "traced".into() }]);
}

#[wasm_bindgen_test]
async fn a_traced_program_on_two_ports_lets_the_echo_client_pick_one() {
    let page = Page::mount().await;
    let two = ModelInfo {
        port: Some(9100),
        ports: vec![9100, 9101],
        ..traced(ModelState::Running, Some(kettle_shared::Family::Multiplex))
    };
    show_traced(&page, vec![two]).await;
    let options: Vec<String> =
        (1..=2).map(|i| page.text(&format!("#echo-port option:nth-child({i})"))).collect();
    assert_eq!(options, ["port 9100", "port 9101"]);
    let port = page.query("#echo-port").expect("a port picker").dyn_into::<HtmlSelectElement>();
    port.unwrap().set_value("9101");
    page.click("#echo-open").await;
    let sent = page.sent.borrow().clone();
    assert_eq!(sent, [Command::EchoOpen { model: "traced".into(), port: Some(9101) }]);
}

#[wasm_bindgen_test]
async fn a_traced_program_that_changed_style_is_drawn_at_each_step_as_the_figure_of_its_time() {
    use kettle_shared::{Family, WaitApi};
    let page = Page::mount().await;
    // The backend's list says what it does now: select.
    show_traced(&page, vec![traced(ModelState::Running, Some(Family::Multiplex))]).await;
    let recognised = |family, call: &str, count| EventKind::Recognised {
        family,
        call: call.into(),
        count,
        threads: 1,
    };
    let events = vec![
        ev(1, 0, "traced", recognised(Family::Blocking, "accept", 1)),
        ev(2, 10, "traced", EventKind::AcceptEnter),
        ev(3, 20, "traced", recognised(Family::Multiplex, "select", 2)),
        ev(4, 30, "traced", EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3] }),
    ];
    page.feed(ServerMsg::Batch { events, dropped: 0 }).await;
    page.dispatch.emit(Action::TogglePause);
    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;
    assert!(page
        .query("svg#figure[data-model=\"traced\"][data-figure=\"6.3\"] [data-fdset]")
        .is_some());
    assert_eq!(page.text("#figure-why"), "Drawn as Fig. 6.3 because select(2) was called 2 times");

    // Back past the switch: the blocking steps are drawn as what they were then.
    page.dispatch.emit(Action::StepBack);
    page.dispatch.emit(Action::StepBack);
    yew::scheduler::flush().await;
    let figure = "svg#figure[data-model=\"traced\"][data-figure=\"6.1\"]";
    assert!(page.query(figure).is_some(), "drawn as Fig. 6.1 at its blocking steps");
    assert!(page.query(&format!("{figure} [data-backlog]")).is_some());
    assert_eq!(
        page.text("#figure-why"),
        "Drawn as Fig. 6.1 because accept(2) blocked once on 1 thread"
    );
    assert!(page.text("#figure-title").starts_with("Stevens Fig. 6.1 — blocking I/O"));
    // The list still groups it by what it does now.
    let item = "#model-list li.model-group[data-figure=\"6.3\"] li[data-model=\"traced\"]";
    assert!(page.query(item).is_some());

    page.dispatch.emit(Action::Live);
    yew::scheduler::flush().await;
    assert!(page.query("svg#figure[data-figure=\"6.3\"]").is_some(), "live: what it does now");
}

fn hello_as(role: kettle_shared::Role) -> ServerMsg {
    ServerMsg::Hello {
        protocol_version: PROTOCOL_VERSION,
        models: vec![model(ModelState::Running)],
        clock: Clock { start_unix_ms: 0, now_ns: 0 },
        role,
        classroom: true,
    }
}

fn ballot(
    voters: u32,
    counts: Option<Vec<u32>>,
    verdict: Option<kettle_shared::Verdict>,
) -> ServerMsg {
    let question = "blocking-wait".into();
    ServerMsg::Ballot { ballot: Some(kettle_shared::Ballot { question, voters, counts, verdict }) }
}

fn in_recv() -> kettle_shared::Verdict {
    let evidence = kettle_shared::Evidence::InRecv { wait_ns: Some(342_000_000) };
    kettle_shared::Verdict { choice: Some(0), evidence }
}

#[wasm_bindgen_test]
async fn a_students_page_shows_the_teachers_question_votes_and_marks_the_reveal() {
    let page = Page::mount().await;
    page.feed(hello_as(kettle_shared::Role::Student)).await;
    page.feed(ballot(0, None, None)).await;
    let asked = page.query("#question[data-state='asking'][data-question='blocking-wait']");
    assert!(asked.is_some(), "the teacher's question on the student's page");
    assert!(page.query("#reveal").is_none() && page.query("#votes").is_none());
    page.click("#question button[data-choice='1']").await;
    let vote = Command::Vote { question: "blocking-wait".into(), choice: 1 };
    assert_eq!(page.sent.borrow().last(), Some(&vote));
    let result = ReplyResult::Voted { question: "blocking-wait".into(), choice: 1 };
    page.feed(ServerMsg::Reply { id: 1, result }).await;
    assert!(page.query("#question button[data-choice='1'][data-mine]").is_some());
    page.feed(ballot(3, Some(vec![1, 2, 0, 0]), Some(in_recv()))).await;
    assert!(page.query("#question[data-state='revealed']").is_some());
    assert!(page.query("#question button[data-choice='0'][data-correct]").is_some());
    assert!(page
        .query("#question button[data-choice='1'][data-mine]:not([data-correct])")
        .is_some());
    assert!(page.text("#question .question-evidence").contains("342 ms in recv"));
}

#[wasm_bindgen_test]
async fn the_teachers_page_asks_counts_the_votes_and_shows_the_bars_when_chosen() {
    let page = Page::mount().await;
    page.feed(hello_as(kettle_shared::Role::Teacher)).await;
    page.dispatch.emit(Action::TourGo(0));
    yew::scheduler::flush().await;
    wait_ms(50).await;
    let ask = Command::Ask { question: Some("blocking-wait".into()) };
    assert!(page.sent.borrow().contains(&ask), "{:?}", page.sent.borrow());
    assert!(page.query("#question[data-stop='1'][data-state='asking'] #reveal").is_some());
    page.feed(ballot(3, Some(vec![1, 2, 0, 0]), None)).await;
    assert!(page.query("#votes[data-count='3']").is_some());
    assert!(page.query(".vote-bar").is_none(), "the bars wait for the teacher");
    page.click("#votes-toggle").await;
    assert!(page.query(".vote-bar[data-choice='1'][data-count='2']").is_some());
    assert!(page.query(".vote-bar[data-choice='0'][data-count='1']").is_some());
}
