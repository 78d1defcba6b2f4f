//! Rows as the `permissions` crate reads them: roles, a member's timeout,
//! a channel's overwrites.

use model::Timestamp;
use permissions::{Overwrite, OverwriteTarget, Role};
use store::{MemberRow, OverwriteRow, RoleRow};

pub fn roles_of(rows: &[RoleRow]) -> Vec<Role> {
    rows.iter().map(|r| Role { id: r.id, permissions: r.permissions, position: r.position }).collect()
}

pub fn timed_out(member: &MemberRow) -> bool {
    member.communication_disabled_until.is_some_and(|t| t > Timestamp::now().unix_ms())
}

pub fn overwrites_of(rows: &[OverwriteRow]) -> Vec<Overwrite> {
    rows.iter()
        .filter_map(|o| {
            let target = match o.kind {
                0 => OverwriteTarget::Role(model::Id::new_checked(o.target_id)?),
                _ => OverwriteTarget::Member(model::Id::new_checked(o.target_id)?),
            };
            Some(Overwrite { target, allow: o.allow, deny: o.deny })
        })
        .collect()
}
