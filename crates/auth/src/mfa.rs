//! Two-factor authentication: TOTP (RFC 6238, as authenticator apps do it:
//! SHA-1, 6 digits, 30 s) and single-use backup codes.

use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per TOTP time step.
pub const STEP_SECS: u64 = 30;
/// How many backup codes a user gets at a time.
pub const BACKUP_CODES: usize = 10;
const BACKUP_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MfaError {
    #[error("the TOTP secret is not base32 of 10 to 64 bytes")]
    InvalidSecret,
}

/// A TOTP secret as clients show it (base32), checked and normalised:
/// upper case, no spaces, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(String);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// Discord's client makes 16-character (80-bit) secrets; RFC 4226 asks
    /// for at least 128 bits but 80 is what authenticator apps meet in
    /// practice, so that is the floor.
    pub fn parse(raw: &str) -> Result<Self, MfaError> {
        let norm: String =
            raw.chars().filter(|c| !c.is_whitespace() && *c != '=').map(|c| c.to_ascii_uppercase()).collect();
        if norm.len() > 128 {
            return Err(MfaError::InvalidSecret);
        }
        let bytes = Secret::Encoded(norm.clone()).to_bytes().map_err(|_| MfaError::InvalidSecret)?;
        if !(10..=64).contains(&bytes.len()) {
            return Err(MfaError::InvalidSecret);
        }
        Ok(Self(norm))
    }

    pub fn as_base32(&self) -> &str {
        &self.0
    }

    fn totp(&self) -> Option<TOTP> {
        let bytes = Secret::Encoded(self.0.clone()).to_bytes().ok()?;
        Some(TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, bytes))
    }

    /// The time step whose code `code` is, allowing one step of clock skew
    /// either way, or `None` if it is none of them. The caller refuses
    /// steps at or before the last one it accepted, so a code works once.
    pub fn matching_step(&self, code: &str, unix_secs: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp()?;
        let now = unix_secs / STEP_SECS;
        // Every candidate is computed, so timing says nothing about which.
        let mut found = None;
        for step in [now.saturating_sub(1), now, now + 1] {
            if constant_time_eq(totp.generate(step * STEP_SECS).as_bytes(), code.as_bytes()) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fresh backup codes: 8 characters of `a-z0-9` each, as Discord's.
pub fn new_backup_codes() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..BACKUP_CODES)
        .map(|_| (0..8).map(|_| BACKUP_ALPHABET[rng.gen_range(0..BACKUP_ALPHABET.len())] as char).collect())
        .collect()
}

/// A backup code as typed (`ABCD-1234`, `abcd 1234`) in its stored form,
/// or `None` if it cannot be one.
pub fn normalize_backup_code(raw: &str) -> Option<String> {
    let code: String =
        raw.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).take(9).collect();
    (code.len() == 8 && code.bytes().all(|b| BACKUP_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_and_normalised() {
        let s = TotpSecret::parse("jbsw y3dp ehpk 3pxp").unwrap();
        assert_eq!(s.as_base32(), "JBSWY3DPEHPK3PXP");
        assert!(!format!("{s:?}").contains("JBSW"));
        assert_eq!(TotpSecret::parse("not base32!"), Err(MfaError::InvalidSecret));
        assert_eq!(TotpSecret::parse("JBSWY3DP"), Err(MfaError::InvalidSecret), "40 bits is too short");
        assert_eq!(TotpSecret::parse(""), Err(MfaError::InvalidSecret));
    }

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        let s = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        let t = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            30,
            Secret::Encoded("JBSWY3DPEHPK3PXP".into()).to_bytes().unwrap(),
        );
        let now = 1_700_000_000u64;
        let step = now / 30;
        assert_eq!(s.matching_step(&t.generate(now), now), Some(step));
        assert_eq!(s.matching_step(&t.generate(now - 30), now), Some(step - 1));
        assert_eq!(s.matching_step(&t.generate(now + 30), now), Some(step + 1));
        assert_eq!(s.matching_step(&t.generate(now - 90), now), None);
        assert_eq!(s.matching_step("12345", now), None);
        assert_eq!(s.matching_step("abcdef", now), None);
    }

    #[test]
    fn backup_codes_are_fresh_and_normalise() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), BACKUP_CODES);
        assert!(codes.iter().all(|c| normalize_backup_code(c).as_deref() == Some(c.as_str())));
        assert_ne!(codes, new_backup_codes());
        assert_eq!(normalize_backup_code("ABCD-1234").as_deref(), Some("abcd1234"));
        assert_eq!(normalize_backup_code("abcd12345"), None);
        assert_eq!(normalize_backup_code("abcd_123"), None);
    }
}
