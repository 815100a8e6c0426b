//! The `persona` view: personas and their traits, commitments, memories, consent, models,
//! emotions, message and reflection counts, and lineage. docs/views.md describes every table.

use mindlog_commands::{
    CommitmentClosed, CommitmentOpened, Event, Micros, ModelUsed, Outcome, PMM_MODEL_HASH, PmmMeaning, PmmRecord, Role,
    Traits, Units,
};
use mindlog_ledger::redb::ReadableTable;
use mindlog_ledger::{DerivedWriteTxn, Hash, PublicKey, StorageError};
use serde::{Deserialize, Serialize};

use crate::rows::{Cached, RawTable, def, key};
use crate::runner::{Applied, Decoded, Fold, Projection};

pub(crate) const PERSONAS: &str = "view.personas";
pub(crate) const NAMES: &str = "view.persona_names";
pub(crate) const CHILDREN: &str = "view.persona_children";
pub(crate) const CONSENT: &str = "view.persona_consent";
pub(crate) const MODELS: &str = "view.persona_models";
pub(crate) const COMMITMENTS: &str = "view.commitments";
pub(crate) const COMMITMENTS_DUE: &str = "view.commitments_due";
pub(crate) const MEMORIES: &str = "view.memories";
pub(crate) const PMM_COMMITMENTS: &str = "view.pmm_commitments";

/// A persona, as the view holds it (`view.personas`, key: id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaRow {
    /// The owner: the author of its creation event.
    pub owner: PublicKey,
    /// Created private (`persona create --private`): its memories, messages, reflections and
    /// emotions are private by default. Local to this store, like the payload flag it comes from.
    pub private: bool,
    /// Its name, unique among the owner's personas.
    pub name: String,
    /// What the persona is for, free text (may be empty).
    pub description: String,
    /// When it was created.
    pub created: Micros,
    /// The persona it was forked from.
    pub parent: Option<Hash>,
    /// The license it was forked under.
    pub license: Option<String>,
    /// Set once it is retired.
    pub retired: Option<Retirement>,
    /// Big Five, each in [0, 1].
    pub traits: Traits,
    /// `persona.traits-changed/1` events folded into `traits`.
    pub trait_updates: u64,
    /// Messages per role.
    pub messages: RoleCounts,
    /// `persona.reflected/1` events folded.
    pub reflections: u64,
    /// `persona.emotion-recorded/1` events folded.
    pub emotions: u64,
    /// The latest emotion.
    pub emotion: Option<EmotionNow>,
    /// Rolling mean of valence and arousal: `mean += (x − mean) / 8` per emotion, in integers.
    pub emotion_mean: (Units, Units),
    /// The model it runs on now.
    pub model: Option<ModelRow>,
    /// `model.use` events applied.
    pub model_swaps: u64,
    /// Commitments opened, closed and expired: commitment health's inputs.
    pub commitments: CommitmentCounts,
    /// `memory.added/1` events folded.
    pub memories_added: u64,
    /// `memory.forgotten/1` events folded (each memory once).
    pub memories_forgotten: u64,
    /// Events that changed it (creation included).
    pub events: u64,
    /// The timestamp of the latest of them.
    pub last_event: Micros,
    /// The name it adopted for itself, if any (a Persistent Mind Model's identity adoption).
    pub adopted_identity: Option<String>,
}

impl PersonaRow {
    /// Whether the event `author` wrote at `seq` of its feed may change this persona: only its
    /// owner's, and only those written before its retirement. The fold asks this of each event
    /// as it comes (a retirement folded earlier has a smaller seq, being earlier in the same
    /// feed); readers of the log ask it afterwards of events already folded, and get the same
    /// answer.
    pub fn open_to(&self, author: &PublicKey, seq: u64) -> bool {
        self.owner == *author && self.retired.as_ref().is_none_or(|r| seq < r.seq)
    }
}

/// How a persona was retired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
    /// The seq of the retirement event in the owner's feed: the owner's events before it still
    /// applied to the persona (`PersonaRow::open_to`).
    pub seq: u64,
    /// Who takes over.
    pub successor: Option<Hash>,
    /// Why it was retired, free text, if given.
    pub reason: Option<String>,
}

/// Messages per role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCounts {
    /// From the user.
    pub user: u64,
    /// From the persona.
    pub assistant: u64,
    /// System instructions.
    pub system: u64,
}

impl RoleCounts {
    /// All messages.
    pub fn total(&self) -> u64 {
        self.user + self.assistant + self.system
    }
}

