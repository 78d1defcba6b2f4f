//! Guild members: what follows a change to one.

use events::Dispatch;
use model::guild::Member;
use model::permissions;
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
    state.member_updated(guild.guild.id, &rendered);
    let overwrites = state.store.guild_overwrites(guild.guild.id).await?;
    for channel in state.store.guild_channels(guild.guild.id).await? {
        let own: Vec<_> = overwrites.iter().filter(|(id, _)| *id == channel.id).map(|(_, o)| o.clone()).collect();
        let saw = guild.permissions_of(before, &own) & permissions::VIEW_CHANNEL != 0;
        let sees = guild.permissions_of(&after, &own) & permissions::VIEW_CHANNEL != 0;
        if saw != sees {
            let c = render::channel(&channel, &own, None);
            let (lost, gained) = if saw { (vec![after.user_id], vec![]) } else { (vec![], vec![after.user_id]) };
            state.channel_visibility(&c, Dispatch::ChannelUpdate, Vec::new(), lost, gained);
        }
    }
    Ok(Some(rendered))
}
