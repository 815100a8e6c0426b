//! Every view as a table: one source of rows per table, and each column declared once with how
//! its value comes out of a row. docs/query.md lists them all (`mindlog query --tables` prints
//! the same from here).

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use mindlog_commands::{Micros, Target, TaskOutcome, Traits, Units};
use mindlog_ledger::{Hash, PublicKey, StorageError};
use mindlog_projections::{
    AttestationRow, AwardRow, BookingRow, CommitmentCounts, CommitmentRow, ConsentRow, CreatorRank, GuildRow,
    ListingRank, ListingRow, ListingStats, MemoryRow, ModelRow, PersonaEmotion, PersonaMessage, PersonaReflection,
    PersonaRow, ReportRow, Reputation, RequestRow, ReviewRow, SubscriptionRow, Views, close_rate, interactions,
    memory_strength, stage, trait_word,
};

use crate::cells::{self, Column, ColumnSpec, Text, column};

/// Where a table's source puts its rows, one at a time; it answers false when no more are wanted.
type Emit<'e, R> = &'e mut dyn FnMut(R) -> bool;

/// A table's rows as of an instant, handed to `emit` in the table's order.
type Source<R> = fn(&Views, Micros, Emit<'_, R>) -> Result<(), StorageError>;

/// A view table whose rows are `R`.
pub(crate) struct TableDef<R: 'static> {
    name: &'static str,
    /// What one row is.
    doc: &'static str,
    columns: &'static [Column<R>],
    rows: Source<R>,
}

/// A view table, whatever its row type.
pub(crate) trait Table: Sync {
    fn name(&self) -> &'static str;
    fn doc(&self) -> &'static str;
    fn specs(&self) -> Vec<ColumnSpec>;
    /// Streams the `projection` of the rows as of `as_of` in batches of `batch_size` rows
    /// (`schema` is the projected schema), handing each to `send` until it answers false.
    fn scan(
        &self,
        views: &Views,
        as_of: Micros,
        projection: &[usize],
        schema: &SchemaRef,
        batch_size: usize,
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()>;
}

impl<R> Table for TableDef<R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn doc(&self) -> &'static str {
        self.doc
    }

    fn specs(&self) -> Vec<ColumnSpec> {
        self.columns.iter().map(|c| c.spec).collect()
    }

    fn scan(
        &self,
        views: &Views,
        as_of: Micros,
        projection: &[usize],
        schema: &SchemaRef,
        batch_size: usize,
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()> {
        let batch_size = batch_size.max(1);
        let mut rows: Vec<R> = Vec::new();
        let mut failed = None;
        let mut open = true;
        (self.rows)(views, as_of, &mut |row| {
            rows.push(row);
            if rows.len() >= batch_size {
                match cells::batch(self.columns, projection, &rows, schema) {
                    Ok(batch) => open = send(batch),
                    Err(e) => {
                        failed = Some(e);
                        open = false;
                    }
                }
                rows.clear();
            }
            open
        })
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if let Some(e) = failed {
            return Err(e);
        }
        if open && !rows.is_empty() {
            send(cells::batch(self.columns, projection, &rows, schema)?);
        }
        Ok(())
    }
}

/// Hands `rows` to `emit` until it asks to stop.
fn each<R>(rows: impl IntoIterator<Item = R>, emit: Emit<'_, R>) -> Result<(), StorageError> {
    for row in rows {
        if !emit(row) {
            break;
        }
    }
    Ok(())
}

fn persona_status(p: &PersonaRow) -> &'static str {
    if p.retired.is_some() { "retired" } else { "active" }
}

fn mean_lifespan(c: &CommitmentCounts) -> Option<f64> {
    (c.closed > 0).then(|| c.lifespan_events as f64 / c.closed as f64)
}

fn listing_status(l: &ListingRow) -> &'static str {
    if l.withdrawn.is_some() { "withdrawn" } else { "live" }
}

