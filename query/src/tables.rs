//! Every view as a table: its columns and how its rows come out of the views. docs/query.md
//! lists them all (`mindlog query --tables` prints the same from here).

use mindlog_commands::Micros;
use mindlog_ledger::StorageError;
use mindlog_projections::{Views, close_rate, interactions, memory_strength, stage, trait_word};

use crate::cells::{Cell, Col, Column, c, n};

/// Rows of a table as of an instant.
pub(crate) type Rows = Result<Vec<Vec<Cell>>, StorageError>;

/// A view table.
pub(crate) struct TableDef {
    pub(crate) name: &'static str,
    pub(crate) doc: &'static str,
    pub(crate) columns: &'static [Column],
    pub(crate) rows: fn(&Views, Micros) -> Rows,
}

fn hex(k: &impl ToString) -> Cell {
    Cell::Str(k.to_string())
}

fn ts(micros: Micros) -> Cell {
    Cell::Ts(micros)
}

fn opt_ts(micros: Option<Micros>) -> Cell {
    micros.map_or(Cell::Null, Cell::Ts)
}

fn unit(u: mindlog_commands::Units) -> Cell {
    Cell::F64(u.as_f64())
}

const ID: Column = c("id", Col::Str, "id: the hash of the creating event");
const PERSONA: Column = c("persona", Col::Str, "the persona's id");
const LISTING: Column = c("listing", Col::Str, "the listing's id");

