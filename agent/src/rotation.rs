//! The rotation state machine: one mailbox's password change on this workstation, as pure data and
//! one pure function, [`handle`] (`rotation::machine`), with no input or output of its own.
//!
//! The service feeds it [`Event`]s (the server delivered a rotation, the person asked for a change,
//! OWA answered, the key came or went, the service restarted...) and executes the [`Command`]s it
//! returns, in order: journal a record, call OWA, probe, queue a report, tell the person. Nothing
//! here knows protobuf, sockets or files; its [`Step`] and [`FailureReason`] are the ones the
//! server and the local socket share (`sesame_base::rotation`); the uplink converts them and
//! [`KeyEvidence`] to the wire types, the journal ([`crate::journal`]) keeps [`Rotation`]
//! snapshots, the outbox ([`crate::outbox`]) keeps the reports.
//!
//! # Rules
//! - **Journal before acting.** Whenever the state changes, the first command is
//!   [`Command::Journal`] with the new snapshot, before any OWA call, probe or report. When the
//!   journal cannot be written the service stops executing that batch and feeds
//!   [`Event::JournalFailed`]: no OWA call follows an unwritten intent.
//! - **The key gate.** A change never starts while the clé REAL is present. Plugged in during a
//!   step, the step finishes, no new step starts, and the person is told.
//! - **One change post per attempt, never blindly repeated.** A second [`Command::CallOwaChange`]
//!   needs a new request from the person after a refusal, an unavailable OWA (nothing was sent)
//!   or a reconciliation that found nothing changed. A new password OWA refused is never submitted
//!   again; after [`MAX_REFUSALS`] refusals the rotation parks as `Failed(NeedsHuman)`.
//! - **Crash recovery with at most one probe.** After a restart (or an ambiguous answer) in the
//!   middle of a change: provisional kind, one probe (does the provisional password still reach
//!   the expired-password page? yes: nothing changed, back to ready; no: changed, pending
//!   verification, for which the person types the new password again); periodic kind, the person
//!   is asked. A restart during a probe or an unproven verification parks as `Failed(NeedsHuman)`
//!   rather than risk another failed logon.
//! - **Who acted.** The account whose session asked for the change is journaled
//!   (`started_by`) and named by every report that follows, including the steps the service takes
//!   alone afterwards (the key plugged back in, a reconciliation after a restart); who may ask
//!   at all is [`access`]'s rule, applied by the service before any event.
//! - **Refused current passwords.** Each one is counted for its day in the journaled state; a
//!   change is not sent past [`limit::may_send`] (one a day, below the lockout threshold).
//! - **No secret in the state.** The provisional password is kept only as a salted SHA-256
//!   [`Verifier`]; the new password only as an in-memory [`Fingerprint`] (keyed by a per-process
//!   random key, never serialised) so that a refused one is recognised.
//!
//! # States and transitions
//! | Phase (step) | Event | Next phase | Commands (after `Journal`) |
//! |---|---|---|---|
//! | — | delivery ([`Rotation::new`]) | Ready (Pending) | Report(Pending) |
//! | Ready, Failed(retryable) | ChangeRequested, key absent, typed ok, new not refused, no current password refused today ([`limit`]) | Changing (Started), `started_by` the asking account | Report(Started, evidence), CallOwaChange, Tell(Changing) |
//! | Ready, Failed(retryable) | ChangeRequested, key present / typo / refused new / a current password refused today | unchanged | Tell(why), nothing journaled |
//! | Changing | OwaChanged{verified} | AwaitingKey (Verified), or Completed if the key is in | Report(Changed, Verified[, Completed]), Tell(ReenterInOutlook…) |
//! | Changing | OwaChanged{not verified}, key absent | Verifying{known} (Changed) | Report(Changed), CallOwaVerify |
//! | Changing | OwaChanged{not verified}, key present | Changed | Report(Changed), Tell(KeyPlugged…) |
//! | Changing | OwaRefused(r) | Failed(r), or Failed(NeedsHuman) at the 3rd refusal or a lockout | Report(Failed), Tell |
//! | Changing | OwaUnavailable(r) (nothing sent) | Failed(r) | Report(Failed), Tell |
//! | Changing | OwaAmbiguous / Restarted | reconcile (below) | |
//! | reconcile, provisional, no probe spent | — | Probing (Started) | Probe |
//! | reconcile, provisional, probe spent | — | Failed(NeedsHuman) | Report(Failed), Tell |
//! | reconcile, periodic | — | AwaitingAnswer (Started) | Tell(DidYouChange) |
//! | Probing | ProbeResult(StillExpired) | Ready (Pending) | Report(Pending), Tell(NothingChanged) |
//! | Probing | ProbeResult(Refused) | Verifying{known} or Changed | Report(Changed), CallOwaVerify or AskPersonForNewPassword |
//! | Probing | ProbeResult(Inconclusive) (no logon made) | Unsettled | Tell; next ChangeRequested or restart reconciles again |
//! | Probing | Restarted | Failed(NeedsHuman) | Report(Failed), Tell |
//! | AwaitingAnswer | PersonSaysUnchanged | Ready (Pending) | Report(Pending), Tell(NothingChanged) |
//! | AwaitingAnswer | VerifyRequested, key absent | Verifying{unknown} (Started) | CallOwaVerify |
//! | Changed | KeyRemoved / VerifyRequested, key absent, password known | Verifying{known} | CallOwaVerify |
//! | Changed | Restarted, or KeyRemoved without the password | Changed | AskPersonForNewPassword |
//! | Verifying | Verified | AwaitingKey (Verified), or Completed if the key is in | Report(Verified[, Completed]), Tell |
//! | Verifying | VerifyFailed | Failed(NeedsHuman) | Report(Failed), Tell |
//! | Verifying{known} | VerifyUnavailable / Restarted | Changed | Tell / AskPersonForNewPassword |
//! | Verifying{unknown} | VerifyUnavailable | AwaitingAnswer | Tell |
//! | Verifying{unknown} | Restarted | Failed(NeedsHuman) | Report(Failed), Tell |
//! | AwaitingKey | KeyInserted | Completed | Report(Completed), Tell(Completed) |
//! | Changing, Verifying, Probing | KeyInserted | unchanged: the step in flight finishes | none; its outcome tells the person |
//! | Changed | KeyInserted | Changed | Tell(KeyPluggedDuringChange) |
//! | Ready, Failed(retryable) | Cancelled | Failed(Cancelled) | Report(Failed) when the person cancelled |
//! | any | JournalFailed | Changing → Failed(LocalStorage); Verifying → before it; Probing → Unsettled | Tell(LocalStorage), nothing journaled or reported |
//!
//! Events that do not apply to the current phase change nothing (a late OWA answer, a duplicate
//! key event). A server cancellation while a change may be in flight is ignored: the step
//! finishes and its reports are rejected by the server.
//!
//! # Driving it
//! ```ignore
//! let (next, commands) = rotation::handle(current, event, clock.now());
//! for command in commands {
//!     match command {
//!         Command::Journal(record) => {
//!             if journal.record(&record).is_err() {
//!                 // stop this batch: nothing after an unwritten record may happen
//!                 let (next, commands) = rotation::handle(next, Event::JournalFailed, clock.now());
//!                 /* execute `commands` (only TellPerson) */
//!                 break;
//!             }
//!         }
//!         Command::CallOwaChange => spawn_owa_change(&next),   // feeds OwaChanged/OwaRefused/...
//!         Command::CallOwaVerify => spawn_owa_verify(&next),   // feeds Verified/VerifyFailed/...
//!         Command::Probe(kind) => spawn_probe(&next, kind),    // feeds ProbeResult
//!         Command::Report(draft) => outbox.push(draft)?,
//!         Command::TellPerson(message) => local.tell(&next.id, message),
//!         Command::AskPersonForNewPassword => local.ask_new_password(&next.id),
//!         Command::ForgetPasswords => secrets.remove(&next.id),
//!     }
//! }
//! ```
//! On start the service opens the journal, feeds [`Event::Restarted`] to each rotation, then the
//! current key state ([`Event::KeyInserted`] when the key is in).

