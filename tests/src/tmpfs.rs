//! A small tmpfs for a test that fills a disk (the fault suite): mounted on a directory (keeping
//! the files already there), filled to its last page by a filler file, given its space back by
//! deleting the filler, and unmounted when dropped, also when the test panics. Mounting needs
//! root, which the test machines give.

// Reason: a test helper fails by panicking, like the tests that use it.
#![allow(clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs.
#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
    /// The directory made for it (removed after unmounting), when it was not there before.
    made: bool,
}

/// The filler file's name at the root of the tmpfs.
const FILLER: &str = ".filler";

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().expect("run a system command");
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, such as `"32m"`) on `path`, created when missing;
    /// what `path` held is copied onto the tmpfs first (owners and modes kept).
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        let made = !path.exists();
        std::fs::create_dir_all(path).expect("create the mount point");
        let aside = tempfile::tempdir().expect("a directory to keep the files aside");
        let (from, to) = (format!("{}/.", path.display()), aside.path().display().to_string());
        run("cp", &["-a", &from, &to]);
        let target = path.display().to_string();
        run("mount", &["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs", &target]);
        let tmpfs = Tmpfs { path: path.to_path_buf(), made };
        let back = format!("{}/.", aside.path().display());
        run("cp", &["-a", &back, &target]);
        tmpfs
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the filler file until the disk refuses (`ENOSPC`); returns the bytes it took.
    pub fn fill(&self) -> u64 {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join(FILLER))
            .expect("create the filler file");
        let mut written = 0u64;
        for chunk in [1024 * 1024, 4096, 512] {
            let block = vec![0x5a_u8; chunk];
            loop {
                match file.write(&block) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => panic!("filling {}: {e}", self.path.display()),
                }
            }
        }
        written
    }

    /// Deletes the filler: the space comes back.
    pub fn free(&self) {
        std::fs::remove_file(self.path.join(FILLER)).expect("delete the filler file");
    }

    /// Bytes free, as `df` counts them.
    pub fn available(&self) -> u64 {
        let output = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.path)
            .output()
            .expect("run df");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = self.path.display().to_string();
        // A process may still hold a file open (a killed agent's last moments): detach lazily.
        let _ = Command::new("umount").args(["-l", &target]).status();
        if self.made {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}
