//! A functional test suite for the toxicity score: short templated cases
//! that a good chat moderator gets right, by category. Half of it must be
//! flagged (insults with and without profanity, threats, identity attacks
//! over many groups, slurs, dehumanising comparisons, obfuscated insults);
//! half must not (friendly profanity, negation, counter-speech and quotes
//! that denounce abuse, neutral statements about identity groups, reclaimed
//! terms about oneself, harmless leetspeak and typos).
//!
//! It is written for this project, from the categories of functional tests
//! for hate speech models (Röttger et al., "HateCheck", ACL 2021), not
//! copied from any data set. It measures; it is **not** trained or tuned
//! on (nothing in training reads it). Each category's accuracy is in the
//! report, and a test asserts floors the shipped model reaches.
//!
//! The multilingual samples are separate: a note on what happens with
//! languages the model never saw, not a target.

use serde::Serialize;

use crate::Classifier;

#[derive(Clone, Debug)]
pub struct Case {
    pub category: &'static str,
    pub text: String,
    /// Should be flagged (toxicity ≥ the threshold).
    pub toxic: bool,
}

/// Identity groups, as a plural noun phrase.
const GROUPS: &[&str] = &[
    "women",
    "men",
    "black people",
    "white people",
    "asians",
    "mexicans",
    "immigrants",
    "muslims",
    "jews",
    "christians",
    "gay people",
    "trans people",
    "disabled people",
    "indians",
    "arabs",
    "refugees",
];

/// A member of a group, for first-person and neutral statements.
const MEMBERS: &[&str] = &[
    "a woman",
    "a man",
    "black",
    "white",
    "asian",
    "mexican",
    "an immigrant",
    "muslim",
    "jewish",
    "christian",
    "gay",
    "trans",
    "disabled",
    "indian",
    "arab",
    "a refugee",
];

const INSULTS: &[&str] = &["idiot", "moron", "loser", "clown", "imbecile", "fool", "waste of space", "joke"];
const SLURS: &[&str] = &["faggot", "nigger", "retard", "tranny", "kike", "spic", "chink", "dyke"];

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn push(out: &mut Vec<Case>, category: &'static str, toxic: bool, texts: impl IntoIterator<Item = String>) {
    out.extend(texts.into_iter().map(|text| Case { category, text, toxic }));
}

