//! `Rejection`: why a command was refused, or why an event breaks its kind's rules. One variant
//! per reason, with its data; one line each.

use mindlog_ledger::{Hash, PublicKey};

use crate::audit::Decision;
use crate::market::ListingKind;
use crate::time::Instant;
use crate::units::Units;

/// Why a command was refused (nothing is appended), or why an event breaks the rules of its
/// kind (a view ignores it). Every message is one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    // References.
    /// No persona by that name (among the author's) or id.
    #[error("unknown persona {0:?}: give one of your persona names, or an id or id prefix (mindlog persona list)")]
    UnknownPersona(String),
    /// An id prefix (or a guild name) that matches several.
    #[error("{what} {reference:?} is ambiguous: it matches {count} ids; give more characters")]
    Ambiguous {
        /// persona, commitment, memory, listing, booking, guild, guild name, report or request.
        what: &'static str,
        /// What was given.
        reference: String,
        /// How many it matches (up to 64).
        count: usize,
    },
    /// No commitment of this persona has that id or prefix.
    #[error("unknown commitment {0:?} for this persona (mindlog persona show lists them)")]
    UnknownCommitment(String),
    /// No memory of this persona, not forgotten, has that id or prefix.
    #[error("unknown memory {0:?} for this persona")]
    UnknownMemory(String),
    /// No listing, booking, guild, report or request has that id, prefix or name.
    #[error("unknown {what} {reference:?}")]
    Unknown {
        /// listing, booking, guild, report or request.
        what: &'static str,
        /// What was given.
        reference: String,
    },
    /// Text where a public key was expected.
    #[error("{what} {value:?} is not a public key (64 lowercase hex characters; mindlog identity list shows yours)")]
    NotAKey {
        /// member or subject.
        what: &'static str,
        /// What was given.
        value: String,
    },
    /// Text where an event hash was expected.
    #[error("{what} {value:?} is not an event hash (64 lowercase hex characters)")]
    NotAHash {
        /// evidence.
        what: &'static str,
        /// What was given.
        value: String,
    },

    // Ownership and lifecycle.
    /// The author already has a persona with that name.
    #[error("you already have a persona named {0:?}")]
    NameTaken(String),
    /// Only the owner's events change a persona.
    #[error("persona {name:?} belongs to {owner}; only its owner can change it")]
    NotOwner {
        /// The persona's name.
        name: String,
        /// Its owner.
        owner: PublicKey,
    },
    /// A retired persona accepts no changes.
    #[error("persona {0:?} is retired; it accepts no more changes")]
    Retired(String),
    /// Only the owner of a listing, guild or request may do this.
    #[error("{what} {name:?} is not yours; only its owner can {action}")]
    NotYours {
        /// listing, guild or request.
        what: &'static str,
        /// Its name (a request's id).
        name: String,
        /// What was attempted.
        action: &'static str,
    },
    /// Acting on oneself where that is not allowed.
    #[error("you cannot {0} yourself")]
    SelfReference(&'static str),

    // Persona rules.
    /// A trait delta above 0.05 in absolute value.
    #[error("{name} delta {delta} is too large: at most 0.05 either way per event")]
    TraitDeltaTooLarge {
        /// The trait.
        name: &'static str,
        /// The delta given.
        delta: Units,
    },
    /// A trait would leave (or, in a fork, is outside) [0, 1].
    #[error("{name} would become {value}, outside [0, 1]")]
    TraitOutOfRange {
        /// The trait.
        name: &'static str,
        /// The value it would take.
        value: Units,
    },
    /// No trait delta given, or every one is 0.
    #[error(
        "no trait change given: pass at least one of --openness, --conscientiousness, --extraversion, --agreeableness, --neuroticism"
    )]
    NoTraitChange,
    /// A successor that is the retiring persona itself.
    #[error("successor cannot be the persona itself")]
    SuccessorIsItself,
    /// Closing a commitment that is not open.
    #[error("commitment {id} is {status}, not open")]
    CommitmentNotOpen {
        /// The commitment.
        id: Hash,
        /// Its status: closed or expired.
        status: &'static str,
    },
    /// A due time that has already passed.
    #[error("the due time {0} is already past")]
    DueInPast(Instant),
    /// More tags than a memory may have.
    #[error("tags are too many ({count}; at most {max})")]
    TooManyTags {
        /// How many were given.
        count: usize,
        /// At most this many.
        max: usize,
    },
    /// A model hash that is not `algorithm:digest`.
    #[error("model hash {0:?} should look like algorithm:digest, e.g. sha256:9f86d0…")]
    BadModelHash(String),

    // Marketplace rules.
    /// The listing was withdrawn.
    #[error("listing {0:?} was withdrawn")]
    ListingWithdrawn(String),
    /// A tier the listing does not have.
    #[error("listing {listing:?} has no tier {tier:?}; its tiers: {available}")]
    UnknownTier {
        /// The listing.
        listing: String,
        /// The tier asked for.
        tier: String,
        /// The tiers it has, as `name:amount:period, …`, or why there are none.
        available: String,
    },
    /// A version that is not like 1.0.0.
    #[error("version {0:?} should look like 1.0.0")]
    BadVersion(String),
    /// A currency that is not three capital letters.
    #[error("currency {0:?} is not an ISO 4217 code like EUR")]
    BadCurrency(String),
    /// Two tiers with one name.
    #[error("tier name {0:?} is given twice; tier names are unique within a listing")]
    TierNameTwice(String),
    /// An update that changes nothing.
    #[error("nothing to update: pass --version, --price, --tier or --license")]
    NothingToUpdate,
    /// Subscribing twice.
    #[error("you already subscribe to listing {listing:?}")]
    AlreadySubscribed {
        /// The listing's name.
        listing: String,
    },
    /// Unsubscribing without a subscription.
    #[error("you do not subscribe to listing {listing:?}")]
    NotSubscribed {
        /// The listing's name.
        listing: String,
    },
    /// Buying a listing sold only by subscription.
    #[error("listing {listing:?} has no one-off price; subscribe to a tier instead")]
    NoOneOffPrice {
        /// The listing's name.
        listing: String,
    },
    /// Booking a listing that is not a service.
    #[error("listing {listing:?} is a {}, not a service: only services are booked", kind.as_str())]
    NotAService {
        /// The listing's name.
        listing: String,
        /// What it is.
        kind: ListingKind,
    },
    /// A slot that ends when or before it starts.
    #[error("the booking ends ({end}) before it starts ({start})")]
    EndsBeforeStart {
        /// Its start.
        start: Instant,
        /// Its end.
        end: Instant,
    },
    /// A slot that starts before now.
    #[error("the booking starts in the past ({0})")]
    StartsInPast(Instant),
    /// Confirming a booking twice.
    #[error("booking {0} is already confirmed")]
    AlreadyConfirmed(Hash),
    /// A confirmed slot overlaps this one.
    #[error("the slot {start}–{end} overlaps the confirmed booking {other}")]
    SlotOverlaps {
        /// This booking's start.
        start: Instant,
        /// Its end.
        end: Instant,
        /// The confirmed booking it overlaps.
        other: Hash,
    },
    /// Reviewing one's own listing.
    #[error("you cannot review your own listing {listing:?}")]
    OwnListing {
        /// The listing's name.
        listing: String,
    },

    // Community rules.
    /// Following twice.
    #[error("you already follow {target}")]
    AlreadyFollowing {
        /// The target as given.
        target: String,
    },
    /// Unfollowing what one does not follow.
    #[error("you do not follow {target}")]
    NotFollowing {
        /// The target as given.
        target: String,
    },
    /// An owner using a guild name twice.
    #[error("you already have a guild named {0:?}")]
    GuildNameTaken(String),
    /// Joining a guild twice.
    #[error("you are already a member of guild {guild:?}")]
    AlreadyMember {
        /// The guild's name.
        guild: String,
    },
    /// Leaving a guild one owns.
    #[error("you own guild {guild:?}; an owner cannot leave it")]
    OwnerCannotLeave {
        /// The guild's name.
        guild: String,
    },
    /// Leaving a guild one is not in.
    #[error("you are not a member of guild {guild:?}")]
    NotMember {
        /// The guild's name.
        guild: String,
    },
    /// Awarding someone who is not in the guild.
    #[error("{member} is not a member of guild {guild:?}")]
    NotInGuild {
        /// The member as given.
        member: String,
        /// The guild's name.
        guild: String,
    },
    /// Awarding someone who is in none of the author's guilds.
    #[error("{member} is not a member of any guild you own")]
    NotInYourGuilds {
        /// The member as given.
        member: String,
    },
    /// Awarding, without naming the guild, someone who is in several of the author's guilds.
    #[error("{member} belongs to {count} of your guilds: pass --guild")]
    InSeveralGuilds {
        /// The member as given.
        member: String,
        /// In how many.
        count: usize,
    },

    // Reputation rules.
    /// Vouching twice.
    #[error("you already vouch for {0}")]
    AlreadyVouching(PublicKey),
    /// Withdrawing a vouch one did not give.
    #[error("you do not vouch for {0}")]
    NotVouching(PublicKey),
    /// Resolving a report one made, or one about oneself.
    #[error("you cannot resolve a report you made or one about you")]
    OwnReport,

    // Audit rules.
    /// Answering a request the policy did not send for approval.
    #[error(
        "request {request} was decided {:?} by the policy; only ask requests are approved or denied",
        decision.as_str()
    )]
    NotAnAskRequest {
        /// The request.
        request: Hash,
        /// The policy's decision.
        decision: Decision,
    },
    /// Answering a request twice.
    #[error("request {request} was already {}", if *approved { "approved" } else { "denied" })]
    AlreadyAnswered {
        /// The request.
        request: Hash,
        /// Its answer: approved (true) or denied (false).
        approved: bool,
    },
    /// Recording the result of a call that may not run.
    #[error("request {0} was not allowed to run (denied, or still waiting for approval)")]
    NotAllowedToRun(Hash),
    /// Recording a second result.
    #[error("request {0} already has a result")]
    AlreadyCompleted(Hash),

    // Values (docs/commands.md §3).
    /// A number outside its range.
    #[error("{what} {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// importance, valence or arousal.
        what: &'static str,
        /// The value given.
        value: Units,
        /// Lowest allowed.
        min: Units,
        /// Highest allowed.
        max: Units,
    },
    /// A whole number outside its range.
    #[error("{what} {value} is outside [{min}, {max}]")]
    NumberOutOfRange {
        /// price, tier price, amount, rating or weight.
        what: &'static str,
        /// The value given.
        value: u64,
        /// Lowest allowed.
        min: u64,
        /// Highest allowed.
        max: u64,
    },
    /// A text that must not be empty.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// A text with too many characters.
    #[error("{what} is {chars} characters long; at most {max}")]
    TooLong {
        /// Which text.
        what: &'static str,
        /// Its length in characters.
        chars: usize,
        /// At most this many.
        max: usize,
    },
    /// A text with control characters other than tab and newline.
    #[error("{0} contains control characters")]
    ControlCharacters(&'static str),
    /// A name with a tab or a newline.
    #[error("name {0:?} contains a control character")]
    ControlCharacterInName(String),
    /// A name with white space at either end.
    #[error("name {0:?} starts or ends with white space")]
    WhiteSpaceAroundName(String),
    /// Text that is not a word.
    #[error("{what} {value:?} must be 1 to {max} letters, digits, '-', '_', '.' or ':'")]
    NotAWord {
        /// Which word.
        what: &'static str,
        /// What was given.
        value: String,
        /// At most this many characters.
        max: usize,
    },
    /// An event payload above the format's limit.
    #[error("event would be {size} bytes; at most {max} are allowed (shorten the text)")]
    EventTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
}
