//! Password hashing (argon2id) and opaque bearer tokens.
//!
//! A token is `<base64 user id>.<256 random bits>`: the first part only
//! helps people tell tokens apart, the second makes it unguessable. The
//! store keeps a SHA-256 of the whole token, never the token itself, so a
//! leaked database does not leak sessions.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub mod mfa;
pub mod signing;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Cost of argon2id: memory in KiB and passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    /// OWASP's recommended minimum for argon2id.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2 }
    }
}

#[derive(Debug, Clone)]
pub struct PasswordHasherConfig {
    argon: Argon2<'static>,
    /// A hash of a random password, to verify against when an account does
    /// not exist so that the answer takes as long as for one that does.
    dummy: String,
}

impl PasswordHasherConfig {
    pub fn new(cost: HashCost) -> Result<Self, AuthError> {
        let params =
            Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(|e| AuthError::Hash(e.to_string()))?;
        let mut this = Self { argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params), dummy: String::new() };
        this.dummy = this.hash(&random_hex(16))?;
        Ok(this)
    }

    /// Spends the time of one verification and fails: for unknown accounts.
    pub fn verify_nobody(&self, password: &str) -> bool {
        let _ = self.verify(password, &self.dummy);
        false
    }

    /// A PHC string (`$argon2id$v=19$...`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    }

    /// Verifies with the parameters recorded in the hash itself, so hashes
    /// made under an older cost still verify.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|h| self.argon.verify_password(password.as_bytes(), &h).is_ok())
    }

    /// A deterministic argon2id digest of an MFA backup code under a
    /// per-user salt. Deterministic so that checking a code is one hash and
    /// a lookup, not one verification per stored code; argon2 because the
    /// codes carry only ~41 bits and must not fall to an offline search if
    /// the database leaks.
    pub fn backup_code_digest(&self, code: &str, salt: &str) -> Result<String, AuthError> {
        let mut out = [0u8; 32];
        self.argon
            .hash_password_into(code.as_bytes(), salt.as_bytes(), &mut out)
            .map_err(|e| AuthError::Hash(e.to_string()))?;
        Ok(hex(&out))
    }
}

/// A newly minted token: give `token` to the client once, store `hash`.
#[derive(Clone)]
pub struct NewToken {
    pub token: String,
    pub hash: String,
}

/// Never prints the token itself: `Debug` output ends up in logs.
impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("token", &"<redacted>").field("hash", &self.hash).finish()
    }
}

pub fn new_token(user_id: u64) -> NewToken {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{}.{}", URL_SAFE_NO_PAD.encode(user_id.to_string()), URL_SAFE_NO_PAD.encode(secret));
    let hash = hash_token(&token);
    NewToken { token, hash }
}

/// What the store keys sessions by.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The public name of a session (Discord's `id_hash`): derived from the
/// stored token hash, so it is stable for the session's life, and one more
/// hash away from the token, so it can be shown without revealing anything
/// that authenticates.
pub fn session_id_hash(token_hash: &str) -> String {
    let digest = Sha256::digest(format!("fussioncord-session:{token_hash}").as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..18])
}

/// A secret for a URL (a webhook's token): 68 URL-safe characters of 51
/// random bytes, Discord's length.
pub fn url_secret() -> String {
    let mut secret = [0u8; 51];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

/// Random hex, for verify keys and the like.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip_and_rejects_wrong() {
        let h = PasswordHasherConfig::new(HashCost { memory_kib: 1024, iterations: 1 }).unwrap();
        let phc = h.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("correct horse", &phc));
        assert!(!h.verify("wrong", &phc));
        assert!(!h.verify("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_unique_and_hashed() {
        let a = new_token(42);
        let b = new_token(42);
        assert_ne!(a.token, b.token);
        assert_eq!(hash_token(&a.token), a.hash);
        assert_ne!(a.hash, a.token);
    }

    #[test]
    fn debug_never_shows_a_token() {
        let t = new_token(42);
        let shown = format!("{t:?}");
        assert!(!shown.contains(&t.token), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn backup_code_digests_are_deterministic_per_salt() {
        let h = PasswordHasherConfig::new(HashCost { memory_kib: 1024, iterations: 1 }).unwrap();
        let a = h.backup_code_digest("abcd1234", "salt-one-0123456").unwrap();
        assert_eq!(a, h.backup_code_digest("abcd1234", "salt-one-0123456").unwrap());
        assert_ne!(a, h.backup_code_digest("abcd1234", "salt-two-0123456").unwrap());
        assert_ne!(a, h.backup_code_digest("abcd1235", "salt-one-0123456").unwrap());
    }

    #[test]
    fn session_id_hashes_are_stable_and_distinct() {
        let (a, b) = (new_token(1), new_token(1));
        assert_eq!(session_id_hash(&a.hash), session_id_hash(&a.hash));
        assert_ne!(session_id_hash(&a.hash), session_id_hash(&b.hash));
        assert!(!a.hash.contains(&session_id_hash(&a.hash)));
    }
}

/// Whether two secrets are equal, in time that depends on their length
/// only, so a guesser learns nothing from how long a refusal takes.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
