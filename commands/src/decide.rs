//! `decide`: state + command → events, or a rejection that says why in one line.
//!
//! Pure: it reads the state it is given, takes the time as an argument, draws no randomness
//! and does no I/O of its own. Each command's rule is its [`Decide`] impl, beside the command in
//! its domain's module; here are the [`State`] it reads, the [`Context`] it gets, the reference
//! resolution every domain shares, and [`decide`], which runs a rule and checks the events it
//! makes.

use mindlog_ledger::{Hash, PublicKey};

use crate::audit::Decision;
use crate::catalog::Command;
use crate::catalog::Event;
use crate::market::{ListingKind, Tier};
use crate::persona::Traits;
use crate::rejection::Rejection;
use crate::social::Target;
use crate::units::Micros;

/// What `decide` needs to know about a persona.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonaInfo {
    /// Its id: the hash of its creation (or fork) event.
    pub id: Hash,
    /// The author who created it: the only one who may change it.
    pub owner: PublicKey,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Whether it is retired.
    pub retired: bool,
    /// Its traits now.
    pub traits: Traits,
}

/// What `decide` needs to know about a commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentInfo {
    /// Its id: the hash of its `commitment.opened/1`.
    pub id: Hash,
    /// Its persona.
    pub persona: Hash,
    /// Whether it is still open.
    pub open: bool,
    /// Its status word: open, closed or expired.
    pub status: &'static str,
    /// When it is due.
    pub due: Option<Micros>,
}

/// What `decide` needs to know about a memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryInfo {
    /// Its id: the hash of its `memory.added/1`.
    pub id: Hash,
    /// Its persona.
    pub persona: Hash,
    /// Whether it was forgotten.
    pub forgotten: bool,
}

/// What `decide` needs to know about a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingInfo {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The author who created it: the only one who may change it.
    pub owner: PublicKey,
    /// What it is.
    pub kind: ListingKind,
    /// Its name.
    pub name: String,
    /// Whether it was withdrawn.
    pub withdrawn: bool,
    /// Its one-off price.
    pub price: Option<u64>,
    /// Its tiers.
    pub tiers: Vec<Tier>,
    /// Its currency.
    pub currency: String,
}

/// What `decide` needs to know about a booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingInfo {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The service.
    pub listing: Hash,
    /// When the booked slot starts (µs since the Unix epoch).
    pub start: Micros,
    /// When the booked slot ends (µs since the Unix epoch), after its start.
    pub end: Micros,
    /// Whether the listing's owner confirmed it.
    pub confirmed: bool,
}

/// What `decide` needs to know about a guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuildInfo {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The author who created it: the only one who may change it.
    pub owner: PublicKey,
    /// Its name.
    pub name: String,
}

/// What `decide` needs to know about a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportInfo {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The author who made the report.
    pub reporter: PublicKey,
    /// The author the report is about.
    pub subject: PublicKey,
}

/// What `decide` needs to know about a tool-call request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The agent that made it.
    pub author: PublicKey,
    /// The policy's decision.
    pub decision: Decision,
    /// The answer to an `ask`: approved (true) or denied (false).
    pub answer: Option<bool>,
    /// Whether a result was recorded.
    pub completed: bool,
}

/// The kinds of entity that have ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSpace {
    /// Personas: the hash of each `persona.created/1` or `persona.forked/1`.
    Persona,
    /// Commitments (within a persona).
    Commitment,
    /// Memories (within a persona).
    Memory,
    /// Listings: the hash of each `market.listing-published/1`.
    Listing,
    /// Bookings: the hash of each `market.booked/1`.
    Booking,
    /// Guilds: the hash of each `guild.created/1`.
    Guild,
    /// Reports: the hash of each `rep.reported/1`.
    Report,
    /// Tool-call requests: the hash of each `audit.tool-requested/1`.
    Request,
}

/// A failure to read the state (I/O); not a rejection.
pub type StateError = Box<dyn std::error::Error + Send + Sync>;

