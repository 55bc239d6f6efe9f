//! Where the local channel listens and how a command reaches it: a Unix domain socket on Linux
//! (its directory 0755, the socket 0666 so that every local user can connect; the service learns
//! each caller's uid and pid from the kernel, `SO_PEERCRED`, and serves each only the mailboxes of
//! its own account: see the agent's `rotation::access`), a named pipe on Windows (not yet:
//! see `deploy/windows/README.md`; the functions there answer `Unsupported`). Nothing here
//! listens on a network: a remote connection is impossible by construction.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Who is at the other end of a connection, as the operating system says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer {
    /// The user id.
    pub uid: Option<u32>,
    /// The group id.
    pub gid: Option<u32>,
    /// The process id, when the system tells it.
    pub pid: Option<i32>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.uid {
            Some(uid) => write!(f, "uid {uid}")?,
            None => f.write_str("uid unknown")?,
        }
        if let Some(pid) = self.pid {
            write!(f, " pid {pid}")?;
        }
        Ok(())
    }
}

/// The default socket (Linux), under systemd's `RuntimeDirectory=sesame-agent`.
#[cfg(unix)]
pub const DEFAULT_SOCKET: &str = "/run/sesame-agent/agent.sock";
/// The default pipe name (Windows).
#[cfg(windows)]
pub const DEFAULT_SOCKET: &str = r"\\.\pipe\sesame-agent";

/// The default address of the local channel.
pub fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_SOCKET)
}

#[cfg(unix)]
pub use unix::{Listener, Stream, connect};

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};

    use super::*;

    /// A stream to or from the service.
    pub type Stream = tokio::net::UnixStream;

    /// The service's socket; the file is removed when this is dropped.
    #[derive(Debug)]
    pub struct Listener {
        inner: tokio::net::UnixListener,
        path: PathBuf,
    }

    impl Listener {
        /// Listens on `path`: creates its directory (0755) if missing, replaces a stale socket
        /// (one nobody answers on), refuses to take over a live one or any other file, and opens
        /// the socket to every local user (0666).
        pub fn bind(path: &Path) -> io::Result<Listener> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.exists()
            {
                std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
            }
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_socket() => {
                    if std::os::unix::net::UnixStream::connect(path).is_ok() {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!("{}: another service is listening", path.display()),
                        ));
                    }
                    std::fs::remove_file(path)?;
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: exists and is not a socket", path.display()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let inner = tokio::net::UnixListener::bind(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
            Ok(Listener { inner, path: path.to_owned() })
        }

        /// Where it listens.
        pub fn path(&self) -> &Path {
            &self.path
        }

        /// The next connection and who made it.
        pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
            let (stream, _) = self.inner.accept().await?;
            let peer = match stream.peer_cred() {
                Ok(cred) => Peer { uid: Some(cred.uid()), gid: Some(cred.gid()), pid: cred.pid() },
                Err(_) => Peer::default(),
            };
            Ok((stream, peer))
        }
    }

    impl Drop for Listener {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Connects to the service.
    pub async fn connect(path: &Path) -> io::Result<Stream> {
        tokio::net::UnixStream::connect(path).await
    }
}

#[cfg(windows)]
pub use windows::{Listener, Stream, connect};

#[cfg(windows)]
mod windows {
    //! Not implemented: a named pipe needs an explicit security descriptor (the default one
    //! lets ordinary users read but not write), which tokio does not build. See
    //! `deploy/windows/README.md`.

    use super::*;

    /// A stream to or from the service (placeholder until the named pipe is written).
    pub type Stream = tokio::io::DuplexStream;

    fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "the local named pipe is not implemented yet")
    }

    /// The service's pipe.
    #[derive(Debug)]
    pub struct Listener {
        path: PathBuf,
    }

    impl Listener {
        /// Not implemented yet.
        pub fn bind(_path: &Path) -> io::Result<Listener> {
            Err(unsupported())
        }

        /// Where it listens.
        pub fn path(&self) -> &Path {
            &self.path
        }

        /// Not implemented yet.
        pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
            Err(unsupported())
        }
    }

    /// Not implemented yet.
    pub async fn connect(_path: &Path) -> io::Result<Stream> {
        Err(unsupported())
    }
}
