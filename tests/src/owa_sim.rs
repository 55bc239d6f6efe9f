//! A simulator of Exchange 2016/2019 Outlook Web App (forms-based login, the expired-password
//! page, logoff), for end-to-end tests of the OWA client and as the `sesame-owa-sim` demo binary.
//!
//! It follows `agent/src/owa/PROTOCOL.md`: the redirect chain to `logon.aspx`, the logon form, the
//! `auth.owa` post and its 302 outcomes, the `exppw` redirect to `expiredpassword.aspx` and the
//! page's four outcomes, and `logoff.owa`. Behind the pages sits a small directory (accounts,
//! password history, minimum age, lockout) and a ground truth that tests inspect: every request,
//! every login and change attempt, every successful change.
//!
//! A simulator serves HTTPS (rustls with the ring provider) with a certificate for
//! [`SimOptions::cert_names`] signed by a [`SimCa`] that tests trust, on `127.0.0.1:0`. Hostile
//! variants ([`Behaviour`]) serve huge, endless or deeply nested pages, redirect loops, foreign
//! hosts and non-forms authentication; one-shot [`ChangeFault`]s give the change outcomes a plain
//! directory never produces (a lost answer, a false success, an unfamiliar message). Nothing reads
//! the system clock: minimum password age is moved by [`OwaSim::age_passwords`].

mod directory;
mod exchange;
mod hostile;
mod pages;
mod request;
mod response;
mod server;
mod state;
mod tls;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;

use self::server::Running;
use self::state::Shared;
pub use self::tls::SimCa;

/// How a simulator is set up. Start from `SimOptions::default()`.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The name the certificate is for and the host `url()` names. Default `owa.sesame.test`.
    /// Redirects are built from each request's `Host` header, as Exchange does.
    pub host: String,
    /// The certificate's subject alternative names. Empty (the default) means
    /// `[host, "localhost", "127.0.0.1"]`; a non-empty list is used as it is, so a test can serve
    /// a certificate that does not cover `host`.
    pub cert_names: Vec<String>,
    /// The CA signing the certificate; share one between several simulators (the real host and an
    /// "evil" one). `None`: a new CA.
    pub ca: Option<SimCa>,
    /// Normal Exchange, or one of the hostile variants.
    pub behaviour: Behaviour,
    /// The `ChangeExpiredPasswordEnabled` registry switch. Off, a login with the right password
    /// of an account that must change it answers like a wrong password (`reason=2`).
    pub change_expired_password_enabled: bool,
    /// On, a direct GET/POST of `expiredpassword.aspx` works. Off, the page answers 404 unless a
    /// login was just redirected there (an account is between its `MustChange` login and its
    /// change), like a server where `exppw` blocks direct access.
    pub direct_change_enabled: bool,
    /// The virtual directory's `LogonFormat`.
    pub logon_format: LogonFormat,
    /// The NetBIOS domain used by [`LogonFormat::FullDomain`] (`MAILNOT\Nom.Prenom`).
    pub domain: String,
    /// Bad passwords before an account is locked; 0 never locks.
    pub lockout_threshold: u32,
    /// The minimum length of a new password.
    pub min_length: usize,
    /// How many previous passwords (besides the current one) a new password may not repeat.
    pub history: usize,
    /// Texts written the way .NET's `HttpUtility.HtmlEncode` writes them: every character from
    /// U+00A0 up as a decimal reference (`é` as `&#233;`) and `'` as `&#39;`.
    pub dotnet_encoding: bool,
    /// Element ids and form field names in another case (`id="UserNameLabel"`,
    /// `name="UserName"`), which Exchange's own code reads case-insensitively.
    pub mixed_case_ids: bool,
    /// How long a change post (`POST expiredpassword.aspx`) waits before the change is made and
    /// answered, as a slow domain controller would. Zero by default.
    pub change_delay: std::time::Duration,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            host: "owa.sesame.test".to_owned(),
            cert_names: Vec::new(),
            ca: None,
            behaviour: Behaviour::Exchange,
            change_expired_password_enabled: true,
            direct_change_enabled: true,
            logon_format: LogonFormat::PrincipalName,
            domain: "MAILNOT".to_owned(),
            lockout_threshold: 5,
            min_length: 10,
            history: 5,
            dotnet_encoding: false,
            mixed_case_ids: false,
            change_delay: std::time::Duration::ZERO,
        }
    }
}

/// The virtual directory's `LogonFormat`: what the user-name field expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonFormat {
    /// "Adresse de courrier :" / "E-mail address:"; the change page takes the address as typed.
    PrincipalName,
    /// "Domaine\nom d'utilisateur :" / "Domain\user name:"; the change page takes only
    /// `DOMAIN\user` (an e-mail address fails as invalid credentials). Logins accept both.
    FullDomain,
}

