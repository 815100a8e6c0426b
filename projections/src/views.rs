//! Reading the views: a consistent snapshot that answers `decide`'s questions (`State`) and
//! builds what `persona show` and `persona list` print.

use mindlog_commands::{
    CommitmentInfo, IdSpace, Instant, MemoryInfo, Micros, PersonaInfo, State, StateError, Traits, Units,
};
use mindlog_ledger::redb::ReadTransaction;
use mindlog_ledger::{Hash, PublicKey, Snapshot, StorageError};
use serde::Serialize;

use crate::persona::*;
use crate::profile::{self, Stage};
use crate::rows::{self, key};

/// The views as of one moment.
pub struct Views {
    snapshot: Snapshot,
}

impl Views {
    pub(crate) fn new(snapshot: Snapshot) -> Views {
        Views { snapshot }
    }

    fn txn(&self) -> &ReadTransaction {
        self.snapshot.transaction()
    }

    /// The log snapshot these views were read with.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// One persona's row.
    pub fn persona_row(&self, id: &Hash) -> Result<Option<PersonaRow>, StorageError> {
        rows::read(self.txn(), PERSONAS, id.as_bytes())
    }

    /// Every persona, in id order.
    pub fn personas(&self) -> Result<Vec<(Hash, PersonaRow)>, StorageError> {
        Ok(rows::scan(self.txn(), PERSONAS, &[])?.into_iter().map(|(k, v)| (hash_at(&k, 0), v)).collect())
    }

    /// A persona's commitments, in id order.
    pub fn commitments_of(&self, persona: &Hash) -> Result<Vec<(Hash, CommitmentRow)>, StorageError> {
        Ok(rows::scan(self.txn(), COMMITMENTS, persona.as_bytes())?
            .into_iter()
            .map(|(k, v)| (hash_at(&k, 32), v))
            .collect())
    }

    /// A persona's memories (forgotten ones too), in id order.
    pub fn memories_of(&self, persona: &Hash) -> Result<Vec<(Hash, MemoryRow)>, StorageError> {
        Ok(rows::scan(self.txn(), MEMORIES, persona.as_bytes())?
            .into_iter()
            .map(|(k, v)| (hash_at(&k, 32), v))
            .collect())
    }

    /// Personas forked from `persona`, in id order.
    pub fn children_of(&self, persona: &Hash) -> Result<Vec<Hash>, StorageError> {
        Ok(rows::scan_keys(self.txn(), CHILDREN, persona.as_bytes(), usize::MAX)?
            .into_iter()
            .map(|(k, _)| hash_at(&k, 32))
            .collect())
    }

