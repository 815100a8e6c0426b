//! The `market` view: listings and their versions, reviews, subscriptions, purchases, bookings,
//! per-listing statistics and per-day marketplace analytics.
//!
//! Facts about a listing by other authors (reviews, subscriptions, purchases, bookings) are
//! folded whether or not the listing has arrived yet, keyed by the listing's id; rules that need
//! another author's state are checked only where the same feed guarantees that state is known
//! (a listing's owner's own events always follow its creation). So every arrival order gives
//! the same tables.

use std::collections::BTreeMap;

use mindlog_commands::{DAY_MICROS, Event, ListingKind, Micros, Period, Tier};
use mindlog_ledger::redb::ReadableTable;
use mindlog_ledger::{DerivedWriteTxn, Hash, PublicKey, StorageError};
use serde::{Deserialize, Serialize};

use crate::rows::{Cached, RawTable, def, encode, key};
use crate::runner::{Applied, Decoded, Fold, Projection};

pub(crate) const LISTINGS: &str = "view.listings";
pub(crate) const VERSIONS: &str = "view.listing_versions";
pub(crate) const STATS: &str = "view.listing_stats";
pub(crate) const REVIEWS: &str = "view.reviews";
pub(crate) const SUBSCRIPTIONS: &str = "view.subscriptions";
pub(crate) const PURCHASES: &str = "view.purchases";
pub(crate) const BOOKINGS: &str = "view.bookings";
pub(crate) const CONFIRMED: &str = "view.booking_confirmations";
pub(crate) const DAILY: &str = "view.market_daily";

/// A listing (`view.listings`, key: id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingRow {
    /// The author who created it: the only one who may change it.
    pub owner: PublicKey,
    /// What it is.
    pub kind: ListingKind,
    /// Its name.
    pub name: String,
    /// Its current version.
    pub version: String,
    /// Its one-off price, in minor units.
    pub price: Option<u64>,
    /// Its tiers.
    pub tiers: Vec<Tier>,
    /// Its currency.
    pub currency: String,
    /// Its license.
    pub license: Option<String>,
    /// When it was published.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// When it was withdrawn.
    pub withdrawn: Option<Micros>,
}

impl ListingRow {
    /// `one-off`, `subscription`, `one-off+subscription` or `free`.
    pub fn price_model(&self) -> &'static str {
        match (self.price.is_some_and(|p| p > 0), !self.tiers.is_empty()) {
            (true, true) => "one-off+subscription",
            (true, false) => "one-off",
            (false, true) => "subscription",
            (false, false) => "free",
        }
    }
}

/// A version of a listing (`view.listing_versions`, key: listing ‖ owner's seq, u64 BE).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    /// The version.
    pub version: String,
    /// When it was published.
    pub at: Micros,
}

/// What others did with a listing (`view.listing_stats`, key: listing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingStats {
    /// Live reviews (one per reviewer; the owner's own never count).
    pub reviews: u64,
    /// Sum of their ratings.
    pub rating_sum: u64,
    /// Subscriptions not ended: one per subscriber.
    pub subscribers: u64,
    /// Subscriptions ever made.
    pub subscriptions: u64,
    /// One-off purchases, every one counted (a buyer may buy again).
    pub purchases: u64,
    /// Revenue per currency, minor units: purchases at their price plus each subscription's
    /// first period at the tier's price when subscribed.
    pub revenue: BTreeMap<String, u64>,
    /// Bookings requested, confirmed or not.
    pub bookings: u64,
    /// Bookings the owner confirmed.
    pub confirmed: u64,
}

impl ListingStats {
    /// Mean rating, if reviewed.
    pub fn mean_rating(&self) -> Option<f64> {
        (self.reviews > 0).then(|| self.rating_sum as f64 / self.reviews as f64)
    }
}

