//! The local protocol between `sesame-agent change|status` (the person) and the service: one JSON
//! object per line, each `{"v": 1, "msg": …}`, at most [`MAX_LINE_BYTES`] bytes, unknown fields
//! refused. The client sends [`Request`]s, the service answers [`Event`]s.
//!
//! A session: the client sends `begin`; the service answers with what it needs next
//! (`choose_mailbox`, `need_key_confirmation`, `need_passwords`), with `refused` (after which it
//! either asks again with another `need_…` event, or closes the connection), with `progress`
//! events while it works, and ends with `done` or `error`. `status` is one request, one event.
//! The person's words are rendered from these events by `texts_fr`; no French travels on
//! the wire, so the service's decisions stay typed.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sesame_base::password_rule::{DEFAULT_MIN_SCORE, PasswordRule, StrengthChecks};
use sesame_base::rotation::Step;
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use crate::password_check::{PasswordKind, PasswordProblem};
use crate::secret::LocalSecret;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line either side accepts, newline excluded.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// What the person's command asks of the service.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The key state, pending rotations and the last report (the first page of rotations).
    Status,
    /// The same, page `page` of the rotations (after a `status` answer's `next_page`).
    StatusPage {
        /// The page, from 0.
        page: u32,
    },
    /// Start a change, for this mailbox when several are assigned.
    Begin {
        /// The mailbox address (`--mailbox`), or none to let the service choose or ask.
        #[serde(default)]
        mailbox: Option<String>,
    },
    /// The three typings, after `need_passwords`.
    Passwords {
        /// The provisional password from the letter, or the current personal one (periodic).
        current_or_provisional: LocalSecret,
        /// The new personal password.
        new: LocalSecret,
        /// The new personal password again.
        confirm: LocalSecret,
    },
    /// The new password typed again, after `need_new_password`; empty when the person says it
    /// was not changed (only when the event allowed it).
    NewPassword {
        /// The new personal password.
        new: LocalSecret,
    },
    /// The next page of mailboxes to choose from, after `choose_mailbox_page` with a `next_page`.
    MoreChoices {
        /// The page, from 0.
        page: u32,
    },
    /// The person confirms the clé REAL is unplugged (after `need_key_confirmation`).
    ConfirmKeyUnplugged,
    /// The person gives up; the service ends the session.
    Cancel,
}

/// What the service tells the person's command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// The answer to `status`.
    Status(StatusReport),
    /// Several mailboxes have a rotation pending: the person picks one (`begin` again).
    ChooseMailbox(Vec<MailboxChoice>),
    /// The same, a page at a time when the list is long: `more_choices` asks for `next_page`;
    /// the last page has none. The client gathers the pages before the person chooses.
    ChooseMailboxPage {
        /// This page's mailboxes.
        choices: Vec<MailboxChoice>,
        /// The next page, if any.
        #[serde(default)]
        next_page: Option<u32>,
    },
    /// The service cannot see the key: the person must confirm it is unplugged.
    NeedKeyConfirmation {
        /// Why the key state is unknown (technical, shown as a detail).
        reason: String,
    },
    /// The service is ready for the passwords.
    NeedPasswords {
        /// Which password the person types first.
        kind: PasswordKind,
        /// The mailbox address.
        mailbox: String,
        /// The person's name as the office knows it (may be empty).
        display_name: String,
        /// What the new password must contain.
        policy: WirePolicy,
        /// The office's name (empty: unknown, and then not sent, so that an older window still
        /// reads the line).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        office_name: String,
        /// The office's city (the same).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        office_city: String,
    },
    /// A change was interrupted and may have happened: the service needs the new password again
    /// to verify it (one logon). `may_be_unchanged`: the person may instead say it was not
    /// changed (an empty answer).
    NeedNewPassword {
        /// The mailbox address.
        mailbox: String,
        /// Whether "not changed" is a possible answer.
        may_be_unchanged: bool,
    },
    /// The service will not go on, and why.
    Refused(Refusal),
    /// A step has started or ended.
    Progress(ProgressStep),
    /// The password was changed and verified.
    Done {
        /// The mailbox.
        mailbox: String,
        /// The key was plugged back in before the end (during the change): the person still
        /// enters the password in Outlook, but has no key left to plug in.
        #[serde(default)]
        key_in: bool,
    },
    /// Something went wrong with the session itself.
    Error(ServiceError),
}

/// A mailbox the person may choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxChoice {
    /// The address.
    pub mailbox: String,
    /// The person's name (may be empty).
    pub display_name: String,
}

