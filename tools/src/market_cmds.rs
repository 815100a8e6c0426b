//! The marketplace, community, reputation, audit and identity commands.

use std::io::{self, Write};

use anyhow::{Context, Result};
use mindlog_commands::{Award, Follow, IdSpace, ListingKind, Rejection, Unfollow, resolve_id};
use mindlog_ledger::{Hash, PublicKey};
use mindlog_projections::{AuditLine, AuditSession, CreatorRank, ListingPage, ListingRank, Reputation, Views};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{AuditCmd, BoardArg, IdentityCmd, MarketCmd, RepCmd};
use crate::home::Home;
use crate::output::{Report, decimal, emit};
use crate::persona_cmds::{write, write_declared};
use crate::refusal::{Refusal, resolved};
use crate::session::Session;
use crate::ui::{money, now_micros, thousands};

/// A local identity: what `identity new` made, and a line of `identity list`.
#[derive(Serialize)]
struct IdentityLine {
    name: String,
    public_key: PublicKey,
    default: bool,
    /// The key that checks this identity's checkpoints and proofs (`mindlog check --key`), in
    /// signed-note form: `ORIGIN+KEYID+BASE64`.
    verifier: String,
    /// The key that checks this identity's cosignatures as a witness (`mindlog check --witness`).
    witness: String,
}

impl Report for IdentityLine {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.public_key)
    }
}

/// What `identity list` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Identities(Vec<IdentityLine>);

impl Report for Identities {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for l in &self.0 {
            writeln!(out, "{:<20} {}{}", l.name, l.public_key, if l.default { "  (default)" } else { "" })?;
            writeln!(out, "{:<20} checkpoints: {}", "", l.verifier)?;
            writeln!(out, "{:<20} witness:     {}", "", l.witness)?;
        }
        Ok(())
    }
}

pub(crate) fn identity(home: &Home, cmd: IdentityCmd) -> Result<Outcome> {
    match cmd {
        IdentityCmd::New { name } => {
            or_refuse!(crate::home::new_identity_name(&name));
            let identity = home.new_identity(&name)?;
            say!("created identity {name:?}; sign with --as {name}");
            let (verifier, witness) =
                (crate::tlog_cmds::verifier_key(&identity), crate::tlog_cmds::witness_key(&identity));
            emit(
                &IdentityLine { name, public_key: identity.public_key(), default: false, verifier, witness },
                home.format(),
            )?;
        }
        IdentityCmd::List => {
            let lines = home
                .identities()?
                .into_iter()
                .enumerate()
                .map(|(i, (name, id))| IdentityLine {
                    name,
                    public_key: id.public_key(),
                    default: i == 0,
                    verifier: crate::tlog_cmds::verifier_key(&id),
                    witness: crate::tlog_cmds::witness_key(&id),
                })
                .collect();
            emit(&Identities(lines), home.format())?;
        }
    }
    Ok(Outcome::Success)
}

pub(crate) fn market(home: &Home, cmd: MarketCmd) -> Result<Outcome> {
    match cmd {
        MarketCmd::Write(cmd) => write_declared(home, cmd.command()),
        MarketCmd::List { kind, all } => list(home, kind, all),
        MarketCmd::Show { listing } => show(home, &listing),
    }
}

/// A line of `market list`.
#[derive(Serialize)]
struct ListingLine {
    id: Hash,
    kind: &'static str,
    name: String,
    owner: PublicKey,
    version: String,
    price_model: &'static str,
    price: Option<u64>,
    currency: String,
    status: &'static str,
    mean_rating: Option<f64>,
    reviews: u64,
    subscribers: u64,
    purchases: u64,
    revenue: std::collections::BTreeMap<String, u64>,
}

/// What `market list` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Listings(Vec<ListingLine>);

impl Report for Listings {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{:<16}  {:<8}  {:<24}  {:<9}  {:<20}  {:>6}  {:>5}  {:>5}  REVENUE",
            "ID", "KIND", "NAME", "VERSION", "PRICE", "RATING", "SUBS", "BUYS"
        )?;
        for l in &self.0 {
            let price = match (l.price, l.price_model) {
                (Some(p), _) => money(p, &l.currency),
                (None, "subscription") => "subscription".into(),
                _ => "free".into(),
            };
            let rating = l.mean_rating.map_or("-".into(), |r| decimal(r, 2));
            let revenue: Vec<String> = l.revenue.iter().map(|(c, a)| money(*a, c)).collect();
            writeln!(
                out,
                "{:<16}  {:<8}  {:<24}  {:<9}  {:<20}  {:>6}  {:>5}  {:>5}  {}",
                &l.id.to_string()[..16],
                l.kind,
                l.name,
                l.version,
                price,
                rating,
                l.subscribers,
                l.purchases,
                revenue.join(", ")
            )?;
        }
        if self.0.is_empty() {
            writeln!(out, "(no listings: mindlog market publish plugin NAME --price 500)")?;
        }
        Ok(())
    }
}

