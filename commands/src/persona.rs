//! The persona domain's event payloads: identity, traits, commitments, memory, reflection,
//! emotion, consent, models, messages and lineage.

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::units::{Micros, Units};

/// The Big Five traits (OCEAN), each in [0, 1]; or, in a change, each a delta.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traits {
    /// Openness to experience.
    pub openness: Units,
    /// Conscientiousness.
    pub conscientiousness: Units,
    /// Extraversion.
    pub extraversion: Units,
    /// Agreeableness.
    pub agreeableness: Units,
    /// Neuroticism.
    pub neuroticism: Units,
}

impl Traits {
    /// Where every persona starts: 0.5 on each trait.
    pub const NEUTRAL: Traits = Traits {
        openness: Units(500_000),
        conscientiousness: Units(500_000),
        extraversion: Units(500_000),
        agreeableness: Units(500_000),
        neuroticism: Units(500_000),
    };

    /// The trait names, in field order.
    pub const NAMES: [&'static str; 5] =
        ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"];

    /// The values in field order.
    pub fn values(&self) -> [Units; 5] {
        [self.openness, self.conscientiousness, self.extraversion, self.agreeableness, self.neuroticism]
    }

    /// From values in field order.
    pub fn from_values(v: [Units; 5]) -> Traits {
        Traits { openness: v[0], conscientiousness: v[1], extraversion: v[2], agreeableness: v[3], neuroticism: v[4] }
    }

    /// `self + delta`, trait by trait.
    pub fn plus(&self, delta: &Traits) -> Traits {
        let (a, b) = (self.values(), delta.values());
        Traits::from_values(std::array::from_fn(|i| Units(a[i].0 + b[i].0)))
    }
}

/// `persona.created/1`: a new persona, owned by the event's author. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaCreated {
    /// Unique among the owner's personas.
    pub name: String,
    /// Free text.
    pub description: String,
}

/// `persona.forked/1`: a new persona derived from `parent` (anyone's), owned by the event's
/// author, starting from the parent's traits as they were when the fork was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaForked {
    /// The persona forked from.
    pub parent: Hash,
    /// Unique among the owner's personas.
    pub name: String,
    /// The parent's description, carried over.
    pub description: String,
    /// The license the fork is made under, e.g. CC-BY-4.0.
    pub license: Option<String>,
    /// The parent's traits at the fork (carried in the event so every node folds the same value).
    pub traits: Traits,
}

/// `persona.traits-changed/1`: Big Five deltas, each at most 0.05 in absolute value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraitsChanged {
    /// The persona.
    pub persona: Hash,
    /// The deltas.
    pub deltas: Traits,
}

/// `persona.retired/1`: the persona accepts no more changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaRetired {
    /// The persona.
    pub persona: Hash,
    /// The persona that takes over, if any.
    pub successor: Option<Hash>,
    /// Why.
    pub reason: Option<String>,
}

/// `commitment.opened/1`: a promise the persona makes. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentOpened {
    /// The persona.
    pub persona: Hash,
    /// What is promised.
    pub title: String,
    /// When it is due, if ever.
    #[serde(with = "crate::time::option_micros_as_instant")]
    pub due: Option<Micros>,
}

/// How a commitment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Kept.
    Done,
    /// Tried and not kept.
    Failed,
    /// Withdrawn.
    Cancelled,
}

impl Outcome {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// `commitment.closed/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentClosed {
    /// The persona.
    pub persona: Hash,
    /// The commitment (the hash of its `commitment.opened/1`).
    pub commitment: Hash,
    /// How it ended.
    pub outcome: Outcome,
}

/// `commitment.expired/1`: written by a sweep for an open commitment past its due time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentExpired {
    /// The persona.
    pub persona: Hash,
    /// The commitment.
    pub commitment: Hash,
}

/// `memory.added/1`. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryAdded {
    /// The persona.
    pub persona: Hash,
    /// What to remember.
    pub text: String,
    /// In [0, 1].
    pub importance: Units,
    /// Labels.
    pub tags: Vec<String>,
}

/// `memory.forgotten/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryForgotten {
    /// The persona.
    pub persona: Hash,
    /// The memory (the hash of its `memory.added/1`).
    pub memory: Hash,
}

/// `persona.reflected/1`: an insight the persona records about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reflected {
    /// The persona.
    pub persona: Hash,
    /// The reflection.
    pub text: String,
}

/// `persona.emotion-recorded/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmotionRecorded {
    /// The persona.
    pub persona: Hash,
    /// In [-1, 1]: unpleasant to pleasant.
    pub valence: Units,
    /// In [0, 1]: calm to excited.
    pub arousal: Units,
    /// A word for it, e.g. calm.
    pub label: Option<String>,
}

/// `persona.consent-set/1`: whether the persona's data may be used for `scope`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentSet {
    /// The persona.
    pub persona: Hash,
    /// What the consent is about, e.g. share-memory.
    pub scope: String,
    /// Allowed or denied.
    pub allow: bool,
}

/// `persona.model-used/1`: the persona now runs on `model` (a model swap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsed {
    /// The persona.
    pub persona: Hash,
    /// The model, e.g. ollama:llama3.1.
    pub model: String,
    /// The model's content hash, e.g. sha256:….
    pub hash: String,
}

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person talking to the persona.
    User,
    /// The persona.
    Assistant,
    /// Instructions.
    System,
}

impl Role {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }
}

/// `persona.message/1`: one chat turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecorded {
    /// The persona.
    pub persona: Hash,
    /// Who spoke.
    pub role: Role,
    /// What was said.
    pub text: String,
}
