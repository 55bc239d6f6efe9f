//! [`Slot`]: the passwords of one person's session, in memory only. Each session has its own,
//! so that two sessions can never erase or use each other's passwords. The session hands it to
//! the actor with its request; the drive of that request reads it (its OWA task gets copies),
//! wipes it when the machine says the passwords are no longer needed, and drops (so wipes) it
//! when the drive ends.

use secrecy::SecretString;

/// One session's passwords, in memory only; wiped when the machine no longer needs them and
/// when the session ends (the `SecretString`s zeroize on drop).
#[derive(Default)]
pub(super) struct Slot {
    /// The provisional or current password typed by the person.
    pub old: Option<SecretString>,
    /// The new password.
    pub new: Option<SecretString>,
}

impl Slot {
    /// Drops (and so wipes) both passwords.
    pub(super) fn wipe(&mut self) {
        self.old = None;
        self.new = None;
    }
}
