//! The store conformance suite: every scenario runs on SQLite and on PostgreSQL, so both backends
//! are held to one behaviour. Scenarios live with their aggregate (`conformance/*.rs`); the list
//! at the end runs each on both databases (PostgreSQL when `SESAME_TEST_POSTGRES_URL` is set, and
//! always under CI).

mod accounts;
mod admins;
mod audit;
mod check_ins;
mod compliance;
mod compliance_trend;
mod offices;
mod paging;
mod reports;
mod rotations;
mod settings;
mod web_access;
mod workstations;

use time::OffsetDateTime;
use time::macros::datetime;

use super::Store;
use super::test_support::TestDatabase;
use crate::domain::audit::{GENESIS_HASH, verify};
use crate::domain::check_in::CheckInRecord;
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress, NewMailbox, NewOffice, Text};

const T0: OffsetDateTime = datetime!(2026-11-25 09:30:00.123456 UTC);

/// A rotation id in a scenario.
fn rid(id: &str) -> crate::domain::identifier::RotationId {
    crate::domain::identifier::RotationId::parse("rotation_id", id).expect("a valid id")
}

fn office(crpcen: &str, name: &str) -> NewOffice {
    NewOffice {
        crpcen: Crpcen::parse(crpcen).unwrap(),
        name: Text::parse("name", name).unwrap(),
        city: Text::parse_optional("city", "Lyon").unwrap(),
    }
}

fn mailbox(address: &str, name: &str) -> NewMailbox {
    NewMailbox {
        address: MailboxAddress::parse(address, &MailDomain::default()).unwrap(),
        display_name: Text::parse("display name", name).unwrap(),
        logon_name: None,
        local_account: None,
    }
}

/// Writes one check-in alone, at its own time, as the check-in writer does with nothing else
/// pending.
async fn check_in(store: &dyn Store, record: CheckInRecord) {
    let at = record.seen_at;
    store.record_check_ins(&[record], at).await.unwrap();
}

/// Verifies the whole audit chain and returns its length.
async fn verify_chain(store: &dyn Store) -> i64 {
    let records = store.audit_records(None, 0, 100_000).await.unwrap();
    verify(0, GENESIS_HASH, &records).unwrap().0
}

/// Writes one test per scenario and database: `sqlite_backend::NAME` and `postgres_backend::NAME`,
/// each on a fresh database.
macro_rules! conformance_suite {
    ($($module:ident :: $scenario:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    let db = super::TestDatabase::sqlite(dir.path());
                    let store = db.open().await;
                    super::$module::$scenario(&*store).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::TestDatabase::postgres().await else { return };
                    let store = db.open().await;
                    super::$module::$scenario(&*store).await;
                    drop(store);
                    db.destroy().await;
                }
            )*
        }
    };
}

conformance_suite!(
    offices::offices_round_trip,
    offices::import_is_all_or_nothing_and_idempotent,
    offices::mailboxes_are_listed_per_office,
    offices::ten_thousand_mailboxes_import_in_one_transaction,
    offices::office_import_is_all_or_nothing_and_idempotent,
    admins::admins_are_found_by_token_hash_only,
    admins::admins_have_roles_offices_and_can_be_revoked,
    audit::audit_records_page_and_chain,
    audit::concurrent_writers_keep_one_chain,
    audit::signed_heads_are_kept_once_per_record,
    audit::a_record_alone_extends_the_chain_and_is_found_last,
    workstations::enrollment_spends_tokens_and_records_the_workstation,
    workstations::certificates_follow_the_serial_rule,
    workstations::recovery_challenges_are_single_use_and_expire,
    rotations::rotations_hold_their_escrow_only_while_open,
    rotations::rotations_are_counted_by_status,
    rotations::password_policies_keep_their_strength_checks,
    paging::rotations_come_in_pages_each_exactly_once,
    paging::report_lines_come_in_pages_at_one_time,
    reports::step_reports_take_effect_once_and_verified_destroys_escrow,
    reports::periodic_rotations_open_once_when_due,
    settings::owa_addresses_have_a_global_value_and_overrides,
    settings::logon_names_are_set_cleared_and_imported,
    settings::check_ins_keep_the_last_key_state_and_look_at_owa,
    accounts::accounts_are_bound_once_by_report_and_set_by_administrators,
    compliance::compliance_follows_rotations_reports_and_assignments,
    compliance::compliance_deadlines_policies_and_periodic_rotations,
    compliance::compliance_reaches_every_transition,
    compliance::imported_mailboxes_are_assessed_at_once,
    compliance_trend::the_trend_counts_what_a_report_at_each_time_counts,
    check_ins::check_ins_are_written_in_batches,
    check_ins::a_batch_reassesses_the_workstations_whose_check_in_matters,
    web_access::web_credentials_accept_each_totp_step_once,
    web_access::web_sessions_are_found_touched_revoked_and_listed,
);