pub mod access;
pub mod limit;
mod machine;
mod secret;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use sesame_base::rotation::{FailureReason, Step};
use sesame_local::account::LocalAccount;
use time::OffsetDateTime;

pub use sesame_base::ids::RotationId;

pub use machine::handle;
pub use secret::{Fingerprint, FingerprintKey, Verifier};

/// OWA refusals after which the rotation parks as `Failed(NeedsHuman)`.
pub const MAX_REFUSALS: u32 = 3;

/// Why the rotation exists: a provisional password from the server, or the periodic change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationKind {
    /// The server issued a provisional password; the person types it from the letter.
    Provisional,
    /// The period ran out; the person types the current personal password.
    Periodic,
}

/// How the absence of the clé REAL was established before a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyEvidence {
    /// The agent saw no REAL key on the USB bus.
    ObservedAbsent {
        /// When.
        at: OffsetDateTime,
    },
    /// The agent could not see the bus; the person confirmed they had unplugged the key.
    PersonConfirmed {
        /// When.
        at: OffsetDateTime,
        /// Why the agent could not see (no password, plain words).
        detail: String,
    },
}

/// The key as the service found it when the person asked for something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyGate {
    /// Out, with the evidence.
    Absent(KeyEvidence),
    /// In: nothing may start.
    Present,
}