fn comma_separated(items: &[impl ToString]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn target_type(target: &Target) -> &'static str {
    match target {
        Target::Key(_) => "key",
        Target::Persona(_) => "persona",
    }
}

fn target_id(target: &Target) -> Text<'static> {
    match target {
        Target::Key(k) => Text::from(k),
        Target::Persona(p) => Text::from(p),
    }
}

fn outcome_word(outcome: TaskOutcome) -> &'static str {
    match outcome {
        TaskOutcome::Success => "success",
        TaskOutcome::Failure => "failure",
    }
}

/// Every table of the views, in the order `query --tables` and docs/query.md list them.
pub(crate) static TABLES: &[&dyn Table] = &[
    &PERSONAS,
    &TRAITS,
    &COMMITMENTS,
    &COMMITMENT_HEALTH,
    &MEMORIES,
    &MESSAGES,
    &REFLECTIONS,
    &EMOTIONS,
    &CONSENT,
    &MODELS,
    &LINEAGE,
    &LISTINGS,
    &REVENUE,
    &REVIEWS,
    &SUBSCRIPTIONS,
    &BOOKINGS,
    &MARKET_DAILY,
    &LEADERBOARD_LISTINGS,
    &LEADERBOARD_CREATORS,
    &FOLLOWS,
    &GUILDS,
    &GUILD_MEMBERS,
    &AWARDS,
    &REPUTATION,
    &ATTESTATIONS,
    &REPORTS,
    &AUDIT_REQUESTS,
];

static PERSONAS: TableDef<(Hash, PersonaRow)> = TableDef {
    name: "personas",
    doc: "one row per persona, with its traits, stage and counters",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(id, _)| id),
        column!("owner", Str, "the owner's public key", |(_, p)| &p.owner),
        column!("name", Str, "unique among the owner's personas", |(_, p)| &p.name),
        column!("description", Str, "free text", |(_, p)| &p.description),
        column!("status", Str, "active or retired", |(_, p)| persona_status(p)),
        column!("created", Ts, "when it was created", |(_, p)| p.created),
        column!("retired", Ts?, "when it was retired", |(_, p)| p.retired.as_ref().map(|r| r.at)),
        column!("successor", Str?, "the persona that took over", |(_, p)| p.retired.as_ref().and_then(|r| r.successor)),
        column!("parent", Str?, "the persona it was forked from", |(_, p)| p.parent),
        column!("license", Str?, "the license it was forked under", |(_, p)| p.license.as_ref()),
        column!("stage", Str, "S0 to S4 (formula stage/1)", |(_, p)| format!("{:?}", stage(p))),
        column!("interactions", U64, "messages + reflections + memories added", |(_, p)| interactions(p)),
        column!("openness", F64, "Big Five, 0 to 1", |(_, p)| p.traits.values()[0]),
        column!("conscientiousness", F64, "Big Five, 0 to 1", |(_, p)| p.traits.values()[1]),
        column!("extraversion", F64, "Big Five, 0 to 1", |(_, p)| p.traits.values()[2]),
        column!("agreeableness", F64, "Big Five, 0 to 1", |(_, p)| p.traits.values()[3]),
        column!("neuroticism", F64, "Big Five, 0 to 1", |(_, p)| p.traits.values()[4]),
        column!("trait_updates", U64, "trait changes applied", |(_, p)| p.trait_updates),
        column!("messages_user", U64, "messages from the user", |(_, p)| p.messages.user),
        column!("messages_assistant", U64, "messages from the persona", |(_, p)| p.messages.assistant),
        column!("messages_system", U64, "system messages", |(_, p)| p.messages.system),
        column!("reflections", U64, "reflections", |(_, p)| p.reflections),
        column!("emotions", U64, "emotions recorded", |(_, p)| p.emotions),
        column!("valence_mean", F64?, "rolling mean valence", |(_, p)| (p.emotions > 0).then_some(p.emotion_mean.0)),
        column!("arousal_mean", F64?, "rolling mean arousal", |(_, p)| (p.emotions > 0).then_some(p.emotion_mean.1)),
        column!("model", Str?, "the model it runs on", |(_, p)| p.model.as_ref().map(|m| &m.model)),
        column!("model_hash", Str?, "that model's hash", |(_, p)| p.model.as_ref().map(|m| &m.hash)),
        column!("model_swaps", U64, "model.use events", |(_, p)| p.model_swaps),
        column!("memories_added", U64, "memories added", |(_, p)| p.memories_added),
        column!("memories_forgotten", U64, "memories forgotten", |(_, p)| p.memories_forgotten),
        column!("events", U64, "events that changed it", |(_, p)| p.events),
        column!("last_event", Ts, "the latest of them", |(_, p)| p.last_event),
    ],
    rows: |v, _, emit| each(v.personas()?, emit),
};

