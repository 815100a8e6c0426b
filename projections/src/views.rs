//! Reading the views: a consistent snapshot that answers `decide`'s questions (`State`) and
//! builds what `persona show` and `persona list` print.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use mindlog_commands::{
    BookingInfo, CommitmentInfo, Decision, Event, GuildInfo, IdSpace, Instant, ListingInfo, ListingKind, MemoryInfo,
    Micros, Period, PersonaInfo, PmmRecord, ReportInfo, RequestInfo, Role, State, StateError, Target, Tier, Traits,
    Units,
};
use mindlog_ledger::{DerivedTables, Hash, PublicKey, Snapshot, StorageError};
use serde::Serialize;

use crate::audit::{REQUESTS, RequestRow, SESSIONS};
use crate::market::*;
use crate::persona::*;
use crate::profile::{self, Stage};
use crate::reputation::*;
use crate::rows::{self, key};
use crate::runner::Projection;
use crate::scores::{self, AttestationFact, CreatorRank, ListingRank, Reputation, ViolationLine, VouchLine};
use crate::social::*;

/// The views as of one moment.
#[derive(Debug)]
pub struct Views {
    snapshot: Snapshot,
}

impl Views {
    pub(crate) fn new(snapshot: Snapshot) -> Views {
        Views { snapshot }
    }

    fn txn(&self) -> DerivedTables<'_> {
        self.snapshot.derived_tables(rows::VIEWS)
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

    /// Every message the persona view applied, in log order, handed to `each` one at a time
    /// (it returns false to stop).
    pub fn each_message(&self, each: &mut dyn FnMut(PersonaMessage) -> bool) -> Result<(), StorageError> {
        self.each_applied("persona.message/1", false, &mut |event, at, hash| match event {
            Event::MessageRecorded(x) => {
                each(PersonaMessage { persona: x.persona, role: x.role, text: x.text, at, hash })
            }
            _ => true,
        })
    }

    /// Every reflection the persona view applied, in log order.
    pub fn each_reflection(&self, each: &mut dyn FnMut(PersonaReflection) -> bool) -> Result<(), StorageError> {
        self.each_applied("persona.reflected/1", false, &mut |event, at, hash| match event {
            Event::Reflected(x) => each(PersonaReflection { persona: x.persona, text: x.text, at, hash }),
            _ => true,
        })
    }

    /// The latest `n` reflections of `persona`, newest first.
    pub fn latest_reflections(&self, persona: &Hash, n: usize) -> Result<Vec<PersonaReflection>, StorageError> {
        let mut out = Vec::new();
        if n == 0 {
            return Ok(out);
        }
        self.each_applied("persona.reflected/1", true, &mut |event, at, hash| match event {
            Event::Reflected(x) if x.persona == *persona => {
                out.push(PersonaReflection { persona: x.persona, text: x.text, at, hash });
                out.len() < n
            }
            _ => true,
        })?;
        Ok(out)
    }

    /// Every emotion the persona view applied, in log order.
    pub fn each_emotion(&self, each: &mut dyn FnMut(PersonaEmotion) -> bool) -> Result<(), StorageError> {
        self.each_applied("persona.emotion-recorded/1", false, &mut |event, at, hash| match event {
            Event::EmotionRecorded(x) => each(PersonaEmotion {
                persona: x.persona,
                valence: x.valence,
                arousal: x.arousal,
                label: x.label,
                at,
                hash,
            }),
            _ => true,
        })
    }

