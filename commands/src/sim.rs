//! A synthetic but plausible workload: per author, the next command a user might issue, decided
//! into an event against the author's own state. `mindlog gen` writes it; tests fold it.
//!
//! Everything here is deterministic: [`Rng`] is SplitMix64, defined here so a seed means the same
//! events in every version that keeps this file's choices.

use mindlog_ledger::{Hash, PublicKey};

use crate::command::Command;
use crate::decide::{DecideError, PersonaInfo, decide};
use crate::event::Event;
use crate::memstate::MemState;
use crate::persona::{Outcome, Role};
use crate::time::Instant;
use crate::units::{DAY_MICROS, Micros, Units};

/// 2026-01-01T00:00:00Z in microseconds: where generated time starts.
pub const GEN_EPOCH_MICROS: Micros = 1_767_225_600_000_000;

/// Microseconds between consecutive generated events: 1,000,000 events span about 58 days.
pub const GEN_SPACING_MICROS: Micros = 5_000_000;

/// SplitMix64: tiny, fast, and fixed forever (unlike a library generator that may change between versions).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `(seed, domain, index)`, independent of every other.
    pub fn derive(seed: u64, domain: &str, index: u64) -> Rng {
        let mut hasher = blake3::Hasher::new();
        hasher.update(domain.as_bytes());
        hasher.update(&seed.to_le_bytes());
        hasher.update(&index.to_le_bytes());
        let bytes = hasher.finalize();
        Rng(u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default()))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A uniformly chosen item of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "persona",
    "memory",
    "commitment",
    "trait",
    "reflection",
    "model",
    "consent",
    "lineage",
    "signal",
    "curious",
    "steady",
    "careful",
    "weekly",
    "report",
    "review",
    "plugin",
    "service",
    "audit",
    "tool",
    "session",
    "answer",
    "short",
    "brief",
    "detailed",
    "open",
    "closed",
    "trust",
    "vouch",
    "attest",
    "guild",
    "market",
    "listing",
    "the",
    "a",
    "of",
    "to",
    "and",
    "with",
    "for",
    "on",
    "is",
    "was",
    "will",
    "should",
    "prefers",
    "notes",
];

/// Pseudo-words of `min` to `min + spread` bytes.
pub fn words(rng: &mut Rng, min: usize, spread: u64) -> String {
    let len = min + rng.below(spread) as usize;
    text(rng, len)
}

/// Pseudo-words of about `len` bytes.
pub fn text(rng: &mut Rng, len: usize) -> String {
    let mut out = String::with_capacity(len + 12);
    while out.len() < len {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(rng.pick::<&str>(WORDS));
    }
    out
}

/// One author's simulated user: what it has done so far decides what it does next.
///
/// It keeps the author's personas, commitments and memories in a [`MemState`], picks a plausible
/// next command, and has `decide` turn it into an event, so every event is one a user could have
/// made and every fold has real work to do.
#[derive(Clone, Debug)]
pub struct AuthorSim {
    author: PublicKey,
    state: MemState,
}

const MODELS: &[&str] = &["ollama:llama3.1", "ollama:mistral", "ollama:qwen2.5", "openai:gpt-4o-mini", "local:phi-3"];
const SCOPES: &[&str] = &["share-memory", "train-models", "publish-reflections", "analytics", "marketplace-listing"];
const LABELS: &[&str] = &["calm", "curious", "tense", "glad", "tired", "focused", "uneasy"];
const TAGS: &[&str] = &["style", "fact", "preference", "project", "person", "todo"];

impl AuthorSim {
    /// A user with nothing yet (or whose earlier events this simulation does not know).
    pub fn new(author: PublicKey) -> AuthorSim {
        AuthorSim { author, state: MemState::default() }
    }

    /// Records that `event` was written with hash `hash`.
    pub fn observe(&mut self, hash: Hash, event: &Event) {
        self.state.apply(&self.author, hash, event);
    }

    /// The event for slot `index` (a global position, which also names new personas) at `ts`:
    /// the first event `decide` makes of the next command. A command that makes none, like a
    /// sweep with nothing due, gives way to another.
    pub fn next_event(&self, rng: &mut Rng, index: u64, ts: Micros) -> Result<Event, DecideError> {
        for _ in 0..4 {
            let command = self.next_command(rng, index);
            if let Some(event) = decide(&self.state, &self.author, ts, &command)?.into_iter().next() {
                return Ok(event);
            }
        }
        let persona = self.state.active_personas(&self.author).next().map(|p| p.id.to_string()).unwrap_or_default();
        let command = Command::Message { persona, role: Role::User, text: text(rng, 200) };
        Ok(decide(&self.state, &self.author, ts, &command)?.remove(0))
    }

