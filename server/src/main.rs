//! `sesame-server`: parses the command line, loads the configuration, sets up logging, binds the
//! listeners (gRPC, and the operations endpoint when configured) and runs [`sesame_server::Server`] until SIGINT or SIGTERM.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sesame_base::clock::{Clock as _, SystemClock};
use sesame_server::Config;
use sesame_server::config::LogFormat;
use sesame_server::domain::admin::AdminRole;
use sesame_server::domain::office::Crpcen;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "sesame-server", version, about = "The Sesame central server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (the default command).
    Serve(ServeArgs),
    /// Prints an example configuration file with every setting at its default.
    DefaultConfig,
    /// Manages administrators directly in the database (run on the server host).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The audit trail's signing key.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Writes an archive of the database (SQLite) and the keys while the server runs; `backup
    /// verify PATH` checks one.
    Backup(BackupArgs),
    /// Restores an archive into a data directory that holds no database and no key yet.
    Restore {
        /// The archive `sesame-server backup` wrote.
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct BackupArgs {
    #[command(subcommand)]
    verify: Option<BackupCommand>,
    /// Where to write the archive (a new file, mode 0600: it holds private keys).
    #[arg(long, value_name = "PATH", required = true)]
    out: Option<PathBuf>,
    #[command(flatten)]
    server: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Restores an archive into a temporary directory (removed after) and checks it: checksums,
    /// the database, its counts, the escrow key, the whole audit chain and every signed head.
    Verify {
        /// The archive.
        path: PathBuf,
        /// Where to make the temporary directory (default: the system's).
        #[arg(long, value_name = "DIR")]
        scratch: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Prints the audit signing key's id and public key (PEM), for the auditors to keep.
    PublicKey {
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Replaces the audit signing key, recorded in the audit trail (stop every server first).
    ///
    /// Creates a new key, records an `audit.key.rotate` event carrying its public key and the old
    /// key's id, signs that record with the old key when the key file still holds it (so the
    /// chain vouches for the hand-over), keeps the old file aside as
    /// `audit-signing.key.<old id>.retired` and puts the new key in its place. Copy the new file
    /// to every server sharing the database, then start them.
    RotateKey {
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Creates an administrator and writes its credentials file for sesamectl.
    Create {
        /// A unique name, e.g. marie.durand.
        name: String,
        /// global (everything), office (its offices only) or auditor (read-only).
        #[arg(long)]
        role: String,
        /// For an office administrator: its offices' CRPCENs, comma-separated.
        #[arg(long, value_delimiter = ',')]
        offices: Vec<String>,
        /// Where to write the credentials file (mode 0600).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// Directory for the embedded database, certificates and bootstrap credentials.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address and port to serve gRPC on, e.g. 0.0.0.0:7443.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// postgres://... to use PostgreSQL instead of the embedded SQLite database.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// A TOML configuration file (see `sesame-server default-config`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn load_config(args: ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.listen =
            listen.parse().with_context(|| format!("--listen {listen:?}: expected HOST:PORT"))?;
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(secrecy::SecretString::from(url));
    }
    Ok(config)
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(&config.log_level).context("log.level is not a valid filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[allow(clippy::print_stdout)] // Reason: the address and fingerprint are the command's output.
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(&config)?;
    // The crash tests' failpoints (debug builds only; a no-op in release builds).
    sesame_base::failpoint::arm_from_env(sesame_server::services::FAILPOINT_VARIABLE);
    tracing::debug!(?config, "configuration");
    raise_descriptor_limit();
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let operations = match config.operations_listen {
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} (operations.listen)"))?,
        ),
        None => None,
    };
    let dashboard = match config.dashboard.listen {
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} (dashboard.listen)"))?,
        ),
        None => None,
    };
    let server = sesame_server::Server::prepare(&config, address, Arc::new(SystemClock)).await?;
    println!("Sesame server listening on https://{address}");
    if let Some(operations) = &operations {
        let at = operations.local_addr()?;
        println!("Operations endpoint on http://{at} (/metrics, /livez, /readyz)");
    }
    if let Some(dashboard) = &dashboard {
        let at = dashboard.local_addr()?;
        println!(
            "Dashboard on https://{at}/ (sign in with a web password and TOTP: sesamectl admin web-password, admin totp enrol)"
        );
    }
    println!("CA certificate SHA-256 fingerprint: {}", server.ca_fingerprint());
    if let Some(path) = server.bootstrap_credentials() {
        println!("Bootstrap administrator credentials written to {}", path.display());
        println!("  try: sesamectl --credentials {} office list", path.display());
    }
    tracing::info!(%address, fingerprint = server.ca_fingerprint(), "serving");
    let listeners = sesame_server::Listeners { grpc: listener, operations, dashboard };
    server.serve_all(listeners, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft descriptor limit to the hard limit, so that the listeners' caps (sized from it)
/// serve a fleet; logs what it got.
fn raise_descriptor_limit() {
    match sesame_server::descriptors::raise_limit() {
        Ok(Some(limit)) if limit.after > limit.before => tracing::info!(
            from = limit.before,
            to = limit.after,
            hard = limit.hard,
            "raised the descriptor limit (RLIMIT_NOFILE) to its hard limit"
        ),
        Ok(Some(limit)) => {
            tracing::info!(
                limit = limit.after,
                hard = limit.hard,
                "descriptor limit (RLIMIT_NOFILE)"
            )
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, "cannot raise the descriptor limit (RLIMIT_NOFILE)")
        }
    }
}

/// An Ed25519 public key as a PEM SubjectPublicKeyInfo, as `openssl pkeyutl -verify` reads it.
fn public_key_pem(public_key: &[u8]) -> String {
    use base64::Engine as _;
    // The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
    // 1.3.101.112 }, BIT STRING (0 unused bits) }, then the 32 key bytes.
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(public_key);
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----\n")
}

/// What `audit rotate-key` did, and what an auditor will see.
fn rotation_summary(rotated: &sesame_server::services::audit::key_rotation::RotatedKey) -> String {
    let rotation = &rotated.rotation;
    let old = match &rotation.old {
        None => "no previous key (nothing was signed yet)".to_owned(),
        Some(old) if rotation.old_key_available() => format!("key {} (available)", old.id),
        Some(old) => format!("key {} (LOST: the key file did not hold it)", old.id),
    };
    let vouched = if rotation.old_key_available() {
        "The old key signed the rotation record: the chain vouches for the hand-over, and heads \
         signed before it still verify with the old key, whose public key the record carries."
            .to_owned()
    } else {
        "The old key was not available: auditors will see in `sesamectl audit verify` and in the \
         record that it was lost; heads signed by it can no longer be checked by signature (the \
         rotation record's head, signed by the new key, covers the whole chain before it)."
            .to_owned()
    };
    let kept = match &rotated.old_file {
        Some(path) => format!("Old key file kept as {}.\n", path.display()),
        None => String::new(),
    };
    format!(
        "Audit signing key rotated at audit record {seq} (audit.key.rotate).\n\
         Old: {old}.\n\
         New audit signing key id: {new}\n\
         {vouched}\n\
         {kept}\
         Back up the data directory now, copy the new key file to every server sharing the \
         database, and give the new public key to the auditors:\n",
        seq = rotated.seq,
        new = rotation.new_key_id,
    )
}

#[allow(clippy::print_stdout)] // Reason: printing the example is the command's purpose.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(args).await,
        Command::DefaultConfig => {
            print!("{}", sesame_server::config::EXAMPLE);
            Ok(())
        }
        Command::Audit(AuditCommand::PublicKey { server }) => {
            let config = load_config(server)?;
            let (id, public_key) = sesame_server::audit_public_key(&config)?;
            println!("Audit signing key id: {id}");
            print!("{}", public_key_pem(&public_key));
            Ok(())
        }
        Command::Audit(AuditCommand::RotateKey { server }) => {
            let config = load_config(server)?;
            let rotated = sesame_server::rotate_audit_key(&config, Arc::new(SystemClock)).await?;
            print!("{}", rotation_summary(&rotated));
            print!("{}", public_key_pem(&rotated.rotation.new_public_key));
            Ok(())
        }
        Command::Backup(BackupArgs {
            verify: Some(BackupCommand::Verify { path, scratch }),
            ..
        }) => {
            let verified = sesame_server::backup::verify::verify(
                &path,
                scratch.as_deref(),
                Arc::new(SystemClock),
            )
            .await
            .with_context(|| format!("{} does not verify", path.display()))?;
            print!("{verified}");
            if !verified.sound() {
                anyhow::bail!("{} does not verify", path.display());
            }
            Ok(())
        }
        Command::Backup(BackupArgs { verify: None, out, server }) => {
            let out = out.context("--out PATH is required")?;
            let config = load_config(server)?;
            let manifest = sesame_server::backup::backup(&config, &out, SystemClock.now()).await?;
            println!("Backup written to {} (mode 0600):", out.display());
            print!("{}", sesame_server::backup::ManifestSummary(&manifest));
            println!(
                "It holds private keys (CA, server, escrow, audit signing): keep it like the data \
                 directory. Check it with: sesame-server backup verify {}",
                out.display()
            );
            if manifest.database == sesame_server::backup::archive::DatabaseKind::Postgresql {
                println!(
                    "The PostgreSQL database is not in it: now run pg_dump -Fc (README, Backup and restore)."
                );
            }
            Ok(())
        }
        Command::Restore { from, server } => {
            let config = load_config(server)?;
            let restored = sesame_server::backup::restore::restore(&from, &config)?;
            println!("Restored {} (checksums verified):", from.display());
            print!("{}", sesame_server::backup::ManifestSummary(&restored.manifest));
            for file in &restored.files {
                println!("  wrote {}", file.display());
            }
            if restored.manifest.database
                == sesame_server::backup::archive::DatabaseKind::Postgresql
            {
                println!(
                    "Now restore the database with pg_restore into a fresh database (README), then start the server."
                );
            } else {
                println!(
                    "Start the server with this configuration; then run sesamectl audit verify."
                );
            }
            Ok(())
        }
        Command::Admin(AdminCommand::Create { name, role, offices, out, server }) => {
            let config = load_config(server)?;
            let role =
                AdminRole::parse(&role).context("--role must be global, office or auditor")?;
            let offices = offices
                .iter()
                .map(|o| {
                    Crpcen::parse(o).with_context(|| format!("--offices: {o:?} is not a CRPCEN"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let credentials = sesame_server::provision_admin(
                &config,
                &name,
                role,
                offices,
                &out,
                Arc::new(SystemClock),
            )
            .await?;
            println!(
                "Administrator {name} ({}) created; credentials written to {}",
                role.as_str(),
                out.display()
            );
            println!(
                "Give that file to the administrator: sesamectl --credentials FILE (server {})",
                credentials.server
            );
            Ok(())
        }
    }
}
