//! mindlog's commands and events: typed commands, versioned event payloads, and the pure
//! decision `decide(state, author, now, command) -> events | rejection` between them.
//!
//! ```
//! use mindlog_commands::{decide, Command, Event, MemState};
//! use mindlog_ledger::PublicKey;
//!
//! let me = PublicKey([7; 32]);
//! let state = MemState::default();
//! let create = Command::PersonaCreate { name: "Echo".into(), description: "a curious research assistant".into() };
//! let events = decide(&state, &me, 1_767_225_600_000_000, &create)?;
//! assert_eq!(events[0].kind(), "persona.created/1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audit;
mod command;
mod decide;
mod decide_more;
mod event;
mod market;
mod memstate;
mod persona;
mod reputation;
pub mod sim;
mod social;
mod time;
mod units;

pub use crate::audit::{Decision, RequestAnswered, ToolCompleted, ToolRequested};
pub use crate::command::Command;
pub use crate::decide::{
    BookingInfo, CommitmentInfo, DecideError, GuildInfo, IdSpace, ListingInfo, MAX_TRAIT_DELTA, MemoryInfo,
    PersonaInfo, Rejection, ReportInfo, RequestInfo, State, StateError, decide, resolve_id, resolve_persona,
};
pub use crate::decide_more::MAX_PRICE;
pub use crate::event::{Event, PayloadError};
pub use crate::market::{
    BookingConfirmed, BookingRequested, ListingKind, ListingPublished, ListingUpdated, ListingWithdrawn,
    ParseTierError, Period, Purchased, Reviewed, Subscribed, Tier, Unsubscribed,
};
pub use crate::memstate::MemState;
pub use crate::persona::{
    CommitmentClosed, CommitmentExpired, CommitmentOpened, ConsentSet, EmotionRecorded, MemoryAdded, MemoryForgotten,
    MessageRecorded, ModelUsed, Outcome, PersonaCreated, PersonaForked, PersonaRetired, Reflected, Role, Traits,
    TraitsChanged,
};
pub use crate::reputation::{Attested, Reported, Resolved, TaskOutcome, Unvouched, Vouched};
pub use crate::social::{Awarded, Followed, GuildCreated, GuildJoined, GuildLeft, Target, Unfollowed};
pub use crate::time::{Instant, ParseInstantError};
pub use crate::units::{DAY_MICROS, Micros, ParseUnitsError, Units};
