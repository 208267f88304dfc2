//! What one Kettle server admits at once, so a classroom of browsers — or one misbehaving tab —
//! cannot take it down.
//!
//! Each limit is a count of something the kernel or the process pays for: a viewer holds a
//! WebSocket and a queue; an echo client holds a real TCP connection (two descriptors: ours and
//! the model's); a command costs a parse and maybe a task; a start or stop holds one of tokio's
//! blocking threads while it joins a model's threads (io_uring's stop can take seconds). Every
//! refusal is a [`Reason`] the page words, and a refused command changes nothing.
//!
//! | limit | default | flag | refusal |
//! |---|---|---|---|
//! | viewers at once | 200 | `--max-viewers` | [`Reason::TooManyViewers`], then close 1013 |
//! | echo clients per viewer | 16 | | [`Reason::TooManyClients`] |
//! | echo clients, all viewers | 256 | `--max-echo-clients` | [`Reason::TooManyRelayedConnections`] |
//! | commands per second per viewer | 50, bursts of 100 | `--commands-per-second` | [`Reason::TooManyCommands`] |
//! | unanswered commands per viewer | 32 | | [`Reason::TooManyInFlight`] |
//! | starts/stops at once, server-wide | 4, wait ≤ 20 s | | [`Reason::LifecycleBusy`] (HTTP 503) |
//! | request headers (and the WebSocket handshake) | 5 s | | the connection is closed |
//!
//! The rate is a GCRA (the `governor` crate): a viewer may send `burst` commands at once, then
//! one every `1/per_second`; a viewer that keeps under the rate is never refused.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kettle_shared::{ErrorCode, Reason, MAX_ECHO_CLIENTS_PER_VIEWER};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's limits; [`Limits::default`] is what `kettle serve` uses unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// WebSocket viewers at once.
    pub max_viewers: usize,
    /// Echo clients of one viewer.
    pub echo_clients_per_viewer: usize,
    /// Echo clients of all viewers together (relayed TCP connections).
    pub echo_clients_total: usize,
    /// Commands per second one viewer may send, steadily.
    pub commands_per_second: u32,
    /// Commands one viewer may send at once after a quiet moment.
    pub command_burst: u32,
    /// Commands of one viewer carried out and not yet answered (starts, stops, echo opens and
    /// sends run beside the viewer's stream).
    pub commands_in_flight: usize,
    /// Starts and stops running at once on the whole server (each holds a blocking thread).
    pub lifecycle_at_once: usize,
    /// How long a start or stop waits for its turn before [`Reason::LifecycleBusy`].
    pub lifecycle_wait: Duration,
    /// How long a client may take to send a request's headers (the WebSocket handshake
    /// included) before its connection is closed: a slow-loris client holds one descriptor
    /// for this long, no more.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_viewers: 200,
            echo_clients_per_viewer: MAX_ECHO_CLIENTS_PER_VIEWER,
            echo_clients_total: 256,
            commands_per_second: 50,
            command_burst: 100,
            commands_in_flight: 32,
            lifecycle_at_once: 4,
            lifecycle_wait: Duration::from_secs(20),
            header_timeout: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// Limits no test that hammers the server will meet (counts and rates in the millions);
    /// the header timeout stays, as it guards the test's own descriptors.
    pub fn unmetered() -> Limits {
        let many = 1 << 20;
        Limits {
            max_viewers: many,
            echo_clients_per_viewer: MAX_ECHO_CLIENTS_PER_VIEWER,
            echo_clients_total: many,
            commands_per_second: many as u32,
            command_burst: many as u32,
            commands_in_flight: many,
            lifecycle_at_once: 64,
            lifecycle_wait: Duration::from_secs(60),
            header_timeout: Duration::from_secs(5),
        }
    }
}

/// A refusal, as a command's error carries it.
pub(crate) type Refusal = (ErrorCode, Reason);

/// The server-wide counters behind [`Limits`], shared by every viewer.
#[derive(Debug, Clone)]
pub(crate) struct Gates {
    pub(crate) limits: Arc<Limits>,
    viewers: Arc<Semaphore>,
    /// One permit per relayed echo connection, over all viewers.
    pub(crate) echo_total: Arc<Semaphore>,
    lifecycle: Arc<Semaphore>,
}

