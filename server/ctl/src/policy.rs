//! `sesamectl policy`: show and set the password policy, global or per office.

use std::io::Write;

use clap::Subcommand;
use clap::builder::BoolishValueParser;
use sesame_base::password_rule::DEFAULT_MIN_SCORE;
use sesame_proto::v1 as pb;

use crate::{Error, Session};

/// Password policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Shows the policy in force (of an office, or the global one).
    Show {
        /// The office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Sets the global policy, or an office's override. Unset options keep their current value.
    Set {
        /// The office (global policy without it).
        #[arg(long)]
        office: Option<String>,
        /// The changes.
        #[command(flatten)]
        changes: PolicyChanges,
    },
}

/// The options of `policy set`; each one left out keeps its current value. Switches take `on` or
/// `off` (also `true`/`false`, `yes`/`no`, `1`/`0`).
#[derive(Debug, clap::Args)]
pub struct PolicyChanges {
    /// Minimum length (at least 10).
    #[arg(long)]
    pub min_length: Option<u32>,
    /// Require a lower-case letter.
    #[arg(long, value_name = "on|off", value_parser = BoolishValueParser::new())]
    pub require_lower: Option<bool>,
    /// Require an upper-case letter.
    #[arg(long, value_name = "on|off", value_parser = BoolishValueParser::new())]
    pub require_upper: Option<bool>,
    /// Require a digit.
    #[arg(long, value_name = "on|off", value_parser = BoolishValueParser::new())]
    pub require_digit: Option<bool>,
    /// Require a special character.
    #[arg(long, value_name = "on|off", value_parser = BoolishValueParser::new())]
    pub require_special: Option<bool>,
    /// Length of generated provisional passwords.
    #[arg(long)]
    pub provisional_length: Option<u32>,
    /// Refuse a new personal password containing the person's names, the office's name, city or
    /// number, "mailnot", "notaire" or the provisional password (checked on the workstation).
    #[arg(long, value_name = "on|off", value_parser = BoolishValueParser::new())]
    pub refuse_personal_words: Option<bool>,
    /// Refuse a new personal password found in the list of common passwords.
    #[arg(long, value_name = "on|off", value_parser = BoolishValueParser::new())]
    pub refuse_common_passwords: Option<bool>,
    /// The strength score (zxcvbn) a new personal password must reach: 0 (no estimate) to 4.
    #[arg(long, value_name = "0..4", value_parser = clap::value_parser!(u32).range(0..=4))]
    pub min_strength: Option<u32>,
}

impl PolicyChanges {
    /// `current` with these changes. A check `current` does not state (a server that predates
    /// it) is sent as it stands, absent, which the server reads as on.
    fn apply(&self, current: &pb::PasswordPolicy) -> pb::PasswordPolicy {
        pb::PasswordPolicy {
            min_length: self.min_length.unwrap_or(current.min_length),
            require_lower: self.require_lower.unwrap_or(current.require_lower),
            require_upper: self.require_upper.unwrap_or(current.require_upper),
            require_digit: self.require_digit.unwrap_or(current.require_digit),
            require_special: self.require_special.unwrap_or(current.require_special),
            provisional_length: self.provisional_length.unwrap_or(current.provisional_length),
            refuse_personal_words: self.refuse_personal_words.or(current.refuse_personal_words),
            refuse_common_passwords: self
                .refuse_common_passwords
                .or(current.refuse_common_passwords),
            min_strength: self.min_strength.or(current.min_strength),
        }
    }
}

/// How a switch reads: `on` or `off`.
fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

/// Runs a policy command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: PolicyCommand,
) -> Result<(), Error> {
    match command {
        PolicyCommand::Show { office } => show(session, office).await,
        PolicyCommand::Set { office, changes } => {
            set(session, office.unwrap_or_default(), &changes).await
        }
    }
}