/// A review (`view.reviews`, key: listing ‖ reviewer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    /// 1 to 5.
    pub rating: u8,
    /// What the reviewer says (may be empty).
    pub text: String,
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// A subscription (`view.subscriptions`, key: listing ‖ subscriber).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRow {
    /// The tier.
    pub tier: String,
    /// Its price per period when subscribed.
    pub amount: u64,
    /// ISO 4217 code of `amount`, e.g. EUR.
    pub currency: String,
    /// How often the tier's price is due.
    pub period: Period,
    /// When the subscription began (µs since the Unix epoch).
    pub since: Micros,
    /// When it ended, if it did.
    pub ended: Option<Micros>,
}

/// A purchase (`view.purchases`, key: listing ‖ buyer ‖ event hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRow {
    /// The price paid, in minor units of `currency` (cents).
    pub amount: u64,
    /// ISO 4217 code of `amount`, e.g. EUR.
    pub currency: String,
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// A booking request (`view.bookings`, key: booking id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRow {
    /// The service.
    pub listing: Hash,
    /// The author who asked for the booking.
    pub requester: PublicKey,
    /// When the booked slot starts (µs since the Unix epoch).
    pub start: Micros,
    /// When the booked slot ends (µs since the Unix epoch), after its start.
    pub end: Micros,
    /// When it was asked for.
    pub at: Micros,
}

/// A confirmation by the listing's owner (`view.booking_confirmations`, key: listing ‖ start,
/// u64 BE ‖ booking).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRow {
    /// End of the slot.
    pub end: Micros,
    /// When it was confirmed.
    pub at: Micros,
}

/// The market view.
pub(crate) struct MarketView;

impl Projection for MarketView {
    fn name(&self) -> &'static str {
        "market"
    }
    fn version(&self) -> u32 {
        // 2: events that fail `Event::check` (names, versions, currencies, words…) are ignored.
        2
    }
    fn tables(&self) -> &'static [&'static str] {
        &[LISTINGS, VERSIONS, STATS, REVIEWS, SUBSCRIPTIONS, PURCHASES, BOOKINGS, CONFIRMED, DAILY]
    }
    fn fold<'t>(&self, txn: &'t DerivedWriteTxn) -> Result<Box<dyn Fold + 't>, StorageError> {
        Ok(Box::new(MarketFold {
            listings: Cached::open(txn, LISTINGS)?,
            stats: Cached::open(txn, STATS)?,
            reviews: Cached::open(txn, REVIEWS)?,
            subscriptions: Cached::open(txn, SUBSCRIPTIONS)?,
            daily: Cached::open(txn, DAILY)?,
            versions: txn.open_table(def(VERSIONS))?,
            purchases: txn.open_table(def(PURCHASES))?,
            bookings: txn.open_table(def(BOOKINGS))?,
            confirmed: txn.open_table(def(CONFIRMED))?,
        }))
    }
}

struct MarketFold<'t> {
    listings: Cached<'t, ListingRow>,
    stats: Cached<'t, ListingStats>,
    reviews: Cached<'t, ReviewRow>,
    subscriptions: Cached<'t, SubscriptionRow>,
    daily: Cached<'t, u64>,
    versions: RawTable<'t>,
    purchases: RawTable<'t>,
    bookings: RawTable<'t>,
    confirmed: RawTable<'t>,
}

/// The day (since 1970-01-01, UTC) of a timestamp.
pub(crate) fn day(ts: Micros) -> u64 {
    ts / DAY_MICROS
}

