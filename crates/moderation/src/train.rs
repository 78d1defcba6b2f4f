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
pub const DEFAULT_TOXICITY_BITS: u32 = 20;
pub const DEFAULT_EPOCHS: usize = 12;
/// The toxicity head's passes: AdaGrad gives rare features large steps,
/// and over 12 passes rare words of one set (18 of Davidson's 20 tweets
/// with "snack" are offensive) became strong toxic cues. 5 passes were as
/// good on every held-out part and better leaving data sets out.
pub const DEFAULT_TOXICITY_EPOCHS: usize = 5;
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
/// EDOS's negatives are "not sexist", not "not toxic": some are insults of
/// other kinds. They count for this share of an example of their set, and
/// each is weighed further by how clean the other sets find it
/// (`weigh_edos_negatives`).
pub const EDOS_NEGATIVE_WEIGHT: f64 = 0.5;
/// Thresholds whose precision and recall the report gives per set, for
/// AutoMod's `toxicity_threshold`.
const THRESHOLD_TABLE: &[f64] = &[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub data_dir: PathBuf,
    pub out: PathBuf,
    pub report: Option<PathBuf>,
    pub seed: u64,
    /// Feature bits of the spam head.
    pub bits: u32,
    /// Feature bits of the toxicity head.
    pub toxicity_bits: u32,
    /// Passes of the spam head.
    pub epochs: usize,
    /// Passes of the toxicity head.
    pub toxicity_epochs: usize,
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
            toxicity_bits: DEFAULT_TOXICITY_BITS,
            epochs: DEFAULT_EPOCHS,
            toxicity_epochs: DEFAULT_TOXICITY_EPOCHS,
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
    /// Generalisation: each toxicity set scored by a fit that never saw it.
    pub leave_one_data_set_out: Vec<LeaveOneOut>,
    /// Precision and recall per `toxicity_threshold`, on each test part.
    pub toxicity_thresholds: Vec<ThresholdTable>,
    pub functional: crate::functional::FunctionalReport,
    pub bias_check: BiasReport,
}

#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub bytes: usize,
    pub fnv64: String,
    pub feature_bits: u32,
    pub toxicity_feature_bits: u32,
}

#[derive(Debug, Serialize)]
pub struct TrainingInfo {
    pub seed: u64,
    pub epochs: usize,
    pub toxicity_epochs: usize,
    pub optimiser: &'static str,
    pub learning_rate: f64,
    pub l2: f64,
    pub split: &'static str,
    pub toxicity_weighting: &'static str,
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

/// A head's training rows: features, label, weight, data set number
/// (within the head), fold.
#[derive(Clone, Copy)]
struct Row<'a> {
    x: &'a Entries,
    y: bool,
    weight: f64,
    set: usize,
    fold: usize,
    /// A negative of EDOS: not sexist, but not necessarily clean.
    edos_negative: bool,
}

/// Logistic regression by AdaGrad SGD with L2 applied to the weights an
/// example touches, examples shuffled each epoch with the seeded
/// generator. Each example's gradient is scaled by its weight.
fn fit(rows: &[Row], bits: u32, opts: &TrainOptions, head: Task, seed: u64, stage: Option<&str>) -> Fit {
    let n = 1usize << bits;
    let (mut w, mut g2) = (vec![0f64; n], vec![0f64; n]);
    let (mut b, mut gb2) = (0f64, 0f64);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = SplitMix64::new(seed);
    let lr = opts.learning_rate;
    let total_weight: f64 = rows.iter().map(|r| r.weight).sum();
    let epochs = if head == Task::Toxicity { opts.toxicity_epochs } else { opts.epochs };
    for epoch in 1..=epochs {
        rng.shuffle(&mut order);
        let mut loss = 0f64;
        for &k in &order {
            let Row { x, y, weight, .. } = rows[k];
            let z = b + x.iter().map(|&(i, v)| w[i as usize] * f64::from(v)).sum::<f64>();
            let p = sigmoid(z);
            loss -= weight * if y { p.max(1e-12).ln() } else { (1.0 - p).max(1e-12).ln() };
            let g = (p - if y { 1.0 } else { 0.0 }) * weight;
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
                "  {stage} {head:?}: epoch {epoch}/{epochs} over {} examples, mean log-loss {:.4}",
                rows.len(),
                loss / total_weight.max(1e-9)
            );
        }
    }
    Fit { weights: w, bias: b }
}

