//! Guild members: what follows a change to one.

use model::guild::Member;
use store::MemberRow;

use crate::access::GuildAccess;
use crate::{render, Domain, Result};

/// After a member changed: GUILD_MEMBER_UPDATE for the guild, and for the
/// member, the channels they can newly see (CHANNEL_CREATE) or no longer
/// see (CHANNEL_DELETE).
pub async fn after_change(state: &Domain, guild: &GuildAccess, before: &MemberRow) -> Result<Option<Member>> {
    let Some(after) = state.store.member(guild.guild.id, before.user_id).await? else { return Ok(None) };
    let user = state.store.user(before.user_id).await?;
    let rendered = render::member(&after, user.as_ref());
    // The gateway tells the member's sessions of the channels the new
    // roles show or hide.
    state.member_updated(guild.guild.id, &rendered);
    Ok(Some(rendered))
}

/// GUILD_CREATE for the newcomer's sessions, GUILD_MEMBER_ADD for the rest.
pub async fn announce_join(
    state: &Domain,
    guild: store::GuildId,
    user: &store::UserRow,
    large_threshold: u64,
) -> Result<()> {
    let Some(row) = state.store.guild(guild).await? else { return Ok(()) };
    let Some(member) = state.store.member(guild, user.id).await? else { return Ok(()) };
    let snapshot = render::guild_snapshot(state.store.as_ref(), &row, user.id, large_threshold).await?;
    state.member_joined(guild, &render::member(&member, Some(user)), &snapshot);
    Ok(())
}

/// A bot's managed role exists for that bot alone: when the bot leaves the
/// guild, or is kicked or banned, the role goes with it (GUILD_ROLE_DELETE),
/// as on Discord. Managed roles cannot be given to anyone else, so the
/// managed roles the member held are the bot's.
pub async fn drop_managed_roles(state: &Domain, guild: &GuildAccess, member: &MemberRow) -> Result<()> {
    for role in guild.roles.iter().filter(|r| r.managed && member.roles.contains(&r.id)) {
        if state.store.delete_role(guild.guild.id, role.id, None).await? {
            state.role_deleted(guild.guild.id, role.id);
        }
    }
    Ok(())
}
