//! Application commands: what an application registered, globally or for
//! one guild (Discord's slash and context-menu commands).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{conflict, Backend, SqlStore, Tx};
use crate::{from_db, opt_from_db, to_db, CommandId, GuildId, Result, UserId};

/// One command as stored. `options` (a JSON array), the localization maps
/// (JSON objects), `contexts` and `integration_types` (JSON arrays) are
/// kept as the domain validated them; the domain parses them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRow {
    pub id: CommandId,
    /// Also the id of the application's bot user.
    pub application_id: UserId,
    /// `None` for a global command.
    pub guild_id: Option<GuildId>,
    pub kind: u8,
    pub name: String,
    pub name_localizations: Option<String>,
    pub description: String,
    pub description_localizations: Option<String>,
    pub options: String,
    pub default_member_permissions: Option<u64>,
    pub dm_permission: bool,
    pub contexts: Option<String>,
    pub integration_types: String,
    pub nsfw: bool,
    /// A snowflake, new whenever the command changes.
    pub version: u64,
}

/// What [`CommandStore::upsert_command`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandUpsert {
    /// A new command: the row as given.
    Created(CommandRow),
    /// A command of the same type and name was replaced: the row under
    /// that command's id.
    Replaced(CommandRow),
    /// The scope already has `max_of_type` commands of the type.
    Full,
}

#[async_trait]
pub trait CommandStore: Send + Sync {
    /// The application's commands in one scope (`None`: global), oldest first.
    async fn commands(&self, app: UserId, guild: Option<GuildId>) -> Result<Vec<CommandRow>>;
    async fn command(&self, app: UserId, guild: Option<GuildId>, id: CommandId) -> Result<Option<CommandRow>>;
    /// Stores `row`, replacing the scope's command of the same type and
    /// name if there is one (keeping that one's id); a new command only if
    /// the scope has fewer than `max_of_type` of its type. Counted in the
    /// same transaction as the write.
    async fn upsert_command(&self, row: &CommandRow, max_of_type: usize) -> Result<CommandUpsert>;
    /// Replaces a command's fields (not its type or scope); `false` if it no
    /// longer exists, `Conflict("command")` if another has the name.
    async fn update_command(&self, row: &CommandRow) -> Result<bool>;
    /// `false` if it did not exist.
    async fn delete_command(&self, app: UserId, guild: Option<GuildId>, id: CommandId) -> Result<bool>;
    /// Makes `rows` the scope's commands, in one transaction: commands not
    /// among them (by id) are deleted, the others updated, the new ones
    /// inserted. The rows' names must be unique per type.
    async fn replace_commands(&self, app: UserId, guild: Option<GuildId>, rows: &[CommandRow]) -> Result<()>;
}

const COLUMNS: &str = "id, application_id, guild_id, type, name, name_localizations, description, \
    description_localizations, options, default_member_permissions, dm_permission, contexts, integration_types, \
    nsfw, version";

/// `guild_id = $n`, or `IS NULL` for the global scope (bound either way so
/// placeholders stay numbered alike).
fn scope(n: usize) -> String {
    format!("COALESCE(guild_id, 0) = ${n}")
}

fn scope_value(guild: Option<GuildId>) -> i64 {
    guild.map_or(0, to_db)
}

fn command_row(r: &AnyRow) -> Result<CommandRow> {
    Ok(CommandRow {
        id: from_db(r.try_get("id")?)?,
        application_id: from_db(r.try_get("application_id")?)?,
        guild_id: opt_from_db(r.try_get("guild_id")?)?,
        kind: r.try_get::<i64, _>("type")? as u8,
        name: r.try_get("name")?,
        name_localizations: r.try_get("name_localizations")?,
        description: r.try_get("description")?,
        description_localizations: r.try_get("description_localizations")?,
        options: r.try_get("options")?,
        default_member_permissions: r.try_get::<Option<i64>, _>("default_member_permissions")?.map(|p| p as u64),
        dm_permission: r.try_get::<i64, _>("dm_permission")? != 0,
        contexts: r.try_get("contexts")?,
        integration_types: r.try_get("integration_types")?,
        nsfw: r.try_get::<i64, _>("nsfw")? != 0,
        version: r.try_get::<i64, _>("version")? as u64,
    })
}

async fn insert<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(e: E, row: &CommandRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO application_commands ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(to_db(row.id))
    .bind(to_db(row.application_id))
    .bind(row.guild_id.map(to_db))
    .bind(i64::from(row.kind))
    .bind(&row.name)
    .bind(&row.name_localizations)
    .bind(&row.description)
    .bind(&row.description_localizations)
    .bind(&row.options)
    .bind(row.default_member_permissions.map(|p| p as i64))
    .bind(i64::from(row.dm_permission))
    .bind(&row.contexts)
    .bind(&row.integration_types)
    .bind(i64::from(row.nsfw))
    .bind(row.version as i64)
    .execute(e)
    .await
    .map_err(conflict("command"))?;
    Ok(())
}

