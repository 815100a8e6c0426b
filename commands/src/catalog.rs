//! The catalog: every command and every event kind, each declared once, side by side.
//!
//! A new command with a new event is one line in each list (its structs, with their rules, live
//! in their domain's module). `commands!` (in `command.rs`) derives the `Command` enum, its name
//! and the dispatch to each command's `Decide`; `events!` (in `event.rs`) derives the `Event`
//! enum, its kind, domain, postcard and JSON forms, references, and the dispatch to each
//! payload's `Check`. A command without a rule, or a kind without a check, does not compile.

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::audit::*;
use crate::check::Check;
use crate::command::commands;
use crate::decide::{Context, Decide, Decided};
use crate::event::{PayloadError, RefList, decode_exact, events};
use crate::market::*;
use crate::persona::*;
use crate::rejection::Rejection;
use crate::reputation::*;
use crate::social::*;

commands! {
    "persona.create" => PersonaCreate,
    "persona.traits" => PersonaTraits,
    "persona.fork" => PersonaFork,
    "persona.retire" => PersonaRetire,
    "commitment.open" => CommitmentOpen,
    "commitment.close" => CommitmentClose,
    "commitment.sweep" => CommitmentSweep,
    "memory.add" => MemoryAdd,
    "memory.forget" => MemoryForget,
    "reflect" => Reflect,
    "emotion" => Emotion,
    "consent" => Consent,
    "model.use" => ModelUse,
    "message" => Message,
    "market.publish" => MarketPublish,
    "market.update" => MarketUpdate,
    "market.withdraw" => MarketWithdraw,
    "market.subscribe" => MarketSubscribe,
    "market.unsubscribe" => MarketUnsubscribe,
    "market.buy" => MarketBuy,
    "market.book" => MarketBook,
    "market.confirm" => MarketConfirm,
    "review" => Review,
    "follow" => Follow,
    "unfollow" => Unfollow,
    "guild.create" => GuildCreate,
    "guild.join" => GuildJoin,
    "guild.leave" => GuildLeave,
    "award" => Award,
    "rep.attest" => RepAttest,
    "rep.vouch" => RepVouch,
    "rep.unvouch" => RepUnvouch,
    "rep.report" => RepReport,
    "rep.resolve" => RepResolve,
    "audit.tool" => AuditTool,
    "audit.approve" => AuditApprove,
    "audit.deny" => AuditDeny,
    "audit.done" => AuditDone,
}

events! {
    persona {
        "persona.created/1" => PersonaCreated(PersonaCreated) {},
        "persona.forked/1" => PersonaForked(PersonaForked) { parent },
        "persona.traits-changed/1" => TraitsChanged(TraitsChanged) { persona },
        "persona.retired/1" => PersonaRetired(PersonaRetired) { persona, successor },
        "commitment.opened/1" => CommitmentOpened(CommitmentOpened) { persona },
        "commitment.closed/1" => CommitmentClosed(CommitmentClosed) { persona, commitment },
        "commitment.expired/1" => CommitmentExpired(CommitmentExpired) { persona, commitment },
        "memory.added/1" => MemoryAdded(MemoryAdded) { persona },
        "memory.forgotten/1" => MemoryForgotten(MemoryForgotten) { persona, memory },
        "persona.reflected/1" => Reflected(Reflected) { persona },
        "persona.emotion-recorded/1" => EmotionRecorded(EmotionRecorded) { persona },
        "persona.consent-set/1" => ConsentSet(ConsentSet) { persona },
        "persona.model-used/1" => ModelUsed(ModelUsed) { persona },
        "persona.message/1" => MessageRecorded(MessageRecorded) { persona },
    }
    market {
        "market.listing-published/1" => ListingPublished(ListingPublished) {},
        "market.listing-updated/1" => ListingUpdated(ListingUpdated) { listing },
        "market.listing-withdrawn/1" => ListingWithdrawn(ListingWithdrawn) { listing },
        "market.subscribed/1" => Subscribed(Subscribed) { listing },
        "market.unsubscribed/1" => Unsubscribed(Unsubscribed) { listing },
        "market.purchased/1" => Purchased(Purchased) { listing },
        "market.booking-requested/1" => BookingRequested(BookingRequested) { listing },
        "market.booking-confirmed/1" => BookingConfirmed(BookingConfirmed) { listing, booking },
        "market.reviewed/1" => Reviewed(Reviewed) { listing },
    }
    social {
        "social.followed/1" => Followed(Followed) {},
        "social.unfollowed/1" => Unfollowed(Unfollowed) {},
        "guild.created/1" => GuildCreated(GuildCreated) {},
        "guild.joined/1" => GuildJoined(GuildJoined) { guild },
        "guild.left/1" => GuildLeft(GuildLeft) { guild },
        "guild.awarded/1" => Awarded(Awarded) { guild },
    }
    reputation {
        "rep.attested/1" => Attested(Attested) {},
        "rep.vouched/1" => Vouched(Vouched) {},
        "rep.unvouched/1" => Unvouched(Unvouched) {},
        "rep.reported/1" => Reported(Reported) { evidence },
        "rep.resolved/1" => Resolved(Resolved) { report },
    }
    audit {
        "audit.tool-requested/1" => ToolRequested(ToolRequested) {},
        "audit.approved/1" => Approved(RequestAnswered) { request },
        "audit.denied/1" => Denied(RequestAnswered) { request },
        "audit.completed/1" => ToolCompleted(ToolCompleted) { request },
    }
}
