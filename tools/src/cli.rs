//! The command line: every subcommand, flag and help text (docs/cli.md mirrors it).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mindlog_commands::{
    AuditApprove, AuditDeny, AuditDone, AuditTool, Award, CommitmentClose, CommitmentOpen, CommitmentSweep, Consent,
    Emotion, Follow, GuildCreate, GuildJoin, GuildLeave, Instant, ListingKind, MarketBook, MarketBuy, MarketConfirm,
    MarketPublish, MarketSubscribe, MarketUnsubscribe, MarketUpdate, MarketWithdraw, MemoryAdd, MemoryForget, Message,
    ModelUse, PersonaCreate, PersonaFork, PersonaRetire, PersonaTraits, Reflect, RepAttest, RepReport, RepResolve,
    RepUnvouch, RepVouch, Review, Unfollow,
};

/// Declares subcommands that are commands of `mindlog-commands` needing nothing but a decision
/// and an append: each one line, its doc comment the `--help` text and the literal what stderr
/// says once it is written. Derives the clap enum and `command()`, its dispatch; `main` runs
/// every such enum through `persona_cmds::write`, so a new command of this kind is one line here.
macro_rules! writes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $( $(#[$vmeta:meta])* $variant:ident($ty:ty) => $what:literal, )*
    }) => {
        $(#[$meta])*
        #[derive(Subcommand, Debug)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant(WriteArgs<$ty>), )*
        }

        impl $name {
            /// The command, what to say once it is written, and whether its payloads are private.
            pub(crate) fn command(self) -> (mindlog_commands::Command, &'static str, bool) {
                match self {
                    $( $name::$variant(args) => (args.command.into(), $what, args.private), )*
                }
            }
        }
    };
}

/// A command that writes, with the flag every such command has.
#[derive(Args, Debug)]
pub(crate) struct WriteArgs<T: Args> {
    #[command(flatten)]
    pub(crate) command: T,
    /// Make the payloads this writes private: kept in this store, exported only with
    /// --include-private, never sent to peers. A persona created private makes its memories,
    /// messages, reflections and emotions private by default
    #[arg(long)]
    pub(crate) private: bool,
}