/// What the simulator does: Exchange, or something hostile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Normal Exchange.
    Exchange,
    /// `GET /owa/auth/logon.aspx` answers a 50 MiB body with a `Content-Length`, streamed lazily
    /// in 64 KiB chunks.
    HugePage,
    /// The same 50 MiB body, chunked (no `Content-Length`).
    HugePageChunked,
    /// `GET /owa/auth/logon.aspx` answers 100,000 nested `<div>` (about 1 MB) and no form.
    DeepNesting,
    /// `GET /owa/auth/logon.aspx` answers 200 and its headers at once, then one body byte per
    /// second, forever.
    Drip,
    /// `GET /owa/` → 302 `/owa/auth/a.aspx` → 302 `/owa/auth/b.aspx` → 302 `/owa/auth/a.aspx` …;
    /// every request under `/owa/auth/` redirects to the next.
    RedirectLoop,
    /// `GET /owa/auth/logon.aspx` answers 302 to this absolute URL.
    RedirectTo(String),
    /// The logon form's `action` is this absolute URL.
    FormActionTo(String),
    /// The expired-password form's `action` is this absolute URL.
    ExpiredFormActionTo(String),
    /// Every request answers 401 with `WWW-Authenticate: Negotiate` and `WWW-Authenticate: NTLM`.
    NotFormsBased,
    /// `GET /owa/` answers 302 to this URL (an ADFS server); the rest is normal.
    Adfs(String),
}

/// A successful password change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The account, as it was added.
    pub user: String,
    /// True when the account did not have to change its password.
    pub direct: bool,
}

/// What a change attempt on `expiredpassword.aspx` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeResult {
    /// The password was changed.
    Changed,
    /// `newPwd1` and `newPwd2` differ.
    PasswordConflict,
    /// Unknown user, wrong user format or wrong current password.
    InvalidCredentials,
    /// The new password fails the policy (length, complexity, history, minimum age).
    InvalidNewPassword,
    /// The account is locked.
    LockedOut,
    /// The page answered without calling the directory, with an error text no client knows
    /// ([`ChangeFault::UnfamiliarMessage`]).
    Unprocessed,
}

/// What the next well-formed change post meets, once: what a real directory or network can do to
/// a change, for the tests of outcomes a plain simulator never produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeFault {
    /// The page answers as if the directory had returned this result, and nothing changes. With
    /// [`ChangeResult::Changed`] the page claims a success that did not happen (as when a domain
    /// controller lags behind), so the verifying login fails.
    Answer(ChangeResult),
    /// The page comes back with an error text no client knows, and nothing changes.
    UnfamiliarMessage,
    /// The change is made, then the answer never comes (a connection lost after the fact).
    HangAfterChange,
}

/// A POST to `expiredpassword.aspx` that carried the four fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeAttempt {
    /// The `username` field as posted.
    pub user: String,
    /// Its outcome.
    pub result: ChangeResult,
}

/// What a login POST to `auth.owa` came to, as the directory saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginResult {
    /// Right password: 302 to the destination with the cadata cookies.
    LoggedIn,
    /// Right password, the account must change it: 302 to `expiredpassword.aspx`, or, with
    /// `change_expired_password_enabled` off, the same 302 `reason=2` as a wrong password.
    MustChange,
    /// Unknown user, wrong password or locked account: 302 `reason=2`.
    BadCredentials,
    /// 400: wrong content type, chunked body, duplicate field, missing field or bad destination.
    Malformed,
}

/// A POST to `auth.owa` that carried `username` and `password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// The `username` field as posted.
    pub user: String,
    /// Its outcome.
    pub result: LoginResult,
}

/// One request as the simulator received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The method.
    pub method: String,
    /// The path and query, as sent.
    pub path_and_query: String,
    /// The `Host` header (empty when absent).
    pub host_header: String,
    /// The `User-Agent` header (empty when absent).
    pub user_agent: String,
    /// The `Accept-Language` header (empty when absent).
    pub accept_language: String,
    /// Whether Exchange would treat the client as downlevel (`agent/src/owa/PROTOCOL.md`, "Full
    /// pages or down-level pages"); a desktop Chrome or Edge on Windows NT is not, no
    /// `User-Agent` at all is.
    pub downlevel: bool,
    /// The names of the urlencoded body fields, in order (never their values); empty unless the
    /// `Content-Type` is urlencoded or absent.
    pub form_fields: Vec<String>,
    /// The body had `password`, `oldPwd`, `newPwd1` or `newPwd2` with a non-empty value (in any
    /// encoding the simulator recognises), or the request had an `Authorization` header.
    pub carried_credentials: bool,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

