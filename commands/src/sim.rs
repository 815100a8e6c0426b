//! A synthetic but plausible workload: per author, the next command a user might issue, decided
//! into an event against the author's own state. `mindlog gen` writes it; tests fold it.
//!
//! Everything here is deterministic: [`Rng`] is SplitMix64, defined here so a seed means the same
//! events in every version that keeps this file's choices.

use mindlog_ledger::{Hash, PublicKey};

use crate::audit::{AuditApprove, AuditDeny, AuditDone, AuditTool, Decision};
use crate::catalog::Command;
use crate::catalog::Event;
use crate::decide::{DecideError, PersonaInfo, State, decide};
use crate::market::{
    ListingKind, MarketBook, MarketBuy, MarketConfirm, MarketPublish, MarketSubscribe, MarketUnsubscribe, MarketUpdate,
    MarketWithdraw, Period, Review, Tier,
};
use crate::memstate::MemState;
use crate::persona::{
    CommitmentClose, CommitmentOpen, CommitmentSweep, Consent, Emotion, MemoryAdd, MemoryForget, Message, ModelUse,
    Outcome, PersonaCreate, PersonaFork, PersonaRetire, PersonaTraits, Reflect, Role,
};
use crate::reputation::{RepAttest, RepReport, RepResolve, RepUnvouch, RepVouch, TaskOutcome};
use crate::social::{Award, Follow, GuildCreate, GuildJoin, GuildLeave, Unfollow};
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
///
/// Authors meet in the marketplace, guilds and reputation through [`AuthorSim::learn`]: the
/// public events of the others (listings, bookings, guilds, reports) that the simulation hands
/// every author at fixed points.
#[derive(Clone, Debug)]
pub struct AuthorSim {
    author: PublicKey,
    state: MemState,
    /// The other authors.
    others: Vec<PublicKey>,
    /// Listings by others, in the order learnt.
    listings: Vec<Hash>,
    /// This author's listings.
    my_listings: Vec<Hash>,
    /// Bookings others asked of this author's services.
    bookings_for_me: Vec<Hash>,
    /// Guilds by others.
    guilds: Vec<Hash>,
    /// This author's guilds, with the members learnt.
    my_guilds: Vec<(Hash, Vec<PublicKey>)>,
    /// Reports by others.
    reports: Vec<Hash>,
    /// This author's tool-call requests.
    my_requests: Vec<Hash>,
    /// Listings this author subscribed to.
    my_subscriptions: Vec<Hash>,
}

const MODELS: &[&str] = &["ollama:llama3.1", "ollama:mistral", "ollama:qwen2.5", "openai:gpt-4o-mini", "local:phi-3"];
const SCOPES: &[&str] = &["share-memory", "train-models", "publish-reflections", "analytics", "marketplace-listing"];
const LABELS: &[&str] = &["calm", "curious", "tense", "glad", "tired", "focused", "uneasy"];
const TAGS: &[&str] = &["style", "fact", "preference", "project", "person", "todo"];

impl AuthorSim {
    /// A user with nothing yet (or whose earlier events this simulation does not know).
    pub fn new(author: PublicKey, everyone: &[PublicKey]) -> AuthorSim {
        AuthorSim {
            author,
            state: MemState::default(),
            others: everyone.iter().filter(|k| **k != author).copied().collect(),
            listings: Vec::new(),
            my_listings: Vec::new(),
            bookings_for_me: Vec::new(),
            guilds: Vec::new(),
            my_guilds: Vec::new(),
            reports: Vec::new(),
            my_requests: Vec::new(),
            my_subscriptions: Vec::new(),
        }
    }

    /// Records that this author's `event` was written with hash `hash`.
    pub fn observe(&mut self, hash: Hash, event: &Event) {
        self.state.apply(&self.author, hash, event);
        match event {
            Event::ListingPublished(_) => self.my_listings.push(hash),
            Event::GuildCreated(_) => self.my_guilds.push((hash, Vec::new())),
            Event::ToolRequested(_) => self.my_requests.push(hash),
            Event::Subscribed(e) => self.my_subscriptions.push(e.listing),
            _ => {}
        }
    }

