//! The layering of docs/ARCHITECTURE.md, read from the sources: which
//! crates may depend on which, and no circle of module imports inside a
//! crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The crates a crate's `[dependencies]` (not dev or build) name.
fn dependencies(krate: &str) -> BTreeSet<String> {
    let toml = std::fs::read_to_string(crates_dir().join(krate).join("Cargo.toml")).unwrap();
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['.', '=', ' ']).next().unwrap().trim();
            deps.insert(name.to_owned());
        }
    }
    deps
}

#[test]
fn transports_sit_on_the_domain_and_never_on_each_other() {
    let api = dependencies("api");
    let gateway = dependencies("gateway");
    assert!(!api.contains("gateway"), "api depends on gateway: {api:?}");
    assert!(!gateway.contains("api"), "gateway depends on api: {gateway:?}");
    assert!(api.contains("domain") && gateway.contains("domain"));
    let voice = dependencies("voice");
    assert!(voice.contains("domain"), "voice sits on the domain: {voice:?}");
    for other in ["api", "gateway", "server", "webclient"] {
        assert!(!voice.contains(other), "voice depends on the transport {other}");
        assert!(!dependencies(other).contains("voice") || other == "server", "{other} depends on voice");
    }
    let domain = dependencies("domain");
    for transport in ["api", "gateway", "server", "webclient", "voice"] {
        assert!(!domain.contains(transport), "domain depends on the transport {transport}");
    }
    for below in
        ["model", "store", "events", "permissions", "moderation", "ratelimit", "telemetry", "auth", "media", "unfurl"]
    {
        let deps = dependencies(below);
        for above in ["domain", "api", "gateway", "server", "voice"] {
            assert!(!deps.contains(above), "{below} depends on {above}, which sits above it");
        }
    }
}

/// A source file's module path inside its crate (`a::b`; "" for the root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !matches!(*p, "mod" | "lib" | "main")).collect();
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::…` paths a file names, in `use` lines (groups included) and
/// inline, as their leading segments.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        // `$crate::` in macros names the defining crate's root.
        if text[..at].ends_with('$') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segs: Vec<String> = item.trim().split("::").map(ident).filter(|s| !s.is_empty()).collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        } else {
            let mut segs = Vec::new();
            let mut rest = rest;
            loop {
                let seg = ident(rest);
                if seg.is_empty() {
                    break;
                }
                rest = &rest[seg.len()..];
                segs.push(seg);
                match rest.strip_prefix("::") {
                    Some(r) if !r.starts_with('{') => rest = r,
                    _ => break,
                }
            }
            out.push(segs);
        }
    }
    out
}

/// A circle of modules that import each other, if the graph has one.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// Modules of one crate never import each other in a circle (a parent and
/// its own child modules aside: a parent declares its children). Two
/// modules that need each other are one idea, or share a third below them.
#[test]
fn no_module_imports_form_a_circle() {
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
        let related = |a: &str, b: &str| {
            a.is_empty()
                || b.is_empty()
                || a == b
                || a.starts_with(&format!("{b}::"))
                || b.starts_with(&format!("{a}::"))
        };
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let from = module_of(&src, file);
            let text = std::fs::read_to_string(file).unwrap();
            for segs in crate_paths(&text) {
                // The longest module the path names.
                let to = (1..=segs.len())
                    .rev()
                    .map(|n| segs[..n].join("::"))
                    .find(|m| modules.contains(m))
                    .unwrap_or_default();
                if !related(&from, &to) {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        if let Some(circle) = find_circle(&edges) {
            circles.push(format!("{}: {}", src.parent().unwrap().display(), circle.join(" → ")));
        }
    }
    assert!(circles.is_empty(), "module import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_circle_finder_finds_circles() {
    let paths = crate_paths("use crate::{access, render::Viewer};\nlet x = crate::publish::Place::Dm;");
    assert_eq!(paths, [vec!["access"], vec!["render", "Viewer"], vec!["publish", "Place", "Dm"]]);
    let edges = |pairs: &[(&str, &str)]| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            m.entry(a.to_string()).or_default().insert(b.to_string());
        }
        m
    };
    assert_eq!(
        find_circle(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(find_circle(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
}
