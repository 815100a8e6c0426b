//! The marketplace, community, reputation, audit and identity commands.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use mindlog_commands::{Award, Follow, IdSpace, ListingKind, Unfollow, resolve_id};
use mindlog_ledger::{Hash, PublicKey};
use mindlog_projections::{AuditSession, ListingPage, Reputation};

use crate::cli::{AuditCmd, BoardArg, GuildCmd, IdentityCmd, MarketCmd, RepCmd};
use crate::home::Home;
use crate::persona_cmds::write;
use crate::session::{Session, decide_error};
use crate::ui::{now_micros, thousands};
use crate::{Outcome, Rejected};

/// Money in minor units as `12.34 EUR`.
fn money(amount: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", amount / 100, amount % 100)
}

pub(crate) fn identity(home: &Home, cmd: IdentityCmd) -> Result<Outcome> {
    match cmd {
        IdentityCmd::New { name } => {
            let identity = home.new_identity(&name)?;
            eprintln!("created identity {name:?}; sign with --as {name}");
            writeln!(io::stdout().lock(), "{}", identity.public_key())?;
        }
        IdentityCmd::List(flag) => {
            #[derive(serde::Serialize)]
            struct Line {
                name: String,
                public_key: PublicKey,
                default: bool,
            }
            let lines: Vec<Line> = home
                .identities()?
                .into_iter()
                .enumerate()
                .map(|(i, (name, id))| Line { name, public_key: id.public_key(), default: i == 0 })
                .collect();
            let mut out = BufWriter::new(io::stdout().lock());
            if flag.json {
                serde_json::to_writer_pretty(&mut out, &lines)?;
                writeln!(out)?;
            } else {
                for l in &lines {
                    writeln!(out, "{:<20} {}{}", l.name, l.public_key, if l.default { "  (default)" } else { "" })?;
                }
            }
            out.flush()?;
        }
    }
    Ok(Outcome::Success)
}

pub(crate) fn market(home: &Home, cmd: MarketCmd) -> Result<Outcome> {
    match cmd {
        MarketCmd::Publish(c) => {
            let what = format!("published {} {:?}", c.kind.as_str(), c.name);
            write(home, c, &what)
        }
        MarketCmd::Update(c) => write(home, c, "listing updated"),
        MarketCmd::Withdraw(c) => write(home, c, "listing withdrawn"),
        MarketCmd::Subscribe(c) => write(home, c, "subscribed"),
        MarketCmd::Unsubscribe(c) => write(home, c, "unsubscribed"),
        MarketCmd::Buy(c) => write(home, c, "bought"),
        MarketCmd::Book(c) => write(home, c, "booking requested"),
        MarketCmd::Confirm(c) => write(home, c, "booking confirmed"),
        MarketCmd::List { kind, all, json } => list(home, kind, all, json),
        MarketCmd::Show { listing, json } => show(home, &listing, json),
    }
}

