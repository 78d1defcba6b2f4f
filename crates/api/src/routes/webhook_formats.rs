//! Payloads of other services posted to a webhook: GitHub's events
//! (`/github`) and Slack's incoming-webhook messages (`/slack`), turned
//! into the message body a webhook posts (content and embeds), then checked
//! like any other message.

use serde_json::{json, Value};

use crate::{ApiError, ApiResult};
use domain::messages::Draft;
use domain::webhooks::Overrides;

/// GitHub's blurple, as Discord renders GitHub events.
const GITHUB_COLOR: u32 = 0x7289da;
const OPENED_COLOR: u32 = 0x009800;
const CLOSED_COLOR: u32 = 0xcb2431;
/// Commits listed in a push embed at most (Discord shows five).
const MAX_COMMITS: usize = 5;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or_default()
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn author(payload: &Value) -> Value {
    json!({
        "name": cut(s(payload, &["sender", "login"]), 256),
        "url": s(payload, &["sender", "html_url"]),
        "icon_url": s(payload, &["sender", "avatar_url"]),
    })
}

fn draft(embed: Value) -> Option<Draft> {
    serde_json::from_value(json!({ "embeds": [embed] })).ok()
}

/// The message for a GitHub event, or `None` for an event not rendered
/// (`ping`, anything unknown), which is accepted and posts nothing.
pub fn github(event: &str, payload: &Value) -> Option<Draft> {
    let repo = s(payload, &["repository", "full_name"]);
    match event {
        "push" => {
            let commits = payload.get("commits").and_then(Value::as_array)?;
            if commits.is_empty() {
                return None;
            }
            let branch = s(payload, &["ref"]).trim_start_matches("refs/heads/");
            let n = commits.len();
            let title = format!("[{repo}:{branch}] {n} new commit{}", if n == 1 { "" } else { "s" });
            let lines: Vec<String> = commits
                .iter()
                .take(MAX_COMMITS)
                .map(|c| {
                    let id: String = s(c, &["id"]).chars().take(7).collect();
                    let message = s(c, &["message"]).lines().next().unwrap_or_default();
                    let who = match s(c, &["author", "username"]) {
                        "" => s(c, &["author", "name"]),
                        name => name,
                    };
                    format!("[`{id}`]({}) {} - {}", s(c, &["url"]), cut(message, 50), who)
                })
                .collect();
            draft(json!({
                "title": cut(&title, 256),
                "url": s(payload, &["compare"]),
                "description": cut(&lines.join("\n"), 4096),
                "color": GITHUB_COLOR,
                "author": author(payload),
            }))
        }
        "pull_request" | "issues" => {
            let (item, noun) = if event == "issues" {
                (payload.get("issue")?, "Issue")
            } else {
                (payload.get("pull_request")?, "Pull request")
            };
            let action = s(payload, &["action"]);
            let number = item.get("number").and_then(Value::as_u64).unwrap_or(0);
            let title = format!("[{repo}] {noun} {action}: #{number} {}", s(item, &["title"]));
            let color = match action {
                "opened" | "reopened" => OPENED_COLOR,
                "closed" => CLOSED_COLOR,
                _ => GITHUB_COLOR,
            };
            let mut embed = json!({
                "title": cut(&title, 256),
                "url": s(item, &["html_url"]),
                "color": color,
                "author": author(payload),
            });
            let body = s(item, &["body"]);
            if action == "opened" && !body.trim().is_empty() {
                embed["description"] = json!(cut(body, 500));
            }
            draft(embed)
        }
        _ => None,
    }
}

