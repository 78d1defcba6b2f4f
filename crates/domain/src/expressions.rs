//! A guild's expressions: custom emojis and stickers. Who may create, edit
//! and delete them, their names and slots, the images written to the media
//! store (`media::Key::emoji`, `media::Key::sticker`) before the row names
//! them, their audit entries and the GUILD_EMOJIS_UPDATE /
//! GUILD_STICKERS_UPDATE events.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use media::{Key, Media};
use model::expression::{Emoji, Sticker};
use model::{nullable, permissions};
use store::{EmojiId, EmojiRow, GuildId, RoleId, StickerId, StickerRow, UserId, UserRow};

use crate::access::{self, ChannelAccess, GuildAccess};
use crate::audit::{self, action, Reason};
use crate::{render, Domain, Error, FormErrors, Result};

/// The largest emoji image, in bytes (Discord: 256 KiB).
pub const MAX_EMOJI_BYTES: usize = 256 * 1024;
/// The largest sticker file, in bytes (Discord: 512 KiB).
pub const MAX_STICKER_BYTES: usize = 512 * 1024;
/// Emoji slots of each kind (static, animated) at the base tier.
pub const EMOJI_SLOTS: usize = 50;
/// Sticker slots at the base tier.
pub const STICKER_SLOTS: usize = 5;

/// Why an uploaded file was refused: the field error's code and message.
pub type Refusal = (&'static str, String);

/// A checked emoji image: what its bytes are, not what the client said.
#[derive(Debug, Clone)]
pub struct Image {
    pub bytes: Vec<u8>,
    /// `png`, `jpg`, `gif` or `webp`.
    pub ext: &'static str,
    /// More than one frame (GIF) or the animation flag (WebP).
    pub animated: bool,
}

/// A checked sticker file.
#[derive(Debug, Clone)]
pub struct StickerFile {
    pub bytes: Vec<u8>,
    /// `png` (PNG and APNG), `gif` or `json` (Lottie).
    pub ext: &'static str,
    /// `model::expression::sticker_format`.
    pub format_type: u8,
}

/// The extension a sticker's file is kept under, by its format.
pub fn sticker_ext(format_type: u8) -> &'static str {
    match format_type {
        model::expression::sticker_format::LOTTIE => "json",
        model::expression::sticker_format::GIF => "gif",
        _ => "png",
    }
}

/// Emoji names: 2 to 32 characters, ASCII letters, digits and underscores.
fn check_emoji_name(errors: &mut FormErrors, name: &str) {
    if !(2..=32).contains(&name.chars().count()) {
        errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.");
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        errors.add("name", "EMOJI_NAME_INVALID", "Must contain only alphanumeric characters and underscores.");
    }
}

/// Roles named in a whitelist must be the guild's; @everyone is not one.
fn check_roles(errors: &mut FormErrors, guild: &GuildAccess, roles: &[RoleId]) {
    for (i, role) in roles.iter().enumerate() {
        if role.get() == guild.guild.id.get() || !guild.roles.iter().any(|r| r.id == *role) {
            errors.add(&format!("roles.{i}"), "UNKNOWN_ROLE", "Unknown role.");
        }
    }
}

/// Creating needs CREATE_GUILD_EXPRESSIONS or MANAGE_GUILD_EXPRESSIONS.
fn may_create(guild: &GuildAccess) -> Result<()> {
    if guild.permissions & (permissions::CREATE_GUILD_EXPRESSIONS | permissions::MANAGE_GUILD_EXPRESSIONS) != 0 {
        Ok(())
    } else {
        Err(Error::missing_permissions())
    }
}

