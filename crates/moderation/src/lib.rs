//! Message classifiers for moderation: a toxicity score and a spam score in
//! [0, 1] per message, computed in-process on the CPU in microseconds.
//!
//! The model is logistic regression over hashed word and character n-grams
//! (`features`), one head per score over a shared feature space, stored in a
//! small versioned binary file (`model`) that is built into the binary.
//! `train` reproduces that file from the data sets; `stream` and `bench` are
//! the `score` and `bench` commands. docs/MODERATION.md has the figures.

pub mod bench;
mod bias;
pub mod canonical;
pub mod data;
pub mod features;
pub mod functional;
pub mod metrics;
pub mod model;
mod rng;
pub mod stream;
mod text;
pub mod train;

pub use model::{LinearModel, ModelError};

/// Scores of one message, each in [0, 1]; 0.5 is the decision threshold the
/// model was tuned for.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Scores {
    pub toxicity: f32,
    pub spam: f32,
}

/// Anything that scores messages. Shared by every connection, so it must be
/// `Send + Sync`; a call does no I/O and no locking.
pub trait Classifier: Send + Sync {
    fn score(&self, text: &str) -> Scores;
}
