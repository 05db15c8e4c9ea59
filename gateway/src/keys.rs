//! API keys: a [`KeyStore`] persisted as one JSON file in a data directory.
//!
//! * Keys and secrets are 64 characters `[A-Za-z0-9]` (as Binance's), drawn from the OS
//!   random number generator with rejection sampling (no modulo bias).
//! * The file (`api_keys.json`) is written atomically: a temporary file created with mode
//!   0600, fsync'd, renamed over the old one, then the directory is fsync'd. The in-memory
//!   store changes only after the file is durable, so memory never holds a key the disk lost.
//! * Opening refuses a file readable or writable by group or others (like ssh does).
//! * A [`Secret`] never appears in `Debug` output or logs; log lines carry the account and a
//!   key prefix only.

use matcher::AccountId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the key file inside the data directory.
pub const KEYS_FILE: &str = "api_keys.json";
/// Name of the temporary file a new version is written to before the rename.
pub const KEYS_TMP_FILE: &str = "api_keys.json.tmp";
/// Length of an API key and of a secret.
pub const KEY_LEN: usize = 64;
/// Version of the file format.
const FORMAT_VERSION: u32 = 1;
/// Characters of keys and secrets.
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// How many characters of a key a log line shows.
const LOGGED_PREFIX: usize = 8;

/// Errors of the key store.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The key file is group- or world-accessible.
    #[error("{path} has mode {mode:o}; it must not be accessible by group or others (chmod 600)")]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not a valid key store.
    #[error("{path} is not a valid key store: {reason}")]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The OS random number generator failed.
    #[error("OS random number generator: {0}")]
    Random(getrandom::Error),
}

/// An API secret. Its text is only reachable through [`Secret::expose`]; `Debug` redacts it.
#[derive(Clone)]
pub struct Secret {
    text: String,
    /// The HMAC key, keyed once.
    signer: crate::auth::Signer,
}

impl Secret {
    fn new(text: String) -> Secret {
        let signer = crate::auth::Signer::new(text.as_bytes());
        Secret { text, signer }
    }

