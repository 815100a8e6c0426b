//! Read-time scores: reputation (formula `rep/1`, with time decay as of an explicit instant) and
//! leaderboards (formula `leaderboard/1`). docs/reputation.md explains them to users.
//!
//! Every sum runs over view rows in key order, so equal event sets give bit-identical scores on
//! every store, whatever order the events arrived in.

use std::collections::BTreeMap;

use mindlog_commands::{DAY_MICROS, Micros, TaskOutcome};
use mindlog_ledger::{ForkProof, Hash, PublicKey};
use serde::Serialize;

use crate::market::{ListingRow, ListingStats};

/// The version of the reputation formula.
pub(crate) const REPUTATION_FORMULA: &str = "rep/1";
/// The version of the leaderboard formula.
pub const LEADERBOARD_FORMULA: &str = "leaderboard/1";
/// Reputation evidence loses half its weight every 90 days.
pub(crate) const REPUTATION_HALF_LIFE_MICROS: Micros = 90 * DAY_MICROS;

/// The weight left, as of `as_of`, of a fact from `at`: `0.5^(age / 90 days)`; 0 for a fact
/// from after `as_of` (it had not happened yet).
pub fn decay(at: Micros, as_of: Micros) -> f64 {
    if at > as_of {
        return 0.0;
    }
    0.5f64.powf((as_of - at) as f64 / REPUTATION_HALF_LIFE_MICROS as f64)
}

/// Standing tiers, from the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Tier {
    /// Score below 20, or less than 3 (decayed) attestation weight: not enough is known.
    Newcomer,
    /// Score 20 to 50.
    Established,
    /// Score 50 to 80.
    Trusted,
    /// Score 80 and above.
    Elite,
}

/// One attestation, as reputation sees it.
#[derive(Clone, Debug)]
pub(crate) struct AttestationFact {
    pub(crate) outcome: TaskOutcome,
    /// 1 to 10.
    pub(crate) weight: u32,
    /// When it was attested (µs since the Unix epoch).
    pub(crate) at: Micros,
}

/// The attestation part of reputation: `(track, success_rate, evidence)`.
///
/// `evidence` = Σ weight × decay over attestations; `success_rate` = the successes' share of it;
/// `track` = success_rate × (1 − e^(−evidence / 10)), in [0, 1): confidence grows with evidence.
pub(crate) fn track_record(facts: &[AttestationFact], as_of: Micros) -> (f64, Option<f64>, f64) {
    let (mut success, mut failure) = (0.0f64, 0.0f64);
    for f in facts {
        let w = f64::from(f.weight) * decay(f.at, as_of);
        match f.outcome {
            TaskOutcome::Success => success += w,
            TaskOutcome::Failure => failure += w,
        }
    }
    let evidence = success + failure;
    if evidence <= 0.0 {
        return (0.0, None, 0.0);
    }
    let rate = success / evidence;
    (rate * (1.0 - (-evidence / 10.0).exp()), Some(rate), evidence)
}

/// Reputation of one author as of an instant.
#[derive(Clone, Debug, Serialize)]
pub struct Reputation {
    /// The author.
    pub subject: PublicKey,
    /// The instant.
    pub as_of: mindlog_commands::Instant,
    /// The formula's version.
    pub formula: &'static str,
    /// 0 to 100.
    pub score: f64,
    /// Newcomer, Established, Trusted or Elite.
    pub tier: Tier,
    /// Decayed share of successful attestation weight.
    pub success_rate: Option<f64>,
    /// Decayed attestation weight.
    pub evidence: f64,
    /// Attestations counted (one per attester and task).
    pub attestations: u64,
    /// The attestation part, 0 to 1.
    pub track: f64,
    /// Live vouches, with each voucher's standing.
    pub vouches: Vec<VouchLine>,
    /// The vouch part, 0 to 1.
    pub vouch: f64,
    /// Reports about the author with their verdicts, then fork proofs of the author (category `fork`).
    pub violations: Vec<ViolationLine>,
    /// The penalty for upheld violations.
    pub penalty: f64,
}

/// A vouch, as reputation sees it.
#[derive(Clone, Debug, Serialize)]
pub struct VouchLine {
    /// The author who vouches.
    pub voucher: PublicKey,
    /// When the vouch was made: its weight decays from then.
    pub since: mindlog_commands::Instant,
    /// The voucher's own track record (0 to 1): a vouch counts as much as its giver is trusted.
    pub standing: f64,
}

/// A report, or a fork proof, as reputation sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ViolationLine {
    /// The report; for a fork proof, the hash of its second event (the larger of its two hashes).
    pub report: Hash,
    /// Its category (`fork` for a fork proof).
    pub category: String,
    /// When it was made; for a fork, the later of the two events' `ts`.
    pub at: mindlog_commands::Instant,
    /// Verdicts to uphold it (none for a fork proof, which needs none).
    pub upheld_by: u64,
    /// Verdicts to dismiss it.
    pub dismissed_by: u64,
    /// Upheld: more uphold than dismiss; always for a fork proof, which anyone can check.
    pub upheld: bool,
}

