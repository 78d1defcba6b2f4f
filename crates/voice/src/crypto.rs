//! The RTP transport encryption of Discord's `*_rtpsize` AEAD modes: the
//! RTP header (with CSRCs and the extension preamble) is the associated
//! data, the payload is encrypted, then come a 16-byte tag and a 4-byte
//! big-endian nonce counter (zero-padded to the cipher's nonce size).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;

pub(crate) const TAG: usize = 16;
pub(crate) const NONCE_SUFFIX: usize = 4;

/// The encryption modes offered, in READY's order, which clients follow:
/// AES-GCM first, as Discord prefers it (discord.js does it with Node's own
/// crypto), then XChaCha20-Poly1305, which every library has (discord.py
/// has no AES-GCM).
pub(crate) const MODES: [&str; 2] = ["aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    XChaCha,
    AesGcm,
}

impl Mode {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "aead_xchacha20_poly1305_rtpsize" => Some(Self::XChaCha),
            "aead_aes256_gcm_rtpsize" => Some(Self::AesGcm),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AesGcm => MODES[0],
            Self::XChaCha => MODES[1],
        }
    }
}

/// One participant's key in its mode.
pub(crate) enum Cipher {
    XChaCha(Box<XChaCha20Poly1305>),
    AesGcm(Box<Aes256Gcm>),
}

#[derive(Debug)]
pub(crate) struct Failed;

impl Cipher {
    pub(crate) fn new(mode: Mode, key: &[u8; 32]) -> Self {
        match mode {
            Mode::XChaCha => Self::XChaCha(Box::new(XChaCha20Poly1305::new(key.into()))),
            Mode::AesGcm => Self::AesGcm(Box::new(Aes256Gcm::new(key.into()))),
        }
    }

    /// Decrypts `payload` in place; `counter` is the packet's nonce suffix.
    pub(crate) fn open(&self, counter: u32, aad: &[u8], payload: &mut [u8], tag: &[u8]) -> Result<(), Failed> {
        let mut nonce = [0u8; 24];
        nonce[..4].copy_from_slice(&counter.to_be_bytes());
        let ok = match self {
            Self::XChaCha(c) => c.decrypt_in_place_detached((&nonce).into(), aad, payload, tag.into()),
            Self::AesGcm(c) => c.decrypt_in_place_detached(nonce[..12].into(), aad, payload, tag.into()),
        };
        ok.map_err(|_| Failed)
    }

    /// Encrypts `payload` in place and returns the tag.
    pub(crate) fn seal(&self, counter: u32, aad: &[u8], payload: &mut [u8]) -> [u8; TAG] {
        let mut nonce = [0u8; 24];
        nonce[..4].copy_from_slice(&counter.to_be_bytes());
        let tag = match self {
            Self::XChaCha(c) => c.encrypt_in_place_detached((&nonce).into(), aad, payload),
            Self::AesGcm(c) => c.encrypt_in_place_detached(nonce[..12].into(), aad, payload),
        };
        // Only a payload over the ciphers' limits (gigabytes) fails.
        tag.map(Into::into).unwrap_or([0; TAG])
    }
}

/// Accepts each nonce counter once: higher than any seen, or one of the 64
/// below the highest not seen yet (UDP reorders). discord.py starts at 0,
/// discord.js at 1.
#[derive(Debug, Default)]
pub(crate) struct ReplayWindow {
    highest: Option<u32>,
    seen: u64,
}

impl ReplayWindow {
    pub(crate) fn fresh(&self, n: u32) -> bool {
        match self.highest {
            None => true,
            Some(h) if n > h => true,
            Some(h) => {
                let back = h - n;
                back < 64 && self.seen & (1 << back) == 0
            }
        }
    }

    /// Records `n`, which [`Self::fresh`] accepted and which decrypted.
    pub(crate) fn record(&mut self, n: u32) {
        match self.highest {
            Some(h) if n <= h => self.seen |= 1 << (h - n),
            Some(h) => {
                let shift = n - h;
                self.seen = if shift >= 64 { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.highest = Some(n);
            }
            None => {
                self.seen = 1;
                self.highest = Some(n);
            }
        }
    }
}
