//! The linear model and its file format.
//!
//! File layout (little-endian), version 3. Version 2 had one hash space
//! shared by both heads over the same features; since version 3 the
//! toxicity head has its own features (`Features::toxicity`, over the
//! canonical text) and its own table, so older files are refused.
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `FCMODEL\0` |
//! | 4 | format version (3) |
//! | 4 × 2 | feature bits per head (toxicity, spam): `2^b` buckets each |
//! | 4 × 2 | bias per head, f32 |
//! | 4 × 2 | quantisation step per head, f32 |
//! | 2 × 2^b_tox | toxicity weights as i16 |
//! | 2 × 2^b_spam | spam weights as i16 |
//! | 8 | FNV-1a 64 of everything before |
//!
//! Weights are stored as 16-bit integers times a per-head step: it halves
//! the file against f32, and the scores move by far less than the
//! precision they are printed with.

use crate::features::{runs, term_weight, Features};
use crate::{Classifier, Scores};

const MAGIC: &[u8; 8] = b"FCMODEL\0";
const VERSION: u32 = 3;
const HEADER: usize = 8 + 4 + 8 + 8 + 8;
/// Largest hash space a file may ask for (8 MiB of weights per head).
const MAX_BITS: u32 = 22;
const MIN_BITS: u32 = 8;

/// The model shipped with the binary (`crates/moderation/model/`), written by
/// `fussioncord moderation train`.
pub static EMBEDDED: &[u8] = include_bytes!("../model/moderation.fcm");

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a FussionCord moderation model (bad magic)")]
    BadMagic,
    #[error("model format version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    #[error("model file is truncated or has trailing bytes")]
    Length,
    #[error("model file is corrupt (checksum mismatch)")]
    Checksum,
    #[error("model feature bits {0} outside {MIN_BITS}..={MAX_BITS}")]
    Bits(u32),
    #[error("model has a non-finite parameter")]
    NotFinite,
    #[error("reading model file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A logistic-regression model with two heads, each over its own hashed
/// feature space (toxicity: `Features::toxicity`; spam: `Features::extract`).
/// Scores are calibrated so that 0.5 is each head's decision threshold
/// (chosen on validation data when it was trained).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearModel {
    bits: [u32; 2],
    bias: [f32; 2],
    /// `weights[head][bucket]`, head 0 toxicity, 1 spam.
    weights: [Vec<f32>; 2],
}

/// The quantised form that is written to and read from files.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Quantised {
    pub bits: [u32; 2],
    pub bias: [f32; 2],
    pub step: [f32; 2],
    pub weights: [Vec<i16>; 2],
}