impl MarketFold<'_> {
    fn stats(&mut self, listing: &Hash) -> Result<&mut ListingStats, StorageError> {
        self.stats.get_or_default(listing.as_bytes())
    }

    fn count(&mut self, ts: Micros, metric: &str, n: u64) -> Result<(), StorageError> {
        *self.daily.get_or_default(&key(&[&day(ts).to_be_bytes(), metric.as_bytes()]))? += n;
        Ok(())
    }

    /// The listing, if `e`'s author owns it and it is still live (only then marked to be written).
    fn owned(&mut self, e: &Decoded, listing: &Hash) -> Result<Option<&mut ListingRow>, StorageError> {
        let live_and_theirs = |l: &ListingRow| l.owner == e.author && l.withdrawn.is_none();
        if !self.listings.get(listing.as_bytes())?.is_some_and(live_and_theirs) {
            return Ok(None);
        }
        self.listings.get_mut(listing.as_bytes())
    }

    /// Whether `author` owns `listing` (known only when they do: their creation precedes).
    fn is_owner(&mut self, listing: &Hash, author: &PublicKey) -> Result<bool, StorageError> {
        Ok(self.listings.get(listing.as_bytes())?.is_some_and(|l| l.owner == *author))
    }
}

impl Fold for MarketFold<'_> {
    fn apply(&mut self, e: &Decoded) -> Result<Applied, StorageError> {
        let Some(event) = &e.event else { return Ok(Applied::Irrelevant) };
        match event {
            Event::ListingPublished(x) => {
                self.listings.put(
                    e.hash.as_bytes().to_vec(),
                    ListingRow {
                        owner: e.author,
                        kind: x.kind,
                        name: x.name.clone(),
                        version: x.version.clone(),
                        price: x.price,
                        tiers: x.tiers.clone(),
                        currency: x.currency.clone(),
                        license: x.license.clone(),
                        created: e.ts,
                        updated: e.ts,
                        withdrawn: None,
                    },
                );
                let version = VersionRow { version: x.version.clone(), at: e.ts };
                self.versions
                    .insert(key(&[e.hash.as_bytes(), &e.seq.to_be_bytes()]).as_slice(), encode(&version).as_slice())?;
                self.count(e.ts, "published", 1)?;
            }
            Event::ListingUpdated(x) => {
                let Some(l) = self.owned(e, &x.listing)? else { return Ok(Applied::Ignored) };
                if let Some(v) = &x.version {
                    l.version = v.clone();
                }
                if x.price.is_some() {
                    l.price = x.price;
                }
                if let Some(t) = &x.tiers {
                    l.tiers = t.clone();
                }
                if x.license.is_some() {
                    l.license = x.license.clone();
                }
                l.updated = e.ts;
                if let Some(v) = &x.version {
                    let version = VersionRow { version: v.clone(), at: e.ts };
                    self.versions.insert(
                        key(&[x.listing.as_bytes(), &e.seq.to_be_bytes()]).as_slice(),
                        encode(&version).as_slice(),
                    )?;
                }
                self.count(e.ts, "updated", 1)?;
            }
            Event::ListingWithdrawn(x) => {
                let Some(l) = self.owned(e, &x.listing)? else { return Ok(Applied::Ignored) };
                l.withdrawn = Some(e.ts);
                self.count(e.ts, "withdrawn", 1)?;
            }
            Event::Subscribed(x) => {
                let k = key(&[x.listing.as_bytes(), e.author.as_bytes()]);
                if self.subscriptions.get(&k)?.is_some_and(|s| s.ended.is_none()) {
                    return Ok(Applied::Ignored);
                }
                self.subscriptions.put(
                    k,
                    SubscriptionRow {
                        tier: x.tier.clone(),
                        amount: x.amount,
                        currency: x.currency.clone(),
                        period: x.period,
                        since: e.ts,
                        ended: None,
                    },
                );
                let stats = self.stats(&x.listing)?;
                stats.subscribers += 1;
                stats.subscriptions += 1;
                *stats.revenue.entry(x.currency.clone()).or_default() += x.amount;
                self.count(e.ts, "subscribed", 1)?;
                self.count(e.ts, &format!("revenue:{}", x.currency), x.amount)?;
            }
            Event::Unsubscribed(x) => {
                let k = key(&[x.listing.as_bytes(), e.author.as_bytes()]);
                let Some(s) = self.subscriptions.get_mut(&k)?.filter(|s| s.ended.is_none()) else {
                    return Ok(Applied::Ignored);
                };
                s.ended = Some(e.ts);
                let stats = self.stats(&x.listing)?;
                stats.subscribers = stats.subscribers.saturating_sub(1);
                self.count(e.ts, "unsubscribed", 1)?;
            }
            Event::Purchased(x) => {
                let row = PurchaseRow { amount: x.amount, currency: x.currency.clone(), at: e.ts };
                let k = key(&[x.listing.as_bytes(), e.author.as_bytes(), e.hash.as_bytes()]);
                self.purchases.insert(k.as_slice(), encode(&row).as_slice())?;
                let stats = self.stats(&x.listing)?;
                stats.purchases += 1;
                *stats.revenue.entry(x.currency.clone()).or_default() += x.amount;
                self.count(e.ts, "purchased", 1)?;
                self.count(e.ts, &format!("revenue:{}", x.currency), x.amount)?;
            }
            Event::BookingRequested(x) => {
                let row = BookingRow { listing: x.listing, requester: e.author, start: x.start, end: x.end, at: e.ts };
                self.bookings.insert(e.hash.as_bytes().as_slice(), encode(&row).as_slice())?;
                self.stats(&x.listing)?.bookings += 1;
                self.count(e.ts, "booked", 1)?;
            }
            Event::BookingConfirmed(x) => {
                // Only the owner confirms, once per booking, and never two overlapping slots.
                if !self.is_owner(&x.listing, &e.author)? {
                    return Ok(Applied::Ignored);
                }
                let prefix = x.listing.as_bytes();
                let mut clash = false;
                for entry in self.confirmed.range::<&[u8]>(prefix.as_slice()..)? {
                    let (k, v) = entry?;
                    let k = k.value();
                    if !k.starts_with(prefix) {
                        break;
                    }
                    let start = u64::from_be_bytes(k[32..40].try_into().unwrap_or_default());
                    let row: ConfirmationRow = crate::rows::decode(CONFIRMED, v.value())?;
                    if &k[40..72] == x.booking.as_bytes() || (start < x.end && x.start < row.end) {
                        clash = true;
                        break;
                    }
                    if start >= x.end {
                        break;
                    }
                }
                if clash {
                    return Ok(Applied::Ignored);
                }
                let row = ConfirmationRow { end: x.end, at: e.ts };
                let k = key(&[x.listing.as_bytes(), &x.start.to_be_bytes(), x.booking.as_bytes()]);
                self.confirmed.insert(k.as_slice(), encode(&row).as_slice())?;
                self.stats(&x.listing)?.confirmed += 1;
                self.count(e.ts, "confirmed", 1)?;
            }
            Event::Reviewed(x) => {
                if self.is_owner(&x.listing, &e.author)? {
                    return Ok(Applied::Ignored);
                }
                let k = key(&[x.listing.as_bytes(), e.author.as_bytes()]);
                let previous = self.reviews.get(&k)?.map(|r| r.rating);
                self.reviews.put(k, ReviewRow { rating: x.rating, text: x.text.clone(), at: e.ts });
                let stats = self.stats(&x.listing)?;
                match previous {
                    Some(old) => stats.rating_sum = stats.rating_sum - u64::from(old) + u64::from(x.rating),
                    None => {
                        stats.reviews += 1;
                        stats.rating_sum += u64::from(x.rating);
                    }
                }
                self.count(e.ts, "reviewed", 1)?;
            }
            _ => return Ok(Applied::Irrelevant),
        }
        Ok(Applied::Applied)
    }

    fn finish(self: Box<Self>) -> Result<(), StorageError> {
        let this = *self;
        this.listings.flush()?;
        this.stats.flush()?;
        this.reviews.flush()?;
        this.subscriptions.flush()?;
        this.daily.flush()
    }
}