    /// The events of `kind` (a message, reflection or emotion) that the persona view folded and
    /// applied, with their timestamps and hashes, in log order (`newest_first`: the other way).
    /// They are read from the log through the kind index, not kept in the view: the fold's rules
    /// for them are asked again here, of the same rows (`PersonaRow::open_to`, and `Event::check`,
    /// as the runner asks before the fold). Events imported from PMM ledgers that are events of
    /// `kind` (`PmmRecord::kinds_meaning`) are read with them.
    fn each_applied(
        &self,
        kind: &str,
        newest_first: bool,
        each: &mut dyn FnMut(Event, Micros, Hash) -> bool,
    ) -> Result<(), StorageError> {
        let checkpoint = crate::runner::meta_name(PersonaView.name());
        let folded = self.snapshot.checkpoints()?.into_iter().find(|(name, _)| *name == checkpoint);
        let Some(end) = folded.and_then(|(_, next)| next.checked_sub(1)) else { return Ok(()) };
        let mut personas: HashMap<Hash, Option<PersonaRow>> = HashMap::new();
        let imported = PmmRecord::kinds_meaning(kind);
        let kinds = std::iter::once(kind).chain(imported.iter().map(String::as_str));
        let offsets =
            kinds.map(|k| self.snapshot.kind_offsets(k, 0..=end)).collect::<Result<Vec<_>, _>>()?.into_iter().map(
                |i| -> Box<dyn Iterator<Item = _>> { if newest_first { Box::new(i.rev()) } else { Box::new(i) } },
            );
        for offset in merged(offsets.collect(), newest_first) {
            let read = self.snapshot.with_event(offset?, |event| -> Result<_, StorageError> {
                let env = event.envelope()?;
                // An erased or withheld payload is not read: the tables hold nothing of it.
                let Some(payload) = event.payload(&env)?.bytes() else { return Ok(None) };
                let decoded = match Event::decode(env.kind, payload) {
                    Ok(Some(event)) => Some(event),
                    _ => PmmRecord::decode(env.kind, payload).and_then(|r| r.event()),
                };
                Ok(decoded.map(|e| (e, env.author, env.seq, env.ts, event.hash)))
            })?;
            let Some(Some((event, author, seq, ts, hash))) = read.transpose()? else { continue };
            let persona = match &event {
                Event::MessageRecorded(x) => x.persona,
                Event::Reflected(x) => x.persona,
                Event::EmotionRecorded(x) => x.persona,
                _ => continue,
            };
            if event.check().is_err() {
                continue;
            }
            let row = match personas.entry(persona) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(self.persona_row(&persona)?),
            };
            if row.as_ref().is_some_and(|p| p.open_to(&author, seq)) && !each(event, ts, hash) {
                break;
            }
        }
        Ok(())
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
                forgotten: m.forgotten.map(Instant),
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
            adopted_identity: p.adopted_identity.clone(),
            description: p.description.clone(),
            status: if p.retired.is_some() { "retired" } else { "active" },
            created: Instant(p.created),
            retired: p.retired.as_ref().map(|r| RetiredLine {
                at: Instant(r.at),
                successor: r.successor,
                reason: r.reason.clone(),
            }),
            stage: StageLine {
                code: stage,
                name: stage.name(),
                meaning: stage.meaning(),
                formula: profile::STAGE_FORMULA,
            },
            interactions: profile::interactions(&p),
            traits: Traits::NAMES
                .iter()
                .zip(p.traits.values())
                .zip(profile::TRAIT_MEANINGS)
                .map(|((name, value), meaning)| TraitLine { name, value, word: profile::trait_word(value), meaning })
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
                current: p.model.as_ref().map(ModelLine::from),
                swaps: p.model_swaps,
                history: self.models_of(id)?.iter().map(ModelLine::from).collect(),
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
            messages: MessageCounts {
                user: p.messages.user,
                assistant: p.messages.assistant,
                system: p.messages.system,
            },
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

/// A message the persona view applied, as read from the log (not an output type: `at` is raw
/// microseconds).
#[derive(Clone, Debug)]
pub struct PersonaMessage {
    /// The persona it was recorded for.
    pub persona: Hash,
    /// Who spoke: the user, the persona or the system.
    pub role: Role,
    /// What was said.
    pub text: String,
    /// The event's timestamp, microseconds since the Unix epoch.
    pub at: Micros,
    /// The hash of the `persona.message/1` event.
    pub hash: Hash,
}

/// A reflection the persona view applied, as read from the log.
#[derive(Clone, Debug)]
pub struct PersonaReflection {
    /// The persona that reflected.
    pub persona: Hash,
    /// What it noticed.
    pub text: String,
    /// The event's timestamp, microseconds since the Unix epoch.
    pub at: Micros,
    /// The hash of the `persona.reflected/1` event.
    pub hash: Hash,
}

/// An emotion the persona view applied, as read from the log.
#[derive(Clone, Debug)]
pub struct PersonaEmotion {
    /// The persona that felt it.
    pub persona: Hash,
    /// How pleasant, in [-1, 1].
    pub valence: Units,
    /// How intense, in [0, 1].
    pub arousal: Units,
    /// The word for it, if one was given.
    pub label: Option<String>,
    /// The event's timestamp, microseconds since the Unix epoch.
    pub at: Micros,
    /// The hash of the `persona.emotion-recorded/1` event.
    pub hash: Hash,
}

/// Everything `market show` prints (an output type: times are [`Instant`]s, RFC 3339 in JSON).
#[derive(Clone, Debug, Serialize)]
pub struct ListingPage {
    /// The listing's id.
    pub id: Hash,
    /// Who publishes it.
    pub owner: PublicKey,
    /// What it is.
    pub kind: ListingKind,
    /// Its name.
    pub name: String,
    /// Its current version.
    pub version: String,
    /// Its one-off price in minor units, if it has one.
    pub price: Option<u64>,
    /// Its subscription tiers.
    pub tiers: Vec<Tier>,
    /// ISO 4217 currency of the price and tiers.
    pub currency: String,
    /// Its license, if given.
    pub license: Option<String>,
    /// When it was published.
    pub created: Instant,
    /// When it last changed.
    pub updated: Instant,
    /// When it was withdrawn, if it was.
    pub withdrawn: Option<Instant>,
    /// live or withdrawn.
    pub status: &'static str,
    /// one-off, subscription, one-off+subscription or free.
    pub price_model: &'static str,
    /// Every version, oldest first.
    pub versions: Vec<VersionLine>,
    /// The mean rating of its reviews.
    pub mean_rating: Option<f64>,
    /// What others did with it.
    pub stats: ListingCounts,
    /// Reviews, by reviewer.
    pub reviews: Vec<ReviewLine>,
    /// Live subscriptions, by subscriber.
    pub subscribers: Vec<SubscriberLine>,
    /// Bookings, with whether each is confirmed.
    pub bookings: Vec<BookingLine>,
}

/// A version of a listing.
#[derive(Clone, Debug, Serialize)]
pub struct VersionLine {
    /// The version.
    pub version: String,
    /// When it was published.
    pub at: Instant,
}

/// What others did with a listing.
#[derive(Clone, Debug, Serialize)]
pub struct ListingCounts {
    /// Reviews (each reviewer's latest).
    pub reviews: u64,
    /// Subscriptions not ended: one per subscriber.
    pub subscribers: u64,
    /// Subscriptions ever started.
    pub subscriptions: u64,
    /// One-off purchases.
    pub purchases: u64,
    /// Revenue by currency, in minor units.
    pub revenue: std::collections::BTreeMap<String, u64>,
    /// Bookings requested, confirmed or not.
    pub bookings: u64,
    /// Of which confirmed.
    pub confirmed: u64,
}

/// A review of a listing.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewLine {
    /// Who reviewed it.
    pub reviewer: PublicKey,
    /// 1 to 5.
    pub rating: u8,
    /// What they wrote.
    pub text: String,
    /// When it was recorded.
    pub at: Instant,
}

