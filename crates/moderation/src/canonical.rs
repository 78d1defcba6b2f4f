//! One normalisation for every source of toxicity data, and for live
//! messages: the toxicity head sees text only in this canonical form.
//!
//! The four toxicity sets are written differently. HateXplain is
//! lower-cased and tokenised, with contractions expanded ("do not") and
//! `<user>`, `<number>`, `<censored>` and emoticon tags (`<happy>`) in
//! place of names, numbers, masked words and smileys; EDOS writes
//! `[USER]` and `[URL]`; Davidson's tweets have `@names`, links and HTML
//! entities; ConvAbuse is typed chat. If each kept its own form, the model
//! would learn which set a text comes from (and so its share of toxic
//! labels) instead of what it says. So every text, whatever its source, is
//! brought to the form they can all reach:
//!
//! - lower case; entities decoded; markup and every placeholder style
//!   (`<user>`, `[USER]`, `@name`, `<@id>`) to one token `<user>`; links and
//!   e-mail addresses to `<url>`; numbers, money, dates and times to
//!   `<number>`; emoticons and emoticon tags dropped;
//! - punctuation removed (HateXplain has none); emoji kept, one token each;
//! - contractions expanded as HateXplain has them ("don't" and "dont" both
//!   become "do not"; possessive "'s" is dropped);
//! - de-obfuscation: look-alike digits and symbols inside words become
//!   letters ("b1tch", "$hit"), letters spelled out with spaces or dots
//!   are joined ("f u c k", "f.u.c.k"), a word masked with `*` or `#` is
//!   matched to the abusive word it hides ("f*ck") or else becomes
//!   `<censored>` (what HateXplain has for masked words), and a run of three
//!   or more of a letter is cut to two, or to one where that gives a word of
//!   the abuse lexicon ("fuuuuck", "stuuupid").

use crate::text::{entity, is_email, is_url, markup, normalise_token};

pub const USER: &str = "<user>";
pub const URL: &str = "<url>";
pub const NUMBER: &str = "<number>";
pub const CENSORED: &str = "<censored>";

// Private-use characters that stand for a placeholder between `prepare`
// and tokenising; they cannot come from the input (dropped there).
const M_USER: char = '\u{F8F0}';
const M_URL: char = '\u{F8F1}';
const M_NUMBER: char = '\u{F8F2}';
const M_CENSORED: char = '\u{F8F3}';

/// Words that obfuscation hides: used only to undo masking ("f*ck") and
/// stretching ("stuuupid"), never as a score.
const LEXICON: &[&str] = &[
    "fuck", "fucking", "fucker", "fucked", "shit", "bitch", "bitches", "cunt", "dick", "cock", "pussy", "whore",
    "slut", "bastard", "asshole", "ass", "idiot", "stupid", "moron", "retard", "retarded", "loser", "dumb", "ugly",
    "kill", "die", "hate", "nigger", "nigga", "faggot", "fag", "dyke", "tranny", "kike", "spic", "chink", "twat",
    "wanker", "prick", "suck", "sucks", "crap", "piss", "trash", "scum", "stfu", "kys", "hoe", "thot", "rape", "damn",
    "hell",
];

/// The canonical tokens of a text (see the module's documentation).
pub fn canonical(text: &str) -> Vec<String> {
    let prepared = prepare(text);
    let mut out = Vec::new();
    for raw in prepared.split_whitespace() {
        token(raw, &mut out);
    }
    join_spelled_out(&mut out);
    out
}