/// Whether `user` may create emojis and stickers in `guild`: what a
/// transport checks before it reads an upload's bytes.
pub async fn require_create(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<()> {
    may_create(&access::guild(ctx, user, guild).await?)
}

/// Changing or deleting needs MANAGE_GUILD_EXPRESSIONS, or
/// CREATE_GUILD_EXPRESSIONS for one's own.
fn may_change(guild: &GuildAccess, creator: Option<UserId>) -> Result<()> {
    let own = creator == Some(guild.member.user_id) && guild.permissions & permissions::CREATE_GUILD_EXPRESSIONS != 0;
    if own || guild.permissions & permissions::MANAGE_GUILD_EXPRESSIONS != 0 {
        Ok(())
    } else {
        Err(Error::missing_permissions())
    }
}

/// Whether the caller sees who uploaded an expression: Discord includes
/// `user` for callers with CREATE_ or MANAGE_GUILD_EXPRESSIONS.
fn sees_creators(guild: &GuildAccess) -> bool {
    guild.permissions & (permissions::MANAGE_GUILD_EXPRESSIONS | permissions::CREATE_GUILD_EXPRESSIONS) != 0
}

/// The uploaders of `creators`, by id.
async fn creators(ctx: &Domain, creators: impl Iterator<Item = Option<UserId>>) -> Result<HashMap<UserId, UserRow>> {
    let mut ids: Vec<UserId> = creators.flatten().collect();
    ids.sort();
    ids.dedup();
    Ok(ctx.store.users(&ids).await?.into_iter().map(|u| (u.id, u)).collect())
}

// ---------------------------------------------------------------- emojis

/// A guild's emojis as the caller sees them.
pub async fn list_emojis(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<Vec<Emoji>> {
    let guild = access::guild(ctx, user, guild).await?;
    let rows = ctx.store.emojis(guild.guild.id).await?;
    let users =
        if sees_creators(&guild) { creators(ctx, rows.iter().map(|e| e.user_id)).await? } else { HashMap::new() };
    Ok(rows.iter().map(|e| render::emoji(e, e.user_id.and_then(|u| users.get(&u)))).collect())
}

async fn find_emoji(ctx: &Domain, guild: &GuildAccess, id: EmojiId) -> Result<EmojiRow> {
    ctx.store
        .emojis_by_id(&[id])
        .await?
        .into_iter()
        .find(|e| e.guild_id == guild.guild.id)
        .ok_or_else(Error::no_such_emoji)
}

async fn emoji_out(ctx: &Domain, guild: &GuildAccess, row: &EmojiRow) -> Result<Emoji> {
    let creator = match row.user_id.filter(|_| sees_creators(guild)) {
        Some(id) => ctx.store.user(id).await?,
        None => None,
    };
    Ok(render::emoji(row, creator.as_ref()))
}

pub async fn get_emoji(ctx: &Domain, user: &UserRow, guild: GuildId, id: EmojiId) -> Result<Emoji> {
    let guild = access::guild(ctx, user, guild).await?;
    let row = find_emoji(ctx, &guild, id).await?;
    emoji_out(ctx, &guild, &row).await
}

/// Discord's create-emoji body; the image arrives decoded and checked.
#[derive(Debug, Deserialize)]
pub struct NewEmoji {
    pub name: Option<String>,
    /// `data:image/…;base64,…`, checked by the transport.
    pub image: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Option<Option<Vec<RoleId>>>,
}

/// `user` creates an emoji in `guild`: CREATE_GUILD_EXPRESSIONS (or
/// MANAGE_GUILD_EXPRESSIONS), a valid name and image, a free slot of its
/// kind. The image is stored before the row; EMOJI_CREATE is audited and
/// GUILD_EMOJIS_UPDATE announced.
pub async fn create_emoji(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    body: NewEmoji,
    image: Option<std::result::Result<Image, Refusal>>,
    reason: &Reason,
) -> Result<Emoji> {
    let guild = access::guild(ctx, user, guild).await?;
    may_create(&guild)?;
    let mut errors = FormErrors::default();
    match &body.name {
        Some(name) => check_emoji_name(&mut errors, name),
        None => errors.add("name", "BASE_TYPE_REQUIRED", "This field is required"),
    }
    let roles = body.roles.flatten().unwrap_or_default();
    check_roles(&mut errors, &guild, &roles);
    let image = match image {
        None => {
            errors.add("image", "BASE_TYPE_REQUIRED", "This field is required");
            None
        }
        Some(Err((code, message))) => {
            errors.add("image", code, message);
            None
        }
        Some(Ok(image)) => Some(image),
    };
    errors.finish()?;
    let (Some(name), Some(image)) = (body.name, image) else { return Err(Error::internal("checked above")) };
    let row = EmojiRow {
        id: ctx.ids.next()?,
        guild_id: guild.guild.id,
        name,
        user_id: Some(user.id),
        roles,
        require_colons: true,
        managed: false,
        animated: image.animated,
        available: true,
        format: image.ext.to_owned(),
    };
    let rendered = render::emoji(&row, None);
    let changes = audit::diff(&json!({}), &json!({ "name": rendered.name }));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::EMOJI_CREATE, Some(row.id.get()), changes, None, reason)?;
    // The image first: a row never names a missing file.
    let key = Key::emoji(row.id, image.ext).ok_or_else(|| Error::internal("a checked image has a known extension"))?;
    ctx.media.put(&key, image.bytes.into()).await.map_err(Error::internal)?;
    let created = ctx.store.create_emoji(&row, EMOJI_SLOTS, &entry).await;
    if !matches!(created, Ok(true)) {
        ctx.media.delete_all([key]).await;
    }
    if !created? {
        return Err(if row.animated { Error::max_animated_emojis() } else { Error::max_emojis() });
    }
    emojis_changed(ctx, guild.guild.id).await?;
    ctx.announce_audit(&guild, &entry).await?;
    emoji_out(ctx, &guild, &row).await
}

/// Discord's modify-emoji body.
#[derive(Debug, Deserialize)]
pub struct EmojiPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Option<Option<Vec<RoleId>>>,
}