/// A live subscription to a listing.
#[derive(Clone, Debug, Serialize)]
pub struct SubscriberLine {
    /// The subscriber's public key.
    pub subscriber: PublicKey,
    /// The tier.
    pub tier: String,
    /// Its price per period, in minor units.
    pub amount: u64,
    /// Its currency.
    pub currency: String,
    /// Its period.
    pub period: Period,
    /// When the subscription began.
    pub since: Instant,
}

/// A booking with its status.
#[derive(Clone, Debug, Serialize)]
pub struct BookingLine {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The author who asked for the booking.
    pub requester: PublicKey,
    /// When the booked slot starts.
    pub start: Instant,
    /// When the booked slot ends, after its start.
    pub end: Instant,
    /// Confirmed by the owner.
    pub confirmed: bool,
}

/// One tool-call request of an audit log, with its answer and result.
#[derive(Clone, Debug, Serialize)]
pub struct AuditLine {
    /// The request's id.
    pub id: Hash,
    /// Who made it.
    pub author: PublicKey,
    /// The agent session.
    pub session: String,
    /// The tool.
    pub tool: String,
    /// A digest of the call's arguments.
    pub args_digest: String,
    /// What it may touch.
    pub scope: String,
    /// The policy's decision.
    pub decision: Decision,
    /// The policy's reason for its decision (may be empty).
    pub reason: String,
    /// When it was made.
    pub at: Instant,
    /// A person's answer to an ask.
    pub answer: Option<AnswerLine>,
    /// How the call went.
    pub result: Option<ResultLine>,
    /// Where it stands: allowed, denied, waiting (for approval), approved, rejected (an ask
    /// that was denied), and then done or failed once its result is in.
    pub status: &'static str,
}

/// A person's answer to a request decided ask.
#[derive(Clone, Debug, Serialize)]
pub struct AnswerLine {
    /// Approved (true) or denied (false).
    pub approved: bool,
    /// When it was recorded.
    pub at: Instant,
}

/// How a tool call went.
#[derive(Clone, Debug, Serialize)]
pub struct ResultLine {
    /// Whether the call succeeded.
    pub ok: bool,
    /// How long it took.
    pub duration_ms: u64,
    /// Model tokens used.
    pub tokens: u64,
    /// What it cost, in cents.
    pub cost_cents: u64,
    /// The model that ran it.
    pub model: String,
    /// When it was recorded.
    pub at: Instant,
}

impl AuditLine {
    /// A request row as it is shown.
    pub(crate) fn new(id: Hash, r: RequestRow) -> AuditLine {
        let decided = match (r.decision, &r.answer) {
            (Decision::Allow, _) => "allowed",
            (Decision::Deny, _) => "denied",
            (Decision::Ask, None) => "waiting",
            (Decision::Ask, Some(a)) if a.approved => "approved",
            (Decision::Ask, Some(_)) => "rejected",
        };
        let status = match &r.result {
            Some(result) if result.ok => "done",
            Some(_) => "failed",
            None => decided,
        };
        AuditLine {
            id,
            author: r.author,
            session: r.session,
            tool: r.tool,
            args_digest: r.args_digest,
            scope: r.scope,
            decision: r.decision,
            reason: r.reason,
            at: Instant(r.at),
            answer: r.answer.map(|a| AnswerLine { approved: a.approved, at: Instant(a.at) }),
            result: r.result.map(|x| ResultLine {
                ok: x.ok,
                duration_ms: x.duration_ms,
                tokens: x.tokens,
                cost_cents: x.cost_cents,
                model: x.model,
                at: Instant(x.at),
            }),
            status,
        }
    }
}

/// An audit session: its requests in time order, and totals.
#[derive(Clone, Debug, Serialize)]
pub struct AuditSession {
    /// The session.
    pub session: String,
    /// Its requests, oldest first.
    pub timeline: Vec<AuditLine>,
    /// Tool calls requested in the session.
    pub requests: u64,
    /// Requests the policy allowed.
    pub allowed: u64,
    /// Requests the policy denied.
    pub denied: u64,
    /// Requests the policy sent to a person (decided ask).
    pub asked: u64,
    /// Requests whose result was recorded.
    pub completed: u64,
    /// Of which failed.
    pub failed: u64,
    /// Model tokens used by the session's calls, summed.
    pub tokens: u64,
    /// Total cost in cents.
    pub cost_cents: u64,
    /// Time the session's calls took, summed, in milliseconds.
    pub duration_ms: u64,
}

impl Views {
    /// The stored row of the listing `id`, if this store holds it.
    pub fn listing_row(&self, id: &Hash) -> Result<Option<ListingRow>, StorageError> {
        rows::read(self.txn(), LISTINGS, id.as_bytes())
    }

    /// A listing's statistics (empty if nobody did anything with it).
    pub fn listing_stats(&self, id: &Hash) -> Result<ListingStats, StorageError> {
        Ok(rows::read(self.txn(), STATS, id.as_bytes())?.unwrap_or_default())
    }

