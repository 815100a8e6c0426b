//! Why a command refused what it was given, having written nothing: an unknown or ambiguous name,
//! a kind without its version, an instant before the thing existed, a bad line of an import. A
//! refusal is an outcome (exit 1, one line on stderr), returned as [`crate::Outcome::Refused`]; it
//! never travels as an error. (A write command refused by its rule is `Outcome::Rejected`.)

use mindlog_commands::{DecideError, Instant, Rejection};

/// A read command's refusal, with what it was given, so `main` prints one line that says what to
/// do and exits 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// A persona, listing or other reference that the commands' own resolvers refuse (unknown,
    /// ambiguous): the same rule and message as a write command that names it.
    #[error(transparent)]
    Reference(#[from] Rejection),
    /// `log --author`, `rep show`: `text` is no public key, no local identity name, and no prefix
    /// of an author's key in this store.
    #[error(
        "unknown author {text:?}: give a public key, a local identity name (mindlog identity list) or a prefix of \
         an author's key (mindlog stats --json lists them)"
    )]
    UnknownAuthor {
        /// What was given.
        text: String,
    },
    /// An author key prefix that starts the key of `count` (two or more) authors of this store.
    #[error("author prefix {prefix:?} is ambiguous: it starts {count} authors' keys; give more characters")]
    AmbiguousAuthor {
        /// The prefix given.
        prefix: String,
        /// How many authors' keys it starts.
        count: usize,
    },
    /// `log --kind`: `text` is no kind this build knows or this store holds, and names no kind
    /// that has exactly one version.
    #[error("unknown kind {text:?}: kinds carry a version, as in memory.added/1; {}", kind_hint(close))]
    UnknownKind {
        /// What was given.
        text: String,
        /// Known kinds that look like it, for the hint (empty: none does).
        close: Vec<String>,
    },
    /// `audit show`: no tool request of this store names the session.
    #[error(
        "no audit session {session:?}: sessions are named by `mindlog audit tool SESSION`; mindlog query \"SELECT \
         DISTINCT session FROM audit_requests\" lists them"
    )]
    UnknownSession {
        /// What was given.
        session: String,
    },
    /// `import`: a line of the file is bad (the file is imported all or nothing, so nothing was).
    #[error("line {line}: {problem}; nothing was imported")]
    BadImportLine {
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong with it.
        problem: mindlog_ledger::LineProblem,
    },
    /// `erase`: not a hash or a hash prefix of 4 or more lowercase hex characters.
    #[error(
        "{text:?} is not an event hash: give a hash or a prefix of at least 4 lowercase hex characters (mindlog log)"
    )]
    NotAnEventHash {
        /// What was given.
        text: String,
    },
    /// `erase`: no event's hash starts with `text`.
    #[error("no event {text:?} in this store (mindlog log lists events with their hashes)")]
    UnknownEvent {
        /// What was given.
        text: String,
    },
    /// `erase`: a prefix that starts the hashes of `count` events.
    #[error("event prefix {prefix:?} is ambiguous: it starts {count} events' hashes; give more characters")]
    AmbiguousEvent {
        /// The prefix given.
        prefix: String,
        /// How many hashes it starts.
        count: usize,
    },
    /// `erase`: this payload cannot be erased (format 1, erased already, another author's).
    #[error("cannot erase the payload of {}: {problem}", event.map_or(format!("offset {offset}"), |h| h.to_string()))]
    CannotErase {
        /// The event's hash, when it exists.
        event: Option<mindlog_ledger::Hash>,
        /// Its offset.
        offset: u64,
        /// Why not.
        problem: mindlog_ledger::EraseProblem,
    },
    /// `witness cosign`: the checkpoint is not one of a feed, is not signed by its author, does
    /// not agree with the feed this store holds, or goes back.
    #[error("not cosigned: {problem}")]
    CheckpointDoesNotHold {
        /// Why.
        problem: String,
    },
    /// `prove`, `checkpoint`: no checkpoint published in the feed (covering `seq`) checks here.
    #[error(
        "no checkpoint of {author}'s feed{} is published in this store: its author publishes one with mindlog sign, \
         and it travels with the feed (replication, import)",
        seq.map(|s| format!(" covering seq {s}")).unwrap_or_default()
    )]
    NoCheckpoint {
        /// The feed's author.
        author: mindlog_ledger::PublicKey,
        /// The seq it must cover, if any.
        seq: Option<u64>,
    },
    /// `prove --consistency`: no checkpoint published in the feed at the newer size.
    #[error(
        "no checkpoint of {author}'s feed at size {size} is published in this store; {}",
        if published.is_empty() { "none is (its author publishes one with mindlog sign)".to_owned() }
        else { format!("it has published sizes {}", published.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")) }
    )]
    NoCheckpointAt {
        /// The feed's author.
        author: mindlog_ledger::PublicKey,
        /// The size asked for.
        size: u64,
        /// The sizes of the checkpoints published in the feed, ascending.
        published: Vec<u64>,
    },
    /// `prove --consistency`: sizes that make no consistency proof.
    #[error("no consistency proof from size {old} to {new}: OLD must be at most NEW")]
    BadSizes {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// `persona erase`: only a persona's owner signs the erasure of its data.
    #[error("persona {name:?} is not yours: only its owner can erase its data (erase --local erases it here)")]
    NotYourPersona {
        /// The persona's name.
        name: String,
    },
    /// `--as NAME`, `identity new NAME`: not 1 to 32 letters, digits, '-' or '_'
    /// ([`crate::home::identity_name`]).
    #[error("{name:?} cannot name an identity: use 1 to 32 letters, digits, '-' or '_' (mindlog identity list)")]
    BadIdentityName {
        /// What was given.
        name: String,
    },
    /// `identity new default`: that name is the first identity's, kept in identity.key.
    #[error("\"default\" is the first identity's name (identity.key): choose another name")]
    DefaultIdentityName,
    /// `peers` on a node that was started without `--p2p`.
    #[error("this node does not replicate: restart it with --p2p MULTIADDR (e.g. /ip4/0.0.0.0/tcp/4001)")]
    NotReplicating,
    /// `persona show --as-of`, `memory list --as-of`: an instant before the persona was created.
    #[error("persona {name:?} did not exist yet: it was created at {created}; give a later --as-of")]
    NotYetCreated {
        /// The persona's name.
        name: String,
        /// When it was created.
        created: Instant,
    },
}

fn kind_hint(close: &[String]) -> String {
    if close.is_empty() {
        "mindlog stats lists the kinds this store holds".to_owned()
    } else {
        format!("did you mean {}?", close.join(", "))
    }
}

/// A resolver's answer, for a command that only reads: the value, or the rejection of the
/// reference as the command's refusal; a failure to read the views stays an error (exit 2).
pub(crate) fn resolved<T>(result: Result<T, DecideError>) -> anyhow::Result<Result<T, Refusal>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(DecideError::Rejected(rejection)) => Ok(Err(Refusal::Reference(rejection))),
        Err(DecideError::State(e)) => Err(anyhow::Error::from_boxed(e).context("reading the views")),
    }
}

/// The value of a `Result<T, Refusal>`, or a return from the command (whose result is
/// `anyhow::Result<Outcome>`) with the refusal as its outcome.
macro_rules! or_refuse {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(refusal) => return Ok($crate::Outcome::Refused(refusal)),
        }
    };
}
