//! Text → hashed sparse features. The same function runs at training and at
//! scoring time, so whatever the raw data looks like (tweets with HTML
//! entities, YouTube comments with tags, Discord messages with `<@id>`
//! mentions) it is seen the same way by both.
//!
//! Three groups of features, each hashed into one space of `2^bits` buckets:
//! - words: unigrams and bigrams of normalised tokens;
//! - chars: character 2- to 5-grams of the normalised text (robust to
//!   misspellings, obfuscation and the lack of word boundaries in slang);
//! - meta: a few bucketed counts that spam is known for (links, long digit
//!   runs, currency, capitals, exclamation marks, length).
//!
//! The word and char groups are each scaled to unit length (sublinear term
//! weights, 1 + ln count, divided by their Euclidean norm), so a long or repetitive message does
//! not push its score to an extreme just by being long.

use crate::text::{clean_markup, is_email, is_url, normalise_token};

/// Seeds that keep the groups apart in the shared hash space.
const NS_WORD: u64 = 0x57_4f_52_44;
const NS_BIGRAM: u64 = 0x42_49_47_52;
const NS_CHAR: u64 = 0x43_48_41_52;
const NS_META: u64 = 0x4d_45_54_41;
const NS_TOX_WORD: u64 = 0x54_57_4f_52_44;
const NS_TOX_BIGRAM: u64 = 0x54_42_49_47_52;
const NS_TOX_CHAR: u64 = 0x54_43_48_41_52;

const MAX_NGRAM: usize = 5;

/// The hashed features of one text, as bucket indices (repeats allowed).
#[derive(Debug, Default)]
pub struct Features {
    pub words: Vec<u32>,
    pub chars: Vec<u32>,
    pub meta: Vec<u32>,
}

impl Features {
    pub fn extract(text: &str, bits: u32) -> Features {
        Extractor::new(bits).run(text)
    }

    /// The toxicity head's features, from the canonical tokens
    /// (`canonical`): word unigrams and bigrams, and character 2- to
    /// 5-grams inside each word with its boundaries marked (" you ",
    /// so "you" at a word's start and end differs from "you" inside
    /// "young"). Placeholders (`<user>`, `<url>`, ...) are words only. No
    /// meta features: capitals, digits and length tell the sources
    /// apart (HateXplain is lower case) rather than toxic from not.
    pub fn toxicity(text: &str, bits: u32) -> Features {
        let shift = 64 - bits;
        let bucket = |h: u64| (finish(h) >> shift) as u32;
        let tokens = crate::canonical::canonical(text);
        let mut f = Features::default();
        let mut prev: Option<u64> = None;
        let mut padded: Vec<char> = Vec::new();
        for t in &tokens {
            let h = hash_str(NS_TOX_WORD, t);
            f.words.push(bucket(h));
            if let Some(p) = prev {
                let bigram = step(step(NS_TOX_BIGRAM, p as u32), (p >> 32) as u32);
                f.words.push(bucket(step(step(bigram, h as u32), (h >> 32) as u32)));
            }
            prev = Some(h);
            if t.starts_with('<') {
                continue;
            }
            padded.clear();
            padded.push(' ');
            padded.extend(t.chars());
            padded.push(' ');
            for i in 0..padded.len() {
                let mut h = NS_TOX_CHAR ^ 0xCBF2_9CE4_8422_2325;
                for n in 1..=MAX_NGRAM.min(padded.len() - i) {
                    h = step(h, padded[i + n - 1] as u32);
                    if n >= 2 {
                        f.chars.push(bucket(h));
                    }
                }
            }
        }
        f
    }

    /// Sorts each group's buckets, so repeats sit together (see `runs`).
    pub fn sort(&mut self) {
        self.words.sort_unstable();
        self.chars.sort_unstable();
    }

    /// One value per distinct bucket, sorted by bucket: what training uses.
    /// The sum over `entries` of `w[i] * v` equals the scorer's sum.
    pub fn entries(mut self) -> Vec<(u32, f32)> {
        self.sort();
        let mut all: Vec<(u32, f32)> = Vec::with_capacity(self.words.len() + self.chars.len() + self.meta.len());
        for group in [&self.words, &self.chars] {
            let norm = group_norm(group);
            all.extend(runs(group).map(|(i, count)| (i, term_weight(count) / norm)));
        }
        all.extend(self.meta.iter().map(|&i| (i, 1.0)));
        all.sort_by_key(|&(i, _)| i);
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(all.len());
        for (i, v) in all {
            match merged.last_mut() {
                Some(last) if last.0 == i => last.1 += v,
                _ => merged.push((i, v)),
            }
        }
        merged
    }
}