/// Every case, in a fixed order.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    // Must be flagged.
    push(
        &mut out,
        "insult with profanity",
        true,
        INSULTS.iter().flat_map(|i| {
            [
                format!("you are a fucking {i}"),
                format!("shut the fuck up you {i}"),
                format!("what a shitty {i} you are"),
            ]
        }),
    );
    push(
        &mut out,
        "insult without profanity",
        true,
        INSULTS.iter().flat_map(|i| {
            [
                format!("you are such {} {i}", article(i)),
                format!("shut up, you pathetic {i}"),
                format!("nobody likes you, {i}"),
            ]
        }),
    );
    push(
        &mut out,
        "insult without profanity",
        true,
        [
            "you are so stupid it hurts",
            "your brain is the size of a pea",
            "you are worthless and everyone knows it",
            "go away, nobody wants you here",
            "you are ugly and dumb",
            "what a pathetic excuse for a human",
        ]
        .map(String::from),
    );
    push(
        &mut out,
        "threat",
        true,
        [
            "i will kill you",
            "i am going to find you and hurt you",
            "you should die",
            "i hope you get hit by a bus",
            "watch your back, i know where you live",
            "i will beat you until you bleed",
            "someone should shoot you",
            "i'm going to burn your house down",
            "kill yourself",
            "i will break your legs",
            "you deserve to be murdered",
            "i am coming for you and your family",
        ]
        .map(String::from),
    );
    push(
        &mut out,
        "identity attack",
        true,
        GROUPS.iter().flat_map(|g| {
            [
                format!("i hate {g}"),
                format!("{g} are disgusting"),
                format!("all {g} should be deported"),
                format!("{g} are too stupid to vote"),
                format!("{g} should not be allowed to live here"),
            ]
        }),
    );
    push(
        &mut out,
        "dehumanising comparison",
        true,
        GROUPS.iter().enumerate().map(|(n, g)| {
            let what = ["animals", "vermin", "parasites", "cockroaches", "rats", "a disease", "subhuman", "filth"];
            format!("{g} are {}", what[n % what.len()])
        }),
    );
    push(
        &mut out,
        "slur",
        true,
        SLURS.iter().flat_map(|s| [format!("shut up you {s}"), format!("look at that {s}"), format!("typical {s}")]),
    );
    push(
        &mut out,
        "obfuscated insult",
        true,
        [
            "you are a f*cking idiot",
            "shut up b1tch",
            "f u c k you",
            "you are st00pid",
            "stuuuupid loser",
            "you 1d10t",
            "fuuuuck you",
            "go to h3ll you m0ron",
            "you are a pi3ce of sh1t",
            "s.t.f.u",
            "you absolute a$$hole",
            "die you b!tch",
        ]
        .map(String::from),
    );
    // Must not be flagged.
    push(
        &mut out,
        "friendly profanity",
        false,
        [
            "this is fucking great",
            "holy shit that was amazing",
            "damn this pizza is good",
            "fuck yeah we won",
            "that concert was badass",
            "shit, i forgot my keys again",
            "hell yeah, see you there",
            "this song is so fucking good",
            "oh shit, happy birthday man!",
            "damn, that is a nice car",
            "fucking finally, the build passes",
            "that was a hell of a game",
        ]
        .map(String::from),
    );
    push(
        &mut out,
        "negation",
        false,
        INSULTS
            .iter()
            .flat_map(|i| {
                [format!("you are not {} {i}", article(i)), format!("nobody thinks you are {} {i}", article(i))]
            })
            .chain(
                [
                    "i don't hate you",
                    "i would never hurt anyone",
                    "you are not stupid at all",
                    "i do not think women are inferior",
                    "no one should be treated like that",
                    "i will not kill the spider, i will put it outside",
                ]
                .map(String::from),
            ),
    );
    push(
        &mut out,
        "counter-speech and quotes",
        false,
        GROUPS
            .iter()
            .flat_map(|g| {
                [format!("saying that {g} are animals is hateful and wrong"), format!("stop spreading hate about {g}")]
            })
            .chain(
                [
                    "he called me an idiot and it really hurt",
                    "calling people retards is not ok",
                    "it's never acceptable to tell someone to kill themselves",
                    "please report anyone who uses slurs here",
                    "racism has no place in this server",
                    "threatening people is against the rules",
                ]
                .map(String::from),
            ),
    );
    push(
        &mut out,
        "neutral identity statement",
        false,
        MEMBERS
            .iter()
            .flat_map(|m| [format!("i am {m}"), format!("my best friend is {m}")])
            .chain(GROUPS.iter().flat_map(|g| [format!("{g} live in my town"), format!("many {g} work in tech")])),
    );
    push(
        &mut out,
        "reclaimed term about oneself",
        false,
        [
            "i am queer and proud",
            "as a queer person, pride month means a lot to me",
            "we're here, we're queer, get used to it",
            "i'm a proud dyke and i love my wife",
            "us crips know accessibility matters",
            "i'm a bit of a nerd about trains",
            "i'm such a geek for this game",
            "call me a fag hag, i love my gay friends",
        ]
        .map(String::from),
    );
    push(
        &mut out,
        "harmless leetspeak and typos",
        false,
        [
            "h3ll0 fr13nd",
            "gr8 g4me guys",
            "c u l8r",
            "th4nks 4 the h3lp",
            "n00b question: how do i install this?",
            "thx for hte help",
            "im so thankfull for u",
            "gg wp everyone",
            "brb gettin fud",
            "lol ur rite",
            "1337 skillz",
            "w00t we won",
        ]
        .map(String::from),
    );
    push(
        &mut out,
        "ordinary chat",
        false,
        [
            "see you at lunch tomorrow",
            "can someone review my pull request?",
            "the meeting moved to 3pm",
            "happy birthday! hope you have a great day",
            "does anyone know a good pizza place nearby",
            "i'll bring snacks for the game",
            "thanks, that fixed it",
            "what time is the stream tonight",
        ]
        .map(String::from),
    );
    out
}

/// Short messages in other languages: (language, text, toxic).
pub const MULTILINGUAL: &[(&str, &str, bool)] = &[
    ("French", "tu es un idiot, ferme ta gueule", true),
    ("French", "merci beaucoup pour ton aide", false),
    ("Spanish", "eres un imbécil de mierda", true),
    ("Spanish", "nos vemos mañana en la escuela", false),
    ("German", "du bist ein dummes arschloch", true),
    ("German", "danke für deine hilfe, bis morgen", false),
    ("Portuguese", "vai se foder, seu idiota", true),
    ("Portuguese", "obrigado pela ajuda, até amanhã", false),
    ("Italian", "sei un coglione, stai zitto", true),
    ("Italian", "ci vediamo domani a pranzo", false),
    ("Dutch", "jij bent een domme klootzak", true),
    ("Dutch", "bedankt voor je hulp vandaag", false),
    ("Polish", "jesteś pierdolonym idiotą", true),
    ("Polish", "dziękuję za pomoc, do jutra", false),
    ("Russian", "ты тупой идиот, заткнись", true),
    ("Russian", "спасибо за помощь, до завтра", false),
];

