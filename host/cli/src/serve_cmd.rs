//! `codecafe serve [--port p] [--open]`: the local API and web view on 127.0.0.1 (see
//! `codecafe-server`). Prints the URL to open once (it carries the token and sets a cookie),
//! serves until SIGINT, SIGTERM or SIGHUP, then stops the orders it runs — resumable, as a
//! SIGTERM stops `codecafe run` — and says which.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use codecafe_server::ServerConfig;
use codecafe_service::Service;

/// Arguments of `codecafe serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The port on 127.0.0.1 (0: any free port; the one taken is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Open the URL in the browser (`xdg-open`, or `open` on macOS).
    #[arg(long)]
    open: bool,
}

/// `codecafe serve`.
pub fn run(service: &Service, args: &ServeArgs) -> Result<ExitCode> {
    // The server shares its service between threads; this one is made for it.
    let service = Arc::new(Service::with_paths(service.paths().clone()));
    let config = ServerConfig {
        port: args.port,
        handle_signals: true,
        ..ServerConfig::default()
    };
    let server = codecafe_server::start(service, config).context("codecafe serve")?;
    let url = server.login_url();
    println!(
        "codecafe serves on {} (port {})",
        server.base_url(),
        server.port()
    );
    println!("open this URL once (it holds the token and sets a cookie): {url}");
    println!(
        "API clients send `Authorization: Bearer <token>` (the token is in {}); Ctrl-C stops",
        server.token_file().display()
    );
    if args.open {
        open_in_browser(&url);
    }
    let report = server.wait();
    if report.interrupted.is_empty() {
        println!("stopped");
    } else {
        println!(
            "stopped; orders interrupted, resumable with `codecafe order resume <id>`: {}",
            report.interrupted.join(", ")
        );
    }
    if !report.still_running.is_empty() {
        eprintln!(
            "warning: these runs had not stopped in time: {}",
            report.still_running.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens `url` with the desktop's opener, or says there is none.
fn open_in_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match started {
        // Reaped on a thread of its own so that it never lingers as a zombie.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(_) => eprintln!("no `{opener}` here to open a browser; open the URL above by hand"),
    }
}
