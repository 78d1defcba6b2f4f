//! Message search: the `SearchIndex` trait and its SQL implementation.
//!
//! The index lives in the database next to the messages (an FTS5 table kept
//! by triggers on SQLite, a generated `tsvector` column on PostgreSQL; see
//! the `0006_search` migrations), so it changes in the same statement as the
//! message and cannot drift from it. That is why the trait only asks: an
//! index held elsewhere would add methods to feed it.

use std::time::Instant;

use async_trait::async_trait;
use sqlx::{Database, Row};

use crate::messages::{message_row, COLUMNS};
use crate::sql::{placeholders, Backend, SqlStore};
use crate::{to_db, ChannelId, MessageId, MessageRow, Result, RoleId, StoreError, UserId};

/// What to look for. Every filter given must hold; a list filter holds when
/// any of its values does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The channels to search: the caller has already narrowed them to those
    /// they may read. Empty finds nothing.
    pub channels: Vec<ChannelId>,
    /// Words that must all occur, whole and case-insensitively: each a run
    /// of letters and digits, as [`words`] cuts them. Empty: no condition.
    pub words: Vec<String>,
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

/// The words of `text` as the index holds them: runs of letters and
/// digits, lower-cased; everything else separates words. Both indexes cut
/// text this way (SQLite's `unicode61` tokenizer; on PostgreSQL the
/// `search` column replaces punctuation with spaces first, so that the
/// words of a link, `https://example.com/some-page`, are words there too),
/// so a word is found alike on both. Repeats are dropped: they change
/// nothing but the cost.
pub fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// The words as an FTS5 query that cannot be read as syntax: each a quoted
/// phrase (they hold letters and digits only), all of which must match.
fn fts5_query(words: &[String]) -> String {
    words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
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
#[derive(Default, Clone)]
struct Args {
    values: Vec<Arg>,
}

#[derive(Clone)]
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
    fn bind<'q, DB: Database>(
        &'q self,
        mut q: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    ) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
    where
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        for v in &self.values {
            q = match v {
                Arg::Int(n) => q.bind(*n),
                Arg::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }
}

/// Whether the database stopped a statement for running over its budget.
fn over_budget(e: &sqlx::Error) -> bool {
    match e {
        // PostgreSQL's query_canceled; SQLite's SQLITE_INTERRUPT.
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("57014") | Some("9")) || db.message().contains("interrupted")
        }
        _ => false,
    }
}

fn budget_error(e: sqlx::Error) -> StoreError {
    if over_budget(&e) {
        StoreError::OverBudget
    } else {
        StoreError::Backend(e)
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
        if !query.words.is_empty() {
            // The one place the SQL differs by dialect: how a full-text
            // index is asked.
            match self.backend() {
                Backend::Sqlite => {
                    let n = args.push_text(fts5_query(&query.words));
                    conds.push(format!("id IN (SELECT rowid FROM message_search WHERE message_search MATCH {n})"));
                }
                Backend::Postgres => {
                    let n = args.push_text(query.words.join(" "));
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
        let order = if query.oldest_first { "ASC" } else { "DESC" };
        let mut page_args = args.clone();
        let limit = page_args.push_int(i64::from(query.limit));
        let offset = page_args.push_int(i64::from(query.offset));
        let page_sql =
            format!("SELECT id FROM messages WHERE {filter} ORDER BY id {order} LIMIT {limit} OFFSET {offset}");

        // A slot first: past the budget of waiting, the search is refused
        // rather than queued without end.
        let search = &self.search;
        let Ok(Ok(_slot)) = tokio::time::timeout(search.limits.budget, search.slots.acquire()).await else {
            return Err(StoreError::OverBudget);
        };
        let (total, ids) = match (&search.sqlite, self.backend()) {
            (Some((_, pool)), Backend::Sqlite) => {
                let mut conn = pool.acquire().await?;
                let deadline = Instant::now() + search.limits.budget;
                // SQLite calls this every ~1,000 virtual-machine steps;
                // `false` interrupts the statement.
                conn.lock_handle().await?.set_progress_handler(1000, move || Instant::now() < deadline);
                let found = async {
                    let total: i64 = args.bind(sqlx::query(&count_sql)).fetch_one(&mut *conn).await?.try_get("n")?;
                    if total == 0 {
                        return Ok((0, Vec::new()));
                    }
                    let rows = page_args.bind(sqlx::query(&page_sql)).fetch_all(&mut *conn).await?;
                    let ids = rows.iter().map(|r| r.try_get::<i64, _>("id")).collect::<sqlx::Result<Vec<_>>>()?;
                    Ok((total, ids))
                }
                .await;
                conn.lock_handle().await?.remove_progress_handler();
                found.map_err(budget_error)?
            }
            _ => {
                let mut tx = self.reader.begin().await?;
                let ms = search.limits.budget.as_millis().max(1);
                sqlx::query(&format!("SET LOCAL statement_timeout = {ms}")).execute(&mut *tx).await?;
                let total: i64 =
                    args.bind(sqlx::query(&count_sql)).fetch_one(&mut *tx).await.map_err(budget_error)?.try_get("n")?;
                let mut ids = Vec::new();
                if total > 0 {
                    let rows =
                        page_args.bind(sqlx::query(&page_sql)).fetch_all(&mut *tx).await.map_err(budget_error)?;
                    ids = rows.iter().map(|r| r.try_get::<i64, _>("id")).collect::<sqlx::Result<Vec<_>>>()?;
                }
                tx.commit().await?;
                (total, ids)
            }
        };
        if ids.is_empty() {
            return Ok(SearchPage { total: total as u64, messages: Vec::new() });
        }
        // The page itself, by id, on the ordinary readers: cheap.
        let sql =
            format!("SELECT {COLUMNS} FROM messages WHERE id IN ({}) ORDER BY id {order}", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(SearchPage { total: total as u64, messages: rows.iter().map(message_row).collect::<Result<_>>()? })
    }
}

#[cfg(test)]
mod tests {
    use super::{fts5_query, words};

    #[test]
    fn words_are_letter_and_digit_runs_deduplicated() {
        assert_eq!(words("hello World hello"), ["hello", "world"]);
        assert_eq!(words(r#"say "hi NEAR(a b) x*"#), ["say", "hi", "near", "a", "b", "x"]);
        assert_eq!(words("https://example.com/some-page?q=1"), ["https", "example", "com", "some", "page", "q", "1"]);
        assert!(words("- * \" ( )").is_empty());
        assert_eq!(words("a\0b"), ["a", "b"]);
        assert_eq!(words(&"a ".repeat(512)), ["a"]);
        assert_eq!(fts5_query(&words("hello World")), r#""hello" "world""#);
    }
}
