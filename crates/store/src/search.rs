//! Message search: the `SearchIndex` trait and its SQL implementation.
//!
//! The index lives in the database next to the messages (an FTS5 table kept
//! by triggers on SQLite, a generated `tsvector` column on PostgreSQL; see
//! the `0006_search` migrations), so it changes in the same statement as the
//! message and cannot drift from it. That is why the trait only asks: an
//! index held elsewhere would add methods to feed it.

use async_trait::async_trait;
use sqlx::Row;

use crate::messages::{message_row, COLUMNS};
use crate::sql::{Backend, SqlStore};
use crate::users::placeholders;
use crate::{to_db, ChannelId, MessageId, MessageRow, Result, RoleId, UserId};

/// What to look for. Every filter given must hold; a list filter holds when
/// any of its values does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The channels to search: the caller has already narrowed them to those
    /// they may read. Empty finds nothing.
    pub channels: Vec<ChannelId>,
    /// Words that must all occur, whole and case-insensitively.
    pub content: Option<String>,
    pub authors: Vec<UserId>,
    /// `Some(true)` for bots only, `Some(false)` for people only.
    pub author_is_bot: Option<bool>,
    pub mentions: Vec<UserId>,
    pub mention_roles: Vec<RoleId>,
    pub mention_everyone: Option<bool>,
    pub pinned: Option<bool>,
    /// `Some(true)`: contains an http(s) link; `Some(false)`: contains none.
    pub has_link: Option<bool>,
    /// Only messages with an id above this (Discord's `min_id`).
    pub min_id: Option<MessageId>,
    /// Only messages with an id below this (`max_id`).
    pub max_id: Option<MessageId>,
    pub oldest_first: bool,
    pub limit: u32,
    pub offset: u32,
}

/// One page of hits and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub total: u64,
    pub messages: Vec<MessageRow>,
}

#[async_trait]
pub trait SearchIndex: Send + Sync {
    async fn search_messages(&self, query: &SearchQuery) -> Result<SearchPage>;
}

/// The text as an FTS5 query that cannot be read as syntax: every
/// whitespace-separated piece becomes a quoted phrase (quotes doubled), so
/// `AND`, `NEAR(`, `*`, `-` and stray quotes are only words or punctuation.
/// The pieces must all match; a piece the tokenizer reduces to nothing is
/// ignored by FTS5. `None` when no piece holds a word character.
fn fts5_query(text: &str) -> Option<String> {
    let phrases: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '\0')
        .filter(|piece| piece.chars().any(char::is_alphanumeric))
        .map(|piece| format!("\"{}\"", piece.replace('"', "\"\"")))
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" "))
}

/// A condition on a JSON list of ids (`[1,2,3]`) holding any of `ids`:
/// brackets become commas, so each id is matched whole as `,id,`.
fn any_in_json_list<M>(column: &str, ids: &[model::Id<M>], args: &mut Args) -> String {
    let tests: Vec<String> = ids
        .iter()
        .map(|id| {
            let n = args.push_text(format!("%,{},%", id.get()));
            format!("REPLACE(REPLACE({column}, '[', ','), ']', ',') LIKE {n}")
        })
        .collect();
    format!("({})", tests.join(" OR "))
}

/// Bind values in order, numbered as `$n` placeholders.
#[derive(Default)]
struct Args {
    values: Vec<Arg>,
}

enum Arg {
    Int(i64),
    Text(String),
}

