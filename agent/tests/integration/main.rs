//! The agent's integration tests, one module per subject, in one test binary (each binary links the
//! whole agent: one binary instead of six is a shorter build): the real `sesame-agent` binary
//! (`CARGO_BIN_EXE_sesame-agent`) run as an administrator or a person would, on damaged files, on
//! simulated USB devices, over the local socket and against OWA, and the OWA parsers' properties.

mod damaged_files;
mod key_usb;
mod local_cli;
mod owa_commands;
mod owa_properties;
mod version;