/// (bucket, count) of a sorted group.
pub fn runs(sorted: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    sorted.chunk_by(|a, b| a == b).map(|c| (c[0], c.len() as u32))
}

/// A bucket's weight before normalisation: sublinear in its count
/// (1 + ln count), so a word said five times counts for less than five
/// words said once. Chosen over raw counts by cross-validation.
#[inline]
pub fn term_weight(count: u32) -> f32 {
    if count == 1 {
        1.0
    } else {
        1.0 + (count as f32).ln()
    }
}

/// The Euclidean length of a sorted group's weight vector: each bucket
/// weighs `term_weight(count) / norm`, so the group has unit length, and a
/// message repeated ten times scores about as the message once.
pub fn group_norm(sorted: &[u32]) -> f32 {
    let sq: f32 = runs(sorted).map(|(_, c)| term_weight(c) * term_weight(c)).sum();
    if sq == 0.0 {
        1.0
    } else {
        sq.sqrt()
    }
}

/// FNV-1a step over a code point, finished with a murmur3 mix so the top
/// bits (which pick the bucket) are well spread. Own code rather than std's
/// hasher: bucket numbers are part of the model file and must never change.
#[inline]
fn step(h: u64, c: u32) -> u64 {
    (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01B3)
}

#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

fn hash_str(seed: u64, s: &str) -> u64 {
    s.chars().fold(seed ^ 0xCBF2_9CE4_8422_2325, |h, c| step(h, c as u32))
}

struct Extractor {
    shift: u32,
    out: Features,
    /// The normalised text the char n-grams are taken from: tokens joined
    /// by one space, with a space at each end.
    stream: Vec<char>,
    prev_word: Option<u64>,
    meta: MetaCounts,
}

#[derive(Default)]
struct MetaCounts {
    chars: usize,
    letters: usize,
    upper: usize,
    digits: usize,
    exclamations: usize,
    currency: usize,
    urls: usize,
    emails: usize,
    longest_digit_run: usize,
}

impl Extractor {
    fn new(bits: u32) -> Self {
        Extractor {
            shift: 64 - bits,
            out: Features::default(),
            stream: Vec::new(),
            prev_word: None,
            meta: MetaCounts::default(),
        }
    }

    #[inline]
    fn bucket(&self, h: u64) -> u32 {
        (finish(h) >> self.shift) as u32
    }

    fn run(mut self, text: &str) -> Features {
        let clean = clean_markup(text);
        self.count_meta(&clean);
        self.stream.reserve(clean.len() + 2);
        self.stream.push(' ');
        let mut lower = String::new();
        for token in clean.split_whitespace() {
            lower.clear();
            lower.extend(token.chars().flat_map(char::to_lowercase));
            self.token(&lower);
        }
        self.char_ngrams();
        self.meta_features();
        self.out
    }

    fn word(&mut self, w: &str) {
        let h = hash_str(NS_WORD, w);
        let b = self.bucket(h);
        self.out.words.push(b);
        if let Some(p) = self.prev_word {
            let bigram = step(step(NS_BIGRAM, p as u32), (p >> 32) as u32);
            let bigram = step(step(bigram, h as u32), (h >> 32) as u32);
            let b = self.bucket(bigram);
            self.out.words.push(b);
        }
        self.prev_word = Some(h);
    }

    fn token(&mut self, t: &str) {
        let trimmed = t.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
        if is_url(trimmed) {
            self.meta.urls += 1;
            self.word("<url>");
            return;
        }
        if t.len() > 1 && t.starts_with('@') {
            // A tweet's @name, or our marker for a Discord `<@id>` mention.
            self.word("<user>");
            return;
        }
        if is_email(trimmed) {
            self.meta.emails += 1;
            self.word("<email>");
            return;
        }
        let norm = normalise_token(t);
        if self.stream.len() > 1 {
            self.stream.push(' ');
        }
        self.stream.extend(norm.iter().copied());
        // Words: runs of letters and digits; apostrophes join ("don't" → "dont").
        let mut w = String::new();
        for &c in norm.iter().chain(std::iter::once(&' ')) {
            if c.is_alphanumeric() {
                w.push(c);
            } else if (c == '\'' || c == '’') && !w.is_empty() {
                continue;
            } else if !w.is_empty() {
                self.word(&w);
                w.clear();
            }
        }
    }

    fn char_ngrams(&mut self) {
        if self.stream.len() <= 1 {
            return;
        }
        self.stream.push(' ');
        let s = &self.stream;
        let mut out = Vec::with_capacity(s.len() * (MAX_NGRAM - 1));
        for i in 0..s.len() {
            let mut h = NS_CHAR ^ 0xCBF2_9CE4_8422_2325;
            for n in 1..=MAX_NGRAM.min(s.len() - i) {
                h = step(h, s[i + n - 1] as u32);
                if n >= 2 {
                    out.push((finish(h) >> self.shift) as u32);
                }
            }
        }
        // A lone space n-gram carries nothing; " x" and "x " do.
        self.out.chars = out;
    }