pub(crate) const TABLES: &[TableDef] = &[
    TableDef {
        name: "personas",
        doc: "one row per persona, with its traits, stage and counters",
        columns: &[
            ID,
            c("owner", Col::Str, "the owner's public key"),
            c("name", Col::Str, "unique among the owner's personas"),
            c("description", Col::Str, "free text"),
            c("status", Col::Str, "active or retired"),
            c("created", Col::Ts, "when it was created"),
            n("retired", Col::Ts, "when it was retired"),
            n("successor", Col::Str, "the persona that took over"),
            n("parent", Col::Str, "the persona it was forked from"),
            n("license", Col::Str, "the license it was forked under"),
            c("stage", Col::Str, "S0 to S4 (formula stage/1)"),
            c("interactions", Col::U64, "messages + reflections + memories added"),
            c("openness", Col::F64, "Big Five, 0 to 1"),
            c("conscientiousness", Col::F64, "Big Five, 0 to 1"),
            c("extraversion", Col::F64, "Big Five, 0 to 1"),
            c("agreeableness", Col::F64, "Big Five, 0 to 1"),
            c("neuroticism", Col::F64, "Big Five, 0 to 1"),
            c("trait_updates", Col::U64, "trait changes applied"),
            c("messages_user", Col::U64, "messages from the user"),
            c("messages_assistant", Col::U64, "messages from the persona"),
            c("messages_system", Col::U64, "system messages"),
            c("reflections", Col::U64, "reflections"),
            c("emotions", Col::U64, "emotions recorded"),
            n("valence_mean", Col::F64, "rolling mean valence"),
            n("arousal_mean", Col::F64, "rolling mean arousal"),
            n("model", Col::Str, "the model it runs on"),
            n("model_hash", Col::Str, "that model's hash"),
            c("model_swaps", Col::U64, "model.use events"),
            c("memories_added", Col::U64, "memories added"),
            c("memories_forgotten", Col::U64, "memories forgotten"),
            c("events", Col::U64, "events that changed it"),
            c("last_event", Col::Ts, "the latest of them"),
        ],
        rows: |v, _| {
            Ok(v.personas()?
                .into_iter()
                .map(|(id, p)| {
                    let t = p.traits.values();
                    let emotions = p.emotions > 0;
                    vec![
                        hex(&id),
                        hex(&p.owner),
                        p.name.clone().into(),
                        p.description.clone().into(),
                        (if p.retired.is_some() { "retired" } else { "active" }).into(),
                        ts(p.created),
                        opt_ts(p.retired.as_ref().map(|r| r.at)),
                        p.retired.as_ref().and_then(|r| r.successor).map(|s| s.to_string()).into(),
                        p.parent.map(|s| s.to_string()).into(),
                        p.license.clone().into(),
                        format!("{:?}", stage(&p)).into(),
                        interactions(&p).into(),
                        unit(t[0]),
                        unit(t[1]),
                        unit(t[2]),
                        unit(t[3]),
                        unit(t[4]),
                        p.trait_updates.into(),
                        p.messages.user.into(),
                        p.messages.assistant.into(),
                        p.messages.system.into(),
                        p.reflections.into(),
                        p.emotions.into(),
                        if emotions { unit(p.emotion_mean.0) } else { Cell::Null },
                        if emotions { unit(p.emotion_mean.1) } else { Cell::Null },
                        p.model.as_ref().map(|m| m.model.clone()).into(),
                        p.model.as_ref().map(|m| m.hash.clone()).into(),
                        p.model_swaps.into(),
                        p.memories_added.into(),
                        p.memories_forgotten.into(),
                        p.events.into(),
                        ts(p.last_event),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "traits",
        doc: "one row per persona and Big Five trait",
        columns: &[
            PERSONA,
            c("trait", Col::Str, "openness, conscientiousness, extraversion, agreeableness or neuroticism"),
            c("value", Col::F64, "0 to 1"),
            c("word", Col::Str, "very low, low, moderate, high or very high"),
            c("updates", Col::U64, "trait changes applied to the persona"),
        ],
        rows: |v, _| {
            let mut out = Vec::new();
            for (id, p) in v.personas()? {
                for (name, value) in mindlog_commands::Traits::NAMES.iter().zip(p.traits.values()) {
                    out.push(vec![
                        hex(&id),
                        (*name).into(),
                        unit(value),
                        trait_word(value).into(),
                        p.trait_updates.into(),
                    ]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "commitments",
        doc: "one row per commitment",
        columns: &[
            ID,
            PERSONA,
            c("owner", Col::Str, "the persona's owner"),
            c("title", Col::Str, "what is promised"),
            c("status", Col::Str, "open, closed or expired"),
            c("opened", Col::Ts, "when it was opened"),
            n("due", Col::Ts, "when it is due"),
            n("ended", Col::Ts, "when it was closed or expired"),
            n("outcome", Col::Str, "done, failed or cancelled"),
            n("lifespan_events", Col::U64, "events of the owner's feed between opening and the end"),
        ],
        rows: |v, _| {
            let mut out = Vec::new();
            for (pid, _) in v.personas()? {
                for (id, c) in v.commitments_of(&pid)? {
                    out.push(vec![
                        hex(&id),
                        hex(&pid),
                        hex(&c.owner),
                        c.title.into(),
                        c.status.as_str().into(),
                        ts(c.opened),
                        opt_ts(c.due),
                        opt_ts(c.ended),
                        c.outcome.map(|o| o.as_str()).into(),
                        c.lifespan_events.into(),
                    ]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "commitment_health",
        doc: "one row per persona: how it keeps its commitments",
        columns: &[
            PERSONA,
            c("opened", Col::U64, "commitments opened"),
            c("open", Col::U64, "still open"),
            c("closed", Col::U64, "closed (any outcome)"),
            c("done", Col::U64, "closed as done"),
            c("expired", Col::U64, "expired by a sweep"),
            n("close_rate", Col::F64, "done / (closed + expired)"),
            n("mean_lifespan_events", Col::F64, "mean lifespan of closed ones, in feed events"),
        ],
        rows: |v, _| {
            Ok(v.personas()?
                .into_iter()
                .map(|(id, p)| {
                    let c = p.commitments;
                    vec![
                        hex(&id),
                        c.opened.into(),
                        (c.opened - c.closed - c.expired).into(),
                        c.closed.into(),
                        c.done.into(),
                        c.expired.into(),
                        close_rate(&c).into(),
                        (c.closed > 0).then(|| c.lifespan_events as f64 / c.closed as f64).into(),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "memories",
        doc: "one row per memory, with its strength as of --as-of",
        columns: &[
            ID,
            PERSONA,
            c("text", Col::Str, "what is remembered"),
            c("importance", Col::F64, "0 to 1"),
            c("tags", Col::Str, "comma-separated labels"),
            c("created", Col::Ts, "when it was added"),
            n("forgotten", Col::Ts, "when it was forgotten"),
            c("strength", Col::F64, "importance × 0.5^(age / 30 days) as of --as-of; 0 once forgotten"),
        ],
        rows: |v, as_of| {
            let mut out = Vec::new();
            for (pid, _) in v.personas()? {
                for (id, m) in v.memories_of(&pid)? {
                    let strength = memory_strength(m.importance, m.created, m.forgotten, as_of);
                    out.push(vec![
                        hex(&id),
                        hex(&pid),
                        m.text.into(),
                        unit(m.importance),
                        m.tags.join(",").into(),
                        ts(m.created),
                        opt_ts(m.forgotten),
                        strength.into(),
                    ]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "consent",
        doc: "one row per persona and consent scope",
        columns: &[
            PERSONA,
            c("scope", Col::Str, "what it is about"),
            c("allow", Col::Bool, "allowed or denied"),
            c("since", Col::Ts, "since when"),
        ],
        rows: |v, _| {
            let mut out = Vec::new();
            for (pid, _) in v.personas()? {
                for (scope, row) in v.consent_of(&pid)? {
                    out.push(vec![hex(&pid), scope.into(), row.allow.into(), ts(row.at)]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "models",
        doc: "one row per model a persona ran on (its history of model swaps)",
        columns: &[
            PERSONA,
            c("model", Col::Str, "the model"),
            c("hash", Col::Str, "its content hash"),
            c("since", Col::Ts, "since when"),
        ],
        rows: |v, _| {
            let mut out = Vec::new();
            for (pid, _) in v.personas()? {
                for m in v.models_of(&pid)? {
                    out.push(vec![hex(&pid), m.model.into(), m.hash.into(), ts(m.at)]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "lineage",
        doc: "one row per persona: where it came from",
        columns: &[
            PERSONA,
            n("parent", Col::Str, "forked from"),
            n("license", Col::Str, "license of the fork"),
            c("depth", Col::U64, "forks between it and its root"),
            c("children", Col::U64, "forks of it"),
        ],
        rows: |v, _| {
            let mut out = Vec::new();
            for (id, p) in v.personas()? {
                out.push(vec![
                    hex(&id),
                    p.parent.map(|s| s.to_string()).into(),
                    p.license.clone().into(),
                    v.lineage_depth(&id)?.into(),
                    (v.children_of(&id)?.len() as u64).into(),
                ]);
            }
            Ok(out)
        },
    },
    TableDef {
        name: "listings",
        doc: "one row per listing, with its price model and what others did with it",
        columns: &[
            ID,
            c("owner", Col::Str, "the owner's public key"),
            c("kind", Col::Str, "plugin, service, api, modpack or theme"),
            c("name", Col::Str, "its name"),
            c("version", Col::Str, "current version"),
            c("price_model", Col::Str, "one-off, subscription, one-off+subscription or free"),
            n("price", Col::U64, "one-off price, minor units"),
            c("currency", Col::Str, "ISO 4217"),
            c("tiers", Col::Str, "name:amount:period, comma-separated"),
            n("license", Col::Str, "its license"),
            c("status", Col::Str, "live or withdrawn"),
            c("created", Col::Ts, "published"),
            c("updated", Col::Ts, "last changed"),
            n("withdrawn", Col::Ts, "withdrawn"),
            c("reviews", Col::U64, "live reviews (one per reviewer)"),
            n("mean_rating", Col::F64, "mean of their ratings, 1 to 5"),
            c("subscribers", Col::U64, "live subscriptions"),
            c("subscriptions", Col::U64, "subscriptions ever made"),
            c("purchases", Col::U64, "purchases"),
            c("bookings", Col::U64, "booking requests"),
            c("confirmed", Col::U64, "bookings confirmed"),
        ],
        rows: |v, _| {
            Ok(v.listings()?
                .into_iter()
                .map(|(id, l, s)| {
                    vec![
                        hex(&id),
                        hex(&l.owner),
                        l.kind.as_str().into(),
                        l.name.clone().into(),
                        l.version.clone().into(),
                        l.price_model().into(),
                        l.price.into(),
                        l.currency.clone().into(),
                        l.tiers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",").into(),
                        l.license.clone().into(),
                        (if l.withdrawn.is_some() { "withdrawn" } else { "live" }).into(),
                        ts(l.created),
                        ts(l.updated),
                        opt_ts(l.withdrawn),
                        s.reviews.into(),
                        s.mean_rating().into(),
                        s.subscribers.into(),
                        s.subscriptions.into(),
                        s.purchases.into(),
                        s.bookings.into(),
                        s.confirmed.into(),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "revenue",
        doc: "one row per listing and currency: purchases plus first subscription periods",
        columns: &[LISTING, c("currency", Col::Str, "ISO 4217"), c("amount", Col::U64, "minor units")],
        rows: |v, _| {
            let mut out = Vec::new();
            for (id, _, s) in v.listings()? {
                for (currency, amount) in s.revenue {
                    out.push(vec![hex(&id), currency.into(), amount.into()]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "reviews",
        doc: "one row per listing and reviewer (the reviewer's latest review)",
        columns: &[
            LISTING,
            c("reviewer", Col::Str, "public key"),
            c("rating", Col::U64, "1 to 5"),
            c("text", Col::Str, "text"),
            c("at", Col::Ts, "when"),
        ],
        rows: |v, _| {
            Ok(v.review_rows()?
                .into_iter()
                .map(|(id, who, r)| vec![hex(&id), hex(&who), u64::from(r.rating).into(), r.text.into(), ts(r.at)])
                .collect())
        },
    },
    TableDef {
        name: "subscriptions",
        doc: "one row per live subscription",
        columns: &[
            LISTING,
            c("subscriber", Col::Str, "public key"),
            c("tier", Col::Str, "tier name"),
            c("amount", Col::U64, "price per period when subscribed, minor units"),
            c("currency", Col::Str, "ISO 4217"),
            c("period", Col::Str, "day, week, month or year"),
            c("since", Col::Ts, "since when"),
        ],
        rows: |v, _| {
            Ok(v.subscription_rows()?
                .into_iter()
                .map(|(id, who, s)| {
                    vec![
                        hex(&id),
                        hex(&who),
                        s.tier.into(),
                        s.amount.into(),
                        s.currency.into(),
                        s.period.as_str().into(),
                        ts(s.since),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "bookings",
        doc: "one row per booking request",
        columns: &[
            ID,
            LISTING,
            c("requester", Col::Str, "public key"),
            c("start", Col::Ts, "start"),
            c("end", Col::Ts, "end"),
            c("confirmed", Col::Bool, "confirmed by the owner"),
        ],
        rows: |v, _| {
            Ok(v.booking_rows()?
                .into_iter()
                .map(|(id, b, confirmed)| {
                    vec![hex(&id), hex(&b.listing), hex(&b.requester), ts(b.start), ts(b.end), confirmed.into()]
                })
                .collect())
        },
    },
    TableDef {
        name: "market_daily",
        doc: "marketplace counters per day (metric: published, updated, withdrawn, subscribed, unsubscribed, purchased, booked, confirmed, reviewed, revenue:CUR)",
        columns: &[
            c("day", Col::Date, "UTC day"),
            c("metric", Col::Str, "what is counted"),
            c("value", Col::U64, "count, or minor units for revenue"),
        ],
        rows: |v, _| {
            Ok(v.market_daily()?
                .into_iter()
                .map(|(day, metric, value)| vec![Cell::Date(day as i32), metric.into(), value.into()])
                .collect())
        },
    },
    TableDef {
        name: "leaderboard_listings",
        doc: "live listings ranked by formula leaderboard/1",
        columns: &[
            c("rank", Col::U64, "from 1"),
            LISTING,
            c("name", Col::Str, "name"),
            c("kind", Col::Str, "kind"),
            c("owner", Col::Str, "public key"),
            c("score", Col::F64, "bayes rating × ln(1 + engagement)"),
            n("mean_rating", Col::F64, "mean rating"),
            c("reviews", Col::U64, "reviews"),
            c("subscribers", Col::U64, "subscribers"),
            c("purchases", Col::U64, "purchases"),
        ],
        rows: |v, _| {
            Ok(v.leaderboard_listings()?
                .into_iter()
                .map(|r| {
                    vec![
                        r.rank.into(),
                        hex(&r.listing),
                        r.name.into(),
                        r.kind.into(),
                        hex(&r.owner),
                        r.score.into(),
                        r.mean_rating.into(),
                        r.reviews.into(),
                        r.subscribers.into(),
                        r.purchases.into(),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "leaderboard_creators",
        doc: "creators ranked by the sum of their live listings' scores",
        columns: &[
            c("rank", Col::U64, "from 1"),
            c("creator", Col::Str, "public key"),
            c("score", Col::F64, "sum of listing scores"),
            c("listings", Col::U64, "live listings"),
        ],
        rows: |v, _| {
            Ok(v.leaderboard_creators()?
                .into_iter()
                .map(|r| vec![r.rank.into(), hex(&r.creator), r.score.into(), r.listings.into()])
                .collect())
        },
    },
    TableDef {
        name: "follows",
        doc: "one row per follow",
        columns: &[
            c("follower", Col::Str, "public key"),
            c("target_type", Col::Str, "key or persona"),
            c("target", Col::Str, "public key or persona id"),
            c("since", Col::Ts, "since when"),
        ],
        rows: |v, _| {
            Ok(v.follow_rows()?
                .into_iter()
                .map(|(follower, target, since)| {
                    let (kind, id) = match target {
                        mindlog_commands::Target::Key(k) => ("key", k.to_string()),
                        mindlog_commands::Target::Persona(p) => ("persona", p.to_string()),
                    };
                    vec![hex(&follower), kind.into(), id.into(), ts(since)]
                })
                .collect())
        },
    },
    TableDef {
        name: "guilds",
        doc: "one row per guild",
        columns: &[
            ID,
            c("owner", Col::Str, "public key"),
            c("name", Col::Str, "name"),
            c("created", Col::Ts, "created"),
            c("members", Col::U64, "members now"),
        ],
        rows: |v, _| {
            let mut out = Vec::new();
            for (id, g) in v.guilds()? {
                out.push(vec![
                    hex(&id),
                    hex(&g.owner),
                    g.name.into(),
                    ts(g.created),
                    (v.guild_members(&id)?.len() as u64).into(),
                ]);
            }
            Ok(out)
        },
    },
    TableDef {
        name: "guild_members",
        doc: "one row per guild member",
        columns: &[c("guild", Col::Str, "guild id"), c("member", Col::Str, "public key")],
        rows: |v, _| {
            let mut out = Vec::new();
            for (id, _) in v.guilds()? {
                for m in v.guild_members(&id)? {
                    out.push(vec![hex(&id), hex(&m)]);
                }
            }
            Ok(out)
        },
    },
    TableDef {
        name: "awards",
        doc: "one row per badge given",
        columns: &[
            c("member", Col::Str, "public key"),
            c("guild", Col::Str, "guild id"),
            c("badge", Col::Str, "badge"),
            c("at", Col::Ts, "when"),
        ],
        rows: |v, _| {
            Ok(v.award_rows()?
                .into_iter()
                .map(|(member, guild, badge, a)| vec![hex(&member), hex(&guild), badge.into(), ts(a.at)])
                .collect())
        },
    },
    TableDef {
        name: "reputation",
        doc: "one row per author anything is known about, scored as of --as-of (formula rep/1)",
        columns: &[
            c("subject", Col::Str, "public key"),
            c("score", Col::F64, "0 to 100"),
            c("tier", Col::Str, "Newcomer, Established, Trusted or Elite"),
            n("success_rate", Col::F64, "decayed share of successful attestation weight"),
            c("evidence", Col::F64, "decayed attestation weight"),
            c("attestations", Col::U64, "attestations (one per attester and task)"),
            c("vouches", Col::U64, "live vouches"),
            c("violations", Col::U64, "upheld reports"),
            c("track", Col::F64, "attestation part, 0 to 1"),
            c("vouch", Col::F64, "vouch part, 0 to 1"),
            c("penalty", Col::F64, "violation penalty"),
        ],
        rows: |v, as_of| {
            let mut out = Vec::new();
            for subject in v.reputation_subjects()? {
                let r = v.reputation(&subject, as_of)?;
                out.push(vec![
                    hex(&subject),
                    r.score.into(),
                    format!("{:?}", r.tier).into(),
                    r.success_rate.into(),
                    r.evidence.into(),
                    r.attestations.into(),
                    (r.vouches.len() as u64).into(),
                    (r.violations.iter().filter(|x| x.upheld).count() as u64).into(),
                    r.track.into(),
                    r.vouch.into(),
                    r.penalty.into(),
                ]);
            }
            Ok(out)
        },
    },
    TableDef {
        name: "attestations",
        doc: "one row per attester, subject and task (the attester's latest)",
        columns: &[
            c("subject", Col::Str, "public key"),
            c("attester", Col::Str, "public key"),
            c("task", Col::Str, "task"),
            c("outcome", Col::Str, "success or failure"),
            c("weight", Col::U64, "1 to 10"),
            c("at", Col::Ts, "when"),
        ],
        rows: |v, _| {
            Ok(v.attestation_rows()?
                .into_iter()
                .map(|(s, a, task, r)| {
                    vec![
                        hex(&s),
                        hex(&a),
                        task.into(),
                        (if r.outcome == mindlog_commands::TaskOutcome::Success { "success" } else { "failure" })
                            .into(),
                        u64::from(r.weight).into(),
                        ts(r.at),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "reports",
        doc: "one row per report, with its verdicts",
        columns: &[
            ID,
            c("reporter", Col::Str, "public key"),
            c("subject", Col::Str, "public key"),
            c("category", Col::Str, "kind of violation"),
            c("evidence", Col::Str, "event hash"),
            c("at", Col::Ts, "when"),
            c("upheld_by", Col::U64, "verdicts to uphold"),
            c("dismissed_by", Col::U64, "verdicts to dismiss"),
            c("upheld", Col::Bool, "more uphold than dismiss"),
        ],
        rows: |v, _| {
            Ok(v.report_rows()?
                .into_iter()
                .map(|(id, r, up, down)| {
                    vec![
                        hex(&id),
                        hex(&r.reporter),
                        hex(&r.subject),
                        r.category.into(),
                        hex(&r.evidence),
                        ts(r.at),
                        up.into(),
                        down.into(),
                        (up > down).into(),
                    ]
                })
                .collect())
        },
    },
    TableDef {
        name: "audit_requests",
        doc: "one row per tool call an agent asked for",
        columns: &[
            ID,
            c("author", Col::Str, "the agent's public key"),
            c("session", Col::Str, "session"),
            c("tool", Col::Str, "tool"),
            c("args_digest", Col::Str, "digest of the arguments"),
            c("scope", Col::Str, "scope"),
            c("decision", Col::Str, "allow, deny or ask"),
            c("reason", Col::Str, "why"),
            c("at", Col::Ts, "when it was asked"),
            n("approved", Col::Bool, "the answer to an ask"),
            n("answered", Col::Ts, "when it was answered"),
            n("ok", Col::Bool, "whether the call succeeded"),
            n("duration_ms", Col::U64, "duration"),
            n("tokens", Col::U64, "tokens"),
            n("cost_cents", Col::U64, "cost"),
            n("model", Col::Str, "model"),
            n("completed", Col::Ts, "when the result was recorded"),
        ],
        rows: |v, _| {
            Ok(v.audit_rows()?
                .into_iter()
                .map(|(id, r)| {
                    let res = r.result.as_ref();
                    vec![
                        hex(&id),
                        hex(&r.author),
                        r.session.clone().into(),
                        r.tool.clone().into(),
                        r.args_digest.clone().into(),
                        r.scope.clone().into(),
                        r.decision.as_str().into(),
                        r.reason.clone().into(),
                        ts(r.at),
                        r.answer.as_ref().map(|a| a.approved).into(),
                        opt_ts(r.answer.as_ref().map(|a| a.at)),
                        res.map(|x| x.ok).into(),
                        res.map(|x| x.duration_ms).into(),
                        res.map(|x| x.tokens).into(),
                        res.map(|x| x.cost_cents).into(),
                        res.map(|x| x.model.clone()).into(),
                        opt_ts(res.map(|x| x.at)),
                    ]
                })
                .collect())
        },
    },
];