/// Where a rotation stands locally: finer than [`Step`] (see the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Waiting for the person (step Pending).
    Ready,
    /// The change post is (about to be) sent; its answer is awaited (Started).
    Changing,
    /// A change post may have left and its outcome is unknown; reconciliation not running
    /// (Started). `probe_spent`: the one probe was used.
    Unsettled {
        /// The one probe was already used.
        probe_spent: bool,
    },
    /// The one probe is running (Started).
    Probing,
    /// Periodic kind: the person is asked whether they changed it (Started).
    AwaitingAnswer,
    /// Changed on Exchange, not yet verified (Changed).
    Changed,
    /// A logon with the new password is running. `known_change`: OWA (or a probe) said it
    /// changed (Changed); otherwise it is what tells (Started).
    Verifying {
        /// OWA or the probe said the password changed.
        known_change: bool,
    },
    /// Verified; waiting for the key to come back (Verified).
    AwaitingKey,
    /// Done (Completed).
    Completed,
    /// Stopped (Failed).
    Failed(FailureReason),
}

impl Phase {
    /// The step the server is told for this phase.
    pub fn step(self) -> Step {
        match self {
            Phase::Ready => Step::Pending,
            Phase::Changing
            | Phase::Unsettled { .. }
            | Phase::Probing
            | Phase::AwaitingAnswer
            | Phase::Verifying { known_change: false } => Step::Started,
            Phase::Changed | Phase::Verifying { known_change: true } => Step::Changed,
            Phase::AwaitingKey => Step::Verified,
            Phase::Completed => Step::Completed,
            Phase::Failed(reason) => Step::Failed(reason),
        }
    }
}

/// What the service remembers only while it runs (never journaled, reset by a restart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// The key was seen plugged in (last key event).
    pub key_present: bool,
    /// The new password of the attempt in progress, as a fingerprint: the service holds it.
    pub new_password: Option<Fingerprint>,
    /// New passwords OWA refused in this run: never submitted again.
    pub rejected: Vec<Fingerprint>,
}

/// One rotation on this workstation: what the journal keeps (no password, see [`Verifier`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// The server's rotation id.
    pub id: RotationId,
    /// The mailbox address.
    pub mailbox: String,
    /// Provisional or periodic.
    pub kind: RotationKind,
    /// Where it stands.
    pub phase: Phase,
    /// Change posts sent so far.
    pub attempts: u32,
    /// OWA refusals so far.
    pub refusals: u32,
    /// The provisional password's salted verifier (provisional kind).
    pub provisional: Option<Verifier>,
    /// How the key's absence was established for the current attempt.
    pub evidence: Option<KeyEvidence>,
    /// When the phase last changed.
    pub updated_at: OffsetDateTime,
    /// The local account bound to the mailbox on this workstation, as the server last said
    /// (`None`: not bound yet; see [`access`]).
    #[serde(default)]
    pub bound: Option<LocalAccount>,
    /// The local account whose session started the current (or last) change: it alone may answer
    /// for it after an interruption, and the reports of steps taken afterwards name it.
    #[serde(default)]
    pub started_by: Option<LocalAccount>,
    /// Current (or provisional) passwords Exchange refused on one day (see [`limit`]).
    #[serde(default)]
    pub refused_current: Option<limit::RefusedOn>,
    /// In-memory facts (skipped by serde).
    #[serde(skip)]
    pub memory: Memory,
}

