//! `#keep-menu`: keeping a lesson. Record (more history per model), save the kept events as a
//! recording, open one (a file, or `?recording=` at start — see [`open_recording_at_start`]),
//! export them for Perfetto, save the figure as SVG or PNG, and copy a link to the step on
//! screen. The decisions are in [`crate::keep`] and the shared crate's `recording` and
//! `chrome_trace`; here is only where they meet the browser: files, downloads, pictures and
//! the clipboard.

use std::rc::Rc;

use kettle_shared::recording::{self, CodeExcerpt};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::errors::RecordingProblem;
use crate::i18n::{t, tf, Key};
use crate::keep::{self, Scope, Source};
use crate::state::Action;
use crate::store::{MAX_MODEL_EVENTS, RECORDING_MODEL_EVENTS};
use crate::view::View;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct KeepMenuProps {
    /// The page state.
    pub state: StateHandle,
}

/// `details#keep-menu` (its `summary` opens it) holding, live, `button#record[aria-pressed]`
/// and `#record-bound` (how much history recording keeps); `select#save-scope`
/// (`shown`/`every`), `button#save-recording`, `input#open-recording[type=file]`,
/// `button#export-trace`, `button#save-figure`, `button#save-figure-png`, `button#copy-link`
/// and `output#copied-link` (the link last copied, also for copying by hand).
#[component]
pub fn KeepMenu(props: &KeepMenuProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let scope_ref = use_node_ref();
    let copied = use_state(String::new);
    let replaying = state.replaying();
    let scope = {
        let scope_ref = scope_ref.clone();
        move || {
            scope_ref
                .cast::<HtmlSelectElement>()
                .and_then(|s| Scope::from_id(&s.value()))
                .unwrap_or_default()
        }
    };
    let record = ctx.dispatch.reform(|_: MouseEvent| Action::KeepToggle);
    let save = {
        let (state, dispatch, scope) = (state.clone(), ctx.dispatch.clone(), scope.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(rec) = keep::recording_of(&state, scope(), js_sys::Date::now() as u64) else {
                dispatch.emit(Action::RecordingRefused(RecordingProblem::NothingToSave));
                return;
            };
            let live = !state.replaying();
            wasm_bindgen_futures::spawn_local(async move {
                let mut rec = rec;
                if live && rec.header.code.is_empty() {
                    // The code panel's lines, so the recording needs no server; without them
                    // the replay's code panel says it cannot fetch them.
                    rec.header.code = fetch_code().await.unwrap_or_default();
                }
                let name = keep::recording_file_name(&rec.header);
                download(&recording::encode(&rec), "application/gzip", &name);
            });
        })
    };
    let open = {
        let dispatch = ctx.dispatch.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else { return };
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value("");
            let dispatch = dispatch.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match JsFuture::from(file.array_buffer()).await {
                    Ok(buffer) => {
                        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                        dispatch.emit(opened(&bytes, None, None));
                    }
                    Err(_) => dispatch.emit(Action::RecordingRefused(RecordingProblem::FileUnread)),
                }
            });
        })
    };
    let export = {
        let (state, dispatch, scope) = (state.clone(), ctx.dispatch.clone(), scope.clone());
        Callback::from(move |_: MouseEvent| {
            match keep::recording_of(&state, scope(), js_sys::Date::now() as u64) {
                Some(rec) => {
                    let trace = kettle_shared::chrome_trace::export(&rec);
                    let name = keep::recording_file_name(&rec.header)
                        .replace(recording::RECORDING_EXTENSION, ".trace.json");
                    download(trace.as_bytes(), "application/json", &name);
                }
                None => dispatch.emit(Action::RecordingRefused(RecordingProblem::NothingToSave)),
            }
        })
    };
    let figure_name = {
        let state = state.clone();
        move |ext: &str| {
            let what = if state.view == View::Compare {
                "compare".to_owned()
            } else {
                state.selected.clone().unwrap_or_else(|| "figure".into())
            };
            let step = state.shown_seq().map(|s| format!("-step-{s}")).unwrap_or_default();
            format!("kettle-{what}{step}.{ext}")
        }
    };
    let shown_svg = {
        let state = state.clone();
        move || figure_element(state.view == View::Compare)
    };
    let save_svg = {
        let (shown_svg, figure_name) = (shown_svg.clone(), figure_name.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(svg) = shown_svg().and_then(|(e, title)| standalone_svg(&e, title.as_ref()))
            {
                download(svg.text.as_bytes(), "image/svg+xml", &figure_name("svg"));
            }
        })
    };
    let save_png = Callback::from(move |_: MouseEvent| {
        if let Some(svg) = shown_svg().and_then(|(e, title)| standalone_svg(&e, title.as_ref())) {
            save_png_at_2x(svg, figure_name("png"));
        }
    });
    let copy = {
        let (state, dispatch, copied) = (state.clone(), ctx.dispatch.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            if let Source::Recording(replay) = &state.source {
                if replay.url.is_none() {
                    dispatch.emit(Action::RecordingRefused(RecordingProblem::NoAddress));
                    return;
                }
            }
            let Some(link) = page_address(&state.link().to_query()) else { return };
            if let Some(window) = web_sys::window() {
                // Refused without a secure context or permission: the link is shown anyway.
                let _ = window.navigator().clipboard().write_text(&link);
            }
            copied.set(link);
        })
    };
    let bound = tf(lang, Key::RecordBound, &[&RECORDING_MODEL_EVENTS, &MAX_MODEL_EVENTS]);
    html! {
        <details id="keep-menu" class="keep-menu" data-keeping={state.keeping.to_string()}>
            <summary title={t(lang, Key::KeepMenuHelp)}>{ t(lang, Key::KeepMenu) }<span aria-hidden="true">{ " ▾" }</span></summary>
            <div class="keep-panel">
                if !replaying {
                    <button id="record" onclick={record} aria-pressed={state.keeping.to_string()}>
                        { t(lang, if state.keeping { Key::RecordStop } else { Key::RecordStart }) }
                    </button>
                    <p id="record-bound" class="hint">{ bound }</p>
                }
                <label for="save-scope">{ t(lang, Key::SaveScope) }</label>
                <select id="save-scope" ref={scope_ref}>
                    <option value={Scope::Shown.id()}>{ t(lang, Key::SaveScopeShown) }</option>
                    <option value={Scope::Every.id()}>{ t(lang, Key::SaveScopeEvery) }</option>
                </select>
                <button id="save-recording" onclick={save}>{ t(lang, Key::SaveRecording) }</button>
                <label for="open-recording">{ t(lang, Key::OpenRecording) }</label>
                <input id="open-recording" type="file" accept=".gz,application/gzip" onchange={open} />
                <button id="export-trace" onclick={export}>{ t(lang, Key::ExportTrace) }</button>
                <button id="save-figure" onclick={save_svg}>{ t(lang, Key::SaveFigure) }</button>
                <button id="save-figure-png" onclick={save_png}>{ t(lang, Key::SaveFigurePng) }</button>
                <button id="copy-link" onclick={copy}>{ t(lang, Key::CopyLink) }</button>
                <output id="copied-link" class="hint">
                    if !copied.is_empty() { { tf(lang, Key::LinkCopied, &[&*copied]) } }
                </output>
            </div>
        </details>
    }
}