    /// The next command this author plausibly issues at `index`.
    fn next_command(&self, rng: &mut Rng, index: u64) -> Command {
        let me = self.author;
        let active: Vec<&PersonaInfo> = self.state.active_personas(&me).collect();
        // A handful of personas per author: new ones while there are few, retirements when there are many.
        if active.is_empty() || (active.len() < 12 && rng.below(1000) < 3) {
            return Command::PersonaCreate { name: format!("persona-{index}"), description: words(rng, 40, 120) };
        }
        let p = rng.pick(&active);
        let persona = p.id.to_string();
        let roll = rng.below(1000);
        match roll {
            0..400 => {
                let role = *rng.pick(&[Role::User, Role::Assistant, Role::Assistant, Role::User, Role::System]);
                Command::Message { persona, role, text: words(rng, 100, 480) }
            }
            400..520 => Command::MemoryAdd {
                persona,
                text: words(rng, 100, 400),
                importance: Units(rng.below(1_000_001) as i64),
                tags: (0..rng.below(3)).map(|_| (*rng.pick(TAGS)).to_owned()).collect(),
            },
            520..550 => match self.state.live_memories(&p.id).next() {
                Some(m) => Command::MemoryForget { persona, memory: m.id.to_string() },
                None => Command::Reflect { persona, text: words(rng, 100, 300) },
            },
            550..630 => Command::CommitmentOpen {
                persona,
                title: words(rng, 100, 200),
                due: (rng.below(4) > 0)
                    .then(|| Instant(index * GEN_SPACING_MICROS + GEN_EPOCH_MICROS + (1 + rng.below(14)) * DAY_MICROS)),
            },
            630..690 => match self.state.open_commitments(&p.id).next() {
                Some(c) => Command::CommitmentClose {
                    persona,
                    commitment: c.id.to_string(),
                    outcome: *rng.pick(&[
                        Outcome::Done,
                        Outcome::Done,
                        Outcome::Done,
                        Outcome::Failed,
                        Outcome::Cancelled,
                    ]),
                },
                None => Command::CommitmentSweep,
            },
            690..750 => Command::Reflect { persona, text: words(rng, 100, 400) },
            750..830 => Command::Emotion {
                persona,
                valence: Units(rng.below(2_000_001) as i64 - 1_000_000),
                arousal: Units(rng.below(1_000_001) as i64),
                label: Some((*rng.pick(LABELS)).to_owned()),
            },
            830..900 => {
                // One trait, a delta that keeps it inside [0, 1].
                let which = rng.below(5) as usize;
                let value = p.traits.values()[which].0;
                let delta = (rng.below(100_001) as i64 - 50_000).clamp(-value, 1_000_000 - value);
                let mut deltas = [None; 5];
                deltas[which] = Some(Units(if delta == 0 { if value > 0 { -1 } else { 1 } } else { delta }));
                let [openness, conscientiousness, extraversion, agreeableness, neuroticism] = deltas;
                Command::PersonaTraits {
                    persona,
                    openness,
                    conscientiousness,
                    extraversion,
                    agreeableness,
                    neuroticism,
                }
            }
            900..940 => Command::Consent { persona, scope: (*rng.pick(SCOPES)).to_owned(), allow: rng.below(2) == 0 },
            940..970 => Command::ModelUse {
                persona,
                model: (*rng.pick(MODELS)).to_owned(),
                hash: format!("sha256:{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
            },
            970..990 => Command::CommitmentSweep,
            990..992 if active.len() < 12 => Command::PersonaFork {
                persona,
                name: format!("fork-{index}"),
                license: Some((*rng.pick(&["CC-BY-4.0", "MIT", "CC0-1.0"])).to_owned()),
            },
            992..994 if active.len() > 6 => Command::PersonaRetire {
                persona,
                successor: Some(active[0].id.to_string()).filter(|s| *s != p.id.to_string()),
                reason: Some(text(rng, 40)),
            },
            _ => Command::Reflect { persona, text: text(rng, 120) },
        }
    }
}