impl Rotation {
    /// The step the server is told.
    pub fn step(&self) -> Step {
        self.phase.step()
    }

    /// A rotation the server just delivered: journaled, then reported Pending.
    pub fn new(delivery: Delivery, now: OffsetDateTime) -> (Rotation, Vec<Command>) {
        machine::deliver(delivery, now)
    }
}

/// A rotation as the server delivered it (the provisional password already reduced to its
/// verifier; the service keeps the password itself in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The server's rotation id.
    pub id: RotationId,
    /// The mailbox address.
    pub mailbox: String,
    /// Provisional or periodic.
    pub kind: RotationKind,
    /// The provisional password's verifier (provisional kind).
    pub provisional: Option<Verifier>,
    /// The local account bound to the mailbox here, if any.
    pub bound: Option<LocalAccount>,
}

/// Why OWA refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The new password (policy, history, minimum age).
    NewPassword,
    /// The current or provisional password.
    CurrentPassword,
    /// The account is locked.
    LockedOut,
}

/// What the one reconciliation probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The provisional password still reaches the expired-password page: nothing changed.
    StillExpired,
    /// The provisional password is refused: it changed.
    Refused,
    /// No logon was made (OWA unreachable, untrusted...): the probe is not spent.
    Inconclusive(FailureReason),
}

/// Which probe to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Log in with the provisional password and see whether Exchange still asks for a change;
    /// log off, change nothing.
    ProvisionalStillExpired,
}

/// Who cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledBy {
    /// The person gave up (reported to the server).
    Person,
    /// The server no longer lists the rotation (not reported).
    Server,
}

/// What happened, as the service saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server delivered the rotation again (after a restart, say).
    Delivered {
        /// The provisional password's verifier, when the kind is provisional.
        provisional: Option<Verifier>,
        /// The local account bound to the mailbox here, as the server says now.
        bound: Option<LocalAccount>,
    },
    /// The person asked for the change, having typed the current (or provisional) password and
    /// the new one twice; the local checks passed except what the machine decides.
    ChangeRequested {
        /// The key, with the evidence when out.
        key: KeyGate,
        /// Provisional kind: the typed password matches the verifier. Periodic: true (it cannot
        /// be checked locally).
        typed_matches: bool,
        /// The new password's fingerprint (the service holds the password).
        new_password: Fingerprint,
        /// The account whose session asks.
        by: LocalAccount,
        /// The directory's lockout threshold (`[owa] lockout_threshold`; 0: none), for
        /// [`limit::may_send`].
        lockout_threshold: u32,
    },
    /// The person typed the new password again so that it can be verified (at step Changed, or
    /// when asked [`Message::DidYouChange`]); `ChangeRequested` is for Pending and Failed.
    VerifyRequested {
        /// The key, with the evidence when out.
        key: KeyGate,
        /// The new password's fingerprint.
        new_password: Fingerprint,
    },
    /// Periodic reconciliation: the person says they did not change it.
    PersonSaysUnchanged,
    /// OWA accepted the change; `verified`: the client's own verifying logon succeeded too.
    OwaChanged {
        /// A logon with the new password succeeded.
        verified: bool,
    },
    /// OWA refused the change; the password is unchanged.
    OwaRefused(Refusal),
    /// No change was attempted (unreachable, untrusted, unexpected, no logon name).
    OwaUnavailable(FailureReason),
    /// The change post left and its outcome is unknown.
    OwaAmbiguous,
    /// A logon with the new password succeeded.
    Verified,
    /// A logon with the new password was refused.
    VerifyFailed,
    /// The verifying logon could not be made (no logon sent).
    VerifyUnavailable(FailureReason),
    /// The reconciliation probe's answer.
    ProbeResult(ProbeOutcome),
    /// The clé REAL was plugged in.
    KeyInserted,
    /// The clé REAL was unplugged.
    KeyRemoved,
    /// The service started again; the rotation comes from the journal.
    Restarted,
    /// The last [`Command::Journal`] could not be written; the rest of its batch was not run.
    JournalFailed,
    /// Cancelled.
    Cancelled(CancelledBy),
}

