//! The server's data directory: what lives in it. Every file the server writes there is private
//! (0600): keys, credentials and certificates through `sesame_base::private_file::write_private`
//! (atomic), the SQLite database created 0600 before SQLite opens it (`store::sqlite`); the
//! directory itself is owner-only (0700).

use std::io;
use std::path::{Path, PathBuf};

use sesame_base::{credentials, private_file};

/// The layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates the directory if needed (mode 0700 on Unix) and returns its layout.
    pub fn create(root: &Path) -> io::Result<DataDir> {
        if !root.exists() {
            private_file::create_private_dir(root)?;
        }
        Ok(DataDir { root: root.to_path_buf() })
    }

    /// The layout of a data directory, without creating it.
    pub fn at(root: &Path) -> DataDir {
        DataDir { root: root.to_path_buf() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The embedded SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("sesame.db")
    }

    /// The certificate authority's certificate (public; given to clients).
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca.pem")
    }

    /// The certificate authority's private key (mode 0600).
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca.key")
    }

    /// The server's TLS certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.root.join("server.pem")
    }

    /// The server's TLS private key (mode 0600).
    pub fn server_key(&self) -> PathBuf {
        self.root.join("server.key")
    }

    /// The key that encrypts escrowed provisional passwords (mode 0600).
    pub fn escrow_key(&self) -> PathBuf {
        self.root.join("escrow.key")
    }

    /// The key that signs the audit chain's head (mode 0600).
    pub fn audit_signing_key(&self) -> PathBuf {
        self.root.join("audit-signing.key")
    }

    /// The last audit head this server signed (sequence number and hash), kept outside the
    /// database so that deleting signed heads or truncating the chain is caught.
    pub fn audit_head(&self) -> PathBuf {
        self.root.join("audit-head")
    }

    /// Where the audit shipper to syslog has got to (the last sequence number sent).
    pub fn audit_syslog_position(&self) -> PathBuf {
        self.root.join("audit-ship-syslog.position")
    }

    /// Where the audit shipper to a file has got to (the last sequence number written).
    pub fn audit_file_position(&self) -> PathBuf {
        self.root.join("audit-ship-file.position")
    }

    /// The bootstrap administrator's credentials for sesamectl (mode 0600).
    pub fn admin_credentials(&self) -> PathBuf {
        self.root.join(credentials::FILE_NAME)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_data_directory_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(&dir.path().join("nested/data")).unwrap();
        assert_eq!(fs::metadata(data.root()).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(data.admin_credentials(), dir.path().join("nested/data/admin.credentials"));
    }
}