    /// Every listing with its statistics, in id order.
    pub fn listings(&self) -> Result<Vec<(Hash, ListingRow, ListingStats)>, StorageError> {
        let mut out = Vec::new();
        for (k, row) in rows::scan::<ListingRow>(self.txn(), LISTINGS, &[])? {
            let id = hash_at(&k, 0);
            out.push((id, row, self.listing_stats(&id)?));
        }
        Ok(out)
    }

    /// Everything about one listing.
    pub fn listing_page(&self, id: &Hash) -> Result<Option<ListingPage>, StorageError> {
        let Some(listing) = self.listing_row(id)? else { return Ok(None) };
        let stats = self.listing_stats(id)?;
        let versions = rows::scan::<VersionRow>(self.txn(), VERSIONS, id.as_bytes())?
            .into_iter()
            .map(|(_, v)| VersionLine { version: v.version, at: Instant(v.at) })
            .collect();
        let reviews = self
            .reviews_under(id.as_bytes())?
            .into_iter()
            .map(|(_, reviewer, r)| ReviewLine { reviewer, rating: r.rating, text: r.text, at: Instant(r.at) })
            .collect();
        let subscribers = self
            .subscriptions_under(id.as_bytes())?
            .into_iter()
            .map(|(_, subscriber, s)| SubscriberLine {
                subscriber,
                tier: s.tier,
                amount: s.amount,
                currency: s.currency,
                period: s.period,
                since: Instant(s.since),
            })
            .collect();
        let bookings = self
            .bookings_where(Some(id))?
            .into_iter()
            .map(|(id, b, confirmed)| BookingLine {
                id,
                requester: b.requester,
                start: Instant(b.start),
                end: Instant(b.end),
                confirmed,
            })
            .collect();
        Ok(Some(ListingPage {
            id: *id,
            status: if listing.withdrawn.is_some() { "withdrawn" } else { "live" },
            price_model: listing.price_model(),
            mean_rating: stats.mean_rating(),
            owner: listing.owner,
            kind: listing.kind,
            name: listing.name,
            version: listing.version,
            price: listing.price,
            tiers: listing.tiers,
            currency: listing.currency,
            license: listing.license,
            created: Instant(listing.created),
            updated: Instant(listing.updated),
            withdrawn: listing.withdrawn.map(Instant),
            versions,
            stats: ListingCounts {
                reviews: stats.reviews,
                subscribers: stats.subscribers,
                subscriptions: stats.subscriptions,
                purchases: stats.purchases,
                revenue: stats.revenue,
                bookings: stats.bookings,
                confirmed: stats.confirmed,
            },
            reviews,
            subscribers,
            bookings,
        }))
    }

    /// Marketplace counters per day: `(day since 1970-01-01, metric, value)`; metrics are
    /// published, updated, withdrawn, subscribed, unsubscribed, purchased, booked, confirmed,
    /// reviewed, and `revenue:CUR` in minor units.
    pub fn market_daily(&self) -> Result<Vec<(u64, String, u64)>, StorageError> {
        Ok(rows::scan::<u64>(self.txn(), DAILY, &[])?
            .into_iter()
            .map(|(k, v)| {
                (
                    u64::from_be_bytes(k[..8].try_into().unwrap_or_default()),
                    String::from_utf8_lossy(&k[8..]).into_owned(),
                    v,
                )
            })
            .collect())
    }

    /// Listings by `leaderboard/1`.
    pub fn leaderboard_listings(&self) -> Result<Vec<ListingRank>, StorageError> {
        Ok(scores::rank_listings(&self.listings()?))
    }

    /// Creators by `leaderboard/1`.
    pub fn leaderboard_creators(&self) -> Result<Vec<CreatorRank>, StorageError> {
        Ok(scores::rank_creators(&self.listings()?))
    }

    /// Attestations about `subject`, in key order.
    fn attestation_facts(&self, subject: &PublicKey) -> Result<Vec<AttestationFact>, StorageError> {
        Ok(rows::scan::<AttestationRow>(self.txn(), ATTESTATIONS, subject.as_bytes())?
            .into_iter()
            .map(|(_, a)| AttestationFact { outcome: a.outcome, weight: a.weight, at: a.at })
            .collect())
    }

    /// `subject`'s reputation as of `as_of` (formula `rep/1`).
    pub fn reputation(&self, subject: &PublicKey, as_of: Micros) -> Result<Reputation, StorageError> {
        let facts: Vec<AttestationFact> =
            self.attestation_facts(subject)?.into_iter().filter(|f| f.at <= as_of).collect();
        let track = scores::track_record(&facts, as_of);
        let mut vouches = Vec::new();
        for (k, v) in rows::scan::<VouchRow>(self.txn(), VOUCHES, subject.as_bytes())? {
            if v.since > as_of {
                continue;
            }
            let voucher = key_at(&k, 32);
            let standing = scores::track_record(&self.attestation_facts(&voucher)?, as_of).0;
            vouches.push(VouchLine { voucher, since: Instant(v.since), standing });
        }
        let mut violations = Vec::new();
        for (k, _) in rows::scan_keys(self.txn(), REPORTS_BY_SUBJECT, subject.as_bytes(), usize::MAX)? {
            let id = hash_at(&k, 32);
            let Some(report) = rows::read::<ReportRow>(self.txn(), REPORTS, id.as_bytes())? else { continue };
            if report.at > as_of {
                continue;
            }
            let (upheld_by, dismissed_by) = self.verdicts(&id, &report, as_of)?;
            violations.push(ViolationLine {
                report: id,
                category: report.category,
                at: Instant(report.at),
                upheld_by,
                dismissed_by,
                upheld: upheld_by > dismissed_by,
            });
        }
        violations.extend(scores::fork_violations(&self.snapshot.forks_by(subject)?, as_of));
        Ok(scores::reputation(*subject, as_of, track, facts.len() as u64, vouches, violations))
    }

