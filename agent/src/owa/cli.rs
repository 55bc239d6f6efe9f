//! `sesame-agent owa-check`, `owa-change`, `owa-capture` and `owa-readiness`: the OWA client by
//! hand, without a Sesame server.
//!
//! `owa-check` is what an administrator runs on the first office before a roll-out: it logs in
//! once and reports what it found, changing nothing. `owa-change` is the letter's procedure
//! (current password, new password twice, the change, the verifying login, the log-off) for a
//! workstation without an enrolled agent, in French like the letter. Passwords are read without
//! echo from the terminal, or one per line from standard input when it is not a terminal (for
//! scripts). Each outcome has its own exit code ([`OwaExit`]), listed in the README. On a server
//! asking for `DOMAIN\user` names, both take the mailbox's logon name (`--logon-name`); without
//! one they stop before sending any password. `owa-readiness` is the anonymous look the service
//! reports with its check-ins (`owa::readiness`), printed for an administrator.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use sesame_base::clock::SharedClock;
use sesame_base::password_rule::PasswordRule;
use url::Url;
use zeroize::Zeroizing;

use crate::owa::client::{ChangeOutcome, LoginOutcome, LogonFormat, OwaClient, OwaError, OwaLogon};
use crate::owa::http::HttpSettings;
use crate::owa::url::OwaEndpoint;

/// How a command ended, as its process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwaExit {
    /// Done: changed and verified (`owa-change`), or the credentials work (`owa-check`).
    Success = 0,
    /// A network, certificate or safety error; nothing was changed.
    Error = 1,
    /// Refused on this machine before anything was sent (bad arguments, the new password breaks
    /// the rule, the two entries differ).
    RefusedLocally = 2,
    /// The current password was refused (or the account is locked, or the change page is off).
    WrongCurrentPassword = 3,
    /// Exchange refused the new password (policy, history or minimum age).
    RejectedByPolicy = 4,
    /// Exchange found the two new passwords different.
    ConfirmationMismatch = 5,
    /// The account is locked.
    LockedOut = 6,
    /// The server cannot do this (not forms-based, no expired-password page, `DOMAIN\user`).
    Unavailable = 7,
    /// The change was sent but its result is unknown: check by logging in to OWA by hand.
    Unknown = 8,
}

impl OwaExit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Which OWA server the commands talk to, and how.
#[derive(Debug, Clone)]
pub struct OwaServer {
    /// The OWA address, e.g. `https://mail.example.fr/owa`.
    pub url: String,
    /// A PEM file of CAs to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The `Accept-Language` sent.
    pub accept_language: String,
    /// The longest one request may take.
    pub timeout: Duration,
    /// An HTTP proxy to tunnel through.
    pub proxy: Option<String>,
}

/// A mailbox on an OWA server.
#[derive(Debug, Clone)]
pub struct OwaTarget {
    /// The server.
    pub server: OwaServer,
    /// The mailbox address, `Nom.Prenom@CRPCEN.mailnot.fr`.
    pub user: String,
    /// The mailbox's logon name (`DOMAIN\user`), for servers that ask for one.
    pub logon_name: Option<String>,
}

impl OwaTarget {
    /// Who logs in.
    pub fn logon(&self) -> OwaLogon {
        OwaLogon::new(self.user.clone(), self.logon_name.clone())
    }
}

/// Reads passwords.
pub trait SecretInput {
    /// Shows `label` and reads one password.
    fn read(&mut self, label: &str) -> io::Result<SecretString>;
}

/// Reads from the terminal without echo.
#[derive(Debug, Default)]
pub struct TerminalInput;

impl SecretInput for TerminalInput {
    fn read(&mut self, label: &str) -> io::Result<SecretString> {
        let typed = Zeroizing::new(rpassword::prompt_password(label)?);
        Ok(SecretString::from(typed.as_str()))
    }
}

/// Reads one password per line (standard input when it is not a terminal).
#[derive(Debug)]
pub struct LineInput<R>(pub R);

impl<R: BufRead> SecretInput for LineInput<R> {
    fn read(&mut self, label: &str) -> io::Result<SecretString> {
        let mut line = Zeroizing::new(String::new());
        if self.0.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("standard input ended before: {}", label.trim_end_matches([' ', ':'])),
            ));
        }
        Ok(SecretString::from(line.trim_end_matches(['\r', '\n'])))
    }
}