fn list(home: &Home, only: Option<ListingKind>, all: bool) -> Result<Outcome> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let lines: Vec<ListingLine> = views
        .listings()?
        .into_iter()
        .filter(|(_, l, _)| only.is_none_or(|k| l.kind == k) && (all || l.withdrawn.is_none()))
        .map(|(id, l, s)| ListingLine {
            id,
            kind: l.kind.as_str(),
            price_model: l.price_model(),
            status: if l.withdrawn.is_some() { "withdrawn" } else { "live" },
            name: l.name,
            owner: l.owner,
            version: l.version,
            price: l.price,
            currency: l.currency,
            mean_rating: s.mean_rating(),
            reviews: s.reviews,
            subscribers: s.subscribers,
            purchases: s.purchases,
            revenue: s.revenue,
        })
        .collect();
    emit(&Listings(lines), home.format())?;
    Ok(Outcome::Success)
}

/// The listing `reference` names: its name when exactly one listing has it, else an id or id
/// prefix; otherwise the refusal that says why.
fn resolve_listing(views: &Views, reference: &str) -> Result<Result<Hash, Refusal>> {
    let named: Vec<Hash> =
        views.listings()?.into_iter().filter(|(_, l, _)| l.name == reference).map(|(id, _, _)| id).collect();
    match named.as_slice() {
        [one] => Ok(Ok(*one)),
        [] => resolved(resolve_id(views, IdSpace::Listing, "listing", reference)),
        many => {
            let what = "listing name";
            Ok(Err(Rejection::Ambiguous { what, reference: reference.to_owned(), count: many.len() }.into()))
        }
    }
}

fn show(home: &Home, reference: &str) -> Result<Outcome> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let id = or_refuse!(resolve_listing(&views, reference)?);
    let page = views.listing_page(&id)?.context("the listing vanished from the views")?;
    emit(&Page(page), home.format())?;
    Ok(Outcome::Success)
}

/// What `market show` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Page(ListingPage);

