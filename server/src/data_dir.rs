//! The server's data directory: what lives in it, and how private files are written.
//!
//! Files holding a private key or a credential are written to a temporary file created with mode
//! 0600, synced, then renamed into place, so a crash never leaves a half-written or world-readable
//! secret behind.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates the directory if needed (mode 0700 on Unix) and returns its layout.
    pub fn create(root: &Path) -> io::Result<DataDir> {
        if !root.exists() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(root)?;
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

    /// The bootstrap administrator's credentials for sesamectl (mode 0600).
    pub fn admin_credentials(&self) -> PathBuf {
        self.root.join("admin.credentials")
    }
}

/// Writes `contents` to `path` atomically, readable and writable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // The mode above applies only to a new file; a stale temporary file keeps its own.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a public file (a certificate) atomically.
pub fn write_public(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn private_files_are_owner_only_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(&dir.path().join("nested/data")).unwrap();
        assert_eq!(fs::metadata(data.root()).unwrap().permissions().mode() & 0o777, 0o700);
        let path = data.ca_key();
        write_private(&path, b"first").unwrap();
        write_private(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let leftovers: Vec<_> =
            fs::read_dir(data.root()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind: {leftovers:?}");
    }
}