/// The client for `server`; when it cannot be built, says why after `prefix` and gives the exit.
fn client(
    server: &OwaServer,
    clock: SharedClock,
    out: &mut dyn Write,
    prefix: &str,
) -> Result<OwaClient, OwaExit> {
    build_client(server, clock).map_err(|error| {
        line(out, &format!("{prefix} {error}"));
        OwaExit::RefusedLocally
    })
}

/// The endpoint, the extra CAs from `--ca-file` and the transport settings, checked.
fn build_client(server: &OwaServer, clock: SharedClock) -> Result<OwaClient, String> {
    let endpoint = OwaEndpoint::parse(&server.url).map_err(|e| e.to_string())?;
    OwaClient::new(endpoint, &settings(server)?, clock).map_err(|e| e.to_string())
}

/// The transport settings: the extra CAs from `--ca-file`, the language, the timeout, the proxy.
fn settings(server: &OwaServer) -> Result<HttpSettings, String> {
    let mut extra_roots = Vec::new();
    if let Some(path) = &server.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            extra_roots.push(cert.map_err(|e| format!("{}: {e}", path.display()))?);
        }
        if extra_roots.is_empty() {
            return Err(format!("{}: no certificate in this file", path.display()));
        }
    }
    Ok(HttpSettings {
        accept_language: server.accept_language.clone(),
        extra_roots,
        request_timeout: server.timeout,
        proxy: match &server.proxy {
            Some(proxy) => Some(Url::parse(proxy).map_err(|e| format!("--proxy: {e}"))?),
            None => None,
        },
        ..HttpSettings::default()
    })
}

fn line(out: &mut dyn Write, text: &str) {
    // A closed standard output must not hide the exit code.
    let _ = writeln!(out, "{text}");
}

/// `owa-check`: one login, a look at the expired-password page, the log-off; nothing changed.
pub async fn owa_check(
    target: &OwaTarget,
    input: &mut dyn SecretInput,
    out: &mut dyn Write,
    clock: SharedClock,
) -> OwaExit {
    let mut client = match client(&target.server, clock, out, "error:") {
        Ok(client) => client,
        Err(exit) => return exit,
    };
    let password = match input.read("Password: ") {
        Ok(password) => password,
        Err(error) => {
            line(out, &format!("error: {error}"));
            return OwaExit::RefusedLocally;
        }
    };
    let (outcome, seen) = match client.check(&target.logon(), &password).await {
        Ok(found) => found,
        Err(error @ (OwaError::LogonNameMissing | OwaError::LogonNameNotDomainUser)) => {
            line(out, &format!("error: {error}"));
            line(out, "Give the mailbox's logon name with --logon-name 'DOMAIN\\user'.");
            return OwaExit::Unavailable;
        }
        Err(error) => {
            line(out, &format!("error: {error}"));
            return OwaExit::Error;
        }
    };
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not checked",
    };
    line(out, &format!("OWA server:             {}", target.server.url));
    line(out, &format!("Forms-based logon:      {}", yes_no(seen.forms_based)));
    let format = match seen.logon_format {
        Some(LogonFormat::FullDomain) => {
            "DOMAIN\\user (FullDomain): e-mail addresses cannot change".to_owned()
        }
        Some(format) => format.to_string(),
        None => "unknown".to_owned(),
    };
    line(out, &format!("User name format:       {format}"));
    line(
        out,
        &format!("Page language:          {}", seen.language.as_deref().unwrap_or("unknown")),
    );
    line(out, &format!("Exchange version hint:  {}", seen.version.as_deref().unwrap_or("none")));
    if let Some(server) = &seen.front_end {
        line(out, &format!("Front-end server:       {server}"));
    }
    line(out, &format!("Expired-password page:  {}", yes_no(seen.expired_password_page)));
    let logon = target.logon();
    let posted = logon.user_for(seen.logon_format).unwrap_or(&logon.address);
    line(out, &format!("Login as {posted}:  {outcome}"));
    match outcome {
        LoginOutcome::LoggedIn | LoginOutcome::MustChangePassword => OwaExit::Success,
        LoginOutcome::BadCredentials => {
            line(
                out,
                "The password was refused. Exchange answers the same for a locked account, and for \
                 a password that must change when the expired-password page is switched off \
                 (ChangeExpiredPasswordEnabled).",
            );
            OwaExit::WrongCurrentPassword
        }
        LoginOutcome::NotFormsBased(_) | LoginOutcome::ServerError(_) => OwaExit::Unavailable,
    }
}

