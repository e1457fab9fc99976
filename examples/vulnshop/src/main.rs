//! vulnshop: a small shop, deliberately vulnerable in the ways real applications are, and
//! protected by Antibody. Its interface (options, environment, endpoints, seeded data) is
//! fixed: evaluations drive it by these names.
//!
//! ```text
//! vulnshop --addr 127.0.0.1:8080 [--data-dir DIR]
//! ```

mod calculator;
mod catalog;
mod data;
mod documents;
mod fetcher;
mod pages;
mod redirects;
mod shop;
mod tools;
mod trace;
mod users;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use antibody::{Agent, Mode};

/// Command-line options.
struct Options {
    addr: SocketAddr,
    data_dir: Option<PathBuf>,
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut addr = None;
    let mut data_dir = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => {
                let text = value("--addr")?;
                addr = Some(text.parse().map_err(|_| {
                    format!("--addr: `{text}` is not an address such as 127.0.0.1:8080")
                })?);
            }
            "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Options {
        addr: addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir,
    })
}

const USAGE: &str = "usage: vulnshop [--addr HOST:PORT] [--data-dir DIR]";

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("vulnshop: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VULNSHOP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vulnshop: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    // A fresh temporary folder when none is given; removed at exit.
    let temporary = match options.data_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().map_err(|e| format!("cannot create a data folder: {e}"))?),
    };
    let data_dir = options
        .data_dir
        .clone()
        .or_else(|| temporary.as_ref().map(|dir| dir.path().to_owned()))
        .ok_or("no data folder")?;
    // The agent's own variables (ANTIBODY_*) override these defaults.
    // The shop's own host is configured here, never read from a request's `Host` header.
    let agent = Agent::builder()
        .mode(Mode::Protect)
        .state_dir(data_dir.join("state"))
        .own_host("localhost")
        .own_host(&options.addr.ip().to_string())
        .build()
        .map_err(|e| e.to_string())?;
    let shop = shop::Shop::open(&data_dir, agent.clone(), trace::Trace::from_env()?).await?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    // The first line on stdout is the interface: scripts wait for it.
    writeln!(stdout, "listening on {local}")
        .and_then(|()| stdout.flush())
        .map_err(|e| e.to_string())?;
    let app = shop
        .router(&agent)
        .into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    agent.shutdown();
    served.map_err(|e| format!("server error: {e}"))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = interrupt => {}
        () = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
