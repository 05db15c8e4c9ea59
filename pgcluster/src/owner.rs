//! Who the server runs as: the current user, or `postgres` when the process is root.

use crate::ClusterError;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The user the server programs run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The current (non-root) user.
    Current,
    /// The `postgres` user (we are root).
    User { uid: u32, gid: u32 },
}

impl Owner {
    /// `postgres` when running as root, else the current user.
    pub(crate) fn detect() -> Result<Owner, ClusterError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(Owner::Current);
        }
        let name = CString::new("postgres").map_err(|_| ClusterError::NoPostgresUser)?;
        // SAFETY: `name` is a valid NUL-terminated string; the returned record is read at once,
        // before any other getpw* call of this thread could overwrite it.
        let (uid, gid) = unsafe {
            let pw = libc::getpwnam(name.as_ptr());
            if pw.is_null() {
                return Err(ClusterError::NoPostgresUser);
            }
            ((*pw).pw_uid, (*pw).pw_gid)
        };
        Ok(Owner::User { uid, gid })
    }

    /// Makes `path` belong to the owner (no-op for the current user).
    pub(crate) fn chown(self, path: &Path) -> Result<(), ClusterError> {
        if let Owner::User { uid, gid } = self {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| ClusterError::io("chown", path, e))?;
        }
        Ok(())
    }

    /// Makes `cmd` run as the owner.
    pub(crate) fn apply(self, cmd: &mut Command) {
        if let Owner::User { uid, gid } = self {
            cmd.uid(uid).gid(gid);
            // The server's environment should not point at root's home.
            cmd.env("HOME", "/tmp");
        }
    }
}