    /// Every author anything is known about for reputation (attested, vouched for, reported, or
    /// proven to have forked its feed), in key order.
    pub fn reputation_subjects(&self) -> Result<Vec<PublicKey>, StorageError> {
        let mut subjects = std::collections::BTreeSet::new();
        for table in [ATTESTATIONS, VOUCHES, REPORTS_BY_SUBJECT] {
            for (k, _) in rows::scan_keys(self.txn(), table, &[], usize::MAX)? {
                subjects.insert(key_at(&k, 0));
            }
        }
        subjects.extend(self.snapshot.forks()?.iter().map(|proof| proof.author()));
        Ok(subjects.into_iter().collect())
    }

    /// The requests of an audit session, oldest first, with totals.
    pub fn audit_session(&self, session: &str) -> Result<AuditSession, StorageError> {
        let mut timeline = Vec::new();
        for (_, v) in rows::scan_keys(self.txn(), SESSIONS, &key(&[session.as_bytes(), &[0]]), usize::MAX)? {
            let id = hash_at(&v, 0);
            if let Some(request) = rows::read::<RequestRow>(self.txn(), REQUESTS, id.as_bytes())? {
                timeline.push(AuditLine::new(id, request));
            }
        }
        timeline.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        let mut s = AuditSession {
            session: session.to_owned(),
            requests: timeline.len() as u64,
            allowed: 0,
            denied: 0,
            asked: 0,
            completed: 0,
            failed: 0,
            tokens: 0,
            cost_cents: 0,
            duration_ms: 0,
            timeline: Vec::new(),
        };
        for line in &timeline {
            match line.decision {
                Decision::Allow => s.allowed += 1,
                Decision::Deny => s.denied += 1,
                Decision::Ask => s.asked += 1,
            }
            if let Some(r) = &line.result {
                s.completed += 1;
                s.failed += u64::from(!r.ok);
                s.tokens += r.tokens;
                s.cost_cents += r.cost_cents;
                s.duration_ms += r.duration_ms;
            }
        }
        s.timeline = timeline;
        Ok(s)
    }

    /// A guild's members, in key order.
    pub fn guild_members(&self, guild: &Hash) -> Result<Vec<PublicKey>, StorageError> {
        Ok(rows::scan_keys(self.txn(), MEMBERS, guild.as_bytes(), usize::MAX)?
            .into_iter()
            .map(|(k, _)| key_at(&k, 32))
            .collect())
    }

    /// Every guild, in id order.
    pub fn guilds(&self) -> Result<Vec<(Hash, GuildRow)>, StorageError> {
        Ok(rows::scan::<GuildRow>(self.txn(), GUILDS, &[])?.into_iter().map(|(k, v)| (hash_at(&k, 0), v)).collect())
    }

    /// Every review (the fold keeps a reviewer's latest, and never an owner's of their own
    /// listing): (listing, reviewer, review), in key order.
    pub fn review_rows(&self) -> Result<Vec<(Hash, PublicKey, ReviewRow)>, StorageError> {
        self.reviews_under(&[])
    }

    /// Every live subscription: (listing, subscriber, subscription), in key order.
    pub fn subscription_rows(&self) -> Result<Vec<(Hash, PublicKey, SubscriptionRow)>, StorageError> {
        self.subscriptions_under(&[])
    }

    /// Every booking request: (id, row, confirmed), in id order.
    pub fn booking_rows(&self) -> Result<Vec<(Hash, BookingRow, bool)>, StorageError> {
        self.bookings_where(None)
    }

    /// Reviews whose key starts with `prefix` (a listing id, or nothing for all).
    fn reviews_under(&self, prefix: &[u8]) -> Result<Vec<(Hash, PublicKey, ReviewRow)>, StorageError> {
        Ok(rows::scan::<ReviewRow>(self.txn(), REVIEWS, prefix)?
            .into_iter()
            .map(|(k, v)| (hash_at(&k, 0), key_at(&k, 32), v))
            .collect())
    }

    /// Live subscriptions whose key starts with `prefix` (a listing id, or nothing for all).
    fn subscriptions_under(&self, prefix: &[u8]) -> Result<Vec<(Hash, PublicKey, SubscriptionRow)>, StorageError> {
        Ok(rows::scan::<SubscriptionRow>(self.txn(), SUBSCRIPTIONS, prefix)?
            .into_iter()
            .filter(|(_, v)| v.ended.is_none())
            .map(|(k, v)| (hash_at(&k, 0), key_at(&k, 32), v))
            .collect())
    }

    /// Booking requests (of one listing, or all) with whether each is confirmed: one pass over
    /// the bookings and over the confirmations (keyed listing ‖ start ‖ booking).
    fn bookings_where(&self, listing: Option<&Hash>) -> Result<Vec<(Hash, BookingRow, bool)>, StorageError> {
        let prefix = listing.map_or(&[][..], |l| l.as_bytes().as_slice());
        let confirmed: std::collections::HashSet<Hash> = rows::scan_keys(self.txn(), CONFIRMED, prefix, usize::MAX)?
            .into_iter()
            .map(|(k, _)| hash_at(&k, 40))
            .collect();
        Ok(rows::scan::<BookingRow>(self.txn(), BOOKINGS, &[])?
            .into_iter()
            .filter(|(_, b)| listing.is_none_or(|l| b.listing == *l))
            .map(|(k, b)| {
                let id = hash_at(&k, 0);
                (id, b, confirmed.contains(&id))
            })
            .collect())
    }

