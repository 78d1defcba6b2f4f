//! Applies voice state changes (`VOICE_PARTICIPANT`, from any node) to
//! connections: a member who left, was disconnected, joined from another
//! session or was sent to another voice server is closed (4014), one moved
//! changes room, a deleted channel or guild ends its calls (4022), and
//! mute/deafen/permission changes take effect on the media path.

use std::sync::Arc;

use events::{Audience, Dispatch, Kind, Subscription};
use model::Id;

use crate::Shared;

pub(crate) async fn follow(shared: Arc<Shared>, mut sub: Subscription) {
    let mut stopped = shared.stopped.clone();
    loop {
        let event = tokio::select! {
            e = sub.recv() => match e { Some(e) => e, None => break },
            _ = stopped.changed() => break,
        };
        let registry = &shared.registry;
        match event.kind() {
            // (A reply to a starting node's VOICE_SYNC changes nothing.)
            Kind::VoiceParticipant(change) if change.for_node.is_none() => {
                let Some(session) = registry.get(change.guild_id, change.user_id) else { continue };
                let here = shared.addresses.endpoint.as_str();
                // One node's states are all made here, and the map holds
                // the latest; in a cluster, the change is the state at its
                // place in the stream, which this node's map may not have
                // reached yet.
                let now = if shared.voice.in_cluster() {
                    change.now.as_deref().cloned()
                } else {
                    shared.voice.get(change.guild_id, change.user_id)
                };
                match now.as_ref() {
                    Some(p)
                        if p.session_id == session.session_id
                            && p.token == session.token
                            && p.endpoint.as_deref() == Some(here) =>
                    {
                        {
                            let mut st = session.state();
                            st.may_speak = p.may_speak;
                            st.may_stream = p.may_stream;
                            st.deaf = p.deaf || p.self_deaf;
                        }
                        registry.move_to(&session, p.channel_id);
                    }
                    // Left, joined from another session, or sent to
                    // another voice server.
                    _ => {
                        registry.remove(&session, Some((4014, "Disconnected")));
                        shared.participants_changed();
                    }
                }
            }
            Kind::Dispatch(Dispatch::ChannelDelete(c)) => {
                let id = c.id;
                end(&shared, registry.matching(|_, channel| channel == id));
            }
            // A GUILD_DELETE to one user is them leaving the guild (their
            // VOICE_STATE_UPDATE follows); to the guild, the guild is gone.
            Kind::Dispatch(Dispatch::GuildDelete(g)) if matches!(event.audience(), Audience::Guild(_)) => {
                let id: Id<_> = g.id;
                end(&shared, registry.matching(|s, _| s.guild == id));
            }
            _ => {}
        }
    }
}

fn end(shared: &Shared, sessions: Vec<Arc<crate::state::Session>>) {
    for s in sessions {
        shared.registry.remove(&s, Some((4022, "Call terminated")));
    }
    shared.participants_changed();
}