#[derive(Debug, Serialize)]
pub struct CategoryResult {
    pub category: &'static str,
    /// Whether its cases should be flagged.
    pub toxic: bool,
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub mean_score: f64,
    /// Up to five of the cases it got wrong, with their scores.
    pub errors: Vec<(String, f64)>,
}

#[derive(Debug, Serialize)]
pub struct FunctionalReport {
    pub threshold: f64,
    pub cases: usize,
    pub accuracy: f64,
    pub categories: Vec<CategoryResult>,
    pub multilingual: Vec<MultilingualResult>,
}

#[derive(Debug, Serialize)]
pub struct MultilingualResult {
    pub language: &'static str,
    pub text: &'static str,
    pub toxic: bool,
    pub toxicity: f64,
}

pub fn evaluate(model: &dyn Classifier, threshold: f64) -> FunctionalReport {
    let all = cases();
    let mut categories: Vec<CategoryResult> = Vec::new();
    let mut correct = 0;
    for case in &all {
        let score = f64::from(model.score(&case.text).toxicity);
        let ok = (score >= threshold) == case.toxic;
        correct += usize::from(ok);
        let at = match categories.iter().position(|c| c.category == case.category) {
            Some(at) => at,
            None => {
                categories.push(CategoryResult {
                    category: case.category,
                    toxic: case.toxic,
                    n: 0,
                    correct: 0,
                    accuracy: 0.0,
                    mean_score: 0.0,
                    errors: Vec::new(),
                });
                categories.len() - 1
            }
        };
        let c = &mut categories[at];
        c.n += 1;
        c.correct += usize::from(ok);
        c.mean_score += score;
        if !ok && c.errors.len() < 5 {
            c.errors.push((case.text.clone(), round(score)));
        }
    }
    for c in &mut categories {
        c.accuracy = round(c.correct as f64 / c.n as f64);
        c.mean_score = round(c.mean_score / c.n as f64);
    }
    let multilingual = MULTILINGUAL
        .iter()
        .map(|&(language, text, toxic)| MultilingualResult {
            language,
            text,
            toxic,
            toxicity: round(f64::from(model.score(text).toxicity)),
        })
        .collect();
    FunctionalReport {
        threshold,
        cases: all.len(),
        accuracy: round(correct as f64 / all.len() as f64),
        categories,
        multilingual,
    }
}

pub fn summary(r: &FunctionalReport) -> String {
    let mut out =
        format!("functional suite ({} cases, toxicity >= {}): accuracy {:.3}\n", r.cases, r.threshold, r.accuracy);
    for c in &r.categories {
        out.push_str(&format!(
            "  {:<30} {:<11} {:>3}/{:<3} {:.3}  mean score {:.3}\n",
            c.category,
            if c.toxic { "flag" } else { "don't flag" },
            c.correct,
            c.n,
            c.accuracy,
            c.mean_score
        ));
    }
    let (tox, ok): (Vec<_>, Vec<_>) = r.multilingual.iter().partition(|m| m.toxic);
    let mean = |v: &[&MultilingualResult]| v.iter().map(|m| m.toxicity).sum::<f64>() / v.len().max(1) as f64;
    out.push_str(&format!(
        "  multilingual samples: abusive mean {:.3} (flagged {}/{}), benign mean {:.3} (flagged {}/{})\n",
        mean(&tox),
        tox.iter().filter(|m| m.toxicity >= r.threshold).count(),
        tox.len(),
        mean(&ok),
        ok.iter().filter(|m| m.toxicity >= r.threshold).count(),
        ok.len()
    ));
    out
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_has_a_few_hundred_cases_in_both_directions() {
        let all = cases();
        assert!(all.len() >= 300, "{}", all.len());
        let toxic = all.iter().filter(|c| c.toxic).count();
        assert!(toxic > 100 && all.len() - toxic > 100);
        let mut texts: Vec<&str> = all.iter().map(|c| c.text.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), all.len(), "no case twice");
    }
}
