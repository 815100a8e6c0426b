//! `MemState`: the state `decide` needs, kept in memory and folded from events. `mindlog gen`
//! decides its synthetic commands against one per author; tests use it too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mindlog_ledger::{Hash, PublicKey};

use crate::audit::Decision;
use crate::catalog::Event;
use crate::decide::{
    BookingInfo, CommitmentInfo, GuildInfo, IdSpace, ListingInfo, MemoryInfo, PersonaInfo, ReportInfo, RequestInfo,
    State, StateError,
};
use crate::social::Target;
use crate::units::{Micros, Units};

/// Personas, commitments and memories, folded from events in feed order.
///
/// Every question `decide` or `gen` asks is answered from an index, so folding millions of
/// events stays linear.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    personas: BTreeMap<Hash, PersonaInfo>,
    names: HashMap<(PublicKey, String), Hash>,
    commitments: BTreeMap<Hash, CommitmentInfo>,
    memories: BTreeMap<Hash, MemoryInfo>,
    /// Active personas per owner.
    active: HashMap<PublicKey, BTreeSet<Hash>>,
    /// Open commitments per persona.
    open: HashMap<Hash, BTreeSet<Hash>>,
    /// Open commitments with a due time, by (due, id).
    due: BTreeSet<(Micros, Hash)>,
    /// Memories not forgotten, per persona.
    live: HashMap<Hash, BTreeSet<Hash>>,
    pub(crate) listings: BTreeMap<Hash, ListingInfo>,
    subscriptions: HashSet<(Hash, PublicKey)>,
    pub(crate) bookings: BTreeMap<Hash, BookingInfo>,
    slots: HashMap<Hash, Vec<(Micros, Micros, Hash)>>,
    guilds: BTreeMap<Hash, GuildInfo>,
    guild_names: HashMap<String, BTreeSet<Hash>>,
    members: HashSet<(Hash, PublicKey)>,
    follows: HashSet<(PublicKey, Target)>,
    vouches: HashSet<(PublicKey, PublicKey)>,
    reports: BTreeMap<Hash, ReportInfo>,
    pub(crate) requests: BTreeMap<Hash, RequestInfo>,
}

