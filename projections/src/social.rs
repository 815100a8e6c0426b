//! The `social` view: follows (both directions), guilds, members and awards.

use mindlog_commands::{Event, Micros, Target};
use mindlog_ledger::redb::ReadableTable;
use mindlog_ledger::{DerivedWriteTxn, Hash, PublicKey, StorageError};
use serde::{Deserialize, Serialize};

use crate::rows::{Cached, RawTable, def, encode, key};
use crate::runner::{Applied, Decoded, Fold, Projection};

pub(crate) const FOLLOWS: &str = "view.follows";
pub(crate) const GUILDS: &str = "view.guilds";
pub(crate) const GUILD_NAMES: &str = "view.guild_names";
pub(crate) const MEMBERS: &str = "view.guild_members";
pub(crate) const MEMBER_OF: &str = "view.member_guilds";
pub(crate) const AWARDS: &str = "view.awards";

/// A follow (`view.follows`, key: follower ‖ target (33 bytes: 00 ‖ key or 01 ‖ persona)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowRow {
    /// When the follow was made (µs since the Unix epoch).
    pub since: Micros,
}

/// A guild (`view.guilds`, key: id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildRow {
    /// Its owner (always a member).
    pub owner: PublicKey,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created: Micros,
}

/// A membership (`view.guild_members`, key: guild ‖ member; `view.member_guilds`: member ‖ guild).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    /// When the member joined (µs since the Unix epoch).
    pub joined: Micros,
}

/// An award (`view.awards`, key: member ‖ guild ‖ badge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardRow {
    /// When the badge was awarded (µs since the Unix epoch).
    pub at: Micros,
}

/// The social view.
pub(crate) struct SocialView;

impl Projection for SocialView {
    fn name(&self) -> &'static str {
        "social"
    }
    fn version(&self) -> u32 {
        // 2: no `view.followers` (a reverse index nothing read). 3: events that fail
        // `Event::check` (guild names, badges) are ignored.
        3
    }
    fn tables(&self) -> &'static [&'static str] {
        &[FOLLOWS, GUILDS, GUILD_NAMES, MEMBERS, MEMBER_OF, AWARDS]
    }
    fn fold<'t>(&self, txn: &'t DerivedWriteTxn) -> Result<Box<dyn Fold + 't>, StorageError> {
        Ok(Box::new(SocialFold {
            guilds: Cached::open(txn, GUILDS)?,
            follows: txn.open_table(def(FOLLOWS))?,
            names: txn.open_table(def(GUILD_NAMES))?,
            members: txn.open_table(def(MEMBERS))?,
            member_of: txn.open_table(def(MEMBER_OF))?,
            awards: txn.open_table(def(AWARDS))?,
        }))
    }
}

struct SocialFold<'t> {
    guilds: Cached<'t, GuildRow>,
    follows: RawTable<'t>,
    names: RawTable<'t>,
    members: RawTable<'t>,
    member_of: RawTable<'t>,
    awards: RawTable<'t>,
}

impl SocialFold<'_> {
    fn join(&mut self, guild: &Hash, member: &PublicKey, at: Micros) -> Result<bool, StorageError> {
        let k = key(&[guild.as_bytes(), member.as_bytes()]);
        if self.members.get(k.as_slice())?.is_some() {
            return Ok(false);
        }
        self.members.insert(k.as_slice(), encode(&MemberRow { joined: at }).as_slice())?;
        self.member_of.insert(key(&[member.as_bytes(), guild.as_bytes()]).as_slice(), [].as_slice())?;
        Ok(true)
    }
}

impl Fold for SocialFold<'_> {
    fn apply(&mut self, e: &Decoded) -> Result<Applied, StorageError> {
        let Some(event) = &e.event else { return Ok(Applied::Irrelevant) };
        let applied = match event {
            Event::Followed(x) => {
                if x.target == Target::Key(e.author) {
                    return Ok(Applied::Ignored);
                }
                let k = key(&[e.author.as_bytes(), &x.target.key_bytes()]);
                if self.follows.get(k.as_slice())?.is_some() {
                    false
                } else {
                    let row = encode(&FollowRow { since: e.ts });
                    self.follows.insert(k.as_slice(), row.as_slice())?;
                    true
                }
            }
            Event::Unfollowed(x) => {
                self.follows.remove(key(&[e.author.as_bytes(), &x.target.key_bytes()]).as_slice())?.is_some()
            }
            Event::GuildCreated(x) => {
                self.guilds
                    .put(e.hash.as_bytes().to_vec(), GuildRow { owner: e.author, name: x.name.clone(), created: e.ts });
                self.names.insert(key(&[x.name.as_bytes(), &[0], e.hash.as_bytes()]).as_slice(), [].as_slice())?;
                self.join(&e.hash, &e.author, e.ts)?
            }
            Event::GuildJoined(x) => self.join(&x.guild, &e.author, e.ts)?,
            Event::GuildLeft(x) => {
                // An owner cannot leave: their guild is known to them (its creation came first).
                if self.guilds.get(x.guild.as_bytes())?.is_some_and(|g| g.owner == e.author) {
                    false
                } else {
                    let removed =
                        self.members.remove(key(&[x.guild.as_bytes(), e.author.as_bytes()]).as_slice())?.is_some();
                    if removed {
                        self.member_of.remove(key(&[e.author.as_bytes(), x.guild.as_bytes()]).as_slice())?;
                    }
                    removed
                }
            }
            Event::Awarded(x) => {
                if self.guilds.get(x.guild.as_bytes())?.is_none_or(|g| g.owner != e.author) {
                    false
                } else {
                    let k = key(&[x.member.as_bytes(), x.guild.as_bytes(), x.badge.as_bytes()]);
                    self.awards.insert(k.as_slice(), encode(&AwardRow { at: e.ts }).as_slice())?;
                    true
                }
            }
            _ => return Ok(Applied::Irrelevant),
        };
        Ok(if applied { Applied::Applied } else { Applied::Ignored })
    }

    fn finish(self: Box<Self>) -> Result<(), StorageError> {
        self.guilds.flush()
    }
}
