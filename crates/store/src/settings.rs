//! A person's client settings: the status they chose, a custom status,
//! display preferences. The locale is the user's own column, read and
//! written here too so the settings are one object.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::{to_db, Result, StoreError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRow {
    /// `online`, `idle`, `dnd` or `invisible`.
    pub status: String,
    pub custom_status: Option<CustomStatus>,
    /// `dark` or `light`.
    pub theme: String,
    pub locale: String,
    pub message_display_compact: bool,
    pub developer_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomStatus {
    pub text: Option<String>,
    pub emoji_name: Option<String>,
    /// Unix milliseconds.
    pub expires_at: Option<i64>,
}

/// Fields of `PATCH /users/@me/settings`; `None` leaves a field as it is,
/// and `custom_status: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    pub status: Option<String>,
    pub custom_status: Option<Option<CustomStatus>>,
    pub theme: Option<String>,
    pub locale: Option<String>,
    pub message_display_compact: Option<bool>,
    pub developer_mode: Option<bool>,
}

#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The user's settings, defaults for what they never set.
    async fn settings(&self, user: UserId) -> Result<SettingsRow>;
    /// Applies the patch (settings and locale in one transaction) and
    /// returns the settings after it.
    async fn update_settings(&self, user: UserId, patch: &SettingsPatch) -> Result<SettingsRow>;
}

const SELECT: &str = "SELECT u.locale, s.status, s.custom_status_text, s.custom_status_emoji_name,
        s.custom_status_expires_at, s.theme, s.message_display_compact, s.developer_mode
     FROM users u LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id = $1";

fn settings_row(r: &AnyRow) -> Result<SettingsRow> {
    let text: Option<String> = r.try_get("custom_status_text")?;
    let emoji_name: Option<String> = r.try_get("custom_status_emoji_name")?;
    let expires_at: Option<i64> = r.try_get("custom_status_expires_at")?;
    Ok(SettingsRow {
        status: r.try_get::<Option<String>, _>("status")?.unwrap_or_else(|| "online".into()),
        custom_status: (text.is_some() || emoji_name.is_some()).then_some(CustomStatus {
            text,
            emoji_name,
            expires_at,
        }),
        theme: r.try_get::<Option<String>, _>("theme")?.unwrap_or_else(|| "dark".into()),
        locale: r.try_get("locale")?,
        message_display_compact: r.try_get::<Option<i64>, _>("message_display_compact")?.unwrap_or(0) != 0,
        developer_mode: r.try_get::<Option<i64>, _>("developer_mode")?.unwrap_or(0) != 0,
    })
}

#[async_trait]
impl SettingsStore for SqlStore {
    async fn settings(&self, user: UserId) -> Result<SettingsRow> {
        let row = sqlx::query(SELECT).bind(to_db(user)).fetch_optional(&self.reader).await?;
        row.as_ref().map(settings_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn update_settings(&self, user: UserId, p: &SettingsPatch) -> Result<SettingsRow> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO user_settings (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING")
            .bind(to_db(user))
            .execute(&mut *tx)
            .await?;
        let custom = p.custom_status.clone().flatten();
        // COALESCE keeps a column when its parameter is NULL; `$3` says
        // whether the custom status is being set (or cleared) at all.
        sqlx::query(
            "UPDATE user_settings SET
                status = COALESCE($2, status),
                custom_status_text = CASE WHEN $3 = 1 THEN $4 ELSE custom_status_text END,
                custom_status_emoji_name = CASE WHEN $3 = 1 THEN $5 ELSE custom_status_emoji_name END,
                custom_status_expires_at = CASE WHEN $3 = 1 THEN $6 ELSE custom_status_expires_at END,
                theme = COALESCE($7, theme),
                message_display_compact = COALESCE($8, message_display_compact),
                developer_mode = COALESCE($9, developer_mode)
             WHERE user_id = $1",
        )
        .bind(to_db(user))
        .bind(&p.status)
        .bind(i64::from(p.custom_status.is_some()))
        .bind(custom.as_ref().and_then(|c| c.text.clone()))
        .bind(custom.as_ref().and_then(|c| c.emoji_name.clone()))
        .bind(custom.as_ref().and_then(|c| c.expires_at))
        .bind(&p.theme)
        .bind(p.message_display_compact.map(i64::from))
        .bind(p.developer_mode.map(i64::from))
        .execute(&mut *tx)
        .await?;
        if let Some(locale) = &p.locale {
            sqlx::query("UPDATE users SET locale = $2 WHERE id = $1")
                .bind(to_db(user))
                .bind(locale)
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(SELECT).bind(to_db(user)).fetch_optional(&mut *tx).await?;
        let row = row.as_ref().map(settings_row).transpose()?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(row)
    }
}