/// Decodes entities, turns markup and placeholders of every style into
/// marker characters, straightens apostrophes and drops invisible
/// characters.
fn prepare(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    let mark = |out: &mut String, m: Option<char>| {
        out.push(' ');
        if let Some(m) = m {
            out.push(m);
        }
        out.push(' ');
    };
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        match c {
            '&' => {
                if let Some((decoded, len)) = entity(&text[i..]) {
                    out.push(decoded);
                    i += len;
                    continue;
                }
            }
            '<' => {
                let window = &text.as_bytes()[i + 1..text.len().min(i + 1 + 512)];
                if let Some(end) = window.iter().position(|&b| b == b'>') {
                    let inner = &text[i + 1..i + 1 + end];
                    let placeholder = placeholder(&inner.to_ascii_lowercase());
                    let found = match placeholder {
                        Some(m) => Some(m),
                        None => markup(inner).map(|t| match t {
                            "@user" => Some(M_USER),
                            "http://link" => Some(M_URL),
                            _ => None,
                        }),
                    };
                    if let Some(m) = found {
                        mark(&mut out, m);
                        i += end + 2;
                        continue;
                    }
                }
            }
            '[' => {
                let window = &text.as_bytes()[i + 1..text.len().min(i + 1 + 16)];
                if let Some(end) = window.iter().position(|&b| b == b']') {
                    if let Some(m) = placeholder(&text[i + 1..i + 1 + end].to_ascii_lowercase()) {
                        mark(&mut out, m);
                        i += end + 2;
                        continue;
                    }
                }
            }
            _ => {}
        }
        match c {
            '’' | '‘' | 'ʼ' | '`' | '´' => out.push('\''),
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{FE0E}' | '\u{FE0F}' => {}
            '\u{1F3FB}'..='\u{1F3FF}' | '\u{F8F0}'..='\u{F8FF}' => {}
            c if c.is_control() => out.push(' '),
            c => out.extend(c.to_lowercase()),
        }
        i += c.len_utf8();
    }
    out
}

/// A placeholder's name (HateXplain's `<user>`, EDOS's `[USER]`, ...), as
/// a marker; `Some(None)` for the ones that are dropped (emoticon tags).
fn placeholder(name: &str) -> Option<Option<char>> {
    Some(match name {
        "user" => Some(M_USER),
        "url" | "email" => Some(M_URL),
        "number" | "percent" | "money" | "date" | "time" | "phone" => Some(M_NUMBER),
        "censored" => Some(M_CENSORED),
        "happy" | "sad" | "laugh" | "annoyed" | "wink" | "surprise" | "angel" | "tong" | "kiss" | "heart"
        | "elongated" | "repeated" | "allcaps" | "emphasis" | "hashtag" | "/hashtag" | "/allcaps" => None,
        _ => return None,
    })
}

fn token(raw: &str, out: &mut Vec<String>) {
    let mut chars = raw.chars();
    if let (Some(m), None) = (chars.next(), chars.next()) {
        let p = match m {
            M_USER => Some(USER),
            M_URL => Some(URL),
            M_NUMBER => Some(NUMBER),
            M_CENSORED => Some(CENSORED),
            _ => None,
        };
        if let Some(p) = p {
            out.push(p.to_owned());
            return;
        }
    }
    let trimmed = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
    if is_url(trimmed) || is_email(trimmed) {
        out.push(URL.to_owned());
        return;
    }
    if raw.len() > 1 && raw.starts_with('@') {
        out.push(USER.to_owned());
        return;
    }
    if is_emoticon(raw) {
        return;
    }
    let norm = normalise_token(raw);
    // Words: letters and digits, with apostrophes and masking symbols
    // kept inside a word for now.
    let mut w = String::new();
    let flush = |w: &mut String, out: &mut Vec<String>| {
        if !w.is_empty() {
            word(w, out);
            w.clear();
        }
    };
    for (k, &c) in norm.iter().enumerate() {
        let inside = k > 0 && k + 1 < norm.len() && norm[k - 1].is_alphanumeric() && norm[k + 1].is_alphanumeric();
        // Apostrophes ("don't") and masks ("f*ck", "f**k") stay inside a
        // word; at its edges they are punctuation.
        let joins = matches!(c, '\'' | '*' | '#') && !w.is_empty() && (inside || (c == '*' && k + 1 < norm.len()));
        if c.is_alphanumeric() || joins {
            w.push(c);
        } else if c.is_ascii() || c.is_whitespace() || is_punctuation(c) {
            flush(&mut w, out);
        } else {
            // An emoji or other symbol: a token of its own.
            flush(&mut w, out);
            out.push(c.to_string());
        }
    }
    flush(&mut w, out);
}

fn is_punctuation(c: char) -> bool {
    matches!(c, '“' | '”' | '«' | '»' | '…' | '–' | '—' | '•' | '·' | '¡' | '¿' | '„' | '\u{3000}'..='\u{303F}')
}