    /// Every follow: (follower, target, since), in key order.
    pub fn follow_rows(&self) -> Result<Vec<(PublicKey, Target, Micros)>, StorageError> {
        Ok(rows::scan::<FollowRow>(self.txn(), FOLLOWS, &[])?
            .into_iter()
            .filter_map(|(k, v)| Some((key_at(&k, 0), Target::from_key_bytes(&k[32..])?, v.since)))
            .collect())
    }

    /// Every badge given: (member, guild, badge, row), in key order.
    pub fn award_rows(&self) -> Result<Vec<(PublicKey, Hash, String, AwardRow)>, StorageError> {
        Ok(rows::scan::<AwardRow>(self.txn(), AWARDS, &[])?
            .into_iter()
            .map(|(k, v)| (key_at(&k, 0), hash_at(&k, 32), String::from_utf8_lossy(&k[64..]).into_owned(), v))
            .collect())
    }

    /// Every attestation: (subject, attester, task, row), in key order.
    pub fn attestation_rows(&self) -> Result<Vec<(PublicKey, PublicKey, String, AttestationRow)>, StorageError> {
        Ok(rows::scan::<AttestationRow>(self.txn(), ATTESTATIONS, &[])?
            .into_iter()
            .map(|(k, v)| (key_at(&k, 0), key_at(&k, 32), String::from_utf8_lossy(&k[64..]).into_owned(), v))
            .collect())
    }

    /// Every report with its verdict counts (the reporter's and the subject's own verdicts left
    /// out): (id, row, upheld by, dismissed by), in id order.
    pub fn report_rows(&self) -> Result<Vec<(Hash, ReportRow, u64, u64)>, StorageError> {
        let mut out = Vec::new();
        for (k, r) in rows::scan::<ReportRow>(self.txn(), REPORTS, &[])? {
            let id = hash_at(&k, 0);
            let (up, down) = self.verdicts(&id, &r, Micros::MAX)?;
            out.push((id, r, up, down));
        }
        Ok(out)
    }

    /// Verdicts on a report given by anyone but its subject and reporter up to `as_of`:
    /// (to uphold, to dismiss).
    fn verdicts(&self, id: &Hash, report: &ReportRow, as_of: Micros) -> Result<(u64, u64), StorageError> {
        let (mut upheld, mut dismissed) = (0, 0);
        for (k, v) in rows::scan::<VerdictRow>(self.txn(), VERDICTS, id.as_bytes())? {
            let resolver = key_at(&k, 32);
            if resolver == report.subject || resolver == report.reporter || v.at > as_of {
                continue;
            }
            if v.upheld { upheld += 1 } else { dismissed += 1 }
        }
        Ok((upheld, dismissed))
    }

    /// Every tool-call request, in id order.
    pub fn audit_rows(&self) -> Result<Vec<(Hash, RequestRow)>, StorageError> {
        Ok(rows::scan::<RequestRow>(self.txn(), REQUESTS, &[])?.into_iter().map(|(k, v)| (hash_at(&k, 0), v)).collect())
    }
}

fn key_at(bytes: &[u8], at: usize) -> PublicKey {
    PublicKey(hash_at(bytes, at).0)
}

fn hash_at(key: &[u8], at: usize) -> Hash {
    Hash(key.get(at..at + 32).and_then(|s| s.try_into().ok()).unwrap_or([0; 32]))
}

/// What `persona show` prints (and `--json` emits).
#[derive(Clone, Debug, Serialize)]
pub struct PersonaProfile {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// The author who created it: the only one who may change it.
    pub owner: PublicKey,
    /// Its name, unique among its owner's personas.
    pub name: String,
    /// The name it adopted for itself, if any (a Persistent Mind Model's identity adoption).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_identity: Option<String>,
    /// What the persona is for, free text (may be empty).
    pub description: String,
    /// active or retired.
    pub status: &'static str,
    /// When it was created.
    pub created: Instant,
    /// When, why and to whom it was retired; `None` while active.
    pub retired: Option<RetiredLine>,
    /// Its developmental stage, S0 to S4, from its interactions and age.
    pub stage: StageLine,
    /// Messages, reflections and memories added.
    pub interactions: u64,
    /// Traits with words.
    pub traits: Vec<TraitLine>,
    /// `persona.traits-changed/1` events folded into `traits`.
    pub trait_updates: u64,
    /// Commitments opened, kept and expired, and the open ones.
    pub commitments: Health,
    /// Memories live and forgotten, and the strongest as of `as_of`.
    pub memories: MemorySummary,
    /// Consent by scope.
    pub consent: Vec<ConsentLine>,
    /// The model it runs on now and how often it changed.
    pub model: ModelSummary,
    /// Its latest emotion and the rolling means.
    pub emotion: EmotionSummary,
    /// Messages by role.
    pub messages: MessageCounts,
    /// `persona.reflected/1` events folded.
    pub reflections: u64,
    /// What it was forked from and what was forked from it.
    pub lineage: Lineage,
    /// Events that changed it.
    pub events: u64,
    /// The latest of them.
    pub last_event: Instant,
}

