//! The community's event payloads: follows, guilds, awards.

use mindlog_ledger::{Hash, PublicKey};
use serde::{Deserialize, Serialize};

/// Whom one follows: an author or a persona. In JSON `{"key": "…"}` or `{"persona": "…"}`; in
/// postcard a variant index (0 key, 1 persona) and the 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// An author, by public key.
    Key(PublicKey),
    /// A persona, by id.
    Persona(Hash),
}

impl Target {
    /// 0x00 for a key, 0x01 for a persona, then the 32 bytes: the view key form.
    pub fn key_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        let (tag, bytes) = match self {
            Target::Key(k) => (0, k.as_bytes()),
            Target::Persona(p) => (1, p.as_bytes()),
        };
        out[0] = tag;
        out[1..].copy_from_slice(bytes);
        out
    }

    /// From [`Target::key_bytes`].
    pub fn from_key_bytes(bytes: &[u8]) -> Option<Target> {
        let id: [u8; 32] = bytes.get(1..33)?.try_into().ok()?;
        match bytes.first()? {
            0 => Some(Target::Key(PublicKey(id))),
            1 => Some(Target::Persona(Hash(id))),
            _ => None,
        }
    }
}

/// `social.followed/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followed {
    /// Whom.
    pub target: Target,
}

/// `social.unfollowed/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfollowed {
    /// Whom.
    pub target: Target,
}

/// `guild.created/1`: a guild owned (and joined) by the author. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildCreated {
    /// Its name.
    pub name: String,
}

/// `guild.joined/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildJoined {
    /// The guild.
    pub guild: Hash,
}

/// `guild.left/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildLeft {
    /// The guild.
    pub guild: Hash,
}

/// `guild.awarded/1`: a guild's owner gives a member a badge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awarded {
    /// The guild.
    pub guild: Hash,
    /// The member.
    pub member: PublicKey,
    /// The badge, e.g. first-plugin.
    pub badge: String,
}