    /// A persona's consent settings, by scope.
    pub fn consent_of(&self, persona: &Hash) -> Result<Vec<(String, ConsentRow)>, StorageError> {
        Ok(rows::scan::<ConsentRow>(self.txn(), CONSENT, persona.as_bytes())?
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k[32..]).into_owned(), v))
            .collect())
    }

    /// The models a persona ran on, oldest first.
    pub fn models_of(&self, persona: &Hash) -> Result<Vec<ModelRow>, StorageError> {
        Ok(rows::scan::<ModelRow>(self.txn(), MODELS, persona.as_bytes())?.into_iter().map(|(_, v)| v).collect())
    }

    /// How many forks separate `persona` from its root (0 for a persona that is not a fork).
    pub fn lineage_depth(&self, persona: &Hash) -> Result<u64, StorageError> {
        let mut depth = 0;
        let mut at = *persona;
        while let Some(parent) = self.persona_row(&at)?.and_then(|p| p.parent) {
            depth += 1;
            at = parent;
            if depth > 10_000 {
                break; // a cycle cannot be made (ids are hashes of earlier events), but stay bounded
            }
        }
        Ok(depth)
    }

    /// Everything `persona show` prints, with memory strength as of `as_of`.
    pub fn profile(&self, id: &Hash, as_of: Micros) -> Result<Option<PersonaProfile>, StorageError> {
        let Some(p) = self.persona_row(id)? else { return Ok(None) };
        let stage = profile::stage(&p);
        let commitments = self.commitments_of(id)?;
        let mut memories: Vec<MemoryLine> = self
            .memories_of(id)?
            .into_iter()
            .filter(|(_, m)| m.forgotten.is_none())
            .map(|(mid, m)| MemoryLine {
                id: mid,
                strength: profile::memory_strength(m.importance, m.created, m.forgotten, as_of),
                importance: m.importance,
                tags: m.tags,
                created: Instant(m.created),
                text: m.text,
            })
            .collect();
        let live_memories = memories.len() as u64;
        memories.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.id.cmp(&b.id)));
        memories.truncate(5);
        let c = p.commitments;
        let open: Vec<CommitmentLine> = commitments
            .iter()
            .filter(|(_, c)| c.status == CommitmentStatus::Open)
            .map(|(cid, c)| CommitmentLine {
                id: *cid,
                title: c.title.clone(),
                due: c.due.map(Instant),
                opened: Instant(c.opened),
            })
            .collect();
        Ok(Some(PersonaProfile {
            id: *id,
            owner: p.owner,
            name: p.name.clone(),
            description: p.description.clone(),
            status: if p.retired.is_some() { "retired" } else { "active" },
            created: Instant(p.created),
            retired: p.retired.as_ref().map(|r| RetiredLine {
                at: Instant(r.at),
                successor: r.successor,
                reason: r.reason.clone(),
            }),
            stage: StageLine { code: stage, name: stage.name(), formula: profile::STAGE_FORMULA },
            interactions: profile::interactions(&p),
            traits: Traits::NAMES
                .iter()
                .zip(p.traits.values())
                .map(|(name, value)| TraitLine { name, value, word: profile::trait_word(value) })
                .collect(),
            trait_updates: p.trait_updates,
            commitments: Health {
                opened: c.opened,
                open: c.opened - c.closed - c.expired,
                closed: c.closed,
                done: c.done,
                expired: c.expired,
                close_rate: profile::close_rate(&c),
                mean_lifespan_events: (c.closed > 0).then(|| c.lifespan_events as f64 / c.closed as f64),
                open_list: open,
            },
            memories: MemorySummary {
                live: live_memories,
                forgotten: p.memories_forgotten,
                as_of: Instant(as_of),
                strongest: memories,
            },
            consent: self
                .consent_of(id)?
                .into_iter()
                .map(|(scope, c)| ConsentLine { scope, allow: c.allow, since: Instant(c.at) })
                .collect(),
            model: ModelSummary {
                current: p.model.as_ref().map(|m| ModelLine {
                    model: m.model.clone(),
                    hash: m.hash.clone(),
                    since: Instant(m.at),
                }),
                swaps: p.model_swaps,
            },
            emotion: EmotionSummary {
                recorded: p.emotions,
                latest: p.emotion.as_ref().map(|e| EmotionLine {
                    valence: e.valence,
                    arousal: e.arousal,
                    label: e.label.clone(),
                    at: Instant(e.at),
                }),
                mean_valence: (p.emotions > 0).then_some(p.emotion_mean.0),
                mean_arousal: (p.emotions > 0).then_some(p.emotion_mean.1),
            },
            messages: p.messages,
            reflections: p.reflections,
            lineage: Lineage {
                parent: p.parent,
                license: p.license.clone(),
                children: self.children_of(id)?,
                depth: self.lineage_depth(id)?,
            },
            events: p.events,
            last_event: Instant(p.last_event),
        }))
    }
}

fn hash_at(key: &[u8], at: usize) -> Hash {
    Hash(key.get(at..at + 32).and_then(|s| s.try_into().ok()).unwrap_or([0; 32]))
}

