//! mindlog's commands and events: typed commands, versioned event payloads, and the pure
//! decision `decide(state, author, now, command) -> events | rejection` between them.
//!
//! Each domain's module (`persona`, `market`, `social`, `reputation`, `audit`) holds its event
//! payloads with their state-free rules and its commands with their rules. With the feature
//! `cli`, the command structs and the enums they use are also `clap` arguments.
//!
//! ```
//! use mindlog_commands::{decide, Command, MemState, PersonaCreate};
//! use mindlog_ledger::PublicKey;
//!
//! let me = PublicKey([7; 32]);
//! let state = MemState::default();
//! let create: Command = PersonaCreate { name: "Echo".into(), description: "a curious research assistant".into() }.into();
//! let events = decide(&state, &me, 1_767_225_600_000_000, &create)?;
//! assert_eq!(events[0].kind(), "persona.created/1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs, missing_debug_implementations)]

mod audit;
mod catalog;
mod check;
mod command;
mod decide;
mod event;
mod market;
mod memstate;
mod persona;
mod pmm;
mod rejection;
mod reputation;
pub mod sim;
mod social;
mod time;
mod units;

// Each domain module's public items are its payloads, commands, enums and limits: all of them
// are the crate's API, so a new command or event needs no line here.
pub use crate::audit::*;
pub use crate::catalog::{Command, Event};
pub use crate::decide::{
    BookingInfo, CommitmentInfo, DecideError, GuildInfo, IdSpace, ListingInfo, MemoryInfo, PersonaInfo, ReportInfo,
    RequestInfo, State, StateError, decide, resolve_id, resolve_persona,
};
pub use crate::event::PayloadError;
pub use crate::market::*;
pub use crate::memstate::MemState;
pub use crate::persona::*;
pub use crate::pmm::*;
pub use crate::rejection::Rejection;
pub use crate::reputation::*;
pub use crate::social::*;
pub use crate::time::{Instant, ParseInstantError};
pub use crate::units::{DAY_MICROS, Micros, ParseUnitsError, Units};
