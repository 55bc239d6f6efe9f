//! `sesamectl policy`: show and set the password policy, global or per office.

use std::io::Write;

use clap::Subcommand;
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

/// The options of `policy set`; each one left out keeps its current value.
#[derive(Debug, clap::Args)]
pub struct PolicyChanges {
    /// Minimum length (at least 10).
    #[arg(long)]
    pub min_length: Option<u32>,
    /// Require a lower-case letter.
    #[arg(long)]
    pub require_lower: Option<bool>,
    /// Require an upper-case letter.
    #[arg(long)]
    pub require_upper: Option<bool>,
    /// Require a digit.
    #[arg(long)]
    pub require_digit: Option<bool>,
    /// Require a special character.
    #[arg(long)]
    pub require_special: Option<bool>,
    /// Length of generated provisional passwords.
    #[arg(long)]
    pub provisional_length: Option<u32>,
}

impl PolicyChanges {
    /// `current` with these changes.
    fn apply(&self, current: &pb::PasswordPolicy) -> pb::PasswordPolicy {
        pb::PasswordPolicy {
            min_length: self.min_length.unwrap_or(current.min_length),
            require_lower: self.require_lower.unwrap_or(current.require_lower),
            require_upper: self.require_upper.unwrap_or(current.require_upper),
            require_digit: self.require_digit.unwrap_or(current.require_digit),
            require_special: self.require_special.unwrap_or(current.require_special),
            provisional_length: self.provisional_length.unwrap_or(current.provisional_length),
            ..*current
        }
    }
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
    writeln!(out, "  minimum length:       {}", p.min_length)?;
    writeln!(out, "  lower-case letter:    {}", p.require_lower)?;
    writeln!(out, "  upper-case letter:    {}", p.require_upper)?;
    writeln!(out, "  digit:                {}", p.require_digit)?;
    writeln!(out, "  special character:    {}", p.require_special)?;
    writeln!(out, "  provisional length:   {}", p.provisional_length)?;
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