/// What reading a recording's bytes gives the reducer: the replay, or why not.
fn opened(bytes: &[u8], url: Option<String>, at: Option<u64>) -> Action {
    match recording::decode(bytes) {
        Ok(rec) => {
            crate::code::go_offline();
            crate::code::seed_excerpts(&rec.header.code);
            Action::Replay { recording: Rc::new(rec), url, at }
        }
        Err(e) => Action::RecordingRefused(RecordingProblem::Unreadable(e)),
    }
}

/// `?recording=URL` at start: fetches it (this origin only) and replays it at `?at=`. Returns
/// whether the page replays (and so opens no WebSocket).
pub fn open_recording_at_start(link: &crate::link::Link, dispatch: Callback<Action>) -> bool {
    let Some(value) = link.recording.clone() else { return false };
    crate::code::go_offline();
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    let url = match keep::recording_url(&value, &origin) {
        Ok(url) => url,
        Err(_) => {
            dispatch.emit(Action::RecordingRefused(RecordingProblem::OtherOrigin { url: value }));
            return true;
        }
    };
    let at = link.at;
    wasm_bindgen_futures::spawn_local(async move {
        let action = match fetch_bytes(&url).await {
            Ok(bytes) => opened(&bytes, Some(value), at),
            Err(status) => Action::RecordingRefused(RecordingProblem::Fetch { url: value, status }),
        };
        dispatch.emit(action);
    });
    true
}

