//! `sesame-owa-sim`: the Exchange OWA simulator as a small demo server. It serves HTTPS until
//! Ctrl-C, writes its CA certificate to a PEM file for `curl --cacert`, and prints the ground truth
//! (password changes, failed logins) on exit. Accounts given on the command line are demo
//! accounts.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use sesame_tests::owa_sim::{Behaviour, LoginResult, LogonFormat, OwaSim, SimOptions};
use tokio::net::TcpListener;

/// An Exchange 2016/2019 Outlook Web App simulator (forms-based login, expired-password page).
#[derive(Debug, Parser)]
#[command(name = "sesame-owa-sim")]
struct Cli {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// The host name the certificate is for (also valid for localhost and 127.0.0.1).
    #[arg(long, default_value = "localhost")]
    host: String,
    /// A demo account, `USER:PASSWORD` or `USER:PASSWORD:must-change`; repeatable.
    #[arg(long = "account", value_name = "USER:PASSWORD[:must-change]")]
    accounts: Vec<String>,
    /// Where to write the CA certificate (PEM).
    #[arg(long, default_value = "./owa-sim-ca.pem")]
    ca_out: PathBuf,
    /// Turn off ChangeExpiredPasswordEnabled: a must-change login looks like a wrong password.
    #[arg(long)]
    no_expired_password_page: bool,
    /// The virtual directory's LogonFormat.
    #[arg(long, value_enum, default_value_t = Format::PrincipalName)]
    logon_format: Format,
    /// Behave like Exchange, or like a hostile server (to watch a client cope).
    #[arg(long, value_enum, default_value_t = Mode::Exchange)]
    behaviour: Mode,
    /// Write texts the .NET way (`é` as `&#233;`, `'` as `&#39;`).
    #[arg(long)]
    dotnet_encoding: bool,
    /// Write ids and field names in another case (`id="UserNameLabel"`).
    #[arg(long)]
    mixed_case_ids: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Exchange,
    /// The logon page is 50 MB.
    HugePage,
    /// The logon page is nested 100,000 deep.
    DeepNesting,
    /// The logon page comes one byte a second.
    Drip,
    /// Redirects forever.
    RedirectLoop,
    /// Windows authentication only (401 Negotiate/NTLM).
    NotFormsBased,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    PrincipalName,
    FullDomain,
}

/// `USER:PASSWORD[:must-change]`; the password may itself contain `:`.
fn parse_account(spec: &str) -> Option<(String, String, bool)> {
    let (rest, must_change) = match spec.strip_suffix(":must-change") {
        Some(rest) => (rest, true),
        None => (spec, false),
    };
    let (user, password) = rest.split_once(':')?;
    (!user.is_empty() && !password.is_empty())
        .then(|| (user.to_owned(), password.to_owned(), must_change))
}

async fn run(cli: Cli) -> Result<(), String> {
    let accounts = cli
        .accounts
        .iter()
        .map(|spec| parse_account(spec).ok_or_else(|| format!("bad --account {spec:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let options = SimOptions {
        host: cli.host.clone(),
        change_expired_password_enabled: !cli.no_expired_password_page,
        logon_format: match cli.logon_format {
            Format::PrincipalName => LogonFormat::PrincipalName,
            Format::FullDomain => LogonFormat::FullDomain,
        },
        behaviour: match cli.behaviour {
            Mode::Exchange => Behaviour::Exchange,
            Mode::HugePage => Behaviour::HugePage,
            Mode::DeepNesting => Behaviour::DeepNesting,
            Mode::Drip => Behaviour::Drip,
            Mode::RedirectLoop => Behaviour::RedirectLoop,
            Mode::NotFormsBased => Behaviour::NotFormsBased,
        },
        dotnet_encoding: cli.dotnet_encoding,
        mixed_case_ids: cli.mixed_case_ids,
        ..SimOptions::default()
    };
    let listener = TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let sim = OwaSim::start_at(options, listener).await;
    for (user, password, must_change) in &accounts {
        sim.add_account(user, password, *must_change);
    }
    std::fs::write(&cli.ca_out, sim.ca().pem())
        .map_err(|e| format!("cannot write {}: {e}", cli.ca_out.display()))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "OWA simulator at {}", sim.url());
    let _ = writeln!(out, "CA certificate: {}", cli.ca_out.display());
    let _ = writeln!(out, "Ctrl-C to stop.");
    drop(out);

    let _ = tokio::signal::ctrl_c().await;

    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n{} requests, {} bytes received",
        sim.requests().len(),
        sim.bytes_received()
    );
    let _ = writeln!(out, "Password changes:");
    for change in sim.changes() {
        let kind = if change.direct { "direct" } else { "must-change" };
        let _ = writeln!(out, "  {} ({kind})", change.user);
    }
    let _ = writeln!(out, "Change attempts:");
    for attempt in sim.change_attempts() {
        let _ = writeln!(out, "  {}: {:?}", attempt.user, attempt.result);
    }
    let _ = writeln!(out, "Failed logins:");
    for login in sim.logins() {
        if matches!(login.result, LoginResult::BadCredentials | LoginResult::Malformed) {
            let _ = writeln!(out, "  {}: {:?}", login.user, login.result);
        }
    }
    let _ = writeln!(out, "Logoffs: {}", sim.logoffs());
    drop(out);
    sim.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "sesame-owa-sim: {message}");
            ExitCode::FAILURE
        }
    }
}
