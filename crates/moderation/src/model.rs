//! The linear model and its file format.
//!
//! File layout (little-endian), version 2 (version 1 weighed terms by
//! their raw counts, so its weights do not fit today's features):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `FCMODEL\0` |
//! | 4 | format version (2) |
//! | 4 | feature bits `b` (the hash space has `2^b` buckets) |
//! | 4 × 2 | bias per head (toxicity, spam), f32 |
//! | 4 × 2 | quantisation step per head, f32 |
//! | 2 × 2^b × 2 | weights as i16, bucket-major: (toxicity, spam) per bucket |
//! | 8 | FNV-1a 64 of everything before |
//!
//! Weights are stored as 16-bit integers times a per-head step: it halves
//! the file against f32, and the scores move by far less than the
//! precision they are printed with. Both heads of a bucket sit side by side
//! so one memory read serves both scores.

use crate::features::{runs, term_weight, Features};
use crate::{Classifier, Scores};

const MAGIC: &[u8; 8] = b"FCMODEL\0";
const VERSION: u32 = 2;
const HEADER: usize = 8 + 4 + 4 + 8 + 8;
/// Largest hash space a file may ask for (8 MiB of weights).
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

/// A logistic-regression model with two heads over one hashed feature space.
/// Scores are calibrated so that 0.5 is each head's decision threshold
/// (chosen on validation data when it was trained).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearModel {
    bits: u32,
    bias: [f32; 2],
    /// `weights[bucket] = [toxicity, spam]`.
    weights: Vec<[f32; 2]>,
}

/// The quantised form that is written to and read from files.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Quantised {
    pub bits: u32,
    pub bias: [f32; 2],
    pub step: [f32; 2],
    pub weights: Vec<[i16; 2]>,
}

impl Quantised {
    /// Rounds float weights (one vector per head) to i16 steps.
    pub(crate) fn from_float(bits: u32, bias: [f64; 2], heads: [&[f64]; 2]) -> Quantised {
        let mut step = [0f32; 2];
        for h in 0..2 {
            let max = heads[h].iter().fold(0f64, |m, w| m.max(w.abs()));
            step[h] = if max > 0.0 { (max / f64::from(i16::MAX)) as f32 } else { 1.0 };
        }
        let n = 1usize << bits;
        let weights = (0..n)
            .map(|i| {
                let q = |h: usize| {
                    let v = (heads[h][i] / f64::from(step[h])).round();
                    v.clamp(f64::from(-i16::MAX), f64::from(i16::MAX)) as i16
                };
                [q(0), q(1)]
            })
            .collect();
        Quantised { bits, bias: [bias[0] as f32, bias[1] as f32], step, weights }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.weights.len() * 4 + 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        for v in self.bias.iter().chain(&self.step) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for w in &self.weights {
            out.extend_from_slice(&w[0].to_le_bytes());
            out.extend_from_slice(&w[1].to_le_bytes());
        }
        let sum = fnv64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Quantised, ModelError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        if bytes.len() < HEADER + 8 {
            return Err(ModelError::Length);
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let f32_at = |at: usize| f32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(ModelError::Version(version));
        }
        let bits = u32_at(12);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(ModelError::Bits(bits));
        }
        let n = 1usize << bits;
        if bytes.len() != HEADER + n * 4 + 8 {
            return Err(ModelError::Length);
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if fnv64(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
            return Err(ModelError::Checksum);
        }
        let bias = [f32_at(16), f32_at(20)];
        let step = [f32_at(24), f32_at(28)];
        if !bias.iter().chain(&step).all(|v| v.is_finite()) {
            return Err(ModelError::NotFinite);
        }
        let weights = body[HEADER..]
            .chunks_exact(4)
            .map(|c| [i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]])])
            .collect();
        Ok(Quantised { bits, bias, step, weights })
    }

    pub(crate) fn dequantise(&self) -> LinearModel {
        let weights =
            self.weights.iter().map(|w| [f32::from(w[0]) * self.step[0], f32::from(w[1]) * self.step[1]]).collect();
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

    pub fn feature_bits(&self) -> u32 {
        self.bits
    }

    /// Raw scores (log-odds) of both heads.
    pub fn logits(&self, text: &str) -> [f32; 2] {
        let mut f = Features::extract(text, self.bits);
        f.sort();
        let mut out = self.bias;
        for group in [&f.words, &f.chars] {
            let mut sum = [0f32; 2];
            let mut sq = 0f32;
            for (i, count) in runs(group) {
                let w = self.weights[i as usize];
                let v = term_weight(count);
                sum[0] += w[0] * v;
                sum[1] += w[1] * v;
                sq += v * v;
            }
            if sq > 0.0 {
                let norm = sq.sqrt();
                out[0] += sum[0] / norm;
                out[1] += sum[1] / norm;
            }
        }
        for &i in &f.meta {
            let w = self.weights[i as usize];
            out[0] += w[0];
            out[1] += w[1];
        }
        out
    }
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
        let bits = 10;
        let n = 1usize << bits;
        let tox: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin()).collect();
        let spam: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.11).cos() * 0.5).collect();
        Quantised::from_float(bits, [0.25, -1.5], [&tox, &spam])
    }

    #[test]
    fn round_trip_is_exact_and_quantisation_is_close() {
        let q = small();
        let bytes = q.to_bytes();
        assert_eq!(bytes.len(), HEADER + 4 * 1024 + 8);
        assert_eq!(Quantised::from_bytes(&bytes).unwrap(), q);
        assert_eq!(q.to_bytes(), bytes);
        let m = q.dequantise();
        let err = (f64::from(m.weights[3][0]) - (3.0f64 * 0.37).sin()).abs();
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
        let mut bits = bytes;
        bits[12] = 40;
        assert!(matches!(LinearModel::from_bytes(&bits), Err(ModelError::Bits(40))));
    }

    #[test]
    fn scorer_matches_training_entries() {
        let m = small().dequantise();
        let text = "Some text, with WORDS and 12345 digits!! http://x.com";
        let f = Features::extract(text, m.bits);
        let mut expect = [f64::from(m.bias[0]), f64::from(m.bias[1])];
        for (i, v) in f.entries() {
            for (e, w) in expect.iter_mut().zip(m.weights[i as usize]) {
                *e += f64::from(w) * f64::from(v);
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