/// `user` renames an emoji or changes its roles: MANAGE_GUILD_EXPRESSIONS,
/// or CREATE_GUILD_EXPRESSIONS for their own.
pub async fn update_emoji(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    id: EmojiId,
    body: EmojiPatch,
    reason: &Reason,
) -> Result<Emoji> {
    let guild = access::guild(ctx, user, guild).await?;
    let before = find_emoji(ctx, &guild, id).await?;
    may_change(&guild, before.user_id)?;
    let mut errors = FormErrors::default();
    if let Some(name) = &body.name {
        check_emoji_name(&mut errors, name);
    }
    let roles = body.roles.map(Option::unwrap_or_default);
    if let Some(roles) = &roles {
        check_roles(&mut errors, &guild, roles);
    }
    errors.finish()?;
    let mut after = before.clone();
    after.name = body.name.unwrap_or(after.name);
    after.roles = roles.unwrap_or(after.roles);
    let audited = |e: &EmojiRow| json!({ "name": e.name, "roles": e.roles });
    let changes = audit::diff(&audited(&before), &audited(&after));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::EMOJI_UPDATE, Some(id.get()), changes, None, reason)?;
    if !ctx.store.update_emoji(&after, &entry).await? {
        return Err(Error::no_such_emoji());
    }
    emojis_changed(ctx, guild.guild.id).await?;
    ctx.announce_audit(&guild, &entry).await?;
    emoji_out(ctx, &guild, &after).await
}

/// `user` deletes an emoji: MANAGE_GUILD_EXPRESSIONS, or
/// CREATE_GUILD_EXPRESSIONS for their own. The image goes after the row.
pub async fn delete_emoji(ctx: &Domain, user: &UserRow, guild: GuildId, id: EmojiId, reason: &Reason) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    let row = find_emoji(ctx, &guild, id).await?;
    may_change(&guild, row.user_id)?;
    let changes = audit::diff(&json!({ "name": row.name }), &json!({}));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::EMOJI_DELETE, Some(id.get()), changes, None, reason)?;
    if ctx.store.delete_emoji(guild.guild.id, id, &entry).await? {
        ctx.media.delete_all(Key::emoji(id, &row.format)).await;
        emojis_changed(ctx, guild.guild.id).await?;
        ctx.announce_audit(&guild, &entry).await?;
    }
    Ok(())
}

/// GUILD_EMOJIS_UPDATE with the guild's whole list, as Discord sends it.
async fn emojis_changed(ctx: &Domain, guild: GuildId) -> Result<()> {
    let emojis = ctx.store.emojis(guild).await?.iter().map(|e| render::emoji(e, None)).collect();
    ctx.emojis_updated(guild, emojis);
    Ok(())
}