/// Updates the command with `row.id` in `row`'s scope; rows changed.
async fn update<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(e: E, row: &CommandRow) -> Result<u64> {
    let done = sqlx::query(&format!(
        "UPDATE application_commands SET name = $3, name_localizations = $4, description = $5,
            description_localizations = $6, options = $7, default_member_permissions = $8, dm_permission = $9,
            contexts = $10, integration_types = $11, nsfw = $12, version = $13
         WHERE application_id = $1 AND id = $2 AND {}",
        scope(14)
    ))
    .bind(to_db(row.application_id))
    .bind(to_db(row.id))
    .bind(&row.name)
    .bind(&row.name_localizations)
    .bind(&row.description)
    .bind(&row.description_localizations)
    .bind(&row.options)
    .bind(row.default_member_permissions.map(|p| p as i64))
    .bind(i64::from(row.dm_permission))
    .bind(&row.contexts)
    .bind(&row.integration_types)
    .bind(i64::from(row.nsfw))
    .bind(row.version as i64)
    .bind(scope_value(row.guild_id))
    .execute(e)
    .await
    .map_err(conflict("command"))?;
    Ok(done.rows_affected())
}

impl SqlStore {
    /// PostgreSQL runs writers side by side (SQLite has one): the
    /// application's row, locked until commit, makes one scope's counts and
    /// name checks happen one transaction at a time.
    async fn lock_application(&self, tx: &mut Tx, app: UserId) -> Result<()> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM applications WHERE id = $1 FOR UPDATE")
                .bind(to_db(app))
                .fetch_optional(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl CommandStore for SqlStore {
    async fn commands(&self, app: UserId, guild: Option<GuildId>) -> Result<Vec<CommandRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM application_commands WHERE application_id = $1 AND {} ORDER BY id",
            scope(2)
        ))
        .bind(to_db(app))
        .bind(scope_value(guild))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(command_row).collect()
    }

    async fn command(&self, app: UserId, guild: Option<GuildId>, id: CommandId) -> Result<Option<CommandRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM application_commands WHERE application_id = $1 AND id = $2 AND {}",
            scope(3)
        ))
        .bind(to_db(app))
        .bind(to_db(id))
        .bind(scope_value(guild))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(command_row).transpose()
    }

    async fn upsert_command(&self, row: &CommandRow, max_of_type: usize) -> Result<CommandUpsert> {
        let mut tx = self.writer.begin().await?;
        self.lock_application(&mut tx, row.application_id).await?;
        let existing: Option<i64> = sqlx::query(&format!(
            "SELECT id FROM application_commands WHERE application_id = $1 AND {} AND type = $3 AND name = $4",
            scope(2)
        ))
        .bind(to_db(row.application_id))
        .bind(scope_value(row.guild_id))
        .bind(i64::from(row.kind))
        .bind(&row.name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
        let outcome = match existing {
            Some(id) => {
                let replaced = CommandRow { id: from_db(id)?, ..row.clone() };
                update(&mut *tx, &replaced).await?;
                CommandUpsert::Replaced(replaced)
            }
            None => {
                let count: i64 = sqlx::query(&format!(
                    "SELECT COUNT(*) AS n FROM application_commands WHERE application_id = $1 AND {} AND type = $3",
                    scope(2)
                ))
                .bind(to_db(row.application_id))
                .bind(scope_value(row.guild_id))
                .bind(i64::from(row.kind))
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                if count as usize >= max_of_type {
                    return Ok(CommandUpsert::Full);
                }
                insert(&mut *tx, row).await?;
                CommandUpsert::Created(row.clone())
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn update_command(&self, row: &CommandRow) -> Result<bool> {
        Ok(update(&self.writer, row).await? > 0)
    }

    async fn delete_command(&self, app: UserId, guild: Option<GuildId>, id: CommandId) -> Result<bool> {
        let done = sqlx::query(&format!(
            "DELETE FROM application_commands WHERE application_id = $1 AND id = $2 AND {}",
            scope(3)
        ))
        .bind(to_db(app))
        .bind(to_db(id))
        .bind(scope_value(guild))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_commands(&self, app: UserId, guild: Option<GuildId>, rows: &[CommandRow]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        self.lock_application(&mut tx, app).await?;
        let kept: Vec<i64> =
            sqlx::query(&format!("SELECT id FROM application_commands WHERE application_id = $1 AND {}", scope(2)))
                .bind(to_db(app))
                .bind(scope_value(guild))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<std::result::Result<_, _>>()?;
        // Gone first, and every kept one renamed out of the way, so names
        // may move between commands in one overwrite.
        for id in &kept {
            if !rows.iter().any(|r| to_db(r.id) == *id) {
                sqlx::query("DELETE FROM application_commands WHERE id = $1").bind(id).execute(&mut *tx).await?;
            } else {
                sqlx::query("UPDATE application_commands SET name = $2 WHERE id = $1")
                    .bind(id)
                    // Longer than any name may be, so it takes none.
                    .bind(format!("{id}/being-replaced/{id}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for row in rows {
            if kept.contains(&to_db(row.id)) {
                update(&mut *tx, row).await?;
            } else {
                insert(&mut *tx, row).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
