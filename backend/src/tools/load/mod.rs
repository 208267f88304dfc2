//! The load generator: "and with a thousand clients?", asked of a real server.
//!
//! One student typing a line shows what each call does; a class asking what happens with a
//! thousand clients needs a thousand clients. The generator opens [`LoadSpec::conns`] TCP
//! connections to one running model and echoes lines through them — closed loop (each
//! connection sends its next line when the last echo is back: the server's own pace) or open
//! loop (`rate` lines a second whatever the server does: queues show as latency) — checking
//! every echo byte for byte ([`line`]) and timing every line ([`latency`]). [`engine`] is the
//! client side: one thread, one epoll loop.
//!
//! Where it may connect is the point of [`Target`]: only to a Kettle model's own listener on
//! 127.0.0.1, so `kettle load` and the page cannot be turned against another machine or
//! another program. A `Target` is made only from the registry, from a running Kettle's own
//! list of models, or (for `kettle bench`'s generator process) from a listener its parent
//! process holds; anything else is [`Reason::NotAModelPort`].
//!
//! Descriptors: each connection is one. Before a load the generator raises its soft
//! `RLIMIT_NOFILE` to the hard limit ([`raise_nofile_limit`]) and reports what it got;
//! connections beyond it fail with `EMFILE` and are counted, not hidden.

pub mod cli;
pub mod engine;
pub mod latency;
pub mod line;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kettle_shared::{
    ErrorCode, LoadReport, LoadSpec, ModelInfo, ModelState, Reason, MAX_LOAD_CONNS, MAX_LOAD_LINE,
    MAX_LOAD_RATE, MAX_LOAD_SECS,
};
use tokio::sync::broadcast;

use crate::proc::net::TcpTable;
use crate::proc::process::{self, Pid};
use crate::registry::Registry;

/// A command failure: the protocol's code and what exactly failed.
pub type LoadError = (ErrorCode, Reason);

/// Asks a running load to stop, saying why; the first reason given wins.
#[derive(Debug, Clone, Default)]
pub struct StopToken {
    reason: Arc<Mutex<Option<Reason>>>,
}

impl StopToken {
    /// Not stopped.
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Stops the load (it ends within about 50 ms) with this reason, unless already stopped.
    pub fn stop(&self, why: Reason) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert(why);
    }

    /// Why it was stopped, if it was.
    pub fn reason(&self) -> Option<Reason> {
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Checks the numbers of a load against the protocol's ranges.
pub fn check_spec(spec: &LoadSpec) -> Result<(), Reason> {
    let range = |field: &str, value: u32, min: u32, max: u32| {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(Reason::OutOfRange {
                field: field.to_owned(),
                value: value.into(),
                min: min.into(),
                max: max.into(),
            })
        }
    };
    range("conns", spec.conns, 1, MAX_LOAD_CONNS)?;
    range("secs", spec.secs, 1, MAX_LOAD_SECS)?;
    range("size", spec.size, 2, MAX_LOAD_LINE)?;
    if let Some(rate) = spec.rate {
        range("rate", rate, 1, MAX_LOAD_RATE)?;
    }
    Ok(())
}

/// Where a load may go: a Kettle model's listener on 127.0.0.1. Only made by the
/// constructors below, each of which checks that claim its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The model (or, in the bench, the server) it is.
    pub model: String,
    /// Its listener.
    pub addr: SocketAddr,
}

impl Target {
    /// A running model of this process's registry.
    pub fn model(registry: &Registry, id: &str) -> Result<Target, Reason> {
        registry.get(id).map_err(|_| Reason::NoSuchModel { model: id.to_owned() })?;
        let port = registry.running_port(id).ok_or(Reason::NotRunning { model: id.to_owned() })?;
        Ok(Target { model: id.to_owned(), addr: loopback(port) })
    }

