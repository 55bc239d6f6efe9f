//! [`Slot`]: the passwords of one person's session, in memory only. Each session has its own,
//! so that two sessions can never erase or use each other's passwords; the drive reads it and
//! wipes it when the machine says the passwords are no longer needed, and it is wiped when the
//! session ends.

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
