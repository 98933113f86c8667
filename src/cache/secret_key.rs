//! The cache's own secret: 32 random bytes in `<cache>/secret.key` (mode 0600),
//! made on first use.
//!
//! A part of a step's key that carries a secret value (a variable, the
//! command) enters the key sealed: BLAKE3 keyed with this secret, over the
//! value. The key then changes when the value does, so a step never hits an
//! entry made with another value; and a key or entry read from a shared remote
//! gives nothing to test guesses of the value against, as a plain hash would.
//! The price: such steps hit only in caches that hold the same secret.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const FILE: &str = "secret.key";

/// The key that seals secret values in cache keys.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A new random key (from the system's random source).
    pub fn random() -> std::io::Result<SecretKey> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(SecretKey(bytes))
    }

    /// The key of the cache at `dir`: read, or made and written when there is
    /// none. Two processes that make one at once agree on the first written.
    pub fn load_or_create(dir: &Path) -> std::io::Result<SecretKey> {
        let path = dir.join(FILE);
        if let Some(key) = read(&path)? {
            return Ok(key);
        }
        let key = SecretKey::random()?;
        let temp = dir.join(format!("{FILE}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = std::fs::File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(&key.0)?;
            file.sync_all()?;
            // A link fails rather than replace a key another process made meanwhile.
            match std::fs::hard_link(&temp, &path) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })();
        let _ = std::fs::remove_file(&temp);
        written?;
        read(&path)?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not 32 bytes", path.display()),
            )
        })
    }

    /// `sealed:` and 64 hex digits: the keyed BLAKE3 of `value`.
    pub fn seal(&self, value: &str) -> String {
        format!(
            "sealed:{}",
            blake3::keyed_hash(&self.0, value.as_bytes()).to_hex()
        )
    }
}

fn read(path: &Path) -> std::io::Result<Option<SecretKey>> {
    match std::fs::read(path) {
        Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(bytes) => Ok(Some(SecretKey(bytes))),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not 32 bytes", path.display()),
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