/// mindlog — an event-sourced ledger for sovereign AI personas.
///
/// One file holds a whole mind: an append-only log of Ed25519-signed, blake3 hash-chained events.
/// Start with `mindlog demo`, or `mindlog init` then `mindlog gen`.
#[derive(Parser, Debug)]
#[command(name = "mindlog", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// The home folder holding mind.redb and identity.key [default: $MINDLOG_HOME, else ~/.mindlog]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,

    /// Sign as this local identity instead of the default one (mindlog identity list)
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub(crate) as_identity: Option<String>,

    /// Print the result as JSON instead of text (for `query`: --format json)
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Create a home: mind.redb and identity.key (mode 0600); print the public key
    Init,
    /// Write a deterministic synthetic workload of signed events (for trials and benchmarks)
    Gen(GenArgs),
    /// List events, newest last
    Log(LogArgs),
    /// Counts: events, feeds and their heads, kinds, file size; with --space, where the file's
    /// bytes go, table by table
    Stats(StatsArgs),
    /// Re-check every event (encoding, hash, signature, feed links) and every derived table
    /// against the events; with --views or --full the views too. Exit 0 valid, 1 a failure, 2 error
    Verify(VerifyArgs),
    /// Rebuild every index of the log and every view from the events, in place (after verify
    /// found a derived table or a view wrong; the events themselves are not touched)
    Repair,
    /// Rewrite the store file with only what is live in it, every table in key order: its pages
    /// full and no free space left behind (after bulk writes: gen, import). Needs the store to
    /// itself (stop a node first)
    Compact,
    /// Write every event as one JSON object per line (stdout by default)
    Export(ExportArgs),
    /// Erase the payloads of your events (hash or unique prefix): gone from the file, the views
    /// and every later export; a signed ledger.erased/1 event records it
    Erase(EraseArgs),
    /// Add events from an exported JSONL file (or - for stdin); all or nothing
    Import(ImportArgs),
    /// Measure append, gen, verify and export throughput in a scratch home
    Bench(BenchArgs),
    /// A five-minute tour in an empty home: initialise it, write a workload, verify it, export it
    Demo(DemoArgs),

    /// Personas: create, change traits, fork, retire, show, list
    #[command(subcommand)]
    Persona(PersonaCmd),
    /// Commitments a persona makes: open, close, sweep overdue ones
    #[command(subcommand)]
    Commitment(CommitmentCmd),
    /// A persona's memory: add, forget, list
    #[command(subcommand)]
    Memory(MemoryCmd),
    // reflect, emotion, consent, message, review
    #[command(flatten)]
    Write(Writes),
    /// The model a persona runs on
    #[command(subcommand)]
    Model(ModelCmd),
    /// Serve this home: the HTTP API with live subscriptions, and every mindlog command run on
    /// this home while it runs (docs/api.md). Stop with Ctrl-C
    Node(NodeArgs),
    /// The running node's peers: id, address, feeds in common, lag, score, last seen
    Peers,
    /// Which feeds the node replicates: with no flag, say; --all every feed any peer offers (a
    /// new node's default), --followed only your identities' feeds and the authors they follow
    Replicate(ReplicateArgs),
    /// Fork proofs held: an author who signed two events with one seq (both events, checkable
    /// offline)
    Forks,
    /// Sign a checkpoint of your feed at its head (C2SP tlog-checkpoint in a signed note: its size
    /// and Merkle root) and publish it as your feed's next event, which travels with the feed
    Sign {
        /// Write it to FILE instead of standard output
        #[arg(short = 'o', long, value_name = "FILE", value_parser = crate::served::path_arg)]
        output: Option<PathBuf>,
    },
    /// The newest checkpoint published in a feed that checks against this store
    Checkpoint {
        /// The feed's author: a public key, an identity name or a key prefix (default: yours)
        author: Option<String>,
        /// Write it to FILE instead of standard output
        #[arg(short = 'o', long, value_name = "FILE", value_parser = crate::served::path_arg)]
        output: Option<PathBuf>,
    },
    /// An offline proof that an event is in its author's feed (C2SP tlog-proof@v1, carrying the
    /// event's signed bytes and the newest checkpoint published in the feed); with
    /// --consistency, that the feed at size NEW extends the feed at size OLD
    #[command(group(clap::ArgGroup::new("what").required(true).args(["event", "consistency"])))]
    Prove {
        /// The event: its hash or a unique prefix (4 or more hex characters)
        event: Option<String>,
        /// A consistency proof of AUTHOR's feed from size OLD to size NEW, where NEW is the size
        /// of a checkpoint published in the feed (C2SP tlog-witness's add-checkpoint body)
        #[arg(long, num_args = 3, value_names = ["AUTHOR", "OLD", "NEW"], conflicts_with = "event")]
        consistency: Option<Vec<String>>,
        /// Write it to FILE instead of standard output
        #[arg(short = 'o', long, value_name = "FILE", value_parser = crate::served::path_arg)]
        output: Option<PathBuf>,
    },
    /// Check a checkpoint or a proof offline, with the feed's verifier key (no store needed):
    /// exit 0 it holds, 1 it does not
    Check {
        /// The checkpoint or proof file
        #[arg(value_parser = crate::served::path_arg)]
        file: PathBuf,
        /// The verifier key (`mindlog identity list` shows yours), or a file holding it
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// A witness that must have cosigned (its key from `identity list`, or a file); repeat
        /// for more
        #[arg(long, value_name = "WKEY")]
        witness: Vec<String>,
        /// For a consistency proof: the older checkpoint it extends (signed by the same key)
        #[arg(long, value_name = "CHECKPOINT", value_parser = crate::served::path_arg)]
        old: Option<PathBuf>,
    },
    /// Act as a witness of other authors' feeds
    #[command(subcommand)]
    Witness(WitnessCmd),
    /// Open the running node's pages in your browser, signed in (a new one-time login URL)
    Open {
        /// Only print the URL
        #[arg(long)]
        print: bool,
    },
    /// Run commands given as JSON (one object, an array, or one object per line); - for stdin
    Submit {
        /// The JSON file (docs/commands.md gives every command's JSON form)
        #[arg(value_parser = crate::served::path_arg)]
        file: PathBuf,
    },
    /// The views folded from the log: status, rebuild
    #[command(subcommand)]
    Projections(ProjectionsCmd),

    /// Ask the log and the views in SQL (read-only; DataFusion)
    Query(QueryArgs),
    /// Local identities (signing keys): new, list
    #[command(subcommand)]
    Identity(IdentityCmd),
    /// The marketplace: publish, update, withdraw, subscribe, buy, book, confirm, list, show
    #[command(subcommand)]
    Market(MarketCmd),
    /// Follow an author (public key or local identity name) or a persona
    Follow(Follow),
    /// Stop following
    Unfollow(Unfollow),
    /// Guilds: create, join, leave
    #[command(subcommand)]
    Guild(GuildCmd),
    /// Give a member of a guild you own a badge
    Award(Award),
    /// Rank listings or creators (formula leaderboard/1)
    Leaderboard {
        /// What to rank
        #[arg(value_enum, default_value_t = BoardArg::Listings)]
        board: BoardArg,
        /// How many to show
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Reputation: attest, vouch, unvouch, report, resolve, show
    #[command(subcommand)]
    Rep(RepCmd),
    /// An agent's audit log: tool calls, decisions, approvals, results
    #[command(subcommand)]
    Audit(AuditCmd),
}