/// The category of the violation a fork proof is.
pub(crate) const FORK_CATEGORY: &str = "fork";

/// The violations that `proofs` (one subject's, in key order: by seq, then hashes) are: one per
/// forked seq, however many proofs of it are held (the first in key order speaks for it), dated
/// by the later of its two events' `ts`, named by the hash of its second event (the larger
/// hash), upheld without verdicts since anyone can check the proof. Proofs dated after `as_of`
/// are left out.
pub(crate) fn fork_violations(proofs: &[ForkProof], as_of: Micros) -> Vec<ViolationLine> {
    let mut out: Vec<ViolationLine> = Vec::new();
    let mut last_seq = None;
    for proof in proofs {
        if last_seq == Some(proof.seq()) {
            continue;
        }
        last_seq = Some(proof.seq());
        let at = proof.envelopes().iter().map(|e| e.ts).max().unwrap_or_default();
        if at > as_of {
            continue;
        }
        out.push(ViolationLine {
            report: proof.hashes()[1],
            category: FORK_CATEGORY.into(),
            at: mindlog_commands::Instant(at),
            upheld_by: 0,
            dismissed_by: 0,
            upheld: true,
        });
    }
    out
}

/// Formula `rep/1`: `score = 100 × clamp(0.7 × track + 0.3 × vouch − penalty, 0, 1)` where
/// `vouch = min(1, Σ standing(voucher) × decay(since) / 3)` (one hop: a voucher's standing is their
/// own track record, vouches not included) and `penalty = Σ 0.25 × decay(at)` over upheld
/// violations (reports, then fork proofs, in that order).
pub(crate) fn reputation(
    subject: PublicKey,
    as_of: Micros,
    track: (f64, Option<f64>, f64),
    attestations: u64,
    vouches: Vec<VouchLine>,
    violations: Vec<ViolationLine>,
) -> Reputation {
    let (track_part, success_rate, evidence) = track;
    // Folds from +0.0: `Iterator::sum` of f64 starts from -0.0, so an empty sum would print `-0.0`.
    let support = vouches.iter().map(|v| v.standing * decay(v.since.0, as_of)).fold(0.0, |a, x| a + x);
    let vouch = (support / 3.0).min(1.0);
    let penalty = violations.iter().filter(|v| v.upheld).map(|v| 0.25 * decay(v.at.0, as_of)).fold(0.0, |a, x| a + x);
    let score = 100.0 * (0.7 * track_part + 0.3 * vouch - penalty).clamp(0.0, 1.0);
    let tier = if score < 20.0 || evidence < 3.0 {
        Tier::Newcomer
    } else if score < 50.0 {
        Tier::Established
    } else if score < 80.0 {
        Tier::Trusted
    } else {
        Tier::Elite
    };
    Reputation {
        subject,
        as_of: mindlog_commands::Instant(as_of),
        formula: REPUTATION_FORMULA,
        score,
        tier,
        success_rate,
        evidence,
        attestations,
        track: track_part,
        vouches,
        vouch,
        violations,
        penalty,
    }
}

/// A ranked listing.
#[derive(Clone, Debug, Serialize)]
pub struct ListingRank {
    /// Rank, from 1.
    pub rank: u64,
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// The author who created it: the only one who may change it.
    pub owner: PublicKey,
    /// The score.
    pub score: f64,
    /// Mean of its live reviews' ratings, 1 to 5; `None` without reviews.
    pub mean_rating: Option<f64>,
    /// Live reviews (one per reviewer; the owner's own never count).
    pub reviews: u64,
    /// Subscriptions not ended.
    pub subscribers: u64,
    /// One-off purchases.
    pub purchases: u64,
}

/// A ranked creator.
#[derive(Clone, Debug, Serialize)]
pub struct CreatorRank {
    /// Rank, from 1.
    pub rank: u64,
    /// The creator.
    pub creator: PublicKey,
    /// The score: the sum of their live listings' scores.
    pub score: f64,
    /// Live listings.
    pub listings: u64,
    /// Revenue per currency over all their listings.
    pub revenue: BTreeMap<String, u64>,
}

/// Formula `leaderboard/1` for one listing: `bayes × ln(1 + engagement)`, where
/// `bayes = (3 × 3.0 + rating sum) / (3 + reviews)` (a mean rating pulled towards 3 until there
/// are reviews) and `engagement = subscribers + purchases + reviews + confirmed bookings`.
pub(crate) fn listing_score(stats: &ListingStats) -> f64 {
    let bayes = (3.0 * 3.0 + stats.rating_sum as f64) / (3.0 + stats.reviews as f64);
    let engagement = stats.subscribers + stats.purchases + stats.reviews + stats.confirmed;
    bayes * (1.0 + engagement as f64).ln()
}

