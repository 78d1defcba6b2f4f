//! Friends, friend requests and blocks. Each relationship is stored once
//! per direction, as its owner sees it; every change to a pair happens in
//! one transaction and reports the rows it added or removed, so the API
//! can tell both sides.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{SqlStore, Tx};
use crate::{from_db, to_db, Result, UserId};

/// Discord's relationship types.
pub mod kind {
    pub const FRIEND: i64 = 1;
    pub const BLOCKED: i64 = 2;
    pub const INCOMING: i64 = 3;
    pub const OUTGOING: i64 = 4;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationshipRow {
    /// Whose view this is.
    pub user_id: UserId,
    pub other_id: UserId,
    pub kind: i64,
    pub since: i64,
}

/// What a change did to one side of a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelationshipChange {
    /// A new or changed row (e.g. a request became a friendship).
    Set(RelationshipRow),
    Removed(RelationshipRow),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FriendOutcome {
    /// A request was sent, a request accepted, or nothing needed doing.
    Done(Vec<RelationshipChange>),
    /// One of the two blocks the other.
    Blocked,
}

#[async_trait]
pub trait RelationshipStore: Send + Sync {
    /// `user`'s relationships, oldest first.
    async fn relationships(&self, user: UserId) -> Result<Vec<RelationshipRow>>;
    /// Sends a friend request to `other`, or accepts theirs.
    async fn befriend(&self, user: UserId, other: UserId, now: i64) -> Result<FriendOutcome>;
    /// `user` blocks `other`: any friendship or request between them ends.
    async fn block(&self, user: UserId, other: UserId, now: i64) -> Result<Vec<RelationshipChange>>;
    /// Removes `user`'s relationship with `other` (unfriend, cancel or
    /// decline a request, unblock), and the other side's unless it is a
    /// block.
    async fn remove_relationship(&self, user: UserId, other: UserId) -> Result<Vec<RelationshipChange>>;
    /// Whether either of the two blocks the other.
    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<bool>;
    /// Whether `a` and `b` are friends or share a guild: who may open a DM
    /// with whom.
    async fn friends_or_guildmates(&self, a: UserId, b: UserId) -> Result<bool>;
}

fn relationship_row(r: &AnyRow) -> Result<RelationshipRow> {
    Ok(RelationshipRow {
        user_id: from_db(r.try_get("user_id")?)?,
        other_id: from_db(r.try_get("other_id")?)?,
        kind: r.try_get("kind")?,
        since: r.try_get("since")?,
    })
}

const COLUMNS: &str = "user_id, other_id, kind, since";

async fn get(tx: &mut Tx, user: UserId, other: UserId) -> Result<Option<RelationshipRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM relationships WHERE user_id = $1 AND other_id = $2"))
        .bind(to_db(user))
        .bind(to_db(other))
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(relationship_row).transpose()
}

async fn set(tx: &mut Tx, row: RelationshipRow) -> Result<RelationshipChange> {
    sqlx::query(
        "INSERT INTO relationships (user_id, other_id, kind, since) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, other_id) DO UPDATE SET kind = excluded.kind, since = excluded.since",
    )
    .bind(to_db(row.user_id))
    .bind(to_db(row.other_id))
    .bind(row.kind)
    .bind(row.since)
    .execute(&mut **tx)
    .await?;
    Ok(RelationshipChange::Set(row))
}

async fn delete(tx: &mut Tx, row: RelationshipRow) -> Result<RelationshipChange> {
    sqlx::query("DELETE FROM relationships WHERE user_id = $1 AND other_id = $2")
        .bind(to_db(row.user_id))
        .bind(to_db(row.other_id))
        .execute(&mut **tx)
        .await?;
    Ok(RelationshipChange::Removed(row))
}

#[async_trait]
impl RelationshipStore for SqlStore {
    async fn relationships(&self, user: UserId) -> Result<Vec<RelationshipRow>> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM relationships WHERE user_id = $1 ORDER BY since, other_id"))
                .bind(to_db(user))
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(relationship_row).collect()
    }

    async fn befriend(&self, user: UserId, other: UserId, now: i64) -> Result<FriendOutcome> {
        let mut tx = self.writer.begin().await?;
        let mine = get(&mut tx, user, other).await?;
        let theirs = get(&mut tx, other, user).await?;
        let row = |user_id, other_id, kind| RelationshipRow { user_id, other_id, kind, since: now };
        let changes = match (mine.as_ref().map(|r| r.kind), theirs.as_ref().map(|r| r.kind)) {
            (Some(kind::BLOCKED), _) | (_, Some(kind::BLOCKED)) => return Ok(FriendOutcome::Blocked),
            (Some(kind::FRIEND), _) | (Some(kind::OUTGOING), _) => Vec::new(),
            (Some(kind::INCOMING), _) => vec![
                set(&mut tx, row(user, other, kind::FRIEND)).await?,
                set(&mut tx, row(other, user, kind::FRIEND)).await?,
            ],
            _ => vec![
                set(&mut tx, row(user, other, kind::OUTGOING)).await?,
                set(&mut tx, row(other, user, kind::INCOMING)).await?,
            ],
        };
        tx.commit().await?;
        Ok(FriendOutcome::Done(changes))
    }

    async fn block(&self, user: UserId, other: UserId, now: i64) -> Result<Vec<RelationshipChange>> {
        let mut tx = self.writer.begin().await?;
        let mut changes = Vec::new();
        if let Some(theirs) = get(&mut tx, other, user).await?.filter(|r| r.kind != kind::BLOCKED) {
            changes.push(delete(&mut tx, theirs).await?);
        }
        let mine = get(&mut tx, user, other).await?;
        if mine.as_ref().is_none_or(|r| r.kind != kind::BLOCKED) {
            let row = RelationshipRow { user_id: user, other_id: other, kind: kind::BLOCKED, since: now };
            changes.push(set(&mut tx, row).await?);
        }
        tx.commit().await?;
        Ok(changes)
    }

    async fn remove_relationship(&self, user: UserId, other: UserId) -> Result<Vec<RelationshipChange>> {
        let mut tx = self.writer.begin().await?;
        let mut changes = Vec::new();
        if let Some(mine) = get(&mut tx, user, other).await? {
            let was_block = mine.kind == kind::BLOCKED;
            changes.push(delete(&mut tx, mine).await?);
            // A friendship or request has two sides; a block has one.
            if !was_block {
                if let Some(theirs) = get(&mut tx, other, user).await?.filter(|r| r.kind != kind::BLOCKED) {
                    changes.push(delete(&mut tx, theirs).await?);
                }
            }
        }
        tx.commit().await?;
        Ok(changes)
    }

    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS hit FROM relationships
             WHERE kind = $3 AND ((user_id = $1 AND other_id = $2) OR (user_id = $2 AND other_id = $1))",
        )
        .bind(to_db(a))
        .bind(to_db(b))
        .bind(kind::BLOCKED)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }

    async fn friends_or_guildmates(&self, a: UserId, b: UserId) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS hit WHERE
               EXISTS (SELECT 1 FROM relationships WHERE user_id = $1 AND other_id = $2 AND kind = $3)
               OR EXISTS (SELECT 1 FROM members m JOIN members o ON o.guild_id = m.guild_id
                          WHERE m.user_id = $1 AND o.user_id = $2)",
        )
        .bind(to_db(a))
        .bind(to_db(b))
        .bind(kind::FRIEND)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }
}
