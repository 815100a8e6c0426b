//! `decide` for the marketplace, community, reputation and audit commands.

use mindlog_ledger::{Hash, PublicKey};

use crate::audit::*;
use crate::command::Command;
use crate::decide::{
    DecideError, Decided, Decider, GuildInfo, IdSpace, ListingInfo, Rejection, State, check_text, check_word, one,
    unique_id,
};
use crate::event::Event;
use crate::market::*;
use crate::reputation::*;
use crate::social::*;
use crate::time::Instant;
use crate::units::Micros;

/// The highest price, in minor units: 100,000,000 (a million in major units).
pub const MAX_PRICE: u64 = 100_000_000;

pub(crate) fn decide_more(state: &dyn State, author: &PublicKey, now: Micros, command: &Command) -> Decided {
    let d = Decider { state, author };
    match command {
        Command::MarketPublish { kind, name, version, price, currency, tiers, license } => {
            check_text("listing name", name, 1, 100)?;
            check_version(version)?;
            check_currency(currency)?;
            check_price(price)?;
            check_tiers(tiers)?;
            if let Some(license) = license {
                check_word("license", license, 64)?;
            }
            one(Event::ListingPublished(ListingPublished {
                kind: *kind,
                name: name.clone(),
                version: version.clone(),
                price: *price,
                tiers: tiers.clone(),
                currency: currency.clone(),
                license: license.clone(),
            }))
        }
        Command::MarketUpdate { listing, version, price, tiers, license } => {
            let l = own_listing(&d, listing, "update it")?;
            if version.is_none() && price.is_none() && tiers.is_none() && license.is_none() {
                return Err(
                    Rejection::NotSo("nothing to update: pass --version, --price, --tier or --license".into()).into()
                );
            }
            if let Some(v) = version {
                check_version(v)?;
            }
            check_price(price)?;
            if let Some(t) = tiers {
                check_tiers(t)?;
            }
            if let Some(license) = license {
                check_word("license", license, 64)?;
            }
            one(Event::ListingUpdated(ListingUpdated {
                listing: l.id,
                version: version.clone(),
                price: *price,
                tiers: tiers.clone(),
                license: license.clone(),
            }))
        }
        Command::MarketWithdraw { listing } => {
            let l = own_listing(&d, listing, "withdraw it")?;
            one(Event::ListingWithdrawn(ListingWithdrawn { listing: l.id }))
        }
        Command::MarketSubscribe { listing, tier } => {
            let l = live_listing(&d, listing)?;
            let Some(t) = l.tiers.iter().find(|t| t.name == *tier) else {
                let available = if l.tiers.is_empty() {
                    "none (it is not sold by subscription)".to_owned()
                } else {
                    l.tiers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                };
                return Err(Rejection::UnknownTier { listing: l.name, tier: tier.clone(), available }.into());
            };
            if state.subscribed(&l.id, author)? {
                return Err(Rejection::AlreadyDone(format!("you already subscribe to listing {:?}", l.name)).into());
            }
            one(Event::Subscribed(Subscribed {
                listing: l.id,
                tier: t.name.clone(),
                amount: t.amount,
                currency: l.currency.clone(),
                period: t.period,
            }))
        }
        Command::MarketUnsubscribe { listing } => {
            let l = known_listing(&d, listing)?;
            if !state.subscribed(&l.id, author)? {
                return Err(Rejection::NotSo(format!("you do not subscribe to listing {:?}", l.name)).into());
            }
            one(Event::Unsubscribed(Unsubscribed { listing: l.id }))
        }
        Command::MarketBuy { listing } => {
            let l = live_listing(&d, listing)?;
            let Some(price) = l.price else {
                return Err(Rejection::NotSo(format!(
                    "listing {:?} has no one-off price; subscribe to a tier instead",
                    l.name
                ))
                .into());
            };
            one(Event::Purchased(Purchased { listing: l.id, amount: price, currency: l.currency }))
        }
        Command::MarketBook { listing, start, end } => {
            let l = live_listing(&d, listing)?;
            if l.kind != ListingKind::Service {
                return Err(Rejection::NotSo(format!(
                    "listing {:?} is a {}, not a service: only services are booked",
                    l.name,
                    l.kind.as_str()
                ))
                .into());
            }
            if end <= start {
                return Err(Rejection::NotSo(format!("the booking ends ({end}) before it starts ({start})")).into());
            }
            if start.0 < now {
                return Err(Rejection::NotSo(format!("the booking starts in the past ({start})")).into());
            }
            one(Event::BookingRequested(BookingRequested { listing: l.id, start: start.0, end: end.0 }))
        }
        Command::MarketConfirm { booking } => {
            let id = unique_id(d.state, IdSpace::Booking, None, "booking", booking, |_| Ok(true))?;
            let b = match id {
                Some(id) => state.booking(&id)?,
                None => None,
            }
            .ok_or_else(|| Rejection::Unknown { what: "booking", reference: booking.clone() })?;
            let l = state
                .listing(&b.listing)?
                .ok_or_else(|| Rejection::Unknown { what: "listing", reference: b.listing.to_string() })?;
            if l.owner != *author {
                return Err(
                    Rejection::NotYours { what: "listing", name: l.name, action: "confirm its bookings" }.into()
                );
            }
            if l.withdrawn {
                return Err(Rejection::ListingWithdrawn(l.name).into());
            }
            if b.confirmed {
                return Err(Rejection::AlreadyDone(format!("booking {} is already confirmed", b.id)).into());
            }
            if let Some((_, _, other)) =
                state.confirmed_slots(&l.id)?.into_iter().find(|(s, e, _)| *s < b.end && b.start < *e)
            {
                return Err(Rejection::SlotOverlaps { start: Instant(b.start), end: Instant(b.end), other }.into());
            }
            one(Event::BookingConfirmed(BookingConfirmed { listing: l.id, booking: b.id, start: b.start, end: b.end }))
        }
        Command::Review { listing, rating, text } => {
            let l = live_listing(&d, listing)?;
            if l.owner == *author {
                return Err(Rejection::NotSo(format!("you cannot review your own listing {:?}", l.name)).into());
            }
            if !(1..=5).contains(rating) {
                return Err(
                    Rejection::NumberOutOfRange { what: "rating", value: u64::from(*rating), min: 1, max: 5 }.into()
                );
            }
            check_text("review", text, 0, 5000)?;
            one(Event::Reviewed(Reviewed { listing: l.id, rating: *rating, text: text.clone() }))
        }
        Command::Follow { target } => {
            let t = resolve_target(&d, target)?;
            if t == Target::Key(*author) {
                return Err(Rejection::SelfReference("follow").into());
            }
            if state.follows(author, &t)? {
                return Err(Rejection::AlreadyDone(format!("you already follow {target}")).into());
            }
            one(Event::Followed(Followed { target: t }))
        }
        Command::Unfollow { target } => {
            let t = resolve_target(&d, target)?;
            if !state.follows(author, &t)? {
                return Err(Rejection::NotSo(format!("you do not follow {target}")).into());
            }
            one(Event::Unfollowed(Unfollowed { target: t }))
        }
        Command::GuildCreate { name } => {
            check_word("guild name", name, 64)?;
            for id in state.guilds_named(name)? {
                if state.guild(&id)?.is_some_and(|g| g.owner == *author) {
                    return Err(Rejection::AlreadyDone(format!("you already have a guild named {name:?}")).into());
                }
            }
            one(Event::GuildCreated(GuildCreated { name: name.clone() }))
        }
        Command::GuildJoin { guild } => {
            let g = resolve_guild(&d, guild)?;
            if state.is_member(&g.id, author)? {
                return Err(Rejection::AlreadyDone(format!("you are already a member of guild {:?}", g.name)).into());
            }
            one(Event::GuildJoined(GuildJoined { guild: g.id }))
        }
        Command::GuildLeave { guild } => {
            let g = resolve_guild(&d, guild)?;
            if g.owner == *author {
                return Err(Rejection::NotSo(format!("you own guild {:?}; an owner cannot leave it", g.name)).into());
            }
            if !state.is_member(&g.id, author)? {
                return Err(Rejection::NotSo(format!("you are not a member of guild {:?}", g.name)).into());
            }
            one(Event::GuildLeft(GuildLeft { guild: g.id }))
        }
        Command::Award { member, badge, guild } => {
            let member_key = parse_key("member", member)?;
            check_word("badge", badge, 64)?;
            let g = match guild {
                Some(g) => {
                    let g = resolve_guild(&d, g)?;
                    if g.owner != *author {
                        return Err(
                            Rejection::NotYours { what: "guild", name: g.name, action: "give its badges" }.into()
                        );
                    }
                    if !state.is_member(&g.id, &member_key)? {
                        return Err(Rejection::NotSo(format!("{member} is not a member of guild {:?}", g.name)).into());
                    }
                    g
                }
                None => {
                    let mut candidates = Vec::new();
                    for id in state.guilds_owned(author)? {
                        if state.is_member(&id, &member_key)?
                            && let Some(g) = state.guild(&id)?
                        {
                            candidates.push(g);
                        }
                    }
                    match candidates.len() {
                        0 => {
                            return Err(
                                Rejection::NotSo(format!("{member} is not a member of any guild you own")).into()
                            );
                        }
                        1 => candidates.remove(0),
                        n => {
                            return Err(Rejection::NotSo(format!(
                                "{member} belongs to {n} of your guilds: pass --guild"
                            ))
                            .into());
                        }
                    }
                }
            };
            one(Event::Awarded(Awarded { guild: g.id, member: member_key, badge: badge.clone() }))
        }
        Command::RepAttest { subject, task, outcome, weight } => {
            let s = parse_key("subject", subject)?;
            if s == *author {
                return Err(Rejection::SelfReference("attest").into());
            }
            check_word("task", task, 128)?;
            if !(1..=10).contains(weight) {
                return Err(
                    Rejection::NumberOutOfRange { what: "weight", value: u64::from(*weight), min: 1, max: 10 }.into()
                );
            }
            one(Event::Attested(Attested { subject: s, task: task.clone(), outcome: *outcome, weight: *weight }))
        }
        Command::RepVouch { subject } => {
            let s = parse_key("subject", subject)?;
            if s == *author {
                return Err(Rejection::SelfReference("vouch for").into());
            }
            if state.vouches(author, &s)? {
                return Err(Rejection::AlreadyDone(format!("you already vouch for {s}")).into());
            }
            one(Event::Vouched(Vouched { subject: s }))
        }
        Command::RepUnvouch { subject } => {
            let s = parse_key("subject", subject)?;
            if !state.vouches(author, &s)? {
                return Err(Rejection::NotSo(format!("you do not vouch for {s}")).into());
            }
            one(Event::Unvouched(Unvouched { subject: s }))
        }
        Command::RepReport { subject, category, evidence } => {
            let s = parse_key("subject", subject)?;
            if s == *author {
                return Err(Rejection::SelfReference("report").into());
            }
            check_word("category", category, 64)?;
            let evidence: Hash = evidence.parse().map_err(|_| Rejection::Invalid {
                what: "evidence",
                problem: format!("{evidence:?} is not an event hash (64 lowercase hex characters)"),
            })?;
            one(Event::Reported(Reported { subject: s, category: category.clone(), evidence }))
        }
        Command::RepResolve { report, upheld } => {
            let id = unique_id(d.state, IdSpace::Report, None, "report", report, |_| Ok(true))?;
            let r = match id {
                Some(id) => state.report(&id)?,
                None => None,
            }
            .ok_or_else(|| Rejection::Unknown { what: "report", reference: report.clone() })?;
            if r.reporter == *author || r.subject == *author {
                return Err(Rejection::NotSo("you cannot resolve a report you made or one about you".into()).into());
            }
            one(Event::Resolved(Resolved { report: r.id, upheld: *upheld }))
        }
        Command::AuditTool { session, tool, args_digest, scope, decision, reason } => {
            check_word("session", session, 128)?;
            check_word("tool", tool, 128)?;
            check_word("args digest", args_digest, 200)?;
            check_word("scope", scope, 128)?;
            check_text("reason", reason, 0, 2000)?;
            one(Event::ToolRequested(ToolRequested {
                session: session.clone(),
                tool: tool.clone(),
                args_digest: args_digest.clone(),
                scope: scope.clone(),
                decision: *decision,
                reason: reason.clone(),
            }))
        }
        Command::AuditApprove { request } | Command::AuditDeny { request } => {
            let r = own_request(&d, request)?;
            if r.decision != Decision::Ask {
                return Err(Rejection::NotSo(format!(
                    "request {} was decided {:?} by the policy; only ask requests are approved or denied",
                    r.id,
                    r.decision.as_str()
                ))
                .into());
            }
            if let Some(answer) = r.answer {
                let was = if answer { "approved" } else { "denied" };
                return Err(Rejection::AlreadyDone(format!("request {} was already {was}", r.id)).into());
            }
            let answer = RequestAnswered { request: r.id };
            one(if matches!(command, Command::AuditApprove { .. }) {
                Event::Approved(answer)
            } else {
                Event::Denied(answer)
            })
        }
        Command::AuditDone { request, ok, duration_ms, tokens, cost_cents, model } => {
            let r = own_request(&d, request)?;
            let may_run = match r.decision {
                Decision::Allow => true,
                Decision::Deny => false,
                Decision::Ask => r.answer == Some(true),
            };
            if !may_run {
                return Err(Rejection::NotSo(format!(
                    "request {} was not allowed to run (denied, or still waiting for approval)",
                    r.id
                ))
                .into());
            }
            if r.completed {
                return Err(Rejection::AlreadyDone(format!("request {} already has a result", r.id)).into());
            }
            check_text("model", model, 0, 128)?;
            one(Event::ToolCompleted(ToolCompleted {
                request: r.id,
                ok: *ok,
                duration_ms: *duration_ms,
                tokens: *tokens,
                cost_cents: *cost_cents,
                model: model.clone(),
            }))
        }
        _ => Err(Rejection::NotSo(format!("{} is not a command this build decides", command.name())).into()),
    }
}