    /// Whether others need to learn `event` to interact with its author: listings, bookings,
    /// guilds and memberships, reports.
    pub fn is_public(event: &Event) -> bool {
        matches!(
            event,
            Event::ListingPublished(_)
                | Event::ListingUpdated(_)
                | Event::ListingWithdrawn(_)
                | Event::BookingRequested(_)
                | Event::GuildCreated(_)
                | Event::GuildJoined(_)
                | Event::GuildLeft(_)
                | Event::Reported(_)
        )
    }

    /// Learns another author's public event (see [`AuthorSim::is_public`]).
    pub fn learn(&mut self, author: &PublicKey, hash: Hash, event: &Event) {
        if *author == self.author {
            return;
        }
        self.state.apply(author, hash, event);
        match event {
            Event::ListingPublished(_) => self.listings.push(hash),
            Event::GuildCreated(_) => self.guilds.push(hash),
            Event::Reported(_) => self.reports.push(hash),
            Event::BookingRequested(e) if self.my_listings.contains(&e.listing) => self.bookings_for_me.push(hash),
            Event::GuildJoined(e) => {
                if let Some((_, members)) = self.my_guilds.iter_mut().find(|(g, _)| *g == e.guild) {
                    members.push(*author);
                }
            }
            _ => {}
        }
    }