fn is_emoticon(t: &str) -> bool {
    t.len() <= 4
        && t.len() >= 2
        && matches!(t.chars().next(), Some(':' | ';' | '='))
        && t.chars()
            .skip(1)
            .all(|c| matches!(c, ')' | '(' | 'd' | 'p' | 'o' | '/' | '|' | '-' | '\'' | '3' | ']' | '['))
}

/// One word (lower-case, leet undone): masking, contractions, numbers,
/// stretching.
fn word(w: &str, out: &mut Vec<String>) {
    let w = w.trim_matches(|c| c == '*' || c == '\'' || c == '#');
    if w.is_empty() {
        return;
    }
    if w.contains(['*', '#']) {
        out.push(unmask(w).map_or_else(|| CENSORED.to_owned(), str::to_owned));
        return;
    }
    if w.chars().any(|c| c.is_ascii_digit()) {
        out.push(NUMBER.to_owned());
        return;
    }
    if let Some((stem, suffix)) = w.split_once('\'') {
        let suffix = suffix.replace('\'', "");
        match suffix.as_str() {
            "t" if stem.ends_with('n') => {
                let base = &stem[..stem.len() - 1];
                let base = match base {
                    "ca" => "can",
                    "wo" => "will",
                    "ai" => "is",
                    "sha" => "shall",
                    b => b,
                };
                out.extend([base.to_owned(), "not".to_owned()]);
            }
            "m" => out.extend([stem.to_owned(), "am".to_owned()]),
            "re" => out.extend([stem.to_owned(), "are".to_owned()]),
            "ve" => out.extend([stem.to_owned(), "have".to_owned()]),
            "ll" => out.extend([stem.to_owned(), "will".to_owned()]),
            "d" => out.extend([stem.to_owned(), "would".to_owned()]),
            "s" if stem == "let" => out.extend(["let".to_owned(), "us".to_owned()]),
            "s" if IS_PRONOUNS.contains(&stem) => out.extend([stem.to_owned(), "is".to_owned()]),
            _ => out.push(squeeze(&format!("{stem}{suffix}"))),
        }
        return;
    }
    if let Some(expanded) = BARE_CONTRACTIONS.iter().find(|(bare, _)| *bare == w).map(|(_, e)| e) {
        out.extend(expanded.split(' ').map(str::to_owned));
        return;
    }
    out.push(squeeze(w));
}

const IS_PRONOUNS: &[&str] = &["it", "that", "he", "she", "what", "there", "here", "who", "where", "how", "this"];

/// Contractions typed without the apostrophe.
const BARE_CONTRACTIONS: &[(&str, &str)] = &[
    ("dont", "do not"),
    ("doesnt", "does not"),
    ("didnt", "did not"),
    ("cant", "can not"),
    ("cannot", "can not"),
    ("wont", "will not"),
    ("isnt", "is not"),
    ("arent", "are not"),
    ("wasnt", "was not"),
    ("werent", "were not"),
    ("havent", "have not"),
    ("hasnt", "has not"),
    ("hadnt", "had not"),
    ("couldnt", "could not"),
    ("shouldnt", "should not"),
    ("wouldnt", "would not"),
    ("im", "i am"),
    ("ive", "i have"),
    ("youre", "you are"),
    ("theyre", "they are"),
    ("thats", "that is"),
    ("whats", "what is"),
];

/// A run of three or more of a letter was already cut to two
/// (`normalise_token`); cut doubles to one where that makes a lexicon
/// word and the word as it is is not one ("fuuck" → "fuck").
fn squeeze(w: &str) -> String {
    if LEXICON.contains(&w) {
        return w.to_owned();
    }
    let mut s: Vec<char> = w.chars().collect();
    s.dedup();
    let squeezed: String = s.into_iter().collect();
    if squeezed.len() < w.len() && LEXICON.contains(&squeezed.as_str()) {
        squeezed
    } else {
        w.to_owned()
    }
}

