//! Commands: what a user or an application asks for, before it is decided into events.
//!
//! The JSON form (`mindlog submit`) is the command's fields with `"command"` beside them.
//! Personas, commitments and memories are referred to as people type them: a persona by its
//! name among the author's personas, or by its id or an unambiguous id prefix (4 hex characters
//! or more); a commitment or memory by its id or an id prefix.

use serde::{Deserialize, Serialize};

use crate::persona::{Outcome, Role};
use crate::time::Instant;
use crate::units::Units;

/// Every command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", deny_unknown_fields)]
#[non_exhaustive]
pub enum Command {
    /// Create a persona owned by the author.
    #[serde(rename = "persona.create")]
    PersonaCreate {
        /// Unique among the author's personas.
        name: String,
        /// Free text.
        #[serde(default)]
        description: String,
    },
    /// Nudge the Big Five traits; each delta at most 0.05 in absolute value.
    #[serde(rename = "persona.traits")]
    PersonaTraits {
        /// The persona.
        persona: String,
        /// Openness delta.
        #[serde(default)]
        openness: Option<Units>,
        /// Conscientiousness delta.
        #[serde(default)]
        conscientiousness: Option<Units>,
        /// Extraversion delta.
        #[serde(default)]
        extraversion: Option<Units>,
        /// Agreeableness delta.
        #[serde(default)]
        agreeableness: Option<Units>,
        /// Neuroticism delta.
        #[serde(default)]
        neuroticism: Option<Units>,
    },
    /// Fork any persona into a new one owned by the author.
    #[serde(rename = "persona.fork")]
    PersonaFork {
        /// The persona to fork.
        persona: String,
        /// The new persona's name.
        name: String,
        /// The license of the fork.
        #[serde(default)]
        license: Option<String>,
    },
    /// Retire a persona: no more changes.
    #[serde(rename = "persona.retire")]
    PersonaRetire {
        /// The persona.
        persona: String,
        /// Who takes over.
        #[serde(default)]
        successor: Option<String>,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Open a commitment.
    #[serde(rename = "commitment.open")]
    CommitmentOpen {
        /// The persona.
        persona: String,
        /// What is promised.
        title: String,
        /// When it is due.
        #[serde(default)]
        due: Option<Instant>,
    },
    /// Close an open commitment.
    #[serde(rename = "commitment.close")]
    CommitmentClose {
        /// The persona.
        persona: String,
        /// The commitment id or prefix.
        commitment: String,
        /// How it ended.
        outcome: Outcome,
    },
    /// Expire the author's open commitments that are past due.
    #[serde(rename = "commitment.sweep")]
    CommitmentSweep,
    /// Remember something.
    #[serde(rename = "memory.add")]
    MemoryAdd {
        /// The persona.
        persona: String,
        /// What to remember.
        text: String,
        /// In [0, 1].
        importance: Units,
        /// Labels.
        #[serde(default)]
        tags: Vec<String>,
    },
    /// Forget a memory.
    #[serde(rename = "memory.forget")]
    MemoryForget {
        /// The persona.
        persona: String,
        /// The memory id or prefix.
        memory: String,
    },
    /// Record a reflection.
    #[serde(rename = "reflect")]
    Reflect {
        /// The persona.
        persona: String,
        /// The reflection.
        text: String,
    },
    /// Record an emotion.
    #[serde(rename = "emotion")]
    Emotion {
        /// The persona.
        persona: String,
        /// In [-1, 1].
        valence: Units,
        /// In [0, 1].
        arousal: Units,
        /// A word for it.
        #[serde(default)]
        label: Option<String>,
    },
    /// Allow or deny a use of the persona's data.
    #[serde(rename = "consent")]
    Consent {
        /// The persona.
        persona: String,
        /// What for, e.g. share-memory.
        scope: String,
        /// Allow (true) or deny (false).
        allow: bool,
    },
    /// Switch the persona to another model.
    #[serde(rename = "model.use")]
    ModelUse {
        /// The persona.
        persona: String,
        /// The model, e.g. ollama:llama3.1.
        model: String,
        /// Its content hash, e.g. sha256:….
        hash: String,
    },
    /// Record a chat turn.
    #[serde(rename = "message")]
    Message {
        /// The persona.
        persona: String,
        /// Who spoke.
        role: Role,
        /// What was said.
        text: String,
    },
}

impl Command {
    /// The command's name, as in its JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Command::PersonaCreate { .. } => "persona.create",
            Command::PersonaTraits { .. } => "persona.traits",
            Command::PersonaFork { .. } => "persona.fork",
            Command::PersonaRetire { .. } => "persona.retire",
            Command::CommitmentOpen { .. } => "commitment.open",
            Command::CommitmentClose { .. } => "commitment.close",
            Command::CommitmentSweep => "commitment.sweep",
            Command::MemoryAdd { .. } => "memory.add",
            Command::MemoryForget { .. } => "memory.forget",
            Command::Reflect { .. } => "reflect",
            Command::Emotion { .. } => "emotion",
            Command::Consent { .. } => "consent",
            Command::ModelUse { .. } => "model.use",
            Command::Message { .. } => "message",
        }
    }
}
