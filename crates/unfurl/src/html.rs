//! What a page says about itself in its head: OpenGraph (`og:*`), Twitter
//! card (`twitter:*`) and plain `<meta>` tags, `<title>`, `theme-color`
//! and the JSON oEmbed link.
//!
//! A small scanner rather than an HTML parser: it reads tags and their
//! attributes up to `</head>` or `<body>`, skips comments, scripts and
//! styles, and builds no tree. Every step moves forward by at least one
//! byte and slices the text only at ASCII delimiters, so any input —
//! truncated, malformed, huge — is read in linear time without panicking.

/// Longest title kept (Discord's embed title limit).
pub const MAX_TITLE: usize = 256;
/// Longest description kept.
pub const MAX_DESCRIPTION: usize = 350;
/// Longest site name kept.
pub const MAX_NAME: usize = 256;
/// `<meta>` tags read at most.
const MAX_METAS: usize = 512;
/// Attributes read per tag at most.
const MAX_ATTRIBUTES: usize = 32;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub title: Option<String>,
    pub description: Option<String>,
    pub site_name: Option<String>,
    /// `og:url`, as written (not yet resolved against the page).
    pub url: Option<String>,
    /// `og:image` or `twitter:image`, as written.
    pub image: Option<String>,
    pub image_width: Option<u32>,
    pub image_height: Option<u32>,
    /// `og:type` (`article`, `website`, …).
    pub kind: Option<String>,
    /// `twitter:card` (`summary_large_image` shows the image large).
    pub twitter_card: Option<String>,
    /// `theme-color`, as an RGB number.
    pub color: Option<u32>,
    /// The href of `<link rel="alternate" type="application/json+oembed">`.
    pub oembed: Option<String>,
}

impl Metadata {
    /// Whether there is anything to show.
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.image.is_none() && self.site_name.is_none()
    }
}

/// Reads `html`'s head.
pub fn parse(html: &str) -> Metadata {
    let bytes = html.as_bytes();
    let mut metas: Vec<(String, String)> = Vec::new();
    let mut title = None;
    let mut oembed = None;
    let mut p = 0;
    while let Some(lt) = find_byte(bytes, p, b'<') {
        let rest = &bytes[lt..];
        if rest.starts_with(b"<!--") {
            p = find(bytes, lt + 4, b"-->").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            p = find_byte(bytes, lt + 2, b'>').map_or(bytes.len(), |e| e + 1);
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = lt + 1 + usize::from(closing);
        let name_end = name_start
            + bytes[name_start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
                .count();
        if name_end == name_start {
            p = lt + 1;
            continue;
        }
        let name = html[name_start..name_end].to_ascii_lowercase();
        if closing {
            if name == "head" {
                break;
            }
            p = find_byte(bytes, name_end, b'>').map_or(bytes.len(), |e| e + 1);
            continue;
        }
        let (attrs, end) = attributes(html, name_end);
        p = end;
        match name.as_str() {
            "body" => break,
            "meta" if metas.len() < MAX_METAS => {
                let key =
                    attr(&attrs, "property").or_else(|| attr(&attrs, "name")).or_else(|| attr(&attrs, "itemprop"));
                if let (Some(key), Some(content)) = (key, attr(&attrs, "content")) {
                    metas.push((key.trim().to_ascii_lowercase(), content.to_owned()));
                }
            }
            "link" if oembed.is_none() => {
                let rel = attr(&attrs, "rel").unwrap_or_default().to_ascii_lowercase();
                let kind = attr(&attrs, "type").unwrap_or_default().to_ascii_lowercase();
                if rel.split_ascii_whitespace().any(|r| r == "alternate") && kind.trim() == "application/json+oembed" {
                    oembed = attr(&attrs, "href").map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
                }
            }
            "title" => {
                let close = find_ignore_case(bytes, end, b"</title");
                if title.is_none() {
                    title = Some(decode(&html[end..close.unwrap_or(bytes.len())]));
                }
                p = close.unwrap_or(bytes.len());
            }
            "script" | "style" | "noscript" | "template" | "textarea" | "xmp" | "iframe" | "noembed" | "noframes" => {
                let mut needle = b"</".to_vec();
                needle.extend_from_slice(name.as_bytes());
                p = find_ignore_case(bytes, end, &needle).unwrap_or(bytes.len());
            }
            _ => {}
        }
    }
    let get = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            metas.iter().find(|(key, v)| key.as_str() == *k && !v.trim().is_empty()).map(|(_, v)| v.clone())
        })
    };
    let number = |keys: &[&str]| get(keys).and_then(|v| v.trim().parse::<u32>().ok()).filter(|n| *n > 0);
    let text = |v: Option<String>, max: usize| v.map(|v| clean(&v, max)).filter(|v| !v.is_empty());
    Metadata {
        title: text(get(&["og:title", "twitter:title"]).or(title), MAX_TITLE),
        description: text(get(&["og:description", "twitter:description", "description"]), MAX_DESCRIPTION),
        site_name: text(get(&["og:site_name", "application-name"]), MAX_NAME),
        url: get(&["og:url"]).map(|u| u.trim().to_owned()),
        image: get(&["og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"])
            .map(|u| u.trim().to_owned()),
        image_width: number(&["og:image:width"]),
        image_height: number(&["og:image:height"]),
        kind: get(&["og:type"]).map(|t| t.trim().to_ascii_lowercase()),
        twitter_card: get(&["twitter:card"]).map(|t| t.trim().to_ascii_lowercase()),
        color: get(&["theme-color"]).and_then(|c| color(&c)),
        oembed,
    }
}

