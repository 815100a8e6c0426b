//! The marketplace: listings (plugins, services, APIs, mod packs, themes), subscriptions,
//! purchases, bookings and reviews — the event payloads with their state-free rules (`Check`),
//! and the commands with their rules (`Decide`).
//!
//! Money is in minor units (cents) with an ISO 4217 code. Events that move money carry the
//! amount decided at the time, so every node folds the same revenue whatever order the listing
//! and its buyers' events arrive in.

use std::fmt;
use std::str::FromStr;

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::catalog::Event;
use crate::check::{self, Check};
use crate::decide::{Context, Decide, DecideError, Decided, IdSpace, ListingInfo, one, unique_id};
use crate::rejection::Rejection;
use crate::time::Instant;
use crate::units::Micros;

/// The highest price, in minor units: 100,000,000 (a million in major units).
pub const MAX_PRICE: u64 = 100_000_000;

/// What is on offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ListingKind {
    /// A plugin.
    Plugin,
    /// A service (booked by the slot, or subscribed to).
    Service,
    /// An API.
    Api,
    /// A mod pack.
    Modpack,
    /// A theme.
    Theme,
}

impl ListingKind {
    /// Every kind, in order.
    pub const ALL: [ListingKind; 5] =
        [ListingKind::Plugin, ListingKind::Service, ListingKind::Api, ListingKind::Modpack, ListingKind::Theme];

    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ListingKind::Plugin => "plugin",
            ListingKind::Service => "service",
            ListingKind::Api => "api",
            ListingKind::Modpack => "modpack",
            ListingKind::Theme => "theme",
        }
    }
}

/// How often a tier is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Daily.
    Day,
    /// Weekly.
    Week,
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

impl Period {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }
}

/// A subscription tier: `basic:900:month` is 9.00 a month in the listing's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Its name, unique within the listing.
    pub name: String,
    /// Price per period, in minor units.
    pub amount: u64,
    /// The period.
    pub period: Period,
}

/// A tier that is not `name:amount:period`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a tier: write name:amount:period, e.g. basic:900:month (amount in cents; period day, week, month or year)"
)]
pub struct ParseTierError(String);

impl FromStr for Tier {
    type Err = ParseTierError;
    fn from_str(text: &str) -> Result<Tier, ParseTierError> {
        let err = || ParseTierError(text.to_owned());
        let mut parts = text.split(':');
        let (Some(name), Some(amount), Some(period), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        let period = match period {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "year" => Period::Year,
            _ => return Err(err()),
        };
        Ok(Tier { name: name.to_owned(), amount: amount.parse().map_err(|_| err())?, period })
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.name, self.amount, self.period.as_str())
    }
}

/// `market.listing-published/1`: a new listing owned by the author. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingPublished {
    /// What it is. Its JSON member is `listing_kind`: `kind` names the event kind in the JSON
    /// form of every event.
    #[serde(rename = "listing_kind")]
    pub kind: ListingKind,
    /// Its name.
    pub name: String,
    /// Its first version.
    pub version: String,
    /// A one-off price in minor units, if it is sold.
    pub price: Option<u64>,
    /// Subscription tiers, if any.
    pub tiers: Vec<Tier>,
    /// ISO 4217 currency of the price and tiers.
    pub currency: String,
    /// Its license.
    pub license: Option<String>,
}

/// `market.listing-updated/1`: a new version, price, tiers or license; absent fields stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingUpdated {
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
    /// A new version.
    pub version: Option<String>,
    /// A new one-off price.
    pub price: Option<u64>,
    /// New tiers (replacing the old ones).
    pub tiers: Option<Vec<Tier>>,
    /// A new license.
    pub license: Option<String>,
}

/// `market.listing-withdrawn/1`: off the market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingWithdrawn {
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
}

/// `market.subscribed/1`: the author subscribes to a tier, at the tier's price when decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
    /// The tier.
    pub tier: String,
    /// Its price per period, in minor units.
    pub amount: u64,
    /// Its currency.
    pub currency: String,
    /// Its period.
    pub period: Period,
}

