//! Keyword matching as Discord defines it, and the built-in word lists of
//! the keyword-preset trigger.
//!
//! A keyword matches whole words, case-insensitively: `cat` matches "cat"
//! and "Cat!" but not "catch". A `*` at the start or end lets the word go
//! on that side: `cat*` matches "catch", `*cat` matches "bobcat", `*cat*`
//! matches "location". Keywords may hold spaces (a phrase). The allow list
//! uses the same syntax: a match whose whole word is allowed does not count.

use std::collections::HashMap;

/// One keyword, ready to search for.
#[derive(Debug, Clone)]
pub struct Keyword {
    /// As written in the rule (reported as `matched_keyword`).
    pub written: String,
    /// Lower-cased, without its stars.
    core: String,
    /// `*` before: the match may start inside a word.
    open_start: bool,
    /// `*` after: the match may end inside a word.
    open_end: bool,
}

impl Keyword {
    pub fn new(written: &str) -> Option<Keyword> {
        let open_start = written.starts_with('*');
        let open_end = written.len() > 1 && written.ends_with('*');
        let core = written.trim_matches('*').to_lowercase();
        (!core.trim().is_empty()).then(|| Keyword { written: written.to_owned(), core, open_start, open_end })
    }

    /// The first match in `text` (already lower-cased) that the allow list
    /// does not excuse, as the byte span of the word(s) it covers.
    pub fn find(&self, text: &str, allow: &[Keyword]) -> Option<(usize, usize)> {
        self.find_with(text, allow, &mut HashMap::new())
    }

    /// [`Keyword::find`], remembering in `excused` what the allow list made
    /// of each word span, so the keywords of one rule share that work.
    ///
    /// A keyword of word characters only lies inside one run of them, and
    /// every occurrence in that run is judged by the same run: once one is
    /// excused (or starts inside the word without a leading `*`), the rest
    /// of the run is skipped, and one that ends inside the word without a
    /// trailing `*` skips to the run's last possible occurrence. Without
    /// that, one long word against `*a*` with an allow list is quadratic in
    /// the message, per keyword.
    pub fn find_with(
        &self,
        text: &str,
        allow: &[Keyword],
        excused: &mut HashMap<(usize, usize), bool>,
    ) -> Option<(usize, usize)> {
        let wordy = self.core.chars().all(is_word);
        let mut from = 0;
        while let Some(at) = text[from..].find(&self.core) {
            let start = from + at;
            let end = start + self.core.len();
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            let bad_start = !self.open_start && text[..start].chars().next_back().is_some_and(is_word);
            let bad_end = !self.open_end && text[end..].chars().next().is_some_and(is_word);
            if bad_start || bad_end {
                if wordy {
                    let run_end = word_end(text, end);
                    let last = run_end - self.core.len();
                    from = from.max(if bad_start || !text.is_char_boundary(last) { run_end } else { last });
                }
                continue;
            }
            let (ws, we) = word_span(text, start, end);
            if !*excused.entry((ws, we)).or_insert_with(|| allow.iter().any(|a| a.covers(&text[ws..we]))) {
                return Some((ws, we));
            }
            if wordy {
                from = from.max(we);
            }
        }
        None
    }

    /// Whether this allow-list entry matches `word` (lower-cased).
    fn covers(&self, word: &str) -> bool {
        self.find(word, &[]).is_some()
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\''
}

/// Widens a match to the whole words it touches.
pub fn word_span(text: &str, mut start: usize, end: usize) -> (usize, usize) {
    while let Some(c) = text[..start].chars().next_back().filter(|c| is_word(*c)) {
        start -= c.len_utf8();
    }
    (start, word_end(text, end))
}

/// Where the word going on at `end` stops.
fn word_end(text: &str, mut end: usize) -> usize {
    while let Some(c) = text[end..].chars().next().filter(|c| is_word(*c)) {
        end += c.len_utf8();
    }
    end
}

/// Text to match against: lower-cased. ASCII keeps its byte offsets, so
/// spans found in it can be cut from the original (with its case); other
/// text is reported lower-cased.
pub struct Haystack<'a> {
    pub original: &'a str,
    pub lower: String,
}

impl<'a> Haystack<'a> {
    pub fn new(original: &'a str) -> Self {
        Self { original, lower: original.to_lowercase() }
    }

    pub fn cut(&self, (start, end): (usize, usize)) -> String {
        if self.original.len() == self.lower.len()
            && self.original.is_char_boundary(start)
            && self.original.is_char_boundary(end)
        {
            self.original[start..end].to_owned()
        } else {
            self.lower[start..end].to_owned()
        }
    }
}

