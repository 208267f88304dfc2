//! `kettle`: the command line of Kettle's backend. See the README for the whole tool.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kettle_backend::tools::{bench, experiments, load, recording, soak};
use kettle_backend::trace::filter::Stops;
use kettle_backend::{serve, Config, Limits};

#[derive(Debug, Parser)]
#[command(
    name = "kettle",
    version,
    about = "Live visualiser of Linux I/O models: real echo servers, every syscall shown in the browser."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// `kettle serve`'s flags, which `kettle trace` takes too.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address of the web server: 127.0.0.1 by default, every interface (0.0.0.0) with
    /// --classroom. Another address than loopback needs --classroom: the page can start
    /// servers and open connections.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Classroom mode: listen on the LAN, print the addresses students type and the
    /// teacher's link (with a random token); students watch, choose what to watch and
    /// open echo clients, and only the teacher starts, stops and leads.
    #[arg(long)]
    classroom: bool,
    /// Another name (e.g. kettle.school.example) students may use to reach this server;
    /// the machine's own names and addresses are admitted in classroom mode anyway.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// Port of the web server (0: any free port, printed at start).
    #[arg(long, default_value_t = 7878)]
    port: u16,
    /// First port of the model servers, one per model in order (0: any free ports).
    #[arg(long, default_value_t = 9000)]
    model_port_base: u16,
    /// Models to start at once: ids, or `all`.
    #[arg(long, num_args = 1.., value_name = "ID")]
    start: Vec<String>,
    /// Another origin (e.g. http://my-laptop.local:7878) allowed to use the page's API.
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// The built frontend (default: found next to the workspace).
    #[arg(long)]
    dist: Option<PathBuf>,
    /// Worker threads of the thread-pool model.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pool_workers: u16,
    /// The most browser tabs watching at once; the next one is told to try later.
    #[arg(long, default_value_t = Limits::default().max_viewers as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_viewers: u32,
    /// The most echo clients (relayed TCP connections) of all tabs together; each tab may
    /// have 16.
    #[arg(long, default_value_t = Limits::default().echo_clients_total as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_echo_clients: u32,
    /// Commands one tab may send per second, steadily (twice as many in a burst).
    #[arg(long, default_value_t = Limits::default().commands_per_second,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    commands_per_second: u32,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the page, the API and the model servers.
    Serve(ServeArgs),
    /// Serve as `serve` does, and run PROGRAM (an echo server of your own: Python, C, Rust…)
    /// under Kettle's tracer: the page draws it as its Stevens figure, beside the built-in
    /// models, from the system calls it makes. `kettle trace -- python3 echo.py 9000`
    Trace {
        #[command(flatten)]
        serve: ServeArgs,
        /// The program and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "PROGRAM")]
        program: Vec<String>,
        /// Stop the program on every system call, not only those a figure draws: slower, and
        /// only to measure what Kettle's seccomp filter saves (`kettle bench --traced`).
        #[arg(long, hide = true)]
        stop_every_call: bool,
    },
    /// Run one of the tutorial's claims as a measurement on this machine, in models of its
    /// own (on ports of their own), and print the table; ids: starve, threads, pool,
    /// busy-loop, one-conn, scan, sigio-work, uring-batching, c10k.
    Experiment {
        /// The experiment's id.
        id: String,
        /// The short form: fewer connections, shorter runs (as CI runs it).
        #[arg(long)]
        short: bool,
        /// Also write the table as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also write the table as CSV to this file.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// Put a load on a model of a running Kettle: many echo clients at once, every echo
    /// checked byte for byte. Only the server's own model ports can be loaded.
    Load {
        /// The model to load (its id, as in `kettle serve`'s list).
        #[arg(long, required_unless_present = "addr")]
        model: Option<String>,
        /// Or the address of one of the server's model ports (127.0.0.1:PORT).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
        /// Connections to open.
        #[arg(long, default_value_t = 50)]
        conns: u32,
        /// Lines a second over all connections (open loop); without it each connection sends
        /// its next line when the last echo is back (closed loop).
        #[arg(long)]
        rate: Option<u32>,
        /// Bytes per line, newline included.
        #[arg(long, default_value_t = 64)]
        size: u32,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        secs: u32,
        /// The running Kettle.
        #[arg(long, default_value = "http://127.0.0.1:7878")]
        server: String,
    },
    /// Record what a running Kettle shows for some models, as a page receives it, into a
    /// recording the page replays without a server (gzip JSON Lines; see ARCHITECTURE.md).
    Record {
        /// The running Kettle.
        #[arg(long, default_value = "http://127.0.0.1:7878")]
        url: String,
        /// The models to record: ids, comma-separated (`--model select,blocking`).
        #[arg(long = "model", required = true, value_name = "ID[,ID…]")]
        models: Vec<String>,
        /// Seconds to record (after the history the server sends at once).
        #[arg(long)]
        secs: u32,
        /// The recording to write (by convention `*.kettle.jsonl.gz`).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Convert a recording for another tool: `--chrome-trace IN OUT` writes Chrome Trace Event
    /// JSON that Perfetto (ui.perfetto.dev) and chrome://tracing open.
    Export {
        /// Write Chrome Trace Event JSON (the only format so far).
        #[arg(long = "chrome-trace", required = true)]
        chrome_trace: bool,
        /// The recording to read.
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// The trace to write.
        #[arg(value_name = "OUT")]
        output: PathBuf,
    },
    /// Every model under the same load, beside a plain epoll loop and a tokio echo server:
    /// lines/s, latency, CPU, memory, system calls per line.
    Bench {
        /// Connections per run.
        #[arg(long, default_value_t = 50)]
        conns: u32,
        /// Bytes per line, newline included.
        #[arg(long, default_value_t = 64)]
        size: u32,
        /// Seconds per run.
        #[arg(long, default_value_t = 3)]
        secs: u32,
        /// Rounds (each server once per round, alternating the order).
        #[arg(long, default_value_t = 3)]
        repeats: u32,
        /// Only these models (ids, comma-separated); the baselines always run.
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
        /// Also write every number as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// A fraction of a second per server, one round, 8 connections: checks every server
        /// answers right, measures nothing worth keeping.
        #[arg(long)]
        short: bool,
        /// Instead of the models: what Kettle's tracer costs PROGRAM (an echo server of your
        /// own, after `--`, listening on 127.0.0.1), run untraced, traced as `kettle trace`
        /// runs it with a viewer watching, and traced stopping on every call; then the epoll
        /// model alone and beside a busy loop, untraced and traced.
        /// `kettle bench --traced -- python3 backend/tests/traced/select_server.py`
        #[arg(long, requires = "program")]
        traced: bool,
        /// The program and its arguments, after `--` (with --traced).
        #[arg(last = true, requires = "traced", value_name = "PROGRAM")]
        program: Vec<String>,
    },
    /// Kettle's proof under load and faults, on loopback, in bounded time: 100 viewers while
    /// 4 models echo 1 000 lines/s each (fan_out), every model started and stopped 50 times
    /// (cycles), and faults (faults); a table of figures, each with the property it must hold.
    Soak {
        /// The short form (as CI runs it): fewer viewers, rounds and seconds.
        #[arg(long)]
        short: bool,
        /// Also write every figure as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Only this scenario: fan_out, cycles or faults.
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
    },
    /// The bench's load generator, run by `kettle bench` in a child process. Not for people.
    #[command(hide = true)]
    BenchLoad {
        #[arg(long)]
        name: String,
        #[arg(long)]
        port: u16,
        /// The program holding the listener, when not the parent: another of its children.
        #[arg(long)]
        holder: Option<u32>,
        #[arg(long)]
        conns: u32,
        #[arg(long)]
        size: u32,
        #[arg(long)]
        millis: u64,
    },
    /// One child of the process-per-conn model: echoes the connection that is its standard
    /// input and writes its events to standard output. Started by `kettle serve`, not by people.
    #[command(hide = true)]
    ChildEcho {
        /// The connection's number in the parent's events.
        #[arg(long)]
        conn: u64,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if let Cmd::ChildEcho { conn } = cli.command {
        // One child per client: a multi-thread runtime would add a worker per core to every
        // one of them (64 idle threads per client on a 64-core machine). The child's recorder
        // pump is its only task, so the runtime runs it on the main thread.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(kettle_backend::models::process_per_conn::child_main(conn))?;
        return Ok(ExitCode::SUCCESS);
    }
    run(cli)
}

/// Every command but the child's, on a runtime with a worker per core.
#[tokio::main]
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let serve_args = match cli.command {
        Cmd::ChildEcho { .. } => unreachable!("main runs the child on a runtime of its own"),
        Cmd::Load { model, addr, conns, rate, size, secs, server } => {
            let args = load::cli::LoadArgs { server, model, addr, conns, rate, size, secs };
            return Ok(exit_code(load::cli::main(args).await?));
        }
        Cmd::Bench { conns, size, secs, repeats, models, json, short, traced: _, program } => {
            let traced = (!program.is_empty()).then_some(program);
            let args =
                bench::cli::BenchArgs { conns, size, secs, repeats, models, json, short, traced };
            return Ok(exit_code(bench::cli::main(args).await?));
        }
        Cmd::BenchLoad { name, port, holder, conns, size, millis } => {
            let load =
                bench::generator::Load { conns, size, duration: Duration::from_millis(millis) };
            bench::generator::child_main(&name, port, holder, &load)?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Record { url, models, secs, out } => {
            let args = recording::RecordArgs { url, models, secs, out };
            return match recording::record(args).await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("kettle record: {e:#}");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
        Cmd::Export { chrome_trace: _, input, output } => {
            return match recording::export_chrome_trace(&input, &output) {
                Ok(events) => {
                    eprintln!(
                        "kettle export: {events} events of {} written to {} as a Chrome trace",
                        input.display(),
                        output.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("kettle export: {e:#}");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
        Cmd::Soak { short, json, only } => {
            return Ok(exit_code(soak::cli::main(short, json, only)?))
        }
        Cmd::Experiment { id, short, json, csv } => {
            experiments::cli::main(id, short, json, csv).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Serve(serve) => (serve, None),
        Cmd::Trace { serve, program, stop_every_call } => {
            let stops = if stop_every_call { Stops::Every } else { Stops::Drawn };
            (serve, Some((program, stops)))
        }
    };
    let (
        ServeArgs {
            bind,
            classroom,
            allow_hosts,
            port,
            model_port_base,
            start,
            allow_origins,
            dist,
            pool_workers,
            max_viewers,
            max_echo_clients,
            commands_per_second,
        },
        trace,
    ) = serve_args;
    let (trace, trace_stops) = trace.map_or((None, Stops::Drawn), |(p, s)| (Some(p), s));
    let default_bind = if classroom { [0, 0, 0, 0] } else { [127, 0, 0, 1] };
    let config = Config {
        bind: bind.unwrap_or(IpAddr::from(default_bind)),
        port,
        model_port_base,
        start,
        allow_origins,
        dist,
        pool_workers: usize::from(pool_workers),
        child_exe: None,
        limits: Limits {
            max_viewers: max_viewers as usize,
            echo_clients_total: max_echo_clients as usize,
            commands_per_second,
            command_burst: commands_per_second.saturating_mul(2),
            ..Limits::default()
        },
        classroom,
        allow_hosts,
        trace,
        trace_stops,
    };
    // Listen for Ctrl-C (and SIGTERM) before saying we run: a signal that arrives between the
    // "running" line and the first poll of a lazily registered listener would be lost.
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let server = serve(config).await?;
    match &server.dist {
        Some(dist) => eprintln!("kettle: serving the frontend from {}", dist.display()),
        None => eprintln!(
            "kettle: the frontend is not built (no dist/index.html found); the page will say so. \
             Build it with `cargo xtask run`, or `trunk build --release`."
        ),
    }
    for m in server.registry.list() {
        let state = serde_json::to_value(m.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let port = m.port.map_or("chosen at start".to_owned(), |p| p.to_string());
        let why = m.reason.as_ref().map(kettle_backend::failure::for_terminal).unwrap_or_default();
        eprintln!("kettle: model {:<16} {state:<11} port {port} {why}", m.id);
    }
    match &server.classroom {
        None => println!("Kettle is running at http://{}  (Ctrl-C to stop)", server.addr),
        Some(class) => {
            println!(
                "Kettle is running in classroom mode on port {}  (Ctrl-C to stop)",
                server.addr.port()
            );
            println!("Students type one of: {}", class.student_urls.join("  "));
            // The one place the token is ever written.
            println!("Teacher (keep this link to yourself): {}", class.teacher_link);
        }
    }
    if let Some(traced) = server.registry.traced() {
        match traced.pid() {
            Some(pid) => println!("tracing PID {pid}: {}", traced.command_line()),
            None => eprintln!("kettle: {} is not running", traced.command_line()),
        }
    }
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("kettle: stopping every model…");
    server.shutdown().await?;
    eprintln!("kettle: stopped; every port is free.");
    Ok(ExitCode::SUCCESS)
}

/// A tool's verdict as the process's exit status: success only when everything held.
fn exit_code(clean: bool) -> ExitCode {
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
