//! `MemState`: the state `decide` needs, kept in memory and folded from events. `mindlog gen`
//! decides its synthetic commands against one per author; tests use it too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mindlog_ledger::{Hash, PublicKey};

use crate::decide::{CommitmentInfo, IdSpace, MemoryInfo, PersonaInfo, State, StateError};
use crate::event::Event;
use crate::units::Micros;

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
}

impl MemState {
    /// Folds one event, authored by `author`, whose hash is `hash`. Events that would change
    /// what their author does not own are ignored, as the projections ignore them.
    pub fn apply(&mut self, author: &PublicKey, hash: Hash, event: &Event) {
        let owns = |state: &MemState, persona: &Hash| {
            state.personas.get(persona).is_some_and(|p| p.owner == *author && !p.retired)
        };
        match event {
            Event::PersonaCreated(e) => {
                self.add_persona(*author, hash, &e.name, &e.description, crate::Traits::NEUTRAL)
            }
            Event::PersonaForked(e) => self.add_persona(*author, hash, &e.name, &e.description, e.traits),
            Event::TraitsChanged(e) if owns(self, &e.persona) => {
                if let Some(p) = self.personas.get_mut(&e.persona) {
                    p.traits = p.traits.plus(&e.deltas);
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

    /// The personas, in id order.
    pub fn personas(&self) -> impl Iterator<Item = &PersonaInfo> {
        self.personas.values()
    }

    /// `owner`'s personas that are not retired, in id order.
    pub fn active_personas(&self, owner: &PublicKey) -> impl Iterator<Item = &PersonaInfo> {
        self.active.get(owner).into_iter().flatten().filter_map(|id| self.personas.get(id))
    }

    /// The open commitments of `persona`, in id order.
    pub fn open_commitments(&self, persona: &Hash) -> impl Iterator<Item = &CommitmentInfo> {
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
    fn ids_with_prefix(
        &self,
        space: IdSpace,
        within: Option<&Hash>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Hash>, StateError> {
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