    /// From the models a running Kettle listed (`GET /api/models`): the model `id`, or the
    /// model listening on `addr`, which must be `127.0.0.1:<port>` (or `localhost:<port>`) of
    /// a running model. Both given: they must agree.
    pub fn from_listing(
        models: &[ModelInfo],
        id: Option<&str>,
        addr: Option<&str>,
    ) -> Result<Target, Reason> {
        let by_id = match id {
            Some(id) => {
                let m = models
                    .iter()
                    .find(|m| m.id == id)
                    .ok_or(Reason::NoSuchModel { model: id.to_owned() })?;
                match (m.state, m.port) {
                    (ModelState::Running, Some(port)) => Some((m.id.clone(), port)),
                    _ => return Err(Reason::NotRunning { model: id.to_owned() }),
                }
            }
            None => None,
        };
        let by_addr = match addr {
            Some(text) => {
                let refused = || Reason::NotAModelPort { addr: text.to_owned() };
                let (host, port) = text.rsplit_once(':').ok_or_else(refused)?;
                let port: u16 = port.parse().map_err(|_| refused())?;
                if !matches!(host, "127.0.0.1" | "localhost") {
                    return Err(refused());
                }
                let m = models
                    .iter()
                    .find(|m| m.state == ModelState::Running && m.port == Some(port))
                    .ok_or_else(refused)?;
                Some((m.id.clone(), port))
            }
            None => None,
        };
        let (model, port) = match (by_id, by_addr) {
            (Some(a), Some(b)) if a != b => {
                return Err(Reason::NotAModelPort { addr: addr.unwrap_or_default().to_owned() })
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => return Err(Reason::NoSuchModel { model: String::new() }),
        };
        Ok(Target { model, addr: loopback(port) })
    }

    /// A listener on `127.0.0.1:port` that the parent process holds: how `kettle bench`'s
    /// generator process (its child) is told where the server under test listens, without
    /// being able to aim at anything else. Read from `/proc/net/tcp` (which socket listens
    /// there) and `/proc/<parent>/fd` (whether the parent holds it).
    pub fn parent_listener(name: &str, port: u16) -> Result<Target, Reason> {
        let addr = loopback(port);
        let refused = || Reason::NotAModelPort { addr: addr.to_string() };
        let inode = listening_inode(port).ok_or_else(refused)?;
        let parent = Pid::Id(std::os::unix::process::parent_id());
        if process::holds_socket(parent, inode).map_err(|_| refused())? {
            Ok(Target { model: name.to_owned(), addr })
        } else {
            Err(refused())
        }
    }

    /// A listener on `127.0.0.1:port` that process `holder`, another child of the parent
    /// process, holds: a program `kettle bench --traced` started, which its generator loads.
    /// As [`Target::parent_listener`], and `holder`'s parent must be this process's.
    pub fn sibling_listener(name: &str, port: u16, holder: u32) -> Result<Target, Reason> {
        let addr = loopback(port);
        let refused = || Reason::NotAModelPort { addr: addr.to_string() };
        let inode = listening_inode(port).ok_or_else(refused)?;
        let parent = std::os::unix::process::parent_id();
        let sibling = holder != std::process::id()
            && process::stat(Pid::Id(holder)).is_ok_and(|s| s.ppid == parent);
        if sibling && process::holds_socket(Pid::Id(holder), inode).map_err(|_| refused())? {
            Ok(Target { model: name.to_owned(), addr })
        } else {
            Err(refused())
        }
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// The inode of the socket listening on 127.0.0.1:`port`, from `/proc/net/tcp`.
fn listening_inode(port: u16) -> Option<u64> {
    let table = TcpTable::read().ok()?;
    table.listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).map(|s| s.inode)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit, as far as the kernel allows,
/// and returns the soft limit it has now.
pub fn raise_nofile_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 0,
    }
}

/// Runs a load on a thread of its own, calling `on_report` with each report (the last with
/// `finished: true`). Returns the thread; its result is the final report.
pub fn spawn(
    target: Target,
    spec: LoadSpec,
    duration: Duration,
    stop: StopToken,
    mut on_report: impl FnMut(&LoadReport) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<std::io::Result<LoadReport>>> {
    std::thread::Builder::new().name("load".into()).spawn(move || {
        let settings = engine::Settings { spec, duration, nofile_limit: raise_nofile_limit() };
        let last = engine::run(target.addr, &settings, &stop, &mut on_report)?;
        on_report(&last);
        Ok(last)
    })
}

/// The page's load ([`kettle_shared::Command::LoadStart`]): one at a time per server, its
/// reports to every viewer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Loads {
    running: Arc<Mutex<Option<(String, StopToken)>>>,
    reports: broadcast::Sender<LoadReport>,
}

impl Default for Loads {
    fn default() -> Loads {
        Loads::new()
    }
}

impl Loads {
    /// No load running.
    pub fn new() -> Loads {
        Loads { running: Arc::default(), reports: broadcast::channel(16).0 }
    }

