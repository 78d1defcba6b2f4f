//! Training: read the data sets, split them again (stratified, fixed seed),
//! choose each head's threshold by cross-validation on the training part,
//! fit both heads on the whole training part, write the model, and evaluate
//! it on the test part it never saw.
//!
//! Everything that decides the model's bytes is single-threaded, in a fixed
//! order and seeded, so training twice on the same data writes identical
//! files.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bias::{self, BiasReport};
use crate::data::{self, DataError, Dataset, Task};
use crate::features::Features;
use crate::metrics::{self, Confusion, ThresholdRule};
use crate::model::{fnv64, LinearModel, ModelError, Quantised};
use crate::rng::SplitMix64;
use crate::Classifier;

pub const DEFAULT_SEED: u64 = 20_250_808;
pub const DEFAULT_BITS: u32 = 18;
pub const DEFAULT_EPOCHS: usize = 12;
pub const DEFAULT_LEARNING_RATE: f64 = 0.1;
pub const DEFAULT_L2: f64 = 1e-5;

/// Share of each data set (after removing duplicate texts) held out for
/// the report.
const TEST_SHARE: f64 = 0.2;
/// Cross-validation folds of the training part, whose out-of-fold scores
/// choose the thresholds.
const FOLDS: usize = 5;
/// The spam head's weights are the mean of this many fits, each over a
/// different shuffling. Its data are small (4,500 texts), so one fit's
/// figures swing with the order it saw the examples in; the mean is
/// steadier and, in cross-validation, a little better on both spam sets.
const SPAM_FITS: u64 = 5;

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub data_dir: PathBuf,
    pub out: PathBuf,
    pub report: Option<PathBuf>,
    pub seed: u64,
    pub bits: u32,
    pub epochs: usize,
    pub learning_rate: f64,
    pub l2: f64,
    /// Use only the first N rows of each data set (quick runs, tests).
    pub limit: Option<usize>,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl TrainOptions {
    pub fn new(data_dir: PathBuf, out: PathBuf) -> Self {
        TrainOptions {
            data_dir,
            out,
            report: None,
            seed: DEFAULT_SEED,
            bits: DEFAULT_BITS,
            epochs: DEFAULT_EPOCHS,
            learning_rate: DEFAULT_LEARNING_RATE,
            l2: DEFAULT_L2,
            limit: None,
            progress: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("feature bits must be 8..=22, got {0}")]
    Bits(u32),
    #[error("no training examples for the {0:?} head")]
    Empty(Task),
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub model: ModelInfo,
    pub training: TrainingInfo,
    pub thresholds: Vec<ThresholdInfo>,
    /// Figures on each data set's test part, for the written (quantised) model.
    pub test: Vec<DatasetReport>,
    pub bias_check: BiasReport,
}

#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub bytes: usize,
    pub fnv64: String,
    pub feature_bits: u32,
}

