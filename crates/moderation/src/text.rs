//! Low-level text helpers shared by the canonical normalisation
//! (`canonical`) and the feature extractor (`features`): HTML entities,
//! markup (HTML tags, Discord's `<@id>`, `<#id>`, `<:emoji:id>`), link and
//! e-mail shapes, and the per-token de-obfuscation.

/// Decodes HTML entities, turns markup (HTML tags, Discord's `<@id>`,
/// `<#id>`, `<:emoji:id>`) into plain tokens, and drops zero-width
/// characters (used to split words so filters miss them).
pub(crate) fn clean_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        match c {
            '&' => {
                if let Some((decoded, len)) = entity(&text[i..]) {
                    out.push(decoded);
                    i += len;
                    continue;
                }
                out.push('&');
            }
            '<' => {
                let window = &bytes[i + 1..text.len().min(i + 1 + 512)];
                if let Some(end) = window.iter().position(|&b| b == b'>') {
                    let inner = &text[i + 1..i + 1 + end];
                    if let Some(token) = markup(inner) {
                        out.push(' ');
                        out.push_str(token);
                        out.push(' ');
                        i += end + 2;
                        continue;
                    }
                }
                out.push('<');
            }
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        i += c.len_utf8();
    }
    out
}

/// What a `<...>` stands for, or None when it is not markup.
pub(crate) fn markup(inner: &str) -> Option<&'static str> {
    let first = inner.chars().next()?;
    if first == '@' {
        return Some("@user");
    }
    if first == '#' || first == ':' || inner.starts_with("a:") || first == '/' || first == '!' {
        return Some("");
    }
    if first.is_ascii_alphabetic() {
        let lower = inner.to_ascii_lowercase();
        if lower.starts_with("http") {
            // An autolink `<https://…>`.
            return Some("http://link");
        }
        if lower.contains("href=") && (lower.contains("http") || lower.contains("www.")) {
            return Some("http://link");
        }
        // A tag: its name then nothing or attributes.
        let name_end = inner.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(inner.len());
        let rest = &inner[name_end..];
        if rest.is_empty() || rest.starts_with(' ') || rest.starts_with('/') {
            return Some("");
        }
    }
    None
}

pub(crate) fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.as_bytes().iter().take(12).position(|&b| b == b';')?;
    let name = &s[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

const TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "co", "uk", "ly", "me", "tv", "io", "gg", "us", "ru", "de", "fm", "to", "tk",
    "be", "in", "xyz", "gl", "cc", "ws",
];

pub(crate) fn is_url(t: &str) -> bool {
    if t.starts_with("http://") || t.starts_with("https://") || t.starts_with("www.") {
        return true;
    }
    let host = t.split('/').next().unwrap_or("");
    match host.rsplit_once('.') {
        Some((name, tld)) => {
            !name.is_empty() && name.chars().any(|c| c.is_alphabetic()) && !name.contains('@') && TLDS.contains(&tld)
        }
        None => false,
    }
}

pub(crate) fn is_email(t: &str) -> bool {
    match t.split_once('@') {
        Some((user, domain)) => !user.is_empty() && domain.contains('.') && !domain.starts_with('.'),
        None => false,
    }
}

/// Lower-cased token → normalised characters: look-alike digits and symbols
/// inside words become letters ("b1tch", "$hit", "sh!t"), other digits
/// become `0` (a phone number's shape matters, not its digits), and runs of
/// more than two of the same character shrink to two ("fuuuuck", "!!!!!").
pub(crate) fn normalise_token(t: &str) -> Vec<char> {
    let chars: Vec<char> = t.chars().collect();
    let letters = chars.iter().filter(|c| c.is_alphabetic()).count();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let mut n = c;
        if letters >= 2 && i + 1 < chars.len() {
            let prev_letter = i > 0 && chars[i - 1].is_alphabetic();
            let next_letter = chars[i + 1].is_alphabetic();
            let leet = match c {
                '0' => Some('o'),
                '1' | '!' => Some('i'),
                '3' => Some('e'),
                '4' | '@' => Some('a'),
                '5' | '$' => Some('s'),
                '7' => Some('t'),
                '*' => Some('*'),
                _ => None,
            };
            if let Some(l) = leet {
                // '!' and '*' stand in for a letter only between two letters.
                let inside = prev_letter && next_letter;
                if inside || (c != '!' && c != '*' && (prev_letter || next_letter)) {
                    n = l;
                }
            }
        }
        let digit = n.is_ascii_digit();
        if digit {
            n = '0';
        }
        let len = out.len();
        // Runs of digits keep their length: it tells a phone number from a year.
        if !digit && len >= 2 && out[len - 1] == n && out[len - 2] == n {
            continue;
        }
        out.push(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalise_token(s).into_iter().collect()
    }

    #[test]
    fn tokens_are_normalised() {
        assert_eq!(norm("b1tch"), "bitch");
        assert_eq!(norm("$hit"), "shit");
        assert_eq!(norm("sh!t"), "shit");
        assert_eq!(norm("fuuuuuck"), "fuuck");
        assert_eq!(norm("hi!!!!!"), "hi!!");
        assert_eq!(norm("08452810075"), "00000000000");
        assert_eq!(norm("f*ck"), "f*ck");
    }

    #[test]
    fn markup_and_entities_are_cleaned() {
        assert_eq!(clean_markup("a &amp; b &#128514; &lt;3 &bogus;"), "a & b 😂 <3 &bogus;");
        assert_eq!(
            clean_markup("hi <@123> see <a href=\"http://x.com\">x</a><br />"),
            "hi  @user  see  http://link x    "
        );
        assert_eq!(clean_markup("f\u{200B}uck\u{FEFF}"), "fuck");
        assert_eq!(clean_markup("1 < 2 > 0"), "1 < 2 > 0");
        assert_eq!(clean_markup("a\r\nb\0c"), "a  b c");
    }
}