/// Retirement, for display.
#[derive(Clone, Debug, Serialize)]
pub struct RetiredLine {
    /// When it was recorded.
    pub at: Instant,
    /// The persona that takes over, if one was named.
    pub successor: Option<Hash>,
    /// Why it was retired, free text, if given.
    pub reason: Option<String>,
}

/// Stage, for display.
#[derive(Clone, Debug, Serialize)]
pub struct StageLine {
    /// S0 to S4.
    pub code: Stage,
    /// Its name.
    pub name: &'static str,
    /// What it means, in plain words.
    pub meaning: &'static str,
    /// The formula's version.
    pub formula: &'static str,
}

/// One Big Five trait of a persona, with a word for its level.
#[derive(Clone, Debug, Serialize)]
pub struct TraitLine {
    /// The trait's name: openness, conscientiousness, extraversion, agreeableness or neuroticism.
    pub name: &'static str,
    /// Value in [0, 1].
    pub value: Units,
    /// Word for the level.
    pub word: &'static str,
    /// What the trait is, in one line.
    pub meaning: &'static str,
}

/// Commitment health: how a persona keeps its promises.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    /// Commitments opened, whatever became of them.
    pub opened: u64,
    /// Commitments neither closed nor expired.
    pub open: u64,
    /// Commitments closed, with any outcome.
    pub closed: u64,
    /// Closed as done.
    pub done: u64,
    /// Commitments expired by a sweep after their due time.
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
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// What is promised.
    pub title: String,
    /// When it is due; `None`: never.
    pub due: Option<Instant>,
    /// When it was opened.
    pub opened: Instant,
}

/// A persona's memories, counted, with the strongest.
#[derive(Clone, Debug, Serialize)]
pub struct MemorySummary {
    /// Memories added and not forgotten.
    pub live: u64,
    /// Memories forgotten.
    pub forgotten: u64,
    /// The instant strengths are computed for.
    pub as_of: Instant,
    /// The five strongest live memories.
    pub strongest: Vec<MemoryLine>,
}

/// A memory with its strength.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryLine {
    /// Its id: the hash of the event that created it.
    pub id: Hash,
    /// What is remembered.
    pub text: String,
    /// How much it matters, in [0, 1]: its strength when new.
    pub importance: Units,
    /// Strength as of `as_of`.
    pub strength: f64,
    /// Labels to search by (at most 16).
    pub tags: Vec<String>,
    /// When it was added.
    pub created: Instant,
    /// When it was forgotten, if it was.
    pub forgotten: Option<Instant>,
}

/// A consent setting.
#[derive(Clone, Debug, Serialize)]
pub struct ConsentLine {
    /// What the setting covers, e.g. memory or training.
    pub scope: String,
    /// Allowed (true) or denied (false).
    pub allow: bool,
    /// When it was set: the owner's latest setting for the scope wins.
    pub since: Instant,
}

/// The model a persona runs on, and how often it changed.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    /// The model it runs on now; `None` before any `model.use`.
    pub current: Option<ModelLine>,
    /// `model.use` events folded.
    pub swaps: u64,
    /// Every model it ran on, oldest first (the last is `current`).
    pub history: Vec<ModelLine>,
}

/// A model a persona runs on.
#[derive(Clone, Debug, Serialize)]
pub struct ModelLine {
    /// The model's name, as the owner gives it.
    pub model: String,
    /// The model's content hash, algorithm:digest (e.g. sha256:9f86d0…).
    pub hash: String,
    /// When the persona began to run on it.
    pub since: Instant,
}

impl From<&ModelRow> for ModelLine {
    fn from(m: &ModelRow) -> ModelLine {
        ModelLine { model: m.model.clone(), hash: m.hash.clone(), since: Instant(m.at) }
    }
}

/// A persona's emotions: the latest and the rolling means.
#[derive(Clone, Debug, Serialize)]
pub struct EmotionSummary {
    /// `persona.emotion-recorded/1` events folded.
    pub recorded: u64,
    /// The latest emotion recorded; `None` before the first.
    pub latest: Option<EmotionLine>,
    /// Rolling mean valence.
    pub mean_valence: Option<Units>,
    /// Rolling mean arousal.
    pub mean_arousal: Option<Units>,
}

/// One recorded emotion.
#[derive(Clone, Debug, Serialize)]
pub struct EmotionLine {
    /// How pleasant, in [-1, 1].
    pub valence: Units,
    /// How intense, in [0, 1].
    pub arousal: Units,
    /// A word for it, if given (e.g. curious).
    pub label: Option<String>,
    /// When it was recorded.
    pub at: Instant,
}

/// Messages recorded, by who spoke.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MessageCounts {
    /// The person talking to the persona.
    pub user: u64,
    /// The persona.
    pub assistant: u64,
    /// System instructions that set up the persona.
    pub system: u64,
}

/// Where a persona comes from and what was forked from it.
#[derive(Clone, Debug, Serialize)]
pub struct Lineage {
    /// The persona it was forked from; `None` for an original.
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

    fn listing(&self, id: &Hash) -> Result<Option<ListingInfo>, StateError> {
        Ok(self.listing_row(id).map_err(boxed)?.map(|l| ListingInfo {
            id: *id,
            owner: l.owner,
            kind: l.kind,
            name: l.name,
            withdrawn: l.withdrawn.is_some(),
            price: l.price,
            tiers: l.tiers,
            currency: l.currency,
        }))
    }

