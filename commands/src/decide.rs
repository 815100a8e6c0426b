//! `decide`: state + command → events, or a rejection that says why in one line.
//!
//! Pure: it reads the state it is given, takes the time as an argument, draws no randomness
//! and does no I/O of its own.

use mindlog_ledger::{Hash, PublicKey};

use crate::audit::Decision;
use crate::command::Command;
use crate::event::Event;
use crate::market::{ListingKind, Tier};
use crate::persona::*;
use crate::social::Target;
use crate::units::{Micros, Units};

/// What `decide` needs to know about a persona.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonaInfo {
    /// Its id: the hash of its creation (or fork) event.
    pub id: Hash,
    /// Its owner.
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
    /// Its id.
    pub id: Hash,
    /// Its owner.
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
    /// Its id.
    pub id: Hash,
    /// The service.
    pub listing: Hash,
    /// Start.
    pub start: Micros,
    /// End.
    pub end: Micros,
    /// Whether the listing's owner confirmed it.
    pub confirmed: bool,
}

/// What `decide` needs to know about a guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuildInfo {
    /// Its id.
    pub id: Hash,
    /// Its owner.
    pub owner: PublicKey,
    /// Its name.
    pub name: String,
}

/// What `decide` needs to know about a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportInfo {
    /// Its id.
    pub id: Hash,
    /// Who reported.
    pub reporter: PublicKey,
    /// Whom.
    pub subject: PublicKey,
}

/// What `decide` needs to know about a tool-call request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// Its id.
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
    /// Personas.
    Persona,
    /// Commitments (within a persona).
    Commitment,
    /// Memories (within a persona).
    Memory,
    /// Listings.
    Listing,
    /// Bookings.
    Booking,
    /// Guilds.
    Guild,
    /// Reports.
    Report,
    /// Tool-call requests.
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

/// Why a command was refused. One line each; nothing is appended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No persona by that name (among the author's) or id.
    #[error("unknown persona {0:?}: give one of your persona names, or an id or id prefix (mindlog persona list)")]
    UnknownPersona(String),
    /// An id prefix that matches several.
    #[error("{what} {reference:?} is ambiguous: it matches {count} ids; give more characters")]
    Ambiguous {
        /// persona, commitment or memory.
        what: &'static str,
        /// What was given.
        reference: String,
        /// How many it matches (up to 64).
        count: usize,
    },
    /// The author already has a persona with that name.
    #[error("you already have a persona named {0:?}")]
    NameTaken(String),
    /// Only the owner's events change a persona.
    #[error("persona {name:?} belongs to {owner}; only its owner can change it")]
    NotOwner {
        /// The persona's name.
        name: String,
        /// Its owner.
        owner: PublicKey,
    },
    /// A retired persona accepts no changes.
    #[error("persona {0:?} is retired; it accepts no more changes")]
    Retired(String),
    /// A trait delta above 0.05 in absolute value.
    #[error("{name} delta {delta} is too large: at most 0.05 either way per event")]
    TraitDeltaTooLarge {
        /// The trait.
        name: &'static str,
        /// The delta given.
        delta: Units,
    },
    /// A trait would leave [0, 1].
    #[error("{name} would become {value}, outside [0, 1]")]
    TraitOutOfRange {
        /// The trait.
        name: &'static str,
        /// The value it would take.
        value: Units,
    },
    /// No trait delta given.
    #[error(
        "no trait change given: pass at least one of --openness, --conscientiousness, --extraversion, --agreeableness, --neuroticism"
    )]
    NoTraitChange,
    /// No such commitment on this persona.
    #[error("unknown commitment {0:?} for this persona (mindlog persona show lists them)")]
    UnknownCommitment(String),
    /// Closing a commitment that is not open.
    #[error("commitment {id} is {status}, not open")]
    CommitmentNotOpen {
        /// The commitment.
        id: Hash,
        /// Its status.
        status: &'static str,
    },
    /// A due time that has already passed.
    #[error("the due time {0} is already past")]
    DueInPast(crate::time::Instant),
    /// No such memory on this persona, or it was forgotten already.
    #[error("unknown memory {0:?} for this persona")]
    UnknownMemory(String),
    /// A number outside its range.
    #[error("{what} {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The value given.
        value: Units,
        /// Lowest allowed.
        min: Units,
        /// Highest allowed.
        max: Units,
    },
    /// A whole number outside its range.
    #[error("{what} {value} is outside [{min}, {max}]")]
    NumberOutOfRange {
        /// Which value.
        what: &'static str,
        /// The value given.
        value: u64,
        /// Lowest allowed.
        min: u64,
        /// Highest allowed.
        max: u64,
    },
    /// No such entity.
    #[error("unknown {what} {reference:?}")]
    Unknown {
        /// listing, booking, guild, report or request.
        what: &'static str,
        /// What was given.
        reference: String,
    },
    /// The listing was withdrawn.
    #[error("listing {0:?} was withdrawn")]
    ListingWithdrawn(String),
    /// Only the owner may do this.
    #[error("{what} {name:?} is not yours; only its owner can {action}")]
    NotYours {
        /// listing, guild or request.
        what: &'static str,
        /// Its name or id.
        name: String,
        /// What was attempted.
        action: &'static str,
    },
    /// A tier the listing does not have.
    #[error("listing {listing:?} has no tier {tier:?}; its tiers: {available}")]
    UnknownTier {
        /// The listing.
        listing: String,
        /// The tier asked for.
        tier: String,
        /// The tiers it has.
        available: String,
    },
    /// Something that may be done once is done already.
    #[error("{0}")]
    AlreadyDone(String),
    /// Something that is not so.
    #[error("{0}")]
    NotSo(String),
    /// Acting on oneself where that is not allowed.
    #[error("you cannot {0} yourself")]
    SelfReference(&'static str),
    /// A confirmed slot overlaps this one.
    #[error("the slot {start}–{end} overlaps the confirmed booking {other}")]
    SlotOverlaps {
        /// This booking's start.
        start: crate::time::Instant,
        /// Its end.
        end: crate::time::Instant,
        /// The confirmed booking it overlaps.
        other: Hash,
    },
    /// Text or a name that breaks a rule.
    #[error("{what} {problem}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        problem: String,
    },
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

