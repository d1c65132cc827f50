//! API keys for `timehook serve`: bearer keys with a scope, kept in a JSON file of their own
//! (mode 0600) that holds only each key's SHA-256. `timehook keys create` prints a key once.
//!
//! Keys are 32 random bytes, so a plain SHA-256 is the right hash (no password stretching
//! needed), and a presented key is compared with the stored hash in constant time.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::error::{CliError, CliResult};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read jobs, attempts, endpoints, subscriptions, metrics and exports.
    Read,
    /// Everything `read` may, and create, change and delete.
    Write,
}

impl std::str::FromStr for Scope {
    type Err = CliError;
    fn from_str(s: &str) -> CliResult<Scope> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            _ => Err(CliError::invalid(
                "scope",
                format!("{s:?} is not read or write"),
            )),
        }
    }
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// One stored key: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyEntry {
    /// The key's public id (the part after `thk_`).
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    /// Hex SHA-256 of the whole key.
    #[serde(rename = "sha256")]
    #[schema(ignore)]
    hash: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

fn hash_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(path: &Path) -> CliResult<KeyFile> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CliError {
            code: "invalid_config",
            field: Some("keys".into()),
            message: format!("{} is not a timehook keys file: {e}", path.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile::default()),
        Err(e) => Err(CliError {
            code: "store_error",
            field: Some("keys".into()),
            message: format!("cannot read {}: {e}", path.display()),
        }),
    }
}

fn write(path: &Path, file: &KeyFile) -> CliResult<()> {
    let failed = |e: std::io::Error| CliError {
        code: "store_error",
        field: Some("keys".into()),
        message: format!("cannot write {}: {e}", path.display()),
    };
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp).map_err(failed)?;
    std::io::Write::write_all(
        &mut f,
        &serde_json::to_vec_pretty(file).expect("serializable"),
    )
    .map_err(failed)?;
    f.sync_all().map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(failed)
}

/// Creates a key; returns the key (shown once) and its entry.
pub fn create(
    path: &Path,
    name: &str,
    scope: Scope,
    now: DateTime<Utc>,
) -> CliResult<(String, KeyEntry)> {
    if name.trim().is_empty() {
        return Err(CliError::invalid("name", "a key needs a name"));
    }
    let mut file = read(path)?;
    let mut bytes = [0u8; 36];
    getrandom::fill(&mut bytes).map_err(|e| CliError {
        code: "store_error",
        field: None,
        message: format!("no randomness for a new key: {e}"),
    })?;
    let id: String = bytes[..4].iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("thk_{id}_{}", URL_SAFE_NO_PAD.encode(&bytes[4..]));
    let entry = KeyEntry {
        id,
        name: name.to_owned(),
        scope,
        created_at: now,
        hash: hash_hex(&key),
    };
    file.keys.push(entry.clone());
    write(path, &file)?;
    Ok((key, entry))
}

/// The stored keys.
pub fn list(path: &Path) -> CliResult<Vec<KeyEntry>> {
    Ok(read(path)?.keys)
}

/// Removes the key with this id.
pub fn revoke(path: &Path, id: &str) -> CliResult<KeyEntry> {
    let mut file = read(path)?;
    let id = id.strip_prefix("thk_").unwrap_or(id);
    let id = id.split('_').next().unwrap_or(id);
    let at = file
        .keys
        .iter()
        .position(|k| k.id == id)
        .ok_or_else(|| CliError::not_found(format!("no key with id {id}")))?;
    let entry = file.keys.remove(at);
    write(path, &file)?;
    Ok(entry)
}

/// A file's modification time and length.
type FileStamp = (SystemTime, u64);

/// The keys a server checks against, read again whenever the file changes (a revoked key stops
/// working without a restart).
pub struct Keys {
    path: PathBuf,
    cached: Mutex<(Option<FileStamp>, Vec<KeyEntry>)>,
}

impl Keys {
    pub fn open(path: PathBuf) -> CliResult<Keys> {
        let keys = Keys {
            path,
            cached: Mutex::new((None, Vec::new())),
        };
        keys.current()?;
        Ok(keys)
    }

    fn current(&self) -> CliResult<Vec<KeyEntry>> {
        // Modification time and length: a rewrite within one clock tick still changes the length.
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| Ok((m.modified()?, m.len())))
            .ok();
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != modified || modified.is_none() {
            *cached = (modified, read(&self.path)?.keys);
        }
        Ok(cached.1.clone())
    }

    /// Whether any key exists.
    pub fn any(&self) -> bool {
        self.current().map(|k| !k.is_empty()).unwrap_or(true)
    }

    /// The entry of a presented key, if it is one of ours.
    pub fn check(&self, presented: &str) -> Option<KeyEntry> {
        let keys = self.current().ok()?;
        let id = presented.strip_prefix("thk_")?.split('_').next()?;
        let entry = keys.into_iter().find(|k| k.id == id)?;
        let hash = hash_hex(presented);
        bool::from(hash.as_bytes().ct_eq(entry.hash.as_bytes())).then_some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_stored_as_a_hash_checked_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let now = Utc::now();
        let (key, entry) = create(&path, "ci", Scope::Write, now).unwrap();
        assert!(key.starts_with(&format!("thk_{}_", entry.id)));
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(!stored.contains(&key) && stored.contains(&hash_hex(&key)));
        let keys = Keys::open(path.clone()).unwrap();
        assert_eq!(keys.check(&key).unwrap().scope, Scope::Write);
        // One character off, or another key with the same id, is refused.
        let mut wrong = key.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keys.check(&wrong).is_none());
        assert!(keys.check("thk_").is_none() && keys.check("Bearer").is_none());
        revoke(&path, &entry.id).unwrap();
        assert!(
            keys.check(&key).is_none(),
            "revocation is seen without a restart"
        );
        assert_eq!(revoke(&path, &entry.id).unwrap_err().code, "not_found");
    }
}