    /// The secret's text (the HMAC key, as bytes of this ASCII string).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The secret as an HMAC-SHA256 key.
    pub fn signer(&self) -> &crate::auth::Signer {
        &self.signer
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.text == other.text
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One API key of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The key, sent by clients as `apiKey`.
    pub api_key: String,
    /// The account it trades for.
    pub account: AccountId,
    /// The HMAC secret.
    pub secret: Secret,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredKey {
    api_key: String,
    account: u64,
    secret: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFile {
    version: u32,
    keys: Vec<StoredKey>,
}

/// The API keys of all accounts, persisted in a data directory.
pub struct KeyStore {
    dir: PathBuf,
    keys: BTreeMap<String, ApiKey>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("dir", &self.dir)
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> KeyStoreError {
    let path = path.to_path_buf();
    move |source| KeyStoreError::Io { op, path, source }
}

fn well_formed(s: &str) -> bool {
    s.len() == KEY_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn prefix(key: &str) -> &str {
    key.get(..LOGGED_PREFIX).unwrap_or(key)
}

/// A fresh 64-character `[A-Za-z0-9]` string from the OS RNG.
fn random_token() -> Result<String, KeyStoreError> {
    // Bytes >= 248 are rejected so that every character is equally likely (248 = 4 * 62).
    const LIMIT: u8 = 248;
    let mut out = String::with_capacity(KEY_LEN);
    let mut buf = [0u8; 2 * KEY_LEN];
    while out.len() < KEY_LEN {
        getrandom::fill(&mut buf).map_err(KeyStoreError::Random)?;
        for &b in buf.iter().filter(|&&b| b < LIMIT) {
            if out.len() == KEY_LEN {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(b % 62)]));
        }
    }
    Ok(out)
}

impl KeyStore {
    /// Opens (creating the directory if needed) the key store in `dir`. A missing key file is
    /// an empty store.
    pub fn open(dir: &Path) -> Result<Self, KeyStoreError> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let path = dir.join(KEYS_FILE);
        let mut store = KeyStore {
            dir: dir.to_path_buf(),
            keys: BTreeMap::new(),
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(store),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let mode = file
            .metadata()
            .map_err(io_err("stat", &path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyStoreError::Permissions {
                path,
                mode: mode & 0o7777,
            });
        }
        let corrupt = |reason: String| KeyStoreError::Corrupt {
            path: path.clone(),
            reason,
        };
        let stored: StoredFile = serde_json::from_reader(io::BufReader::new(file))
            .map_err(|e| corrupt(e.to_string()))?;
        if stored.version != FORMAT_VERSION {
            return Err(corrupt(format!("unknown version {}", stored.version)));
        }
        for k in stored.keys {
            if !well_formed(&k.api_key) || !well_formed(&k.secret) {
                return Err(corrupt(format!(
                    "malformed key or secret for key {}",
                    prefix(&k.api_key)
                )));
            }
            let entry = ApiKey {
                api_key: k.api_key.clone(),
                account: AccountId(k.account),
                secret: Secret::new(k.secret),
            };
            if store.keys.insert(k.api_key.clone(), entry).is_some() {
                return Err(corrupt(format!("duplicate key {}", prefix(&k.api_key))));
            }
        }
        tracing::info!(dir = %dir.display(), keys = store.keys.len(), "api key store opened");
        Ok(store)
    }

    /// Creates a key for `account`, durable before it is returned.
    pub fn create_key(&mut self, account: AccountId) -> Result<ApiKey, KeyStoreError> {
        let api_key = loop {
            let k = random_token()?;
            if !self.keys.contains_key(&k) {
                break k;
            }
        };
        let entry = ApiKey {
            api_key: api_key.clone(),
            account,
            secret: Secret::new(random_token()?),
        };
        let mut next = self.keys.clone();
        next.insert(api_key.clone(), entry.clone());
        self.persist(&next)?;
        self.keys = next;
        tracing::info!(
            account = account.0,
            api_key = prefix(&api_key),
            "api key created"
        );
        Ok(entry)
    }

    /// Revokes a key; `Ok(false)` if it did not exist. Durable before it returns.
    pub fn revoke(&mut self, api_key: &str) -> Result<bool, KeyStoreError> {
        if !self.keys.contains_key(api_key) {
            return Ok(false);
        }
        let mut next = self.keys.clone();
        let removed = next.remove(api_key);
        self.persist(&next)?;
        self.keys = next;
        if let Some(k) = removed {
            tracing::info!(
                account = k.account.0,
                api_key = prefix(api_key),
                "api key revoked"
            );
        }
        Ok(true)
    }

    /// Looks up a key.
    pub fn get(&self, api_key: &str) -> Option<&ApiKey> {
        self.keys.get(api_key)
    }

    /// The keys of one account, in key order.
    pub fn keys_of(&self, account: AccountId) -> impl Iterator<Item = &ApiKey> {
        self.keys.values().filter(move |k| k.account == account)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Writes `keys` atomically: temp file (0600) + fsync + rename + directory fsync.
    fn persist(&self, keys: &BTreeMap<String, ApiKey>) -> Result<(), KeyStoreError> {
        let stored = StoredFile {
            version: FORMAT_VERSION,
            keys: keys
                .values()
                .map(|k| StoredKey {
                    api_key: k.api_key.clone(),
                    account: k.account.0,
                    secret: k.secret.text.clone(),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(|e| KeyStoreError::Corrupt {
            path: self.dir.join(KEYS_FILE),
            reason: format!("serialize: {e}"),
        })?;
        let tmp = self.dir.join(KEYS_TMP_FILE);
        let path = self.dir.join(KEYS_FILE);
        // A leftover temp file from a crash may have any mode: remove it so create_new
        // creates ours with 0600.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &tmp)(e)),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        file.write_all(&bytes).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync directory", &self.dir))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn create_reopen_lookup_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut store = KeyStore::open(&data).unwrap();
        assert!(store.is_empty());
        assert!(!data.join(KEYS_FILE).exists());

        let a = store.create_key(AccountId(7)).unwrap();
        let b = store.create_key(AccountId(7)).unwrap();
        let c = store.create_key(AccountId(9)).unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(mode(&data.join(KEYS_FILE)), 0o600);
        assert!(!data.join(KEYS_TMP_FILE).exists());

        let reopened = KeyStore::open(&data).unwrap();
        assert_eq!(reopened.len(), 3);
        for k in [&a, &b, &c] {
            assert_eq!(reopened.get(&k.api_key), Some(k));
        }
        assert_eq!(reopened.keys_of(AccountId(7)).count(), 2);
        assert_eq!(reopened.keys_of(AccountId(8)).count(), 0);
        assert_eq!(reopened.get("nope"), None);

        assert!(store.revoke(&a.api_key).unwrap());
        assert!(!store.revoke(&a.api_key).unwrap());
        assert_eq!(store.get(&a.api_key), None);
        let reopened = KeyStore::open(&data).unwrap();
        assert_eq!(reopened.len(), 2);
        assert_eq!(reopened.get(&a.api_key), None);
        assert_eq!(reopened.get(&b.api_key), Some(&b));
        assert_eq!(mode(&data.join(KEYS_FILE)), 0o600);
    }

    #[test]
    fn keys_and_secrets_are_random_alphanumeric() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        let mut seen = BTreeSet::new();
        let mut chars = BTreeSet::new();
        for i in 0..20 {
            let k = store.create_key(AccountId(i)).unwrap();
            for s in [k.api_key.as_str(), k.secret.expose()] {
                assert!(well_formed(s), "{s}");
                assert!(seen.insert(s.to_string()), "repeated {s}");
                chars.extend(s.bytes());
            }
        }
        // 40 tokens of 64 characters: each of the 62 characters appears (a missing one has
        // probability about 62 * (61/62)^2560, below 1e-15).
        assert_eq!(chars.len(), 62);
    }

    #[test]
    fn secret_never_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        let k = store.create_key(AccountId(1)).unwrap();
        let secret = k.secret.expose().to_string();
        for text in [
            format!("{k:?}"),
            format!("{k:#?}"),
            format!("{:?}", k.secret),
            format!("{store:?}"),
        ] {
            assert!(!text.contains(&secret), "{text}");
        }
        assert!(format!("{k:?}").contains(&k.api_key));
    }

    #[test]
    fn refuses_group_or_world_accessible_file() {
        let dir = tempfile::tempdir().unwrap();
        KeyStore::open(dir.path())
            .unwrap()
            .create_key(AccountId(1))
            .unwrap();
        let path = dir.path().join(KEYS_FILE);
        for bad in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
            match KeyStore::open(dir.path()) {
                Err(KeyStoreError::Permissions { mode, .. }) => assert_eq!(mode, bad),
                other => panic!("{bad:o}: {other:?}"),
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(KeyStore::open(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn refuses_corrupt_files() {
        let key = "A".repeat(64);
        let other = "B".repeat(64);
        let cases = [
            "".to_string(),
            "{".to_string(),
            r#"{"version":2,"keys":[]}"#.to_string(),
            r#"{"version":1,"keys":[],"extra":1}"#.to_string(),
            format!(
                r#"{{"version":1,"keys":[{{"apiKey":"short","account":1,"secret":"{key}"}}]}}"#
            ),
            format!(
                r#"{{"version":1,"keys":[{{"apiKey":"{key}","account":1,"secret":"{}"}}]}}"#,
                "-".repeat(64)
            ),
            format!(
                r#"{{"version":1,"keys":[{{"apiKey":"{key}","account":1,"secret":"{other}"}},{{"apiKey":"{key}","account":2,"secret":"{other}"}}]}}"#
            ),
        ];
        for text in &cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEYS_FILE);
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            assert!(
                matches!(
                    KeyStore::open(dir.path()),
                    Err(KeyStoreError::Corrupt { .. })
                ),
                "{text}"
            );
        }
        // The same shape with valid values loads.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYS_FILE);
        fs::write(
            &path,
            format!(
                r#"{{"version":1,"keys":[{{"apiKey":"{key}","account":5,"secret":"{other}"}}]}}"#
            ),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        assert_eq!(store.get(&key).unwrap().account, AccountId(5));
        assert_eq!(store.get(&key).unwrap().secret.expose(), other);
    }

    #[test]
    fn failed_write_changes_nothing_and_stale_temp_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        let a = store.create_key(AccountId(1)).unwrap();

        // A directory where the temp file goes makes the write fail.
        let tmp = dir.path().join(KEYS_TMP_FILE);
        fs::create_dir(&tmp).unwrap();
        assert!(matches!(
            store.create_key(AccountId(2)),
            Err(KeyStoreError::Io { .. })
        ));
        assert!(matches!(
            store.revoke(&a.api_key),
            Err(KeyStoreError::Io { .. })
        ));
        assert_eq!(store.len(), 1);
        assert_eq!(store.get(&a.api_key), Some(&a));
        assert_eq!(KeyStore::open(dir.path()).unwrap().len(), 1);

        // A stale, world-readable temp file left by a crash is replaced by a 0600 one.
        fs::remove_dir(&tmp).unwrap();
        fs::write(&tmp, "junk").unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o666)).unwrap();
        store.create_key(AccountId(2)).unwrap();
        assert_eq!(mode(&dir.path().join(KEYS_FILE)), 0o600);
        assert_eq!(KeyStore::open(dir.path()).unwrap().len(), 2);
    }
}