/// `market.unsubscribed/1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribed {
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
}

/// `market.purchased/1`: the author buys a listing at its one-off price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchased {
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
    /// The price paid, in minor units.
    pub amount: u64,
    /// Its currency.
    pub currency: String,
}

/// `market.booking-requested/1`: the author asks for a slot of a service. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRequested {
    /// The service.
    pub listing: Hash,
    /// Start of the slot.
    #[serde(with = "crate::time::micros_as_instant")]
    pub start: Micros,
    /// End of the slot (after the start).
    #[serde(with = "crate::time::micros_as_instant")]
    pub end: Micros,
}

/// `market.booking-confirmed/1`: the listing's owner confirms a booking. It carries the slot, so
/// the owner's confirmations alone decide which slots are taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingConfirmed {
    /// The service.
    pub listing: Hash,
    /// The booking.
    pub booking: Hash,
    /// Start of the slot.
    #[serde(with = "crate::time::micros_as_instant")]
    pub start: Micros,
    /// End of the slot.
    #[serde(with = "crate::time::micros_as_instant")]
    pub end: Micros,
}

/// `market.reviewed/1`: the author's review of a listing; a later one by the same author supersedes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewed {
    /// The listing: the hash of its `market.listing-published/1`.
    pub listing: Hash,
    /// 1 to 5.
    pub rating: u8,
    /// What the reviewer says, free text (may be empty).
    pub text: String,
}

// State-free rules of the payloads.

impl Check for ListingPublished {
    fn check(&self) -> Result<(), Rejection> {
        check::text("listing name", &self.name, 1, 100)?;
        check::version(&self.version)?;
        check::currency(&self.currency)?;
        self.price.map_or(Ok(()), |p| check::money("price", p))?;
        check::tiers(&self.tiers)?;
        check::optional_word("license", self.license.as_deref(), 64)
    }
}

impl Check for ListingUpdated {
    fn check(&self) -> Result<(), Rejection> {
        if self.version.is_none() && self.price.is_none() && self.tiers.is_none() && self.license.is_none() {
            return Err(Rejection::NothingToUpdate);
        }
        self.version.as_deref().map_or(Ok(()), check::version)?;
        self.price.map_or(Ok(()), |p| check::money("price", p))?;
        self.tiers.as_deref().map_or(Ok(()), check::tiers)?;
        check::optional_word("license", self.license.as_deref(), 64)
    }
}

impl Check for ListingWithdrawn {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Subscribed {
    fn check(&self) -> Result<(), Rejection> {
        check::word("tier name", &self.tier, 32)?;
        check::money("amount", self.amount)?;
        check::currency(&self.currency)
    }
}

impl Check for Unsubscribed {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Purchased {
    fn check(&self) -> Result<(), Rejection> {
        check::money("amount", self.amount)?;
        check::currency(&self.currency)
    }
}

/// A slot ends after it starts.
fn slot(start: Micros, end: Micros) -> Result<(), Rejection> {
    if end <= start {
        return Err(Rejection::EndsBeforeStart { start: Instant(start), end: Instant(end) });
    }
    Ok(())
}

impl Check for BookingRequested {
    fn check(&self) -> Result<(), Rejection> {
        slot(self.start, self.end)
    }
}

impl Check for BookingConfirmed {
    fn check(&self) -> Result<(), Rejection> {
        slot(self.start, self.end)
    }
}

impl Check for Reviewed {
    fn check(&self) -> Result<(), Rejection> {
        check::number("rating", u64::from(self.rating), 1, 5)?;
        check::text("review", &self.text, 0, 5000)
    }
}

// The commands and their rules. A listing or booking reference is an id or id prefix
// (docs/commands.md §2); a withdrawn listing refuses everything but unsubscribe.

fn default_currency() -> String {
    "EUR".into()
}

/// `market.publish`: publish a listing owned by the author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketPublish {
    /// What it is
    #[cfg_attr(feature = "cli", arg(value_enum))]
    pub kind: ListingKind,
    /// Its name
    pub name: String,
    /// Its version
    #[cfg_attr(feature = "cli", arg(long, default_value = "1.0.0"))]
    pub version: String,
    /// A one-off price, in cents
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub price: Option<u64>,
    /// ISO 4217 currency of the price and tiers
    #[serde(default = "default_currency")]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = default_currency()))]
    pub currency: String,
    /// A subscription tier name:amount:period, amount in cents (repeat for several)
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long = "tier", value_name = "NAME:CENTS:PERIOD"))]
    pub tiers: Vec<Tier>,
    /// Its license
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub license: Option<String>,
}