/// The lexicon word a masked word hides: same length, the same letters
/// where it shows them, and at least one letter shown.
fn unmask(w: &str) -> Option<&'static str> {
    let chars: Vec<char> = w.chars().collect();
    if !chars.iter().any(|c| c.is_alphabetic()) {
        return None;
    }
    LEXICON.iter().copied().find(|lex| {
        lex.chars().count() == chars.len() && lex.chars().zip(&chars).all(|(l, &c)| c == l || matches!(c, '*' | '#'))
    })
}

/// Letters spelled out one by one ("f u c k", and "f.u.c.k" once
/// punctuation is gone): three or more one-letter words in a row are one
/// word.
fn join_spelled_out(tokens: &mut Vec<String>) {
    let single = |t: &String| t.chars().count() == 1 && t.chars().all(|c| c.is_alphabetic());
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let mut j = i;
        while j < tokens.len() && single(&tokens[j]) {
            j += 1;
        }
        if j - i >= 3 {
            let joined: String = tokens[i..j].concat();
            out.push(squeeze(&joined));
            i = j;
        } else {
            out.push(std::mem::take(&mut tokens[i]));
            i += 1;
        }
    }
    *tokens = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        canonical(s).join(" ")
    }

    #[test]
    fn every_placeholder_style_is_one_token() {
        assert_eq!(c("[USER] hi [URL]"), "<user> hi <url>");
        assert_eq!(c("<user> hi <url>"), "<user> hi <url>");
        assert_eq!(c("@someone hi http://t.co/x"), "<user> hi <url>");
        assert_eq!(c("<@123456> hi <https://example.com/a>"), "<user> hi <url>");
        assert_eq!(c("Hi @SomeOne!"), c("hi <user>"));
        // Numbers of every kind, and HateXplain's tags for them.
        assert_eq!(c("I owe you $100 by 5/10"), "i owe you <number> by <number> <number>");
        assert_eq!(c("i owe you <money> by <date>"), "i owe you <number> by <number>");
        // Emoticons and emoticon tags are dropped alike.
        assert_eq!(c("great :) <happy>"), "great");
        assert_eq!(c("great :D"), "great");
    }

    #[test]
    fn case_punctuation_and_contractions_match_hatexplain() {
        // HateXplain's own form is a fixed point.
        let hx = "why did you delete my replies are you afraid of the truth <user>";
        assert_eq!(c(hx), hx);
        assert_eq!(c("Why did you delete my replies?! Are you afraid of the truth, @bob"), hx);
        assert_eq!(c("I don't know, it's fine"), "i do not know it is fine");
        assert_eq!(c("I dont know, its fine"), "i do not know its fine");
        assert_eq!(c("I can’t; you won't; I'm here; they've gone"), "i can not you will not i am here they have gone");
        assert_eq!(c("John's car &amp; mine"), "johns car mine");
        assert_eq!(c("<br />hello</b>"), "hello");
    }

    #[test]
    fn obfuscation_is_undone() {
        assert_eq!(c("you b1tch"), "you bitch");
        assert_eq!(c("$hit"), "shit");
        assert_eq!(c("f u c k you"), "fuck you");
        assert_eq!(c("F.U.C.K you"), "fuck you");
        assert_eq!(c("f*ck you"), "fuck you");
        assert_eq!(c("sh*t"), "shit");
        assert_eq!(c("f**k off"), "fuck off");
        assert_eq!(c("what the h*ll is xq*z"), "what the hell is <censored>");
        assert_eq!(c("fuuuuuck"), "fuck");
        assert_eq!(c("stuuuupid idiooot"), "stupid idiot");
        assert_eq!(c("soooo goood"), "soo good");
        assert_eq!(c("i.d.i.o.t"), "idiot");
        assert_eq!(c("you 1d10t"), "you idiot");
        // Spelled-out words need three letters: "a" and "i" stay words.
        assert_eq!(c("i a m"), "iam");
        assert_eq!(c("i am a cat"), "i am a cat");
    }

    #[test]
    fn emoji_and_invisible_characters() {
        assert_eq!(c("nice 😂😂 👍🏽"), "nice 😂 😂 👍");
        assert_eq!(c("f\u{200B}uck"), "fuck");
        assert_eq!(c("❤\u{FE0F} you"), "❤ you");
        assert_eq!(c(""), "");
        assert_eq!(c("   <<< >>> [[ ]] &&& \u{F8F0}"), "");
    }
}