impl MemState {
    /// Folds one event, authored by `author`, whose hash is `hash`. Events that break their
    /// kind's state-free rules (`Event::check`) are ignored, as the projections ignore them, and
    /// so are events the views ignore for a reason that needs state: changes to what their author
    /// does not own, a trait change that would leave [0, 1], a booking confirmed twice or over a
    /// confirmed slot, following, vouching for or reporting oneself, an owner leaving their guild,
    /// a result for a request not allowed to run or recorded already. Not seen here: the event's
    /// timestamp, so an expiry before its commitment's due time, which the view ignores, is
    /// applied.
    pub fn apply(&mut self, author: &PublicKey, hash: Hash, event: &Event) {
        if event.check().is_err() {
            return;
        }
        let owns = |state: &MemState, persona: &Hash| {
            state.personas.get(persona).is_some_and(|p| p.owner == *author && !p.retired)
        };
        match event {
            Event::PersonaCreated(e) => {
                self.add_persona(*author, hash, &e.name, &e.description, crate::Traits::NEUTRAL)
            }
            Event::PersonaForked(e) => self.add_persona(*author, hash, &e.name, &e.description, e.traits),
            Event::TraitsChanged(e) if owns(self, &e.persona) => {
                // As the view: a change that would take a trait out of [0, 1] is ignored.
                if let Some(p) = self.personas.get_mut(&e.persona) {
                    let after = p.traits.plus(&e.deltas);
                    if after.values().iter().all(|v| (Units::ZERO..=Units::ONE).contains(v)) {
                        p.traits = after;
                    }
                }
            }
            Event::PersonaRetired(e) if owns(self, &e.persona) => {
                if let Some(p) = self.personas.get_mut(&e.persona) {
                    p.retired = true;
                }
                if let Some(set) = self.active.get_mut(author) {
                    set.remove(&e.persona);
                }
            }
            Event::CommitmentOpened(e) if owns(self, &e.persona) => {
                self.commitments.insert(
                    hash,
                    CommitmentInfo { id: hash, persona: e.persona, open: true, status: "open", due: e.due },
                );
                self.open.entry(e.persona).or_default().insert(hash);
                if let Some(due) = e.due {
                    self.due.insert((due, hash));
                }
            }
            Event::CommitmentClosed(e) if owns(self, &e.persona) => {
                self.end_commitment(&e.commitment, &e.persona, "closed")
            }
            Event::CommitmentExpired(e) if owns(self, &e.persona) => {
                self.end_commitment(&e.commitment, &e.persona, "expired")
            }
            Event::MemoryAdded(e) if owns(self, &e.persona) => {
                self.memories.insert(hash, MemoryInfo { id: hash, persona: e.persona, forgotten: false });
                self.live.entry(e.persona).or_default().insert(hash);
            }
            Event::MemoryForgotten(e) if owns(self, &e.persona) => {
                if let Some(m) = self.memories.get_mut(&e.memory).filter(|m| m.persona == e.persona) {
                    m.forgotten = true;
                    if let Some(set) = self.live.get_mut(&e.persona) {
                        set.remove(&e.memory);
                    }
                }
            }
            Event::ListingPublished(e) => {
                self.listings.insert(
                    hash,
                    ListingInfo {
                        id: hash,
                        owner: *author,
                        kind: e.kind,
                        name: e.name.clone(),
                        withdrawn: false,
                        price: e.price,
                        tiers: e.tiers.clone(),
                        currency: e.currency.clone(),
                    },
                );
            }
            Event::ListingUpdated(e) => {
                if let Some(l) = self.listings.get_mut(&e.listing).filter(|l| l.owner == *author && !l.withdrawn) {
                    if e.price.is_some() {
                        l.price = e.price;
                    }
                    if let Some(tiers) = &e.tiers {
                        l.tiers = tiers.clone();
                    }
                }
            }
            Event::ListingWithdrawn(e) => {
                if let Some(l) = self.listings.get_mut(&e.listing).filter(|l| l.owner == *author) {
                    l.withdrawn = true;
                }
            }
            Event::Subscribed(e) => {
                self.subscriptions.insert((e.listing, *author));
            }
            Event::Unsubscribed(e) => {
                self.subscriptions.remove(&(e.listing, *author));
            }
            Event::BookingRequested(e) => {
                let booking =
                    BookingInfo { id: hash, listing: e.listing, start: e.start, end: e.end, confirmed: false };
                self.bookings.insert(hash, booking);
            }
            Event::BookingConfirmed(e) if self.listings.get(&e.listing).is_some_and(|l| l.owner == *author) => {
                // As the view: once per booking, never two overlapping slots; slots in (start, booking) order.
                let slots = self.slots.entry(e.listing).or_default();
                if slots.iter().any(|(s, end, b)| *b == e.booking || (*s < e.end && e.start < *end)) {
                    return;
                }
                let at = slots.partition_point(|(s, _, b)| (*s, *b) < (e.start, e.booking));
                slots.insert(at, (e.start, e.end, e.booking));
                // A booking is confirmed when its own listing holds its slot.
                if let Some(b) = self.bookings.get_mut(&e.booking).filter(|b| b.listing == e.listing) {
                    b.confirmed = true;
                }
            }
            Event::Followed(e) if e.target != Target::Key(*author) => {
                self.follows.insert((*author, e.target));
            }
            Event::Unfollowed(e) => {
                self.follows.remove(&(*author, e.target));
            }
            Event::GuildCreated(e) => {
                self.guilds.insert(hash, GuildInfo { id: hash, owner: *author, name: e.name.clone() });
                self.guild_names.entry(e.name.clone()).or_default().insert(hash);
                self.members.insert((hash, *author));
            }
            Event::GuildJoined(e) => {
                self.members.insert((e.guild, *author));
            }
            Event::GuildLeft(e) if self.guilds.get(&e.guild).is_none_or(|g| g.owner != *author) => {
                self.members.remove(&(e.guild, *author));
            }
            Event::Vouched(e) if e.subject != *author => {
                self.vouches.insert((*author, e.subject));
            }
            Event::Unvouched(e) => {
                self.vouches.remove(&(*author, e.subject));
            }
            Event::Reported(e) if e.subject != *author => {
                self.reports.insert(hash, ReportInfo { id: hash, reporter: *author, subject: e.subject });
            }
            Event::ToolRequested(e) => {
                let request =
                    RequestInfo { id: hash, author: *author, decision: e.decision, answer: None, completed: false };
                self.requests.insert(hash, request);
            }
            Event::Approved(e) | Event::Denied(e) => {
                let approved = matches!(event, Event::Approved(_));
                if let Some(r) = self
                    .requests
                    .get_mut(&e.request)
                    .filter(|r| r.author == *author && r.decision == Decision::Ask && r.answer.is_none())
                {
                    r.answer = Some(approved);
                }
            }
            Event::ToolCompleted(e) => {
                // As the view: only the requester, once, and only for a request allowed to run.
                let may_run = |r: &RequestInfo| match r.decision {
                    Decision::Allow => true,
                    Decision::Deny => false,
                    Decision::Ask => r.answer == Some(true),
                };
                if let Some(r) =
                    self.requests.get_mut(&e.request).filter(|r| r.author == *author && may_run(r) && !r.completed)
                {
                    r.completed = true;
                }
            }
            _ => {}
        }
    }