/// Removes the files of expressions whose rows are gone (with their
/// guild). Failing to remove one only wastes space: logged, not fatal.
pub async fn forget_files(media: &Media, emojis: &[EmojiRow], stickers: &[StickerRow]) {
    // Collected first: a borrowing iterator held across the await
    // trips the compiler's `Send` check of the caller's future.
    let emojis = emojis.iter().filter_map(|e| Key::emoji(e.id, &e.format));
    let keys: Vec<Key> =
        emojis.chain(stickers.iter().filter_map(|s| Key::sticker(s.id, sticker_ext(s.format_type)))).collect();
    media.delete_all(keys).await;
}

/// A reaction's emoji as the route names it: a Unicode emoji, or a custom
/// one as `name:id` (an `a:` before it is accepted too).
pub enum ReactionTarget {
    Unicode(String),
    Custom { id: EmojiId, name: String },
}

impl ReactionTarget {
    pub fn parse(raw: &str) -> Result<Self> {
        // `a:name:id`, but not the `a:id` of an emoji named `a`.
        let raw = raw.strip_prefix("a:").filter(|rest| rest.contains(':')).unwrap_or(raw);
        if let Some((name, id)) = raw.rsplit_once(':') {
            let id = id.parse::<EmojiId>().map_err(|_| Error::unknown_emoji())?;
            return Ok(Self::Custom { id, name: name.to_owned() });
        }
        match emojis::get(raw) {
            Some(emoji) => Ok(Self::Unicode(emoji.as_str().to_owned())),
            // Clients may send an emoji without its variation selector, or
            // with one the list does not carry.
            None => emojis::get(&raw.replace('\u{fe0f}', ""))
                .map(|e| Self::Unicode(e.as_str().to_owned()))
                .ok_or_else(Error::unknown_emoji),
        }
    }

    /// The reactions table's key: a Unicode emoji as itself, a custom one
    /// by its id alone (names change; the id does not).
    pub fn key(&self) -> String {
        match self {
            Self::Unicode(e) => e.clone(),
            Self::Custom { id, .. } => id.to_string(),
        }
    }
}

/// The custom emoji `id` as a reaction in `access`'s channel may use it: it
/// exists (10014 otherwise); one of another guild (or in a DM) needs
/// USE_EXTERNAL_EMOJIS there and membership of its guild; with a role
/// whitelist, the user holds one of those roles (roles deleted since are
/// left out; the owner may always).
pub async fn usable_emoji(ctx: &Domain, access: &ChannelAccess, user: &UserRow, id: EmojiId) -> Result<EmojiRow> {
    let row = ctx.store.emojis_by_id(&[id]).await?.pop().ok_or_else(Error::unknown_emoji)?;
    let home = access.guild_id() == Some(row.guild_id);
    if !home {
        access.require(permissions::USE_EXTERNAL_EMOJIS)?;
    }
    if row.roles.is_empty() && home {
        return Ok(row);
    }
    let member = ctx.store.member(row.guild_id, user.id).await?.ok_or_else(Error::missing_permissions)?;
    let existing = ctx.store.roles(row.guild_id).await?;
    let whitelist: Vec<RoleId> = row.roles.iter().copied().filter(|r| existing.iter().any(|e| e.id == *r)).collect();
    let owner = ctx.store.guild(row.guild_id).await?.is_some_and(|g| g.owner_id == user.id);
    if !whitelist.is_empty() && !owner && !member.roles.iter().any(|r| whitelist.contains(r)) {
        return Err(Error::missing_permissions());
    }
    Ok(row)
}

// -------------------------------------------------------------- stickers