/// `owa-capture`: the logon and expired-password pages as the server sends them, in French and in
/// English, written to `dir` as fixtures (`logon.fr-FR.html`, …). No credential is sent.
pub async fn owa_capture(
    server: &OwaServer,
    dir: &Path,
    out: &mut dyn Write,
    clock: SharedClock,
) -> OwaExit {
    if let Err(error) = std::fs::create_dir_all(dir) {
        line(out, &format!("error: {}: {error}", dir.display()));
        return OwaExit::RefusedLocally;
    }
    for language in ["fr-FR", "en-US"] {
        let server = OwaServer { accept_language: language.to_owned(), ..server.clone() };
        let mut client = match client(&server, clock.clone(), out, "error:") {
            Ok(client) => client,
            Err(exit) => return exit,
        };
        let pages = match client.capture().await {
            Ok(Ok(pages)) => pages,
            Ok(Err(outcome)) => {
                line(out, &format!("nothing to capture: {outcome}"));
                return OwaExit::Unavailable;
            }
            Err(error) => {
                line(out, &format!("error: {error}"));
                return OwaExit::Error;
            }
        };
        for page in pages {
            let path = dir.join(format!("{}.{language}.html", page.name));
            if let Err(error) = std::fs::write(&path, &page.body) {
                line(out, &format!("error: {}: {error}", path.display()));
                return OwaExit::RefusedLocally;
            }
            line(
                out,
                &format!(
                    "{}: HTTP {}, {} bytes from {}",
                    path.display(),
                    page.status,
                    page.body.len(),
                    page.url
                ),
            );
        }
    }
    OwaExit::Success
}

