//! The Sesame wire contract: the messages and gRPC services of `proto/sesame/v1`.
//!
//! The Rust code in `src/gen` is generated from the `.proto` files and committed, so that building
//! Sesame never needs `protoc`; `tests/codegen.rs` regenerates it with protox and fails when the
//! committed copy is stale. So is [`FILE_DESCRIPTOR_SET`], which the server's reflection service
//! answers from. Beside it, what both sides must read the same way: the message sizes both ends
//! accept ([`limits`]). The password rule an `AgentPasswordPolicy` carries is
//! `sesame_base::password_rule`, converted at each side's gRPC edge.

pub mod limits;

/// Version 1 of the contract (`package sesame.v1`).
pub mod v1 {
    #![allow(unreachable_pub, missing_debug_implementations, clippy::all)]
    // Reason: generated code; its style is tonic-prost-build's.
    include!("gen/sesame.v1.rs");
}

/// The encoded `FileDescriptorSet` of `proto/sesame/v1` (source comments included), generated
/// with the code and kept fresh by the same test.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("gen/sesame.v1.bin");

/// What an agent signs with its registered key to recover its identity (`AgentService.Recover`):
/// this prefix, then its workstation id, then the server's challenge.
pub const RECOVERY_SIGNATURE_PREFIX: &[u8] = b"sesame-recover-v1";