    fn add_persona(&mut self, owner: PublicKey, id: Hash, name: &str, description: &str, traits: crate::Traits) {
        if self.names.contains_key(&(owner, name.to_owned())) {
            return;
        }
        self.names.insert((owner, name.to_owned()), id);
        self.active.entry(owner).or_default().insert(id);
        let info = PersonaInfo {
            id,
            owner,
            name: name.to_owned(),
            description: description.to_owned(),
            retired: false,
            traits,
        };
        self.personas.insert(id, info);
    }

    fn end_commitment(&mut self, id: &Hash, persona: &Hash, status: &'static str) {
        if let Some(c) = self.commitments.get_mut(id).filter(|c| c.persona == *persona && c.open) {
            c.open = false;
            c.status = status;
            if let Some(due) = c.due {
                self.due.remove(&(due, *id));
            }
            if let Some(set) = self.open.get_mut(persona) {
                set.remove(id);
            }
        }
    }

    /// `owner`'s personas that are not retired, in id order.
    pub fn active_personas(&self, owner: &PublicKey) -> impl Iterator<Item = &PersonaInfo> {
        self.active.get(owner).into_iter().flatten().filter_map(|id| self.personas.get(id))
    }

    /// The open commitments of `persona`, in id order.
    pub(crate) fn open_commitments(&self, persona: &Hash) -> impl Iterator<Item = &CommitmentInfo> {
        self.open.get(persona).into_iter().flatten().filter_map(|id| self.commitments.get(id))
    }

    /// The memories of `persona` not forgotten, in id order.
    pub fn live_memories(&self, persona: &Hash) -> impl Iterator<Item = &MemoryInfo> {
        self.live.get(persona).into_iter().flatten().filter_map(|id| self.memories.get(id))
    }
}

