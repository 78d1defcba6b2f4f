//! Presence across a cluster's nodes. Each node tells the others, on the
//! bus, its users' presences as they change (`NodePresence`) and that it is
//! alive, every second (`NodeAlive`); each keeps the others' users beside
//! its own, so snapshots, `@here` and online counts see the whole cluster,
//! and a user who leaves one node while connected to another stays online.
//! A node not heard of for `NODE_TIMEOUT` is dead: its users go offline,
//! announced once, by the live node with the smallest name. A node that
//! hears of a new node tells it every presence it holds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use events::{Event, NodePresence, NODE_TIMEOUT};
use store::{GuildId, UserId};

use super::{Hub, Registry, UserPresence};

/// How often a node says it is alive.
const ALIVE_EVERY: Duration = Duration::from_secs(1);

/// A user's presence on another node.
#[derive(Debug, Clone)]
pub(super) struct RemotePresence {
    presence: UserPresence,
    guilds: Vec<GuildId>,
}

/// A user's presence here, else on another node (the first that shows
/// them online).
pub(super) fn presence_in(reg: &Registry, user: UserId) -> Option<UserPresence> {
    if let Some(p) = reg.presences.get(&user) {
        return Some(p.clone());
    }
    let remote = reg.remote.get(&user)?;
    let mut all: Vec<(&String, &RemotePresence)> = remote.iter().collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    all.iter().find(|(_, r)| r.presence.visible_status() != "offline").or(all.first()).map(|(_, r)| r.presence.clone())
}

/// Users with a session in `guild` on other nodes.
pub(super) fn remote_in(reg: &Registry, guild: GuildId) -> impl Iterator<Item = UserId> + '_ {
    reg.remote.iter().filter(move |(_, nodes)| nodes.values().any(|r| r.guilds.contains(&guild))).map(|(u, _)| *u)
}

impl Hub {
    /// Makes this hub node `node` of a cluster: it tells the others that it
    /// is alive (and where its voice server is, if it runs one) and what
    /// its users' presences are, and hears theirs.
    pub fn join_cluster(self: &Arc<Self>, node: String, voice_endpoint: Option<String>) {
        if self.node.set(node.clone()).is_err() {
            return;
        }
        let bus = self.bus.clone();
        self.runtime.spawn(async move {
            let mut tick = tokio::time::interval(ALIVE_EVERY);
            loop {
                tick.tick().await;
                bus.publish(Event::node_alive(node.clone(), voice_endpoint.clone()));
            }
        });
    }

    /// Tells the other nodes `user`'s presence here now (none if they have
    /// no session here).
    pub(super) fn publish_node_presence(&self, user: UserId) {
        let Some(node) = self.node.get() else { return };
        let presence = {
            let reg = self.registry();
            let mut guilds: Vec<GuildId> =
                reg.by_user.get(&user).into_iter().flat_map(|m| m.values()).flat_map(|s| s.guilds()).collect();
            guilds.sort();
            guilds.dedup();
            let local = reg.presences.get(&user);
            NodePresence {
                node: node.clone(),
                user,
                status: local.map(|p| p.status.clone()),
                activities: local.map(|p| p.activities.clone()).unwrap_or_default(),
                guilds,
            }
        };
        self.bus.publish(Event::node_presence(presence));
    }

    /// Another node's word on one of its users.
    pub(super) fn remote_presence(&self, p: &NodePresence) {
        if self.node.get().is_none_or(|me| *me == p.node) {
            return;
        }
        let is_new = {
            let mut reg = self.registry();
            let is_new = reg.nodes.insert(p.node.clone(), Instant::now()).is_none();
            match &p.status {
                Some(status) => {
                    reg.orphans.remove(&p.user);
                    let presence = UserPresence { status: status.clone(), activities: p.activities.clone() };
                    reg.remote
                        .entry(p.user)
                        .or_default()
                        .insert(p.node.clone(), RemotePresence { presence, guilds: p.guilds.clone() });
                }
                None => {
                    if let Some(nodes) = reg.remote.get_mut(&p.user) {
                        nodes.remove(&p.node);
                        if nodes.is_empty() {
                            reg.remote.remove(&p.user);
                        }
                    }
                }
            }
            is_new
        };
        if is_new {
            self.tell_everything();
        }
    }

    /// Another node is alive.
    pub(super) fn node_alive(&self, node: &str) {
        if self.node.get().is_none_or(|me| me == node) {
            return;
        }
        let is_new = self.registry().nodes.insert(node.to_owned(), Instant::now()).is_none();
        if is_new {
            self.tell_everything();
        }
    }

    /// Every presence held here, for a node that just appeared.
    fn tell_everything(&self) {
        let users: Vec<UserId> = self.registry().presences.keys().copied().collect();
        for user in users {
            self.publish_node_presence(user);
        }
    }

    /// Whether `user` has a session on another live node.
    pub(super) fn online_elsewhere(&self, user: UserId) -> bool {
        self.registry().remote.get(&user).is_some_and(|nodes| !nodes.is_empty())
    }

    /// Forgets the nodes not heard of for `NODE_TIMEOUT`; their users with
    /// no session elsewhere go offline. One node announces it: the live
    /// one with the smallest name; the others keep those users until they
    /// hear it done, and if that node dies first, the next one does it.
    pub(super) fn expire_nodes(&self) {
        let Some(me) = self.node.get() else { return };
        let orphans = {
            let mut reg = self.registry();
            let dead: Vec<String> =
                reg.nodes.iter().filter(|(_, t)| t.elapsed() >= NODE_TIMEOUT).map(|(n, _)| n.clone()).collect();
            for node in &dead {
                tracing::info!(node = %node, "gateway: a node of the cluster went silent; its users go offline");
                reg.nodes.remove(node);
                let users: Vec<UserId> = reg.remote.keys().copied().collect();
                for user in users {
                    let Some(nodes) = reg.remote.get_mut(&user) else { continue };
                    let Some(r) = nodes.remove(node) else { continue };
                    if nodes.is_empty() {
                        reg.remote.remove(&user);
                        if !reg.presences.contains_key(&user) && r.presence.visible_status() != "offline" {
                            reg.orphans.insert(user, r.guilds);
                        }
                    }
                }
            }
            let announcer = reg.nodes.keys().all(|n| n.as_str() > me.as_str());
            if reg.orphans.is_empty() || !announcer {
                return;
            }
            std::mem::take(&mut reg.orphans)
        };
        for (user, guilds) in orphans {
            let offline = UserPresence { status: "offline".into(), activities: Vec::new() };
            self.announce_presence(user, &offline, &guilds, HashSet::new());
        }
    }

    /// Some node announced `user` offline.
    pub(super) fn announced_offline(&self, user: UserId) {
        if self.node.get().is_some() {
            self.registry().orphans.remove(&user);
        }
    }
}
