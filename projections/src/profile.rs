//! What a persona's page shows, computed at read time: stage, trait words, commitment health,
//! memory strength as of an instant, lineage depth. Every formula here is documented in
//! docs/views.md and versioned by its constant.

use mindlog_commands::{Micros, Units};
use serde::Serialize;

use crate::persona::{CommitmentCounts, PersonaRow};

/// The version of the stage formula below.
pub(crate) const STAGE_FORMULA: &str = "stage/1";

/// The half-life of a memory's strength: 30 days.
pub(crate) const MEMORY_HALF_LIFE_MICROS: Micros = 30 * mindlog_commands::DAY_MICROS;

/// A persona's development stage, S0 to S4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Stage {
    /// S0 nascent: just created; it has not been used yet.
    S0,
    /// S1 forming: in use (10 interactions or more).
    S1,
    /// S2 developing: used regularly, it reflects and keeps a commitment.
    S2,
    /// S3 established: a track record — reflects often, its traits have moved, it keeps at least
    /// half of what it commits to.
    S3,
    /// S4 mature: long and reliable use — keeps 70% of its commitments, and remembers.
    S4,
}

impl Stage {
    /// The stage's name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::S0 => "nascent",
            Stage::S1 => "forming",
            Stage::S2 => "developing",
            Stage::S3 => "established",
            Stage::S4 => "mature",
        }
    }

    /// What the stage means, in plain words (the thresholds are [`stage`]'s).
    pub fn meaning(self) -> &'static str {
        match self {
            Stage::S0 => "just created; it has not been used much yet",
            Stage::S1 => "in use: ten interactions or more",
            Stage::S2 => "used regularly: it reflects and has kept a commitment",
            Stage::S3 => {
                "a track record: it reflects often, its traits have moved, it keeps at least half of what it commits to"
            }
            Stage::S4 => "long and reliable use: it keeps 70% of its commitments, and remembers",
        }
    }
}

/// What each Big Five trait means, in [`mindlog_commands::Traits::NAMES`] order: one line each,
/// for a reader who does not know the model.
pub(crate) const TRAIT_MEANINGS: [&str; 5] = [
    "curiosity and imagination: how readily it takes up new ideas",
    "care and discipline: how carefully it plans and follows through",
    "energy in company: how outgoing and talkative it is",
    "warmth and cooperation: how kind and accommodating it is",
    "emotional reactivity: how easily it is unsettled or anxious",
];

/// Messages, reflections and memories added: how much a persona has been used.
pub fn interactions(p: &PersonaRow) -> u64 {
    p.messages.total() + p.reflections + p.memories_added
}

/// Closed as done over everything that ended (closed or expired); `None` before anything ended.
pub fn close_rate(c: &CommitmentCounts) -> Option<f64> {
    let ended = c.closed + c.expired;
    (ended > 0).then(|| c.done as f64 / ended as f64)
}

/// Stage formula `stage/1`: the highest stage whose every threshold is met.
///
/// | stage | interactions | reflections | trait updates | close rate | other |
/// |---|---|---|---|---|---|
/// | S1 | ≥ 10 | | | | |
/// | S2 | ≥ 50 | ≥ 1 | | | ≥ 1 commitment closed as done |
/// | S3 | ≥ 200 | ≥ 5 | ≥ 5 | ≥ 0.5 | |
/// | S4 | ≥ 1000 | ≥ 20 | ≥ 20 | ≥ 0.7 | ≥ 10 memories kept |
pub fn stage(p: &PersonaRow) -> Stage {
    let n = interactions(p);
    let rate = close_rate(&p.commitments).unwrap_or(0.0);
    let kept = p.memories_added - p.memories_forgotten;
    if n >= 1000 && p.reflections >= 20 && p.trait_updates >= 20 && rate >= 0.7 && kept >= 10 {
        Stage::S4
    } else if n >= 200 && p.reflections >= 5 && p.trait_updates >= 5 && rate >= 0.5 {
        Stage::S3
    } else if n >= 50 && p.reflections >= 1 && p.commitments.done >= 1 {
        Stage::S2
    } else if n >= 10 {
        Stage::S1
    } else {
        Stage::S0
    }
}

/// A word for a trait level: very low [0, 0.2), low [0.2, 0.4), moderate [0.4, 0.6),
/// high [0.6, 0.8), very high [0.8, 1].
pub fn trait_word(value: Units) -> &'static str {
    match value.0 {
        ..200_000 => "very low",
        200_000..400_000 => "low",
        400_000..600_000 => "moderate",
        600_000..800_000 => "high",
        _ => "very high",
    }
}

/// A memory's strength as of `as_of`: `importance × 0.5^(age / 30 days)`; at full importance
/// before it was made, 0 once forgotten.
pub fn memory_strength(importance: Units, created: Micros, forgotten: Option<Micros>, as_of: Micros) -> f64 {
    if forgotten.is_some_and(|f| f <= as_of) {
        return 0.0;
    }
    let age = as_of.saturating_sub(created) as f64;
    importance.as_f64() * 0.5f64.powf(age / MEMORY_HALF_LIFE_MICROS as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_halves_every_thirty_days() {
        let s0 = memory_strength(Units(800_000), 0, None, 0);
        let s30 = memory_strength(Units(800_000), 0, None, MEMORY_HALF_LIFE_MICROS);
        assert!((s0 - 0.8).abs() < 1e-12 && (s30 - 0.4).abs() < 1e-12);
        assert_eq!(memory_strength(Units(800_000), 0, Some(5), 10), 0.0);
    }

    #[test]
    fn words() {
        assert_eq!(trait_word(Units(0)), "very low");
        assert_eq!(trait_word(Units(500_000)), "moderate");
        assert_eq!(trait_word(Units(1_000_000)), "very high");
    }
}