/// A guild's stickers as the caller sees them.
pub async fn list_stickers(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<Vec<Sticker>> {
    let guild = access::guild(ctx, user, guild).await?;
    let rows = ctx.store.stickers(guild.guild.id).await?;
    let users =
        if sees_creators(&guild) { creators(ctx, rows.iter().map(|s| s.user_id)).await? } else { HashMap::new() };
    Ok(rows.iter().map(|s| render::sticker(s, s.user_id.and_then(|u| users.get(&u)))).collect())
}

async fn find_sticker(ctx: &Domain, guild: &GuildAccess, id: StickerId) -> Result<StickerRow> {
    ctx.store
        .stickers_by_id(&[id])
        .await?
        .into_iter()
        .find(|s| s.guild_id == guild.guild.id)
        .ok_or_else(Error::unknown_sticker)
}

async fn sticker_out(ctx: &Domain, guild: &GuildAccess, row: &StickerRow) -> Result<Sticker> {
    let creator = match row.user_id.filter(|_| sees_creators(guild)) {
        Some(id) => ctx.store.user(id).await?,
        None => None,
    };
    Ok(render::sticker(row, creator.as_ref()))
}

pub async fn get_guild_sticker(ctx: &Domain, user: &UserRow, guild: GuildId, id: StickerId) -> Result<Sticker> {
    let guild = access::guild(ctx, user, guild).await?;
    let row = find_sticker(ctx, &guild, id).await?;
    sticker_out(ctx, &guild, &row).await
}

/// `GET /stickers/{id}`: any guild sticker by id, to anyone signed in (as
/// on Discord), without its uploader.
pub async fn get_sticker(ctx: &Domain, id: StickerId) -> Result<Sticker> {
    let row = ctx.store.stickers_by_id(&[id]).await?.pop().ok_or_else(Error::unknown_sticker)?;
    Ok(render::sticker(&row, None))
}

/// A sticker's name, description and tags, as the create form and the
/// modify body carry them.
#[derive(Debug, Default, Deserialize)]
pub struct StickerFields {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    pub tags: Option<String>,
}

impl StickerFields {
    /// Names of 2 to 30 characters, descriptions empty or 2 to 100, tags
    /// of 1 to 200.
    fn check(&self, errors: &mut FormErrors, creating: bool) {
        match &self.name {
            Some(n) if !(2..=30).contains(&n.trim().chars().count()) => {
                errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 30 in length.")
            }
            Some(n) => crate::names::check_visible(errors, "name", n.trim()),
            None if creating => errors.add("name", "BASE_TYPE_REQUIRED", "This field is required"),
            None => {}
        }
        if let Some(Some(d)) = &self.description {
            let n = d.trim().chars().count();
            if n != 0 && !(2..=100).contains(&n) {
                errors.add("description", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.");
            }
        }
        match &self.tags {
            Some(t) if !(1..=200).contains(&t.trim().chars().count()) => {
                errors.add("tags", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 200 in length.")
            }
            None if creating => errors.add("tags", "BASE_TYPE_REQUIRED", "This field is required"),
            _ => {}
        }
    }
}

fn description(d: Option<Option<String>>) -> Option<Option<String>> {
    d.map(|d| d.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()))
}

/// `user` creates a sticker in `guild`: CREATE_GUILD_EXPRESSIONS (or
/// MANAGE_GUILD_EXPRESSIONS), valid fields and file, a free slot. The file
/// is stored before the row; STICKER_CREATE is audited and
/// GUILD_STICKERS_UPDATE announced.
pub async fn create_sticker(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    fields: StickerFields,
    file: Option<std::result::Result<StickerFile, Refusal>>,
    reason: &Reason,
) -> Result<Sticker> {
    let guild = access::guild(ctx, user, guild).await?;
    may_create(&guild)?;
    let mut errors = FormErrors::default();
    fields.check(&mut errors, true);
    let file = match file {
        None => {
            errors.add("file", "BASE_TYPE_REQUIRED", "This field is required");
            None
        }
        Some(Err((code, message))) => {
            errors.add("file", code, message);
            None
        }
        Some(Ok(file)) => Some(file),
    };
    errors.finish()?;
    let (Some(name), Some(tags), Some(file)) = (fields.name, fields.tags, file) else {
        return Err(Error::internal("checked above"));
    };
    let row = StickerRow {
        id: ctx.ids.next()?,
        guild_id: guild.guild.id,
        name: name.trim().to_owned(),
        description: description(fields.description).flatten(),
        tags: tags.trim().to_owned(),
        format_type: file.format_type,
        available: true,
        user_id: Some(user.id),
    };
    let changes = audit::diff(&json!({}), &audited_sticker(&row));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::STICKER_CREATE, Some(row.id.get()), changes, None, reason)?;
    let key = Key::sticker(row.id, file.ext).ok_or_else(|| Error::internal("a checked file has a known extension"))?;
    ctx.media.put(&key, file.bytes.into()).await.map_err(Error::internal)?;
    let created = ctx.store.create_sticker(&row, STICKER_SLOTS, &entry).await;
    if !matches!(created, Ok(true)) {
        ctx.media.delete_all([key]).await;
    }
    if !created? {
        return Err(Error::max_stickers());
    }
    stickers_changed(ctx, guild.guild.id).await?;
    ctx.announce_audit(&guild, &entry).await?;
    sticker_out(ctx, &guild, &row).await
}

fn audited_sticker(s: &StickerRow) -> serde_json::Value {
    json!({ "name": s.name, "description": s.description, "tags": s.tags, "format_type": s.format_type })
}

/// `user` changes a sticker's name, description or tags:
/// MANAGE_GUILD_EXPRESSIONS, or CREATE_GUILD_EXPRESSIONS for their own.
pub async fn update_sticker(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    id: StickerId,
    fields: StickerFields,
    reason: &Reason,
) -> Result<Sticker> {
    let guild = access::guild(ctx, user, guild).await?;
    let before = find_sticker(ctx, &guild, id).await?;
    may_change(&guild, before.user_id)?;
    let mut errors = FormErrors::default();
    fields.check(&mut errors, false);
    errors.finish()?;
    let mut after = before.clone();
    if let Some(n) = fields.name {
        after.name = n.trim().to_owned();
    }
    if let Some(d) = description(fields.description) {
        after.description = d;
    }
    if let Some(t) = fields.tags {
        after.tags = t.trim().to_owned();
    }
    let changes = audit::diff(&audited_sticker(&before), &audited_sticker(&after));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::STICKER_UPDATE, Some(id.get()), changes, None, reason)?;
    if !ctx.store.update_sticker(&after, &entry).await? {
        return Err(Error::unknown_sticker());
    }
    stickers_changed(ctx, guild.guild.id).await?;
    ctx.announce_audit(&guild, &entry).await?;
    sticker_out(ctx, &guild, &after).await
}