impl Gates {
    pub(crate) fn new(limits: Limits) -> Gates {
        Gates {
            viewers: Arc::new(Semaphore::new(limits.max_viewers)),
            echo_total: Arc::new(Semaphore::new(limits.echo_clients_total)),
            lifecycle: Arc::new(Semaphore::new(limits.lifecycle_at_once.max(1))),
            limits: Arc::new(limits),
        }
    }

    /// A viewer's seat, held while its WebSocket is open; `Err` when every seat is taken.
    pub(crate) fn seat(&self) -> Result<OwnedSemaphorePermit, Reason> {
        self.viewers
            .clone()
            .try_acquire_owned()
            .map_err(|_| Reason::TooManyViewers { max: self.limits.max_viewers as u32 })
    }

    /// A turn to start or stop a model: waits at most [`Limits::lifecycle_wait`].
    pub(crate) async fn lifecycle_turn(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        let wait = self.limits.lifecycle_wait;
        match tokio::time::timeout(wait, self.lifecycle.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out (the semaphore is never closed).
            _ => Err((
                ErrorCode::Limit,
                Reason::LifecycleBusy {
                    at_once: self.limits.lifecycle_at_once as u32,
                    waited_ms: wait.as_millis() as u64,
                },
            )),
        }
    }

    /// The per-viewer side: its command rate and its commands in flight.
    pub(crate) fn commands(&self) -> CommandGate {
        let per_second =
            NonZeroU32::new(self.limits.commands_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.limits.command_burst).unwrap_or(per_second);
        CommandGate {
            rate: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            per_second: per_second.get(),
            in_flight: Arc::new(Semaphore::new(self.limits.commands_in_flight)),
            max_in_flight: self.limits.commands_in_flight as u32,
        }
    }
}

/// One viewer's command budget.
#[derive(Debug)]
pub(crate) struct CommandGate {
    rate: DefaultDirectRateLimiter,
    per_second: u32,
    in_flight: Arc<Semaphore>,
    max_in_flight: u32,
}

impl CommandGate {
    /// Takes one command from the rate; `Err` when the viewer is over it.
    pub(crate) fn admit(&self) -> Result<(), Refusal> {
        self.rate.check().map_err(|_| {
            (ErrorCode::Limit, Reason::TooManyCommands { per_second: self.per_second })
        })
    }

    /// A slot for a command that runs beside the stream, held until its reply is queued.
    pub(crate) fn in_flight(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| (ErrorCode::Limit, Reason::TooManyInFlight { max: self.max_in_flight }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_admits_a_burst_then_refuses_with_the_rate() {
        let limits = Limits { commands_per_second: 5, command_burst: 10, ..Limits::default() };
        let gate = Gates::new(limits).commands();
        let admitted = (0..100).filter(|_| gate.admit().is_ok()).count();
        // The burst, plus at most the few the rate refills while the loop runs.
        assert!((10..=12).contains(&admitted), "{admitted}");
        assert_eq!(
            gate.admit(),
            Err((ErrorCode::Limit, Reason::TooManyCommands { per_second: 5 }))
        );
    }

    #[tokio::test]
    async fn a_start_or_stop_waits_for_its_turn_then_is_refused_as_busy() {
        let wait = Duration::from_millis(50);
        let gates =
            Gates::new(Limits { lifecycle_at_once: 1, lifecycle_wait: wait, ..Limits::default() });
        let turn = gates.lifecycle_turn().await.unwrap();
        let busy = Reason::LifecycleBusy { at_once: 1, waited_ms: 50 };
        assert_eq!(gates.lifecycle_turn().await.unwrap_err(), (ErrorCode::Limit, busy));
        drop(turn);
        assert!(gates.lifecycle_turn().await.is_ok());
    }

    #[test]
    fn seats_run_out_and_come_back() {
        let gates = Gates::new(Limits { max_viewers: 2, ..Limits::default() });
        let (a, _b) = (gates.seat().unwrap(), gates.seat().unwrap());
        assert_eq!(gates.seat().unwrap_err(), Reason::TooManyViewers { max: 2 });
        drop(a);
        assert!(gates.seat().is_ok());
    }
}