fn list(home: &Home, only: Option<ListingKind>, all: bool, json: bool) -> Result<Outcome> {
    let session = Session::open(home)?;
    let views = session.views()?;
    #[derive(serde::Serialize)]
    struct Line {
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
    let lines: Vec<Line> = views
        .listings()?
        .into_iter()
        .filter(|(_, l, _)| only.is_none_or(|k| l.kind == k) && (all || l.withdrawn.is_none()))
        .map(|(id, l, s)| Line {
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
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &lines)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<16}  {:<8}  {:<24}  {:<9}  {:<20}  {:>6}  {:>5}  {:>5}  REVENUE",
            "ID", "KIND", "NAME", "VERSION", "PRICE", "RATING", "SUBS", "BUYS"
        )?;
        for l in &lines {
            let price = match (l.price, l.price_model) {
                (Some(p), _) => money(p, &l.currency),
                (None, "subscription") => "subscription".into(),
                _ => "free".into(),
            };
            let rating = l.mean_rating.map_or("-".into(), |r| format!("{r:.2}"));
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
        if lines.is_empty() {
            writeln!(out, "(no listings: mindlog market publish plugin NAME --price 500)")?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn show(home: &Home, reference: &str, json: bool) -> Result<Outcome> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let id = resolve_id(&views, IdSpace::Listing, "listing", reference).map_err(decide_error)?;
    let page = views.listing_page(&id)?.ok_or_else(|| Rejected(format!("unknown listing {reference:?}")))?;
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &page)?;
        writeln!(out)?;
    } else {
        print_listing(&mut out, &page)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn print_listing(out: &mut dyn Write, p: &ListingPage) -> Result<()> {
    let l = &p.listing;
    writeln!(
        out,
        "{} {}  ({}, {})",
        l.kind.as_str(),
        l.name,
        p.status,
        l.license.as_deref().unwrap_or("no license given")
    )?;
    writeln!(out, "  id         {}", p.id)?;
    writeln!(out, "  owner      {}", l.owner)?;
    writeln!(
        out,
        "  version    {} ({} versions: {})",
        l.version,
        p.versions.len(),
        p.versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>().join(", ")
    )?;
    let mut price = vec![format!("model {}", p.price_model)];
    if let Some(amount) = l.price {
        price.push(format!("one-off {}", money(amount, &l.currency)));
    }
    for t in &l.tiers {
        price.push(format!("tier {} {} per {}", t.name, money(t.amount, &l.currency), t.period.as_str()));
    }
    writeln!(out, "  price      {}", price.join("; "))?;
    let rating = p.mean_rating.map_or("no reviews".into(), |r| format!("{r:.2} from {} reviews", p.stats.reviews));
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
        for (who, r) in &p.reviews {
            writeln!(out, "  {}  {}/5  {}", &who.to_string()[..16], r.rating, r.text)?;
        }
    }
    Ok(())
}

pub(crate) fn follow(home: &Home, mut c: Follow) -> Result<Outcome> {
    c.target = home.key_or_name(&c.target);
    write(home, c, "following")
}

pub(crate) fn unfollow(home: &Home, mut c: Unfollow) -> Result<Outcome> {
    c.target = home.key_or_name(&c.target);
    write(home, c, "no longer following")
}

pub(crate) fn guild(home: &Home, cmd: GuildCmd) -> Result<Outcome> {
    match cmd {
        GuildCmd::Create(c) => {
            let what = format!("created guild {:?}", c.name);
            write(home, c, &what)
        }
        GuildCmd::Join(c) => write(home, c, "joined"),
        GuildCmd::Leave(c) => write(home, c, "left"),
    }
}

pub(crate) fn award(home: &Home, mut c: Award) -> Result<Outcome> {
    c.member = home.key_or_name(&c.member);
    write(home, c, "badge awarded")
}

pub(crate) fn leaderboard(home: &Home, board: BoardArg, limit: usize, json: bool) -> Result<Outcome> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let mut out = BufWriter::new(io::stdout().lock());
    match board {
        BoardArg::Listings => {
            let ranks: Vec<_> = views.leaderboard_listings()?.into_iter().take(limit).collect();
            if json {
                serde_json::to_writer_pretty(&mut out, &ranks)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:>4}  {:>7}  {:<16}  {:<8}  {:<24}  {:>6}  {:>7}  {:>5}  {:>5}",
                    "RANK", "SCORE", "ID", "KIND", "NAME", "RATING", "REVIEWS", "SUBS", "BUYS"
                )?;
                for r in &ranks {
                    let rating = r.mean_rating.map_or("-".into(), |x| format!("{x:.2}"));
                    writeln!(
                        out,
                        "{:>4}  {:>7.3}  {:<16}  {:<8}  {:<24}  {:>6}  {:>7}  {:>5}  {:>5}",
                        r.rank,
                        r.score,
                        &r.listing.to_string()[..16],
                        r.kind,
                        r.name,
                        rating,
                        r.reviews,
                        r.subscribers,
                        r.purchases
                    )?;
                }
            }
        }
        BoardArg::Creators => {
            let ranks: Vec<_> = views.leaderboard_creators()?.into_iter().take(limit).collect();
            if json {
                serde_json::to_writer_pretty(&mut out, &ranks)?;
                writeln!(out)?;
            } else {
                writeln!(out, "{:>4}  {:>7}  {:<64}  {:>8}  REVENUE", "RANK", "SCORE", "CREATOR", "LISTINGS")?;
                for r in &ranks {
                    let revenue: Vec<String> = r.revenue.iter().map(|(c, a)| money(*a, c)).collect();
                    writeln!(
                        out,
                        "{:>4}  {:>7.3}  {}  {:>8}  {}",
                        r.rank,
                        r.score,
                        r.creator,
                        r.listings,
                        revenue.join(", ")
                    )?;
                }
            }
        }
    }
    writeln!(io::stderr(), "ranked by formula {}", mindlog_projections::LEADERBOARD_FORMULA)?;
    out.flush()?;
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
        RepCmd::Show { subject, as_of, json } => {
            let key: PublicKey = home
                .key_or_name(&subject)
                .parse()
                .map_err(|_| Rejected(format!("{subject:?} is neither a public key nor a local identity name")))?;
            let session = Session::open(home)?;
            let rep = session.views()?.reputation(&key, as_of.map_or_else(now_micros, |t| t.0))?;
            let mut out = BufWriter::new(io::stdout().lock());
            if json {
                serde_json::to_writer_pretty(&mut out, &rep)?;
                writeln!(out)?;
            } else {
                print_rep(&mut out, &rep)?;
            }
            out.flush()?;
            Ok(Outcome::Success)
        }
    }
}