/// What `persona show` prints (and `--json` emits).
#[derive(Clone, Debug, Serialize)]
pub struct PersonaProfile {
    /// Id.
    pub id: Hash,
    /// Owner.
    pub owner: PublicKey,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// active or retired.
    pub status: &'static str,
    /// Created.
    pub created: Instant,
    /// Retirement.
    pub retired: Option<RetiredLine>,
    /// Stage.
    pub stage: StageLine,
    /// Messages, reflections and memories added.
    pub interactions: u64,
    /// Traits with words.
    pub traits: Vec<TraitLine>,
    /// Trait changes applied.
    pub trait_updates: u64,
    /// Commitment health.
    pub commitments: Health,
    /// Memories.
    pub memories: MemorySummary,
    /// Consent by scope.
    pub consent: Vec<ConsentLine>,
    /// Model.
    pub model: ModelSummary,
    /// Emotions.
    pub emotion: EmotionSummary,
    /// Messages by role.
    pub messages: RoleCounts,
    /// Reflections.
    pub reflections: u64,
    /// Lineage.
    pub lineage: Lineage,
    /// Events that changed it.
    pub events: u64,
    /// The latest of them.
    pub last_event: Instant,
}

/// Retirement, for display.
#[derive(Clone, Debug, Serialize)]
pub struct RetiredLine {
    /// When.
    pub at: Instant,
    /// Successor.
    pub successor: Option<Hash>,
    /// Why.
    pub reason: Option<String>,
}

/// Stage, for display.
#[derive(Clone, Debug, Serialize)]
pub struct StageLine {
    /// S0 to S4.
    pub code: Stage,
    /// Its name.
    pub name: &'static str,
    /// The formula's version.
    pub formula: &'static str,
}

/// One trait.
#[derive(Clone, Debug, Serialize)]
pub struct TraitLine {
    /// Trait name.
    pub name: &'static str,
    /// Value in [0, 1].
    pub value: Units,
    /// Word for the level.
    pub word: &'static str,
}

/// Commitment health.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    /// Opened.
    pub opened: u64,
    /// Open now.
    pub open: u64,
    /// Closed.
    pub closed: u64,
    /// Closed as done.
    pub done: u64,
    /// Expired.
    pub expired: u64,
    /// Done / (closed + expired).
    pub close_rate: Option<f64>,
    /// Mean lifespan of closed commitments, in events of the owner's feed.
    pub mean_lifespan_events: Option<f64>,
    /// The open ones.
    pub open_list: Vec<CommitmentLine>,
}

/// An open commitment.
#[derive(Clone, Debug, Serialize)]
pub struct CommitmentLine {
    /// Id.
    pub id: Hash,
    /// Title.
    pub title: String,
    /// Due.
    pub due: Option<Instant>,
    /// Opened.
    pub opened: Instant,
}

/// Memories.
#[derive(Clone, Debug, Serialize)]
pub struct MemorySummary {
    /// Not forgotten.
    pub live: u64,
    /// Forgotten.
    pub forgotten: u64,
    /// The instant strengths are computed for.
    pub as_of: Instant,
    /// The five strongest live memories.
    pub strongest: Vec<MemoryLine>,
}

/// A memory with its strength.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryLine {
    /// Id.
    pub id: Hash,
    /// Text.
    pub text: String,
    /// Importance.
    pub importance: Units,
    /// Strength as of `as_of`.
    pub strength: f64,
    /// Tags.
    pub tags: Vec<String>,
    /// Created.
    pub created: Instant,
}

/// A consent setting.
#[derive(Clone, Debug, Serialize)]
pub struct ConsentLine {
    /// Scope.
    pub scope: String,
    /// Allowed.
    pub allow: bool,
    /// Since.
    pub since: Instant,
}

/// Models.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    /// Current model.
    pub current: Option<ModelLine>,
    /// Swaps recorded.
    pub swaps: u64,
}

/// A model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelLine {
    /// Model.
    pub model: String,
    /// Hash.
    pub hash: String,
    /// Since.
    pub since: Instant,
}

/// Emotions.
#[derive(Clone, Debug, Serialize)]
pub struct EmotionSummary {
    /// Recorded.
    pub recorded: u64,
    /// Latest.
    pub latest: Option<EmotionLine>,
    /// Rolling mean valence.
    pub mean_valence: Option<Units>,
    /// Rolling mean arousal.
    pub mean_arousal: Option<Units>,
}