writes! {
    /// The top-level commands that write.
    pub(crate) enum Writes {
        /// Record a reflection of a persona
        Reflect(Reflect) => "reflection recorded",
        /// Record an emotion of a persona
        Emotion(Emotion) => "emotion recorded",
        /// Allow or deny a use of a persona's data
        Consent(Consent) => "consent recorded",
        /// Record a chat turn of a persona
        Message(Message) => "message recorded",
        /// Review a listing (1 to 5); a later review of yours replaces the earlier one
        Review(Review) => "review recorded",
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatArg {
    /// Aligned columns and a row count
    Table,
    /// Comma-separated values with a header
    Csv,
    /// One JSON array
    Json,
    /// One JSON object per line
    Jsonl,
    /// Arrow IPC stream (binary), for Arrow-based tools: pyarrow.ipc.open_stream, DuckDB, Polars
    Arrow,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["sql", "tables"])))]
pub(crate) struct QueryArgs {
    /// The SQL (SELECT, WITH, EXPLAIN); tables: mindlog query --tables
    pub(crate) sql: Option<String>,
    /// Output format [default: table; with --json: json]
    #[arg(long, value_enum)]
    pub(crate) format: Option<FormatArg>,
    /// Compute time-dependent columns (memory strength, reputation) as of this instant (default: now)
    #[arg(long, value_name = "TIME")]
    pub(crate) as_of: Option<Instant>,
    /// List every table with its columns and types
    #[arg(long, conflicts_with = "format")]
    pub(crate) tables: bool,
    /// Most memory the query's sorts, joins and aggregates may hold: 512MiB, 2GiB, 100MB or bytes
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub(crate) memory_limit: u64,
    /// Stop the query after this long: 60s, 500ms, 5m, or seconds; 0: no limit
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) timeout: std::time::Duration,
}

/// A size in bytes: a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB; case ignored).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("'{text}' is not a size: give one such as 512MiB"))?;
    let unit = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown unit '{other}': use B, KB, MB, GB, KiB, MiB or GiB")),
    };
    match number.checked_mul(unit) {
        Some(0) => Err("the size must be more than 0".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("'{text}' is too large")),
    }
}

/// A duration: a number with an optional unit (ms, s, m, h; seconds without one).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("'{text}' is not a duration: give one such as 30s"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit '{other}': use ms, s, m or h")),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is not a duration"))
}

#[derive(Subcommand, Debug)]
pub(crate) enum IdentityCmd {
    /// Create a new local identity (mode 0600); prints its public key
    New {
        /// Its name: letters, digits, '-' or '_'
        name: String,
    },
    /// Every local identity; the first is the default
    List,
}

