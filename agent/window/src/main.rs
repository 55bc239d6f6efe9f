//! `sesame-window`: opens the Sesame window on the person's desktop, talking to the local agent
//! service over its socket; `sesame-window --watch` (started at logon) reminds the person with a
//! desktop notification when a change is pending, and opens the window when it is clicked.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use eframe::egui;
use sesame_base::calendar::LocalCalendar;
use sesame_base::clock::{Clock as _, SystemClock};
use sesame_window::app::WindowApp;
use sesame_window::flow::Update;
use sesame_window::reminder::{self, DesktopNotifier, FileStore};
use sesame_window::{link, texts};

/// The Sesame window.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The agent service's local socket.
    #[arg(long, env = "SESAME_AGENT_SOCKET", default_value_os_t = sesame_local::transport::default_socket())]
    socket: PathBuf,
    /// Stay in the background and remind the person (at most once a day) instead of opening the
    /// window.
    #[arg(long)]
    watch: bool,
    /// With --watch: minutes between two looks at the service.
    #[arg(long, default_value_t = 30)]
    check_every_minutes: u64,
    /// With --watch: seconds between two looks instead (for the tests).
    #[arg(long, hide = true)]
    check_every_seconds: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    if args.watch {
        return watch(&args);
    }
    let theme = sesame_window::theme::desktop();
    let app =
        WindowApp::new(args.socket, Box::new(|| SystemClock.now()), Box::new(LocalCalendar::new()))
            .context("starting the connection to the service")?
            .with_desktop_theme(theme);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(texts::WINDOW_TITLE)
            .with_app_id("sesame-window")
            .with_inner_size([640.0, 600.0])
            .with_min_inner_size([480.0, 400.0])
            // No window icon of its own: the desktop takes the one named by the app id's
            // `.desktop` entry, and eframe's default (egui's logo) would cost 1 MiB once decoded.
            .with_icon(egui::IconData::default()),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let start = Box::new(move |cc: &eframe::CreationContext<'_>| {
        // Styled before the first frame, so that it is not drawn in egui's default theme.
        sesame_window::view::style(&cc.egui_ctx, theme);
        Ok(Box::new(app) as Box<dyn eframe::App>)
    });
    eframe::run_native(texts::WINDOW_TITLE, options, start)
        .map_err(|error| anyhow::anyhow!("the window could not open: {error}"))
}

/// `--watch`: looks at the service now and then, and reminds. It runs all day, so it touches
/// nothing of eframe, winit or OpenGL (which load X, Mesa and LLVM at run time): a current-thread
/// runtime on the main thread, asleep between two looks, and after a notification the D-Bus
/// connection and thread that wait for its click. The window it opens is a process of its own.
/// Checked by the e2e reminder test (no graphics library mapped); figures:
/// `tests/benches/README.md`.
fn watch(args: &Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut store =
        FileStore::new(FileStore::default_path().context("no HOME nor XDG_STATE_HOME")?);
    let notifier = DesktopNotifier;
    let zone = LocalCalendar::new();
    tracing::info!(zone = zone.zone_name().unwrap_or("(unnamed)"), "reminders: watching");
    let every = match args.check_every_seconds {
        Some(seconds) => Duration::from_secs(seconds.max(1)),
        None => Duration::from_secs(args.check_every_minutes.max(1) * 60),
    };
    runtime.block_on(async {
        loop {
            match link::status(&args.socket).await {
                Update::Status(report) => {
                    let socket = args.socket.clone();
                    let open = Box::new(move || open_window(&socket));
                    let now = SystemClock.now();
                    // The zone is read again at each look, so that a zone changed while the
                    // session lasts is followed.
                    let calendar = LocalCalendar::new();
                    reminder::check(&report, now, &calendar, &mut store, &notifier, open);
                }
                other => tracing::debug!(?other, "the service did not answer status"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

fn open_window(socket: &std::path::Path) {
    let spawned = std::env::current_exe()
        .and_then(|exe| std::process::Command::new(exe).arg("--socket").arg(socket).spawn());
    match spawned {
        // Waited for on a thread of its own, so that no zombie is left.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(error) => tracing::warn!(%error, "the window could not be opened"),
    }
}
