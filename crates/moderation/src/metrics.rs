//! Evaluation metrics over (score, label) pairs. Label `true` is the
//! positive class (toxic, spam); a score at or above the threshold predicts
//! positive.

use serde::Serialize;

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting half (Mann–Whitney U).
/// None when one class is missing.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Area under the precision–recall curve as average precision: the mean of
/// the precision at each distinct threshold weighted by the recall it adds
/// (no interpolation). None without positives.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let pos = labels.iter().filter(|&&l| l).count();
    if pos == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        tp += order[i..=j].iter().filter(|&&k| labels[k]).count();
        seen += j - i + 1;
        let recall = tp as f64 / pos as f64;
        ap += (recall - prev_recall) * (tp as f64 / seen as f64);
        prev_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

impl Confusion {
    pub fn at(scores: &[f64], labels: &[bool], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        for (&s, &l) in scores.iter().zip(labels) {
            c.add(s >= threshold, l);
        }
        c
    }

    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, false) => self.tn += 1,
            (false, true) => self.fn_ += 1,
        }
    }

    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }

    pub fn f1(&self) -> Option<f64> {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Threshold rules, applied to validation scores. Candidates are midpoints
/// between consecutive distinct scores, so the rule picks a gap rather than
/// sitting on one example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    /// Largest F1, averaged over the data sets the examples come from so
    /// that each set counts the same whatever its size and positive rate.
    MaxMeanF1,
    /// Largest TPR − FPR (Youden's J): does not depend on how common
    /// positives are in the data, which for a tweet set labelled 83% toxic
    /// says nothing about a chat server.
    MaxYoudenJ,
    /// Largest Youden's J averaged over the data sets, so that each set
    /// counts the same: the toxicity sets differ in size and in their
    /// share of toxic examples (14% in ConvAbuse, 83% in Davidson).
    MaxMeanYoudenJ,
}

/// `groups[i]` names the data set of example `i` (numbered from 0).
pub fn choose_threshold(scores: &[f64], labels: &[bool], groups: &[usize], rule: ThresholdRule) -> f64 {
    let n_groups = groups.iter().max().map_or(0, |&g| g + 1);
    if rule == ThresholdRule::MaxMeanYoudenJ {
        return mean_youden_sweep(scores, labels, groups, n_groups);
    }
    let mut sorted: Vec<f64> = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    if sorted.len() < 2 {
        return sorted.first().copied().unwrap_or(0.0);
    }
    let mut best = (f64::NEG_INFINITY, sorted[0]);
    for w in sorted.windows(2) {
        let t = (w[0] + w[1]) / 2.0;
        let value = match rule {
            ThresholdRule::MaxMeanF1 => {
                let mut per = vec![Confusion::default(); n_groups];
                for ((&s, &l), &g) in scores.iter().zip(labels).zip(groups) {
                    per[g].add(s >= t, l);
                }
                per.iter().map(|c| c.f1().unwrap_or(0.0)).sum::<f64>() / n_groups as f64
            }
            ThresholdRule::MaxMeanYoudenJ => unreachable!("swept above"),
            ThresholdRule::MaxYoudenJ => {
                let c = Confusion::at(scores, labels, t);
                c.recall().unwrap_or(0.0) - c.false_positive_rate().unwrap_or(0.0)
            }
        };
        if value > best.0 {
            best = (value, t);
        }
    }
    best.1
}