/// The password rule and the strength checks, as they cross the socket. The strength checks are
/// absent from the line when they are the default (all on), so that a window older than them still
/// reads it; absent when read, they are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirePolicy {
    /// Fewest characters.
    pub min_length: u32,
    /// At least one lower-case letter.
    pub require_lower: bool,
    /// At least one upper-case letter.
    pub require_upper: bool,
    /// At least one digit.
    pub require_digit: bool,
    /// At least one special character.
    pub require_special: bool,
    /// Refuse the person's words (names, office, `mailnot`, `notaire`, provisional password).
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub refuse_personal_words: bool,
    /// Refuse common passwords.
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub refuse_common_passwords: bool,
    /// The strength estimate to reach (0 to 4; more is read as 4).
    #[serde(default = "default_min_strength", skip_serializing_if = "is_default_min_strength")]
    pub min_strength: u8,
}

fn on() -> bool {
    true
}

fn is_on(value: &bool) -> bool {
    *value
}

fn default_min_strength() -> u8 {
    DEFAULT_MIN_SCORE
}

fn is_default_min_strength(value: &u8) -> bool {
    *value == DEFAULT_MIN_SCORE
}

impl WirePolicy {
    /// The rule and the strength checks of a rotation.
    pub fn new(rule: PasswordRule, checks: StrengthChecks) -> WirePolicy {
        WirePolicy {
            min_length: rule.min_length,
            require_lower: rule.require_lower,
            require_upper: rule.require_upper,
            require_digit: rule.require_digit,
            require_special: rule.require_special,
            refuse_personal_words: checks.personal_words,
            refuse_common_passwords: checks.common_passwords,
            min_strength: checks.min_score,
        }
    }

    /// The strength checks, the score capped, whatever arrives.
    pub fn strength(&self) -> StrengthChecks {
        StrengthChecks {
            personal_words: self.refuse_personal_words,
            common_passwords: self.refuse_common_passwords,
            min_score: self.min_strength,
        }
        .bounded()
    }
}

impl From<PasswordRule> for WirePolicy {
    /// The rule with the default strength checks (all on).
    fn from(rule: PasswordRule) -> Self {
        WirePolicy::new(rule, StrengthChecks::default())
    }
}

impl From<WirePolicy> for PasswordRule {
    /// Never below the letter's floor, whatever arrives.
    fn from(policy: WirePolicy) -> Self {
        PasswordRule {
            min_length: policy.min_length,
            require_lower: policy.require_lower,
            require_upper: policy.require_upper,
            require_digit: policy.require_digit,
            require_special: policy.require_special,
        }
        .with_floor()
    }
}

/// Why the service will not go on. The client's exit code follows [`Refusal::is_failure`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Refusal {
    /// The clé REAL is plugged in.
    KeyPresent {
        /// Which device was seen.
        device: String,
    },
    /// The key was plugged in during the change: the current step finished, no other started.
    KeyPluggedDuringChange,
    /// This workstation is not enrolled.
    NotEnrolled,
    /// No rotation is pending on this workstation.
    NothingPending,
    /// Several mailboxes are pending and none was given (`--mailbox`).
    MailboxRequired(Vec<MailboxChoice>),
    /// The mailbox given has no pending rotation here (or none this account may see).
    UnknownMailbox {
        /// The address given.
        mailbox: String,
    },
    /// A periodic change is due for a mailbox that no account of this workstation is bound to
    /// yet: nobody may make it until an administrator binds the account or sends a new letter.
    AccountNotBound,
    /// Exchange already refused a current password for this mailbox today: nothing is sent again
    /// before tomorrow (the directory would lock the account).
    CurrentPasswordLimit,
    /// Another change is already running.
    Busy,
    /// The provisional password typed is not the one of the letter (checked locally, nothing
    /// sent).
    ProvisionalMismatch,
    /// The new password does not fit (checked locally, nothing sent).
    Password(Vec<PasswordProblem>),
    /// The mail server refused the provisional or current password.
    CurrentPasswordRefused,
    /// The mail server refused the new password (history, minimum age, domain rules).
    NewPasswordRefused,
    /// The account is locked.
    AccountLocked,
    /// The mail server could not be reached.
    OwaUnreachable,
    /// The mail server's certificate or address is not the expected one.
    OwaUntrusted,
    /// The mail server answered in a way Sesame does not know.
    OwaUnexpected,
    /// The mail server wants `DOMAIN\user` and the mailbox has no logon name.
    LogonNameMissing,
    /// The outcome is uncertain: a person must check (support).
    NeedsHuman,
    /// The service could not write its journal, so it did not try.
    LocalStorage,
}