/// `fit`, averaged over `SPAM_FITS` shufflings for the spam head (a mean
/// of linear models is one linear model: same file, same scoring cost);
/// for the toxicity head, after weighing EDOS's negatives.
fn fit_head(rows: &[Row], bits: u32, opts: &TrainOptions, head: Task, seed: u64, stage: Option<&str>) -> Fit {
    if head == Task::Toxicity {
        let rows = weigh_edos_negatives(rows, bits, opts, seed, stage);
        return fit(&rows, bits, opts, head, seed, stage);
    }
    let fits = if head == Task::Spam { SPAM_FITS } else { 1 };
    let mut mean = fit(rows, bits, opts, head, seed, stage);
    for j in 1..fits {
        let f = fit(rows, bits, opts, head, seed.wrapping_add(j * 7919), None);
        mean.bias += f.bias;
        mean.weights.iter_mut().zip(&f.weights).for_each(|(a, b)| *a += b);
    }
    let n = fits as f64;
    mean.bias /= n;
    mean.weights.iter_mut().for_each(|a| *a /= n);
    mean
}

/// EDOS labels sexism, so its negatives ("not sexist") include insults of
/// every other kind ("you are a retarded degenerate", "you are a looser").
/// Taken as clean, they taught the toxicity head that an insult without
/// profanity is harmless: "idiot" occurs in 166 of EDOS's negatives, and
/// "moron" weighed almost nothing. So the other sets judge them: a fit on
/// the same training rows without EDOS scores each EDOS negative, and its
/// weight is multiplied by 1 − p (p that fit's probability of toxic). A
/// post the other sets find clean keeps its weight; an insult that is not
/// sexist counts for little. The judging fit sees only the rows of the fit
/// it serves (the same fold, the same sets left out), so no evaluation
/// sees its own test rows through it.
fn weigh_edos_negatives<'a>(
    rows: &[Row<'a>],
    bits: u32,
    opts: &TrainOptions,
    seed: u64,
    stage: Option<&str>,
) -> Vec<Row<'a>> {
    let Some(edos) = rows.iter().find(|r| r.edos_negative).map(|r| r.set) else {
        return rows.to_vec();
    };
    let others: Vec<Row> = rows.iter().filter(|r| r.set != edos).copied().collect();
    if others.is_empty() {
        return rows.to_vec();
    }
    let judge = fit(&others, bits, opts, Task::Toxicity, seed ^ 0x5EED, None);
    let (mut before, mut after) = (0f64, 0f64);
    let out: Vec<Row> = rows
        .iter()
        .map(|r| {
            let mut r = *r;
            if r.edos_negative {
                before += r.weight;
                r.weight *= 1.0 - sigmoid(judge.logit(r.x));
                after += r.weight;
            }
            r
        })
        .collect();
    if let (true, Some(stage)) = (opts.progress, stage) {
        eprintln!(
            "  {stage} Toxicity: EDOS negatives weighed by a fit on the other sets: {:.1}% of their weight kept",
            100.0 * after / before.max(1e-9)
        );
    }
    out
}

fn head_index(task: Task) -> usize {
    match task {
        Task::Toxicity => 0,
        Task::Spam => 1,
    }
}

