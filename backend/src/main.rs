//! `kettle`: the command line of Kettle's backend. See the README for the whole tool.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kettle_backend::{serve, Config};

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

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the page, the API and the model servers.
    Serve {
        /// Address of the web server. Keep the default unless you know why: the page can start
        /// servers and open connections.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (bind, port, model_port_base, start, allow_origins, dist, pool_workers) = match Cli::parse()
        .command
    {
        Cmd::ChildEcho { conn } => {
            return kettle_backend::models::process_per_conn::child_main(conn).await
        }
        Cmd::Serve { bind, port, model_port_base, start, allow_origins, dist, pool_workers } => {
            (bind, port, model_port_base, start, allow_origins, dist, pool_workers)
        }
    };
    let pool_workers = usize::from(pool_workers);
    let config = Config {
        bind,
        port,
        model_port_base,
        start,
        allow_origins,
        dist,
        pool_workers,
        child_exe: None,
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
    println!("Kettle is running at http://{}  (Ctrl-C to stop)", server.addr);
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("kettle: stopping every model…");
    server.shutdown().await?;
    eprintln!("kettle: stopped; every port is free.");
    Ok(())
}
