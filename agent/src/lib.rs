//! The Sesame workstation agent.
//!
//! For now the agent only identifies itself; enrollment, the OWA client, the USB key watcher and
//! the rotation state machine come with their issues (see ARCHITECTURE.md).

/// The agent's version, as reported to the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
