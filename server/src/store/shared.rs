//! Store methods whose SQL and Rust are the same on SQLite and PostgreSQL.
//!
//! sqlx types each query by its database, so identical code must still be compiled once per
//! backend: [`impl_store!`] writes each backend's `impl Store` from its own methods plus these, which
//! call the backend's `self.write_pool()`, `self.read_pool()` and `append_audit`. The SQL
//! sticks to what both dialects accept (`$N` placeholders, `CAST(… AS TEXT)`).

macro_rules! impl_store {
    ($store:ty, $conn:ty, $lock_audit:expr, { $($own:tt)* }) => {
        /// Appends a record to the audit chain inside the caller's transaction. `$lock_audit`, when
        /// given, makes concurrent appenders (other servers) wait their turn.
        async fn append_audit(
            conn: &mut $conn,
            event: &crate::audit::AuditEvent,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let lock: Option<&str> = $lock_audit;
            if let Some(lock) = lock {
                sqlx::query(sqlx::AssertSqlSafe(lock)).execute(&mut *conn).await?;
            }
            let last: Option<(i64, Vec<u8>)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *conn)
                    .await?;
            let (prev_seq, prev_hash) = match last {
                Some((seq, hash)) => (seq, super::hash_column(hash, "audit_log")?),
                None => (0, crate::audit::GENESIS_HASH),
            };
            let details = event.details.to_string();
            let office = event.office.as_ref().map(|o| o.as_str());
            let fields = crate::audit::RecordFields {
                seq: prev_seq + 1,
                at,
                actor: event.actor.as_str(),
                action: event.action,
                office,
                target: &event.target,
                details: &details,
            };
            let hash = crate::audit::record_hash(&prev_hash, &fields);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, office, target, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(fields.seq)
            .bind(at)
            .bind(fields.actor)
            .bind(fields.action)
            .bind(office)
            .bind(fields.target)
            .bind(fields.details)
            .bind(&prev_hash[..])
            .bind(&hash[..])
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl super::Store for $store {
        $($own)*

        async fn create_office(
            &self,
            office: &crate::domain::NewOffice,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<crate::domain::Office, Error> {
            let mut tx = self.write_pool().begin().await?;
            sqlx::query("INSERT INTO offices (crpcen, name, city, created_at) VALUES ($1, $2, $3, $4)")
                .bind(office.crpcen.as_str())
                .bind(office.name.as_str())
                .bind(office.city.as_ref().map(|c| c.as_str()))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "office.create",
                office: Some(office.crpcen.clone()),
                target: office.crpcen.to_string(),
                details: serde_json::json!({ "name": office.name.as_str(), "city": office.city.as_ref().map(|c| c.as_str()) }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            Ok(crate::domain::Office {
                crpcen: office.crpcen.clone(),
                name: office.name.to_string(),
                city: office.city.as_ref().map(ToString::to_string),
                mailbox_count: 0,
                created_at: at,
            })
        }

        async fn get_office(&self, crpcen: &crate::domain::Crpcen) -> Result<crate::domain::Office, Error> {
            let row: super::rows::OfficeRow =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{} WHERE o.crpcen = $1", super::rows::OFFICE_SELECT)))
                    .bind(crpcen.as_str())
                    .fetch_one(self.read_pool())
                    .await?;
            row.try_into()
        }

        async fn list_offices(&self) -> Result<Vec<crate::domain::Office>, Error> {
            let rows: Vec<super::rows::OfficeRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{} ORDER BY o.crpcen", super::rows::OFFICE_SELECT)))
                    .fetch_all(self.read_pool())
                    .await?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        async fn list_mailboxes(
            &self,
            office: Option<&crate::domain::Crpcen>,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Vec<crate::domain::Mailbox>, Error> {
            let rows: Vec<super::rows::MailboxRow> = sqlx::query_as(
                "SELECT id, address, display_name, created_at FROM mailboxes \
                 WHERE (CAST($1 AS TEXT) IS NULL OR office = $1) AND address > $2 ORDER BY address LIMIT $3",
            )
            .bind(office.map(|o| o.as_str()))
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(self.read_pool())
            .await?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        async fn audit_records(
            &self,
            office: Option<&crate::domain::Crpcen>,
            after_seq: i64,
            limit: u32,
        ) -> Result<Vec<crate::audit::AuditRecord>, Error> {
            let rows: Vec<super::rows::AuditRow> = sqlx::query_as(
                "SELECT seq, at, actor, action, office, target, details, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 AND (CAST($2 AS TEXT) IS NULL OR office = $2) ORDER BY seq LIMIT $3",
            )
            .bind(after_seq)
            .bind(office.map(|o| o.as_str()))
            .bind(i64::from(limit))
            .fetch_all(self.read_pool())
            .await?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        async fn create_admin(
            &self,
            admin: &crate::admin::NewAdmin,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<crate::admin::Admin, Error> {
            let mut tx = self.write_pool().begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO admins (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(&admin.name)
            .bind(admin.role.as_str())
            .bind(&admin.token_hash.0[..])
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            for office in &admin.offices {
                sqlx::query("INSERT INTO admin_offices (admin_id, office) VALUES ($1, $2)")
                    .bind(id)
                    .bind(office.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match Error::from(e) {
                        Error::Backend(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                            Error::MissingOffices(vec![office.clone()])
                        }
                        other => other,
                    })?;
            }
            let offices: Vec<&str> = admin.offices.iter().map(|o| o.as_str()).collect();
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "admin.create",
                office: None,
                target: admin.name.clone(),
                details: serde_json::json!({ "id": id, "role": admin.role.as_str(), "offices": offices }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            Ok(crate::admin::Admin {
                id,
                name: admin.name.clone(),
                role: admin.role,
                offices: admin.offices.clone(),
                created_at: at,
                revoked_at: None,
            })
        }

        async fn admin_by_token(&self, token_hash: &crate::token::TokenHash) -> Result<crate::admin::Admin, Error> {
            let row: super::rows::AdminRow = sqlx::query_as(
                "SELECT id, name, role, created_at, revoked_at FROM admins WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(&token_hash.0[..])
            .fetch_one(self.read_pool())
            .await?;
            let offices: Vec<String> =
                sqlx::query_scalar("SELECT office FROM admin_offices WHERE admin_id = $1 ORDER BY office")
                    .bind(row.id)
                    .fetch_all(self.read_pool())
                    .await?;
            row.into_admin(offices)
        }

        async fn list_admins(&self) -> Result<Vec<crate::admin::Admin>, Error> {
            let rows: Vec<super::rows::AdminRow> =
                sqlx::query_as("SELECT id, name, role, created_at, revoked_at FROM admins ORDER BY name")
                    .fetch_all(self.read_pool())
                    .await?;
            let links: Vec<(i64, String)> =
                sqlx::query_as("SELECT admin_id, office FROM admin_offices ORDER BY office")
                    .fetch_all(self.read_pool())
                    .await?;
            rows.into_iter()
                .map(|row| {
                    let offices = links.iter().filter(|(id, _)| *id == row.id).map(|(_, o)| o.clone()).collect();
                    row.into_admin(offices)
                })
                .collect()
        }

        async fn revoke_admin(
            &self,
            name: &str,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            let done = sqlx::query("UPDATE admins SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
                .bind(name)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound);
            }
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "admin.revoke",
                office: None,
                target: name.to_owned(),
                details: serde_json::json!({}),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn create_enrollment_token(
            &self,
            token: &crate::workstation::NewEnrollmentToken,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<crate::workstation::EnrollmentToken, Error> {
            let mut tx = self.write_pool().begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO enrollment_tokens (token_hash, office, uses_left, expires_at, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&token.token_hash.0[..])
            .bind(token.office.as_str())
            .bind(token.uses)
            .bind(token.expires_at)
            .bind(actor.as_str())
            .bind(at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Backend(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                    Error::MissingOffices(vec![token.office.clone()])
                }
                other => other,
            })?;
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "enrollment_token.create",
                office: Some(token.office.clone()),
                target: id.to_string(),
                details: serde_json::json!({ "uses": token.uses, "expires_at": crate::audit::unix_micros(token.expires_at) }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            self.get_enrollment_token(id).await
        }

        async fn list_enrollment_tokens(
            &self,
            office: Option<&crate::domain::Crpcen>,
        ) -> Result<Vec<crate::workstation::EnrollmentToken>, Error> {
            let rows: Vec<super::rows::TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM enrollment_tokens WHERE (CAST($1 AS TEXT) IS NULL OR office = $1) ORDER BY id",
                super::rows::TOKEN_COLUMNS
            )))
            .bind(office.map(|o| o.as_str()))
            .fetch_all(self.read_pool())
            .await?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        async fn get_enrollment_token(&self, id: i64) -> Result<crate::workstation::EnrollmentToken, Error> {
            let row: super::rows::TokenRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM enrollment_tokens WHERE id = $1",
                super::rows::TOKEN_COLUMNS
            )))
            .bind(id)
            .fetch_one(self.read_pool())
            .await?;
            row.try_into()
        }

        async fn revoke_enrollment_token(
            &self,
            id: i64,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            let office: String = sqlx::query_scalar(
                "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING office",
            )
            .bind(id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "enrollment_token.revoke",
                office: crate::domain::Crpcen::parse(&office).ok(),
                target: id.to_string(),
                details: serde_json::json!({}),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn enrollment_office(&self, token_hash: &crate::token::TokenHash) -> Result<crate::domain::Crpcen, Error> {
            let office: String = sqlx::query_scalar("SELECT office FROM enrollment_tokens WHERE token_hash = $1")
                .bind(&token_hash.0[..])
                .fetch_one(self.read_pool())
                .await?;
            crate::domain::Crpcen::parse(&office).map_err(|_| Error::Corrupt("enrollment_tokens"))
        }

        async fn enroll_workstation(
            &self,
            token_hash: &crate::token::TokenHash,
            workstation: &crate::workstation::NewWorkstation,
            at: time::OffsetDateTime,
        ) -> Result<crate::workstation::Workstation, Error> {
            let mut tx = self.write_pool().begin().await?;
            let token: Option<super::rows::TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM enrollment_tokens WHERE token_hash = $1",
                super::rows::TOKEN_COLUMNS
            )))
            .bind(&token_hash.0[..])
            .fetch_optional(&mut *tx)
            .await?;
            let token = match token {
                None => return Err(Error::TokenRefused(super::TokenRefusal::Unknown)),
                Some(t) if t.revoked_at.is_some() => return Err(Error::TokenRefused(super::TokenRefusal::Revoked)),
                Some(t) if t.expires_at <= at => return Err(Error::TokenRefused(super::TokenRefusal::Expired)),
                Some(t) if t.uses_left <= 0 => return Err(Error::TokenRefused(super::TokenRefusal::UsedUp)),
                Some(t) => t,
            };
            let used = sqlx::query(
                "UPDATE enrollment_tokens SET uses_left = uses_left - 1, last_used_at = $2 WHERE id = $1 AND uses_left > 0",
            )
            .bind(token.id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                return Err(Error::TokenRefused(super::TokenRefusal::UsedUp));
            }
            let machine = &workstation.machine;
            sqlx::query(
                "INSERT INTO workstations (id, office, hostname, os, agent_version, public_key, status, generation, \
                 current_serial, current_confirmed, cert_not_after, last_seen_at, enrolled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'active', 1, $7, $8, $9, $10, $10)",
            )
            .bind(&workstation.id)
            .bind(&token.office)
            .bind(machine.hostname.as_str())
            .bind(machine.os.as_str())
            .bind(machine.agent_version.as_str())
            .bind(&workstation.public_key)
            .bind(&workstation.certificate.serial)
            .bind(false)
            .bind(workstation.certificate.not_after)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let event = crate::audit::AuditEvent {
                actor: crate::audit::Actor::enrollment_token(token.id),
                action: "workstation.enroll",
                office: crate::domain::Crpcen::parse(&token.office).ok(),
                target: workstation.id.clone(),
                details: serde_json::json!({
                    "hostname": machine.hostname.as_str(),
                    "os": machine.os.as_str(),
                    "agent_version": machine.agent_version.as_str(),
                    "serial": workstation.certificate.serial,
                }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            self.get_workstation(&workstation.id).await
        }

        async fn get_workstation(&self, id: &str) -> Result<crate::workstation::Workstation, Error> {
            let row: super::rows::WorkstationRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM workstations WHERE id = $1",
                super::rows::WORKSTATION_COLUMNS
            )))
            .bind(id)
            .fetch_one(self.read_pool())
            .await?;
            row.try_into()
        }

        async fn list_workstations(
            &self,
            office: Option<&crate::domain::Crpcen>,
        ) -> Result<Vec<crate::workstation::Workstation>, Error> {
            let rows: Vec<super::rows::WorkstationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM workstations WHERE (CAST($1 AS TEXT) IS NULL OR office = $1) ORDER BY office, hostname, id",
                super::rows::WORKSTATION_COLUMNS
            )))
            .bind(office.map(|o| o.as_str()))
            .fetch_all(self.read_pool())
            .await?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        async fn replace_certificate(
            &self,
            id: &str,
            presented_serial: Option<&str>,
            certificate: &crate::workstation::IssuedCertificate,
            action: &'static str,
            at: time::OffsetDateTime,
        ) -> Result<crate::workstation::Workstation, Error> {
            let mut tx = self.write_pool().begin().await?;
            // The previous serial moves only when the current certificate was in use (or is the one
            // presented); replacing an unused certificate keeps the one before it.
            let done = sqlx::query(
                "UPDATE workstations SET \
                   previous_serial = CASE WHEN current_confirmed OR current_serial = CAST($3 AS TEXT) \
                                          THEN current_serial ELSE previous_serial END, \
                   current_serial = $2, current_confirmed = $4, generation = generation + 1, \
                   cert_not_after = $5, last_seen_at = $6 \
                 WHERE id = $1 AND status = 'active' \
                   AND (CAST($3 AS TEXT) IS NULL OR current_serial = $3 \
                        OR (NOT current_confirmed AND previous_serial = $3))",
            )
            .bind(id)
            .bind(&certificate.serial)
            .bind(presented_serial)
            .bind(false)
            .bind(certificate.not_after)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(Error::Conflict);
            }
            let office: String = sqlx::query_scalar("SELECT office FROM workstations WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let event = crate::audit::AuditEvent {
                actor: crate::audit::Actor::workstation(id),
                action,
                office: crate::domain::Crpcen::parse(&office).ok(),
                target: id.to_owned(),
                details: serde_json::json!({ "serial": certificate.serial, "presented": presented_serial }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            self.get_workstation(id).await
        }

        async fn touch_workstation(
            &self,
            id: &str,
            serial: &str,
            agent_version: Option<&str>,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            sqlx::query(
                "UPDATE workstations SET last_seen_at = $3, \
                   current_confirmed = current_confirmed OR current_serial = $2, \
                   agent_version = COALESCE(CAST($4 AS TEXT), agent_version) \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(serial)
            .bind(at)
            .bind(agent_version)
            .execute(self.write_pool())
            .await?;
            Ok(())
        }

        async fn set_workstation_status(
            &self,
            id: &str,
            status: crate::workstation::WorkstationStatus,
            reason: Option<&str>,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<crate::workstation::Workstation, Error> {
            let mut tx = self.write_pool().begin().await?;
            // Unlocking forgets the certificate before the current one: from now on only the current
            // certificate is accepted.
            let unlock = status == crate::workstation::WorkstationStatus::Active;
            let office: String = sqlx::query_scalar(
                "UPDATE workstations SET status = $2, lock_reason = $3, \
                   previous_serial = CASE WHEN $4 THEN NULL ELSE previous_serial END \
                 WHERE id = $1 AND status <> 'revoked' RETURNING office",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(reason)
            .bind(unlock)
            .fetch_one(&mut *tx)
            .await?;
            let action = match status {
                crate::workstation::WorkstationStatus::Active => "workstation.unlock",
                crate::workstation::WorkstationStatus::Locked => "workstation.lock",
                crate::workstation::WorkstationStatus::Revoked => "workstation.revoke",
            };
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action,
                office: crate::domain::Crpcen::parse(&office).ok(),
                target: id.to_owned(),
                details: serde_json::json!({ "reason": reason }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            self.get_workstation(id).await
        }

        async fn add_recovery_challenge(
            &self,
            id: &str,
            challenge: &[u8],
            expires_at: time::OffsetDateTime,
            now: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            sqlx::query("DELETE FROM recovery_challenges WHERE workstation_id = $1 AND expires_at <= $2")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_challenges WHERE workstation_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            if open >= super::MAX_OPEN_CHALLENGES {
                return Err(Error::Conflict);
            }
            sqlx::query("INSERT INTO recovery_challenges (workstation_id, challenge, expires_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(challenge)
                .bind(expires_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| match Error::from(e) {
                    Error::Backend(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Error::NotFound,
                    other => other,
                })?;
            tx.commit().await?;
            Ok(())
        }

        async fn take_recovery_challenge(
            &self,
            id: &str,
            challenge: &[u8],
            now: time::OffsetDateTime,
        ) -> Result<bool, Error> {
            let taken: Option<time::OffsetDateTime> = sqlx::query_scalar(
                "DELETE FROM recovery_challenges WHERE workstation_id = $1 AND challenge = $2 RETURNING expires_at",
            )
            .bind(id)
            .bind(challenge)
            .fetch_optional(self.write_pool())
            .await?;
            Ok(taken.is_some_and(|expires_at| expires_at > now))
        }

        async fn get_mailbox(&self, address: &crate::domain::MailboxAddress) -> Result<crate::domain::Mailbox, Error> {
            let row: super::rows::MailboxRow =
                sqlx::query_as("SELECT id, address, display_name, created_at FROM mailboxes WHERE address = $1")
                    .bind(address.as_str())
                    .fetch_one(self.read_pool())
                    .await?;
            row.try_into()
        }

        async fn password_policy(
            &self,
            office: Option<&crate::domain::Crpcen>,
        ) -> Result<crate::password::PasswordPolicy, Error> {
            let scopes: Vec<&str> = match office {
                Some(office) => vec![office.as_str(), "global"],
                None => vec!["global"],
            };
            for scope in scopes {
                let row: Option<super::rows::PolicyRow> = sqlx::query_as(
                    "SELECT min_length, require_lower, require_upper, require_digit, require_special, provisional_length \
                     FROM password_policies WHERE scope = $1",
                )
                .bind(scope)
                .fetch_optional(self.read_pool())
                .await?;
                if let Some(row) = row {
                    return Ok(row.into());
                }
            }
            Ok(crate::password::PasswordPolicy::default())
        }

        async fn set_password_policy(
            &self,
            office: Option<&crate::domain::Crpcen>,
            policy: &crate::password::PasswordPolicy,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            let scope = office.map_or("global", |o| o.as_str());
            sqlx::query(
                "INSERT INTO password_policies (scope, min_length, require_lower, require_upper, require_digit, \
                 require_special, provisional_length, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (scope) DO UPDATE SET min_length = excluded.min_length, \
                 require_lower = excluded.require_lower, require_upper = excluded.require_upper, \
                 require_digit = excluded.require_digit, require_special = excluded.require_special, \
                 provisional_length = excluded.provisional_length, updated_at = excluded.updated_at",
            )
            .bind(scope)
            .bind(i64::from(policy.min_length))
            .bind(policy.require_lower)
            .bind(policy.require_upper)
            .bind(policy.require_digit)
            .bind(policy.require_special)
            .bind(i64::from(policy.provisional_length))
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "password_policy.set",
                office: office.cloned(),
                target: scope.to_owned(),
                details: serde_json::json!({
                    "min_length": policy.min_length,
                    "require_lower": policy.require_lower,
                    "require_upper": policy.require_upper,
                    "require_digit": policy.require_digit,
                    "require_special": policy.require_special,
                    "provisional_length": policy.provisional_length,
                }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn assign_mailbox(
            &self,
            workstation_id: &str,
            mailbox: &crate::domain::Mailbox,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            let done = sqlx::query(
                "INSERT INTO workstation_mailboxes (workstation_id, mailbox_id, assigned_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(workstation_id)
            .bind(mailbox.id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                let event = crate::audit::AuditEvent {
                    actor: actor.clone(),
                    action: "workstation.assign",
                    office: Some(mailbox.address.office().clone()),
                    target: workstation_id.to_owned(),
                    details: serde_json::json!({ "mailbox": mailbox.address.as_str() }),
                };
                append_audit(&mut tx, &event, at).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn unassign_mailbox(
            &self,
            workstation_id: &str,
            mailbox: &crate::domain::Mailbox,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            let done = sqlx::query("DELETE FROM workstation_mailboxes WHERE workstation_id = $1 AND mailbox_id = $2")
                .bind(workstation_id)
                .bind(mailbox.id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound);
            }
            let event = crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "workstation.unassign",
                office: Some(mailbox.address.office().clone()),
                target: workstation_id.to_owned(),
                details: serde_json::json!({ "mailbox": mailbox.address.as_str() }),
            };
            append_audit(&mut tx, &event, at).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn open_rotations(
            &self,
            rotations: &[crate::rotation::NewRotation],
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<(), Error> {
            let mut tx = self.write_pool().begin().await?;
            let mut by_office: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
            for rotation in rotations {
                let office: String = sqlx::query_scalar(
                    "INSERT INTO rotations (id, mailbox_id, office, status, key_id, nonce, ciphertext, issued_by, \
                     issued_at, expires_at) \
                     SELECT $1, m.id, m.office, 'issued', $3, $4, $5, $6, $7, $8 FROM mailboxes m WHERE m.id = $2 \
                     RETURNING office",
                )
                .bind(&rotation.id)
                .bind(rotation.mailbox_id)
                .bind(&rotation.sealed.key_id)
                .bind(&rotation.sealed.nonce)
                .bind(&rotation.sealed.ciphertext)
                .bind(actor.as_str())
                .bind(at)
                .bind(rotation.expires_at)
                .fetch_one(&mut *tx)
                .await?;
                by_office.entry(office).or_default().push(serde_json::json!({
                    "rotation": rotation.id,
                    "mailbox_id": rotation.mailbox_id,
                    "expires_at": crate::audit::unix_micros(rotation.expires_at),
                }));
            }
            for (office, opened) in by_office {
                let event = crate::audit::AuditEvent {
                    actor: actor.clone(),
                    action: "provisional.issue",
                    office: crate::domain::Crpcen::parse(&office).ok(),
                    target: office.clone(),
                    details: serde_json::json!({ "rotations": opened }),
                };
                append_audit(&mut tx, &event, at).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn list_rotations(
            &self,
            office: Option<&crate::domain::Crpcen>,
            open_only: bool,
        ) -> Result<Vec<crate::rotation::Rotation>, Error> {
            let rows: Vec<super::rows::RotationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{} WHERE (CAST($1 AS TEXT) IS NULL OR r.office = $1) AND ({} OR NOT $2) \
                 ORDER BY r.issued_at DESC, m.address",
                super::rows::ROTATION_SELECT,
                super::rows::OPEN
            )))
            .bind(office.map(|o| o.as_str()))
            .bind(open_only)
            .fetch_all(self.read_pool())
            .await?;
            rows.into_iter().map(|row| row.into_rotation().map(|(rotation, _)| rotation)).collect()
        }

        async fn open_rotation(&self, mailbox_id: i64) -> Result<Option<crate::rotation::Rotation>, Error> {
            let row: Option<super::rows::RotationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{} WHERE r.mailbox_id = $1 AND {}",
                super::rows::ROTATION_SELECT,
                super::rows::OPEN
            )))
            .bind(mailbox_id)
            .fetch_optional(self.read_pool())
            .await?;
            row.map(|row| row.into_rotation().map(|(rotation, _)| rotation)).transpose()
        }

        async fn close_rotations(
            &self,
            ids: &[String],
            status: crate::rotation::RotationStatus,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<u64, Error> {
            let mut tx = self.write_pool().begin().await?;
            let mut closed = 0;
            for id in ids {
                let office: Option<String> = sqlx::query_scalar(
                    "UPDATE rotations SET status = $2, closed_at = $3, key_id = NULL, nonce = NULL, ciphertext = NULL \
                     WHERE id = $1 AND status IN ('issued', 'delivered') RETURNING office",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(office) = office else { continue };
                closed += 1;
                let event = crate::audit::AuditEvent {
                    actor: actor.clone(),
                    action: match status {
                        crate::rotation::RotationStatus::Completed => "rotation.complete",
                        crate::rotation::RotationStatus::Failed => "rotation.fail",
                        crate::rotation::RotationStatus::Expired => "rotation.expire",
                        _ => "rotation.cancel",
                    },
                    office: crate::domain::Crpcen::parse(&office).ok(),
                    target: id.clone(),
                    details: serde_json::json!({ "escrow": "destroyed" }),
                };
                append_audit(&mut tx, &event, at).await?;
            }
            tx.commit().await?;
            Ok(closed)
        }

        async fn expire_rotations(&self, now: time::OffsetDateTime) -> Result<u64, Error> {
            let due: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM rotations WHERE status IN ('issued', 'delivered') AND expires_at <= $1 ORDER BY id",
            )
            .bind(now)
            .fetch_all(self.read_pool())
            .await?;
            if due.is_empty() {
                return Ok(0);
            }
            self.close_rotations(&due, crate::rotation::RotationStatus::Expired, &crate::audit::Actor::system(), now)
                .await
        }

        async fn disclose_rotations(
            &self,
            disclosure: crate::rotation::Disclosure<'_>,
            actor: &crate::audit::Actor,
            at: time::OffsetDateTime,
        ) -> Result<Vec<(crate::rotation::Rotation, crate::escrow::Sealed)>, Error> {
            use crate::rotation::Disclosure;
            let mut tx = self.write_pool().begin().await?;
            let (filter, key) = match disclosure {
                Disclosure::Export(office) | Disclosure::Letters(office) => ("r.office = $1", office.as_str()),
                Disclosure::Delivery(workstation) => (
                    "r.mailbox_id IN (SELECT a.mailbox_id FROM workstation_mailboxes a \
                     JOIN workstations w ON w.id = a.workstation_id \
                     WHERE a.workstation_id = $1 AND w.office = r.office AND w.status = 'active')",
                    workstation,
                ),
            };
            let rows: Vec<super::rows::RotationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{} WHERE {filter} AND {} AND r.expires_at > $2 ORDER BY m.address",
                super::rows::ROTATION_SELECT,
                super::rows::OPEN
            )))
            .bind(key)
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            let mut disclosed = Vec::with_capacity(rows.len());
            for row in rows {
                let (rotation, sealed) = row.into_rotation()?;
                let sealed = sealed.ok_or(Error::Corrupt("rotations"))?;
                disclosed.push((rotation, sealed));
            }
            let mut by_office: std::collections::BTreeMap<&crate::domain::Crpcen, Vec<&str>> = Default::default();
            for (rotation, _) in &disclosed {
                by_office.entry(&rotation.office).or_default().push(rotation.id.as_str());
            }
            for (office, ids) in &by_office {
                let event = crate::audit::AuditEvent {
                    actor: actor.clone(),
                    action: disclosure.action(),
                    office: Some((*office).clone()),
                    target: match disclosure {
                        Disclosure::Delivery(workstation) => workstation.to_owned(),
                        _ => office.to_string(),
                    },
                    details: serde_json::json!({ "rotations": ids }),
                };
                append_audit(&mut tx, &event, at).await?;
            }
            if let Disclosure::Delivery(_) = disclosure {
                for (rotation, _) in &disclosed {
                    sqlx::query(
                        "UPDATE rotations SET status = 'delivered', delivered_at = COALESCE(delivered_at, $2) WHERE id = $1",
                    )
                    .bind(&rotation.id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(disclosed)
        }
        }
    };
}

pub(super) use impl_store;
