//! Typed snowflake ids: `Id<GuildMarker>` and `Id<ChannelMarker>` are
//! different types, so one can never be passed where the other belongs.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds from the Unix epoch to Discord's epoch (2015-01-01).
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

macro_rules! markers {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub struct $name;
    )*};
}
markers!(
    UserMarker,
    GuildMarker,
    ChannelMarker,
    MessageMarker,
    RoleMarker,
    ApplicationMarker,
    AutoModRuleMarker,
    EmojiMarker,
    StickerMarker,
    AttachmentMarker,
    CommandMarker,
    WebhookMarker,
    InteractionMarker,
    GenericMarker,
);

/// A snowflake id of one kind of entity, serialised as a decimal string.
pub struct Id<M> {
    value: NonZeroU64,
    marker: PhantomData<fn(M) -> M>,
}

impl<M> Id<M> {
    /// Panics when `n` is zero; use [`Id::new_checked`] for untrusted input.
    pub const fn new(n: u64) -> Self {
        match NonZeroU64::new(n) {
            Some(value) => Self { value, marker: PhantomData },
            None => panic!("id must be non-zero"),
        }
    }

    pub const fn new_checked(n: u64) -> Option<Self> {
        match NonZeroU64::new(n) {
            Some(value) => Some(Self { value, marker: PhantomData }),
            None => None,
        }
    }

    pub const fn get(self) -> u64 {
        self.value.get()
    }

    /// Same number, other kind: Discord reuses ids across kinds (the
    /// @everyone role has the guild's id, a bot user the application's).
    pub const fn cast<N>(self) -> Id<N> {
        Id { value: self.value, marker: PhantomData }
    }

    /// Unix milliseconds at which this id was minted.
    pub const fn timestamp_ms(self) -> u64 {
        (self.value.get() >> 22) + DISCORD_EPOCH_MS
    }
}

impl<M> Clone for Id<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Id<M> {}
impl<M> PartialEq for Id<M> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<M> Eq for Id<M> {}
impl<M> PartialOrd for Id<M> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Id<M> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl<M> Hash for Id<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}
impl<M> fmt::Debug for Id<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.value)
    }
}
impl<M> fmt::Display for Id<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError;

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Value is not snowflake.")
    }
}
impl std::error::Error for ParseIdError {}

impl<M> FromStr for Id<M> {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseIdError);
        }
        let n: u64 = s.parse().map_err(|_| ParseIdError)?;
        // Ids are stored as signed 64-bit integers; anything above i64::MAX
        // cannot exist and would not round-trip through the store.
        if n > i64::MAX as u64 {
            return Err(ParseIdError);
        }
        Self::new_checked(n).ok_or(ParseIdError)
    }
}

impl<M> Serialize for Id<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.value)
    }
}

impl<'de, M> Deserialize<'de> for Id<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor<M>(PhantomData<fn(M) -> M>);
        impl<M> Visitor<'_> for IdVisitor<M> {
            type Value = Id<M>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a snowflake as a string or integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if v > i64::MAX as u64 {
                    return Err(E::custom(ParseIdError));
                }
                Id::new_checked(v).ok_or_else(|| E::custom(ParseIdError))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v).ok().and_then(Id::new_checked).ok_or_else(|| E::custom(ParseIdError))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(IdVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_string_and_reads_both_forms() {
        let id: Id<GuildMarker> = Id::new(175928847299117063);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"175928847299117063\"");
        let a: Id<GuildMarker> = serde_json::from_str("\"175928847299117063\"").unwrap();
        let b: Id<GuildMarker> = serde_json::from_str("175928847299117063").unwrap();
        assert_eq!(a, id);
        assert_eq!(b, id);
        assert!(serde_json::from_str::<Id<GuildMarker>>("\"0\"").is_err());
        assert!(serde_json::from_str::<Id<GuildMarker>>("\"-1\"").is_err());
        assert!(serde_json::from_str::<Id<GuildMarker>>("\"12a\"").is_err());
        assert!(serde_json::from_str::<Id<GuildMarker>>("\"18446744073709551615\"").is_err());
    }

    #[test]
    fn timestamp_follows_discord_epoch() {
        // The example from Discord's documentation.
        let id: Id<UserMarker> = Id::new(175928847299117063);
        assert_eq!(id.timestamp_ms(), 1462015105796);
    }
}