/// Per-example weights of a head's data sets: the toxicity sets each
/// weigh the same in total, whatever their sizes (Davidson and EDOS
/// would otherwise outweigh ConvAbuse five to one), and EDOS's negatives
/// count for `EDOS_NEGATIVE_WEIGHT`. The spam sets keep weight 1, as
/// cross-validation chose (see docs/MODERATION.md).
fn set_weights(splits: &[&Split], task: Task) -> Vec<(f64, f64)> {
    if task == Task::Spam {
        return vec![(1.0, 1.0); splits.len()];
    }
    let mass = |s: &Split| {
        let neg = if s.data.name == "edos" { EDOS_NEGATIVE_WEIGHT } else { 1.0 };
        s.train.iter().map(|&(i, _)| if s.data.examples[i].1 { 1.0 } else { neg }).sum::<f64>()
    };
    let total: f64 = splits.iter().map(|s| mass(s)).sum();
    let share = total / splits.len() as f64;
    splits
        .iter()
        .map(|s| {
            let scale = share / mass(s).max(1e-9);
            let neg = if s.data.name == "edos" { EDOS_NEGATIVE_WEIGHT } else { 1.0 };
            (scale, scale * neg)
        })
        .collect()
}

/// Rows of the training parts of `splits` (numbered in that order).
fn rows<'a>(splits: &[&'a Split], features: &[&'a Vec<Entries>], task: Task) -> Vec<Row<'a>> {
    let weights = set_weights(splits, task);
    let mut out = Vec::new();
    for (g, (s, f)) in splits.iter().zip(features).enumerate() {
        out.extend(s.train.iter().map(|&(i, fold)| {
            let y = s.data.examples[i].1;
            let edos_negative = !y && s.data.name == "edos";
            Row { x: &f[i], y, weight: if y { weights[g].0 } else { weights[g].1 }, set: g, fold, edos_negative }
        }));
    }
    out
}

/// A leave-one-data-set-out figure: the toxicity head trained on the
/// other sets only, scored on every row of the set it never saw.
#[derive(Debug, Serialize)]
pub struct LeaveOneOut {
    pub held_out: &'static str,
    pub trained_on: Vec<&'static str>,
    pub n: usize,
    pub positives: usize,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    /// The cut, chosen like the shipped one but on the other sets' test
    /// parts (the held-out set plays no part in it).
    pub threshold_logit: f64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

/// Precision and recall at one `toxicity_threshold`, on one set's test part.
#[derive(Debug, Serialize)]
pub struct ThresholdRow {
    pub threshold: f64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub false_positive_rate: Option<f64>,
    pub f1: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ThresholdTable {
    pub name: &'static str,
    pub rows: Vec<ThresholdRow>,
}

pub fn train(opts: &TrainOptions) -> Result<Report, TrainError> {
    for bits in [opts.bits, opts.toxicity_bits] {
        if !(8..=22).contains(&bits) {
            return Err(TrainError::Bits(bits));
        }
    }
    let say = |msg: String| {
        if opts.progress {
            eprintln!("{msg}");
        }
    };
    say(format!("reading data sets from {}", opts.data_dir.display()));
    let dir = &opts.data_dir;
    let mut sets = data::toxicity_sets(dir, opts.limit)?;
    sets.extend([data::sms(dir, opts.limit)?, data::youtube(dir, opts.limit)?]);
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
        .map(|s| {
            s.data
                .examples
                .iter()
                .map(|(text, _)| match s.data.task {
                    Task::Toxicity => Features::toxicity(text, opts.toxicity_bits).entries(),
                    Task::Spam => Features::extract(text, opts.bits).entries(),
                })
                .collect()
        })
        .collect();
    let of_task = |task: Task| -> (Vec<&Split>, Vec<&Vec<Entries>>) {
        splits.iter().zip(&features).filter(|(s, _)| s.data.task == task).unzip()
    };

    let heads = [(Task::Toxicity, ThresholdRule::MaxMeanYoudenJ), (Task::Spam, ThresholdRule::MaxMeanF1)];
    let mut thresholds = Vec::new();
    let mut finals = Vec::new();
    for (task, rule) in heads {
        let bits = if task == Task::Toxicity { opts.toxicity_bits } else { opts.bits };
        let seed = opts.seed.wrapping_add(head_index(task) as u64 + 1);
        let (task_splits, task_features) = of_task(task);
        let rows = rows(&task_splits, &task_features, task);
        if rows.is_empty() {
            return Err(TrainError::Empty(task));
        }
        let labels: Vec<bool> = rows.iter().map(|r| r.y).collect();
        let groups: Vec<usize> = rows.iter().map(|r| r.set).collect();
        // Out-of-fold scores: every training example scored by a fit that
        // did not see it. They choose the cut: far more examples than a
        // single validation part would give, so a steadier choice.
        let mut oof = vec![0f64; rows.len()];
        for k in 0..FOLDS {
            let part: Vec<Row> = rows.iter().filter(|r| r.fold != k).copied().collect();
            say(format!("fitting {task:?}, cross-validation fold {}/{FOLDS} ({} examples)", k + 1, part.len()));
            let f = fit_head(&part, bits, opts, task, seed.wrapping_add(k as u64 * 1000), None);
            for (j, r) in rows.iter().enumerate().filter(|(_, r)| r.fold == k) {
                oof[j] = f.logit(r.x);
            }
        }
        let cut = metrics::choose_threshold(&oof, &labels, &groups, rule);
        let cv_roc_auc = metrics::roc_auc(&oof, &labels).map(round);
        let mut per_set = Vec::new();
        for (g, s) in task_splits.iter().enumerate() {
            let (sc, lb): (Vec<f64>, Vec<bool>) =
                oof.iter().zip(&rows).filter(|(_, r)| r.set == g).map(|(&o, r)| (o, r.y)).unzip();
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
        say(format!("fitting {task:?} on all training parts ({} examples)", rows.len()));
        let mut last = fit_head(&rows, bits, opts, task, seed, Some("final fit"));
        last.bias -= cut;
        finals.push(last);
    }

    let q = Quantised::from_float([finals[0].bias, finals[1].bias], [&finals[0].weights, &finals[1].weights]);
    let bytes = q.to_bytes();
    write_atomic(&opts.out, &bytes)?;
    say(format!("wrote {} ({} bytes)", opts.out.display(), bytes.len()));

    // Evaluate what was written, through the same scorer `score` uses.
    let model = LinearModel::from_bytes(&bytes)?;
    let mut test = Vec::new();
    let mut threshold_tables = Vec::new();
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
        if h == Task::Toxicity {
            threshold_tables.push(ThresholdTable {
                name: s.data.name,
                rows: THRESHOLD_TABLE
                    .iter()
                    .map(|&t| {
                        let c = Confusion::at(&scores, &labels, t);
                        ThresholdRow {
                            threshold: t,
                            precision: c.precision().map(round),
                            recall: c.recall().map(round),
                            false_positive_rate: c.false_positive_rate().map(round),
                            f1: c.f1().map(round),
                        }
                    })
                    .collect(),
            });
        }
        test.push(DatasetReport {
            name: s.data.name,
            task: h,
            positive: match s.data.name {
                "davidson" => "class 0 (hate speech) or 1 (offensive language); negative: class 2 (neither)",
                "convabuse" => "abusive 1 (most annotators' votes abusive); negative: 0",
                "hatexplain" => "hatespeech or offensive; negative: normal",
                "edos" => {
                    "sexist; negative: not sexist (weighted 0.5 × (1 − p) in training, p a fit on the other sets)"
                }
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

    let leave_one_out = leave_one_data_set_out(&splits, &features, opts, &say);
    let functional = crate::functional::evaluate(&model, 0.5);
    let davidson = &splits[0];
    let bias_check = bias::check(&model, davidson.test.iter().map(|&i| &davidson.data.examples[i]));

    let report = Report {
        format: "fussioncord-moderation-report/2",
        model: ModelInfo {
            bytes: bytes.len(),
            fnv64: format!("{:016x}", fnv64(&bytes)),
            feature_bits: opts.bits,
            toxicity_feature_bits: opts.toxicity_bits,
        },
        training: TrainingInfo {
            seed: opts.seed,
            epochs: opts.epochs,
            toxicity_epochs: opts.toxicity_epochs,
            optimiser: "logistic regression, AdaGrad SGD, L2 on touched weights, seeded shuffling; \
                        spam head: mean of 5 fits over different shufflings",
            learning_rate: opts.learning_rate,
            l2: opts.l2,
            split: "per data set: exact duplicate texts removed, then stratified by label: \
                    80% train (5 stratified folds for choosing thresholds), 20% test",
            toxicity_weighting: "each toxicity set weighs the same in total; EDOS negatives (not sexist) \
                                 count 0.5 of an example of their set, times 1 - p, p the toxicity a fit \
                                 on the same rows without EDOS gives them",
            row_limit: opts.limit,
        },
        thresholds,
        test,
        leave_one_data_set_out: leave_one_out,
        toxicity_thresholds: threshold_tables,
        functional,
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

/// For each toxicity set: fit the toxicity head on the other sets'
/// training parts, choose the cut on their test parts, and score every
/// row of the set left out.
fn leave_one_data_set_out(
    splits: &[Split],
    features: &[Vec<Entries>],
    opts: &TrainOptions,
    say: &dyn Fn(String),
) -> Vec<LeaveOneOut> {
    let tox: Vec<usize> = (0..splits.len()).filter(|&i| splits[i].data.task == Task::Toxicity).collect();
    if tox.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, &left) in tox.iter().enumerate() {
        let others: Vec<usize> = tox.iter().copied().filter(|&i| i != left).collect();
        let sp: Vec<&Split> = others.iter().map(|&i| &splits[i]).collect();
        let fe: Vec<&Vec<Entries>> = others.iter().map(|&i| &features[i]).collect();
        let rows = rows(&sp, &fe, Task::Toxicity);
        say(format!(
            "leave-one-data-set-out {}/{}: fitting on {} ({} examples), scoring {}",
            n + 1,
            tox.len(),
            sp.iter().map(|s| s.data.name).collect::<Vec<_>>().join(", "),
            rows.len(),
            splits[left].data.name
        ));
        let f = fit_head(&rows, opts.toxicity_bits, opts, Task::Toxicity, opts.seed.wrapping_add(77 + n as u64), None);
        let (mut sc, mut lb, mut gr) = (Vec::new(), Vec::new(), Vec::new());
        for (g, &i) in others.iter().enumerate() {
            for &k in &splits[i].test {
                sc.push(f.logit(&features[i][k]));
                lb.push(splits[i].data.examples[k].1);
                gr.push(g);
            }
        }
        let cut = metrics::choose_threshold(&sc, &lb, &gr, ThresholdRule::MaxMeanYoudenJ);
        let s = &splits[left];
        let scores: Vec<f64> = features[left].iter().map(|x| f.logit(x)).collect();
        let labels: Vec<bool> = s.data.examples.iter().map(|e| e.1).collect();
        let c = Confusion::at(&scores, &labels, cut);
        let r = LeaveOneOut {
            held_out: s.data.name,
            trained_on: sp.iter().map(|s| s.data.name).collect(),
            n: labels.len(),
            positives: labels.iter().filter(|&&l| l).count(),
            roc_auc: metrics::roc_auc(&scores, &labels).map(round),
            pr_auc: metrics::average_precision(&scores, &labels).map(round),
            threshold_logit: round(cut),
            precision: c.precision().map(round),
            recall: c.recall().map(round),
            f1: c.f1().map(round),
        };
        say(format!(
            "  {} never seen: ROC-AUC {}, PR-AUC {}, F1 {}",
            r.held_out,
            show(r.roc_auc),
            show(r.pr_auc),
            show(r.f1)
        ));
        out.push(r);
    }
    out
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
    out.push_str(
        "leave-one-data-set-out (toxicity head trained on the other sets, scored on every row of this one):\n",
    );
    out.push_str("  held out    n      pos    ROC-AUC  PR-AUC  precision recall  F1\n");
    for d in &report.leave_one_data_set_out {
        out.push_str(&format!(
            "  {:<11} {:<6} {:<6} {:<8} {:<7} {:<9} {:<7} {}\n",
            d.held_out,
            d.n,
            d.positives,
            f(d.roc_auc),
            f(d.pr_auc),
            f(d.precision),
            f(d.recall),
            f(d.f1)
        ));
    }
    out.push_str("toxicity_threshold on the test parts (precision / recall):\n  threshold");
    for t in THRESHOLD_TABLE {
        out.push_str(&format!(" {t:<13}"));
    }
    out.push('\n');
    for table in &report.toxicity_thresholds {
        out.push_str(&format!("  {:<9}", table.name));
        for r in &table.rows {
            out.push_str(&format!(" {:<13}", format!("{} / {}", f2(r.precision), f2(r.recall))));
        }
        out.push('\n');
    }
    out.push_str(&crate::functional::summary(&report.functional));
    out.push_str(&bias::summary(&report.bias_check));
    out
}

fn f2(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) {
        for sub in ["davidson", "sms-spam", "youtube-spam", "convabuse", "hatexplain", "edos"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut conv = String::from("example_id,bot,prev_agent,prev_user,agent,user,annotators,votes_abusive,votes_ambiguous,abusive,worst_severity\n");
        let mut hx = String::from("label,text\n");
        let mut edos = String::from("rewire_id,text,label_sexist,label_category,label_vector,split\n");
        for i in 0..30 {
            conv.push_str(&format!(
                "{i},E,a,b,c,you dumb idiot {i},3,3,0,1,-2\n{i},E,a,b,c,hello there {i},3,0,0,0,0\n"
            ));
            hx.push_str(&format!("offensive,<user> shut up you stupid idiot {i}\nnormal,<user> nice weather {i}\n"));
            edos.push_str(&format!("a{i},[USER] women are stupid idiots {i},sexist,x,x,train\nb{i},[USER] lovely garden {i},not sexist,none,none,train\n"));
        }
        std::fs::write(dir.join("convabuse/convabuse.train.csv"), conv).unwrap();
        std::fs::write(dir.join("hatexplain/hatexplain.train.csv"), hx).unwrap();
        std::fs::write(dir.join("edos/edos.train.csv"), edos).unwrap();
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
        opts.toxicity_bits = 13;
        opts.epochs = 3;
        opts.toxicity_epochs = 3;
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
        assert_eq!(report.test.len(), 6);
        for d in &report.test {
            let rows = if matches!(d.name, "convabuse" | "hatexplain" | "edos") { 60 } else { 80 };
            assert_eq!((d.rows, d.test), (rows, rows / 5), "{}", d.name);
            assert!(d.roc_auc.is_some());
        }
        let lodo: Vec<&str> = report.leave_one_data_set_out.iter().map(|l| l.held_out).collect();
        assert_eq!(lodo, ["davidson", "convabuse", "hatexplain", "edos"]);
        for l in &report.leave_one_data_set_out {
            assert_eq!(l.n, if l.held_out == "davidson" { 80 } else { 60 });
            assert_eq!(l.trained_on.len(), 3);
            assert!(!l.trained_on.contains(&l.held_out));
            assert!(l.roc_auc.is_some());
        }
        assert!(report.functional.cases >= 300);
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
        assert!(json["test"][0]["roc_auc"].is_number());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