/// `MaxMeanYoudenJ` in one sweep down the sorted scores (the data are
/// large enough that trying every cut over every score would take long).
fn mean_youden_sweep(scores: &[f64], labels: &[bool], groups: &[usize], n_groups: usize) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut pos = vec![0usize; n_groups];
    let mut neg = vec![0usize; n_groups];
    for (&l, &g) in labels.iter().zip(groups) {
        if l {
            pos[g] += 1;
        } else {
            neg[g] += 1;
        }
    }
    let (mut tp, mut fp) = (vec![0usize; n_groups], vec![0usize; n_groups]);
    let mut best = (f64::NEG_INFINITY, scores.first().copied().unwrap_or(0.0));
    let mut i = 0;
    while i < order.len() {
        let v = scores[order[i]];
        while i < order.len() && scores[order[i]] == v {
            let k = order[i];
            if labels[k] {
                tp[groups[k]] += 1;
            } else {
                fp[groups[k]] += 1;
            }
            i += 1;
        }
        // Everything at or above `v` is flagged: the cut sits between `v`
        // and the next lower score.
        let Some(&next) = order.get(i) else { break };
        let j: f64 = (0..n_groups)
            .map(|g| {
                let tpr = if pos[g] > 0 { tp[g] as f64 / pos[g] as f64 } else { 0.0 };
                let fpr = if neg[g] > 0 { fp[g] as f64 / neg[g] as f64 } else { 0.0 };
                tpr - fpr
            })
            .sum::<f64>()
            / n_groups.max(1) as f64;
        if j > best.0 {
            best = (j, (v + scores[next]) / 2.0);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_by_hand() {
        // Pairs (pos, neg): (0.35 vs 0.1) win, (0.35 vs 0.4) lose,
        // (0.8 vs 0.1) win, (0.8 vs 0.4) win → 3/4.
        let s = [0.1, 0.4, 0.35, 0.8];
        let l = [false, false, true, true];
        assert_eq!(roc_auc(&s, &l), Some(0.75));
        // A tie between a positive and a negative counts half: (1 + 0.5) / 2.
        assert_eq!(roc_auc(&[0.5, 0.5, 0.2], &[true, false, false]), Some(0.75));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending: 0.8 (pos) P=1 R=.5; 0.4 (neg); 0.35 (pos) P=2/3 R=1.
        // AP = 0.5 * 1 + 0.5 * 2/3 = 5/6.
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((ap - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(average_precision(&[0.3, 0.9], &[true, true]), Some(1.0));
    }

    #[test]
    fn confusion_and_rates() {
        let c = Confusion::at(&[0.9, 0.6, 0.4, 0.2, 0.7], &[true, false, true, false, true], 0.5);
        assert_eq!(c, Confusion { tp: 2, fp: 1, tn: 1, fn_: 1 });
        assert_eq!(c.precision(), Some(2.0 / 3.0));
        assert_eq!(c.recall(), Some(2.0 / 3.0));
        assert_eq!(c.f1(), Some(2.0 / 3.0));
        assert_eq!(c.false_positive_rate(), Some(0.5));
        assert_eq!(Confusion::default().f1(), None);
    }

    #[test]
    fn thresholds_fall_in_the_gap_that_separates() {
        let s = [0.1, 0.2, 0.3, 0.7, 0.8];
        let l = [false, false, false, true, true];
        let one = [0; 5];
        assert_eq!(choose_threshold(&s, &l, &one, ThresholdRule::MaxMeanF1), 0.5);
        assert_eq!(choose_threshold(&s, &l, &one, ThresholdRule::MaxYoudenJ), 0.5);
        assert_eq!(choose_threshold(&s, &l, &one, ThresholdRule::MaxMeanYoudenJ), 0.5);
        // Per set: a small set with a different score range pulls the cut
        // as much as a large one (pooled J would follow the large set).
        let s = [0.1, 0.2, 0.3, 0.8, 0.9, 0.95, 0.4, 0.6];
        let l = [false, false, false, true, true, true, false, true];
        let g = [0, 0, 0, 0, 0, 0, 1, 1];
        assert_eq!(choose_threshold(&s, &l, &g, ThresholdRule::MaxMeanYoudenJ), 0.5);
        // Two sets: the cut that suits both beats the one that suits the
        // larger set alone.
        let s = [0.1, 0.2, 0.3, 0.7, 0.8, 0.55, 0.6, 0.65];
        let l = [false, false, false, true, true, false, true, true];
        let g = [0, 0, 0, 0, 0, 1, 1, 1];
        assert_eq!(choose_threshold(&s, &l, &g, ThresholdRule::MaxMeanF1), 0.575);
    }
}