static TRAITS: TableDef<(Hash, &'static str, Units, u64)> = TableDef {
    name: "traits",
    doc: "one row per persona and Big Five trait",
    columns: &[
        column!("persona", Str, "the persona's id", |(id, ..)| id),
        column!("trait", Str, "openness, conscientiousness, extraversion, agreeableness or neuroticism", |r| r.1),
        column!("value", F64, "0 to 1", |(_, _, value, _)| *value),
        column!("word", Str, "very low, low, moderate, high or very high", |(_, _, value, _)| trait_word(*value)),
        column!("updates", U64, "trait changes applied to the persona", |(.., updates)| *updates),
    ],
    rows: |v, _, emit| {
        let rows = v.personas()?.into_iter().flat_map(|(id, p)| {
            Traits::NAMES
                .into_iter()
                .zip(p.traits.values())
                .map(move |(name, value)| (id, name, value, p.trait_updates))
        });
        each(rows, emit)
    },
};

static COMMITMENTS: TableDef<(Hash, Hash, CommitmentRow)> = TableDef {
    name: "commitments",
    doc: "one row per commitment",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(_, id, _)| id),
        column!("persona", Str, "the persona's id", |(persona, ..)| persona),
        column!("owner", Str, "the persona's owner", |(.., c)| &c.owner),
        column!("title", Str, "what is promised", |(.., c)| &c.title),
        column!("status", Str, "open, closed or expired", |(.., c)| c.status.as_str()),
        column!("opened", Ts, "when it was opened", |(.., c)| c.opened),
        column!("due", Ts?, "when it is due", |(.., c)| c.due),
        column!("ended", Ts?, "when it was closed or expired", |(.., c)| c.ended),
        column!("outcome", Str?, "done, failed or cancelled", |(.., c)| c.outcome.map(|o| o.as_str())),
        column!("lifespan_events", U64?, "events of the owner's feed from opening to the end", |r| r.2.lifespan_events),
    ],
    rows: |v, _, emit| {
        for (persona, _) in v.personas()? {
            for (id, c) in v.commitments_of(&persona)? {
                if !emit((persona, id, c)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    },
};

static COMMITMENT_HEALTH: TableDef<(Hash, CommitmentCounts)> = TableDef {
    name: "commitment_health",
    doc: "one row per persona: how it keeps its commitments",
    columns: &[
        column!("persona", Str, "the persona's id", |(id, _)| id),
        column!("opened", U64, "commitments opened", |(_, c)| c.opened),
        column!("open", U64, "still open", |(_, c)| c.opened - c.closed - c.expired),
        column!("closed", U64, "closed (any outcome)", |(_, c)| c.closed),
        column!("done", U64, "closed as done", |(_, c)| c.done),
        column!("expired", U64, "expired by a sweep", |(_, c)| c.expired),
        column!("close_rate", F64?, "done / (closed + expired)", |(_, c)| close_rate(c)),
        column!("mean_lifespan_events", F64?, "mean lifespan of closed ones, in feed events", |r| mean_lifespan(&r.1)),
    ],
    rows: |v, _, emit| each(v.personas()?.into_iter().map(|(id, p)| (id, p.commitments)), emit),
};

static MEMORIES: TableDef<(Hash, Hash, MemoryRow, f64)> = TableDef {
    name: "memories",
    doc: "one row per memory, with its strength as of --as-of",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(_, id, ..)| id),
        column!("persona", Str, "the persona's id", |(persona, ..)| persona),
        column!("text", Str, "what is remembered", |(_, _, m, _)| &m.text),
        column!("importance", F64, "0 to 1", |(_, _, m, _)| m.importance),
        column!("tags", Str, "comma-separated labels", |(_, _, m, _)| comma_separated(&m.tags)),
        column!("created", Ts, "when it was added", |(_, _, m, _)| m.created),
        column!("forgotten", Ts?, "when it was forgotten", |(_, _, m, _)| m.forgotten),
        column!("strength", F64, "importance × 0.5^(age / 30 days) as of --as-of; 0 once forgotten", |(.., s)| *s),
    ],
    rows: |v, as_of, emit| {
        for (persona, _) in v.personas()? {
            for (id, m) in v.memories_of(&persona)? {
                let strength = memory_strength(m.importance, m.created, m.forgotten, as_of);
                if !emit((persona, id, m, strength)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    },
};

static MESSAGES: TableDef<PersonaMessage> = TableDef {
    name: "messages",
    doc: "one row per message applied to a persona, in log order",
    columns: &[
        column!("persona", Str, "the persona's id", |m| m.persona),
        column!("role", Str, "user, assistant or system", |m| m.role.as_str()),
        column!("text", Str, "what was said", |m| &m.text),
        column!("at", Ts, "when (the event's timestamp)", |m| m.at),
        column!("hash", Str, "the event's hash (join with events.hash)", |m| m.hash),
    ],
    rows: |v, _, emit| v.each_message(emit),
};

static REFLECTIONS: TableDef<PersonaReflection> = TableDef {
    name: "reflections",
    doc: "one row per reflection applied to a persona, in log order",
    columns: &[
        column!("persona", Str, "the persona's id", |r| r.persona),
        column!("text", Str, "what the persona noticed", |r| &r.text),
        column!("at", Ts, "when (the event's timestamp)", |r| r.at),
        column!("hash", Str, "the event's hash (join with events.hash)", |r| r.hash),
    ],
    rows: |v, _, emit| v.each_reflection(emit),
};

static EMOTIONS: TableDef<PersonaEmotion> = TableDef {
    name: "emotions",
    doc: "one row per emotion applied to a persona, in log order",
    columns: &[
        column!("persona", Str, "the persona's id", |e| e.persona),
        column!("valence", F64, "-1 (unpleasant) to 1 (pleasant)", |e| e.valence),
        column!("arousal", F64, "0 (calm) to 1 (excited)", |e| e.arousal),
        column!("label", Str?, "its word", |e| e.label.as_ref()),
        column!("at", Ts, "when (the event's timestamp)", |e| e.at),
        column!("hash", Str, "the event's hash (join with events.hash)", |e| e.hash),
    ],
    rows: |v, _, emit| v.each_emotion(emit),
};

static CONSENT: TableDef<(Hash, String, ConsentRow)> = TableDef {
    name: "consent",
    doc: "one row per persona and consent scope",
    columns: &[
        column!("persona", Str, "the persona's id", |(persona, ..)| persona),
        column!("scope", Str, "what it is about", |(_, scope, _)| scope),
        column!("allow", Bool, "allowed or denied", |(.., c)| c.allow),
        column!("since", Ts, "since when", |(.., c)| c.at),
    ],
    rows: |v, _, emit| {
        for (persona, _) in v.personas()? {
            for (scope, c) in v.consent_of(&persona)? {
                if !emit((persona, scope, c)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    },
};

static MODELS: TableDef<(Hash, ModelRow)> = TableDef {
    name: "models",
    doc: "one row per model a persona ran on (its history of model swaps)",
    columns: &[
        column!("persona", Str, "the persona's id", |(persona, _)| persona),
        column!("model", Str, "the model", |(_, m)| &m.model),
        column!("hash", Str, "its content hash", |(_, m)| &m.hash),
        column!("since", Ts, "since when", |(_, m)| m.at),
    ],
    rows: |v, _, emit| {
        for (persona, _) in v.personas()? {
            for m in v.models_of(&persona)? {
                if !emit((persona, m)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    },
};

static LINEAGE: TableDef<(Hash, PersonaRow, u64, u64)> = TableDef {
    name: "lineage",
    doc: "one row per persona: where it came from",
    columns: &[
        column!("persona", Str, "the persona's id", |(id, ..)| id),
        column!("parent", Str?, "forked from", |(_, p, ..)| p.parent),
        column!("license", Str?, "license of the fork", |(_, p, ..)| p.license.as_ref()),
        column!("depth", U64, "forks between it and its root", |(_, _, depth, _)| *depth),
        column!("children", U64, "forks of it", |(.., children)| *children),
    ],
    rows: |v, _, emit| {
        for (id, p) in v.personas()? {
            let (depth, children) = (v.lineage_depth(&id)?, v.children_of(&id)?.len() as u64);
            if !emit((id, p, depth, children)) {
                break;
            }
        }
        Ok(())
    },
};

static LISTINGS: TableDef<(Hash, ListingRow, ListingStats)> = TableDef {
    name: "listings",
    doc: "one row per listing, with its price model and what others did with it",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(id, ..)| id),
        column!("owner", Str, "the owner's public key", |(_, l, _)| &l.owner),
        column!("kind", Str, "plugin, service, api, modpack or theme", |(_, l, _)| l.kind.as_str()),
        column!("name", Str, "its name", |(_, l, _)| &l.name),
        column!("version", Str, "current version", |(_, l, _)| &l.version),
        column!("price_model", Str, "one-off, subscription, one-off+subscription or free", |(_, l, _)| l.price_model()),
        column!("price", U64?, "one-off price, minor units", |(_, l, _)| l.price),
        column!("currency", Str, "ISO 4217", |(_, l, _)| &l.currency),
        column!("tiers", Str, "name:amount:period, comma-separated", |(_, l, _)| comma_separated(&l.tiers)),
        column!("license", Str?, "its license", |(_, l, _)| l.license.as_ref()),
        column!("status", Str, "live or withdrawn", |(_, l, _)| listing_status(l)),
        column!("created", Ts, "published", |(_, l, _)| l.created),
        column!("updated", Ts, "last changed", |(_, l, _)| l.updated),
        column!("withdrawn", Ts?, "withdrawn", |(_, l, _)| l.withdrawn),
        column!("reviews", U64, "live reviews (one per reviewer)", |(.., s)| s.reviews),
        column!("mean_rating", F64?, "mean of their ratings, 1 to 5", |(.., s)| s.mean_rating()),
        column!("subscribers", U64, "live subscriptions", |(.., s)| s.subscribers),
        column!("subscriptions", U64, "subscriptions ever made", |(.., s)| s.subscriptions),
        column!("purchases", U64, "purchases", |(.., s)| s.purchases),
        column!("bookings", U64, "booking requests", |(.., s)| s.bookings),
        column!("confirmed", U64, "bookings confirmed", |(.., s)| s.confirmed),
    ],
    rows: |v, _, emit| each(v.listings()?, emit),
};

static REVENUE: TableDef<(Hash, String, u64)> = TableDef {
    name: "revenue",
    doc: "one row per listing and currency: purchases plus first subscription periods",
    columns: &[
        column!("listing", Str, "the listing's id", |(listing, ..)| listing),
        column!("currency", Str, "ISO 4217", |(_, currency, _)| currency),
        column!("amount", U64, "minor units", |(.., amount)| *amount),
    ],
    rows: |v, _, emit| {
        let rows = v.listings()?.into_iter().flat_map(|(id, _, s)| s.revenue.into_iter().map(move |(c, a)| (id, c, a)));
        each(rows, emit)
    },
};

static REVIEWS: TableDef<(Hash, PublicKey, ReviewRow)> = TableDef {
    name: "reviews",
    doc: "one row per listing and reviewer (the reviewer's latest review)",
    columns: &[
        column!("listing", Str, "the listing's id", |(listing, ..)| listing),
        column!("reviewer", Str, "public key", |(_, reviewer, _)| reviewer),
        column!("rating", U64, "1 to 5", |(.., r)| u64::from(r.rating)),
        column!("text", Str, "text", |(.., r)| &r.text),
        column!("at", Ts, "when", |(.., r)| r.at),
    ],
    rows: |v, _, emit| each(v.review_rows()?, emit),
};

static SUBSCRIPTIONS: TableDef<(Hash, PublicKey, SubscriptionRow)> = TableDef {
    name: "subscriptions",
    doc: "one row per live subscription",
    columns: &[
        column!("listing", Str, "the listing's id", |(listing, ..)| listing),
        column!("subscriber", Str, "public key", |(_, subscriber, _)| subscriber),
        column!("tier", Str, "tier name", |(.., s)| &s.tier),
        column!("amount", U64, "price per period when subscribed, minor units", |(.., s)| s.amount),
        column!("currency", Str, "ISO 4217", |(.., s)| &s.currency),
        column!("period", Str, "day, week, month or year", |(.., s)| s.period.as_str()),
        column!("since", Ts, "since when", |(.., s)| s.since),
    ],
    rows: |v, _, emit| each(v.subscription_rows()?, emit),
};

static BOOKINGS: TableDef<(Hash, BookingRow, bool)> = TableDef {
    name: "bookings",
    doc: "one row per booking request",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(id, ..)| id),
        column!("listing", Str, "the listing's id", |(_, b, _)| b.listing),
        column!("requester", Str, "public key", |(_, b, _)| b.requester),
        column!("start", Ts, "start", |(_, b, _)| b.start),
        column!("end", Ts, "end", |(_, b, _)| b.end),
        column!("confirmed", Bool, "confirmed by the owner", |(.., confirmed)| *confirmed),
    ],
    rows: |v, _, emit| each(v.booking_rows()?, emit),
};

static MARKET_DAILY: TableDef<(u64, String, u64)> = TableDef {
    name: "market_daily",
    doc: "marketplace counters per day (metric: published, updated, withdrawn, subscribed, unsubscribed, purchased, booked, confirmed, reviewed, revenue:CUR)",
    columns: &[
        column!("day", Date, "UTC day", |(day, ..)| *day),
        column!("metric", Str, "what is counted", |(_, metric, _)| metric),
        column!("value", U64, "count, or minor units for revenue", |(.., value)| *value),
    ],
    rows: |v, _, emit| each(v.market_daily()?, emit),
};

static LEADERBOARD_LISTINGS: TableDef<ListingRank> = TableDef {
    name: "leaderboard_listings",
    doc: "live listings ranked by formula leaderboard/1",
    columns: &[
        column!("rank", U64, "from 1", |r| r.rank),
        column!("listing", Str, "the listing's id", |r| r.listing),
        column!("name", Str, "name", |r| &r.name),
        column!("kind", Str, "kind", |r| r.kind),
        column!("owner", Str, "public key", |r| r.owner),
        column!("score", F64, "bayes rating × ln(1 + engagement)", |r| r.score),
        column!("mean_rating", F64?, "mean rating", |r| r.mean_rating),
        column!("reviews", U64, "reviews", |r| r.reviews),
        column!("subscribers", U64, "subscribers", |r| r.subscribers),
        column!("purchases", U64, "purchases", |r| r.purchases),
    ],
    rows: |v, _, emit| each(v.leaderboard_listings()?, emit),
};

static LEADERBOARD_CREATORS: TableDef<CreatorRank> = TableDef {
    name: "leaderboard_creators",
    doc: "creators ranked by the sum of their live listings' scores",
    columns: &[
        column!("rank", U64, "from 1", |r| r.rank),
        column!("creator", Str, "public key", |r| r.creator),
        column!("score", F64, "sum of listing scores", |r| r.score),
        column!("listings", U64, "live listings", |r| r.listings),
    ],
    rows: |v, _, emit| each(v.leaderboard_creators()?, emit),
};

static FOLLOWS: TableDef<(PublicKey, Target, Micros)> = TableDef {
    name: "follows",
    doc: "one row per follow",
    columns: &[
        column!("follower", Str, "public key", |(follower, ..)| follower),
        column!("target_type", Str, "key or persona", |(_, target, _)| target_type(target)),
        column!("target", Str, "public key or persona id", |(_, target, _)| target_id(target)),
        column!("since", Ts, "since when", |(.., since)| *since),
    ],
    rows: |v, _, emit| each(v.follow_rows()?, emit),
};

static GUILDS: TableDef<(Hash, GuildRow, u64)> = TableDef {
    name: "guilds",
    doc: "one row per guild",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(id, ..)| id),
        column!("owner", Str, "public key", |(_, g, _)| g.owner),
        column!("name", Str, "name", |(_, g, _)| &g.name),
        column!("created", Ts, "created", |(_, g, _)| g.created),
        column!("members", U64, "members now", |(.., members)| *members),
    ],
    rows: |v, _, emit| {
        for (id, g) in v.guilds()? {
            let members = v.guild_members(&id)?.len() as u64;
            if !emit((id, g, members)) {
                break;
            }
        }
        Ok(())
    },
};

static GUILD_MEMBERS: TableDef<(Hash, PublicKey)> = TableDef {
    name: "guild_members",
    doc: "one row per guild member",
    columns: &[
        column!("guild", Str, "guild id", |(guild, _)| guild),
        column!("member", Str, "public key", |(_, member)| member),
    ],
    rows: |v, _, emit| {
        for (id, _) in v.guilds()? {
            for member in v.guild_members(&id)? {
                if !emit((id, member)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    },
};

static AWARDS: TableDef<(PublicKey, Hash, String, AwardRow)> = TableDef {
    name: "awards",
    doc: "one row per badge given",
    columns: &[
        column!("member", Str, "public key", |(member, ..)| member),
        column!("guild", Str, "guild id", |(_, guild, ..)| guild),
        column!("badge", Str, "badge", |(_, _, badge, _)| badge),
        column!("at", Ts, "when", |(.., a)| a.at),
    ],
    rows: |v, _, emit| each(v.award_rows()?, emit),
};

static REPUTATION: TableDef<Reputation> = TableDef {
    name: "reputation",
    doc: "one row per author anything is known about, scored as of --as-of (formula rep/1)",
    columns: &[
        column!("subject", Str, "public key", |r| r.subject),
        column!("score", F64, "0 to 100", |r| r.score),
        column!("tier", Str, "Newcomer, Established, Trusted or Elite", |r| format!("{:?}", r.tier)),
        column!("success_rate", F64?, "decayed share of successful attestation weight", |r| r.success_rate),
        column!("evidence", F64, "decayed attestation weight", |r| r.evidence),
        column!("attestations", U64, "attestations (one per attester and task)", |r| r.attestations),
        column!("vouches", U64, "live vouches", |r| r.vouches.len() as u64),
        column!("violations", U64, "upheld reports", |r| r.violations.iter().filter(|x| x.upheld).count() as u64),
        column!("track", F64, "attestation part, 0 to 1", |r| r.track),
        column!("vouch", F64, "vouch part, 0 to 1", |r| r.vouch),
        column!("penalty", F64, "violation penalty", |r| r.penalty),
    ],
    rows: |v, as_of, emit| {
        for subject in v.reputation_subjects()? {
            if !emit(v.reputation(&subject, as_of)?) {
                break;
            }
        }
        Ok(())
    },
};

static ATTESTATIONS: TableDef<(PublicKey, PublicKey, String, AttestationRow)> = TableDef {
    name: "attestations",
    doc: "one row per attester, subject and task (the attester's latest)",
    columns: &[
        column!("subject", Str, "public key", |(subject, ..)| subject),
        column!("attester", Str, "public key", |(_, attester, ..)| attester),
        column!("task", Str, "task", |(_, _, task, _)| task),
        column!("outcome", Str, "success or failure", |(.., a)| outcome_word(a.outcome)),
        column!("weight", U64, "1 to 10", |(.., a)| u64::from(a.weight)),
        column!("at", Ts, "when", |(.., a)| a.at),
    ],
    rows: |v, _, emit| each(v.attestation_rows()?, emit),
};

static REPORTS: TableDef<(Hash, ReportRow, u64, u64)> = TableDef {
    name: "reports",
    doc: "one row per report, with its verdicts",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(id, ..)| id),
        column!("reporter", Str, "public key", |(_, r, ..)| r.reporter),
        column!("subject", Str, "public key", |(_, r, ..)| r.subject),
        column!("category", Str, "kind of violation", |(_, r, ..)| &r.category),
        column!("evidence", Str, "event hash", |(_, r, ..)| r.evidence),
        column!("at", Ts, "when", |(_, r, ..)| r.at),
        column!("upheld_by", U64, "verdicts to uphold", |(_, _, up, _)| *up),
        column!("dismissed_by", U64, "verdicts to dismiss", |(.., down)| *down),
        column!("upheld", Bool, "more uphold than dismiss", |(_, _, up, down)| up > down),
    ],
    rows: |v, _, emit| each(v.report_rows()?, emit),
};

static AUDIT_REQUESTS: TableDef<(Hash, RequestRow)> = TableDef {
    name: "audit_requests",
    doc: "one row per tool call an agent asked for",
    columns: &[
        column!("id", Str, "id: the hash of the creating event", |(id, _)| id),
        column!("author", Str, "the agent's public key", |(_, r)| r.author),
        column!("session", Str, "session", |(_, r)| &r.session),
        column!("tool", Str, "tool", |(_, r)| &r.tool),
        column!("args_digest", Str, "digest of the arguments", |(_, r)| &r.args_digest),
        column!("scope", Str, "scope", |(_, r)| &r.scope),
        column!("decision", Str, "allow, deny or ask", |(_, r)| r.decision.as_str()),
        column!("reason", Str, "why", |(_, r)| &r.reason),
        column!("at", Ts, "when it was asked", |(_, r)| r.at),
        column!("approved", Bool?, "the answer to an ask", |(_, r)| r.answer.as_ref().map(|a| a.approved)),
        column!("answered", Ts?, "when it was answered", |(_, r)| r.answer.as_ref().map(|a| a.at)),
        column!("ok", Bool?, "whether the call succeeded", |(_, r)| r.result.as_ref().map(|x| x.ok)),
        column!("duration_ms", U64?, "duration", |(_, r)| r.result.as_ref().map(|x| x.duration_ms)),
        column!("tokens", U64?, "tokens", |(_, r)| r.result.as_ref().map(|x| x.tokens)),
        column!("cost_cents", U64?, "cost", |(_, r)| r.result.as_ref().map(|x| x.cost_cents)),
        column!("model", Str?, "model", |(_, r)| r.result.as_ref().map(|x| &x.model)),
        column!("completed", Ts?, "when the result was recorded", |(_, r)| r.result.as_ref().map(|x| x.at)),
    ],
    rows: |v, _, emit| each(v.audit_rows()?, emit),
};
