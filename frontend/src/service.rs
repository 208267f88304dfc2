//! The WebSocket service: one connection to `ws://{page host}/ws`, reconnected with backoff,
//! turning every frame into an [`Action`] and every command into a numbered [`ClientMsg`].
//!
//! `web_sys::WebSocket` is used directly (no extra crate). The browser callbacks hold only a
//! `Weak` reference to the connection, so dropping the [`Connection`] (the app unmounting)
//! closes the socket and cancels a pending retry instead of leaking a reconnect loop.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use kettle_shared::{ClientMsg, Command};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

use crate::decode::decode;
use crate::state::{Action, ConnStatus, Garble};

/// The first retry waits this long; each further one twice as long, up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u32 = 500;
/// The longest wait between two attempts.
pub const MAX_BACKOFF_MS: u32 = 10_000;

/// How long to wait before attempt number `attempt` (1-based).
pub fn backoff_ms(attempt: u32) -> u32 {
    FIRST_BACKOFF_MS.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(MAX_BACKOFF_MS)
}

/// The WebSocket URL for a page served from `protocol//host`.
pub fn ws_url(page_protocol: &str, host: &str) -> String {
    let scheme = if page_protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/ws")
}

/// The URL for the page this code runs in.
pub fn page_ws_url() -> Option<String> {
    let location = web_sys::window()?.location();
    Some(ws_url(&location.protocol().ok()?, &location.host().ok()?))
}

/// What components use to send commands. Cheap to clone; equal when it is the same sender.
#[derive(Clone)]
pub struct Sender(Rc<dyn Fn(Command)>);

impl Sender {
    /// A sender that hands commands to `f` (tests use this to record them).
    pub fn new(f: impl Fn(Command) + 'static) -> Self {
        Sender(Rc::new(f))
    }

    /// Sends a command.
    pub fn send(&self, command: Command) {
        (self.0)(command)
    }
}

impl PartialEq for Sender {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender")
    }
}

/// An open (or reopening) connection to the backend. Dropping it closes the socket.
pub struct Connection {
    inner: Rc<Inner>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").field("url", &self.inner.url).finish()
    }
}

struct Socket {
    ws: WebSocket,
    // Kept alive as long as the socket may call them.
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

struct Inner {
    url: String,
    on_action: Callback<Action>,
    socket: RefCell<Option<Socket>>,
    retry: RefCell<Option<Timeout>>,
    attempt: Cell<u32>,
    next_id: Cell<u64>,
    shut_down: Cell<bool>,
}

impl Connection {
    /// Connects to `url` and keeps reconnecting until dropped.
    pub fn open(url: String, on_action: Callback<Action>) -> Connection {
        let inner = Rc::new(Inner {
            url,
            on_action,
            socket: RefCell::new(None),
            retry: RefCell::new(None),
            attempt: Cell::new(0),
            next_id: Cell::new(1),
            shut_down: Cell::new(false),
        });
        inner.on_action.emit(Action::Connection(ConnStatus::Connecting));
        Inner::connect(&inner);
        Connection { inner }
    }

    /// A sender for components. It does nothing once the connection is dropped.
    pub fn sender(&self) -> Sender {
        let weak = Rc::downgrade(&self.inner);
        Sender::new(move |command| {
            if let Some(inner) = weak.upgrade() {
                inner.send(command);
            }
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.inner.shut_down.set(true);
        self.inner.retry.borrow_mut().take();
        if let Some(socket) = self.inner.socket.borrow_mut().take() {
            socket.ws.set_onopen(None);
            socket.ws.set_onmessage(None);
            socket.ws.set_onclose(None);
            let _ = socket.ws.close();
        }
    }
}

impl Inner {
    fn connect(this: &Rc<Inner>) {
        if this.shut_down.get() {
            return;
        }
        let ws = match WebSocket::new(&this.url) {
            Ok(ws) => ws,
            Err(_) => {
                // Only a malformed URL fails here (so the URL says what is wrong); retrying
                // would fail the same way.
                this.on_action.emit(Action::Garbled(Garble::CannotOpen { url: this.url.clone() }));
                return;
            }
        };
        let weak = Rc::downgrade(this);
        let on_open = Closure::<dyn FnMut()>::new({
            let weak = weak.clone();
            move || {
                if let Some(inner) = weak.upgrade() {
                    inner.attempt.set(0);
                    inner.on_action.emit(Action::Connection(ConnStatus::Connected));
                }
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |e: MessageEvent| {
                let Some(inner) = weak.upgrade() else { return };
                let Some(text) = e.data().as_string() else {
                    inner.on_action.emit(Action::Garbled(Garble::Binary));
                    return;
                };
                match decode(&text) {
                    Ok(decoded) => {
                        if decoded.unreadable_events > 0 {
                            inner.on_action.emit(Action::Unreadable(decoded.unreadable_events));
                        }
                        inner.on_action.emit(Action::Server(decoded.msg));
                    }
                    Err(detail) => {
                        inner.on_action.emit(Action::Garbled(Garble::Unreadable { detail }))
                    }
                }
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
            if let Some(inner) = weak.upgrade() {
                Inner::schedule_retry(&inner);
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // Replacing the old socket drops its callbacks; we are in the retry timer here, never
        // inside one of those callbacks.
        *this.socket.borrow_mut() =
            Some(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close });
    }

    fn schedule_retry(this: &Rc<Inner>) {
        if this.shut_down.get() {
            return;
        }
        let attempt = this.attempt.get() + 1;
        this.attempt.set(attempt);
        let delay_ms = backoff_ms(attempt);
        this.on_action.emit(Action::Connection(ConnStatus::Reconnecting { attempt, delay_ms }));
        let weak: Weak<Inner> = Rc::downgrade(this);
        *this.retry.borrow_mut() = Some(Timeout::new(delay_ms, move || {
            if let Some(inner) = weak.upgrade() {
                Inner::connect(&inner);
            }
        }));
    }

    fn send(&self, command: Command) {
        let socket = self.socket.borrow();
        let Some(ws) =
            socket.as_ref().map(|s| &s.ws).filter(|ws| ws.ready_state() == WebSocket::OPEN)
        else {
            self.on_action.emit(Action::SendFailed(command));
            return;
        };
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let msg = ClientMsg { id, command };
        let json = serde_json::to_string(&msg).expect("commands always serialize");
        // Recorded before sending so the reply can never arrive first.
        self.on_action.emit(Action::Sent { id, command: msg.command });
        if ws.send_with_str(&json).is_err() {
            self.on_action.emit(Action::Garbled(Garble::SendRefused));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_backoff_doubles_up_to_a_ceiling() {
        assert_eq!(backoff_ms(1), 500);
        assert_eq!(backoff_ms(2), 1_000);
        assert_eq!(backoff_ms(3), 2_000);
        assert_eq!(backoff_ms(6), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(1_000), MAX_BACKOFF_MS);
    }

    #[test]
    fn test_ws_url_follows_the_page() {
        assert_eq!(ws_url("http:", "127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
        assert_eq!(ws_url("https:", "kettle.example"), "wss://kettle.example/ws");
    }
}