impl Args {
    fn push_int(&mut self, v: i64) -> String {
        self.values.push(Arg::Int(v));
        format!("${}", self.values.len())
    }
    fn push_text(&mut self, v: String) -> String {
        self.values.push(Arg::Text(v));
        format!("${}", self.values.len())
    }
    fn ints(&mut self, vs: impl IntoIterator<Item = i64>) -> String {
        let start = self.values.len() + 1;
        let before = self.values.len();
        self.values.extend(vs.into_iter().map(Arg::Int));
        placeholders(start, self.values.len() - before)
    }
    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for v in &self.values {
            q = match v {
                Arg::Int(n) => q.bind(*n),
                Arg::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }
}

#[async_trait]
impl SearchIndex for SqlStore {
    async fn search_messages(&self, query: &SearchQuery) -> Result<SearchPage> {
        let empty = SearchPage { total: 0, messages: Vec::new() };
        if query.channels.is_empty() {
            return Ok(empty);
        }
        let mut args = Args::default();
        let mut conds = vec![format!("channel_id IN ({})", args.ints(query.channels.iter().map(|c| to_db(*c))))];
        if let Some(text) = &query.content {
            // The one place the SQL differs by dialect: how a full-text
            // index is asked.
            match self.backend() {
                Backend::Sqlite => {
                    let Some(fts) = fts5_query(text) else { return Ok(empty) };
                    let n = args.push_text(fts);
                    conds.push(format!("id IN (SELECT rowid FROM message_search WHERE message_search MATCH {n})"));
                }
                Backend::Postgres => {
                    let n = args.push_text(text.replace('\0', " "));
                    conds.push(format!("search @@ plainto_tsquery('simple', {n})"));
                }
            }
        }
        if !query.authors.is_empty() {
            conds.push(format!("author_id IN ({})", args.ints(query.authors.iter().map(|u| to_db(*u)))));
        }
        if let Some(bot) = query.author_is_bot {
            let n = args.push_int(i64::from(bot));
            conds.push(format!("author_id IN (SELECT id FROM users WHERE bot = {n})"));
        }
        if !query.mentions.is_empty() {
            conds.push(any_in_json_list("mentions", &query.mentions, &mut args));
        }
        if !query.mention_roles.is_empty() {
            conds.push(any_in_json_list("mention_roles", &query.mention_roles, &mut args));
        }
        if let Some(everyone) = query.mention_everyone {
            let n = args.push_int(i64::from(everyone));
            conds.push(format!("mention_everyone = {n}"));
        }
        if let Some(pinned) = query.pinned {
            conds.push(if pinned { "pinned_at IS NOT NULL" } else { "pinned_at IS NULL" }.to_owned());
        }
        if let Some(link) = query.has_link {
            let test = "(LOWER(content) LIKE '%http://%' OR LOWER(content) LIKE '%https://%')";
            conds.push(if link { test.to_owned() } else { format!("NOT {test}") });
        }
        if let Some(min) = query.min_id {
            let n = args.push_int(to_db(min));
            conds.push(format!("id > {n}"));
        }
        if let Some(max) = query.max_id {
            let n = args.push_int(to_db(max));
            conds.push(format!("id < {n}"));
        }
        let filter = conds.join(" AND ");

        let count_sql = format!("SELECT COUNT(*) AS n FROM messages WHERE {filter}");
        let total = args.bind(sqlx::query(&count_sql)).fetch_one(&self.reader).await?.try_get::<i64, _>("n")?;
        if total == 0 {
            return Ok(empty);
        }
        let order = if query.oldest_first { "ASC" } else { "DESC" };
        let limit = args.push_int(i64::from(query.limit));
        let offset = args.push_int(i64::from(query.offset));
        let page_sql =
            format!("SELECT {COLUMNS} FROM messages WHERE {filter} ORDER BY id {order} LIMIT {limit} OFFSET {offset}");
        let rows = args.bind(sqlx::query(&page_sql)).fetch_all(&self.reader).await?;
        Ok(SearchPage { total: total as u64, messages: rows.iter().map(message_row).collect::<Result<_>>()? })
    }
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn fts5_queries_are_quoted_phrases() {
        assert_eq!(fts5_query("hello World").as_deref(), Some(r#""hello" "World""#));
        assert_eq!(fts5_query(r#"say "hi NEAR(a b) x*"#).as_deref(), Some(r#""say" """hi" "NEAR(a" "b)" "x*""#));
        assert_eq!(fts5_query("- * \" ( )"), None);
        assert_eq!(fts5_query(""), None);
        assert_eq!(fts5_query("a\0b").as_deref(), Some(r#""a" "b""#));
    }
}
