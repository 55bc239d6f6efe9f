//! Files and directories only their owner may read: atomic writes with a chosen mode (0600 for a
//! private key or a credential) and directories created 0700.
//!
//! A file is written to a temporary file beside it, created with its mode, synced, then renamed
//! into place, so a crash never leaves a half-written or world-readable secret behind. Modes apply
//! on Unix; elsewhere the platform's defaults do.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The mode of files holding a secret: read and write by the owner only.
pub const PRIVATE_MODE: u32 = 0o600;

/// Writes `contents` to `path` atomically, readable and writable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic(path, contents, PRIVATE_MODE)
}

/// Writes `contents` to `path` atomically with `mode` (on Unix): a temporary file beside it,
/// synced, then renamed over it; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    copy_atomic(path, &mut &contents[..], mode)
}

/// [`write_atomic`] from a reader (a file copied without holding it in memory).
pub fn copy_atomic(path: &Path, contents: &mut impl io::Read, mode: u32) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut file = create_with_mode(&tmp, mode)?;
        io::copy(contents, &mut file)?;
        file.flush()?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Opens `path` for writing, created or truncated, with `mode` on Unix (also when a stale file
/// was there: the mode given at creation applies only to a new file).
pub fn create_with_mode(path: &Path, mode: u32) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(file)
}

/// Syncs a directory, so that a file created or renamed in it is on disk (nothing to do off
/// Unix).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates `dir` and its missing parents, the last one with mode 0700 on Unix; an existing
/// directory is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The file's permission bits (0 when it cannot be read, which no assertion expects).
    fn mode(path: &Path) -> u32 {
        fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn private_files_are_owner_only_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("nested/data");
        create_private_dir(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        let path = root.join("ca.key");
        write_private(&path, b"first").unwrap();
        write_private(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(mode(&path), 0o600);
        let leftovers: Vec<_> =
            fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind: {leftovers:?}");
    }

    #[test]
    fn a_stale_temporary_file_does_not_lend_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.key");
        let stale = dir.path().join(".agent.key.tmp");
        fs::write(&stale, b"old").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&path, b"KEY").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(!stale.exists());
    }

    #[test]
    fn an_existing_directory_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        create_private_dir(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o750);
    }
}
