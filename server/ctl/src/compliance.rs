//! `sesamectl compliance policy show|set`: the compliance policy, global or per office: when a
//! mailbox is due soon, overdue, or its agent offline.

use std::io::{self, Write};

use clap::Subcommand;
use serde::Serialize;
use sesame_proto::v1 as pb;

use crate::output::{Format, Listing};
use crate::{Error, Session};

/// Compliance commands.
#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// The compliance policy.
    #[command(subcommand)]
    Policy(CompliancePolicyCommand),
}

/// Compliance policy commands.
#[derive(Debug, Subcommand)]
pub enum CompliancePolicyCommand {
    /// Shows the policy in force (of an office, or the global one) and where it comes from.
    Show {
        /// The office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Sets the global policy, or an office's own. Unset options keep their current value;
    /// `--inherit` removes the office's own (or the global) policy instead.
    Set {
        /// The office (the global policy without it).
        #[arg(long)]
        office: Option<String>,
        /// Days before the limit at which a mailbox is "due soon" (its periodic rotation opens).
        #[arg(long)]
        due_soon_days: Option<u32>,
        /// Days after the last verified change at which a mailbox is overdue.
        #[arg(long)]
        limit_days: Option<u32>,
        /// Days without a check-in after which a workstation's mailboxes are "agent offline".
        #[arg(long)]
        offline_days: Option<u32>,
        /// Follow the global policy (or, globally, the server's configuration) again.
        #[arg(long, conflicts_with_all = ["due_soon_days", "limit_days", "offline_days"])]
        inherit: bool,
    },
}

/// Runs a compliance command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: ComplianceCommand,
) -> Result<(), Error> {
    let ComplianceCommand::Policy(command) = command;
    match command {
        CompliancePolicyCommand::Show { office } => {
            let request = pb::GetCompliancePolicyRequest { office: office.unwrap_or_default() };
            let policy = session.client.get_compliance_policy(request).await?.into_inner();
            print_policy(session.out, session.format, &policy)?;
        }
        CompliancePolicyCommand::Set {
            office,
            due_soon_days,
            limit_days,
            offline_days,
            inherit,
        } => {
            let office = office.unwrap_or_default();
            let policy = if inherit {
                None
            } else {
                let request = pb::GetCompliancePolicyRequest { office: office.clone() };
                let current = session.client.get_compliance_policy(request).await?.into_inner();
                let base = current.effective.unwrap_or_default();
                Some(pb::CompliancePolicy {
                    due_soon_days: due_soon_days.unwrap_or(base.due_soon_days),
                    limit_days: limit_days.unwrap_or(base.limit_days),
                    offline_days: offline_days.unwrap_or(base.offline_days),
                })
            };
            let request = pb::SetCompliancePolicyRequest { office, policy, inherit };
            let set = session.client.set_compliance_policy(request).await?.into_inner();
            print_policy(session.out, session.format, &set.policy.unwrap_or_default())?;
        }
    }
    Ok(())
}

/// A policy as printed.
#[derive(Debug, Serialize)]
struct PolicyView {
    source: String,
    due_soon_days: u32,
    limit_days: u32,
    offline_days: u32,
}

fn print_policy(
    out: &mut impl Write,
    format: Format,
    policy: &pb::GetCompliancePolicyResponse,
) -> io::Result<()> {
    let effective = policy.effective.unwrap_or_default();
    let view = PolicyView {
        source: policy.source.clone(),
        due_soon_days: effective.due_soon_days,
        limit_days: effective.limit_days,
        offline_days: effective.offline_days,
    };
    match format.kind() {
        Listing::Json => {
            serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv => {
            let mut writer = format.csv(out);
            writer.serialize(&view)?;
            writer.flush()
        }
        Listing::Table => {
            let source = match view.source.as_str() {
                "office" => "the office's own policy",
                "global" => "the global policy",
                _ => "the server's configuration (rotations.period_days)",
            };
            writeln!(out, "Compliance policy, from {source}:")?;
            writeln!(out, "  overdue     {} days after the last verified change", view.limit_days)?;
            writeln!(out, "  due soon    {} days before that", view.due_soon_days)?;
            writeln!(out, "  offline     after {} days without a check-in", view.offline_days)
        }
    }
}