#[derive(Subcommand, Debug)]
pub(crate) enum MarketCmd {
    // publish, update, withdraw, subscribe, unsubscribe, buy, book, confirm
    #[command(flatten)]
    Write(MarketWrites),
    /// Listings with their price, rating, subscribers and revenue
    List {
        /// Only this kind
        #[arg(long, value_enum)]
        kind: Option<ListingKind>,
        /// Include withdrawn listings
        #[arg(long)]
        all: bool,
    },
    /// A listing's versions, price, rating, reviews, subscribers, bookings and revenue
    Show {
        /// The listing: its name (when only one listing has it), id or id prefix
        listing: String,
    },
}

writes! {
    /// `market` subcommands that write.
    pub(crate) enum MarketWrites {
        /// Publish a listing; prints its id
        Publish(MarketPublish) => "listing published",
        /// Change a listing's version, price, tiers or license
        Update(MarketUpdate) => "listing updated",
        /// Take a listing off the market
        Withdraw(MarketWithdraw) => "listing withdrawn",
        /// Subscribe to a tier of a listing
        Subscribe(MarketSubscribe) => "subscribed",
        /// End your subscription to a listing
        Unsubscribe(MarketUnsubscribe) => "unsubscribed",
        /// Buy a listing at its one-off price
        Buy(MarketBuy) => "bought",
        /// Ask for a slot of a service; prints the booking id
        Book(MarketBook) => "booking requested",
        /// Confirm a booking of your service (overlapping confirmed slots are refused)
        Confirm(MarketConfirm) => "booking confirmed",
    }
}