/// The attributes of a tag whose name ends at `from`, entity-decoded,
/// names lowercased; and where the tag ends (after its `>`).
fn attributes(html: &str, from: usize) -> (Vec<(String, String)>, usize) {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        match bytes.get(i) {
            None => return (out, bytes.len()),
            Some(b'>') => return (out, i + 1),
            _ => {}
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if i == start {
            // A stray `=`: skip it.
            i += 1;
            continue;
        }
        let name = html[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            match bytes.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let end = find_byte(bytes, i + 1, q).unwrap_or(bytes.len());
                    value = decode(&html[i + 1..end]);
                    i = (end + 1).min(bytes.len());
                }
                _ => {
                    let s = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    value = decode(&html[s..i]);
                }
            }
        }
        if out.len() < MAX_ATTRIBUTES {
            out.push((name, value));
        }
    }
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn find_byte(hay: &[u8], from: usize, b: u8) -> Option<usize> {
    hay.get(from..)?.iter().position(|x| *x == b).map(|n| n + from)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|n| n + from)
}

fn find_ignore_case(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle)).map(|n| n + from)
}

/// HTML character references: the common named ones and numeric ones;
/// anything else stays as written.
pub fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let semi = rest.as_bytes().iter().take(12).position(|b| *b == b';');
        let decoded = semi.and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let n = match name.strip_prefix('#') {
                        Some(h) if h.starts_with(['x', 'X']) => u32::from_str_radix(&h[1..], 16).ok(),
                        Some(d) => d.parse::<u32>().ok(),
                        None => None,
                    };
                    n.map(|n| char::from_u32(n).filter(|c| *c != '\0').unwrap_or('\u{fffd}'))
                }
            };
            c.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text as shown: whitespace runs as one space, no control characters,
/// at most `max` characters.
fn clean(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if n > 0 {
            out.push(' ');
            n += 1;
        }
        for c in word.chars() {
            if n >= max {
                return out.trim_end().to_owned();
            }
            out.push(c);
            n += 1;
        }
    }
    out
}