    /// Every report from now on (a viewer that lags skips reports: each is a whole picture).
    pub fn subscribe(&self) -> broadcast::Receiver<LoadReport> {
        self.reports.subscribe()
    }

    /// The model the running load is on, if one runs.
    pub fn running(&self) -> Option<String> {
        self.lock().as_ref().map(|(model, _)| model.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, StopToken)>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks `spec` and starts it against its model in `registry`. While it runs, a model
    /// that stops ends it (`ended_by`: the model is not running).
    pub fn start(&self, registry: &Registry, spec: LoadSpec) -> Result<(), LoadError> {
        check_spec(&spec).map_err(|r| (ErrorCode::Limit, r))?;
        let target = Target::model(registry, &spec.model).map_err(|r| match r {
            Reason::NoSuchModel { .. } => (ErrorCode::UnknownModel, r),
            _ => (ErrorCode::NotRunning, r),
        })?;
        let mut running = self.lock();
        if let Some((model, _)) = running.as_ref() {
            return Err((ErrorCode::Limit, Reason::LoadRunning { model: model.clone() }));
        }
        let stop = StopToken::new();
        let (loads, registry, model) = (self.clone(), registry.clone(), spec.model.clone());
        let port = target.addr.port();
        let stop_on_model_stop = stop.clone();
        let duration = Duration::from_secs(spec.secs.into());
        let on_report = move |report: &LoadReport| {
            let mut report = report.clone();
            let model_gone = registry.running_port(&model) != Some(port);
            if model_gone {
                stop_on_model_stop.stop(Reason::NotRunning { model: model.clone() });
                if report.finished {
                    // Its connections ended because the model stopped: say that, not "the
                    // server closed them".
                    report.ended_by = Some(Reason::NotRunning { model: model.clone() });
                }
            }
            if report.finished {
                // Free the slot before the last report goes out, so a viewer that hears
                // "finished" can start another at once.
                *loads.lock() = None;
            }
            let _ = loads.reports.send(report);
        };
        spawn(target, spec.clone(), duration, stop.clone(), on_report).map_err(|e| {
            (ErrorCode::Io, Reason::CannotCreateThread { errno: crate::failure::io_errno(&e) })
        })?;
        *running = Some((spec.model, stop));
        Ok(())
    }

    /// Stops the running load; its last report follows (`ended_by`: stopped on request).
    pub fn stop(&self) -> Result<(), LoadError> {
        match self.lock().as_ref() {
            Some((_, stop)) => {
                stop.stop(Reason::StoppedOnRequest);
                Ok(())
            }
            None => Err((ErrorCode::BadRequest, Reason::NoLoadRunning)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LoadSpec {
        LoadSpec { model: "epoll".into(), conns: 10, rate: None, size: 64, secs: 2 }
    }

    #[test]
    fn every_number_out_of_its_range_is_refused_with_its_field_and_bounds() {
        assert_eq!(check_spec(&spec()), Ok(()));
        let cases: [(&str, LoadSpec, u64, u64, u64); 7] = [
            ("conns", LoadSpec { conns: 0, ..spec() }, 0, 1, MAX_LOAD_CONNS.into()),
            ("conns", LoadSpec { conns: MAX_LOAD_CONNS + 1, ..spec() }, 10_001, 1, 10_000),
            ("secs", LoadSpec { secs: 0, ..spec() }, 0, 1, MAX_LOAD_SECS.into()),
            ("secs", LoadSpec { secs: MAX_LOAD_SECS + 1, ..spec() }, 601, 1, 600),
            ("size", LoadSpec { size: 1, ..spec() }, 1, 2, MAX_LOAD_LINE.into()),
            ("rate", LoadSpec { rate: Some(0), ..spec() }, 0, 1, MAX_LOAD_RATE.into()),
            ("rate", LoadSpec { rate: Some(MAX_LOAD_RATE + 1), ..spec() }, 1_000_001, 1, 1_000_000),
        ];
        for (field, s, value, min, max) in cases {
            assert_eq!(
                check_spec(&s),
                Err(Reason::OutOfRange { field: field.into(), value, min, max }),
                "{s:?}"
            );
        }
    }

    fn listing() -> Vec<ModelInfo> {
        let model = |id: &str, state, port| ModelInfo {
            id: id.into(),
            title: String::new(),
            title_zh: String::new(),
            figure: String::new(),
            family: None,
            port,
            ports: Vec::new(),
            command: None,
            state,
            reason: None,
            passive: false,
        };
        vec![
            model("epoll", ModelState::Running, Some(9007)),
            model("select", ModelState::Stopped, Some(9005)),
        ]
    }

    #[test]
    fn only_a_running_models_port_on_loopback_is_a_target() {
        let models = listing();
        let epoll = Target { model: "epoll".into(), addr: loopback(9007) };
        assert_eq!(Target::from_listing(&models, Some("epoll"), None), Ok(epoll.clone()));
        assert_eq!(Target::from_listing(&models, None, Some("127.0.0.1:9007")), Ok(epoll.clone()));
        assert_eq!(Target::from_listing(&models, None, Some("localhost:9007")), Ok(epoll));
        for foreign in
            ["10.0.0.1:9007", "192.168.1.1:80", "127.0.0.1:22", "127.0.0.1:9005", "[::1]:9007", "x"]
        {
            assert_eq!(
                Target::from_listing(&models, None, Some(foreign)),
                Err(Reason::NotAModelPort { addr: foreign.into() }),
                "{foreign}"
            );
        }
        assert_eq!(
            Target::from_listing(&models, Some("select"), None),
            Err(Reason::NotRunning { model: "select".into() })
        );
        assert_eq!(
            Target::from_listing(&models, Some("nope"), None),
            Err(Reason::NoSuchModel { model: "nope".into() })
        );
    }

    #[test]
    fn a_port_the_parent_process_does_not_listen_on_is_not_a_target() {
        // This test's own listener belongs to this process, not to its parent (cargo).
        let own = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = own.local_addr().unwrap().port();
        assert!(listening_inode(port).is_some(), "our listener is in /proc/net/tcp");
        assert_eq!(
            Target::parent_listener("x", port),
            Err(Reason::NotAModelPort { addr: format!("127.0.0.1:{port}") })
        );
    }

    #[test]
    fn a_port_this_process_or_a_stranger_holds_is_not_a_siblings() {
        let own = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = own.local_addr().unwrap().port();
        let refused = Err(Reason::NotAModelPort { addr: format!("127.0.0.1:{port}") });
        // This process is a child of its parent, but not its own sibling.
        assert_eq!(Target::sibling_listener("x", port, std::process::id()), refused);
        // Init is nobody's sibling, and does not hold the socket.
        assert_eq!(Target::sibling_listener("x", port, 1), refused);
    }

    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_limit() {
        let got = raise_nofile_limit();
        let (soft, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(got, soft);
        assert_eq!(soft, hard);
    }
}