    /// The event for slot `index` (a global position, which also names new personas) at `ts`:
    /// the first event `decide` makes of the next command. A command that makes none (a sweep
    /// with nothing due) or that `decide` refuses gives way to another.
    pub fn next_event(&self, rng: &mut Rng, index: u64, ts: Micros) -> Result<Event, DecideError> {
        // A plausible command may still be refused (already following, a slot taken): try another.
        for _ in 0..6 {
            let command = self.next_command(rng, index);
            match decide(&self.state, &self.author, ts, &command) {
                Ok(events) => {
                    if let Some(event) = events.into_iter().next() {
                        return Ok(event);
                    }
                }
                Err(DecideError::Rejected(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let persona = self.state.active_personas(&self.author).next().map(|p| p.id.to_string()).unwrap_or_default();
        let command = Command::Message(Message { persona, role: Role::User, text: text(rng, 200) });
        Ok(decide(&self.state, &self.author, ts, &command)?.remove(0))
    }

    /// The next command this author plausibly issues at `index`: mostly the persona domain, then
    /// the marketplace, the community, reputation and the audit log.
    fn next_command(&self, rng: &mut Rng, index: u64) -> Command {
        let roll = rng.below(100);
        let other = match roll {
            0..70 => None,
            70..84 => self.market_command(rng, index),
            84..89 => self.social_command(rng, index),
            89..94 => self.reputation_command(rng, index),
            _ => self.audit_command(rng, index),
        };
        other.unwrap_or_else(|| self.persona_command(rng, index))
    }

    fn pick_other(&self, rng: &mut Rng) -> Option<PublicKey> {
        (!self.others.is_empty()).then(|| *rng.pick(&self.others))
    }

    /// A live listing by someone else, if there is one (a few tries).
    fn pick_listing(
        &self,
        rng: &mut Rng,
        want: impl Fn(&crate::decide::ListingInfo) -> bool,
    ) -> Option<crate::decide::ListingInfo> {
        if self.listings.is_empty() {
            return None;
        }
        for _ in 0..4 {
            let id = rng.pick(&self.listings);
            if let Some(l) = self.state.listings.get(id).filter(|l| !l.withdrawn && want(l)) {
                return Some(l.clone());
            }
        }
        None
    }

    fn market_command(&self, rng: &mut Rng, index: u64) -> Option<Command> {
        let live_mine: Vec<&Hash> =
            self.my_listings.iter().filter(|id| self.state.listings.get(*id).is_some_and(|l| !l.withdrawn)).collect();
        match rng.below(100) {
            0..12 if live_mine.len() < 6 => {
                let kind = *rng.pick(&ListingKind::ALL);
                let (price, tiers) = match kind {
                    ListingKind::Service => (None, service_tiers(rng)),
                    ListingKind::Api if rng.below(2) == 0 => (None, service_tiers(rng)),
                    _ => (Some(100 + rng.below(50) * 100), Vec::new()),
                };
                Some(Command::MarketPublish(MarketPublish {
                    kind,
                    name: format!("listing-{index}"),
                    version: "1.0.0".into(),
                    price,
                    currency: (*rng.pick(&["EUR", "EUR", "USD"])).to_owned(),
                    tiers,
                    license: Some((*rng.pick(&["MIT", "Apache-2.0", "proprietary"])).to_owned()),
                }))
            }
            12..18 if !live_mine.is_empty() => Some(Command::MarketUpdate(MarketUpdate {
                listing: rng.pick(&live_mine).to_string(),
                version: Some(format!("1.{}.{}", 1 + index % 9, index % 7)),
                price: None,
                tiers: None,
                license: None,
            })),
            18..19 if live_mine.len() > 3 => {
                Some(Command::MarketWithdraw(MarketWithdraw { listing: rng.pick(&live_mine).to_string() }))
            }
            19..34 => {
                let l = self.pick_listing(rng, |l| !l.tiers.is_empty() && !self.my_subscriptions.contains(&l.id))?;
                Some(Command::MarketSubscribe(MarketSubscribe {
                    listing: l.id.to_string(),
                    tier: rng.pick(&l.tiers).name.clone(),
                }))
            }
            34..38 => {
                let listing =
                    self.my_subscriptions.iter().find(|l| self.state.subscribed(l, &self.author).unwrap_or(false))?;
                Some(Command::MarketUnsubscribe(MarketUnsubscribe { listing: listing.to_string() }))
            }
            38..55 => {
                let l = self.pick_listing(rng, |l| l.price.is_some())?;
                Some(Command::MarketBuy(MarketBuy { listing: l.id.to_string() }))
            }
            55..67 => {
                let l = self.pick_listing(rng, |l| l.kind == ListingKind::Service)?;
                let hour = 3_600_000_000;
                let start = GEN_EPOCH_MICROS + index * GEN_SPACING_MICROS + (1 + rng.below(14 * 24)) * hour;
                let start = start - start % hour;
                Some(Command::MarketBook(MarketBook {
                    listing: l.id.to_string(),
                    start: Instant(start),
                    end: Instant(start + hour),
                }))
            }
            67..77 => {
                let pending: Vec<&Hash> = self
                    .bookings_for_me
                    .iter()
                    .filter(|b| self.state.bookings.get(*b).is_some_and(|b| !b.confirmed))
                    .collect();
                Some(Command::MarketConfirm(MarketConfirm { booking: (*pending.first()?).to_string() }))
            }
            _ => {
                let l = self.pick_listing(rng, |_| true)?;
                let rating = *rng.pick(&[5, 5, 4, 4, 4, 3, 2, 1]);
                Some(Command::Review(Review { listing: l.id.to_string(), rating, text: words(rng, 20, 200) }))
            }
        }
    }

    fn social_command(&self, rng: &mut Rng, index: u64) -> Option<Command> {
        match rng.below(100) {
            0..35 => Some(Command::Follow(Follow { target: self.pick_other(rng)?.to_string() })),
            35..45 => Some(Command::Unfollow(Unfollow { target: self.pick_other(rng)?.to_string() })),
            45..55 if self.my_guilds.len() < 2 => {
                Some(Command::GuildCreate(GuildCreate { name: format!("guild-{index}") }))
            }
            55..80 if !self.guilds.is_empty() => {
                Some(Command::GuildJoin(GuildJoin { guild: rng.pick(&self.guilds).to_string() }))
            }
            80..85 if !self.guilds.is_empty() => {
                Some(Command::GuildLeave(GuildLeave { guild: rng.pick(&self.guilds).to_string() }))
            }
            _ => {
                let (guild, members) = self.my_guilds.iter().find(|(_, m)| !m.is_empty())?;
                let member = rng.pick(members);
                Some(Command::Award(Award {
                    member: member.to_string(),
                    badge: (*rng.pick(&["first-plugin", "helpful", "mentor", "bug-hunter", "top-seller"])).to_owned(),
                    guild: Some(guild.to_string()),
                }))
            }
        }
    }

    fn reputation_command(&self, rng: &mut Rng, index: u64) -> Option<Command> {
        let subject = self.pick_other(rng)?.to_string();
        match rng.below(100) {
            0..60 => Some(Command::RepAttest(RepAttest {
                subject,
                task: format!("task-{}", rng.below(50)),
                outcome: if rng.below(5) == 0 { TaskOutcome::Failure } else { TaskOutcome::Success },
                weight: 1 + rng.below(10) as u32,
            })),
            60..75 => Some(Command::RepVouch(RepVouch { subject })),
            75..80 => Some(Command::RepUnvouch(RepUnvouch { subject })),
            // Few reports are upheld, as in a community that works: one verdict in ten upholds.
            // With two in three, nearly every report was upheld, every simulated author had upheld
            // reports worth a penalty above 1 within two days, and every score was 0 from then
            // on (rep/1 takes 0.25 per upheld report, halving over 90 days). Reports stay this
            // frequent so that a short workload still makes one (projections/tests/memstate.rs).
            80..86 => Some(Command::RepReport(RepReport {
                subject,
                category: (*rng.pick(&["spam", "fraud", "abuse", "plagiarism"])).to_owned(),
                evidence: Hash(*blake3::hash(&index.to_le_bytes()).as_bytes()).to_string(),
            })),
            _ if !self.reports.is_empty() => {
                let report = rng.pick(&self.reports);
                Some(Command::RepResolve(RepResolve { report: report.to_string(), upheld: rng.below(10) == 0 }))
            }
            _ => None,
        }
    }

    fn audit_command(&self, rng: &mut Rng, index: u64) -> Option<Command> {
        let open: Vec<&Hash> = self
            .my_requests
            .iter()
            .rev()
            .take(8)
            .filter(|r| self.state.requests.get(*r).is_some_and(|r| !r.completed))
            .collect();
        match rng.below(100) {
            0..55 => Some(Command::AuditTool(AuditTool {
                session: format!("session-{}", index / 2000),
                tool: (*rng.pick(&["shell.exec", "fs.read", "fs.write", "http.get", "git.commit", "browser.open"]))
                    .to_owned(),
                args_digest: format!("sha256:{:016x}", rng.next_u64()),
                scope: (*rng.pick(&["workspace", "home", "network", "repo"])).to_owned(),
                decision: *rng.pick(&[
                    Decision::Allow,
                    Decision::Allow,
                    Decision::Allow,
                    Decision::Ask,
                    Decision::Deny,
                ]),
                reason: words(rng, 10, 60),
            })),
            55..70 => {
                let ask = open.iter().find(|r| {
                    self.state.requests.get(**r).is_some_and(|r| r.decision == Decision::Ask && r.answer.is_none())
                })?;
                Some(if rng.below(4) > 0 {
                    Command::AuditApprove(AuditApprove { request: ask.to_string() })
                } else {
                    Command::AuditDeny(AuditDeny { request: ask.to_string() })
                })
            }
            _ => {
                let runnable = open.iter().find(|r| {
                    self.state.requests.get(**r).is_some_and(|r| {
                        r.decision == Decision::Allow || (r.decision == Decision::Ask && r.answer == Some(true))
                    })
                })?;
                Some(Command::AuditDone(AuditDone {
                    request: runnable.to_string(),
                    ok: rng.below(10) > 0,
                    duration_ms: 10 + rng.below(5000),
                    tokens: rng.below(4000),
                    cost_cents: rng.below(20),
                    model: (*rng.pick(MODELS)).to_owned(),
                }))
            }
        }
    }

    /// The next persona-domain command.
    fn persona_command(&self, rng: &mut Rng, index: u64) -> Command {
        let me = self.author;
        let active: Vec<&PersonaInfo> = self.state.active_personas(&me).collect();
        // A handful of personas per author: new ones while there are few, retirements when there are many.
        if active.is_empty() || (active.len() < 12 && rng.below(1000) < 3) {
            return Command::PersonaCreate(PersonaCreate {
                name: format!("persona-{index}"),
                description: words(rng, 40, 120),
            });
        }
        let p = rng.pick(&active);
        let persona = p.id.to_string();
        let roll = rng.below(1000);
        match roll {
            0..400 => {
                let role = *rng.pick(&[Role::User, Role::Assistant, Role::Assistant, Role::User, Role::System]);
                Command::Message(Message { persona, role, text: words(rng, 100, 480) })
            }
            400..520 => Command::MemoryAdd(MemoryAdd {
                persona,
                text: words(rng, 100, 400),
                importance: Units(rng.below(1_000_001) as i64),
                tags: (0..rng.below(3)).map(|_| (*rng.pick(TAGS)).to_owned()).collect(),
            }),
            520..550 => match self.state.live_memories(&p.id).next() {
                Some(m) => Command::MemoryForget(MemoryForget { persona, memory: m.id.to_string() }),
                None => Command::Reflect(Reflect { persona, text: words(rng, 100, 300) }),
            },
            550..630 => Command::CommitmentOpen(CommitmentOpen {
                persona,
                title: words(rng, 100, 200),
                due: (rng.below(4) > 0)
                    .then(|| Instant(index * GEN_SPACING_MICROS + GEN_EPOCH_MICROS + (1 + rng.below(14)) * DAY_MICROS)),
            }),
            630..690 => match self.state.open_commitments(&p.id).next() {
                Some(c) => Command::CommitmentClose(CommitmentClose {
                    persona,
                    commitment: c.id.to_string(),
                    outcome: *rng.pick(&[
                        Outcome::Done,
                        Outcome::Done,
                        Outcome::Done,
                        Outcome::Failed,
                        Outcome::Cancelled,
                    ]),
                }),
                None => Command::CommitmentSweep(CommitmentSweep {}),
            },
            690..750 => Command::Reflect(Reflect { persona, text: words(rng, 100, 400) }),
            750..830 => Command::Emotion(Emotion {
                persona,
                valence: Units(rng.below(2_000_001) as i64 - 1_000_000),
                arousal: Units(rng.below(1_000_001) as i64),
                label: Some((*rng.pick(LABELS)).to_owned()),
            }),
            830..900 => {
                // One trait, a delta that keeps it inside [0, 1].
                let which = rng.below(5) as usize;
                let value = p.traits.values()[which].0;
                let delta = (rng.below(100_001) as i64 - 50_000).clamp(-value, 1_000_000 - value);
                let mut deltas = [None; 5];
                deltas[which] = Some(Units(if delta == 0 { if value > 0 { -1 } else { 1 } } else { delta }));
                let [openness, conscientiousness, extraversion, agreeableness, neuroticism] = deltas;
                Command::PersonaTraits(PersonaTraits {
                    persona,
                    openness,
                    conscientiousness,
                    extraversion,
                    agreeableness,
                    neuroticism,
                })
            }
            900..940 => {
                Command::Consent(Consent { persona, scope: (*rng.pick(SCOPES)).to_owned(), allow: rng.below(2) == 0 })
            }
            940..970 => Command::ModelUse(ModelUse {
                persona,
                model: (*rng.pick(MODELS)).to_owned(),
                hash: format!("sha256:{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
            }),
            970..990 => Command::CommitmentSweep(CommitmentSweep {}),
            990..992 if active.len() < 12 => Command::PersonaFork(PersonaFork {
                persona,
                name: format!("fork-{index}"),
                license: Some((*rng.pick(&["CC-BY-4.0", "MIT", "CC0-1.0"])).to_owned()),
            }),
            992..994 if active.len() > 6 => Command::PersonaRetire(PersonaRetire {
                persona,
                successor: Some(active[0].id.to_string()).filter(|s| *s != p.id.to_string()),
                reason: Some(text(rng, 40)),
            }),
            _ => Command::Reflect(Reflect { persona, text: text(rng, 120) }),
        }
    }
}

fn service_tiers(rng: &mut Rng) -> Vec<Tier> {
    let n = 1 + rng.below(3) as usize;
    ["basic", "pro", "team"][..n]
        .iter()
        .enumerate()
        .map(|(i, name)| Tier {
            name: (*name).to_owned(),
            amount: 500 * (i as u64 + 1) + rng.below(10) * 100,
            period: Period::Month,
        })
        .collect()
}