/// The latest emotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmotionNow {
    /// In [-1, 1].
    pub valence: Units,
    /// In [0, 1].
    pub arousal: Units,
    /// Its word.
    pub label: Option<String>,
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// A model the persona ran on (`view.persona_models`, key: persona ‖ seq).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRow {
    /// The model.
    pub model: String,
    /// Its content hash.
    pub hash: String,
    /// When it took effect (µs since the Unix epoch).
    pub at: Micros,
}

/// Commitment counters of a persona: what "commitment health" is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentCounts {
    /// Commitments opened, whatever became of them.
    pub opened: u64,
    /// Closed (any outcome).
    pub closed: u64,
    /// Closed as done.
    pub done: u64,
    /// Expired by a sweep.
    pub expired: u64,
    /// Sum of closed commitments' lifespans, in events of the owner's feed.
    pub lifespan_events: u64,
}

/// A consent setting (`view.persona_consent`, key: persona ‖ scope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRow {
    /// Allowed or denied.
    pub allow: bool,
    /// When it took effect (µs since the Unix epoch).
    pub at: Micros,
}

/// Where a commitment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitmentStatus {
    /// Not closed yet.
    Open,
    /// Closed by its persona.
    Closed,
    /// Expired by a sweep.
    Expired,
}

impl CommitmentStatus {
    /// The status word.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentStatus::Open => "open",
            CommitmentStatus::Closed => "closed",
            CommitmentStatus::Expired => "expired",
        }
    }
}

/// A commitment (`view.commitments`, key: persona ‖ id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentRow {
    /// Its persona.
    pub persona: Hash,
    /// The persona's owner.
    pub owner: PublicKey,
    /// What is promised.
    pub title: String,
    /// Where it stands.
    pub status: CommitmentStatus,
    /// When it was opened.
    pub opened: Micros,
    /// The seq of its opening event in the owner's feed.
    pub opened_seq: u64,
    /// When it is due.
    pub due: Option<Micros>,
    /// When it was closed or expired.
    pub ended: Option<Micros>,
    /// How it was closed.
    pub outcome: Option<Outcome>,
    /// Events of the owner's feed between opening and closing or expiry.
    pub lifespan_events: Option<u64>,
}

/// A memory (`view.memories`, key: persona ‖ id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Its persona.
    pub persona: Hash,
    /// What is remembered.
    pub text: String,
    /// In [0, 1].
    pub importance: Units,
    /// Labels to search by (at most 16).
    pub tags: Vec<String>,
    /// When it was added.
    pub created: Micros,
    /// When it was forgotten.
    pub forgotten: Option<Micros>,
}

/// The key of `view.pmm_commitments`: persona ‖ the PMM ledger ‖ NUL ‖ cid. Two ledgers imported
/// into one persona keep their cids apart (PMM makes a cid from the commitment's text).
fn pmm_commitment_key(record: &PmmRecord, cid: &str) -> Vec<u8> {
    key(&[record.persona.as_bytes(), record.ledger.as_bytes(), &[0], cid.as_bytes()])
}

/// The persona view.
pub(crate) struct PersonaView;

impl Projection for PersonaView {
    fn name(&self) -> &'static str {
        "persona"
    }
    fn version(&self) -> u32 {
        // 2: events that fail `Event::check` (names, texts, words…) are ignored.
        // 3: a retirement keeps the seq of its event (`PersonaRow::open_to`).
        // 4: `PersonaRow::private`.
        // 5: events imported from PMM ledgers (`PmmRecord::meaning`), `adopted_identity`.
        5
    }
    fn tables(&self) -> &'static [&'static str] {
        &[PERSONAS, NAMES, CHILDREN, CONSENT, MODELS, COMMITMENTS, COMMITMENTS_DUE, MEMORIES, PMM_COMMITMENTS]
    }
    fn fold<'t>(&self, txn: &'t DerivedWriteTxn) -> Result<Box<dyn Fold + 't>, StorageError> {
        Ok(Box::new(PersonaFold {
            personas: Cached::open(txn, PERSONAS)?,
            commitments: Cached::open(txn, COMMITMENTS)?,
            memories: Cached::open(txn, MEMORIES)?,
            names: txn.open_table(def(NAMES))?,
            children: txn.open_table(def(CHILDREN))?,
            consent: txn.open_table(def(CONSENT))?,
            models: txn.open_table(def(MODELS))?,
            due: txn.open_table(def(COMMITMENTS_DUE))?,
            pmm_commitments: txn.open_table(def(PMM_COMMITMENTS))?,
        }))
    }
}

