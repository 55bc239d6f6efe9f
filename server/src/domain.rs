//! The domain layer: what Sesame is about, as types parsed once at the edge and rules without any
//! input or output (but the operating system's random generator). Nothing here knows the
//! database, the keys on disk or a protocol; every other layer builds on it.

pub mod account;
pub mod admin;
pub mod audit;
pub mod check_in;
pub mod compliance;
pub mod identifier;
pub mod office;
pub mod page;
pub mod password;
pub mod rotation;
pub mod settings;
pub mod token;
pub mod totp;
pub mod web_session;
pub mod workstation;