impl Report for Page {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let p = &self.0;
        writeln!(
            out,
            "{} {}  ({}, {})",
            p.kind.as_str(),
            p.name,
            p.status,
            p.license.as_deref().unwrap_or("no license given")
        )?;
        writeln!(out, "  id         {}", p.id)?;
        writeln!(out, "  owner      {}", p.owner)?;
        writeln!(
            out,
            "  version    {} ({} versions: {})",
            p.version,
            p.versions.len(),
            p.versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>().join(", ")
        )?;
        let mut price = vec![format!("model {}", p.price_model)];
        if let Some(amount) = p.price {
            price.push(format!("one-off {}", money(amount, &p.currency)));
        }
        for t in &p.tiers {
            price.push(format!("tier {} {} per {}", t.name, money(t.amount, &p.currency), t.period.as_str()));
        }
        writeln!(out, "  price      {}", price.join("; "))?;
        let rating = p
            .mean_rating
            .map_or("no reviews".into(), |r| format!("{} from {} reviews", decimal(r, 2), p.stats.reviews));
        writeln!(out, "  rating     {rating}")?;
        writeln!(
            out,
            "  customers  {} subscribers ({} ever), {} purchases",
            p.stats.subscribers, p.stats.subscriptions, p.stats.purchases
        )?;
        let revenue: Vec<String> = p.stats.revenue.iter().map(|(c, a)| money(*a, c)).collect();
        writeln!(out, "  revenue    {}", if revenue.is_empty() { "none".into() } else { revenue.join(", ") })?;
        writeln!(out, "  bookings   {} requested, {} confirmed", p.stats.bookings, p.stats.confirmed)?;
        for b in &p.bookings {
            writeln!(
                out,
                "    {}  {} – {}  {}  by {}",
                &b.id.to_string()[..12],
                b.start,
                b.end,
                if b.confirmed { "confirmed" } else { "requested" },
                &b.requester.to_string()[..16]
            )?;
        }
        if !p.reviews.is_empty() {
            writeln!(out, "reviews")?;
            for r in &p.reviews {
                writeln!(out, "  {}  {}/5  {}", &r.reviewer.to_string()[..16], r.rating, r.text)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn follow(home: &Home, mut c: Follow) -> Result<Outcome> {
    c.target = home.key_or_name(&c.target);
    write(home, c, "following")
}

pub(crate) fn unfollow(home: &Home, mut c: Unfollow) -> Result<Outcome> {
    c.target = home.key_or_name(&c.target);
    write(home, c, "no longer following")
}

pub(crate) fn award(home: &Home, mut c: Award) -> Result<Outcome> {
    c.member = home.key_or_name(&c.member);
    write(home, c, "badge awarded")
}

/// What `leaderboard listings` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct ListingBoard(Vec<ListingRank>);

impl Report for ListingBoard {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{:>4}  {:>7}  {:<16}  {:<8}  {:<24}  {:>6}  {:>7}  {:>5}  {:>5}",
            "RANK", "SCORE", "ID", "KIND", "NAME", "RATING", "REVIEWS", "SUBS", "BUYS"
        )?;
        for r in &self.0 {
            let rating = r.mean_rating.map_or("-".into(), |x| decimal(x, 2));
            writeln!(
                out,
                "{:>4}  {:>7}  {:<16}  {:<8}  {:<24}  {:>6}  {:>7}  {:>5}  {:>5}",
                r.rank,
                decimal(r.score, 3),
                &r.listing.to_string()[..16],
                r.kind,
                r.name,
                rating,
                r.reviews,
                r.subscribers,
                r.purchases
            )?;
        }
        Ok(())
    }
}

/// What `leaderboard creators` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct CreatorBoard(Vec<CreatorRank>);

impl Report for CreatorBoard {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{:>4}  {:>7}  {:<64}  {:>8}  REVENUE", "RANK", "SCORE", "CREATOR", "LISTINGS")?;
        for r in &self.0 {
            let revenue: Vec<String> = r.revenue.iter().map(|(c, a)| money(*a, c)).collect();
            writeln!(
                out,
                "{:>4}  {:>7}  {}  {:>8}  {}",
                r.rank,
                decimal(r.score, 3),
                r.creator,
                r.listings,
                revenue.join(", ")
            )?;
        }
        Ok(())
    }
}

pub(crate) fn leaderboard(home: &Home, board: BoardArg, limit: usize) -> Result<Outcome> {
    let session = Session::open(home)?;
    let views = session.views()?;
    match board {
        BoardArg::Listings => {
            let ranks = views.leaderboard_listings()?.into_iter().take(limit).collect();
            emit(&ListingBoard(ranks), home.format())?;
        }
        BoardArg::Creators => {
            let ranks = views.leaderboard_creators()?.into_iter().take(limit).collect();
            emit(&CreatorBoard(ranks), home.format())?;
        }
    }
    say!("ranked by formula {}", mindlog_projections::LEADERBOARD_FORMULA);
    Ok(Outcome::Success)
}

pub(crate) fn rep(home: &Home, cmd: RepCmd) -> Result<Outcome> {
    match cmd {
        RepCmd::Attest(mut c) => {
            c.subject = home.key_or_name(&c.subject);
            write(home, c, "attested")
        }
        RepCmd::Vouch(mut c) => {
            c.subject = home.key_or_name(&c.subject);
            write(home, c, "vouched")
        }
        RepCmd::Unvouch(mut c) => {
            c.subject = home.key_or_name(&c.subject);
            write(home, c, "vouch withdrawn")
        }
        RepCmd::Report(mut c) => {
            c.subject = home.key_or_name(&c.subject);
            write(home, c, "reported")
        }
        RepCmd::Resolve(c) => {
            let what = if c.upheld { "report upheld" } else { "report dismissed" };
            write(home, c, what)
        }
        RepCmd::Show { subject, as_of } => {
            let session = Session::open(home)?;
            let views = session.views()?;
            let key = or_refuse!(home.author(&subject, views.snapshot())?);
            let rep = views.reputation(&key, as_of.map_or_else(now_micros, |t| t.0))?;
            emit(&rep, home.format())?;
            Ok(Outcome::Success)
        }
    }
}