async fn show<W: Write>(session: &mut Session<'_, W>, office: Option<String>) -> Result<(), Error> {
    let request = pb::GetPasswordPolicyRequest { office: office.clone().unwrap_or_default() };
    let p =
        session.client.get_password_policy(request).await?.into_inner().policy.unwrap_or_default();
    let scope = office.map_or("global".to_owned(), |o| format!("office {o}"));
    let out = &mut *session.out;
    writeln!(out, "Password policy ({scope}):")?;
    // Absent (a server that predates the strength checks): the agents apply them all, score 3.
    let min_strength = p.min_strength.unwrap_or(u32::from(DEFAULT_MIN_SCORE));
    let lines = [
        ("minimum length", p.min_length.to_string()),
        ("lower-case letter", on_off(p.require_lower).to_owned()),
        ("upper-case letter", on_off(p.require_upper).to_owned()),
        ("digit", on_off(p.require_digit).to_owned()),
        ("special character", on_off(p.require_special).to_owned()),
        ("provisional length", p.provisional_length.to_string()),
        ("refuse personal words", on_off(p.refuse_personal_words.unwrap_or(true)).to_owned()),
        ("refuse common passwords", on_off(p.refuse_common_passwords.unwrap_or(true)).to_owned()),
        ("minimum strength", format!("{min_strength} of 4")),
    ];
    for (label, value) in lines {
        writeln!(out, "  {:<25}{value}", format!("{label}:"))?;
    }
    Ok(())
}

async fn set<W: Write>(
    session: &mut Session<'_, W>,
    office: String,
    changes: &PolicyChanges,
) -> Result<(), Error> {
    let current = session
        .client
        .get_password_policy(pb::GetPasswordPolicyRequest { office: office.clone() })
        .await?
        .into_inner()
        .policy
        .unwrap_or_default();
    let request = pb::SetPasswordPolicyRequest {
        office: office.clone(),
        policy: Some(changes.apply(&current)),
    };
    session.client.set_password_policy(request).await?;
    writeln!(
        session.out,
        "Password policy {} updated.",
        if office.is_empty() { "global".to_owned() } else { format!("of office {office}") }
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn changes(args: &[&str]) -> Result<PolicyChanges, clap::Error> {
        let argv = ["sesamectl", "policy", "set"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Policy(PolicyCommand::Set { changes, .. }) => Ok(changes),
            other => panic!("{other:?}"),
        }
    }

    fn current() -> pb::PasswordPolicy {
        pb::PasswordPolicy {
            min_length: 12,
            require_lower: true,
            require_upper: true,
            require_digit: true,
            require_special: false,
            provisional_length: 16,
            refuse_personal_words: Some(true),
            refuse_common_passwords: Some(true),
            min_strength: Some(3),
        }
    }

    #[test]
    fn only_the_options_given_change_and_switches_read_on_or_off() {
        let set = changes(&[
            "--refuse-personal-words",
            "off",
            "--min-strength",
            "4",
            "--require-special",
            "on",
        ])
        .unwrap();
        let applied = set.apply(&current());
        assert_eq!(
            applied,
            pb::PasswordPolicy {
                require_special: true,
                refuse_personal_words: Some(false),
                min_strength: Some(4),
                ..current()
            }
        );
        let set =
            changes(&["--refuse-common-passwords", "false", "--require-lower", "no"]).unwrap();
        let applied = set.apply(&current());
        assert_eq!((applied.refuse_common_passwords, applied.require_lower), (Some(false), false));
        // A server that predates the checks states none: they stay absent (on, for the server).
        let old = pb::PasswordPolicy {
            refuse_personal_words: None,
            refuse_common_passwords: None,
            min_strength: None,
            ..current()
        };
        assert_eq!(changes(&["--min-length", "14"]).unwrap().apply(&old).min_strength, None);
    }

    #[test]
    fn a_strength_above_four_or_an_unknown_switch_is_refused_before_anything_is_sent() {
        let refused = changes(&["--min-strength", "5"]).unwrap_err().to_string();
        assert!(refused.contains("0..=4"), "{refused}");
        assert!(changes(&["--refuse-personal-words", "maybe"]).is_err());
        assert_eq!(changes(&["--min-strength", "0"]).unwrap().min_strength, Some(0));
    }
}
