//! The message sizes both ends of the contract agree on: the server refuses larger requests, and
//! its clients (sesamectl) size their messages and accept responses accordingly.

/// Largest admin request message (one import chunk), in bytes.
pub const MAX_ADMIN_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest agent request message, in bytes: a `ReportSteps` of 100 reports at their longest
/// (ids of 64 bytes, a detail and an evidence detail of 500 characters of up to 4 bytes each) is
/// about 420 KiB.
pub const MAX_AGENT_REQUEST_BYTES: usize = 512 * 1024;
/// Largest response message, in bytes (a page of mailboxes stays far below).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