writes! {
    /// `guild` subcommands.
    pub(crate) enum GuildCmd {
        /// Create a guild you own; prints its id
        Create(GuildCreate) => "guild created",
        /// Join a guild
        Join(GuildJoin) => "joined",
        /// Leave a guild
        Leave(GuildLeave) => "left",
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoardArg {
    /// Listings
    Listings,
    /// Creators
    Creators,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RepCmd {
    /// Attest how an author did on a task
    Attest(RepAttest),
    /// Vouch for an author
    Vouch(RepVouch),
    /// Withdraw your vouch
    Unvouch(RepUnvouch),
    /// Report a violation; prints the report id
    Report(RepReport),
    /// Give your verdict on a report
    Resolve(RepResolve),
    /// Score, tier, success rate, vouches and violations (formula rep/1)
    Show {
        /// The author
        subject: String,
        /// Compute as of this instant (default: now)
        #[arg(long, value_name = "TIME")]
        as_of: Option<Instant>,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCmd {
    // tool, approve, deny, done
    #[command(flatten)]
    Write(AuditWrites),
    /// A session's timeline: requests, decisions, approvals, results and cost
    Show {
        /// The session
        session: String,
    },
    /// Requests waiting for a person: decided ask, neither approved nor denied yet (oldest first)
    Pending,
}

writes! {
    /// `audit` subcommands that write.
    pub(crate) enum AuditWrites {
        /// Record a tool call and the policy's decision; prints the request id
        Tool(AuditTool) => "request recorded",
        /// Approve a request whose decision was ask
        Approve(AuditApprove) => "approved",
        /// Deny a request whose decision was ask
        Deny(AuditDeny) => "denied",
        /// Record how an allowed (or approved) call went
        Done(AuditDone) => "result recorded",
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum PersonaCmd {
    // create, traits, fork, retire
    #[command(flatten)]
    Write(PersonaWrites),
    /// Identity, stage, traits, commitment health, consent, model, memories, lineage
    Show {
        /// The persona
        persona: String,
        /// Show the persona as it stood at this instant: traits, commitments and memories from its
        /// owner's events up to then, memory strength computed for then (default: now)
        #[arg(long, value_name = "TIME")]
        as_of: Option<Instant>,
        /// Also list the closed and expired commitments
        #[arg(long)]
        all: bool,
    },
    /// Every persona in the store
    List,
    /// Erase every payload of a persona's private data: its memories, messages, reflections and
    /// emotions (the persona itself, its traits and commitments stay)
    Erase {
        /// The persona (one of yours)
        persona: String,
        /// Why (recorded in the signed erasure events; it is public)
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
    },
}

writes! {
    /// `persona` subcommands that write.
    pub(crate) enum PersonaWrites {
        /// Create a persona you own; prints its id
        Create(PersonaCreate) => "persona created",
        /// Nudge the Big Five traits (each delta at most 0.05 either way; values stay in [0, 1])
        Traits(PersonaTraits) => "traits changed",
        /// Fork any persona into a new one you own, starting from its traits; prints the new id
        Fork(PersonaFork) => "persona forked",
        /// Retire a persona: it accepts no more changes
        Retire(PersonaRetire) => "retired",
    }
}

writes! {
    /// `commitment` subcommands.
    pub(crate) enum CommitmentCmd {
        /// Open a commitment; prints its id
        Open(CommitmentOpen) => "commitment opened",
        /// Close an open commitment
        Close(CommitmentClose) => "commitment closed",
        /// Expire your open commitments that are past due (each expiry is an event)
        Sweep(CommitmentSweep) => "overdue commitments expired",
    }
}

writes! {
    /// `memory` subcommands that write.
    pub(crate) enum MemoryWrites {
        /// Remember something; prints the memory id
        Add(MemoryAdd) => "memory added",
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum MemoryCmd {
    // add
    #[command(flatten)]
    Write(MemoryWrites),
    /// Forget a memory (with --erase, also erase its text)
    Forget {
        #[command(flatten)]
        command: MemoryForget,
        /// Also erase the memory's text from the file, the views and every later export
        #[arg(long)]
        erase: bool,
    },
    /// A persona's memories, oldest first, with their strength
    List {
        /// The persona
        persona: String,
        /// Include forgotten memories
        #[arg(long)]
        all: bool,
        /// Only memories whose text or a tag contains this (ignoring case)
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Compute strength as of this instant (default: now)
        #[arg(long, value_name = "TIME")]
        as_of: Option<Instant>,
    },
}

writes! {
    /// `model` subcommands.
    pub(crate) enum ModelCmd {
        /// Switch a persona to a model (a model swap), recorded with the model's hash
        Use(ModelUse) => "model recorded",
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum ProjectionsCmd {
    /// Per view: checkpoint, lag, rows, digest, skipped and ignored events
    Status,
    /// Empty a view (or all) and fold it again from the first event
    Rebuild {
        /// The view (default: all)
        view: Option<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub(crate) struct GenArgs {
    /// How many events to write
    #[arg(long, default_value_t = 100_000)]
    pub(crate) events: u64,
    /// How many authors (feeds) to spread them over; keys are derived from the seed
    #[arg(long, default_value_t = 8)]
    pub(crate) authors: u32,
    /// The seed: the same seed on an empty home writes byte-identical events
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Most events per durable transaction (one also ends every 4,096 events of the store)
    #[arg(long, default_value_t = 4096)]
    pub(crate) batch: usize,
}

#[derive(Args, Debug)]
pub(crate) struct LogArgs {
    /// How many events to show at most (0 shows none)
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Only this author's events: a public key, a local identity name, or a unique prefix of a key
    #[arg(long, value_name = "AUTHOR")]
    pub(crate) author: Option<String>,
    /// Only events of this kind, e.g. memory.added/1 (memory.added: its one version)
    #[arg(long)]
    pub(crate) kind: Option<String>,
    /// Show the events after this offset, oldest first (default: the latest events)
    #[arg(long, value_name = "OFFSET", conflicts_with = "persona")]
    pub(crate) after: Option<u64>,
    /// A persona's timeline: its owner's events about it (its creation and every event naming
    /// it), oldest first, up to --limit
    #[arg(long, value_name = "PERSONA", conflicts_with_all = ["author", "kind"])]
    pub(crate) persona: Option<String>,
    /// With --persona: only events stamped at or after this instant
    #[arg(long, value_name = "TIME", requires = "persona")]
    pub(crate) since: Option<Instant>,
    /// With --persona: only events stamped at or before this instant
    #[arg(long, value_name = "TIME", requires = "persona")]
    pub(crate) until: Option<Instant>,
}

#[derive(Args, Debug)]
pub(crate) struct StatsArgs {
    /// Instead: the file's space table by table (entries, bytes stored, bytes of pages, how full
    /// they are, bytes per event) beside the signed records' own bytes
    #[arg(long)]
    pub(crate) space: bool,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Also fold every view again from offset 0 into a scratch store and compare it with the view
    #[arg(long)]
    pub(crate) views: bool,
    /// Check everything verify can check: the log, the derived tables and the views
    #[arg(long)]
    pub(crate) full: bool,
    /// Instead: check that this store's feed agrees with a signed checkpoint (the same root at
    /// its size, signed by the feed's author)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["views", "full"], value_parser = crate::served::path_arg)]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Instead: re-verify a Persistent Mind Model ledger (its pmm.db) — every hash and link,
    /// exactly as PMM computes them; nothing is written
    #[arg(long, value_name = "FILE", conflicts_with_all = ["views", "full", "checkpoint"], value_parser = crate::served::path_arg)]
    pub(crate) pmm: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["jsonl", "parquet"])))]
pub(crate) struct ExportArgs {
    /// Write JSON Lines (one object per event, in offset order)
    #[arg(long)]
    pub(crate) jsonl: bool,
    /// With --jsonl: write to this file instead of stdout
    #[arg(short = 'o', long, value_name = "FILE", requires = "jsonl", value_parser = crate::served::path_arg)]
    pub(crate) output: Option<PathBuf>,
    /// With --jsonl: include private payloads (by default they are written as withheld)
    #[arg(long, requires = "jsonl")]
    pub(crate) include_private: bool,
    /// With --jsonl: leave out records that fail their check (hash, payload) and count them,
    /// instead of stopping at the first (exit 1)
    #[arg(long, requires = "jsonl")]
    pub(crate) skip_bad: bool,
    /// Write events and every view as Parquet files (one per table) into DIR
    #[arg(long, value_name = "DIR", value_parser = crate::served::path_arg)]
    pub(crate) parquet: Option<PathBuf>,
    /// With --parquet: compute time-dependent columns as of this instant (default: now)
    #[arg(long, value_name = "TIME", requires = "parquet")]
    pub(crate) as_of: Option<Instant>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum WitnessCmd {
    /// Cosign another author's checkpoint (C2SP tlog-cosignature v1) once it is checked: signed by
    /// its author and extending the last one cosigned — by a consistency proof from that size
    /// (`prove --consistency`), or by this store's copy of the feed; a split view is refused
    Cosign {
        /// The checkpoint file (`mindlog sign`), or a consistency proof ending in one (`prove
        /// --consistency AUTHOR LAST NEW`)
        #[arg(value_parser = crate::served::path_arg)]
        checkpoint: PathBuf,
        /// Write the cosigned checkpoint to FILE instead of standard output
        #[arg(short = 'o', long, value_name = "FILE", value_parser = crate::served::path_arg)]
        output: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub(crate) struct EraseArgs {
    /// The events whose payloads to erase: hashes or unique hash prefixes
    #[arg(required = true, value_name = "EVENT")]
    pub(crate) events: Vec<String>,
    /// Why (recorded in the signed erasure event; it is public)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub(crate) reason: String,
    /// Erase in this store only, for events of any author, without a signed record
    #[arg(long, conflicts_with = "reason")]
    pub(crate) local: bool,
}

#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    /// The address to listen on; port 0 picks a free port. Beyond loopback only with --allow-remote
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// Allow --listen on an address other hosts can reach (the token still guards every route)
    #[arg(long)]
    pub(crate) allow_remote: bool,
    /// How the node logs on stderr
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// Replicate with other nodes over libp2p, listening on this multiaddr (repeatable), e.g.
    /// /ip4/0.0.0.0/tcp/4001; docs/replication.md
    #[arg(long, value_name = "MULTIADDR")]
    pub(crate) p2p: Vec<mindlog_replicator::Multiaddr>,
    /// A peer to connect to and keep connected to, with its /p2p/<peer id> (repeatable)
    #[arg(long, value_name = "MULTIADDR", requires = "p2p")]
    pub(crate) peer: Vec<mindlog_replicator::Multiaddr>,
    /// Find peers on the local network with mDNS (sends multicast)
    #[arg(long, requires = "p2p")]
    pub(crate) mdns: bool,
}

/// `mindlog replicate`.
#[derive(Args, Debug)]
pub(crate) struct ReplicateArgs {
    /// Replicate every feed any peer offers
    #[arg(long, conflicts_with = "followed")]
    pub(crate) all: bool,
    /// Replicate only your identities' feeds and those of the authors they follow (mindlog follow)
    #[arg(long)]
    pub(crate) followed: bool,
}

/// How the node logs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// One line per event, for people
    Text,
    /// One JSON object per line, with every field
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// A file written by `mindlog export --jsonl`, or - for stdin
    #[arg(value_parser = crate::served::path_arg, required_unless_present = "pmm", conflicts_with = "pmm")]
    pub(crate) file: Option<PathBuf>,
    /// Instead: a Persistent Mind Model ledger (its pmm.db): its chain verified, then every event
    /// not imported yet, as a private, signed pmm.<kind>/1 event of your feed
    #[arg(long, value_name = "FILE", value_parser = crate::served::path_arg)]
    pub(crate) pmm: Option<PathBuf>,
    /// With --pmm, the first time: the persona the PMM mind becomes (one of yours, or a new one;
    /// by default a new persona named as the mind named itself, or PMM). Later imports of the
    /// same ledger feed the same persona
    #[arg(long, value_name = "NAME", requires = "pmm")]
    pub(crate) persona: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BenchWhat {
    /// Everything below
    All,
    /// Batched durable appends (`gen`)
    Gen,
    /// Single-event durable appends, one after another, beside redb's own single-transaction rate
    Append,
    /// `verify` of the generated store
    Verify,
    /// `export --jsonl` of the generated store
    Export,
    /// `projections rebuild` of the generated store, and an incremental catch-up after it
    Rebuild,
    /// SQL over the generated store (not part of all): counts over the whole log, one hour, one
    /// author, and every example of docs/query.md, each beside DuckDB on the store's own
    /// `export --parquet` files (a Python with duckdb: $MINDLOG_BENCH_PYTHON, else python3)
    Query,
    /// The node over HTTP on loopback (not part of all): --appends commands from 1 client, then
    /// from 64 at once with 100 live subscribers; a catch-up of the --events store over one
    /// subscription; the idle node's memory
    Node,
    /// Checkpoints and proofs on one feed of --events events (not part of all): sign, prove of
    /// one event and check of its proof, in-process medians
    Tlog,
    /// Replication between node processes on loopback (not part of all): gossip latency over 3
    /// nodes (--appends / 4 events), a late joiner's catch-up of the --events store, 5 nodes
    /// converging after each wrote 10,000 events apart, idle memory with 4 peers
    P2p,
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// What to measure
    #[arg(value_enum, default_value_t = BenchWhat::All)]
    pub(crate) what: BenchWhat,
    /// Events in the generated store
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) events: u64,
    /// Authors in the generated store
    #[arg(long, default_value_t = 8)]
    pub(crate) authors: u32,
    /// Single-event appends to time
    #[arg(long, default_value_t = 2_000)]
    pub(crate) appends: u64,
    /// Runs of each measurement; the median is reported
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Scratch folder (default: a temporary folder, removed afterwards)
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// `query` only: measure this existing store (a mind.redb) instead of generating one; its
    /// views and segments are caught up first
    #[arg(long, value_name = "FILE")]
    pub(crate) store: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Events to generate
    #[arg(long, default_value_t = 200_000)]
    pub(crate) events: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command of `mindlog-commands` is a subcommand: `persona.create` is `mindlog persona
    /// create`, `reflect` is `mindlog reflect`.
    #[test]
    fn every_command_has_a_subcommand() {
        let cli = Cli::command();
        let missing: Vec<&str> = mindlog_commands::Command::NAMES
            .iter()
            .copied()
            .filter(|name| {
                let mut at = &cli;
                for word in name.split('.') {
                    match at.find_subcommand(word) {
                        Some(sub) => at = sub,
                        None => return true,
                    }
                }
                false
            })
            .collect();
        assert!(missing.is_empty(), "commands without a subcommand: {missing:?}");
    }
}