fn print_rep(out: &mut dyn Write, r: &Reputation) -> Result<()> {
    writeln!(out, "{}", r.subject)?;
    writeln!(out, "  score     {:.1} / 100  ({:?}) as of {}, formula {}", r.score, r.tier, r.as_of, r.formula)?;
    let rate = r.success_rate.map_or("-".into(), |x| format!("{:.0}%", x * 100.0));
    writeln!(
        out,
        "  tasks     {} attestations, success rate {rate}, weight {:.2} after decay; track {:.3}",
        r.attestations, r.evidence, r.track
    )?;
    writeln!(out, "  vouches   {} live; vouch part {:.3}", r.vouches.len(), r.vouch)?;
    for v in &r.vouches {
        writeln!(out, "    {}  since {}  standing {:.3}", &v.voucher.to_string()[..16], v.since, v.standing)?;
    }
    writeln!(
        out,
        "  reports   {} ({} upheld); penalty {:.3}",
        r.violations.len(),
        r.violations.iter().filter(|v| v.upheld).count(),
        r.penalty
    )?;
    for v in &r.violations {
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

pub(crate) fn audit(home: &Home, cmd: AuditCmd) -> Result<Outcome> {
    match cmd {
        AuditCmd::Tool(c) => write(home, c, "request recorded"),
        AuditCmd::Approve(c) => write(home, c, "approved"),
        AuditCmd::Deny(c) => write(home, c, "denied"),
        AuditCmd::Done(c) => write(home, c, "result recorded"),
        AuditCmd::Show { session, json } => {
            let s = Session::open(home)?;
            let audit = s.views()?.audit_session(&session)?;
            let mut out = BufWriter::new(io::stdout().lock());
            if json {
                serde_json::to_writer_pretty(&mut out, &audit)?;
                writeln!(out)?;
            } else {
                print_audit(&mut out, &audit)?;
            }
            out.flush()?;
            Ok(Outcome::Success)
        }
    }
}

fn print_audit(out: &mut dyn Write, a: &AuditSession) -> Result<()> {
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
        let r = &line.request;
        writeln!(
            out,
            "  {}  {}  {:<14} {:<10} scope {:<12} {:<6} {:<9} {}",
            mindlog_commands::Instant(r.at),
            &line.id.to_string()[..12],
            r.tool,
            r.args_digest.chars().take(10).collect::<String>(),
            r.scope,
            r.decision.as_str(),
            line.status,
            r.reason
        )?;
        if let Some(answer) = &r.answer {
            writeln!(
                out,
                "      {} at {}",
                if answer.approved { "approved" } else { "denied" },
                mindlog_commands::Instant(answer.at)
            )?;
        }
        if let Some(res) = &r.result {
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