impl Quantised {
    /// Rounds float weights (one vector per head, `2^bits[h]` long) to i16 steps.
    pub(crate) fn from_float(bias: [f64; 2], heads: [&[f64]; 2]) -> Quantised {
        let mut step = [0f32; 2];
        let mut bits = [0u32; 2];
        let mut weights: [Vec<i16>; 2] = Default::default();
        for h in 0..2 {
            debug_assert!(heads[h].len().is_power_of_two());
            bits[h] = heads[h].len().trailing_zeros();
            let max = heads[h].iter().fold(0f64, |m, w| m.max(w.abs()));
            step[h] = if max > 0.0 { (max / f64::from(i16::MAX)) as f32 } else { 1.0 };
            weights[h] = heads[h]
                .iter()
                .map(|w| (w / f64::from(step[h])).round().clamp(f64::from(-i16::MAX), f64::from(i16::MAX)) as i16)
                .collect();
        }
        Quantised { bits, bias: [bias[0] as f32, bias[1] as f32], step, weights }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + (self.weights[0].len() + self.weights[1].len()) * 2 + 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for b in self.bits {
            out.extend_from_slice(&b.to_le_bytes());
        }
        for v in self.bias.iter().chain(&self.step) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for w in self.weights.iter().flatten() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let sum = fnv64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Quantised, ModelError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        if bytes.len() < 12 {
            return Err(ModelError::Length);
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let f32_at = |at: usize| f32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(ModelError::Version(version));
        }
        if bytes.len() < HEADER + 8 {
            return Err(ModelError::Length);
        }
        let bits = [u32_at(12), u32_at(16)];
        if let Some(&b) = bits.iter().find(|b| !(MIN_BITS..=MAX_BITS).contains(b)) {
            return Err(ModelError::Bits(b));
        }
        let n = [1usize << bits[0], 1usize << bits[1]];
        if bytes.len() != HEADER + (n[0] + n[1]) * 2 + 8 {
            return Err(ModelError::Length);
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if fnv64(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
            return Err(ModelError::Checksum);
        }
        let bias = [f32_at(20), f32_at(24)];
        let step = [f32_at(28), f32_at(32)];
        if !bias.iter().chain(&step).all(|v| v.is_finite()) {
            return Err(ModelError::NotFinite);
        }
        let all: Vec<i16> = body[HEADER..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        let (tox, spam) = all.split_at(n[0]);
        Ok(Quantised { bits, bias, step, weights: [tox.to_vec(), spam.to_vec()] })
    }

    pub(crate) fn dequantise(&self) -> LinearModel {
        let weights = [0, 1].map(|h| self.weights[h].iter().map(|&w| f32::from(w) * self.step[h]).collect());
        LinearModel { bits: self.bits, bias: self.bias, weights }
    }
}

impl LinearModel {
    /// The model built into this binary.
    pub fn embedded() -> Result<LinearModel, ModelError> {
        LinearModel::from_bytes(EMBEDDED)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<LinearModel, ModelError> {
        Ok(Quantised::from_bytes(bytes)?.dequantise())
    }

    pub fn load(path: &std::path::Path) -> Result<LinearModel, ModelError> {
        let bytes =
            std::fs::read(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        LinearModel::from_bytes(&bytes)
    }

    /// Feature bits of (toxicity, spam).
    pub fn feature_bits(&self) -> [u32; 2] {
        self.bits
    }

    /// Raw scores (log-odds) of both heads.
    pub fn logits(&self, text: &str) -> [f32; 2] {
        let tox = Features::toxicity(text, self.bits[0]);
        let spam = Features::extract(text, self.bits[1]);
        [self.bias[0] + dot(&self.weights[0], tox), self.bias[1] + dot(&self.weights[1], spam)]
    }
}

/// The sum of a head's weights over a text's features, each group scaled
/// to unit length as `Features::entries` does for training.
fn dot(weights: &[f32], mut f: Features) -> f32 {
    f.sort();
    let mut out = 0f32;
    for group in [&f.words, &f.chars] {
        let mut sum = 0f32;
        let mut sq = 0f32;
        for (i, count) in runs(group) {
            let v = term_weight(count);
            sum += weights[i as usize] * v;
            sq += v * v;
        }
        if sq > 0.0 {
            out += sum / sq.sqrt();
        }
    }
    out + f.meta.iter().map(|&i| weights[i as usize]).sum::<f32>()
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Classifier for LinearModel {
    fn score(&self, text: &str) -> Scores {
        let [t, s] = self.logits(text);
        Scores { toxicity: sigmoid(t), spam: sigmoid(s) }
    }
}

pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Quantised {
        let tox: Vec<f64> = (0..1 << 11).map(|i| ((i as f64) * 0.37).sin()).collect();
        let spam: Vec<f64> = (0..1 << 10).map(|i| ((i as f64) * 0.11).cos() * 0.5).collect();
        Quantised::from_float([0.25, -1.5], [&tox, &spam])
    }

    #[test]
    fn round_trip_is_exact_and_quantisation_is_close() {
        let q = small();
        let bytes = q.to_bytes();
        assert_eq!(bytes.len(), HEADER + 2 * 2048 + 2 * 1024 + 8);
        assert_eq!(Quantised::from_bytes(&bytes).unwrap(), q);
        assert_eq!(q.to_bytes(), bytes);
        let m = q.dequantise();
        let err = (f64::from(m.weights[0][3]) - (3.0f64 * 0.37).sin()).abs();
        assert!(err <= f64::from(q.step[0]) / 2.0 + 1e-6, "{err}");
    }

    #[test]
    fn damaged_files_are_refused() {
        let bytes = small().to_bytes();
        assert!(matches!(LinearModel::from_bytes(b"nope"), Err(ModelError::BadMagic)));
        assert!(matches!(LinearModel::from_bytes(&bytes[..bytes.len() - 1]), Err(ModelError::Length)));
        let mut flipped = bytes.clone();
        flipped[HEADER + 5] ^= 1;
        assert!(matches!(LinearModel::from_bytes(&flipped), Err(ModelError::Checksum)));
        let mut version = bytes.clone();
        version[8] = 9;
        assert!(matches!(LinearModel::from_bytes(&version), Err(ModelError::Version(9))));
        let mut bits = bytes.clone();
        bits[16] = 40;
        assert!(matches!(LinearModel::from_bytes(&bits), Err(ModelError::Bits(40))));
        // A version 2 file (one shared table) is refused, not misread.
        let mut v2 = bytes;
        v2[8] = 2;
        assert!(matches!(LinearModel::from_bytes(&v2), Err(ModelError::Version(2))));
    }

    #[test]
    fn scorer_matches_training_entries() {
        let m = small().dequantise();
        let text = "Some text, with WORDS and 12345 digits!! http://x.com";
        let feats = [Features::toxicity(text, m.bits[0]), Features::extract(text, m.bits[1])];
        let mut expect = [f64::from(m.bias[0]), f64::from(m.bias[1])];
        for (h, f) in feats.into_iter().enumerate() {
            for (i, v) in f.entries() {
                expect[h] += f64::from(m.weights[h][i as usize]) * f64::from(v);
            }
        }
        let got = m.logits(text);
        for (g, e) in got.iter().zip(expect) {
            assert!((f64::from(*g) - e).abs() < 1e-3, "{got:?} vs {expect:?}");
        }
    }

    #[test]
    fn embedded_model_loads() {
        let m = LinearModel::embedded().unwrap();
        let s = m.score("");
        assert!((0.0..=1.0).contains(&s.toxicity) && (0.0..=1.0).contains(&s.spam));
    }
}