/// A report for the outbox (it adds the report id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDraft {
    /// The rotation.
    pub rotation_id: RotationId,
    /// The step reached.
    pub step: Step,
    /// When (the agent's clock).
    pub occurred_at: OffsetDateTime,
    /// On Started: how the key's absence was established.
    pub key_evidence: Option<KeyEvidence>,
    /// Plain words for an administrator, never a password.
    pub detail: String,
    /// The account whose session made the step happen, or that started the change for a step
    /// the service took alone afterwards; `None` for a delivery or a cancellation.
    pub local_account: Option<LocalAccount>,
}

/// What the person is told (the French wording lives with the local socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Unplug the key first; nothing was started.
    RemoveKeyFirst,
    /// The typed provisional password is not the letter's; nothing was sent.
    ProvisionalMismatch,
    /// Exchange already refused a current password today: nothing was sent (see [`limit`]).
    CurrentPasswordLimit,
    /// This new password was already refused by Exchange; choose another.
    NewPasswordAlreadyRefused,
    /// Not possible at this step.
    NotNow(Step),
    /// The change is being sent.
    Changing,
    /// The key was plugged in during a step: it finishes, nothing new starts; unplug it to go on.
    KeyPluggedDuringChange,
    /// Changed and verified: enter the new password in Outlook, then plug the key back in.
    ReenterInOutlookThenPlugKey,
    /// Changed and verified with the key already in: enter the new password in Outlook.
    ReenterInOutlook,
    /// Done.
    Completed,
    /// Exchange refused (the new or the current password); tries left before an administrator
    /// is needed.
    Refused {
        /// What was refused.
        refusal: Refusal,
        /// Tries left.
        tries_left: u32,
    },
    /// OWA could not be used; nothing was changed; try again later.
    OwaUnavailable(FailureReason),
    /// An administrator must look (the outcome is unknown or the tries are spent).
    NeedsHuman,
    /// The journal could not be written; nothing was sent.
    LocalStorage,
    /// Periodic, after an interruption: did you change it? Type the new password to verify, or
    /// say it did not change.
    DidYouChange,
    /// Reconciliation: nothing changed; the person may start again.
    NothingChanged,
    /// The rotation was cancelled.
    Cancelled,
}

/// One journal entry (what the machine asks the journal, `crate::journal`, to keep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JournalRecord {
    /// The rotation as it now stands (replaces any earlier snapshot of it).
    Snapshot(Box<Rotation>),
    /// The rotation is gone (closed on the server and reported): forget it.
    Forget {
        /// Its id.
        rotation_id: RotationId,
    },
}

/// What the service must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Write this record durably before anything after it.
    Journal(JournalRecord),
    /// Post the change to OWA with the passwords the service holds; feed the outcome back.
    CallOwaChange,
    /// Log in with the new password the service holds, log off; feed the outcome back.
    CallOwaVerify,
    /// Run the one reconciliation probe; feed [`Event::ProbeResult`].
    Probe(ProbeKind),
    /// Queue a report in the outbox.
    Report(ReportDraft),
    /// Tell the person.
    TellPerson(Message),
    /// The new password is needed to verify: ask the person to type it again.
    AskPersonForNewPassword,
    /// The passwords held for this rotation are no longer needed: drop them from memory.
    ForgetPasswords,
}

impl Command {
    /// Whether this command acts outside the machine and the person's screen (and so must follow
    /// the journal record of the state it comes from).
    pub fn is_side_effect(&self) -> bool {
        matches!(
            self,
            Command::CallOwaChange
                | Command::CallOwaVerify
                | Command::Probe(_)
                | Command::Report(_)
        )
    }
}
