//! The community: follows, guilds, awards — the event payloads with their state-free rules
//! (`Check`), and the commands with their rules (`Decide`).

use mindlog_ledger::{Hash, PublicKey};
use serde::{Deserialize, Serialize};

use crate::catalog::Event;
use crate::check::{self, Check};
use crate::decide::{Context, Decide, DecideError, Decided, GuildInfo, IdSpace, one, parse_key, unique_id};
use crate::rejection::Rejection;

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
    /// The author or persona followed.
    pub target: Target,
}

/// `social.unfollowed/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfollowed {
    /// The author or persona followed.
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

// State-free rules of the payloads. (Following, attesting or reporting oneself needs the
// author, not only the payload: decide and the folds check it.)

impl Check for Followed {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Unfollowed {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for GuildCreated {
    fn check(&self) -> Result<(), Rejection> {
        check::word("guild name", &self.name, 64)
    }
}

impl Check for GuildJoined {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for GuildLeft {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Awarded {
    fn check(&self) -> Result<(), Rejection> {
        check::word("badge", &self.badge, 64)
    }
}

// The commands and their rules.

/// `follow`: follow an author (public key) or a persona.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Follow {
    /// Public key, identity name, or persona (name, id or id prefix)
    pub target: String,
}

impl Decide for Follow {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let t = cx.resolve_target(&self.target)?;
        if t == Target::Key(*cx.author) {
            return Err(Rejection::SelfReference("follow").into());
        }
        if cx.state.follows(cx.author, &t)? {
            return Err(Rejection::AlreadyFollowing { target: self.target.clone() }.into());
        }
        one(Event::Followed(Followed { target: t }))
    }
}

/// `unfollow`: stop following.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Unfollow {
    /// Public key, identity name, or persona
    pub target: String,
}

impl Decide for Unfollow {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let t = cx.resolve_target(&self.target)?;
        if !cx.state.follows(cx.author, &t)? {
            return Err(Rejection::NotFollowing { target: self.target.clone() }.into());
        }
        one(Event::Unfollowed(Unfollowed { target: t }))
    }
}

/// `guild.create`: create a guild the author owns (and is the first member of).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct GuildCreate {
    /// Its name
    pub name: String,
}

impl Decide for GuildCreate {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        for id in cx.state.guilds_named(&self.name)? {
            if cx.state.guild(&id)?.is_some_and(|g| g.owner == *cx.author) {
                return Err(Rejection::GuildNameTaken(self.name.clone()).into());
            }
        }
        one(Event::GuildCreated(GuildCreated { name: self.name.clone() }))
    }
}

/// `guild.join`: join a guild.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct GuildJoin {
    /// Its name (when unique) or id or id prefix
    pub guild: String,
}

impl Decide for GuildJoin {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let g = cx.resolve_guild(&self.guild)?;
        if cx.state.is_member(&g.id, cx.author)? {
            return Err(Rejection::AlreadyMember { guild: g.name }.into());
        }
        one(Event::GuildJoined(GuildJoined { guild: g.id }))
    }
}

/// `guild.leave`: leave a guild (its owner cannot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct GuildLeave {
    /// Its name or id
    pub guild: String,
}

impl Decide for GuildLeave {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let g = cx.resolve_guild(&self.guild)?;
        if g.owner == *cx.author {
            return Err(Rejection::OwnerCannotLeave { guild: g.name }.into());
        }
        if !cx.state.is_member(&g.id, cx.author)? {
            return Err(Rejection::NotMember { guild: g.name }.into());
        }
        one(Event::GuildLeft(GuildLeft { guild: g.id }))
    }
}

/// `award`: give a member of a guild the author owns a badge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Award {
    /// The member (public key or local identity name)
    pub member: String,
    /// The badge, e.g. first-plugin
    #[cfg_attr(feature = "cli", arg(long))]
    pub badge: String,
    /// The guild, if you own several the member belongs to
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub guild: Option<String>,
}

impl Decide for Award {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let member = parse_key("member", &self.member)?;
        let g = match &self.guild {
            Some(g) => {
                let g = cx.resolve_guild(g)?;
                if g.owner != *cx.author {
                    return Err(Rejection::NotYours { what: "guild", name: g.name, action: "give its badges" }.into());
                }
                if !cx.state.is_member(&g.id, &member)? {
                    return Err(Rejection::NotInGuild { member: self.member.clone(), guild: g.name }.into());
                }
                g
            }
            None => {
                let mut candidates = Vec::new();
                for id in cx.state.guilds_owned(cx.author)? {
                    if cx.state.is_member(&id, &member)?
                        && let Some(g) = cx.state.guild(&id)?
                    {
                        candidates.push(g);
                    }
                }
                match candidates.len() {
                    0 => return Err(Rejection::NotInYourGuilds { member: self.member.clone() }.into()),
                    1 => candidates.remove(0),
                    count => {
                        return Err(Rejection::InSeveralGuilds { member: self.member.clone(), count }.into());
                    }
                }
            }
        };
        one(Event::Awarded(Awarded { guild: g.id, member, badge: self.badge.clone() }))
    }
}

impl Context<'_> {
    /// A guild by name (when only one guild has it) or id or id prefix.
    fn resolve_guild(&self, reference: &str) -> Result<GuildInfo, DecideError> {
        let unknown = || Rejection::Unknown { what: "guild", reference: reference.to_owned() };
        let named = self.state.guilds_named(reference)?;
        let id = match named.len() {
            1 => Some(named[0]),
            0 => unique_id(self.state, IdSpace::Guild, None, "guild", reference, |_| Ok(true))?,
            count => {
                return Err(Rejection::Ambiguous { what: "guild name", reference: reference.to_owned(), count }.into());
            }
        };
        Ok(self.state.guild(&id.ok_or_else(unknown)?)?.ok_or_else(unknown)?)
    }

    /// A follow target: a persona (by the author's name for it, or id) or else a public key.
    fn resolve_target(&self, reference: &str) -> Result<Target, DecideError> {
        if let Ok(id) = reference.parse::<Hash>()
            && self.state.persona(&id)?.is_some()
        {
            return Ok(Target::Persona(id));
        }
        if let Ok(key) = reference.parse::<PublicKey>() {
            return Ok(Target::Key(key));
        }
        Ok(Target::Persona(self.resolve_persona(reference)?.id))
    }
}
