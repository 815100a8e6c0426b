//! The persona domain: identity, traits, commitments, memory, reflection, emotion, consent,
//! models, messages and lineage — the event payloads with their state-free rules (`Check`), and
//! the commands with their rules (`Decide`).

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::catalog::Event;
use crate::check::{self, Check};
use crate::decide::{CommitmentInfo, Context, Decide, Decided, IdSpace, MemoryInfo, PersonaInfo, one, unique_id};
use crate::rejection::Rejection;
use crate::time::Instant;
use crate::units::{Micros, Units};

/// The largest trait change one event may make: 0.05.
pub(crate) const MAX_TRAIT_DELTA: Units = Units(50_000);

/// The most tags a memory may have.
pub(crate) const MAX_TAGS: usize = 16;

/// The Big Five traits (OCEAN), each in [0, 1]; or, in a change, each a delta.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traits {
    /// Openness to experience.
    pub openness: Units,
    /// Conscientiousness: organised, dependable.
    pub conscientiousness: Units,
    /// Extraversion: outgoing, energetic.
    pub extraversion: Units,
    /// Agreeableness: friendly, compassionate.
    pub agreeableness: Units,
    /// Neuroticism: sensitive, prone to negative emotion.
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
    pub(crate) fn from_values(v: [Units; 5]) -> Traits {
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
    /// What the persona is for, free text (may be empty).
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
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The deltas.
    pub deltas: Traits,
}

/// `persona.retired/1`: the persona accepts no more changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaRetired {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The persona that takes over, if any.
    pub successor: Option<Hash>,
    /// Why it was retired, free text, if given.
    pub reason: Option<String>,
}

/// `commitment.opened/1`: a promise the persona makes. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentOpened {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// What is promised.
    pub title: String,
    /// When it is due, if ever.
    #[serde(with = "crate::time::option_micros_as_instant")]
    pub due: Option<Micros>,
}

/// How a commitment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Kept: the promise was fulfilled.
    Done,
    /// Tried and not kept.
    Failed,
    /// Withdrawn before it was due: neither kept nor failed.
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
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The commitment (the hash of its `commitment.opened/1`).
    pub commitment: Hash,
    /// How it ended.
    pub outcome: Outcome,
}

/// `commitment.expired/1`: written by a sweep for an open commitment past its due time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentExpired {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The commitment.
    pub commitment: Hash,
}

/// `memory.added/1`. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryAdded {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// What to remember.
    pub text: String,
    /// How much it matters, in [0, 1]: its strength when new, before it fades.
    pub importance: Units,
    /// Labels to search by: at most 16 words.
    pub tags: Vec<String>,
}

/// `memory.forgotten/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryForgotten {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The memory (the hash of its `memory.added/1`).
    pub memory: Hash,
}

/// `persona.reflected/1`: an insight the persona records about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reflected {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The reflection.
    pub text: String,
}

/// `persona.emotion-recorded/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmotionRecorded {
    /// The persona it is about: the hash of the event that created it.
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
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// What the consent is about, e.g. share-memory.
    pub scope: String,
    /// Allowed or denied.
    pub allow: bool,
}

/// `persona.model-used/1`: the persona now runs on `model` (a model swap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsed {
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// The model, e.g. ollama:llama3.1.
    pub model: String,
    /// The model's content hash, e.g. sha256:….
    pub hash: String,
}

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person talking to the persona.
    User,
    /// The persona.
    Assistant,
    /// Instructions that set up the persona's behaviour.
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
    /// The persona it is about: the hash of the event that created it.
    pub persona: Hash,
    /// Who spoke: the user, the persona or the system prompt.
    pub role: Role,
    /// What was said.
    pub text: String,
}

// State-free rules of the payloads.

impl Check for PersonaCreated {
    fn check(&self) -> Result<(), Rejection> {
        check::name(&self.name)?;
        check::text("description", &self.description, 0, 2000)
    }
}

impl Check for PersonaForked {
    fn check(&self) -> Result<(), Rejection> {
        check::name(&self.name)?;
        check::text("description", &self.description, 0, 2000)?;
        check::optional_word("license", self.license.as_deref(), 64)?;
        for (name, value) in Traits::NAMES.iter().zip(self.traits.values()) {
            if !(Units::ZERO..=Units::ONE).contains(&value) {
                return Err(Rejection::TraitOutOfRange { name, value });
            }
        }
        Ok(())
    }
}