impl Decide for MarketPublish {
    fn decide(&self, _cx: &Context<'_>) -> Decided {
        one(Event::ListingPublished(ListingPublished {
            kind: self.kind,
            name: self.name.clone(),
            version: self.version.clone(),
            price: self.price,
            tiers: self.tiers.clone(),
            currency: self.currency.clone(),
            license: self.license.clone(),
        }))
    }
}

/// `market.update`: change a listing's version, price, tiers or license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketUpdate {
    /// The listing (id or id prefix)
    pub listing: String,
    /// A new version
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub version: Option<String>,
    /// A new one-off price, in cents
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub price: Option<u64>,
    /// New tiers, replacing the old (repeat for several)
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long = "tier", value_name = "NAME:CENTS:PERIOD"))]
    pub tiers: Option<Vec<Tier>>,
    /// A new license
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long))]
    pub license: Option<String>,
}

impl Decide for MarketUpdate {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.own_listing(&self.listing, "update it")?;
        one(Event::ListingUpdated(ListingUpdated {
            listing: l.id,
            version: self.version.clone(),
            price: self.price,
            tiers: self.tiers.clone(),
            license: self.license.clone(),
        }))
    }
}

/// `market.withdraw`: take a listing off the market, for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketWithdraw {
    /// The listing: its id or id prefix
    pub listing: String,
}

impl Decide for MarketWithdraw {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.own_listing(&self.listing, "withdraw it")?;
        one(Event::ListingWithdrawn(ListingWithdrawn { listing: l.id }))
    }
}

/// `market.subscribe`: subscribe to a tier of a listing, at the tier's price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketSubscribe {
    /// The listing: its id or id prefix
    pub listing: String,
    /// The tier
    #[cfg_attr(feature = "cli", arg(long))]
    pub tier: String,
}

impl Decide for MarketSubscribe {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.live_listing(&self.listing)?;
        let Some(t) = l.tiers.iter().find(|t| t.name == self.tier) else {
            let available = if l.tiers.is_empty() {
                "none (it is not sold by subscription)".to_owned()
            } else {
                l.tiers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            };
            return Err(Rejection::UnknownTier { listing: l.name, tier: self.tier.clone(), available }.into());
        };
        if cx.state.subscribed(&l.id, cx.author)? {
            return Err(Rejection::AlreadySubscribed { listing: l.name }.into());
        }
        one(Event::Subscribed(Subscribed {
            listing: l.id,
            tier: t.name.clone(),
            amount: t.amount,
            currency: l.currency.clone(),
            period: t.period,
        }))
    }
}

/// `market.unsubscribe`: end the author's subscription to a listing (withdrawn or not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketUnsubscribe {
    /// The listing: its id or id prefix
    pub listing: String,
}

impl Decide for MarketUnsubscribe {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.known_listing(&self.listing)?;
        if !cx.state.subscribed(&l.id, cx.author)? {
            return Err(Rejection::NotSubscribed { listing: l.name }.into());
        }
        one(Event::Unsubscribed(Unsubscribed { listing: l.id }))
    }
}

/// `market.buy`: buy a listing at its one-off price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketBuy {
    /// The listing: its id or id prefix
    pub listing: String,
}

impl Decide for MarketBuy {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.live_listing(&self.listing)?;
        let Some(price) = l.price else {
            return Err(Rejection::NoOneOffPrice { listing: l.name }.into());
        };
        one(Event::Purchased(Purchased { listing: l.id, amount: price, currency: l.currency }))
    }
}