/// Live listings ranked by [`listing_score`] (ties: by id).
pub(crate) fn rank_listings(listings: &[(Hash, ListingRow, ListingStats)]) -> Vec<ListingRank> {
    let mut ranked: Vec<ListingRank> = listings
        .iter()
        .filter(|(_, l, _)| l.withdrawn.is_none())
        .map(|(id, l, s)| ListingRank {
            rank: 0,
            listing: *id,
            name: l.name.clone(),
            kind: l.kind.as_str(),
            owner: l.owner,
            score: listing_score(s),
            mean_rating: s.mean_rating(),
            reviews: s.reviews,
            subscribers: s.subscribers,
            purchases: s.purchases,
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.listing.cmp(&b.listing)));
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = i as u64 + 1;
    }
    ranked
}

/// Creators ranked by the sum of their live listings' scores (ties: by key).
pub(crate) fn rank_creators(listings: &[(Hash, ListingRow, ListingStats)]) -> Vec<CreatorRank> {
    let mut by_creator: BTreeMap<PublicKey, CreatorRank> = BTreeMap::new();
    for (_, l, s) in listings.iter().filter(|(_, l, _)| l.withdrawn.is_none()) {
        let entry = by_creator.entry(l.owner).or_insert_with(|| CreatorRank {
            rank: 0,
            creator: l.owner,
            score: 0.0,
            listings: 0,
            revenue: BTreeMap::new(),
        });
        entry.score += listing_score(s);
        entry.listings += 1;
        for (currency, amount) in &s.revenue {
            *entry.revenue.entry(currency.clone()).or_default() += amount;
        }
    }
    let mut ranked: Vec<CreatorRank> = by_creator.into_values().collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.creator.cmp(&b.creator)));
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = i as u64 + 1;
    }
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_per_forked_seq_however_many_proofs() {
        use mindlog_ledger::{Draft, Identity};
        let me = Identity::from_secret(&[4; 32]);
        let event = |seq: u64, text: &str, ts: u64| {
            let draft = Draft { kind: "note.added/1".into(), payload: text.into(), refs: vec![], ts, private: false };
            let e = draft.seal(me.public_key(), seq, Some(Hash([1; 32])), [0; 32]).unwrap().sign(&me);
            (e.bytes().to_vec(), e.signature())
        };
        let mut proofs = vec![
            ForkProof::new(event(2, "a", 10), event(2, "b", 20)).unwrap(),
            ForkProof::new(event(2, "a", 10), event(2, "c", 30)).unwrap(),
            ForkProof::new(event(3, "d", 40), event(3, "e", 15)).unwrap(),
        ];
        proofs.sort_by_key(|p| (p.seq(), p.hashes()));
        let lines = fork_violations(&proofs, 100);
        assert_eq!(
            lines.iter().map(|l| (l.at.0, l.category.as_str(), l.upheld)).collect::<Vec<_>>()[1],
            (40, "fork", true)
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].report, proofs[0].hashes()[1]);
        assert_eq!(fork_violations(&proofs, 39).len(), 1, "the seq-3 fork is dated 40");
    }

    #[test]
    fn decay_halves_every_ninety_days() {
        assert_eq!(decay(0, 0), 1.0);
        assert!((decay(0, REPUTATION_HALF_LIFE_MICROS) - 0.5).abs() < 1e-12);
        assert_eq!(decay(10, 5), 0.0, "the future does not count");
    }

    #[test]
    fn track_record_grows_with_evidence_and_falls_with_failures() {
        let fact = |outcome, weight| AttestationFact { outcome, weight, at: 0 };
        let one = track_record(&[fact(TaskOutcome::Success, 1)], 0);
        let ten = track_record(&[fact(TaskOutcome::Success, 10)], 0);
        assert!(ten.0 > one.0);
        let mixed = track_record(&[fact(TaskOutcome::Success, 5), fact(TaskOutcome::Failure, 5)], 0);
        assert_eq!(mixed.1, Some(0.5));
        assert!(mixed.0 < ten.0);
    }

    #[test]
    fn nothing_known_is_positive_zero() {
        let r = reputation(PublicKey([1; 32]), 0, (0.0, None, 0.0), 0, Vec::new(), Vec::new());
        for (name, x) in [("score", r.score), ("vouch", r.vouch), ("penalty", r.penalty)] {
            assert!(x == 0.0 && x.is_sign_positive(), "{name} is {x:?}, not 0.0");
        }
    }

    #[test]
    fn bayesian_rating_needs_reviews_to_move() {
        // The same engagement (20) and the same mean (5): only the prior tells them apart.
        let few = ListingStats { reviews: 1, rating_sum: 5, subscribers: 19, ..ListingStats::default() };
        let many = ListingStats { reviews: 20, rating_sum: 100, subscribers: 0, ..ListingStats::default() };
        assert!(listing_score(&many) > listing_score(&few));
    }
}
