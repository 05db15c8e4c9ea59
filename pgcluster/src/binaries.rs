//! Finding the installed PostgreSQL server binaries.

use crate::ClusterError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder holding `initdb`, `pg_ctl`, `postgres` (and usually `psql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The folder.
    pub bin_dir: PathBuf,
}

const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

impl Binaries {
    /// Looks, in order, in `$PGCLUSTER_BIN_DIR`, `pg_config --bindir`, the newest
    /// `/usr/lib/postgresql/<version>/bin`, `/usr/local/pgsql/bin` and the folders of `$PATH`.
    pub fn locate() -> Result<Binaries, ClusterError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = std::env::var_os("PGCLUSTER_BIN_DIR") {
            candidates.push(PathBuf::from(dir));
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !dir.is_empty() {
                    candidates.push(PathBuf::from(dir));
                }
            }
        }
        candidates.extend(debian_bin_dirs(Path::new("/usr/lib/postgresql")));
        candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path));
        }
        Binaries::first_complete(&candidates)
    }

    /// The first folder of `candidates` holding all the server programs.
    pub fn first_complete(candidates: &[PathBuf]) -> Result<Binaries, ClusterError> {
        for dir in candidates {
            if REQUIRED.iter().all(|b| dir.join(b).is_file()) {
                return Ok(Binaries {
                    bin_dir: dir.clone(),
                });
            }
        }
        Err(ClusterError::BinariesMissing {
            searched: candidates
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The path of one program of the folder.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// `psql`: from the server folder when it has one, else from `$PATH`.
    pub fn psql(&self) -> PathBuf {
        let own = self.program("psql");
        if own.is_file() {
            own
        } else {
            PathBuf::from("psql")
        }
    }
}

/// `/usr/lib/postgresql/<version>/bin`, newest version first.
fn debian_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn newest_debian_version_first() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["9.6", "13", "15", "notaversion"] {
            std::fs::create_dir_all(dir.path().join(v).join("bin")).unwrap();
        }
        let found = debian_bin_dirs(dir.path());
        assert_eq!(
            found,
            vec![
                dir.path().join("15/bin"),
                dir.path().join("13/bin"),
                dir.path().join("9.6/bin")
            ]
        );
    }

    #[test]
    fn missing_binaries_are_named_with_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("partial");
        std::fs::create_dir_all(&partial).unwrap();
        // initdb and pg_ctl but no postgres: not a usable folder.
        for p in ["initdb", "pg_ctl"] {
            std::fs::write(partial.join(p), "").unwrap();
        }
        let e =
            Binaries::first_complete(&[dir.path().join("nowhere"), partial.clone()]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("apt-get install postgresql"), "{text}");
        assert!(
            text.contains("nowhere") && text.contains("partial"),
            "{text}"
        );
        std::fs::write(partial.join("postgres"), "").unwrap();
        assert_eq!(
            Binaries::first_complete(&[dir.path().join("nowhere"), partial.clone()])
                .unwrap()
                .bin_dir,
            partial
        );
    }
}