/// An emotion.
#[derive(Clone, Debug, Serialize)]
pub struct EmotionLine {
    /// Valence.
    pub valence: Units,
    /// Arousal.
    pub arousal: Units,
    /// Label.
    pub label: Option<String>,
    /// When.
    pub at: Instant,
}

/// Lineage.
#[derive(Clone, Debug, Serialize)]
pub struct Lineage {
    /// Forked from.
    pub parent: Option<Hash>,
    /// License of the fork.
    pub license: Option<String>,
    /// Forks of it.
    pub children: Vec<Hash>,
    /// Forks between it and its root.
    pub depth: u64,
}

fn boxed(e: StorageError) -> StateError {
    Box::new(e)
}

impl State for Views {
    fn persona(&self, id: &Hash) -> Result<Option<PersonaInfo>, StateError> {
        Ok(self.persona_row(id).map_err(boxed)?.map(|p| PersonaInfo {
            id: *id,
            owner: p.owner,
            name: p.name,
            description: p.description,
            retired: p.retired.is_some(),
            traits: p.traits,
        }))
    }

    fn persona_named(&self, owner: &PublicKey, name: &str) -> Result<Option<Hash>, StateError> {
        let found = rows::scan_keys(self.txn(), NAMES, &key(&[owner.as_bytes(), name.as_bytes()]), 1).map_err(boxed)?;
        Ok(found.into_iter().find(|(k, _)| k.len() == 32 + name.len()).map(|(_, v)| hash_at(&v, 0)))
    }

    fn commitment(&self, persona: &Hash, id: &Hash) -> Result<Option<CommitmentInfo>, StateError> {
        let row: Option<CommitmentRow> =
            rows::read(self.txn(), COMMITMENTS, &key(&[persona.as_bytes(), id.as_bytes()])).map_err(boxed)?;
        Ok(row.map(|c| CommitmentInfo {
            id: *id,
            persona: c.persona,
            open: c.status == CommitmentStatus::Open,
            status: c.status.as_str(),
            due: c.due,
        }))
    }

    fn overdue_commitments(&self, owner: &PublicKey, now: Micros) -> Result<Vec<CommitmentInfo>, StateError> {
        let mut out = Vec::new();
        for (k, _) in rows::scan_keys(self.txn(), COMMITMENTS_DUE, owner.as_bytes(), usize::MAX).map_err(boxed)? {
            let due = u64::from_be_bytes(k[32..40].try_into().unwrap_or_default());
            if due >= now {
                break;
            }
            if let Some(c) = self.commitment(&hash_at(&k, 40), &hash_at(&k, 72))? {
                out.push(c);
            }
        }
        out.sort_by_key(|c| c.id);
        Ok(out)
    }

    fn memory(&self, persona: &Hash, id: &Hash) -> Result<Option<MemoryInfo>, StateError> {
        let row: Option<MemoryRow> =
            rows::read(self.txn(), MEMORIES, &key(&[persona.as_bytes(), id.as_bytes()])).map_err(boxed)?;
        Ok(row.map(|m| MemoryInfo { id: *id, persona: m.persona, forgotten: m.forgotten.is_some() }))
    }

    fn ids_with_prefix(
        &self,
        space: IdSpace,
        within: Option<&Hash>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Hash>, StateError> {
        let (table, scope): (&str, &[u8]) = match (space, within) {
            (IdSpace::Persona, _) => (PERSONAS, &[]),
            (IdSpace::Commitment, Some(p)) => (COMMITMENTS, p.as_bytes()),
            (IdSpace::Memory, Some(p)) => (MEMORIES, p.as_bytes()),
            (_, None) => return Ok(Vec::new()),
        };
        // Whole bytes of the prefix narrow the scan; an odd last hex digit is checked per key.
        let whole: Vec<u8> =
            (0..prefix.len() / 2).filter_map(|i| u8::from_str_radix(prefix.get(2 * i..2 * i + 2)?, 16).ok()).collect();
        let mut out = Vec::new();
        for (k, _) in rows::scan_keys(self.txn(), table, &key(&[scope, &whole]), usize::MAX).map_err(boxed)? {
            let id = hash_at(&k, scope.len());
            if id.to_string().starts_with(prefix) {
                out.push(id);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}
