//! The identities file: one JSON object per line and per simulated agent (workstation id, office,
//! certificate PEM, private key PEM), written owner-only (0600) by `provision` and read by the
//! commands that connect agents.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One simulated agent.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct AgentIdentity {
    /// Its workstation id.
    pub(crate) workstation_id: String,
    /// Its office's CRPCEN.
    pub(crate) office: String,
    /// Its certificate, PEM.
    pub(crate) cert_pem: String,
    /// Its private key, PEM.
    pub(crate) key_pem: String,
}

impl std::fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentIdentity")
            .field("workstation_id", &self.workstation_id)
            .field("office", &self.office)
            .finish_non_exhaustive()
    }
}

/// Writes the file, owner-only, replacing what was there.
pub(crate) fn write<'a>(
    path: &Path,
    identities: impl IntoIterator<Item = &'a AgentIdentity>,
) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let mut out = BufWriter::new(file);
    for identity in identities {
        serde_json::to_writer(&mut out, identity)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads at most `limit` identities (all when `None`), in file order.
pub(crate) fn read(path: &Path, limit: Option<usize>) -> anyhow::Result<Vec<AgentIdentity>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut identities = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        if limit.is_some_and(|limit| identities.len() >= limit) {
            break;
        }
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        identities.push(
            serde_json::from_str(&line).with_context(|| {
                format!("{}: line {} is not an identity", path.display(), n + 1)
            })?,
        );
    }
    anyhow::ensure!(!identities.is_empty(), "{} holds no identity", path.display());
    Ok(identities)
}