impl Check for TraitsChanged {
    fn check(&self) -> Result<(), Rejection> {
        let deltas = self.deltas.values();
        if deltas.iter().all(|d| d.0 == 0) {
            return Err(Rejection::NoTraitChange);
        }
        for (name, delta) in Traits::NAMES.iter().zip(deltas) {
            if delta.0.abs() > MAX_TRAIT_DELTA.0 {
                return Err(Rejection::TraitDeltaTooLarge { name, delta });
            }
        }
        Ok(())
    }
}

impl Check for PersonaRetired {
    fn check(&self) -> Result<(), Rejection> {
        if self.successor == Some(self.persona) {
            return Err(Rejection::SuccessorIsItself);
        }
        self.reason.as_deref().map_or(Ok(()), |reason| check::text("reason", reason, 1, 2000))
    }
}

impl Check for CommitmentOpened {
    fn check(&self) -> Result<(), Rejection> {
        check::text("title", &self.title, 1, 500)
    }
}

impl Check for CommitmentClosed {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for CommitmentExpired {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for MemoryAdded {
    fn check(&self) -> Result<(), Rejection> {
        check::text("memory text", &self.text, 1, 10_000)?;
        check::range("importance", self.importance, Units::ZERO, Units::ONE)?;
        if self.tags.len() > MAX_TAGS {
            return Err(Rejection::TooManyTags { count: self.tags.len(), max: MAX_TAGS });
        }
        self.tags.iter().try_for_each(|tag| check::word("tag", tag, 32))
    }
}

impl Check for MemoryForgotten {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Reflected {
    fn check(&self) -> Result<(), Rejection> {
        check::text("reflection", &self.text, 1, 10_000)
    }
}

impl Check for EmotionRecorded {
    fn check(&self) -> Result<(), Rejection> {
        check::range("valence", self.valence, Units(-1_000_000), Units::ONE)?;
        check::range("arousal", self.arousal, Units::ZERO, Units::ONE)?;
        check::optional_word("label", self.label.as_deref(), 32)
    }
}

impl Check for ConsentSet {
    fn check(&self) -> Result<(), Rejection> {
        check::word("scope", &self.scope, 64)
    }
}

impl Check for ModelUsed {
    fn check(&self) -> Result<(), Rejection> {
        check::text("model", &self.model, 1, 128)?;
        let hash = &self.hash;
        if !hash.contains(':') || hash.len() > 200 || hash.chars().any(char::is_whitespace) {
            return Err(Rejection::BadModelHash(hash.clone()));
        }
        Ok(())
    }
}

impl Check for MessageRecorded {
    fn check(&self) -> Result<(), Rejection> {
        check::text("message", &self.text, 1, 65_536)
    }
}

// The commands and their rules. A persona reference is one of the author's persona names, or
// any persona's id or id prefix (docs/commands.md §2); every command but create, fork and sweep
// acts on a persona the author owns and has not retired.

/// `persona.create`: create a persona owned by the author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct PersonaCreate {
    /// Its name, unique among your personas
    pub name: String,
    /// What it is
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, default_value = ""))]
    pub description: String,
}

impl Decide for PersonaCreate {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        if cx.state.persona_named(cx.author, &self.name)?.is_some() {
            return Err(Rejection::NameTaken(self.name.clone()).into());
        }
        one(Event::PersonaCreated(PersonaCreated { name: self.name.clone(), description: self.description.clone() }))
    }
}

/// `persona.traits`: nudge the Big Five traits of a persona; each delta at most 0.05 either
/// way, and every trait stays in [0, 1].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct PersonaTraits {
    /// The persona (your name for it, or an id or id prefix)
    pub persona: String,
    /// Openness delta
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub openness: Option<Units>,
    /// Conscientiousness delta
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub conscientiousness: Option<Units>,
    /// Extraversion delta
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub extraversion: Option<Units>,
    /// Agreeableness delta
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub agreeableness: Option<Units>,
    /// Neuroticism delta
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub neuroticism: Option<Units>,
}

impl Decide for PersonaTraits {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        let given = [self.openness, self.conscientiousness, self.extraversion, self.agreeableness, self.neuroticism];
        let changed =
            TraitsChanged { persona: p.id, deltas: Traits::from_values(given.map(Option::unwrap_or_default)) };
        // The deltas' own rules first: a delta that is too large says more than the range it leaves.
        changed.check()?;
        let after = p.traits.plus(&changed.deltas);
        for (name, value) in Traits::NAMES.iter().zip(after.values()) {
            if value < Units::ZERO || value > Units::ONE {
                return Err(Rejection::TraitOutOfRange { name, value }.into());
            }
        }
        one(Event::TraitsChanged(changed))
    }
}

