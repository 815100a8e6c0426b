//! Author identities: Ed25519 signing keys, drawn from the OS's randomness and kept in mode-0600 files.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::types::{PublicKey, parse_hex};

/// The first line of a key file, before the hex secret.
const KEY_FILE_TAG: &str = "mindlog-ed25519-secret-v1";

/// An author's signing key.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    /// The key expanded once (RFC 8032 §5.1.5), so signing skips that SHA-512 each time.
    expanded: Arc<ExpandedSecretKey>,
    verifying: VerifyingKey,
    public: PublicKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("public", &self.public).finish_non_exhaustive()
    }
}

/// Why a key file could not be created or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Refused to overwrite an existing key.
    #[error("{0} already exists; mindlog never overwrites a key")]
    AlreadyExists(String),
    /// The file is not a mindlog key file.
    #[error("{0} is not a mindlog key file (expected '{KEY_FILE_TAG}' and 64 hex characters)")]
    Malformed(String),
    /// A FIFO, device, socket or folder where a key file should be.
    #[error("{0} is not a regular file: a key is kept in a plain file of mode 0600")]
    NotAFile(String),
    /// Others may read the secret.
    #[error("{path} is readable by other users (mode {mode:o}): run chmod 600 {path}")]
    TooOpen {
        /// The key file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The OS gave no randomness.
    #[error("the operating system's random source failed: {0}")]
    Randomness(String),
    /// Reading or writing failed.
    #[error("{path}")]
    Io {
        /// The key file.
        path: String,
        /// What failed.
        source: io::Error,
    },
}

impl Identity {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Identity, IdentityError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| IdentityError::Randomness(e.to_string()))?;
        Ok(Identity::from_secret(&secret))
    }

    /// The identity whose 32-byte Ed25519 secret (RFC 8032 seed) is `secret`.
    pub fn from_secret(secret: &[u8; 32]) -> Identity {
        let key = SigningKey::from_bytes(secret);
        let expanded = Arc::new(ExpandedSecretKey::from(secret));
        let verifying = key.verifying_key();
        let public = PublicKey(verifying.to_bytes());
        Identity { key, expanded, verifying, public }
    }

    /// The public key, which names this author everywhere.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The Ed25519 public key (for signed notes).
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying
    }

    /// Signs `message` with RFC 8032 Ed25519 (identical output to `SigningKey::sign`).
    pub(crate) fn sign(&self, message: &[u8]) -> ed25519_dalek::Signature {
        ed25519_dalek::hazmat::raw_sign::<sha2::Sha512>(&self.expanded, message, &self.verifying)
    }

    /// Writes a new key file with mode 0600. Fails if `path` exists.
    pub fn save_new(&self, path: &Path) -> Result<(), IdentityError> {
        let shown = path.display().to_string();
        let io_err = |source| IdentityError::Io { path: shown.clone(), source };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => IdentityError::AlreadyExists(shown.clone()),
            _ => io_err(e),
        })?;
        let text = format!("{KEY_FILE_TAG}\n{}\n", hex::encode(self.key.to_bytes()));
        file.write_all(text.as_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(())
    }

    /// Reads a key file written by [`Identity::save_new`], refusing one others can read and
    /// anything but a regular file (a FIFO would block the read forever, a device never end).
    pub fn load(path: &Path) -> Result<Identity, IdentityError> {
        let shown = path.display().to_string();
        let io_err = |source| IdentityError::Io { path: shown.clone(), source };
        if !fs::metadata(path).map_err(io_err)?.is_file() {
            return Err(IdentityError::NotAFile(shown));
        }
        let mut options = OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            // Never wait in open(2), should a FIFO take the file's place after the check above.
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NONBLOCK);
        }
        let file = options.open(path).map_err(io_err)?;
        // What counts is the file opened, not the one looked at before.
        let metadata = file.metadata().map_err(io_err)?;
        if !metadata.is_file() {
            return Err(IdentityError::NotAFile(shown));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(IdentityError::TooOpen { path: shown, mode });
            }
        }
        let mut text = String::new();
        // A key file is 91 bytes; anything much longer is not one.
        file.take(4096).read_to_string(&mut text).map_err(io_err)?;
        let mut lines = text.lines();
        let secret = match (lines.next(), lines.next(), lines.next()) {
            (Some(KEY_FILE_TAG), Some(hex), None) => parse_hex::<32>(hex.trim()).ok(),
            _ => None,
        };
        secret.map(|s| Identity::from_secret(&s)).ok_or(IdentityError::Malformed(shown))
    }
}