/// `user` deletes a sticker: MANAGE_GUILD_EXPRESSIONS, or
/// CREATE_GUILD_EXPRESSIONS for their own. Messages that carry it keep
/// their `sticker_items`; the file goes after the row.
pub async fn delete_sticker(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    id: StickerId,
    reason: &Reason,
) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    let row = find_sticker(ctx, &guild, id).await?;
    may_change(&guild, row.user_id)?;
    let changes = audit::diff(&audited_sticker(&row), &json!({}));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::STICKER_DELETE, Some(id.get()), changes, None, reason)?;
    if ctx.store.delete_sticker(guild.guild.id, id, &entry).await? {
        ctx.media.delete_all(Key::sticker(id, sticker_ext(row.format_type))).await;
        stickers_changed(ctx, guild.guild.id).await?;
        ctx.announce_audit(&guild, &entry).await?;
    }
    Ok(())
}

/// GUILD_STICKERS_UPDATE with the guild's whole list.
async fn stickers_changed(ctx: &Domain, guild: GuildId) -> Result<()> {
    let stickers = ctx.store.stickers(guild).await?.iter().map(|s| render::sticker(s, None)).collect();
    ctx.stickers_updated(guild, stickers);
    Ok(())
}

/// The guild's emojis and stickers as a guild object carries them.
pub async fn guild_expressions(ctx: &Domain, guild: GuildId) -> Result<(Vec<Emoji>, Vec<Sticker>)> {
    let (emojis, stickers) = tokio::try_join!(ctx.store.emojis(guild), ctx.store.stickers(guild))?;
    Ok((
        emojis.iter().map(|e| render::emoji(e, None)).collect(),
        stickers.iter().map(|s| render::sticker(s, None)).collect(),
    ))
}
