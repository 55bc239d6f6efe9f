//! The names of audit actions across versions. Records are hash-chained, so a record is never
//! rewritten: a name the vocabulary replaced stays in the records written before, and readers
//! show the current name through [`current_name`]. The server writes current names only.
//!
//! The vocabulary: a rotation is opened (`rotation.open`, `rotation.open_periodic`), closed
//! (`rotation.complete`, `rotation.fail`, `rotation.expire`, `rotation.cancel`), and an agent's
//! step report is recorded (`rotation.report.<step>`); "provisional" names only what concerns the
//! secret itself (`provisional.export`, `provisional.letters`, `provisional.deliver`). An
//! administrator's web sign-in: its credentials (`admin.web_password.set`, `admin.totp.enrol`,
//! `admin.totp.confirm`) and its sessions (`web.sign_in`, `web.sign_in.fail`, `web.sign_out`,
//! `web.session.revoke`).

/// Old names and the names that replaced them.
pub const RENAMED: &[(&str, &str)] = &[
    ("provisional.issue", "rotation.open"),
    ("rotation.pending", "rotation.report.pending"),
    ("rotation.started", "rotation.report.started"),
    ("rotation.changed", "rotation.report.changed"),
    ("rotation.verified", "rotation.report.verified"),
    ("rotation.completed", "rotation.report.completed"),
    ("rotation.failed", "rotation.report.failed"),
];

/// The current name of a stored action (itself when it was never renamed).
pub fn current_name(stored: &str) -> &str {
    RENAMED.iter().find(|(old, _)| *old == stored).map_or(stored, |(_, new)| new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_read_as_the_current_ones_and_others_are_kept() {
        assert_eq!(current_name("provisional.issue"), "rotation.open");
        assert_eq!(current_name("rotation.completed"), "rotation.report.completed");
        assert_eq!(current_name("rotation.complete"), "rotation.complete");
        assert_eq!(current_name("office.create"), "office.create");
        for (old, new) in RENAMED {
            assert!(RENAMED.iter().all(|(o, _)| o != new), "{new} is itself renamed");
            assert_ne!(old, new);
        }
    }
}