/// The views `decide` reads. Implemented by the projections over the store.
pub trait State {
    /// A persona by id.
    fn persona(&self, id: &Hash) -> Result<Option<PersonaInfo>, StateError>;
    /// The id of `owner`'s persona called `name`.
    fn persona_named(&self, owner: &PublicKey, name: &str) -> Result<Option<Hash>, StateError>;
    /// A commitment of `persona`, by id.
    fn commitment(&self, persona: &Hash, id: &Hash) -> Result<Option<CommitmentInfo>, StateError>;
    /// `owner`'s open commitments due before `now`, in id order.
    fn overdue_commitments(&self, owner: &PublicKey, now: Micros) -> Result<Vec<CommitmentInfo>, StateError>;
    /// A memory of `persona`, by id.
    fn memory(&self, persona: &Hash, id: &Hash) -> Result<Option<MemoryInfo>, StateError>;
    /// A listing by id.
    fn listing(&self, id: &Hash) -> Result<Option<ListingInfo>, StateError>;
    /// Whether `subscriber` has a live subscription to `listing`.
    fn subscribed(&self, listing: &Hash, subscriber: &PublicKey) -> Result<bool, StateError>;
    /// A booking by id.
    fn booking(&self, id: &Hash) -> Result<Option<BookingInfo>, StateError>;
    /// The slots of `listing` its owner has confirmed: (start, end, booking).
    fn confirmed_slots(&self, listing: &Hash) -> Result<Vec<(Micros, Micros, Hash)>, StateError>;
    /// A guild by id.
    fn guild(&self, id: &Hash) -> Result<Option<GuildInfo>, StateError>;
    /// The guilds called `name`.
    fn guilds_named(&self, name: &str) -> Result<Vec<Hash>, StateError>;
    /// Whether `who` is a member of `guild` now.
    fn is_member(&self, guild: &Hash, who: &PublicKey) -> Result<bool, StateError>;
    /// The guilds `owner` owns.
    fn guilds_owned(&self, owner: &PublicKey) -> Result<Vec<Hash>, StateError>;
    /// Whether `follower` follows `target` now.
    fn follows(&self, follower: &PublicKey, target: &Target) -> Result<bool, StateError>;
    /// Whether `voucher` vouches for `subject` now.
    fn vouches(&self, voucher: &PublicKey, subject: &PublicKey) -> Result<bool, StateError>;
    /// A report by id.
    fn report(&self, id: &Hash) -> Result<Option<ReportInfo>, StateError>;
    /// A tool-call request by id.
    fn request(&self, id: &Hash) -> Result<Option<RequestInfo>, StateError>;
    /// Ids in `space` whose lowercase hex starts with `prefix`, at most `limit`, in order.
    /// Commitments and memories are looked for among `within`'s; the rest among all.
    fn ids_with_prefix(
        &self,
        space: IdSpace,
        within: Option<&Hash>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Hash>, StateError>;
}

/// Why `decide` did not produce events.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The command is refused.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The state could not be read.
    #[error("reading the views: {0}")]
    State(StateError),
}

impl From<StateError> for DecideError {
    fn from(e: StateError) -> Self {
        DecideError::State(e)
    }
}

/// What a rule returns.
pub(crate) type Decided = Result<Vec<Event>, DecideError>;

/// What a rule may know: the views, who issues the command, and when.
pub(crate) struct Context<'a> {
    /// The views.
    pub(crate) state: &'a dyn State,
    /// Who issues the command.
    pub(crate) author: &'a PublicKey,
    /// When, in microseconds since the epoch.
    pub(crate) now: Micros,
}