impl Refusal {
    /// Whether this happened at the mail server (or after it was contacted), as opposed to a
    /// local refusal before anything was sent.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Refusal::KeyPluggedDuringChange
                | Refusal::CurrentPasswordRefused
                | Refusal::NewPasswordRefused
                | Refusal::AccountLocked
                | Refusal::OwaUnreachable
                | Refusal::OwaUntrusted
                | Refusal::OwaUnexpected
                | Refusal::LogonNameMissing
                | Refusal::NeedsHuman
                | Refusal::LocalStorage
        )
    }
}

/// A step of the change, as the person sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStep {
    /// The key is plugged in; the service waits for it to be unplugged.
    WaitingForUnplug,
    /// The key is seen unplugged.
    KeyAbsent,
    /// The person's confirmation that the key is unplugged is recorded.
    KeyConfirmed,
    /// The passwords passed the local checks.
    PasswordsAccepted,
    /// Connecting to the mail server.
    Connecting,
    /// Sending the change.
    Changing,
    /// The mail server accepted the change.
    Changed,
    /// Logging in with the new password to verify it.
    Verifying,
    /// The new password works.
    Verified,
}

/// The answer to `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    /// The agent's version.
    pub agent_version: String,
    /// Whether the workstation is enrolled.
    pub enrolled: bool,
    /// The clé REAL.
    pub key: KeyStatus,
    /// The rotations this workstation holds.
    pub rotations: Vec<RotationStatus>,
    /// The last step report sent to the server, if any.
    pub last_report: Option<LastReport>,
    /// Step reports waiting to be delivered to the server.
    pub reports_waiting: u32,
    /// More rotations follow: ask for this page (`status_page`). Absent on the last page, so an
    /// older client reading a single page sees no new field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<u32>,
}

/// The key state, as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyStatus {
    /// Plugged in.
    Present {
        /// Which device.
        device: String,
    },
    /// Not plugged in.
    Absent,
    /// The service cannot tell.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// One rotation held on this workstation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationStatus {
    /// The mailbox.
    pub mailbox: String,
    /// The person's name (may be empty).
    pub display_name: String,
    /// Provisional (a letter) or periodic (current password).
    pub kind: PasswordKind,
    /// Where it stands.
    pub step: Step,
    /// When the change is due, when the server said: a periodic rotation's compliance deadline, else
    /// when the rotation expires on the server.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due: Option<OffsetDateTime>,
    /// Whether a person is changing it right now: a window or `sesame-agent change` holds a
    /// session for it, even while nothing has been sent to the mail server yet (the key gate, the
    /// passwords being typed). Only ever true in the `status` of the account whose session it is.
    #[serde(default)]
    pub in_hand: bool,
}

/// The last report sent to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastReport {
    /// When the step happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The mailbox.
    pub mailbox: String,
    /// The step reported.
    pub step: Step,
    /// Whether the server has received it.
    pub delivered: bool,
}

/// A problem with the session itself (not with the change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceError {
    /// The other side speaks another protocol version.
    UnsupportedVersion {
        /// The version this side speaks.
        supported: u32,
    },
    /// A line was longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// A line was not a valid message.
    BadMessage,
    /// The request makes no sense at this point of the session.
    UnexpectedRequest,
    /// The session waited too long for the person.
    TimedOut,
    /// The service failed; its log says why.
    Internal,
    /// The service is stopping.
    ShuttingDown,
    /// Too many sessions are open (this account's share, or in all): try again in a moment.
    TooManySessions,
}

/// One line on the wire.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<T> {
    v: u32,
    msg: T,
}

/// Only the version, read first so that another version is told apart from a bad message.
#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Why a line could not be read as a message. Carries no text of the line: it may hold a
/// password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Another protocol version.
    #[error("protocol version {0} is not supported (this side speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u32),
    /// Not valid JSON, or not a message of this version.
    #[error("the line is not a valid message")]
    BadMessage,
}

/// `msg` as one line, newline included, in a buffer wiped when dropped.
pub fn encode<T: Serialize>(msg: &T) -> Zeroizing<Vec<u8>> {
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE_BYTES));
    // Serializing these types into memory cannot fail (no maps with non-string keys).
    if serde_json::to_writer(&mut *line, &Envelope { v: PROTOCOL_VERSION, msg }).is_err() {
        line.clear();
    }
    line.push(b'\n');
    line
}

/// The message on `line` (without its newline).
pub fn decode<T: DeserializeOwned>(line: &[u8]) -> Result<T, DecodeError> {
    let version: VersionOnly = serde_json::from_slice(line).map_err(|_| DecodeError::BadMessage)?;
    if version.v != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(version.v));
    }
    let envelope: Envelope<T> =
        serde_json::from_slice(line).map_err(|_| DecodeError::BadMessage)?;
    Ok(envelope.msg)
}

#[cfg(test)]
mod tests {
    use sesame_base::rotation::FailureReason;