pub(crate) type Decided = Result<Vec<Event>, DecideError>;

/// Decides `command`, issued by `author` at `now`, against `state`.
pub fn decide(state: &dyn State, author: &PublicKey, now: Micros, command: &Command) -> Decided {
    let events = decide_unchecked(state, author, now, command)?;
    for event in &events {
        let size = event.encode().len();
        if size > mindlog_ledger::MAX_PAYLOAD_LEN {
            return Err(Rejection::Invalid {
                what: "event",
                problem: format!(
                    "would be {size} bytes; at most {} are allowed (shorten the text)",
                    mindlog_ledger::MAX_PAYLOAD_LEN
                ),
            }
            .into());
        }
    }
    Ok(events)
}

fn decide_unchecked(state: &dyn State, author: &PublicKey, now: Micros, command: &Command) -> Decided {
    let d = Decider { state, author };
    match command {
        Command::PersonaCreate { name, description } => {
            check_name(name)?;
            check_text("description", description, 0, 2000)?;
            if state.persona_named(author, name)?.is_some() {
                return Err(Rejection::NameTaken(name.clone()).into());
            }
            one(Event::PersonaCreated(PersonaCreated { name: name.clone(), description: description.clone() }))
        }
        Command::PersonaTraits { persona, openness, conscientiousness, extraversion, agreeableness, neuroticism } => {
            let p = d.own_active(persona)?;
            let given = [openness, conscientiousness, extraversion, agreeableness, neuroticism];
            if given.iter().all(|g| g.is_none_or(|v| v.0 == 0)) {
                return Err(Rejection::NoTraitChange.into());
            }
            let deltas = Traits::from_values(given.map(|g| g.unwrap_or_default()));
            let after = p.traits.plus(&deltas);
            for ((name, delta), value) in Traits::NAMES.iter().zip(deltas.values()).zip(after.values()) {
                if delta.0.abs() > MAX_TRAIT_DELTA.0 {
                    return Err(Rejection::TraitDeltaTooLarge { name, delta }.into());
                }
                if value < Units::ZERO || value > Units::ONE {
                    return Err(Rejection::TraitOutOfRange { name, value }.into());
                }
            }
            one(Event::TraitsChanged(TraitsChanged { persona: p.id, deltas }))
        }
        Command::PersonaFork { persona, name, license } => {
            let parent = d.resolve_persona(persona)?;
            check_name(name)?;
            if let Some(license) = license {
                check_word("license", license, 64)?;
            }
            if state.persona_named(author, name)?.is_some() {
                return Err(Rejection::NameTaken(name.clone()).into());
            }
            one(Event::PersonaForked(PersonaForked {
                parent: parent.id,
                name: name.clone(),
                description: parent.description,
                license: license.clone(),
                traits: parent.traits,
            }))
        }
        Command::PersonaRetire { persona, successor, reason } => {
            let p = d.own_active(persona)?;
            let successor = match successor {
                Some(s) => {
                    let s = d.resolve_persona(s)?;
                    if s.id == p.id {
                        return Err(Rejection::Invalid {
                            what: "successor",
                            problem: "cannot be the persona itself".into(),
                        }
                        .into());
                    }
                    Some(s.id)
                }
                None => None,
            };
            if let Some(reason) = reason {
                check_text("reason", reason, 1, 2000)?;
            }
            one(Event::PersonaRetired(PersonaRetired { persona: p.id, successor, reason: reason.clone() }))
        }
        Command::CommitmentOpen { persona, title, due } => {
            let p = d.own_active(persona)?;
            check_text("title", title, 1, 500)?;
            if let Some(due) = due
                && due.0 <= now
            {
                return Err(Rejection::DueInPast(*due).into());
            }
            one(Event::CommitmentOpened(CommitmentOpened {
                persona: p.id,
                title: title.clone(),
                due: due.map(|d| d.0),
            }))
        }
        Command::CommitmentClose { persona, commitment, outcome } => {
            let p = d.own_active(persona)?;
            let c = d.resolve_commitment(&p, commitment)?;
            if !c.open {
                return Err(Rejection::CommitmentNotOpen { id: c.id, status: c.status }.into());
            }
            one(Event::CommitmentClosed(CommitmentClosed { persona: p.id, commitment: c.id, outcome: *outcome }))
        }
        Command::CommitmentSweep {} => {
            let mut out = Vec::new();
            for c in state.overdue_commitments(author, now)? {
                // A retired persona accepts no changes, expiries included.
                if state.persona(&c.persona)?.is_some_and(|p| !p.retired && p.owner == *author) {
                    out.push(Event::CommitmentExpired(CommitmentExpired { persona: c.persona, commitment: c.id }));
                }
            }
            Ok(out)
        }
        Command::MemoryAdd { persona, text, importance, tags } => {
            let p = d.own_active(persona)?;
            check_text("memory text", text, 1, 10_000)?;
            check_range("importance", *importance, Units::ZERO, Units::ONE)?;
            if tags.len() > 16 {
                return Err(Rejection::Invalid { what: "tags", problem: "are too many (at most 16)".into() }.into());
            }
            for tag in tags {
                check_word("tag", tag, 32)?;
            }
            one(Event::MemoryAdded(MemoryAdded {
                persona: p.id,
                text: text.clone(),
                importance: *importance,
                tags: tags.clone(),
            }))
        }
        Command::MemoryForget { persona, memory } => {
            let p = d.own_active(persona)?;
            let m = d.resolve_memory(&p, memory)?;
            one(Event::MemoryForgotten(MemoryForgotten { persona: p.id, memory: m.id }))
        }
        Command::Reflect { persona, text } => {
            let p = d.own_active(persona)?;
            check_text("reflection", text, 1, 10_000)?;
            one(Event::Reflected(Reflected { persona: p.id, text: text.clone() }))
        }
        Command::Emotion { persona, valence, arousal, label } => {
            let p = d.own_active(persona)?;
            check_range("valence", *valence, Units(-1_000_000), Units::ONE)?;
            check_range("arousal", *arousal, Units::ZERO, Units::ONE)?;
            if let Some(label) = label {
                check_word("label", label, 32)?;
            }
            one(Event::EmotionRecorded(EmotionRecorded {
                persona: p.id,
                valence: *valence,
                arousal: *arousal,
                label: label.clone(),
            }))
        }
        Command::Consent { persona, scope, allow } => {
            let p = d.own_active(persona)?;
            check_word("scope", scope, 64)?;
            one(Event::ConsentSet(ConsentSet { persona: p.id, scope: scope.clone(), allow: *allow }))
        }
        Command::ModelUse { persona, model, hash } => {
            let p = d.own_active(persona)?;
            check_text("model", model, 1, 128)?;
            if !hash.contains(':') || hash.len() > 200 || hash.chars().any(char::is_whitespace) {
                return Err(Rejection::Invalid {
                    what: "model hash",
                    problem: format!("{hash:?} should look like algorithm:digest, e.g. sha256:9f86d0…"),
                }
                .into());
            }
            one(Event::ModelUsed(ModelUsed { persona: p.id, model: model.clone(), hash: hash.clone() }))
        }
        Command::Message { persona, role, text } => {
            let p = d.own_active(persona)?;
            check_text("message", text, 1, 65_536)?;
            one(Event::MessageRecorded(MessageRecorded { persona: p.id, role: *role, text: text.clone() }))
        }
        _ => crate::decide_more::decide_more(state, author, now, command),
    }
}

