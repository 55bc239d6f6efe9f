//! Enrollment: the tokens administrators create for an office, and the enrollment of a workstation
//! with one (its first certificate signed by the CA, the token spent in the same transaction).

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::office::Crpcen;
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::{
    EnrollmentToken, IssuedCertificate, MachineInfo, NewEnrollmentToken, NewWorkstation,
    Workstation, new_workstation_id,
};
use crate::keys::pki::AgentCertificate;
use crate::services::access;
use crate::services::{Error, Services};
use crate::store;

/// The one refusal of an enrollment token, whatever was wrong with it.
const REFUSED_TOKEN: &str = "enrollment refused: the token is unknown, expired, used up or revoked";

/// Enrollments a token allows when the administrator does not say.
const DEFAULT_USES: u32 = 1;
/// How long a token lives when the administrator does not say.
const DEFAULT_TTL: time::Duration = time::Duration::hours(24);

/// A new enrollment token: the secret, shown once, and what is stored about it.
#[derive(Debug)]
pub struct CreatedToken {
    /// The token in clear (redacted `Debug`).
    pub token: Token,
    /// What administrators see of it.
    pub info: EnrollmentToken,
}

/// A workstation just enrolled, with its first certificate.
#[derive(Debug)]
pub struct Enrolled {
    /// The workstation as stored.
    pub workstation: Workstation,
    /// Its certificate.
    pub certificate: AgentCertificate,
}

/// An enrollment token from a request. A secret without the enrollment prefix is refused at once
/// (logged with the caller's address), before anything else of the request is read.
pub fn enrollment_token(secret: SecretString, remote: Option<SocketAddr>) -> Result<Token, Error> {
    if secret.expose_secret().starts_with(TokenKind::Enroll.prefix()) {
        Ok(Token::from_secret(secret))
    } else {
        tracing::warn!(?remote, "enrollment refused: malformed");
        Err(Error::unauthenticated(REFUSED_TOKEN))
    }
}

impl Services {
    /// Creates a token enrolling into `office`: `uses` enrollments (1 when `None`, at most 1000),
    /// valid `ttl_seconds` (24 hours when `None`, 60 seconds to 30 days).
    pub async fn create_enrollment_token(
        &self,
        admin: &Admin,
        office: &Crpcen,
        uses: Option<u32>,
        ttl_seconds: Option<u64>,
    ) -> Result<CreatedToken, Error> {
        access::authorize(admin, Permission::Write(office))?;
        let uses = match uses {
            None => DEFAULT_USES,
            Some(n @ 1..=1000) => n,
            Some(_) => return Err(Error::invalid("uses: 1 to 1000")),
        };
        let ttl = match ttl_seconds {
            None => DEFAULT_TTL,
            Some(n @ 60..=2_592_000) => time::Duration::seconds(i64::try_from(n).unwrap_or(60)),
            Some(_) => return Err(Error::invalid("ttl_seconds: 60 seconds to 30 days")),
        };
        let now = self.clock.now();
        let token = Token::generate(TokenKind::Enroll);
        let new = NewEnrollmentToken {
            token_hash: token.hash(),
            office: office.clone(),
            uses: i64::from(uses),
            expires_at: now + ttl,
        };
        let info = match self.store.create_enrollment_token(&new, &Actor::admin(admin), now).await {
            Ok(info) => info,
            Err(store::Error::MissingOffices(_)) => {
                return Err(Error::NotFound(format!("office {office} does not exist")));
            }
            Err(other) => return Err(other.into()),
        };
        tracing::info!(admin = %admin.name, office = %office, token_id = info.id, uses, "enrollment token created");
        Ok(CreatedToken { token, info })
    }

    /// The tokens of `office`, or of every office the administrator may read, by id.
    pub async fn list_enrollment_tokens(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
    ) -> Result<Vec<EnrollmentToken>, Error> {
        let mut tokens = Vec::new();
        for office in access::listing_scope(admin, office)? {
            tokens.extend(self.store.list_enrollment_tokens(office.as_ref()).await?);
        }
        tokens.sort_by_key(|t| t.id);
        Ok(tokens)
    }

    /// Revokes a token of an office the administrator may change. Outside its offices (or absent,
    /// for an office administrator) is [`Error::PermissionDenied`].
    pub async fn revoke_enrollment_token(&self, admin: &Admin, id: u64) -> Result<(), Error> {
        let outside = || Error::denied(format!("token {id} is not in your offices"));
        let token = match self.store.get_enrollment_token(i64::try_from(id).unwrap_or(-1)).await {
            Ok(token) if admin.may(Permission::Write(&token.office)) => token,
            Ok(_) => return Err(outside()),
            Err(store::Error::NotFound) if admin.may(Permission::WriteAll) => {
                return Err(Error::NotFound(format!("token {id} does not exist")));
            }
            Err(store::Error::NotFound) => return Err(outside()),
            Err(other) => return Err(other.into()),
        };
        self.store
            .revoke_enrollment_token(token.id, &Actor::admin(admin), self.clock.now())
            .await?;
        tracing::info!(admin = %admin.name, token_id = token.id, "enrollment token revoked");
        Ok(())
    }

    /// Enrolls a workstation with `token` (see [`enrollment_token`]): signs a certificate for
    /// `public_key` (from a verified signing request) naming the token's office, then spends the
    /// token and records the workstation in one transaction. Every refusal of the token is the
    /// same [`Error::Unauthenticated`]; its reason is logged with `remote`.
    pub async fn enroll(
        &self,
        token: &Token,
        machine: MachineInfo,
        public_key: Vec<u8>,
        remote: Option<SocketAddr>,
    ) -> Result<Enrolled, Error> {
        let id = new_workstation_id();
        // The office is only known once the token is checked; the certificate names it, so look it
        // up without spending the token, then spend it in the same transaction as the enrollment.
        let office = match self.store.enrollment_office(&token.hash()).await {
            Ok(office) => office,
            Err(store::Error::NotFound) => {
                tracing::warn!(?remote, "enrollment refused: unknown");
                return Err(Error::unauthenticated(REFUSED_TOKEN));
            }
            Err(other) => return Err(other.into()),
        };
        let certificate = self.issue_certificate(id.as_str(), &office, &public_key)?;
        let new = NewWorkstation {
            id,
            machine,
            public_key,
            certificate: IssuedCertificate {
                serial: certificate.serial.clone(),
                not_after: certificate.not_after,
            },
        };
        let workstation =
            match self.store.enroll_workstation(&token.hash(), &new, self.clock.now()).await {
                Ok(w) => w,
                Err(store::Error::TokenRefused(reason)) => {
                    tracing::warn!(?remote, ?reason, "enrollment refused");
                    return Err(Error::unauthenticated(REFUSED_TOKEN));
                }
                Err(other) => return Err(other.into()),
            };
        tracing::info!(workstation = %workstation.id, office = %workstation.office, hostname = %workstation.hostname, "workstation enrolled");
        Ok(Enrolled { workstation, certificate })
    }

    /// A certificate for a workstation's registered key, valid from now for the configured
    /// lifetime.
    pub(crate) fn issue_certificate(
        &self,
        id: &str,
        office: &Crpcen,
        public_key: &[u8],
    ) -> Result<AgentCertificate, Error> {
        self.pki
            .issue_agent_certificate(
                id,
                office.as_str(),
                public_key,
                self.clock.now(),
                self.agents.certificate_lifetime,
            )
            .map_err(|e| Error::Internal(Box::new(e)))
    }
}

#[cfg(test)]
mod tests;
