//! Signed, expiring file URLs as Discord's CDN makes them:
//! `?ex={expires}&is={issued}&hm={mac}`, the two times as hex unix
//! seconds and the MAC as hex HMAC-SHA256 of the path and both times
//! under the server's key. Anyone may fetch a URL until it expires; nobody
//! can make one for another path or stretch its expiry.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub struct Signer {
    key: Vec<u8>,
}

/// A URL's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub expires: u64,
    pub issued: u64,
    pub mac: [u8; 32],
}

impl Signed {
    /// `ex=…&is=…&hm=…`
    pub fn query(&self) -> String {
        format!("ex={:x}&is={:x}&hm={}", self.expires, self.issued, hex(&self.mac))
    }
}

/// Why a URL was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// No signature, or one that does not parse.
    Missing,
    /// A signature that is not ours for this path and these times.
    Invalid,
    Expired,
}

impl Signer {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    pub fn sign(&self, path: &str, issued: u64, expires: u64) -> Signed {
        Signed { expires, issued, mac: self.mac(path, issued, expires).finalize().into_bytes().into() }
    }

    /// Checks the signature in `query` (a URL's query string) for `path`
    /// at `now` (unix seconds). `ignore_expiry` checks only that we made
    /// it (for refreshing expired URLs).
    pub fn verify(&self, path: &str, query: &str, now: u64, ignore_expiry: bool) -> Result<Signed, UrlError> {
        let (mut ex, mut is, mut hm) = (None, None, None);
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("ex", v)) => ex = u64::from_str_radix(v, 16).ok(),
                Some(("is", v)) => is = u64::from_str_radix(v, 16).ok(),
                Some(("hm", v)) => hm = unhex(v),
                _ => {}
            }
        }
        let (Some(expires), Some(issued), Some(mac)) = (ex, is, hm) else { return Err(UrlError::Missing) };
        // Constant-time comparison, through the MAC's own check.
        self.mac(path, issued, expires).verify_slice(&mac).map_err(|_| UrlError::Invalid)?;
        if !ignore_expiry && now >= expires {
            return Err(UrlError::Expired);
        }
        Ok(Signed { expires, issued, mac: mac.try_into().map_err(|_| UrlError::Invalid)? })
    }

    fn mac(&self, path: &str, issued: u64, expires: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        // Lengths and separators fixed, so no two inputs read alike.
        mac.update(path.as_bytes());
        mac.update(format!("\nex={expires:x}\nis={issued:x}").as_bytes());
        mac
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_path_and_times_only() {
        let signer = Signer::new(b"k".repeat(32));
        let s = signer.sign("/attachments/1/2/a.png", 100, 200);
        let q = s.query();
        assert_eq!(signer.verify("/attachments/1/2/a.png", &q, 150, false), Ok(s.clone()));
        assert_eq!(signer.verify("/attachments/1/2/b.png", &q, 150, false), Err(UrlError::Invalid));
        assert_eq!(signer.verify("/attachments/1/2/a.png", &q, 200, false), Err(UrlError::Expired));
        assert!(signer.verify("/attachments/1/2/a.png", &q, 200, true).is_ok());
        let stretched = q.replace("ex=c8", "ex=1c8");
        assert_eq!(signer.verify("/attachments/1/2/a.png", &stretched, 150, false), Err(UrlError::Invalid));
        assert_eq!(signer.verify("/attachments/1/2/a.png", "ex=1", 150, false), Err(UrlError::Missing));
        let other = Signer::new(b"j".repeat(32));
        assert_eq!(other.verify("/attachments/1/2/a.png", &q, 150, false), Err(UrlError::Invalid));
    }
}
