//! The keys layer: the server's secrets kept outside the database, and what they do. `pki` is the
//! certificate authority that signs agent certificates and the server's TLS certificate; `escrow`
//! seals provisional passwords under the escrow key; `audit_signing` signs the audit chain's head.
//! They read and write their key files in the data directory; they build on the domain layer only.

pub mod audit_signing;
pub mod escrow;
pub mod pki;