impl Report for Reputation {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = self;
        writeln!(out, "{}", r.subject)?;
        writeln!(
            out,
            "  score     {} / 100  ({:?}) as of {}, formula {}",
            decimal(r.score, 1),
            r.tier,
            r.as_of,
            r.formula
        )?;
        let rate = r.success_rate.map_or("-".into(), |x| format!("{}%", decimal(x * 100.0, 0)));
        writeln!(
            out,
            "  tasks     {} attestations, success rate {rate}, weight {} after decay; track {}",
            r.attestations,
            decimal(r.evidence, 2),
            decimal(r.track, 3)
        )?;
        writeln!(out, "  vouches   {} live; vouch part {}", r.vouches.len(), decimal(r.vouch, 3))?;
        for v in &r.vouches {
            writeln!(
                out,
                "    {}  since {}  standing {}",
                &v.voucher.to_string()[..16],
                v.since,
                decimal(v.standing, 3)
            )?;
        }
        writeln!(
            out,
            "  reports   {} ({} upheld); penalty {}",
            r.violations.len(),
            r.violations.iter().filter(|v| v.upheld).count(),
            decimal(r.penalty, 3)
        )?;
        for v in &r.violations {
            if v.category == "fork" {
                // A fork proof needs no verdict: anyone can check it (mindlog forks).
                writeln!(out, "    {}  fork proof (two events with one seq)  UPHELD", &v.report.to_string()[..12])?;
                continue;
            }
            writeln!(
                out,
                "    {}  {}  {} uphold / {} dismiss{}",
                &v.report.to_string()[..12],
                v.category,
                v.upheld_by,
                v.dismissed_by,
                if v.upheld { "  UPHELD" } else { "" }
            )?;
        }
        Ok(())
    }
}

pub(crate) fn audit(home: &Home, cmd: AuditCmd) -> Result<Outcome> {
    match cmd {
        AuditCmd::Write(cmd) => write_declared(home, cmd.command()),
        AuditCmd::Show { session } => {
            let s = Session::open(home)?;
            let page = s.views()?.audit_session(&session)?;
            if page.requests == 0 {
                return Ok(Outcome::Refused(Refusal::UnknownSession { session }));
            }
            emit(&page, home.format())?;
            Ok(Outcome::Success)
        }
        AuditCmd::Pending => {
            let s = Session::open(home)?;
            emit(&Pending(s.views()?.audit_pending()?), home.format())?;
            Ok(Outcome::Success)
        }
    }
}

impl Report for AuditSession {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let a = self;
        writeln!(
            out,
            "session {}: {} requests ({} allow, {} deny, {} ask); {} results ({} failed); {} tokens, {} ms, {} cents",
            a.session,
            a.requests,
            a.allowed,
            a.denied,
            a.asked,
            a.completed,
            a.failed,
            thousands(a.tokens),
            thousands(a.duration_ms),
            thousands(a.cost_cents)
        )?;
        for line in &a.timeline {
            writeln!(
                out,
                "  {}  {}  {:<14} {:<10} scope {:<12} {:<6} {:<9} {}",
                line.at,
                &line.id.to_string()[..12],
                line.tool,
                line.args_digest.chars().take(10).collect::<String>(),
                line.scope,
                line.decision.as_str(),
                line.status,
                line.reason
            )?;
            if let Some(answer) = &line.answer {
                writeln!(out, "      {} at {}", if answer.approved { "approved" } else { "denied" }, answer.at)?;
            }
            if let Some(res) = &line.result {
                writeln!(
                    out,
                    "      {} in {} ms, {} tokens, {} cents, model {}",
                    if res.ok { "ok" } else { "failed" },
                    res.duration_ms,
                    res.tokens,
                    res.cost_cents,
                    if res.model.is_empty() { "-" } else { &res.model }
                )?;
            }
        }
        if a.timeline.is_empty() {
            writeln!(out, "  (no requests in this session)")?;
        }
        Ok(())
    }
}

/// What `audit pending` prints: requests waiting for a person, oldest first.
#[derive(Serialize)]
#[serde(transparent)]
struct Pending(Vec<AuditLine>);

impl Report for Pending {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{:<20}  {:<12}  {:<16}  {:<16}  {:<14}  {:<12}  REASON",
            "ASKED", "REQUEST", "AUTHOR", "SESSION", "TOOL", "SCOPE"
        )?;
        for line in &self.0 {
            writeln!(
                out,
                "{:<20}  {:<12}  {:<16}  {:<16}  {:<14}  {:<12}  {}",
                line.at.to_string(),
                &line.id.to_string()[..12],
                &line.author.to_string()[..16],
                line.session,
                line.tool,
                line.scope,
                line.reason
            )?;
        }
        if self.0.is_empty() {
            writeln!(out, "(no requests are waiting for an answer)")?;
        } else {
            writeln!(out, "answer with: mindlog audit approve REQUEST, or mindlog audit deny REQUEST")?;
        }
        Ok(())
    }
}