/// `#rrggbb` or `#rgb` as a number.
fn color(s: &str) -> Option<u32> {
    let hex = s.trim().strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        6 => u32::from_str_radix(hex, 16).ok(),
        3 => {
            let n = u32::from_str_radix(hex, 16).ok()?;
            let (r, g, b) = ((n >> 8) & 0xf, (n >> 4) & 0xf, n & 0xf);
            Some(((r * 17) << 16) | ((g * 17) << 8) | (b * 17))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opengraph_wins_over_twitter_and_plain_tags() {
        let m = parse(
            r##"<!doctype html><html><head>
            <title>Plain &amp; simple</title>
            <meta name="description" content="plain description">
            <meta property="og:title" content="OG &quot;title&quot;">
            <meta name="twitter:title" content="Twitter title">
            <meta property="og:description" content="OG   description
               over lines">
            <meta property="og:site_name" content="Example Site">
            <meta property="og:url" content="https://example.com/canonical">
            <meta property="og:image" content="/img/a.png">
            <meta property="og:image" content="/img/second.png">
            <meta property="og:image:width" content="640"><meta property="og:image:height" content="480">
            <meta property="og:type" content="Article">
            <meta name="twitter:card" content="summary_large_image">
            <meta name="theme-color" content="#FF8800">
            <link rel="alternate" type="application/json+oembed" href="/oembed?u=1">
            </head><body><meta property="og:title" content="in the body"></body></html>"##,
        );
        assert_eq!(m.title.as_deref(), Some("OG \"title\""));
        assert_eq!(m.description.as_deref(), Some("OG description over lines"));
        assert_eq!(m.site_name.as_deref(), Some("Example Site"));
        assert_eq!(m.url.as_deref(), Some("https://example.com/canonical"));
        assert_eq!(m.image.as_deref(), Some("/img/a.png"), "the first image");
        assert_eq!((m.image_width, m.image_height), (Some(640), Some(480)));
        assert_eq!(m.kind.as_deref(), Some("article"));
        assert_eq!(m.twitter_card.as_deref(), Some("summary_large_image"));
        assert_eq!(m.color, Some(0xFF8800));
        assert_eq!(m.oembed.as_deref(), Some("/oembed?u=1"));
    }

    #[test]
    fn fallbacks_when_opengraph_is_missing() {
        let m = parse(
            "<HEAD><TITLE>\n  Just a   title </TITLE><META NAME=description CONTENT=unquoted>\
             <meta name='twitter:image' content='https://i.example/t.jpg'><meta name=theme-color content=#abc></HEAD>",
        );
        assert_eq!(m.title.as_deref(), Some("Just a title"));
        assert_eq!(m.description.as_deref(), Some("unquoted"));
        assert_eq!(m.image.as_deref(), Some("https://i.example/t.jpg"));
        assert_eq!(m.color, Some(0xAABBCC));
        assert_eq!(m.site_name, None);
        let twitter = parse(r#"<meta name="twitter:title" content="T"><meta name="twitter:description" content="D">"#);
        assert_eq!((twitter.title.as_deref(), twitter.description.as_deref()), (Some("T"), Some("D")));
    }

    #[test]
    fn comments_scripts_and_styles_hide_their_tags() {
        let m = parse(
            r#"<head><!-- <meta property="og:title" content="commented"> -->
            <script>var s = '<meta property="og:title" content="scripted">';</script>
            <style>/* <title>styled</title> */</style>
            <meta property="og:title" content="real"></head>"#,
        );
        assert_eq!(m.title.as_deref(), Some("real"));
    }

    #[test]
    fn hostile_input_neither_panics_nor_invents() {
        for s in [
            "",
            "<",
            "<<<<",
            "<meta",
            "<meta ",
            "<meta property=",
            "<meta property=\"og:title",
            "<meta property='og:title' content='unterminated",
            "<title>no end",
            "<!--",
            "<!",
            "</",
            "<script>",
            "<meta ==== / / / >",
            "<meta property=og:title content=\"&#0;&#x110000;&#xD800;&#99999999999;&bogus;&\">",
            "\u{0}\u{1}<\u{ff}meta>",
            "<méta property=og:title content=x>",
            "<meta content=\"é\" property=\"og:title\"/>",
        ] {
            let _ = parse(s);
        }
        let m = parse("<meta property=og:title content=\"a&#0;b&#x110000;c&#xD800;d&bogus;e&\">");
        assert_eq!(m.title.as_deref(), Some("a\u{fffd}b\u{fffd}c\u{fffd}d&bogus;e&"));
        assert_eq!(parse("<meta content=\"é\" property=\"og:title\"/>").title.as_deref(), Some("é"));
        assert!(parse("<html><body>no head at all</body></html>").is_empty());
        assert!(parse("<meta property=\"og:title\" content=\"   \">").title.is_none(), "blank is nothing");
        assert_eq!(parse("<meta name=theme-color content=red>").color, None);
        assert_eq!(parse("<meta property=og:image:width content=-5>").image_width, None);
    }

    #[test]
    fn huge_input_is_read_in_linear_time_and_capped() {
        // A megabyte of unclosed tags and attributes.
        let huge = "<a b=c ".repeat(150_000);
        let start = std::time::Instant::now();
        let _ = parse(&huge);
        let opens = "<".repeat(1_000_000);
        let _ = parse(&opens);
        let comments = "<!-".repeat(300_000);
        let _ = parse(&comments);
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "took {:?}", start.elapsed());
        let long =
            format!("<title>{}</title><meta name=description content=\"{}\">", "t".repeat(10_000), "d ".repeat(5000));
        let m = parse(&long);
        assert_eq!(m.title.unwrap().chars().count(), MAX_TITLE);
        assert!(m.description.unwrap().chars().count() <= MAX_DESCRIPTION);
        let many: String = (0..2000).map(|i| format!("<meta name=k{i} content=v>")).collect();
        let m = parse(&format!("{many}<meta property=og:title content=late>"));
        assert_eq!(m.title, None, "metas past the cap are not read");
    }
}