/// Slack's `<url|label>` and `<url>` links as Markdown.
fn slack_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) => {
                let inner = &after[..end];
                match inner.split_once('|') {
                    Some((url, label)) if url.starts_with("http") => out.push_str(&format!("[{label}]({url})")),
                    _ if inner.starts_with("http") => out.push_str(inner),
                    _ => out.push_str(&rest[start..start + end + 2]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn slack_color(c: &str) -> Option<u32> {
    match c {
        "good" => Some(0x2eb886),
        "warning" => Some(0xdaa038),
        "danger" => Some(0xa30200),
        hex => u32::from_str_radix(hex.trim_start_matches('#'), 16).ok().filter(|n| *n <= 0xffffff),
    }
}

/// A Slack message: `text` as the content, each attachment as an embed,
/// `username` and `icon_url` as the overrides.
pub fn slack(payload: &Value) -> ApiResult<(Draft, Overrides)> {
    let opt = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
    let mut embeds = Vec::new();
    for a in payload.get("attachments").and_then(Value::as_array).into_iter().flatten().take(10) {
        let mut e = json!({});
        if let Some(t) = opt(a, "title") {
            e["title"] = json!(t);
        }
        if let Some(u) = opt(a, "title_link") {
            e["url"] = json!(u);
        }
        if let Some(t) = opt(a, "text").or_else(|| opt(a, "pretext")) {
            e["description"] = json!(slack_links(&t));
        }
        if let Some(c) = opt(a, "color").and_then(|c| slack_color(&c)) {
            e["color"] = json!(c);
        }
        if let Some(n) = opt(a, "author_name") {
            e["author"] = json!({"name": n, "url": opt(a, "author_link"), "icon_url": opt(a, "author_icon")});
        }
        if let Some(u) = opt(a, "image_url") {
            e["image"] = json!({"url": u});
        }
        if let Some(u) = opt(a, "thumb_url") {
            e["thumbnail"] = json!({"url": u});
        }
        if let Some(f) = opt(a, "footer") {
            e["footer"] = json!({"text": f, "icon_url": opt(a, "footer_icon")});
        }
        let fields: Vec<Value> = a
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|f| {
                json!({
                    "name": opt(f, "title").unwrap_or_else(|| "\u{200b}".into()),
                    "value": opt(f, "value").map(|v| slack_links(&v)).unwrap_or_else(|| "\u{200b}".into()),
                    "inline": f.get("short").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect();
        if !fields.is_empty() {
            e["fields"] = json!(fields);
        }
        if e.as_object().is_some_and(|o| !o.is_empty()) {
            embeds.push(e);
        }
    }
    let content = opt(payload, "text").map(|t| slack_links(&t)).unwrap_or_default();
    let body = json!({ "content": content, "embeds": embeds });
    let draft: Draft = serde_json::from_value(body).map_err(ApiError::internal)?;
    let overrides = Overrides { username: opt(payload, "username"), avatar_url: opt(payload, "icon_url") };
    Ok((draft, overrides))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_links_become_markdown() {
        assert_eq!(slack_links("see <https://a.example/x|the page> now"), "see [the page](https://a.example/x) now");
        assert_eq!(slack_links("<https://a.example>"), "https://a.example");
        assert_eq!(slack_links("<@U123> hi <b"), "<@U123> hi <b");
    }

    #[test]
    fn a_push_names_its_commits_and_a_ping_posts_nothing() {
        let push = json!({
            "ref": "refs/heads/main", "compare": "https://github.com/o/r/compare/a...b",
            "repository": {"full_name": "o/r"}, "sender": {"login": "octo"},
            "commits": [{"id": "0123456789abcdef", "message": "Fix it\n\nlong body", "url": "https://github.com/o/r/commit/0123456",
                         "author": {"name": "Octo Cat", "username": "octo"}}]
        });
        let d = github("push", &push).unwrap();
        let e = serde_json::to_value(d.embeds.as_ref().unwrap().len()).unwrap();
        assert_eq!(e, json!(1));
        assert!(github("ping", &json!({"zen": "x"})).is_none());
        assert!(github("push", &json!({"commits": []})).is_none());
    }

    #[test]
    fn slack_colors() {
        assert_eq!(slack_color("#36a64f"), Some(0x36a64f));
        assert_eq!(slack_color("danger"), Some(0xa30200));
        assert_eq!(slack_color("nope"), None);
    }
}