/// `persona.fork`: fork any persona into a new one owned by the author, starting from the
/// parent's description and traits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct PersonaFork {
    /// The persona to fork (yours by name, anyone's by id or id prefix)
    pub persona: String,
    /// The new persona's name
    pub name: String,
    /// The license the fork is made under, e.g. CC-BY-4.0
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub license: Option<String>,
}

impl Decide for PersonaFork {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let parent = cx.resolve_persona(&self.persona)?;
        if cx.state.persona_named(cx.author, &self.name)?.is_some() {
            return Err(Rejection::NameTaken(self.name.clone()).into());
        }
        one(Event::PersonaForked(PersonaForked {
            parent: parent.id,
            name: self.name.clone(),
            description: parent.description,
            license: self.license.clone(),
            traits: parent.traits,
        }))
    }
}

/// `persona.retire`: retire a persona; it accepts no more changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct PersonaRetire {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// The persona that takes over
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub successor: Option<String>,
    /// Why it is retired (free text)
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub reason: Option<String>,
}

impl Decide for PersonaRetire {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        let successor = match &self.successor {
            Some(s) => Some(cx.resolve_persona(s)?.id),
            None => None,
        };
        one(Event::PersonaRetired(PersonaRetired { persona: p.id, successor, reason: self.reason.clone() }))
    }
}

/// `commitment.open`: a promise the persona makes, maybe with a due time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct CommitmentOpen {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// What is promised
    pub title: String,
    /// When it is due: 2026-12-01 or 2026-12-01T17:00Z
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, value_name = "TIME"))]
    pub due: Option<Instant>,
}

impl Decide for CommitmentOpen {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        if let Some(due) = self.due
            && due.0 <= cx.now
        {
            return Err(Rejection::DueInPast(due).into());
        }
        one(Event::CommitmentOpened(CommitmentOpened {
            persona: p.id,
            title: self.title.clone(),
            due: self.due.map(|d| d.0),
        }))
    }
}

/// `commitment.close`: close an open commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct CommitmentClose {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// The commitment id or an id prefix
    pub commitment: String,
    /// How it ended
    #[cfg_attr(feature = "cli", arg(long, value_enum))]
    pub outcome: Outcome,
}

impl Decide for CommitmentClose {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        let c = cx.resolve_commitment(&p, &self.commitment)?;
        if !c.open {
            return Err(Rejection::CommitmentNotOpen { id: c.id, status: c.status }.into());
        }
        one(Event::CommitmentClosed(CommitmentClosed { persona: p.id, commitment: c.id, outcome: self.outcome }))
    }
}

/// `commitment.sweep`: expire the author's open commitments that are past due (each expiry is
/// an event; none is no rejection).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct CommitmentSweep {}

impl Decide for CommitmentSweep {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let mut out = Vec::new();
        for c in cx.state.overdue_commitments(cx.author, cx.now)? {
            // A retired persona accepts no changes, expiries included.
            if cx.state.persona(&c.persona)?.is_some_and(|p| !p.retired && p.owner == *cx.author) {
                out.push(Event::CommitmentExpired(CommitmentExpired { persona: c.persona, commitment: c.id }));
            }
        }
        Ok(out)
    }
}

/// `memory.add`: remember something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MemoryAdd {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// What to remember
    pub text: String,
    /// How important, in [0, 1]
    #[cfg_attr(feature = "cli", arg(long))]
    pub importance: Units,
    /// A label (repeat for several)
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long = "tag"))]
    pub tags: Vec<String>,
}

impl Decide for MemoryAdd {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        one(Event::MemoryAdded(MemoryAdded {
            persona: p.id,
            text: self.text.clone(),
            importance: self.importance,
            tags: self.tags.clone(),
        }))
    }
}

/// `memory.forget`: forget a memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MemoryForget {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// The memory id or an id prefix
    pub memory: String,
}

impl Decide for MemoryForget {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        let m = cx.resolve_memory(&p, &self.memory)?;
        one(Event::MemoryForgotten(MemoryForgotten { persona: p.id, memory: m.id }))
    }
}

/// `reflect`: record an insight the persona has about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Reflect {
    /// The persona (your name for it, or an id or id prefix)
    pub persona: String,
    /// The reflection
    pub text: String,
}