/// The body of `GET url`, or its HTTP status (0 when nothing answered).
async fn fetch_bytes(url: &str) -> Result<Vec<u8>, u16> {
    let window = web_sys::window().ok_or(0u16)?;
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str(url)).await.map_err(|_| 0u16)?.unchecked_into();
    if !response.ok() {
        return Err(response.status());
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|_| 0u16)?)
        .await
        .map_err(|_| response.status())?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Every marked region of the model files, from the page's server (`GET /api/excerpts`).
async fn fetch_code() -> Option<Vec<CodeExcerpt>> {
    let bytes = fetch_bytes("/api/excerpts").await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `GET /api/host` from the page's server, for a saved recording's header.
pub async fn fetch_host() -> Option<recording::HostInfo> {
    let bytes = fetch_bytes("/api/host").await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// This page's address with `query` in place of its own.
fn page_address(query: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    Some(format!("{}{}{query}", location.origin().ok()?, location.pathname().ok()?))
}

/// Downloads `bytes` as a file: a Blob, an object URL, a click on a temporary link.
fn download(bytes: &[u8], mime: &str, name: &str) {
    let Some(blob) = blob_of(bytes, mime) else { return };
    download_blob(&blob, name);
}

fn blob_of(bytes: &[u8], mime: &str) -> Option<web_sys::Blob> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()
}

fn download_blob(blob: &web_sys::Blob, name: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(blob) else { return };
    if let Ok(a) = document.create_element("a") {
        if let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>() {
            a.set_href(&url);
            a.set_download(name);
            a.click();
        }
    }
    // Freed once the browser has surely taken the file (revoking at once may cancel it).
    gloo::timers::callback::Timeout::new(30_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}

/// The figure on screen and its title: `svg#compare` in the comparison (under the panel's
/// heading), else `svg#figure` (titled by `#figure-title`).
fn figure_element(compare: bool) -> Option<(web_sys::Element, Option<web_sys::Element>)> {
    let document = web_sys::window()?.document()?;
    if compare {
        let title = document.query_selector("#compare-panel h2").ok().flatten();
        Some((document.get_element_by_id("compare")?, title))
    } else {
        Some((document.get_element_by_id("figure")?, document.get_element_by_id("figure-title")))
    }
}

/// A figure as a file of its own: the SVG, every element's look inlined from the style sheet
/// (so it looks the same with no CSS, in the theme shown), fonts named by generic family, the
/// page's background behind it, its title over it, and its size in pixels.
#[derive(Debug, Clone)]
struct Standalone {
    text: String,
    width: f64,
    height: f64,
}

/// The presentation properties copied from the computed style onto each element.
const STYLE_PROPS: &[&str] = &[
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "opacity",
    "font-size",
    "font-weight",
    "font-style",
    "font-family",
    "text-anchor",
    "dominant-baseline",
    "visibility",
    "display",
];

fn standalone_svg(svg: &web_sys::Element, title: Option<&web_sys::Element>) -> Option<Standalone> {
    let window = web_sys::window()?;
    let clone: web_sys::Element = svg.clone_node_with_deep(true).ok()?.dyn_into().ok()?;
    let originals = svg.query_selector_all("*").ok()?;
    let copies = clone.query_selector_all("*").ok()?;
    let inline = |from: &web_sys::Element, to: &web_sys::Element| {
        let Ok(Some(style)) = window.get_computed_style(from) else { return };
        let mut inline = String::new();
        for prop in STYLE_PROPS {
            let Ok(value) = style.get_property_value(prop) else { continue };
            if value.is_empty() {
                continue;
            }
            let value = if *prop == "font-family" {
                keep::generic_family(&value).to_owned()
            } else {
                value
            };
            inline.push_str(&format!("{prop}:{value};"));
        }
        let _ = to.set_attribute("style", &inline);
    };
    inline(svg, &clone);
    for i in 0..originals.length().min(copies.length()) {
        let (Some(from), Some(to)) = (originals.get(i), copies.get(i)) else { continue };
        let (Ok(from), Ok(to)) =
            (from.dyn_into::<web_sys::Element>(), to.dyn_into::<web_sys::Element>())
        else {
            continue;
        };
        inline(&from, &to);
    }
    let rect = svg.get_bounding_client_rect();
    let (width, height) = (rect.width().round().max(1.0), rect.height().round().max(1.0));
    let _ = clone.remove_attribute("id");
    let _ = clone.set_attribute("x", "0");
    let _ = clone.set_attribute("y", &TITLE_H.to_string());
    let _ = clone.set_attribute("width", &width.to_string());
    let _ = clone.set_attribute("height", &height.to_string());
    // The figure's title is a heading beside the SVG on the page: the file carries it, as its
    // <title> and as a line of text over the figure.
    let (title, title_colour) = match title {
        Some(h) => {
            let colour = window
                .get_computed_style(h)
                .ok()
                .flatten()
                .and_then(|s| s.get_property_value("color").ok())
                .unwrap_or_else(|| "black".into());
            (h.text_content().unwrap_or_default().trim().to_owned(), colour)
        }
        None => (String::new(), "black".into()),
    };
    let document = window.document()?;
    let make = |name: &str, attrs: &[(&str, &str)]| -> Option<web_sys::Element> {
        let el = document.create_element_ns(Some(SVG_NS), name).ok()?;
        for (k, v) in attrs {
            let _ = el.set_attribute(k, v);
        }
        Some(el)
    };
    let (w, h) = (width.to_string(), (height + TITLE_H).to_string());
    let outer = make(
        "svg",
        &[("xmlns", SVG_NS), ("width", &w), ("height", &h), ("viewBox", &format!("0 0 {w} {h}"))],
    )?;
    // The page's background, so text stays readable on any viewer's.
    let background = background_of(&window, svg);
    let back = make("rect", &[("width", &w), ("height", &h), ("fill", &background)])?;
    outer.append_child(&back).ok()?;
    let title_el = make("title", &[])?;
    title_el.set_text_content(Some(&title));
    outer.append_child(&title_el).ok()?;
    let style =
        format!("font-family:sans-serif;font-size:20px;font-weight:700;fill:{title_colour};");
    let heading = make("text", &[("x", "12"), ("y", "27"), ("style", &style)])?;
    heading.set_text_content(Some(&title));
    outer.append_child(&heading).ok()?;
    outer.append_child(&clone).ok()?;
    let text = web_sys::XmlSerializer::new().ok()?.serialize_to_string(&outer).ok()?;
    Some(Standalone {
        text: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{text}\n"),
        width,
        height: height + TITLE_H,
    })
}

/// The SVG namespace.
const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// Room for the title line over a saved figure, in px.
const TITLE_H: f64 = 40.0;

/// The first background colour that is not transparent, from `el` up.
fn background_of(window: &web_sys::Window, el: &web_sys::Element) -> String {
    let mut at = Some(el.clone());
    while let Some(el) = at {
        if let Ok(Some(style)) = window.get_computed_style(&el) {
            let colour = style.get_property_value("background-color").unwrap_or_default();
            if !colour.is_empty() && colour != "transparent" && colour != "rgba(0, 0, 0, 0)" {
                return colour;
            }
        }
        at = el.parent_element();
    }
    "white".into()
}

/// Draws the standalone SVG on a canvas at twice its size and downloads it as PNG.
fn save_png_at_2x(svg: Standalone, name: String) {
    let Some(blob) = blob_of(svg.text.as_bytes(), "image/svg+xml") else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let Ok(image) = web_sys::HtmlImageElement::new() else { return };
    let loaded = {
        let (image, url) = (image.clone(), url.clone());
        wasm_bindgen::closure::Closure::once(move || {
            let _ = draw_png(&image, svg.width, svg.height, name);
            let _ = web_sys::Url::revoke_object_url(&url);
        })
    };
    image.set_onload(Some(loaded.as_ref().unchecked_ref()));
    loaded.forget();
    image.set_src(&url);
}

fn draw_png(
    image: &web_sys::HtmlImageElement,
    width: f64,
    height: f64,
    name: String,
) -> Option<()> {
    let document = web_sys::window()?.document()?;
    let canvas: web_sys::HtmlCanvasElement =
        document.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width((width * 2.0) as u32);
    canvas.set_height((height * 2.0) as u32);
    let context: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d").ok()??.dyn_into().ok()?;
    context.scale(2.0, 2.0).ok()?;
    context
        .draw_image_with_html_image_element_and_dw_and_dh(image, 0.0, 0.0, width, height)
        .ok()?;
    let done = wasm_bindgen::closure::Closure::once(move |blob: JsValue| {
        if let Ok(blob) = blob.dyn_into::<web_sys::Blob>() {
            download_blob(&blob, &name);
        }
    });
    canvas.to_blob_with_type(done.as_ref().unchecked_ref(), "image/png").ok()?;
    done.forget();
    Some(())
}