/// A running simulator. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct OwaSim {
    address: SocketAddr,
    scheme: &'static str,
    ca: SimCa,
    shared: Arc<Shared>,
    running: Running,
}

impl OwaSim {
    /// Starts an HTTPS simulator on `127.0.0.1:0`.
    pub async fn start(options: SimOptions) -> OwaSim {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        OwaSim::start_at(options, listener).await
    }

    /// Starts an HTTPS simulator on a bound listener.
    pub async fn start_at(options: SimOptions, listener: TcpListener) -> OwaSim {
        let ca = options.ca.clone().unwrap_or_default();
        let names = if options.cert_names.is_empty() {
            let mut names = vec![options.host.clone()];
            for name in ["localhost", "127.0.0.1"] {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    names.push(name.to_owned());
                }
            }
            names
        } else {
            options.cert_names.clone()
        };
        let acceptor = tls::acceptor(&ca, &names);
        OwaSim::launch(options, listener, ca, Some(acceptor), "https")
    }

    /// Starts a plain-HTTP simulator (no TLS) on `127.0.0.1:0`, speaking like Exchange, with host
    /// `127.0.0.1`. It records every request and every raw byte received, to prove that nothing
    /// (or what) a client sent in clear.
    pub async fn start_plain_http() -> OwaSim {
        let options = SimOptions { host: "127.0.0.1".to_owned(), ..SimOptions::default() };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        OwaSim::launch(options, listener, SimCa::default(), None, "http")
    }

    fn launch(
        options: SimOptions,
        listener: TcpListener,
        ca: SimCa,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
        scheme: &'static str,
    ) -> OwaSim {
        let address = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared::new(options));
        let running = Running::spawn(Arc::clone(&shared), listener, acceptor);
        OwaSim { address, scheme, ca, shared, running }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The host it considers its own ([`SimOptions::host`]).
    pub fn host(&self) -> &str {
        &self.shared.options.host
    }

    /// `https://{host}:{port}/owa/` (`http://` for a plain-HTTP simulator).
    pub fn url(&self) -> String {
        format!("{}://{}:{}/owa/", self.scheme, self.host(), self.address.port())
    }

    /// The CA that signed its certificate.
    pub fn ca(&self) -> &SimCa {
        &self.ca
    }

    /// Adds an account (`Nom.Prenom@12345.mailnot.fr`; matched case-insensitively), or resets the
    /// password and the must-change flag of an existing one.
    pub fn add_account(&self, user: &str, password: &str, must_change: bool) {
        self.shared.with(|s| s.directory.add(user, password, must_change));
    }

    /// Arms a fault for the next well-formed change post.
    pub fn inject_change_fault(&self, fault: ChangeFault) {
        self.shared.with(|s| s.change_fault = Some(fault));
    }

    /// Whether an account is locked (false for an unknown one).
    pub fn is_locked(&self, user: &str) -> bool {
        self.shared.with(|s| s.directory.is_locked(user))
    }

    /// The minimum password age has passed for everyone: each account may change its password
    /// once more.
    pub fn age_passwords(&self) {
        self.shared.with(|s| s.directory.age_passwords());
    }

    /// An account's current password.
    pub fn password_of(&self, user: &str) -> Option<String> {
        self.shared.with(|s| s.directory.password_of(user))
    }

    /// Whether an account must change its password (false for an unknown one).
    pub fn must_change(&self, user: &str) -> bool {
        self.shared.with(|s| s.directory.must_change(user))
    }

    /// Every successful change, in order.
    pub fn changes(&self) -> Vec<ChangeRecord> {
        self.shared.with(|s| s.changes.clone())
    }

    /// Every POST to `expiredpassword.aspx` that carried the four fields, with its result.
    pub fn change_attempts(&self) -> Vec<ChangeAttempt> {
        self.shared.with(|s| s.attempts.clone())
    }

    /// Every POST to `auth.owa` that carried `username` and `password`, with its result.
    pub fn logins(&self) -> Vec<LoginRecord> {
        self.shared.with(|s| s.logins.clone())
    }

    /// How many `GET /owa/logoff.owa` carried a valid session.
    pub fn logoffs(&self) -> usize {
        self.shared.with(|s| s.logoffs)
    }

    /// Every request received, in order (recorded before it is answered).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.with(|s| s.requests.clone())
    }

    /// The bytes read from all connections: after TLS decryption (the HTTP bytes), or raw for a
    /// plain-HTTP simulator. TLS handshakes are not counted.
    pub fn bytes_received(&self) -> usize {
        self.shared.bytes_received.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection and waits for the server task.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}