struct PersonaFold<'t> {
    personas: Cached<'t, PersonaRow>,
    commitments: Cached<'t, CommitmentRow>,
    memories: Cached<'t, MemoryRow>,
    names: RawTable<'t>,
    children: RawTable<'t>,
    consent: RawTable<'t>,
    models: RawTable<'t>,
    due: RawTable<'t>,
    /// persona ‖ PMM's cid → the commitment it opened (the hash of the imported event).
    pmm_commitments: RawTable<'t>,
}

fn in_unit(u: Units) -> bool {
    (Units::ZERO..=Units::ONE).contains(&u)
}

impl PersonaFold<'_> {
    fn create(
        &mut self,
        e: &Decoded,
        name: &str,
        description: &str,
        parent: Option<Hash>,
        license: Option<String>,
        traits: Traits,
    ) -> Result<Applied, StorageError> {
        let name_key = key(&[e.author.as_bytes(), name.as_bytes()]);
        if self.names.get(name_key.as_slice())?.is_some() {
            return Ok(Applied::Ignored);
        }
        self.names.insert(name_key.as_slice(), e.hash.as_bytes().as_slice())?;
        if let Some(parent) = parent {
            self.children.insert(key(&[parent.as_bytes(), e.hash.as_bytes()]).as_slice(), [].as_slice())?;
        }
        self.personas.put(
            e.hash.as_bytes().to_vec(),
            PersonaRow {
                owner: e.author,
                private: e.private,
                name: name.to_owned(),
                description: description.to_owned(),
                created: e.ts,
                parent,
                license,
                retired: None,
                traits,
                trait_updates: 0,
                messages: RoleCounts::default(),
                reflections: 0,
                emotions: 0,
                emotion: None,
                emotion_mean: (Units::ZERO, Units::ZERO),
                model: None,
                model_swaps: 0,
                commitments: CommitmentCounts::default(),
                memories_added: 0,
                memories_forgotten: 0,
                events: 1,
                last_event: e.ts,
                adopted_identity: None,
            },
        );
        Ok(Applied::Applied)
    }

    /// The persona `id`, if `e`'s author owns it and it is not retired: only then may `e` change it.
    fn owned(&mut self, e: &Decoded, id: &Hash) -> Result<Option<&mut PersonaRow>, StorageError> {
        let theirs = |p: &PersonaRow| p.open_to(&e.author, e.seq);
        if !self.personas.get(id.as_bytes())?.is_some_and(theirs) {
            return Ok(None);
        }
        let Some(p) = self.personas.get_mut(id.as_bytes())? else { return Ok(None) };
        p.events += 1;
        p.last_event = p.last_event.max(e.ts);
        Ok(Some(p))
    }

    fn end_commitment(
        &mut self,
        e: &Decoded,
        persona: &Hash,
        id: &Hash,
        status: CommitmentStatus,
        outcome: Option<Outcome>,
    ) -> Result<Applied, StorageError> {
        let row_key = key(&[persona.as_bytes(), id.as_bytes()]);
        let Some(c) = self.commitments.get(&row_key)? else { return Ok(Applied::Ignored) };
        let expiry_early = status == CommitmentStatus::Expired && c.due.is_none_or(|due| due >= e.ts);
        if c.persona != *persona || c.status != CommitmentStatus::Open || expiry_early {
            return Ok(Applied::Ignored);
        }
        if self.owned(e, persona)?.is_none() {
            return Ok(Applied::Ignored);
        }
        let Some(c) = self.commitments.get_mut(&row_key)? else { return Ok(Applied::Ignored) };
        let lifespan = e.seq.saturating_sub(c.opened_seq);
        c.status = status;
        c.ended = Some(e.ts);
        c.outcome = outcome;
        c.lifespan_events = Some(lifespan);
        if let Some(due) = c.due {
            self.due
                .remove(key(&[c.owner.as_bytes(), &due.to_be_bytes(), persona.as_bytes(), id.as_bytes()]).as_slice())?;
        }
        if let Some(p) = self.owned_again(persona)? {
            match status {
                CommitmentStatus::Expired => p.commitments.expired += 1,
                _ => {
                    p.commitments.closed += 1;
                    p.commitments.done += u64::from(outcome == Some(Outcome::Done));
                    p.commitments.lifespan_events += lifespan;
                }
            }
        }
        Ok(Applied::Applied)
    }

    /// The persona row again, once `owned` has already checked and counted the event.
    fn owned_again(&mut self, id: &Hash) -> Result<Option<&mut PersonaRow>, StorageError> {
        self.personas.get_mut(id.as_bytes())
    }
}

