//! Why a sesamectl command failed, worded for the administrator who typed it (the binary prints it
//! after `sesamectl: ` and exits 1).

use crate::import::CsvError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credentials file was given or found.
    #[error(
        "no credentials: pass --credentials FILE or set SESAME_CREDENTIALS (on first start the server writes \
         DATA_DIR/admin.credentials)"
    )]
    NoCredentials,
    /// The credentials file could not be read.
    #[error(transparent)]
    Credentials(#[from] sesame_base::credentials::Error),
    /// The server could not be reached or its certificate was refused.
    #[error("cannot reach the server at {server}: {message}")]
    Connect {
        /// The server's URL.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The server refused the request.
    #[error("{}", describe_status(.0))]
    Rpc(#[from] tonic::Status),
    /// The CSV file is malformed; nothing was sent.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The command line asks for something that cannot be done; the message says what.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
    /// The audit chain is broken.
    #[error("the audit trail is BROKEN at record {seq}: {problem}")]
    AuditBroken {
        /// The first broken record.
        seq: i64,
        /// What is wrong with it.
        problem: String,
    },
    /// The chain's signed heads do not match it.
    #[error("the audit trail's signed heads do NOT match, at head {seq}: {problem}")]
    AuditHeadsBroken {
        /// The first head that does not match.
        seq: i64,
        /// What is wrong with it.
        problem: String,
    },
    /// The server's answer holds a value sesamectl cannot read (a server of another version?).
    #[error("unexpected answer from the server: {0}")]
    Response(String),
    /// The audit trail has problems: the first, then every one the server listed.
    #[error("{0}")]
    AuditProblems(String),
}

fn describe_status(status: &tonic::Status) -> String {
    use tonic::Code;
    let what = match status.code() {
        Code::InvalidArgument => "invalid request",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::Unauthenticated => "not authenticated (is the credentials file current?)",
        Code::ResourceExhausted => "too large",
        Code::Unavailable => "server unavailable",
        Code::DeadlineExceeded => "timed out",
        Code::Aborted => "aborted",
        _ => "server error",
    };
    format!("{what}: {}", status.message())
}
