//! Commands: what a user or an application asks for, before it is decided into events.
//!
//! The JSON form (`mindlog submit`) is the command's fields with `"command"` beside them.
//! Entities are referred to as people type them: a persona by its name among the author's
//! personas, or by its id or an unambiguous id prefix (4 hex characters or more); a commitment
//! or memory by its id or an id prefix within its persona; a listing, booking, report or request
//! by its id or an id prefix; a guild by its name (when unique) or id; an author by public key.

use serde::{Deserialize, Serialize};

use crate::audit::Decision;
use crate::market::{ListingKind, Tier};
use crate::persona::{Outcome, Role};
use crate::reputation::TaskOutcome;
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
    CommitmentSweep {},
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

    /// Publish a listing owned by the author.
    #[serde(rename = "market.publish")]
    MarketPublish {
        /// What it is.
        kind: ListingKind,
        /// Its name.
        name: String,
        /// Its first version.
        version: String,
        /// A one-off price in minor units (cents).
        #[serde(default)]
        price: Option<u64>,
        /// ISO 4217 currency of the price and tiers.
        #[serde(default = "default_currency")]
        currency: String,
        /// Subscription tiers.
        #[serde(default)]
        tiers: Vec<Tier>,
        /// Its license.
        #[serde(default)]
        license: Option<String>,
    },
    /// Change a listing's version, price, tiers or license.
    #[serde(rename = "market.update")]
    MarketUpdate {
        /// The listing.
        listing: String,
        /// A new version.
        #[serde(default)]
        version: Option<String>,
        /// A new one-off price.
        #[serde(default)]
        price: Option<u64>,
        /// New tiers, replacing the old.
        #[serde(default)]
        tiers: Option<Vec<Tier>>,
        /// A new license.
        #[serde(default)]
        license: Option<String>,
    },
    /// Take a listing off the market.
    #[serde(rename = "market.withdraw")]
    MarketWithdraw {
        /// The listing.
        listing: String,
    },
    /// Subscribe to a listing's tier.
    #[serde(rename = "market.subscribe")]
    MarketSubscribe {
        /// The listing.
        listing: String,
        /// The tier.
        tier: String,
    },
    /// End a subscription.
    #[serde(rename = "market.unsubscribe")]
    MarketUnsubscribe {
        /// The listing.
        listing: String,
    },
    /// Buy a listing at its one-off price.
    #[serde(rename = "market.buy")]
    MarketBuy {
        /// The listing.
        listing: String,
    },
    /// Ask for a slot of a service.
    #[serde(rename = "market.book")]
    MarketBook {
        /// The service.
        listing: String,
        /// Start.
        start: Instant,
        /// End.
        end: Instant,
    },
    /// Confirm a booking of one of the author's services.
    #[serde(rename = "market.confirm")]
    MarketConfirm {
        /// The booking.
        booking: String,
    },
    /// Review a listing (1 to 5); a later review replaces the author's earlier one.
    #[serde(rename = "review")]
    Review {
        /// The listing.
        listing: String,
        /// 1 to 5.
        rating: u8,
        /// Free text.
        #[serde(default)]
        text: String,
    },
    /// Follow an author (public key) or a persona.
    #[serde(rename = "follow")]
    Follow {
        /// A public key, or a persona (name, id or id prefix).
        target: String,
    },
    /// Stop following.
    #[serde(rename = "unfollow")]
    Unfollow {
        /// A public key, or a persona.
        target: String,
    },
    /// Create a guild the author owns.
    #[serde(rename = "guild.create")]
    GuildCreate {
        /// Its name.
        name: String,
    },
    /// Join a guild.
    #[serde(rename = "guild.join")]
    GuildJoin {
        /// The guild: its name or id or id prefix.
        guild: String,
    },
    /// Leave a guild.
    #[serde(rename = "guild.leave")]
    GuildLeave {
        /// The guild.
        guild: String,
    },
    /// Give a member of a guild the author owns a badge.
    #[serde(rename = "award")]
    Award {
        /// The member's public key.
        member: String,
        /// The badge.
        badge: String,
        /// The guild, when the author owns several the member belongs to.
        #[serde(default)]
        guild: Option<String>,
    },
    /// Attest how an author did on a task.
    #[serde(rename = "rep.attest")]
    RepAttest {
        /// The author's public key.
        subject: String,
        /// The task.
        task: String,
        /// How it went.
        outcome: TaskOutcome,
        /// 1 to 10.
        #[serde(default = "default_weight")]
        weight: u32,
    },
    /// Vouch for an author.
    #[serde(rename = "rep.vouch")]
    RepVouch {
        /// The author's public key.
        subject: String,
    },
    /// Withdraw a vouch.
    #[serde(rename = "rep.unvouch")]
    RepUnvouch {
        /// The author's public key.
        subject: String,
    },
    /// Report a violation.
    #[serde(rename = "rep.report")]
    RepReport {
        /// The author's public key.
        subject: String,
        /// The kind of violation, e.g. spam.
        category: String,
        /// The hash of the event that shows it.
        evidence: String,
    },
    /// Give a verdict on a report.
    #[serde(rename = "rep.resolve")]
    RepResolve {
        /// The report.
        report: String,
        /// Upheld (true) or dismissed (false).
        upheld: bool,
    },
    /// Record a tool call and the policy's decision on it.
    #[serde(rename = "audit.tool")]
    AuditTool {
        /// The agent session.
        session: String,
        /// The tool.
        tool: String,
        /// A digest of its arguments.
        args_digest: String,
        /// What it may touch.
        scope: String,
        /// The policy's decision.
        decision: Decision,
        /// Why.
        reason: String,
    },
    /// Approve a request that asked.
    #[serde(rename = "audit.approve")]
    AuditApprove {
        /// The request.
        request: String,
    },
    /// Deny a request that asked.
    #[serde(rename = "audit.deny")]
    AuditDeny {
        /// The request.
        request: String,
    },
    /// Record how a tool call went.
    #[serde(rename = "audit.done")]
    AuditDone {
        /// The request.
        request: String,
        /// Whether it succeeded.
        ok: bool,
        /// How long it took.
        duration_ms: u64,
        /// Model tokens used.
        #[serde(default)]
        tokens: u64,
        /// What it cost, in cents.
        #[serde(default)]
        cost_cents: u64,
        /// The model that ran it.
        #[serde(default)]
        model: String,
    },
}

