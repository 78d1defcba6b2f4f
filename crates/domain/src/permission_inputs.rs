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

/// A permission set from a decimal string or a number.
pub fn permission_bits(v: &Option<serde_json::Value>) -> Option<u64> {
    let bits = match v {
        None | Some(serde_json::Value::Null) => Some(0),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    }?;
    (bits & !model::permissions::ALL == 0).then_some(bits)
}
