//! The marketplace's event payloads: listings (plugins, services, APIs, mod packs, themes),
//! subscriptions, purchases, bookings and reviews.
//!
//! Money is in minor units (cents) with an ISO 4217 code. Events that move money carry the
//! amount decided at the time, so every node folds the same revenue whatever order the listing
//! and its buyers' events arrive in.

use std::fmt;
use std::str::FromStr;

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::units::Micros;

/// What is on offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListingKind {
    /// A plugin.
    Plugin,
    /// A service, booked by the slot or subscribed to.
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
    /// What it is.
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
    /// The listing.
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
    /// The listing.
    pub listing: Hash,
}

/// `market.subscribed/1`: the author subscribes to a tier, at the tier's price when decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The listing.
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
    /// The listing.
    pub listing: Hash,
}

/// `market.purchased/1`: the author buys a listing at its one-off price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchased {
    /// The listing.
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
    /// The listing.
    pub listing: Hash,
    /// 1 to 5.
    pub rating: u8,
    /// Free text.
    pub text: String,
}