    fn count_meta(&mut self, clean: &str) {
        let m = &mut self.meta;
        let mut run = 0;
        for c in clean.chars() {
            m.chars += 1;
            if c.is_ascii_digit() {
                m.digits += 1;
                run += 1;
                m.longest_digit_run = m.longest_digit_run.max(run);
                continue;
            }
            // Phone numbers are written with spaces and dashes inside.
            if !(run > 0 && (c == ' ' || c == '-')) {
                run = 0;
            }
            if c.is_alphabetic() {
                m.letters += 1;
                if c.is_uppercase() {
                    m.upper += 1;
                }
            } else if c == '!' {
                m.exclamations += 1;
            } else if matches!(c, '£' | '$' | '€' | '¥') {
                m.currency += 1;
            }
        }
    }

    fn meta_features(&mut self) {
        let m = &self.meta;
        let caps = if m.letters >= 6 { Some((m.upper * 5 / m.letters).min(4)) } else { None };
        let digits = (m.digits * 10).checked_div(m.chars).unwrap_or(0).min(5);
        let feats: [(u32, Option<usize>); 8] = [
            (1, Some(m.urls.min(3))),
            (2, Some(m.emails.min(1))),
            (
                3,
                Some(match m.longest_digit_run {
                    0 => 0,
                    1..=2 => 1,
                    3..=4 => 2,
                    5..=7 => 3,
                    _ => 4,
                }),
            ),
            (4, Some(m.currency.min(2))),
            (5, caps),
            (6, Some(digits)),
            (7, Some(m.exclamations.min(3))),
            (8, Some((usize::BITS - m.chars.leading_zeros()).min(12) as usize)),
        ];
        for (id, bucket) in feats {
            if let Some(b) = bucket {
                let h = step(step(NS_META, id), b as u32);
                let b = self.bucket(h);
                self.out.meta.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_mentions_and_emails_become_tokens() {
        let a = Features::extract("check www.example.com now", 18);
        let b = Features::extract("check http://other.net/path now", 18);
        assert_eq!(a.words, b.words);
        assert_eq!(a.meta, b.meta);
        let c = Features::extract("@somebody hi", 18);
        let d = Features::extract("<@1234567> hi", 18);
        assert_eq!(c.words, d.words);
        assert!(is_email("win@prize.co.uk"));
        assert!(!is_url("3.5"));
        assert!(is_url("murdev.com"));
    }

    #[test]
    fn features_are_deterministic_and_within_range() {
        for bits in [10, 18, 20] {
            let f = Features::extract("FREE entry!!! Txt WIN to 87121 £1000 http://win.com", bits);
            assert_eq!(f.words, Features::extract("FREE entry!!! Txt WIN to 87121 £1000 http://win.com", bits).words);
            assert!(f.words.iter().chain(&f.chars).chain(&f.meta).all(|&i| i < (1 << bits)));
            assert_eq!(f.meta.len(), 8);
        }
        // Case does not change words or chars (only the capitals meta feature).
        let a = Features::extract("Hello There Friend", 18);
        let b = Features::extract("hello there friend", 18);
        assert_eq!(a.words, b.words);
        assert_eq!(a.chars, b.chars);
    }

    #[test]
    fn empty_and_odd_input() {
        let f = Features::extract("", 18);
        assert!(f.words.is_empty() && f.chars.is_empty());
        let f = Features::extract("   \t  ", 18);
        assert!(f.words.is_empty() && f.chars.is_empty());
        let f = Features::extract("<<<>>>&&&;;;&#99999999;\u{FFFD}", 18);
        assert!(!f.chars.is_empty());
    }

    #[test]
    fn entries_merge_repeats_and_group_norms_are_one() {
        let once = Features::extract("free prize now", 18).entries();
        let e = Features::extract("free prize now free prize now free prize now", 18).entries();
        assert!(e.windows(2).all(|w| w[0].0 < w[1].0));
        // Words and chars have unit length, meta features weigh one each
        // (up to buckets shared between groups by a hash collision).
        let sq: f32 = e.iter().map(|&(_, v)| if v < 1.0 { v * v } else { 0.0 }).sum();
        assert!((sq - 2.0).abs() < 0.05, "{sq}");
        // Repeating the message changes little: same words, a few more
        // char n-grams across the joins.
        let dot: f32 = once.iter().filter_map(|(i, v)| e.iter().find(|(j, _)| j == i).map(|(_, w)| v * w)).sum();
        assert!(dot > 0.9 * 2.0, "{dot}");
    }
}