impl Decide for Reflect {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        one(Event::Reflected(Reflected { persona: p.id, text: self.text.clone() }))
    }
}

/// `emotion`: record an emotion of the persona.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Emotion {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// Unpleasant (-1) to pleasant (1)
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub valence: Units,
    /// Calm (0) to excited (1)
    #[cfg_attr(feature = "cli", arg(long, allow_negative_numbers = true))]
    pub arousal: Units,
    /// A word for it, e.g. calm
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub label: Option<String>,
}

impl Decide for Emotion {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        one(Event::EmotionRecorded(EmotionRecorded {
            persona: p.id,
            valence: self.valence,
            arousal: self.arousal,
            label: self.label.clone(),
        }))
    }
}

/// `consent`: allow or deny a use of the persona's data. In JSON `"allow": true` or `false`;
/// on the command line `--allow` or `--deny`, exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[cfg_attr(
    feature = "cli",
    command(arg(clap::Arg::new("deny").long("deny").action(clap::ArgAction::SetTrue).help("Deny it")))
)]
pub struct Consent {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// What the consent is about, e.g. share-memory
    #[cfg_attr(feature = "cli", arg(long))]
    pub scope: String,
    /// Allowed (true) or denied (false)
    #[cfg_attr(
        feature = "cli",
        arg(long, help = "Allow it", conflicts_with = "deny", required_unless_present = "deny")
    )]
    pub allow: bool,
}

impl Decide for Consent {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        one(Event::ConsentSet(ConsentSet { persona: p.id, scope: self.scope.clone(), allow: self.allow }))
    }
}

/// `model.use`: switch the persona to another model (a model swap), recorded with its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct ModelUse {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// The model, e.g. ollama:llama3.1
    pub model: String,
    /// The model's content hash, e.g. sha256:9f86d0…
    #[cfg_attr(feature = "cli", arg(long))]
    pub hash: String,
}

impl Decide for ModelUse {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        one(Event::ModelUsed(ModelUsed { persona: p.id, model: self.model.clone(), hash: self.hash.clone() }))
    }
}

/// `message`: record a chat turn of the persona.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Message {
    /// The persona: one of your persona names, or an id or id prefix
    pub persona: String,
    /// Who spoke: user, assistant (the persona) or system (its instructions)
    #[cfg_attr(feature = "cli", arg(long, value_enum))]
    pub role: Role,
    /// What was said
    pub text: String,
}

impl Decide for Message {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let p = cx.own_active(&self.persona)?;
        one(Event::MessageRecorded(MessageRecorded { persona: p.id, role: self.role, text: self.text.clone() }))
    }
}

impl Context<'_> {
    /// A commitment of `persona` by id or unambiguous id prefix (open or not).
    fn resolve_commitment(&self, persona: &PersonaInfo, reference: &str) -> Result<CommitmentInfo, crate::DecideError> {
        let unknown = || Rejection::UnknownCommitment(reference.to_owned());
        let id = unique_id(self.state, IdSpace::Commitment, Some(&persona.id), "commitment", reference, |id| {
            Ok(self.state.commitment(&persona.id, id)?.is_some())
        })?;
        Ok(self.state.commitment(&persona.id, &id.ok_or_else(unknown)?)?.ok_or_else(unknown)?)
    }

    /// A memory of `persona`, not forgotten, by id or unambiguous id prefix.
    fn resolve_memory(&self, persona: &PersonaInfo, reference: &str) -> Result<MemoryInfo, crate::DecideError> {
        let unknown = || Rejection::UnknownMemory(reference.to_owned());
        let id = unique_id(self.state, IdSpace::Memory, Some(&persona.id), "memory", reference, |id| {
            Ok(self.state.memory(&persona.id, id)?.is_some_and(|m| !m.forgotten))
        })?;
        Ok(self.state.memory(&persona.id, &id.ok_or_else(unknown)?)?.ok_or_else(unknown)?)
    }
}

impl Event {
    /// The persona whose personal content this event records — a memory, a message, a reflection
    /// or an emotion — or `None` for any other event. Such events follow their persona's privacy
    /// default (`persona create --private`), and `persona erase` erases their payloads.
    pub fn personal_content_of(&self) -> Option<Hash> {
        match self {
            Event::MemoryAdded(x) => Some(x.persona),
            Event::MessageRecorded(x) => Some(x.persona),
            Event::Reflected(x) => Some(x.persona),
            Event::EmotionRecorded(x) => Some(x.persona),
            _ => None,
        }
    }
}