impl State for MemState {
    fn persona(&self, id: &Hash) -> Result<Option<PersonaInfo>, StateError> {
        Ok(self.personas.get(id).cloned())
    }
    fn persona_named(&self, owner: &PublicKey, name: &str) -> Result<Option<Hash>, StateError> {
        Ok(self.names.get(&(*owner, name.to_owned())).copied())
    }
    fn commitment(&self, persona: &Hash, id: &Hash) -> Result<Option<CommitmentInfo>, StateError> {
        Ok(self.commitments.get(id).filter(|c| c.persona == *persona).cloned())
    }
    fn overdue_commitments(&self, owner: &PublicKey, now: Micros) -> Result<Vec<CommitmentInfo>, StateError> {
        let mut out: Vec<CommitmentInfo> = self
            .due
            .iter()
            .take_while(|(due, _)| *due < now)
            .filter_map(|(_, id)| self.commitments.get(id))
            .filter(|c| self.personas.get(&c.persona).is_some_and(|p| p.owner == *owner))
            .cloned()
            .collect();
        out.sort_by_key(|c| c.id);
        Ok(out)
    }
    fn memory(&self, persona: &Hash, id: &Hash) -> Result<Option<MemoryInfo>, StateError> {
        Ok(self.memories.get(id).filter(|m| m.persona == *persona).cloned())
    }
    fn listing(&self, id: &Hash) -> Result<Option<ListingInfo>, StateError> {
        Ok(self.listings.get(id).cloned())
    }
    fn subscribed(&self, listing: &Hash, subscriber: &PublicKey) -> Result<bool, StateError> {
        Ok(self.subscriptions.contains(&(*listing, *subscriber)))
    }
    fn booking(&self, id: &Hash) -> Result<Option<BookingInfo>, StateError> {
        Ok(self.bookings.get(id).cloned())
    }
    fn confirmed_slots(&self, listing: &Hash) -> Result<Vec<(Micros, Micros, Hash)>, StateError> {
        Ok(self.slots.get(listing).cloned().unwrap_or_default())
    }
    fn guild(&self, id: &Hash) -> Result<Option<GuildInfo>, StateError> {
        Ok(self.guilds.get(id).cloned())
    }
    fn guilds_named(&self, name: &str) -> Result<Vec<Hash>, StateError> {
        Ok(self.guild_names.get(name).into_iter().flatten().copied().collect())
    }
    fn is_member(&self, guild: &Hash, who: &PublicKey) -> Result<bool, StateError> {
        Ok(self.members.contains(&(*guild, *who)))
    }
    fn guilds_owned(&self, owner: &PublicKey) -> Result<Vec<Hash>, StateError> {
        Ok(self.guilds.values().filter(|g| g.owner == *owner).map(|g| g.id).collect())
    }
    fn follows(&self, follower: &PublicKey, target: &Target) -> Result<bool, StateError> {
        Ok(self.follows.contains(&(*follower, *target)))
    }
    fn vouches(&self, voucher: &PublicKey, subject: &PublicKey) -> Result<bool, StateError> {
        Ok(self.vouches.contains(&(*voucher, *subject)))
    }
    fn report(&self, id: &Hash) -> Result<Option<ReportInfo>, StateError> {
        Ok(self.reports.get(id).cloned())
    }
    fn request(&self, id: &Hash) -> Result<Option<RequestInfo>, StateError> {
        Ok(self.requests.get(id).cloned())
    }
    fn ids_with_prefix(
        &self,
        space: IdSpace,
        within: Option<&Hash>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Hash>, StateError> {
        // As the views: commitments and memories are looked for only within a persona.
        if within.is_none() && matches!(space, IdSpace::Commitment | IdSpace::Memory) {
            return Ok(Vec::new());
        }
        // Start at the first id with the prefix's whole bytes; stop at the first that no longer matches.
        let mut start = [0u8; 32];
        for (i, slot) in start.iter_mut().enumerate().take(prefix.len() / 2) {
            *slot = prefix.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
        }
        let inside = |persona: &Hash| within.is_none_or(|w| w == persona);
        let keys: Box<dyn Iterator<Item = &Hash>> = match space {
            IdSpace::Persona => Box::new(self.personas.range(Hash(start)..).map(|(k, _)| k)),
            IdSpace::Commitment => {
                Box::new(self.commitments.range(Hash(start)..).filter(|(_, c)| inside(&c.persona)).map(|(k, _)| k))
            }
            IdSpace::Memory => {
                Box::new(self.memories.range(Hash(start)..).filter(|(_, m)| inside(&m.persona)).map(|(k, _)| k))
            }
            IdSpace::Listing => Box::new(self.listings.range(Hash(start)..).map(|(k, _)| k)),
            IdSpace::Booking => Box::new(self.bookings.range(Hash(start)..).map(|(k, _)| k)),
            IdSpace::Guild => Box::new(self.guilds.range(Hash(start)..).map(|(k, _)| k)),
            IdSpace::Report => Box::new(self.reports.range(Hash(start)..).map(|(k, _)| k)),
            IdSpace::Request => Box::new(self.requests.range(Hash(start)..).map(|(k, _)| k)),
        };
        let whole = prefix.len() / 2;
        Ok(keys
            .take_while(|id| id.0[..whole] == start[..whole])
            .filter(|id| id.to_string().starts_with(prefix))
            .take(limit)
            .copied()
            .collect())
    }
}