#[derive(Debug, Serialize)]
pub struct TrainingInfo {
    pub seed: u64,
    pub epochs: usize,
    pub optimiser: &'static str,
    pub learning_rate: f64,
    pub l2: f64,
    pub split: &'static str,
    pub row_limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct ThresholdInfo {
    pub head: Task,
    pub rule: ThresholdRule,
    pub chosen_on: String,
    /// The chosen cut on the first fit's raw score (log-odds); the written
    /// model's bias is shifted by it so the published cut is 0.5.
    pub logit: f64,
    /// Out-of-fold figures (what settings were compared by; the test
    /// parts are looked at once, for this report).
    pub cross_validation_roc_auc: Option<f64>,
    pub cross_validation: Vec<CrossValidation>,
}

#[derive(Debug, Serialize)]
pub struct CrossValidation {
    pub name: &'static str,
    pub roc_auc: Option<f64>,
    /// At the chosen cut.
    pub f1: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct DatasetReport {
    pub name: &'static str,
    pub task: Task,
    pub positive: &'static str,
    pub rows: usize,
    pub duplicates_removed: usize,
    pub train: usize,
    pub test: usize,
    pub test_positives: usize,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    pub threshold: f64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub confusion: Confusion,
}

/// One data set after de-duplication: a test part, and a training part
/// cut into cross-validation folds.
struct Split {
    data: Dataset,
    duplicates: usize,
    /// (example, fold) pairs.
    train: Vec<(usize, usize)>,
    test: Vec<usize>,
}

impl Split {
    fn new(mut data: Dataset, seed: u64) -> Split {
        // Exact duplicates would otherwise sit on both sides of the split
        // and flatter the test figures.
        let before = data.examples.len();
        let mut seen = std::collections::HashSet::new();
        data.examples.retain(|(text, _)| seen.insert(text.clone()));
        let duplicates = before - data.examples.len();
        let mut rng = SplitMix64::new(seed ^ fnv64(data.name.as_bytes()));
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class in [false, true] {
            let mut idx: Vec<usize> = (0..data.examples.len()).filter(|&i| data.examples[i].1 == class).collect();
            rng.shuffle(&mut idx);
            let n_test = (idx.len() as f64 * TEST_SHARE).round() as usize;
            test.extend_from_slice(&idx[..n_test]);
            train.extend(idx[n_test..].iter().enumerate().map(|(j, &i)| (i, j % FOLDS)));
        }
        train.sort_unstable();
        test.sort_unstable();
        Split { data, duplicates, train, test }
    }
}

type Entries = Vec<(u32, f32)>;

struct Fit {
    weights: Vec<f64>,
    bias: f64,
}

impl Fit {
    fn logit(&self, x: &Entries) -> f64 {
        self.bias + x.iter().map(|&(i, v)| self.weights[i as usize] * f64::from(v)).sum::<f64>()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Logistic regression by AdaGrad SGD with L2 applied to the weights an
/// example touches, examples shuffled each epoch with the seeded generator.
fn fit(xs: &[&Entries], ys: &[bool], opts: &TrainOptions, head: Task, seed: u64, stage: Option<&str>) -> Fit {
    let n = 1usize << opts.bits;
    let (mut w, mut g2) = (vec![0f64; n], vec![0f64; n]);
    let (mut b, mut gb2) = (0f64, 0f64);
    let mut order: Vec<usize> = (0..xs.len()).collect();
    let mut rng = SplitMix64::new(seed);
    let lr = opts.learning_rate;
    for epoch in 1..=opts.epochs {
        rng.shuffle(&mut order);
        let mut loss = 0f64;
        for &k in &order {
            let x = xs[k];
            let z = b + x.iter().map(|&(i, v)| w[i as usize] * f64::from(v)).sum::<f64>();
            let p = sigmoid(z);
            let y = if ys[k] { 1.0 } else { 0.0 };
            loss -= if ys[k] { p.max(1e-12).ln() } else { (1.0 - p).max(1e-12).ln() };
            let g = p - y;
            for &(i, v) in x {
                let i = i as usize;
                let grad = g * f64::from(v) + opts.l2 * w[i];
                g2[i] += grad * grad;
                w[i] -= lr * grad / (g2[i].sqrt() + 1e-9);
            }
            gb2 += g * g;
            b -= lr * g / (gb2.sqrt() + 1e-9);
        }
        if let (true, Some(stage)) = (opts.progress, stage) {
            eprintln!(
                "  {stage} {head:?}: epoch {epoch}/{} over {} examples, mean log-loss {:.4}",
                opts.epochs,
                xs.len(),
                loss / xs.len().max(1) as f64
            );
        }
    }
    Fit { weights: w, bias: b }
}

/// `fit`, averaged over `SPAM_FITS` shufflings for the spam head (a mean
/// of linear models is one linear model: same file, same scoring cost).
fn fit_head(xs: &[&Entries], ys: &[bool], opts: &TrainOptions, head: Task, seed: u64, stage: Option<&str>) -> Fit {
    let fits = if head == Task::Spam { SPAM_FITS } else { 1 };
    let mut mean = fit(xs, ys, opts, head, seed, stage);
    for j in 1..fits {
        let f = fit(xs, ys, opts, head, seed.wrapping_add(j * 7919), None);
        mean.bias += f.bias;
        mean.weights.iter_mut().zip(&f.weights).for_each(|(a, b)| *a += b);
    }
    let n = fits as f64;
    mean.bias /= n;
    mean.weights.iter_mut().for_each(|a| *a /= n);
    mean
}

fn head_index(task: Task) -> usize {
    match task {
        Task::Toxicity => 0,
        Task::Spam => 1,
    }
}

pub fn train(opts: &TrainOptions) -> Result<Report, TrainError> {
    if !(8..=22).contains(&opts.bits) {
        return Err(TrainError::Bits(opts.bits));
    }
    let say = |msg: String| {
        if opts.progress {
            eprintln!("{msg}");
        }
    };
    say(format!("reading data sets from {}", opts.data_dir.display()));
    let dir = &opts.data_dir;
    let sets = vec![data::davidson(dir, opts.limit)?, data::sms(dir, opts.limit)?, data::youtube(dir, opts.limit)?];
    let splits: Vec<Split> = sets.into_iter().map(|d| Split::new(d, opts.seed)).collect();
    for s in &splits {
        say(format!(
            "  {}: {} rows, {} duplicates removed; train {}, test {}",
            s.data.name,
            s.data.examples.len() + s.duplicates,
            s.duplicates,
            s.train.len(),
            s.test.len()
        ));
    }
    say("extracting features".into());
    let features: Vec<Vec<Entries>> = splits
        .iter()
        .map(|s| s.data.examples.iter().map(|(text, _)| Features::extract(text, opts.bits).entries()).collect())
        .collect();

    // (features, label, data set number, fold) of a head's training parts.
    let gather = |task: Task| {
        let mut out = Vec::new();
        for (g, (s, f)) in splits.iter().zip(&features).filter(|(s, _)| s.data.task == task).enumerate() {
            out.extend(s.train.iter().map(|&(i, fold)| (&f[i], s.data.examples[i].1, g, fold)));
        }
        out
    };

    let heads = [(Task::Toxicity, ThresholdRule::MaxYoudenJ), (Task::Spam, ThresholdRule::MaxMeanF1)];
    let mut thresholds = Vec::new();
    let mut finals = Vec::new();
    for (task, rule) in heads {
        let seed = opts.seed.wrapping_add(head_index(task) as u64 + 1);
        let rows = gather(task);
        if rows.is_empty() {
            return Err(TrainError::Empty(task));
        }
        let labels: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let groups: Vec<usize> = rows.iter().map(|r| r.2).collect();
        // Out-of-fold scores: every training example scored by a fit that
        // did not see it. They choose the cut: far more examples than a
        // single validation part would give, so a steadier choice.
        let mut oof = vec![0f64; rows.len()];
        for k in 0..FOLDS {
            let (xs, ys): (Vec<&Entries>, Vec<bool>) = rows.iter().filter(|r| r.3 != k).map(|r| (r.0, r.1)).unzip();
            say(format!("fitting {task:?}, cross-validation fold {}/{FOLDS} ({} examples)", k + 1, xs.len()));
            let f = fit_head(&xs, &ys, opts, task, seed.wrapping_add(k as u64 * 1000), None);
            for (j, r) in rows.iter().enumerate().filter(|(_, r)| r.3 == k) {
                oof[j] = f.logit(r.0);
            }
        }
        let cut = metrics::choose_threshold(&oof, &labels, &groups, rule);
        let cv_roc_auc = metrics::roc_auc(&oof, &labels).map(round);
        let mut per_set = Vec::new();
        for (g, s) in splits.iter().filter(|s| s.data.task == task).enumerate() {
            let (sc, lb): (Vec<f64>, Vec<bool>) =
                oof.iter().zip(&rows).filter(|(_, r)| r.2 == g).map(|(&o, r)| (o, r.1)).unzip();
            let c = Confusion::at(&sc, &lb, cut);
            say(format!(
                "  cross-validation {}: ROC-AUC {}, F1 {} at the cut",
                s.data.name,
                show(metrics::roc_auc(&sc, &lb)),
                show(c.f1())
            ));
            per_set.push(CrossValidation {
                name: s.data.name,
                roc_auc: metrics::roc_auc(&sc, &lb).map(round),
                f1: c.f1().map(round),
            });
        }
        say(format!("  threshold {cut:.4} (log-odds) by {rule:?} over {} out-of-fold scores", rows.len()));
        thresholds.push(ThresholdInfo {
            head: task,
            rule,
            chosen_on: format!("{FOLDS}-fold cross-validation of the training parts"),
            logit: round(cut),
            cross_validation_roc_auc: cv_roc_auc,
            cross_validation: per_set,
        });
        // The shipped fit sees every training example; the cut chosen above
        // moves into its bias so that 0.5 is the decision threshold.
        let (xs, ys): (Vec<&Entries>, Vec<bool>) = rows.iter().map(|r| (r.0, r.1)).unzip();
        say(format!("fitting {task:?} on all training parts ({} examples)", xs.len()));
        let mut last = fit_head(&xs, &ys, opts, task, seed, Some("final fit"));
        last.bias -= cut;
        finals.push(last);
    }

    let q =
        Quantised::from_float(opts.bits, [finals[0].bias, finals[1].bias], [&finals[0].weights, &finals[1].weights]);
    let bytes = q.to_bytes();
    write_atomic(&opts.out, &bytes)?;
    say(format!("wrote {} ({} bytes)", opts.out.display(), bytes.len()));

    // Evaluate what was written, through the same scorer `score` uses.
    let model = LinearModel::from_bytes(&bytes)?;
    let mut test = Vec::new();
    for s in &splits {
        let h = s.data.task;
        let scores: Vec<f64> = s
            .test
            .iter()
            .map(|&i| {
                let sc = model.score(&s.data.examples[i].0);
                f64::from(if h == Task::Toxicity { sc.toxicity } else { sc.spam })
            })
            .collect();
        let labels: Vec<bool> = s.test.iter().map(|&i| s.data.examples[i].1).collect();
        let c = Confusion::at(&scores, &labels, 0.5);
        test.push(DatasetReport {
            name: s.data.name,
            task: h,
            positive: match s.data.name {
                "davidson" => "class 0 (hate speech) or 1 (offensive language); negative: class 2 (neither)",
                "sms" => "label spam; negative: ham",
                _ => "CLASS 1 (spam); negative: CLASS 0 (ham)",
            },
            rows: s.data.examples.len() + s.duplicates,
            duplicates_removed: s.duplicates,
            train: s.train.len(),
            test: s.test.len(),
            test_positives: labels.iter().filter(|&&l| l).count(),
            roc_auc: metrics::roc_auc(&scores, &labels).map(round),
            pr_auc: metrics::average_precision(&scores, &labels).map(round),
            threshold: 0.5,
            precision: c.precision().map(round),
            recall: c.recall().map(round),
            f1: c.f1().map(round),
            confusion: c,
        });
    }
    let davidson = &splits[0];
    let bias_check = bias::check(&model, davidson.test.iter().map(|&i| &davidson.data.examples[i]));

    let report = Report {
        format: "fussioncord-moderation-report/1",
        model: ModelInfo { bytes: bytes.len(), fnv64: format!("{:016x}", fnv64(&bytes)), feature_bits: opts.bits },
        training: TrainingInfo {
            seed: opts.seed,
            epochs: opts.epochs,
            optimiser: "logistic regression, AdaGrad SGD, L2 on touched weights, seeded shuffling; \
                        spam head: mean of 5 fits over different shufflings",
            learning_rate: opts.learning_rate,
            l2: opts.l2,
            split: "per data set: exact duplicate texts removed, then stratified by label: \
                    80% train (5 stratified folds for choosing thresholds), 20% test",
            row_limit: opts.limit,
        },
        thresholds,
        test,
        bias_check,
    };
    if let Some(path) = &opts.report {
        let mut json = serde_json::to_vec_pretty(&report).expect("report serialises");
        json.push(b'\n');
        write_atomic(path, &json)?;
        say(format!("wrote {}", path.display()));
    }
    Ok(report)
}

fn show(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.4}"))
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let err = |source| TrainError::Write { path: path.to_owned(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// The report as a few human-readable lines.
pub fn summary(report: &Report) -> String {
    let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    let mut out = String::from("held-out test figures (threshold 0.5):\n");
    out.push_str("  data set   task      n      pos   ROC-AUC  PR-AUC  precision recall  F1      tp/fp/tn/fn\n");
    for d in &report.test {
        out.push_str(&format!(
            "  {:<10} {:<9} {:<6} {:<5} {:<8} {:<7} {:<9} {:<7} {:<7} {}/{}/{}/{}\n",
            d.name,
            format!("{:?}", d.task).to_lowercase(),
            d.test,
            d.test_positives,
            f(d.roc_auc),
            f(d.pr_auc),
            f(d.precision),
            f(d.recall),
            f(d.f1),
            d.confusion.tp,
            d.confusion.fp,
            d.confusion.tn,
            d.confusion.fn_
        ));
    }
    out.push_str(&bias::summary(&report.bias_check));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) {
        std::fs::create_dir_all(dir.join("davidson")).unwrap();
        std::fs::create_dir_all(dir.join("sms-spam")).unwrap();
        std::fs::create_dir_all(dir.join("youtube-spam")).unwrap();
        let mut dav = String::from(",count,hate_speech,offensive_language,neither,class,tweet\n");
        let mut sms = String::new();
        let mut yt = String::from("COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS,VIDEO\n");
        for i in 0..40 {
            dav.push_str(&format!("{i},3,0,3,0,1,you stupid idiot number {i} shut up\n"));
            dav.push_str(&format!("{i},3,0,0,3,2,lovely weather today friend {i}\n"));
            sms.push_str(&format!("spam\tWIN a FREE prize {i}! call 0800{i:04} now\n"));
            sms.push_str(&format!("ham\tsee you at dinner {i} tonight\n"));
            yt.push_str(&format!("a{i},x,,check out my channel {i} subscribe,1,v\n"));
            yt.push_str(&format!("b{i},y,,this song {i} is great,0,v\n"));
        }
        std::fs::write(dir.join("davidson/labeled_data.csv"), dav).unwrap();
        std::fs::write(dir.join("sms-spam/SMSSpamCollection.train.tsv"), sms).unwrap();
        std::fs::write(dir.join("youtube-spam/youtube_spam.train.csv"), yt).unwrap();
    }

    #[test]
    fn stratified_split_is_disjoint_and_seeded() {
        let examples: Vec<(String, bool)> = (0..100).map(|i| (format!("t{i}"), i % 4 == 0)).collect();
        let mk = || Dataset { name: "x", task: Task::Spam, examples: examples.clone() };
        let a = Split::new(mk(), 1);
        let b = Split::new(mk(), 1);
        let c = Split::new(mk(), 2);
        assert_eq!((a.train.len(), a.test.len()), (80, 20));
        // Folds are stratified too: 60 negatives and 20 positives over 5.
        for k in 0..FOLDS {
            let fold: Vec<usize> = a.train.iter().filter(|t| t.1 == k).map(|t| t.0).collect();
            assert_eq!((fold.len(), fold.iter().filter(|&&i| examples[i].1).count()), (16, 4));
        }
        assert_eq!(a.test.iter().filter(|&&i| examples[i].1).count(), 5);
        assert_eq!((&a.train, &a.test), (&b.train, &b.test));
        assert_ne!(a.test, c.test);
        let mut all: Vec<usize> = a.train.iter().map(|t| t.0).chain(a.test.iter().copied()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let dup = Dataset { name: "x", task: Task::Spam, examples: vec![("a".into(), true), ("a".into(), true)] };
        assert_eq!(Split::new(dup, 1).duplicates, 1);
    }

    #[test]
    fn training_twice_writes_identical_bytes_and_a_usable_model() {
        let dir = std::env::temp_dir().join(format!("moderation-train-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        fixture(&dir);
        let mut opts = TrainOptions::new(dir.clone(), dir.join("a.fcm"));
        opts.bits = 14;
        opts.epochs = 3;
        opts.report = Some(dir.join("report.json"));
        let report = train(&opts).unwrap();
        opts.out = dir.join("b.fcm");
        train(&opts).unwrap();
        let (a, b) = (std::fs::read(dir.join("a.fcm")).unwrap(), std::fs::read(dir.join("b.fcm")).unwrap());
        assert_eq!(a, b);
        opts.seed += 1;
        opts.out = dir.join("c.fcm");
        train(&opts).unwrap();
        assert_ne!(a, std::fs::read(dir.join("c.fcm")).unwrap());

        let model = LinearModel::from_bytes(&a).unwrap();
        assert!(model.score("you stupid idiot").toxicity > model.score("lovely weather").toxicity);
        assert!(model.score("WIN a FREE prize call now").spam > model.score("see you at dinner").spam);
        assert_eq!(report.test.len(), 3);
        assert!(report.test.iter().all(|d| d.roc_auc.is_some() && d.test == 16));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
        assert!(json["test"][0]["roc_auc"].is_number());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