impl PersonaFold<'_> {
    /// Folds an event imported from a PMM ledger: what it means ([`PmmRecord::meaning`]), as
    /// the persona event of that meaning would be folded, with its kind's rules.
    fn apply_imported(&mut self, e: &Decoded, record: &PmmRecord) -> Result<Applied, StorageError> {
        let Some(meaning) = record.row.meaning() else { return Ok(Applied::Irrelevant) };
        let persona = record.persona;
        let event = match meaning {
            PmmMeaning::Message(..) | PmmMeaning::Reflection(_) => match record.event() {
                Some(event) => event,
                None => return Ok(Applied::Irrelevant),
            },
            PmmMeaning::CommitmentOpened { cid, title } => {
                // PMM's cid is made from the commitment's text: the same text opened again while
                // it is open is the same commitment, as PMM's own open map keeps it.
                let cid_key = pmm_commitment_key(record, &cid);
                if let Some(open) = self.pmm_commitment(&cid_key)?
                    && self
                        .commitments
                        .get(&key(&[persona.as_bytes(), open.as_bytes()]))?
                        .is_some_and(|c| c.status == CommitmentStatus::Open)
                {
                    return Ok(Applied::Ignored);
                }
                let opened = Event::CommitmentOpened(CommitmentOpened { persona, title, due: None });
                let applied = self.apply_checked(e, &opened)?;
                if applied == Applied::Applied {
                    self.pmm_commitments.insert(cid_key.as_slice(), e.hash.as_bytes().as_slice())?;
                }
                return Ok(applied);
            }
            PmmMeaning::CommitmentClosed { cid, outcome } => {
                let Some(commitment) = self.pmm_commitment(&pmm_commitment_key(record, &cid))? else {
                    return Ok(Applied::Ignored);
                };
                Event::CommitmentClosed(CommitmentClosed { persona, commitment, outcome })
            }
            PmmMeaning::Identity(name) => {
                let Some(p) = self.owned(e, &persona)? else { return Ok(Applied::Ignored) };
                p.adopted_identity = Some(name);
                return Ok(Applied::Applied);
            }
            PmmMeaning::Model(model) => {
                // PMM names the model every turn: only a change is a model swap.
                let running =
                    self.personas.get(persona.as_bytes())?.and_then(|p| p.model.as_ref().map(|m| m.model == model));
                if running == Some(true) {
                    return Ok(Applied::Irrelevant);
                }
                Event::ModelUsed(ModelUsed { persona, model, hash: PMM_MODEL_HASH.into() })
            }
        };
        self.apply_checked(e, &event)
    }

    /// The commitment an imported PMM commitment's cid names (`pmm_commitment_key`).
    fn pmm_commitment(&self, cid_key: &[u8]) -> Result<Option<Hash>, StorageError> {
        Ok(self.pmm_commitments.get(cid_key)?.and_then(|v| v.value().try_into().ok()).map(Hash))
    }

    /// Folds `event`, made from an imported record, if it keeps its kind's state-free rules (as
    /// the runner asks of every event it hands to the folds).
    fn apply_checked(&mut self, e: &Decoded, event: &Event) -> Result<Applied, StorageError> {
        if event.check().is_err() {
            return Ok(Applied::Ignored);
        }
        self.apply_event(e, event)
    }

    fn apply_event(&mut self, e: &Decoded, event: &Event) -> Result<Applied, StorageError> {
        match event {
            Event::PersonaCreated(x) => self.create(e, &x.name, &x.description, None, None, Traits::NEUTRAL),
            Event::PersonaForked(x) => {
                self.create(e, &x.name, &x.description, Some(x.parent), x.license.clone(), x.traits)
            }
            Event::TraitsChanged(x) => {
                let stays_in_range = self
                    .personas
                    .get(x.persona.as_bytes())?
                    .is_some_and(|p| p.traits.plus(&x.deltas).values().into_iter().all(in_unit));
                if !stays_in_range {
                    return Ok(Applied::Ignored);
                }
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.traits = p.traits.plus(&x.deltas);
                p.trait_updates += 1;
                Ok(Applied::Applied)
            }
            Event::PersonaRetired(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.retired = Some(Retirement { at: e.ts, seq: e.seq, successor: x.successor, reason: x.reason.clone() });
                Ok(Applied::Applied)
            }
            Event::CommitmentOpened(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.commitments.opened += 1;
                let owner = p.owner;
                self.commitments.put(
                    key(&[x.persona.as_bytes(), e.hash.as_bytes()]),
                    CommitmentRow {
                        persona: x.persona,
                        owner,
                        title: x.title.clone(),
                        status: CommitmentStatus::Open,
                        opened: e.ts,
                        opened_seq: e.seq,
                        due: x.due,
                        ended: None,
                        outcome: None,
                        lifespan_events: None,
                    },
                );
                if let Some(due) = x.due {
                    let due_key = key(&[owner.as_bytes(), &due.to_be_bytes(), x.persona.as_bytes(), e.hash.as_bytes()]);
                    self.due.insert(due_key.as_slice(), [].as_slice())?;
                }
                Ok(Applied::Applied)
            }
            Event::CommitmentClosed(x) => {
                self.end_commitment(e, &x.persona, &x.commitment, CommitmentStatus::Closed, Some(x.outcome))
            }
            Event::CommitmentExpired(x) => {
                self.end_commitment(e, &x.persona, &x.commitment, CommitmentStatus::Expired, None)
            }
            Event::MemoryAdded(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.memories_added += 1;
                self.memories.put(
                    key(&[x.persona.as_bytes(), e.hash.as_bytes()]),
                    MemoryRow {
                        persona: x.persona,
                        text: x.text.clone(),
                        importance: x.importance,
                        tags: x.tags.clone(),
                        created: e.ts,
                        forgotten: None,
                    },
                );
                Ok(Applied::Applied)
            }
            Event::MemoryForgotten(x) => {
                let row_key = key(&[x.persona.as_bytes(), x.memory.as_bytes()]);
                let live = self.memories.get(&row_key)?.is_some_and(|m| m.forgotten.is_none());
                if !live {
                    return Ok(Applied::Ignored);
                }
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.memories_forgotten += 1;
                if let Some(m) = self.memories.get_mut(&row_key)? {
                    m.forgotten = Some(e.ts);
                }
                Ok(Applied::Applied)
            }
            Event::Reflected(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.reflections += 1;
                Ok(Applied::Applied)
            }
            Event::EmotionRecorded(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                p.emotion_mean = if p.emotions == 0 {
                    (x.valence, x.arousal)
                } else {
                    let (v, a) = p.emotion_mean;
                    (Units(v.0 + (x.valence.0 - v.0) / 8), Units(a.0 + (x.arousal.0 - a.0) / 8))
                };
                p.emotions += 1;
                p.emotion =
                    Some(EmotionNow { valence: x.valence, arousal: x.arousal, label: x.label.clone(), at: e.ts });
                Ok(Applied::Applied)
            }
            Event::ConsentSet(x) => {
                if self.owned(e, &x.persona)?.is_none() {
                    return Ok(Applied::Ignored);
                }
                let row = ConsentRow { allow: x.allow, at: e.ts };
                self.consent.insert(
                    key(&[x.persona.as_bytes(), x.scope.as_bytes()]).as_slice(),
                    crate::rows::encode(&row).as_slice(),
                )?;
                Ok(Applied::Applied)
            }
            Event::ModelUsed(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                let row = ModelRow { model: x.model.clone(), hash: x.hash.clone(), at: e.ts };
                p.model = Some(row.clone());
                p.model_swaps += 1;
                self.models.insert(
                    key(&[x.persona.as_bytes(), &e.seq.to_be_bytes()]).as_slice(),
                    crate::rows::encode(&row).as_slice(),
                )?;
                Ok(Applied::Applied)
            }
            Event::MessageRecorded(x) => {
                let Some(p) = self.owned(e, &x.persona)? else { return Ok(Applied::Ignored) };
                match x.role {
                    Role::User => p.messages.user += 1,
                    Role::Assistant => p.messages.assistant += 1,
                    Role::System => p.messages.system += 1,
                }
                Ok(Applied::Applied)
            }
            _ => Ok(Applied::Irrelevant),
        }
    }
}

impl Fold for PersonaFold<'_> {
    fn apply(&mut self, e: &Decoded) -> Result<Applied, StorageError> {
        match (&e.event, &e.imported) {
            (Some(event), _) => self.apply_event(e, event),
            (None, Some(record)) => self.apply_imported(e, record),
            (None, None) => Ok(Applied::Irrelevant),
        }
    }

    fn finish(self: Box<Self>) -> Result<(), StorageError> {
        let this = *self;
        this.personas.flush()?;
        this.commitments.flush()?;
        this.memories.flush()
    }
}