fn parse_key(what: &'static str, text: &str) -> Result<PublicKey, Rejection> {
    text.parse().map_err(|_| Rejection::Invalid {
        what,
        problem: format!(
            "{text:?} is not a public key (64 lowercase hex characters; mindlog identity list shows yours)"
        ),
    })
}

fn check_version(version: &str) -> Result<(), Rejection> {
    if version.is_empty()
        || version.len() > 32
        || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
    {
        return Err(Rejection::Invalid { what: "version", problem: format!("{version:?} should look like 1.0.0") });
    }
    Ok(())
}

fn check_currency(currency: &str) -> Result<(), Rejection> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Rejection::Invalid {
            what: "currency",
            problem: format!("{currency:?} is not an ISO 4217 code like EUR"),
        });
    }
    Ok(())
}

fn check_price(price: &Option<u64>) -> Result<(), Rejection> {
    match price {
        Some(p) if *p > MAX_PRICE => {
            Err(Rejection::NumberOutOfRange { what: "price", value: *p, min: 0, max: MAX_PRICE })
        }
        _ => Ok(()),
    }
}

fn check_tiers(tiers: &[Tier]) -> Result<(), Rejection> {
    for (i, t) in tiers.iter().enumerate() {
        check_word("tier name", &t.name, 32)?;
        if t.amount > MAX_PRICE {
            return Err(Rejection::NumberOutOfRange { what: "tier price", value: t.amount, min: 0, max: MAX_PRICE });
        }
        if tiers[..i].iter().any(|o| o.name == t.name) {
            return Err(Rejection::Invalid { what: "tiers", problem: format!("name {:?} twice", t.name) });
        }
    }
    Ok(())
}