    fn subscribed(&self, listing: &Hash, subscriber: &PublicKey) -> Result<bool, StateError> {
        let row: Option<SubscriptionRow> =
            rows::read(self.txn(), SUBSCRIPTIONS, &key(&[listing.as_bytes(), subscriber.as_bytes()])).map_err(boxed)?;
        Ok(row.is_some_and(|s| s.ended.is_none()))
    }

    fn booking(&self, id: &Hash) -> Result<Option<BookingInfo>, StateError> {
        let Some(b) = rows::read::<BookingRow>(self.txn(), BOOKINGS, id.as_bytes()).map_err(boxed)? else {
            return Ok(None);
        };
        let confirmed = self.confirmed_slots(&b.listing)?.iter().any(|(_, _, booking)| booking == id);
        Ok(Some(BookingInfo { id: *id, listing: b.listing, start: b.start, end: b.end, confirmed }))
    }

    fn confirmed_slots(&self, listing: &Hash) -> Result<Vec<(Micros, Micros, Hash)>, StateError> {
        Ok(rows::scan::<ConfirmationRow>(self.txn(), CONFIRMED, listing.as_bytes())
            .map_err(boxed)?
            .into_iter()
            .map(|(k, c)| (u64::from_be_bytes(k[32..40].try_into().unwrap_or_default()), c.end, hash_at(&k, 40)))
            .collect())
    }

    fn guild(&self, id: &Hash) -> Result<Option<GuildInfo>, StateError> {
        let row: Option<GuildRow> = rows::read(self.txn(), GUILDS, id.as_bytes()).map_err(boxed)?;
        Ok(row.map(|g| GuildInfo { id: *id, owner: g.owner, name: g.name }))
    }

    fn guilds_named(&self, name: &str) -> Result<Vec<Hash>, StateError> {
        Ok(rows::scan_keys(self.txn(), GUILD_NAMES, &key(&[name.as_bytes(), &[0]]), usize::MAX)
            .map_err(boxed)?
            .into_iter()
            .map(|(k, _)| hash_at(&k, name.len() + 1))
            .collect())
    }

    fn is_member(&self, guild: &Hash, who: &PublicKey) -> Result<bool, StateError> {
        let row: Option<MemberRow> =
            rows::read(self.txn(), MEMBERS, &key(&[guild.as_bytes(), who.as_bytes()])).map_err(boxed)?;
        Ok(row.is_some())
    }

    fn guilds_owned(&self, owner: &PublicKey) -> Result<Vec<Hash>, StateError> {
        let mut out = Vec::new();
        for (k, _) in rows::scan_keys(self.txn(), MEMBER_OF, owner.as_bytes(), usize::MAX).map_err(boxed)? {
            let guild = hash_at(&k, 32);
            if self.guild(&guild)?.is_some_and(|g| g.owner == *owner) {
                out.push(guild);
            }
        }
        Ok(out)
    }

    fn follows(&self, follower: &PublicKey, target: &Target) -> Result<bool, StateError> {
        let row: Option<FollowRow> =
            rows::read(self.txn(), FOLLOWS, &key(&[follower.as_bytes(), &target.key_bytes()])).map_err(boxed)?;
        Ok(row.is_some())
    }

    fn vouches(&self, voucher: &PublicKey, subject: &PublicKey) -> Result<bool, StateError> {
        let row: Option<VouchRow> =
            rows::read(self.txn(), VOUCHES, &key(&[subject.as_bytes(), voucher.as_bytes()])).map_err(boxed)?;
        Ok(row.is_some())
    }

    fn report(&self, id: &Hash) -> Result<Option<ReportInfo>, StateError> {
        let row: Option<ReportRow> = rows::read(self.txn(), REPORTS, id.as_bytes()).map_err(boxed)?;
        Ok(row.map(|r| ReportInfo { id: *id, reporter: r.reporter, subject: r.subject }))
    }

    fn request(&self, id: &Hash) -> Result<Option<RequestInfo>, StateError> {
        let row: Option<RequestRow> = rows::read(self.txn(), REQUESTS, id.as_bytes()).map_err(boxed)?;
        Ok(row.map(|r| RequestInfo {
            id: *id,
            author: r.author,
            decision: r.decision,
            answer: r.answer.map(|a| a.approved),
            completed: r.result.is_some(),
        }))
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
            (IdSpace::Listing, _) => (LISTINGS, &[]),
            (IdSpace::Booking, _) => (BOOKINGS, &[]),
            (IdSpace::Guild, _) => (GUILDS, &[]),
            (IdSpace::Report, _) => (REPORTS, &[]),
            (IdSpace::Request, _) => (REQUESTS, &[]),
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

/// Offsets from several ascending (`descending`: descending) streams, merged into one in that
/// order.
fn merged<'a>(
    streams: Vec<Box<dyn Iterator<Item = Result<u64, StorageError>> + 'a>>,
    descending: bool,
) -> impl Iterator<Item = Result<u64, StorageError>> + 'a {
    let mut streams: Vec<_> = streams.into_iter().map(Iterator::peekable).collect();
    std::iter::from_fn(move || {
        // An error comes first; otherwise the stream whose next offset comes first.
        let mut best: Option<(usize, u64)> = None;
        for (i, stream) in streams.iter_mut().enumerate() {
            match stream.peek() {
                Some(Err(_)) => return stream.next(),
                Some(Ok(offset)) => {
                    let first = best.is_none_or(|(_, b)| if descending { *offset > b } else { *offset < b });
                    if first {
                        best = Some((i, *offset));
                    }
                }
                None => {}
            }
        }
        best.and_then(|(i, _)| streams[i].next())
    })
}