/// `market.book`: ask for a slot of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketBook {
    /// The service
    pub listing: String,
    /// Start: 2026-12-01T10:00Z
    #[cfg_attr(feature = "cli", arg(long))]
    pub start: Instant,
    /// End: 2026-12-01T11:00Z
    #[cfg_attr(feature = "cli", arg(long))]
    pub end: Instant,
}

impl Decide for MarketBook {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.live_listing(&self.listing)?;
        if l.kind != ListingKind::Service {
            return Err(Rejection::NotAService { listing: l.name, kind: l.kind }.into());
        }
        if self.start.0 < cx.now {
            return Err(Rejection::StartsInPast(self.start).into());
        }
        one(Event::BookingRequested(BookingRequested { listing: l.id, start: self.start.0, end: self.end.0 }))
    }
}

/// `market.confirm`: confirm a booking of one of the author's services; confirmed slots of a
/// listing never overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketConfirm {
    /// The booking (id or id prefix)
    pub booking: String,
}

impl Decide for MarketConfirm {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let unknown = || Rejection::Unknown { what: "booking", reference: self.booking.clone() };
        let id = unique_id(cx.state, IdSpace::Booking, None, "booking", &self.booking, |_| Ok(true))?;
        let b = cx.state.booking(&id.ok_or_else(unknown)?)?.ok_or_else(unknown)?;
        let l = cx
            .state
            .listing(&b.listing)?
            .ok_or_else(|| Rejection::Unknown { what: "listing", reference: b.listing.to_string() })?;
        if l.owner != *cx.author {
            return Err(Rejection::NotYours { what: "listing", name: l.name, action: "confirm its bookings" }.into());
        }
        if l.withdrawn {
            return Err(Rejection::ListingWithdrawn(l.name).into());
        }
        if b.confirmed {
            return Err(Rejection::AlreadyConfirmed(b.id).into());
        }
        if let Some((_, _, other)) =
            cx.state.confirmed_slots(&l.id)?.into_iter().find(|(s, e, _)| *s < b.end && b.start < *e)
        {
            return Err(Rejection::SlotOverlaps { start: Instant(b.start), end: Instant(b.end), other }.into());
        }
        one(Event::BookingConfirmed(BookingConfirmed { listing: l.id, booking: b.id, start: b.start, end: b.end }))
    }
}

/// `review`: review a listing (1 to 5); a later review by the same author replaces the earlier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Review {
    /// The listing (id or id prefix)
    pub listing: String,
    /// 1 to 5
    #[cfg_attr(feature = "cli", arg(long))]
    pub rating: u8,
    /// What you think
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, default_value = ""))]
    pub text: String,
}

impl Decide for Review {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let l = cx.live_listing(&self.listing)?;
        if l.owner == *cx.author {
            return Err(Rejection::OwnListing { listing: l.name }.into());
        }
        one(Event::Reviewed(Reviewed { listing: l.id, rating: self.rating, text: self.text.clone() }))
    }
}

impl Context<'_> {
    /// A listing by id or id prefix.
    fn known_listing(&self, reference: &str) -> Result<ListingInfo, DecideError> {
        let id = self.resolve(IdSpace::Listing, "listing", reference)?;
        let unknown = || Rejection::Unknown { what: "listing", reference: reference.to_owned() };
        Ok(self.state.listing(&id)?.ok_or_else(unknown)?)
    }

    /// A listing still on the market.
    fn live_listing(&self, reference: &str) -> Result<ListingInfo, DecideError> {
        let l = self.known_listing(reference)?;
        if l.withdrawn {
            return Err(Rejection::ListingWithdrawn(l.name).into());
        }
        Ok(l)
    }

    /// A live listing the author owns.
    fn own_listing(&self, reference: &str, action: &'static str) -> Result<ListingInfo, DecideError> {
        let l = self.live_listing(reference)?;
        if l.owner != *self.author {
            return Err(Rejection::NotYours { what: "listing", name: l.name, action }.into());
        }
        Ok(l)
    }
}
