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
        Cmd::Experiment { id, short, json, csv } => {
            return experiment(id, short, json, csv).await;
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

/// `kettle experiment`: runs it off the runtime's workers, with a progress bar, then prints the
/// table and writes the files asked for.
async fn experiment(
    id: String,
    short: bool,
    json: Option<PathBuf>,
    csv: Option<PathBuf>,
) -> anyhow::Result<()> {
    use kettle_backend::experiments::{self, export};
    if experiments::find(&id).is_none() {
        anyhow::bail!("no experiment {id} (known: {})", experiments::ids().join(", "));
    }
    let handle = tokio::runtime::Handle::current();
    let table = tokio::task::spawn_blocking(move || {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {pos}/{len} measurements, {elapsed} {msg}",
            )
            .expect("a valid progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(id.clone());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let table = experiments::run(&id, short, &handle, &mut |t| {
            bar.set_length(u64::from(t.steps));
            bar.set_position(u64::from(t.step));
            if let Some(last) = t.rows.last() {
                let first = last.first().map(export::cell_text).unwrap_or_default();
                bar.set_message(format!("last: {first}"));
            }
        });
        bar.finish_and_clear();
        table
    })
    .await?
    .expect("the id was checked");
    println!("{}", export::terminal_table(&table));
    if let Some(path) = &json {
        export::write_json(&table, std::fs::File::create(path)?)?;
        eprintln!("kettle: wrote {}", path.display());
    }
    if let Some(path) = &csv {
        export::write_csv(&table, std::fs::File::create(path)?)?;
        eprintln!("kettle: wrote {}", path.display());
    }
    if let Some(why) = &table.failed {
        anyhow::bail!(
            "the experiment stopped after {} of {} measurements: {}",
            table.step,
            table.steps,
            kettle_backend::failure::for_terminal(why)
        );
    }
    Ok(())
}
