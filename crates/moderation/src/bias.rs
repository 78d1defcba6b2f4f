//! A measured check of the best-known bias of the toxicity data: Davidson's
//! annotators labelled tweets in African-American English (AAE) offensive
//! far more often than others (Sap et al. 2019, Davidson et al. 2019), and
//! a model trained on those labels learns the dialect as a toxicity cue.
//!
//! No dialect classifier is available offline, so the check uses two crude
//! proxies and reports both, whatever they show:
//! 1. Among held-out Davidson tweets labelled *neither*, the share flagged
//!    toxic for tweets with and without common AAE markers (a word list).
//! 2. Benign sentence pairs that say the same thing in AAE and in
//!    Standard American English (SAE), scored by the model.

use serde::Serialize;

use crate::Classifier;

/// Words that mostly occur in AAE in tweets. A marker list is a blunt
/// proxy: it misses most AAE and catches some non-AAE use.
pub const AAE_MARKERS: &[&str] = &[
    "finna", "tryna", "ion", "aint", "yall", "dat", "dis", "dem", "wit", "bout", "gon", "imma", "ima", "sholl",
    "deadass", "bruh", "chile", "thang", "tho", "nah", "lil", "homie", "bae",
];

/// (AAE, SAE) pairs with the same benign meaning.
pub const TEMPLATE_PAIRS: &[(&str, &str)] = &[
    ("he finna go to the store", "he is about to go to the store"),
    ("i ain't got time for this today", "i don't have time for this today"),
    ("y'all coming to the party tonight?", "are you all coming to the party tonight?"),
    ("dat movie was good tho", "that movie was good though"),
    ("ion even know what to say", "i don't even know what to say"),
    ("we was just chilling wit my brother", "we were just relaxing with my brother"),
    ("she be working hard every day", "she is always working hard"),
    ("bruh that game was crazy", "man that game was wild"),
    ("my lil sister graduated today, so proud", "my little sister graduated today, so proud"),
    ("imma call you when i get home", "i will call you when i get home"),
    ("it's finna rain all day", "it is going to rain all day"),
    ("we gon win this weekend", "we are going to win this weekend"),
];

#[derive(Debug, Serialize)]
pub struct BiasReport {
    pub method: &'static str,
    pub neither_with_markers: Group,
    pub neither_without_markers: Group,
    pub toxic_with_markers: Group,
    pub toxic_without_markers: Group,
    pub templates: Vec<TemplatePair>,
    pub template_aae_mean: f64,
    pub template_sae_mean: f64,
    pub template_aae_flagged: usize,
    pub template_sae_flagged: usize,
}

/// Tweets of one kind in the Davidson test part, and how many the model
/// flags (toxicity ≥ 0.5).
#[derive(Debug, Default, Serialize)]
pub struct Group {
    pub n: usize,
    pub flagged: usize,
    pub flagged_share: Option<f64>,
    pub mean_score: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct TemplatePair {
    pub aae: &'static str,
    pub sae: &'static str,
    pub aae_toxicity: f64,
    pub sae_toxicity: f64,
}

pub fn has_marker(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.replace(['\'', '’'], ""))
        .any(|w| AAE_MARKERS.contains(&w.as_str()))
}

pub fn check<'a>(model: &impl Classifier, davidson_test: impl Iterator<Item = &'a (String, bool)>) -> BiasReport {
    let mut sums = [[0f64; 2]; 4];
    let mut groups: [Group; 4] = Default::default();
    for (text, toxic) in davidson_test {
        let score = f64::from(model.score(text).toxicity);
        let g = usize::from(*toxic) * 2 + usize::from(!has_marker(text));
        groups[g].n += 1;
        groups[g].flagged += usize::from(score >= 0.5);
        sums[g][0] += score;
    }
    for (g, s) in groups.iter_mut().zip(&sums) {
        if g.n > 0 {
            g.flagged_share = Some(round(g.flagged as f64 / g.n as f64));
            g.mean_score = Some(round(s[0] / g.n as f64));
        }
    }
    let templates: Vec<TemplatePair> = TEMPLATE_PAIRS
        .iter()
        .map(|&(aae, sae)| TemplatePair {
            aae,
            sae,
            aae_toxicity: round(f64::from(model.score(aae).toxicity)),
            sae_toxicity: round(f64::from(model.score(sae).toxicity)),
        })
        .collect();
    let n = templates.len() as f64;
    let [nw, nwo, tw, two] = groups;
    BiasReport {
        method: "AAE marker words in held-out Davidson tweets, and benign AAE/SAE sentence pairs",
        template_aae_mean: round(templates.iter().map(|t| t.aae_toxicity).sum::<f64>() / n),
        template_sae_mean: round(templates.iter().map(|t| t.sae_toxicity).sum::<f64>() / n),
        template_aae_flagged: templates.iter().filter(|t| t.aae_toxicity >= 0.5).count(),
        template_sae_flagged: templates.iter().filter(|t| t.sae_toxicity >= 0.5).count(),
        neither_with_markers: nw,
        neither_without_markers: nwo,
        toxic_with_markers: tw,
        toxic_without_markers: two,
        templates,
    }
}

pub fn summary(b: &BiasReport) -> String {
    let share = |g: &Group| g.flagged_share.map_or("n/a".into(), |s| format!("{:.1}%", s * 100.0));
    format!(
        "dialect check (toxicity >= 0.5):\n  Davidson 'neither' tweets flagged: with AAE markers {} of {} ({}), \
         without {} of {} ({})\n  Davidson toxic tweets flagged: with AAE markers {} of {} ({}), without {} of {} ({})\n  \
         benign sentence pairs: AAE mean {:.3}, flagged {}/{}; SAE mean {:.3}, flagged {}/{}\n",
        b.neither_with_markers.flagged,
        b.neither_with_markers.n,
        share(&b.neither_with_markers),
        b.neither_without_markers.flagged,
        b.neither_without_markers.n,
        share(&b.neither_without_markers),
        b.toxic_with_markers.flagged,
        b.toxic_with_markers.n,
        share(&b.toxic_with_markers),
        b.toxic_without_markers.flagged,
        b.toxic_without_markers.n,
        share(&b.toxic_without_markers),
        b.template_aae_mean,
        b.template_aae_flagged,
        b.templates.len(),
        b.template_sae_mean,
        b.template_sae_flagged,
        b.templates.len(),
    )
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_whole_words() {
        assert!(has_marker("He FINNA go"));
        assert!(has_marker("y'all ready"));
        assert!(has_marker("I ain’t"));
        assert!(!has_marker("lion within distance"));
    }
}