    use super::*;

    /// A `status` answer as agents sent it before `Step` was shared (`"verified"`,
    /// `{"failed":"cancelled"}`): the line must not change, since a window of either age reads
    /// the other's lines.
    const STATUS_LINE: &str = concat!(
        r#"{"v":1,"msg":{"status":{"agent_version":"0.1.0","enrolled":true,"key":"absent","#,
        r#""rotations":[{"mailbox":"a@1.mailnot.fr","display_name":"","kind":"current","#,
        r#""step":{"failed":"cancelled"},"due":null,"in_hand":false},"#,
        r#"{"mailbox":"a@1.mailnot.fr","display_name":"","kind":"current","#,
        r#""step":"verified","due":null,"in_hand":false}],"#,
        r#""last_report":null,"reports_waiting":0}}}"#,
    );

    /// `need_passwords` as agents sent it before the strength checks.
    const NEED_PASSWORDS_LINE: &str = concat!(
        r#"{"v":1,"msg":{"need_passwords":{"kind":"provisional","mailbox":"a.b@1.mailnot.fr","#,
        r#""display_name":"","policy":{"min_length":10,"require_lower":true,"#,
        r#""require_upper":true,"require_digit":true,"require_special":true}}}}"#,
    );

    #[test]
    fn the_strength_checks_are_on_when_absent_and_sent_only_when_not_the_default() {
        let Ok(Event::NeedPasswords { policy, office_name, .. }) =
            decode::<Event>(NEED_PASSWORDS_LINE.as_bytes())
        else {
            panic!("{NEED_PASSWORDS_LINE}")
        };
        assert_eq!(policy.strength(), StrengthChecks::default());
        assert_eq!(office_name, "");
        let event = |policy, office_name: &str| Event::NeedPasswords {
            kind: PasswordKind::Provisional,
            mailbox: "a.b@1.mailnot.fr".to_owned(),
            display_name: String::new(),
            policy,
            office_name: office_name.to_owned(),
            office_city: String::new(),
        };
        // The defaults: the line an older window reads.
        let line = encode(&event(WirePolicy::from(PasswordRule::default()), ""));
        assert_eq!(std::str::from_utf8(&line).unwrap(), format!("{NEED_PASSWORDS_LINE}\n"));
        let off = StrengthChecks { personal_words: false, common_passwords: false, min_score: 9 };
        let line = encode(&event(WirePolicy::new(PasswordRule::default(), off), "SCP Martin"));
        let Ok(Event::NeedPasswords { policy, office_name, .. }) =
            decode::<Event>(&line[..line.len() - 1])
        else {
            panic!("the line")
        };
        assert_eq!(policy.strength(), StrengthChecks { min_score: 4, ..off });
        assert_eq!(office_name, "SCP Martin");
    }

    #[test]
    fn new_password_problems_cross_the_socket() {
        use crate::personal_words::PersonalWordKind;
        let problems = vec![
            PasswordProblem::ContainsPersonalWord { kind: PersonalWordKind::OfficeNumber },
            PasswordProblem::CommonPassword,
            PasswordProblem::TooGuessable { score: 1, min: 3 },
        ];
        let line = encode(&Event::Refused(Refusal::Password(problems.clone())));
        let Ok(Event::Refused(Refusal::Password(read))) = decode::<Event>(&line[..line.len() - 1])
        else {
            panic!("the line")
        };
        assert_eq!(read, problems);
    }

    #[test]
    fn steps_keep_their_snake_case_names_on_the_wire() {
        let rotation = |step| RotationStatus {
            mailbox: "a@1.mailnot.fr".to_owned(),
            display_name: String::new(),
            kind: PasswordKind::Current,
            step,
            due: None,
            in_hand: false,
        };
        let report = StatusReport {
            agent_version: "0.1.0".to_owned(),
            enrolled: true,
            key: KeyStatus::Absent,
            rotations: vec![
                rotation(Step::Failed(FailureReason::Cancelled)),
                rotation(Step::Verified),
            ],
            last_report: None,
            reports_waiting: 0,
            next_page: None,
        };
        let line = encode(&Event::Status(report.clone()));
        assert_eq!(std::str::from_utf8(&line).unwrap(), format!("{STATUS_LINE}\n"));
        let Ok(Event::Status(read)) = decode::<Event>(STATUS_LINE.as_bytes()) else {
            panic!("{STATUS_LINE}")
        };
        assert_eq!(read, report);
        let unknown = STATUS_LINE.replace(r#""verified""#, r#""key_present""#);
        assert_eq!(decode::<Event>(unknown.as_bytes()).err(), Some(DecodeError::BadMessage));
    }
}
