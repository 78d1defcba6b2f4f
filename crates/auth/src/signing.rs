//! Ed25519 signing keys: an application's interactions are signed with its
//! key, and its `verify_key` is the public half (hex), as on Discord.

use rand::RngCore;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A new secret seed, as hex.
pub fn new_seed() -> String {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    hex(&seed)
}

fn pair(seed_hex: &str) -> Option<Ed25519KeyPair> {
    let seed = unhex(seed_hex)?;
    Ed25519KeyPair::from_seed_unchecked(&seed).ok()
}

/// The public key of a seed, as hex; `None` for a seed that is not one.
pub fn public_key(seed_hex: &str) -> Option<String> {
    pair(seed_hex).map(|p| hex(p.public_key().as_ref()))
}

/// The signature of `message` (hex), as `X-Signature-Ed25519` carries it.
pub fn sign(seed_hex: &str, message: &[u8]) -> Option<String> {
    pair(seed_hex).map(|p| hex(p.sign(message).as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ED25519};

    #[test]
    fn signatures_verify_with_the_public_key_only() {
        let seed = new_seed();
        let public = unhex(&public_key(&seed).unwrap()).unwrap();
        let signature = unhex(&sign(&seed, b"1700000000{\"type\":1}").unwrap()).unwrap();
        let key = UnparsedPublicKey::new(&ED25519, &public);
        assert!(key.verify(b"1700000000{\"type\":1}", &signature).is_ok());
        assert!(key.verify(b"1700000001{\"type\":1}", &signature).is_err());
        assert_ne!(public_key(&new_seed()), public_key(&seed));
        assert_eq!(public_key("zz"), None);
    }
}
