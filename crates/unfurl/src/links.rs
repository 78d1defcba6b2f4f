//! The links of a message that get previews, as Discord picks them: bare
//! `http://` and `https://` URLs, in order, each once; not those written
//! `<https://…>` (Discord's way of asking for no preview), nor those in
//! code (`` `…` `` and ```` ```…``` ````).

use url::Url;

/// Longest URL considered (Discord's embed URL limit).
const MAX_URL: usize = 2048;

/// The first `max` distinct links of `content` to preview.
pub fn links(content: &str, max: usize) -> Vec<Url> {
    let code = code_spans(content);
    let mut out: Vec<Url> = Vec::new();
    let bytes = content.as_bytes();
    let mut i = 0;
    while i < bytes.len() && out.len() < max {
        let rest = &content[i..];
        let scheme = if starts_with_ignore_case(rest, "https://") {
            8
        } else if starts_with_ignore_case(rest, "http://") {
            7
        } else {
            i += 1;
            while i < bytes.len() && !content.is_char_boundary(i) {
                i += 1;
            }
            continue;
        };
        let len = rest[scheme..]
            .find(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
            .map_or(rest.len(), |n| n + scheme);
        let start = i;
        i += len.max(scheme);
        // `<https://…>`: no preview, as Discord.
        if start > 0 && bytes[start - 1] == b'<' && bytes.get(start + len) == Some(&b'>') {
            continue;
        }
        // Part of a word (`xhttps://`) or inside code: not a link.
        if start > 0 && content[..start].chars().next_back().is_some_and(char::is_alphanumeric) {
            continue;
        }
        if code.iter().any(|&(a, b)| start >= a && start < b) {
            continue;
        }
        let candidate = trim_trailing(&rest[..len]);
        if candidate.len() <= scheme || candidate.len() > MAX_URL {
            continue;
        }
        let Ok(url) = Url::parse(candidate) else { continue };
        if url.host_str().is_none_or(str::is_empty) || !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Punctuation that ends a sentence rather than the URL; a closing
/// bracket only when the URL did not open it; spoiler bars.
fn trim_trailing(mut s: &str) -> &str {
    loop {
        let Some(last) = s.chars().next_back() else { return s };
        let drop = match last {
            '.' | ',' | ':' | ';' | '!' | '?' | '\'' | '*' | '_' | '~' | '|' => true,
            ')' => s.matches('(').count() < s.matches(')').count(),
            ']' => s.matches('[').count() < s.matches(']').count(),
            _ => false,
        };
        if !drop {
            return s;
        }
        s = &s[..s.len() - last.len_utf8()];
    }
}

/// Byte ranges of code: fenced blocks (```` ``` ````) first, then inline
/// spans (`` ` ``) outside them. An unclosed fence or tick is plain text.
fn code_spans(content: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(open) = content[i..].find("```").map(|n| n + i) {
        match content[open + 3..].find("```") {
            Some(n) => {
                let close = open + 3 + n + 3;
                spans.push((open, close));
                i = close;
            }
            None => break,
        }
    }
    let fenced = spans.clone();
    let mut i = 0;
    let bytes = content.as_bytes();
    while i < bytes.len() {
        if let Some(&(_, end)) = fenced.iter().find(|&&(a, _)| a == i) {
            i = end;
            continue;
        }
        if bytes[i] == b'`' {
            let inline_end = content[i + 1..].find('`').map(|n| i + 1 + n + 1);
            match inline_end {
                Some(end) if !fenced.iter().any(|&(a, b)| end > a && end <= b) => {
                    spans.push((i, end));
                    i = end;
                    continue;
                }
                _ => {}
            }
        }
        i += 1;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(content: &str) -> Vec<String> {
        links(content, 5).into_iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn bare_links_are_found_in_order_once_each() {
        assert_eq!(
            found("see https://a.example/x, and http://b.example/y?q=1. Again https://a.example/x!"),
            ["https://a.example/x", "http://b.example/y?q=1"]
        );
        assert_eq!(found("HTTPS://C.example/Path"), ["https://c.example/Path"]);
        assert_eq!(found("(https://wiki.example/A_(b))"), ["https://wiki.example/A_(b)"]);
        assert_eq!(found("[docs](https://d.example/)"), ["https://d.example/"]);
        assert_eq!(found("||https://spoiler.example/||"), ["https://spoiler.example/"]);
        assert_eq!(found("é https://ü.example/ç"), ["https://xn--tda.example/%C3%A7"]);
    }

    #[test]
    fn angle_brackets_code_and_non_links_are_skipped() {
        assert!(found("<https://quiet.example/>").is_empty());
        assert_eq!(found("<https://quiet.example/> https://loud.example/"), ["https://loud.example/"]);
        assert!(found("`https://code.example/` and ```\nhttps://block.example/\n```").is_empty());
        assert_eq!(found("``` https://block.example/ ``` `x` https://after.example/"), ["https://after.example/"]);
        assert!(found("ftp://f.example/ mailto:a@b.example javascript:alert(1) https:// http://").is_empty());
        assert!(found("xhttps://glued.example/").is_empty());
        assert_eq!(found("unclosed ` https://tick.example/"), ["https://tick.example/"]);
    }

    #[test]
    fn at_most_max_links_and_huge_input_is_fine() {
        let many: String = (0..20).map(|i| format!("https://h{i}.example/ ")).collect();
        assert_eq!(links(&many, 5).len(), 5);
        assert_eq!(links(&many, 2).len(), 2);
        let long = format!("https://x.example/{}", "a".repeat(5000));
        assert!(found(&long).is_empty(), "longer than Discord's URL limit");
        let noise = "h`<>ttp:/".repeat(10_000);
        assert!(found(&noise).is_empty());
    }
}