/// `owa-change`: the letter's procedure, in French.
pub async fn owa_change(
    target: &OwaTarget,
    rule: &PasswordRule,
    input: &mut dyn SecretInput,
    out: &mut dyn Write,
    clock: SharedClock,
) -> OwaExit {
    let mut client = match client(&target.server, clock, out, "Erreur :") {
        Ok(client) => client,
        Err(exit) => return exit,
    };
    line(out, "Rappel : votre clé REAL doit rester débranchée jusqu'à la fin du changement.");
    let entries = input.read("Mot de passe actuel : ").and_then(|current| {
        let new = input.read("Nouveau mot de passe : ")?;
        let confirmation = input.read("Confirmer le nouveau mot de passe : ")?;
        Ok((current, new, confirmation))
    });
    let (current, new, confirmation) = match entries {
        Ok(entries) => entries,
        Err(error) => {
            line(out, &format!("Erreur : {error}"));
            return OwaExit::RefusedLocally;
        }
    };
    if new.expose_secret() != confirmation.expose_secret() {
        line(
            out,
            "Les deux saisies du nouveau mot de passe sont différentes. Rien n'a été envoyé.",
        );
        return OwaExit::RefusedLocally;
    }
    let violations = rule.check_new(new.expose_secret(), current.expose_secret());
    if !violations.is_empty() {
        line(out, "Le nouveau mot de passe ne convient pas. Il doit comporter :");
        for violation in violations {
            line(out, &format!("  - {violation}"));
        }
        line(out, "Rien n'a été envoyé.");
        return OwaExit::RefusedLocally;
    }
    let outcome = match client.change_password(&target.logon(), &current, &new).await {
        Ok(outcome) => outcome,
        Err(OwaError::LogonNameMissing | OwaError::LogonNameNotDomainUser) => {
            line(
                out,
                "Ce serveur de messagerie demande un identifiant de la forme DOMAINE\\utilisateur \
                 (option --logon-name), et aucun identifiant de cette forme n'est indiqué. Aucun \
                 mot de passe n'a été envoyé ; votre mot de passe n'a pas changé.",
            );
            return OwaExit::Unavailable;
        }
        Err(OwaError::NotAscii) => {
            line(
                out,
                "Le mot de passe contient un caractère que la messagerie ne peut pas recevoir.",
            );
            return OwaExit::RefusedLocally;
        }
        Err(error) => {
            line(out, &format!("Erreur : {error}"));
            line(out, "Votre mot de passe n'a pas été changé.");
            return OwaExit::Error;
        }
    };
    let (exit, message) = match &outcome {
        ChangeOutcome::ChangedAndVerified => (
            OwaExit::Success,
            "Votre mot de passe a été changé et vérifié. Outlook va vous demander le nouveau mot \
             de passe : saisissez-le, puis rebranchez votre clé REAL."
                .to_owned(),
        ),
        ChangeOutcome::RejectedByPolicy => (
            OwaExit::RejectedByPolicy,
            "La messagerie a refusé le nouveau mot de passe (trop proche d'un ancien, déjà \
             changé récemment, ou règles du domaine). Votre mot de passe n'a pas changé."
                .to_owned(),
        ),
        ChangeOutcome::WrongCurrentPassword => (
            OwaExit::WrongCurrentPassword,
            "Le mot de passe actuel a été refusé (ou le compte est verrouillé). Votre mot de passe \
             n'a pas changé. Ne réessayez pas plusieurs fois : contactez votre support."
                .to_owned(),
        ),
        ChangeOutcome::ConfirmationMismatch => (
            OwaExit::ConfirmationMismatch,
            "La messagerie a trouvé les deux saisies différentes. Votre mot de passe n'a pas \
             changé."
                .to_owned(),
        ),
        ChangeOutcome::LockedOut => (
            OwaExit::LockedOut,
            "Le compte est verrouillé. Votre mot de passe n'a pas changé : contactez votre \
             support."
                .to_owned(),
        ),
        ChangeOutcome::Unavailable(reason) => (
            OwaExit::Unavailable,
            format!("Le changement n'est pas possible sur ce serveur ({reason}). Rien n'a changé."),
        ),
        ChangeOutcome::Unknown(reason) => (
            OwaExit::Unknown,
            format!(
                "Le résultat du changement est incertain ({reason}). Ne recommencez pas : \
                 connectez-vous à OWA avec le nouveau mot de passe pour vérifier, ou contactez \
                 votre support."
            ),
        ),
    };
    line(out, &message);
    exit
}

/// `owa-readiness`: the anonymous look at the server (no credential sent), printed. Exits
/// [`OwaExit::Success`] when a rotation can succeed there for a mailbox with a logon name where one is
/// needed, [`OwaExit::Unavailable`] when the server answered but is not usable, [`OwaExit::Error`] when it
/// could not be reached or its certificate was refused.
pub async fn owa_readiness(server: &OwaServer, out: &mut dyn Write, clock: SharedClock) -> OwaExit {
    let settings = match settings(server) {
        Ok(settings) => settings,
        Err(error) => {
            line(out, &format!("error: {error}"));
            return OwaExit::RefusedLocally;
        }
    };
    let look = crate::owa::readiness(&server.url, &settings, clock).await;
    line(out, &look.to_string());
    if look.ready_for(true) {
        OwaExit::Success
    } else if look.reachable && look.certificate_valid {
        OwaExit::Unavailable
    } else {
        OwaExit::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_one_per_password_without_their_ends() {
        let mut input = LineInput(io::Cursor::new(b"first\r\nsecond\n".to_vec()));
        assert_eq!(input.read("a").unwrap().expose_secret(), "first");
        assert_eq!(input.read("b").unwrap().expose_secret(), "second");
        let error = input.read("Nouveau mot de passe : ").unwrap_err();
        assert!(error.to_string().contains("Nouveau mot de passe"), "{error}");
    }

    #[test]
    fn exit_codes_are_distinct() {
        let all = [
            OwaExit::Success,
            OwaExit::Error,
            OwaExit::RefusedLocally,
            OwaExit::WrongCurrentPassword,
            OwaExit::RejectedByPolicy,
            OwaExit::ConfirmationMismatch,
            OwaExit::LockedOut,
            OwaExit::Unavailable,
            OwaExit::Unknown,
        ];
        let mut codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        codes.dedup();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