/// The persona `reference` names for `author`: the author's persona of that name, or the
/// persona with that id or unambiguous id prefix (anyone's).
pub fn resolve_persona(state: &dyn State, author: &PublicKey, reference: &str) -> Result<PersonaInfo, DecideError> {
    Decider { state, author }.resolve_persona(reference)
}

/// The one id of `space` that `reference` names — a whole id or an unambiguous prefix of 4 or
/// more lowercase hex characters — by the rules `decide` resolves references with.
pub fn resolve_id(state: &dyn State, space: IdSpace, what: &'static str, reference: &str) -> Result<Hash, DecideError> {
    unique_id(state, space, None, what, reference, |_| Ok(true))?
        .ok_or_else(|| Rejection::Unknown { what, reference: reference.to_owned() }.into())
}

/// The largest trait change one event may make: 0.05.
pub const MAX_TRAIT_DELTA: Units = Units(50_000);

pub(crate) fn one(event: Event) -> Decided {
    Ok(vec![event])
}

pub(crate) struct Decider<'a> {
    pub(crate) state: &'a dyn State,
    pub(crate) author: &'a PublicKey,
}

/// Whether `text` could be an id or id prefix (4 to 64 lowercase hex characters).
pub(crate) fn looks_like_id(text: &str) -> bool {
    (4..=64).contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Decider<'_> {
    /// A persona by the author's name for it, or by id or unambiguous id prefix.
    pub(crate) fn resolve_persona(&self, reference: &str) -> Result<PersonaInfo, DecideError> {
        if let Some(id) = self.state.persona_named(self.author, reference)? {
            return self.state.persona(&id)?.ok_or_else(|| Rejection::UnknownPersona(reference.to_owned()).into());
        }
        let id = unique_id(self.state, IdSpace::Persona, None, "persona", reference, |_| Ok(true))?;
        match id {
            Some(id) => self.state.persona(&id)?.ok_or_else(|| Rejection::UnknownPersona(reference.to_owned()).into()),
            None => Err(Rejection::UnknownPersona(reference.to_owned()).into()),
        }
    }

    /// A persona the author owns and may still change.
    fn own_active(&self, reference: &str) -> Result<PersonaInfo, DecideError> {
        let p = self.resolve_persona(reference)?;
        if p.owner != *self.author {
            return Err(Rejection::NotOwner { name: p.name, owner: p.owner }.into());
        }
        if p.retired {
            return Err(Rejection::Retired(p.name).into());
        }
        Ok(p)
    }

    fn resolve_commitment(&self, persona: &PersonaInfo, reference: &str) -> Result<CommitmentInfo, DecideError> {
        let unknown = || Rejection::UnknownCommitment(reference.to_owned());
        let id = unique_id(self.state, IdSpace::Commitment, Some(&persona.id), "commitment", reference, |id| {
            Ok(self.state.commitment(&persona.id, id)?.is_some())
        })?;
        let c = self.state.commitment(&persona.id, &id.ok_or_else(unknown)?)?.ok_or_else(unknown)?;
        Ok(c)
    }

    fn resolve_memory(&self, persona: &PersonaInfo, reference: &str) -> Result<MemoryInfo, DecideError> {
        let unknown = || Rejection::UnknownMemory(reference.to_owned());
        let id = unique_id(self.state, IdSpace::Memory, Some(&persona.id), "memory", reference, |id| {
            Ok(self.state.memory(&persona.id, id)?.is_some_and(|m| !m.forgotten))
        })?;
        let m = self.state.memory(&persona.id, &id.ok_or_else(unknown)?)?.ok_or_else(unknown)?;
        Ok(m)
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

pub(crate) fn check_name(name: &str) -> Result<(), Rejection> {
    check_text("name", name, 1, 64)?;
    if name.chars().any(char::is_control) {
        return Err(Rejection::Invalid { what: "name", problem: format!("{name:?} contains a control character") });
    }
    if name.trim() != name {
        return Err(Rejection::Invalid { what: "name", problem: format!("{name:?} starts or ends with white space") });
    }
    Ok(())
}

pub(crate) fn check_text(what: &'static str, text: &str, min: usize, max: usize) -> Result<(), Rejection> {
    let chars = text.chars().count();
    if chars < min {
        return Err(Rejection::Invalid { what, problem: "is empty".into() });
    }
    if chars > max {
        return Err(Rejection::Invalid { what, problem: format!("is {chars} characters long; at most {max}") });
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Rejection::Invalid { what, problem: "contains control characters".into() });
    }
    Ok(())
}

/// A short identifier-like word: letters, digits, `-`, `_`, `.`, `:`.
pub(crate) fn check_word(what: &'static str, word: &str, max: usize) -> Result<(), Rejection> {
    if word.is_empty()
        || word.chars().count() > max
        || !word.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(Rejection::Invalid {
            what,
            problem: format!("{word:?} must be 1 to {max} letters, digits, '-', '_', '.' or ':'"),
        });
    }
    Ok(())
}

fn check_range(what: &'static str, value: Units, min: Units, max: Units) -> Result<(), Rejection> {
    if value < min || value > max {
        return Err(Rejection::OutOfRange { what, value, min, max });
    }
    Ok(())
}