/// A listing by id or id prefix.
fn known_listing(d: &Decider<'_>, reference: &str) -> Result<ListingInfo, DecideError> {
    let unknown = || Rejection::Unknown { what: "listing", reference: reference.to_owned() };
    let id = unique_id(d.state, IdSpace::Listing, None, "listing", reference, |_| Ok(true))?.ok_or_else(unknown)?;
    Ok(d.state.listing(&id)?.ok_or_else(unknown)?)
}

/// A listing still on the market.
fn live_listing(d: &Decider<'_>, reference: &str) -> Result<ListingInfo, DecideError> {
    let l = known_listing(d, reference)?;
    if l.withdrawn {
        return Err(Rejection::ListingWithdrawn(l.name).into());
    }
    Ok(l)
}

/// A live listing the author owns.
fn own_listing(d: &Decider<'_>, reference: &str, action: &'static str) -> Result<ListingInfo, DecideError> {
    let l = live_listing(d, reference)?;
    if l.owner != *d.author {
        return Err(Rejection::NotYours { what: "listing", name: l.name, action }.into());
    }
    Ok(l)
}

/// A guild by name (when only one guild has it) or id or id prefix.
fn resolve_guild(d: &Decider<'_>, reference: &str) -> Result<GuildInfo, DecideError> {
    let unknown = || Rejection::Unknown { what: "guild", reference: reference.to_owned() };
    let named = d.state.guilds_named(reference)?;
    let id = match named.len() {
        1 => Some(named[0]),
        0 => unique_id(d.state, IdSpace::Guild, None, "guild", reference, |_| Ok(true))?,
        count => return Err(Rejection::Ambiguous { what: "guild name", reference: reference.to_owned(), count }.into()),
    };
    Ok(d.state.guild(&id.ok_or_else(unknown)?)?.ok_or_else(unknown)?)
}

/// A request the author made.
fn own_request(d: &Decider<'_>, reference: &str) -> Result<crate::decide::RequestInfo, DecideError> {
    let unknown = || Rejection::Unknown { what: "request", reference: reference.to_owned() };
    let id = unique_id(d.state, IdSpace::Request, None, "request", reference, |_| Ok(true))?.ok_or_else(unknown)?;
    let r = d.state.request(&id)?.ok_or_else(unknown)?;
    if r.author != *d.author {
        return Err(Rejection::NotYours {
            what: "request",
            name: r.id.to_string(),
            action: "answer it or record its result",
        }
        .into());
    }
    Ok(r)
}

/// A follow target: a persona (by the author's name for it, or id) or else a public key.
fn resolve_target(d: &Decider<'_>, reference: &str) -> Result<Target, DecideError> {
    if let Ok(id) = reference.parse::<Hash>()
        && d.state.persona(&id)?.is_some()
    {
        return Ok(Target::Persona(id));
    }
    if let Ok(key) = reference.parse::<PublicKey>() {
        return Ok(Target::Key(key));
    }
    Ok(Target::Persona(d.resolve_persona(reference)?.id))
}