/// A command's rule: the events it becomes in a context, or why not. Every command implements
/// it (the `commands!` list in command.rs calls it), so a command without a rule does not compile.
///
/// A rule checks what needs the views or the time (exists, owner, retired, already done, due in
/// the past) and builds its events; the events' own rules (`Event::check`) and the payload size
/// are checked by [`decide`] afterwards.
pub(crate) trait Decide {
    /// The events this command becomes, issued by `cx.author` at `cx.now` against `cx.state`.
    fn decide(&self, cx: &Context<'_>) -> Decided;
}

/// Decides `command`, issued by `author` at `now`, against `state`: the command's rule, then
/// every event's state-free rules (`Event::check`) and size.
pub fn decide(state: &dyn State, author: &PublicKey, now: Micros, command: &Command) -> Decided {
    let events = command.decide(&Context { state, author, now })?;
    for event in &events {
        event.check()?;
        let size = event.encode().len();
        if size > mindlog_ledger::MAX_PAYLOAD_LEN {
            return Err(Rejection::EventTooLarge { size, max: mindlog_ledger::MAX_PAYLOAD_LEN }.into());
        }
    }
    Ok(events)
}

/// The persona `reference` names for `author`: the author's persona of that name, or the
/// persona with that id or unambiguous id prefix (anyone's).
pub fn resolve_persona(state: &dyn State, author: &PublicKey, reference: &str) -> Result<PersonaInfo, DecideError> {
    Context { state, author, now: 0 }.resolve_persona(reference)
}

/// The one id of `space` that `reference` names — a whole id or an unambiguous prefix of 4 or
/// more lowercase hex characters — by the rules `decide` resolves references with.
pub fn resolve_id(state: &dyn State, space: IdSpace, what: &'static str, reference: &str) -> Result<Hash, DecideError> {
    unique_id(state, space, None, what, reference, |_| Ok(true))?
        .ok_or_else(|| Rejection::Unknown { what, reference: reference.to_owned() }.into())
}

/// A decision that is exactly one event.
pub(crate) fn one(event: Event) -> Decided {
    Ok(vec![event])
}

/// Whether `text` could be an id or id prefix (4 to 64 lowercase hex characters).
fn looks_like_id(text: &str) -> bool {
    (4..=64).contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Context<'_> {
    /// A persona by the author's name for it, or by id or unambiguous id prefix.
    pub(crate) fn resolve_persona(&self, reference: &str) -> Result<PersonaInfo, DecideError> {
        let unknown = || Rejection::UnknownPersona(reference.to_owned());
        let id = match self.state.persona_named(self.author, reference)? {
            Some(id) => Some(id),
            None => unique_id(self.state, IdSpace::Persona, None, "persona", reference, |_| Ok(true))?,
        };
        Ok(self.state.persona(&id.ok_or_else(unknown)?)?.ok_or_else(unknown)?)
    }

    /// A persona the author owns and may still change.
    pub(crate) fn own_active(&self, reference: &str) -> Result<PersonaInfo, DecideError> {
        let p = self.resolve_persona(reference)?;
        if p.owner != *self.author {
            return Err(Rejection::NotOwner { name: p.name, owner: p.owner }.into());
        }
        if p.retired {
            return Err(Rejection::Retired(p.name).into());
        }
        Ok(p)
    }

    /// The one id in `space` that `reference` names, or `Unknown { what }`.
    pub(crate) fn resolve(&self, space: IdSpace, what: &'static str, reference: &str) -> Result<Hash, DecideError> {
        resolve_id(self.state, space, what, reference)
    }
}

/// The one id in `space` starting with `reference` that passes `keep`; `None` if there is none.
pub(crate) fn unique_id(
    state: &dyn State,
    space: IdSpace,
    within: Option<&Hash>,
    what: &'static str,
    reference: &str,
    keep: impl Fn(&Hash) -> Result<bool, StateError>,
) -> Result<Option<Hash>, DecideError> {
    if !looks_like_id(reference) {
        return Ok(None);
    }
    if let Ok(id) = reference.parse::<Hash>() {
        // A whole id: no prefix search needed.
        return Ok(keep(&id)?.then_some(id));
    }
    let mut found = Vec::new();
    for id in state.ids_with_prefix(space, within, reference, 64)? {
        if keep(&id)? {
            found.push(id);
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        count => Err(Rejection::Ambiguous { what, reference: reference.to_owned(), count }.into()),
    }
}

/// A public key given as text (`member`, `subject`).
pub(crate) fn parse_key(what: &'static str, text: &str) -> Result<PublicKey, Rejection> {
    text.parse().map_err(|_| Rejection::NotAKey { what, value: text.to_owned() })
}
