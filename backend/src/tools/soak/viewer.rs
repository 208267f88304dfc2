//! A viewer as a browser tab is one: a real WebSocket client of `/ws` that reads the `Hello`,
//! sends commands and decodes every message the server sends.
//!
//! Delivery delay needs the server's clock: events carry `t_ns`, nanoseconds of
//! `CLOCK_MONOTONIC` since the server started, and the `Hello` says what `t_ns` it was when it
//! was written. On one machine `CLOCK_MONOTONIC` is one clock for every process, so the
//! server's start is our monotonic time at the `Hello`'s arrival minus its `now_ns` — late by
//! the `Hello`'s own trip, which is why [`Viewer::start_mono_ns`] is taken from viewers that
//! connect before any load, and the smallest of them wins.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use kettle_shared::{ClientMsg, Clock, Command, ModelInfo, ServerMsg};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The WebSocket of one viewer.
pub type Ws = WebSocketStream<TcpStream>;

/// `CLOCK_MONOTONIC` now, in ns (the clock the server's `t_ns` counts from its start).
pub fn mono_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC exists");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// One connected viewer.
#[derive(Debug)]
pub struct Viewer {
    /// Its socket.
    pub ws: Ws,
    /// The models as the `Hello` listed them.
    pub models: Vec<ModelInfo>,
    /// The server's start on our `CLOCK_MONOTONIC`, in ns (see the module's docs).
    pub start_mono_ns: u64,
    /// The server's clock as the `Hello` gave it (its wall-clock start, for a recording).
    pub clock: Clock,
    next_id: u64,
}

/// What a read gave: a message, the server's close (code), or nothing in time.
#[derive(Debug)]
pub enum Read {
    /// A message, and our monotonic time when it was decoded.
    Msg(Box<ServerMsg>, u64),
    /// The server closed, with this code if it sent one.
    Closed(Option<u16>),
    /// Nothing within the timeout.
    Quiet,
}

impl Viewer {
    /// Connects to `/ws` of the server at `addr` over `stream` (already connected, so a caller
    /// can shape the socket first) and reads the `Hello`.
    pub async fn over(addr: SocketAddr, stream: TcpStream) -> anyhow::Result<Viewer> {
        let url = format!("ws://{addr}/ws");
        let (mut ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::client_async(url, stream),
        )
        .await
        .context("WebSocket handshake timed out")??;
        let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .context("no Hello")?
            .context("closed before the Hello")??;
        let arrived = mono_ns();
        let Message::Text(text) = first else { bail!("first message not text") };
        match serde_json::from_str::<ServerMsg>(text.as_str())? {
            ServerMsg::Hello { models, clock, .. } => Ok(Viewer {
                ws,
                models,
                start_mono_ns: arrived.saturating_sub(clock.now_ns),
                clock,
                next_id: 1,
            }),
            other => bail!("first message was not a Hello: {other:?}"),
        }
    }

    /// Connects to `/ws` of the server at `addr`.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Viewer> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Viewer::over(addr, stream).await
    }

    /// Sends one command; returns its id.
    pub async fn command(&mut self, command: Command) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let text = serde_json::to_string(&ClientMsg { id, command })?;
        self.ws.send(Message::Text(text.into())).await?;
        Ok(id)
    }

    /// The next message, waiting at most `timeout`.
    pub async fn read(&mut self, timeout: Duration) -> anyhow::Result<Read> {
        loop {
            let next = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return Ok(Read::Quiet),
                Ok(next) => next,
            };
            match next {
                None => return Ok(Read::Closed(None)),
                Some(Err(e)) => bail!("viewer read: {e}"),
                Some(Ok(Message::Text(text))) => {
                    let at = mono_ns();
                    return Ok(Read::Msg(Box::new(serde_json::from_str(text.as_str())?), at));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(Read::Closed(frame.map(|f: CloseFrame| u16::from(f.code))))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next text message undecoded (a caller that needs only a few fields decodes them
    /// itself, cheaply), with our monotonic time at its arrival; `Err(code)` once closed,
    /// `Ok(None)` when nothing came within `timeout`.
    pub async fn read_text(
        &mut self,
        timeout: Duration,
    ) -> anyhow::Result<Result<Option<(String, u64)>, Option<u16>>> {
        loop {
            let next = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return Ok(Ok(None)),
                Ok(next) => next,
            };
            match next {
                None => return Ok(Err(None)),
                Some(Err(e)) => bail!("viewer read: {e}"),
                Some(Ok(Message::Text(text))) => {
                    return Ok(Ok(Some((text.as_str().to_owned(), mono_ns()))))
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(Err(frame.map(|f: CloseFrame| u16::from(f.code))))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a command and waits for its reply or error (other messages are skipped).
    pub async fn ask(&mut self, command: Command) -> anyhow::Result<ServerMsg> {
        let id = self.command(command).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read(left).await? {
                Read::Msg(msg, _) => match *msg {
                    ServerMsg::Reply { id: got, .. } if got == id => return Ok(*msg),
                    ServerMsg::Error { id: Some(got), .. } if got == id => return Ok(*msg),
                    _ => {}
                },
                Read::Closed(code) => bail!("closed ({code:?}) while waiting for reply {id}"),
                Read::Quiet => bail!("no reply to command {id} in 30 s"),
            }
        }
    }
}