/// The keyword-preset trigger's lists (Discord's presets 1, 2 and 3). They
/// are short on purpose: the common English words of each kind, written
/// with wildcards so inflections match. docs/MODERATION.md lists them.
pub fn preset(kind: u8) -> &'static [&'static str] {
    match kind {
        1 => PROFANITY,
        2 => SEXUAL_CONTENT,
        3 => SLURS,
        _ => &[],
    }
}

const PROFANITY: &[&str] = &[
    "fuck*",
    "*fucker",
    "*fucking",
    "motherfuck*",
    "shit",
    "shits",
    "shitty",
    "bullshit",
    "bitch",
    "bitches",
    "bitchy",
    "asshole*",
    "bastard*",
    "cunt*",
    "dickhead*",
    "wanker*",
    "twat*",
    "bollocks",
    "piss off",
    "pissed off",
    "goddamn*",
    "dumbass*",
    "jackass*",
    "arsehole*",
];

const SEXUAL_CONTENT: &[&str] = &[
    "porn*",
    "nude",
    "nudes",
    "nsfw",
    "blowjob*",
    "handjob*",
    "dildo*",
    "horny",
    "hentai",
    "cumshot*",
    "jerk off",
    "jerking off",
    "sext*",
    "onlyfans",
    "camgirl*",
    "milf*",
    "xxx",
];

const SLURS: &[&str] = &[
    "nigger*",
    "faggot*",
    "fag",
    "fags",
    "retard",
    "retards",
    "retarded",
    "kike*",
    "spic",
    "spics",
    "chink*",
    "tranny",
    "trannies",
    "wetback*",
    "gook*",
    "raghead*",
    "towelhead*",
    "coon",
    "coons",
    "dyke*",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(keyword: &str, text: &str) -> Option<String> {
        let k = Keyword::new(keyword).unwrap();
        let h = Haystack::new(text);
        k.find(&h.lower, &[]).map(|s| h.cut(s))
    }

    #[test]
    fn wildcards_as_discord_defines_them() {
        assert_eq!(hit("cat", "the Cat sat"), Some("Cat".into()));
        assert_eq!(hit("cat", "catch"), None);
        assert_eq!(hit("cat*", "Catapult now"), Some("Catapult".into()));
        assert_eq!(hit("*cat", "a bobcat"), Some("bobcat".into()));
        assert_eq!(hit("*cat", "catch"), None);
        assert_eq!(hit("*cat*", "location"), Some("location".into()));
        assert_eq!(hit("ice cream", "I like ice cream!"), Some("ice cream".into()));
        assert_eq!(hit("cat", "cats catch a cat"), Some("cat".into()));
    }

    #[test]
    fn the_allow_list_excuses_whole_words() {
        let k = Keyword::new("*ass*").unwrap();
        let allow = [Keyword::new("class").unwrap(), Keyword::new("pass*").unwrap()];
        assert_eq!(k.find("first class passenger", &allow), None);
        assert!(k.find("first class ass", &allow).is_some());
    }

    #[test]
    fn skipping_a_long_word_misses_no_match() {
        // The run's last occurrence still counts when only it ends the word.
        assert_eq!(hit("*cat", "cacacat now"), Some("cacacat".into()));
        assert_eq!(hit("cat", "cacat cat"), Some("cat".into()));
        assert_eq!(hit("cat*", "xcatcat catcat"), Some("catcat".into()));
        let k = Keyword::new("*a*").unwrap();
        let allow = [Keyword::new("*aaaa*").unwrap()];
        assert_eq!(k.find("aaaaaaaa aaa", &allow), Some((9, 12)));
        assert_eq!(k.find(&"a".repeat(5000), &allow), None);
        // Multi-byte text: the run's last possible start may fall inside a character.
        assert_eq!(hit("*ab", "éééab"), Some("éééab".into()));
        assert_eq!(hit("*ab", "abéé"), None);
        assert_eq!(hit("*é", "aéaé"), Some("aéaé".into()));
    }

    #[test]
    fn odd_text_does_not_panic() {
        for text in ["", "*", "ß", "İstanbul cat", "😀cat😀", "cat\u{301}"] {
            for k in ["cat", "*", "**", "*a*", "ß*"] {
                if let Some(k) = Keyword::new(k) {
                    let h = Haystack::new(text);
                    if let Some(span) = k.find(&h.lower, &[]) {
                        let _ = h.cut(span);
                    }
                }
            }
        }
    }
}