fn default_currency() -> String {
    "EUR".into()
}

fn default_weight() -> u32 {
    1
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
            Command::CommitmentSweep {} => "commitment.sweep",
            Command::MemoryAdd { .. } => "memory.add",
            Command::MemoryForget { .. } => "memory.forget",
            Command::Reflect { .. } => "reflect",
            Command::Emotion { .. } => "emotion",
            Command::Consent { .. } => "consent",
            Command::ModelUse { .. } => "model.use",
            Command::Message { .. } => "message",
            Command::MarketPublish { .. } => "market.publish",
            Command::MarketUpdate { .. } => "market.update",
            Command::MarketWithdraw { .. } => "market.withdraw",
            Command::MarketSubscribe { .. } => "market.subscribe",
            Command::MarketUnsubscribe { .. } => "market.unsubscribe",
            Command::MarketBuy { .. } => "market.buy",
            Command::MarketBook { .. } => "market.book",
            Command::MarketConfirm { .. } => "market.confirm",
            Command::Review { .. } => "review",
            Command::Follow { .. } => "follow",
            Command::Unfollow { .. } => "unfollow",
            Command::GuildCreate { .. } => "guild.create",
            Command::GuildJoin { .. } => "guild.join",
            Command::GuildLeave { .. } => "guild.leave",
            Command::Award { .. } => "award",
            Command::RepAttest { .. } => "rep.attest",
            Command::RepVouch { .. } => "rep.vouch",
            Command::RepUnvouch { .. } => "rep.unvouch",
            Command::RepReport { .. } => "rep.report",
            Command::RepResolve { .. } => "rep.resolve",
            Command::AuditTool { .. } => "audit.tool",
            Command::AuditApprove { .. } => "audit.approve",
            Command::AuditDeny { .. } => "audit.deny",
            Command::AuditDone { .. } => "audit.done",
        }
    }
}
