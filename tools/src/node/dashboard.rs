//! The dashboard (docs/dashboard.md): HTML pages under `/ui/`, rendered on the node from the
//! same reports the API serves. Every page runs `mindlog` commands as served commands (the
//! `--json` report of `persona show`, `market list`, `audit pending`, …, or `query` for a
//! table), and renders them; no rule is decided here. What a page changes, it changes through
//! the API: its forms post JSON to `POST /v1/commands` (and `/v1/erasures`, `/v1/verify`) from
//! `mindlog.js`, with the CSRF header the guard asks of a browser ([`super::guard`]). Live parts
//! follow the node's subscription (`GET /v1/subscribe` as Server-Sent Events).
//!
//! The scripts and styles are vendored files embedded in the binary ([`ASSETS`]): a page loads
//! nothing from outside the node.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use super::api::{AppState, just, served_command};
use crate::ui::{human_bytes, money, thousands};

/// Where the pages are.
pub(crate) const PREFIX: &str = "/ui";

/// The pages of the navigation bar, in its order: path, title, what it is for (docs/dashboard.md
/// says the same at length). The browser tests visit every page this bar links to.
const PAGES: &[(&str, &str, &str)] = &[
    ("/ui/mind", "Mind", "Personas: stage, traits, commitments, memories, emotions, timeline"),
    ("/ui/privacy", "Privacy", "The file: size, verify, export, erase"),
    ("/ui/market", "Marketplace", "Listings, reviews, revenue; publish and review"),
    ("/ui/reputation", "Reputation", "The leaderboard and each key's record"),
    ("/ui/audit", "Audit", "Tool calls, decisions and costs; approve or deny"),
    ("/ui/events", "Events", "The log, live"),
    ("/ui/query", "Query", "SQL over the log and every view"),
    ("/ui/peers", "Peers", "Replication: peers, lag, score, forks"),
];

/// The files a page loads: name, media type, bytes (tools/assets/).
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("mindlog.css", "text/css", include_bytes!("../../assets/mindlog.css")),
    ("mindlog.js", "text/javascript", include_bytes!("../../assets/mindlog.js")),
    ("htmx.min.js", "text/javascript", include_bytes!("../../assets/vendor/htmx-2.0.11.min.js")),
    ("uPlot.min.js", "text/javascript", include_bytes!("../../assets/vendor/uPlot-1.6.32.iife.min.js")),
    ("uPlot.min.css", "text/css", include_bytes!("../../assets/vendor/uPlot-1.6.32.min.css")),
];

/// The dashboard's routes. They sit behind the node's guard like every other route: a page asked
/// for without the login cookie (or the token) is refused.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/mind") }))
        .route("/ui", get(|| async { Redirect::to("/ui/mind") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/mind") }))
        .route("/ui/assets/{file}", get(asset))
        .route("/ui/mind", get(mind))
        .route("/ui/mind/{persona}", get(persona))
        .route("/ui/privacy", get(privacy))
        .route("/ui/market", get(market))
        .route("/ui/market/{listing}", get(listing))
        .route("/ui/reputation", get(reputation))
        .route("/ui/reputation/{subject}", get(subject))
        .route("/ui/audit", get(audit))
        .route("/ui/events", get(events))
        .route("/ui/query", get(query))
        .route("/ui/query.csv", get(query_csv))
        .route("/ui/peers", get(peers))
}

/// Whether `path` is one of the dashboard's (for the guard: pages get their own security policy
/// and an HTML refusal).
pub(crate) fn is_page(path: &str) -> bool {
    path == "/" || path == PREFIX || path.starts_with("/ui/")
}

/// The answer to a page asked for without the cookie: how to get one.
pub(crate) fn sign_in_page() -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Sign in · mindlog" } link rel="icon" href="data:,"; }
            body {
                main {
                    h1 { "Sign in to this node" }
                    p { "The dashboard needs the one-time login URL that " code { "mindlog node" } " printed, or a new one from " code { "mindlog open" } " (run it on the node's machine)." }
                }
            }
        }
    };
    (StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(media)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading reports

/// A command's `--json` report, or the one line it failed with.
async fn report(state: &AppState, argv: &[&str]) -> Result<Value, String> {
    let mut full = vec!["--json".to_owned()];
    full.extend(argv.iter().map(|a| (*a).to_owned()));
    let out = super::api::report(state, full).await.map_err(|f| f.message())?;
    serde_json::from_slice(&out).map_err(|e| format!("the report is not JSON: {e}"))
}

/// The rows of a read-only SQL query, or the one line it failed with.
async fn rows(state: &AppState, sql: &str) -> Result<Vec<Value>, String> {
    Ok(first_rows(state, sql, usize::MAX).await?.0)
}

/// A hex id or key taken from a report, safe inside an SQL string literal.
fn hex(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn float(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// The first 12 characters of a key or hash, as the CLI prints them.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// An RFC 3339 time without its fraction of a second.
fn when(value: &Value) -> String {
    let text = value.as_str().unwrap_or("");
    match (text.find('.'), text.ends_with('Z')) {
        (Some(dot), true) => format!("{}Z", &text[..dot]).replacen('T', " ", 1),
        _ => text.replacen('T', " ", 1),
    }
}

/// A cost in cents, in major units (the audit log records no currency).
fn cents(amount: u64) -> String {
    money(amount, "").trim_end().to_owned()
}

/// `1 interaction`, `2 interactions`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{} {noun}s", thousands(n)) }
}

/// A percentage of a rate in [0, 1].
fn percent(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

/// A number with at most two decimals.
fn decimal(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

// ---------------------------------------------------------------------------------------------
// Layout

/// What a page is built from.
struct Page {
    /// The navigation entry it belongs to.
    nav: &'static str,
    title: String,
    /// The subscription the page follows (`/v1/subscribe?…`), for its live parts.
    live: Option<String>,
    body: Markup,
    status: StatusCode,
}

impl Page {
    fn new(nav: &'static str, title: impl Into<String>, body: Markup) -> Page {
        Page { nav, title: title.into(), live: None, body, status: StatusCode::OK }
    }

    /// A page that says why the thing asked for is not there (404).
    fn missing(nav: &'static str, title: &str, message: &str) -> Page {
        let body = html! { h1 { (title) } (failure(message)) };
        Page { status: StatusCode::NOT_FOUND, ..Page::new(nav, title, body) }
    }

    /// The page follows the log from its end now: its live parts refresh on every new event.
    async fn live(mut self, state: &AppState) -> Page {
        let after = end(state).await;
        self.live = Some(format!("/v1/subscribe?after={after}"));
        self
    }

    fn render(self, state: &AppState) -> Response {
        let csrf = super::guard::csrf_token(&state.token);
        let headers = format!("{{\"x-mindlog-csrf\": \"{csrf}\"}}");
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="htmx-config" content=r#"{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false, "historyCacheSize": 0}"#;
                    meta name="mindlog-csrf" content=(csrf);
                    title { (self.title) " · mindlog" }
                    link rel="icon" href="data:,";
                    link rel="stylesheet" href="/ui/assets/uPlot.min.css";
                    link rel="stylesheet" href="/ui/assets/mindlog.css";
                    script src="/ui/assets/htmx.min.js" defer {}
                    script src="/ui/assets/uPlot.min.js" defer {}
                    script src="/ui/assets/mindlog.js" defer {}
                }
                body hx-headers=(headers) data-subscribe=[self.live.as_deref()] {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        a.brand href="/ui/mind" { "mindlog" }
                        nav aria-label="Pages" {
                            ul {
                                @for (path, title, purpose) in PAGES {
                                    li {
                                        a href=(path) title=(purpose) aria-current=[(*path == self.nav).then_some("page")] { (title) }
                                    }
                                }
                            }
                        }
                    }
                    main #main tabindex="-1" { (self.body) }
                    footer { "mindlog " (env!("CARGO_PKG_VERSION")) " · " a href="/docs/" { "API" } " · " span #live-status role="status" {} }
                }
            }
        };
        (self.status, Html(page.into_string())).into_response()
    }
}

/// The offset after the last stored event (where a live page starts following).
async fn end(state: &AppState) -> u64 {
    match report(state, &["stats"]).await {
        Ok(stats) => number(&stats, "events"),
        Err(_) => 0,
    }
}

/// A failure where a part of a page should be.
fn failure(message: &str) -> Markup {
    html! { p.error role="alert" { (message) } }
}

/// A section that reloads itself (the same URL, only this section) when the log grows.
fn live_section(id: &str, url: &str, inner: Markup) -> Markup {
    html! {
        section id=(id) hx-get=(url) hx-select={"#" (id)} hx-target="this" hx-swap="outerHTML"
            hx-trigger="mindlog-event from:body" hx-sync="this:queue last" {
            (inner)
        }
    }
}

/// A chart drawn by `mindlog.js` with uPlot: x (Unix seconds) and named series, as JSON inside
/// the page, with a table of the same numbers (the latest [`CHART_TABLE_ROWS`]) for readers who
/// cannot see the chart.
fn chart(id: &str, caption: &str, y: Option<(f64, f64)>, x: &[f64], series: &[(&str, Vec<Option<f64>>)]) -> Markup {
    if x.is_empty() {
        return html! { p.muted { (caption) ": nothing recorded yet." } };
    }
    let data = serde_json::json!({
        "range": y.map(|(low, high)| [low, high]),
        "x": x,
        "series": series.iter().map(|(label, values)| serde_json::json!({ "label": label, "values": values })).collect::<Vec<_>>(),
    });
    // Nothing in it can end the script element or open a comment: `<` only occurs inside JSON
    // strings, where `\u003c` means the same.
    let json = data.to_string().replace('<', "\\u003c");
    let first = x.len().saturating_sub(CHART_TABLE_ROWS);
    html! {
        figure.chart-box {
            figcaption { (caption) }
            div.chart data-chart=(id) role="img" aria-label=(caption) {}
            script type="application/json" id=(id) { (PreEscaped(json)) }
            details {
                summary { "The numbers" @if first > 0 { " (the latest " (CHART_TABLE_ROWS) ")" } }
                div.scroll { table {
                    thead { tr { th scope="col" { "When" } @for (label, _) in series { th scope="col" { (label) } } } }
                    tbody { @for i in first..x.len() { tr {
                        td { (jiff::Timestamp::from_microsecond((x[i] * 1e6) as i64).map(|t| when(&Value::from(t.to_string()))).unwrap_or_default()) }
                        @for (_, values) in series { td.num { (decimal(values.get(i).copied().flatten())) } }
                    } } }
                } }
            }
        }
    }
}

/// Rows of a chart's table of numbers.
const CHART_TABLE_ROWS: usize = 100;

/// Unix seconds of an RFC 3339 time, or of a time without an offset (SQL's timestamps), in UTC.
fn seconds(value: &Value) -> Option<f64> {
    let text = value.as_str()?;
    let at = match text.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(_) => text.parse::<jiff::civil::DateTime>().ok()?.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp(),
    };
    Some(at.as_microsecond() as f64 / 1e6)
}

/// A table of JSON rows, every column as its value prints.
fn table(rows: &[Value], caption: &str) -> Markup {
    let columns: Vec<&String> = rows.first().and_then(Value::as_object).map(|o| o.keys().collect()).unwrap_or_default();
    html! {
        div.scroll {
            table {
                caption { (caption) }
                thead { tr { @for c in &columns { th scope="col" { (c) } } } }
                tbody {
                    @for row in rows {
                        tr { @for c in &columns { td { (cell(row.get(c.as_str()).unwrap_or(&Value::Null))) } } }
                    }
                }
            }
        }
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => u.to_string(),
            (None, Some(f)) if f.fract() != 0.0 => format!("{f:.4}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A form that posts its fields as a JSON command to `action` through `mindlog.js`; the one
/// line of a rejection shows in its outcome line.
fn command_form(action: &str, label: &str, done: &str, fields: Markup) -> Markup {
    html! {
        form.command hx-post=(action) hx-ext="json-form" hx-swap="none" data-done=(done) {
            (fields)
            button type="submit" { (label) }
            p.outcome role="status" aria-live="polite" {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mind

async fn mind(State(state): State<AppState>) -> Response {
    let body = match report(&state, &["persona", "list"]).await {
        Err(message) => failure(&message),
        Ok(list) => {
            let mut personas: Vec<&Value> = list.as_array().map(|a| a.iter().collect()).unwrap_or_default();
            personas.sort_by_key(|p| !p.get("yours").and_then(Value::as_bool).unwrap_or(false));
            let shown = personas.len().min(200);
            html! {
                h1 { "Mind" }
                p.lead { "Every persona in this store, yours first. Pick one to see its mind." }
                @if personas.is_empty() {
                    p { "No persona yet: " code { "mindlog persona create NAME" } "." }
                } @else {
                    div.scroll {
                        table {
                            caption { (thousands(personas.len() as u64)) " personas" @if shown < personas.len() { " (the first " (shown) ")" } }
                            thead { tr { th scope="col" { "Name" } th scope="col" { "Yours" } th scope="col" { "Stage" } th scope="col" { "Status" } th scope="col" { "Events" } th scope="col" { "Created" } } }
                            tbody {
                                @for p in &personas[..shown] {
                                    tr {
                                        td { a href={"/ui/mind/" (text(p, "id"))} { (text(p, "name")) } }
                                        td { @if p.get("yours").and_then(Value::as_bool).unwrap_or(false) { "yes" } @else { "no" } }
                                        td { (text(p, "stage")) }
                                        td { (text(p, "status")) }
                                        td.num { (thousands(number(p, "events"))) }
                                        td { (when(&p["created"])) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = live_section("personas", "/ui/mind", body);
    Page::new("/ui/mind", "Mind", body).live(&state).await.render(&state)
}

/// "Commitments: 11 opened, 8 closed (73% success)" from a persona's commitment health.
fn commitment_sentence(health: &Value) -> String {
    let mut line = format!("Commitments: {} opened, {} closed", number(health, "opened"), number(health, "closed"));
    match float(health, "close_rate") {
        Some(rate) => {
            let _ = write!(line, " ({} success)", percent(rate));
        }
        None => line.push_str(" (none ended yet)"),
    }
    let (open, expired) = (number(health, "open"), number(health, "expired"));
    if open > 0 || expired > 0 {
        let _ = write!(line, "; {open} open, {expired} expired");
    }
    line.push('.');
    line
}

async fn persona(State(state): State<AppState>, Path(persona): Path<String>) -> Response {
    let shown = match report(&state, &["persona", "show", "--", &persona]).await {
        Ok(shown) => shown,
        Err(message) => return Page::missing("/ui/mind", "Persona", &message).render(&state),
    };
    let Some(id) = hex(&shown["id"]).map(str::to_owned) else {
        return Page::new("/ui/mind", "Persona", failure("the report has no id")).render(&state);
    };
    let url = format!("/ui/mind/{id}");
    let name = text(&shown, "name").to_owned();
    // Only its owner's events change a persona (`log --persona`): the owner's feed is read
    // through its index, not the whole log.
    let owner = hex(&shown["owner"]).unwrap_or("");
    let emotions =
        rows(&state, &format!("SELECT at, valence, arousal FROM emotions WHERE persona = '{id}' ORDER BY at")).await;
    let timeline = rows(
        &state,
        &format!(
            "SELECT ts, kind, hash, coalesce(json_get_str(payload, 'text'), json_get_str(payload, 'title'), json_get_str(payload, 'model'), json_get_str(payload, 'label')) AS what \
             FROM events WHERE author = '{owner}' AND (hash = '{id}' OR json_get_str(payload, 'persona') = '{id}') ORDER BY \"offset\" DESC LIMIT 30"
        ),
    )
    .await;
    let models =
        rows(&state, &format!("SELECT model, hash, since FROM models WHERE persona = '{id}' ORDER BY since DESC"))
            .await;
    let stage = &shown["stage"];
    let health = &shown["commitments"];
    let lineage = &shown["lineage"];
    let inner = html! {
        h1 { (name) }
        @if !text(&shown, "description").is_empty() { p.lead { (text(&shown, "description")) } }
        p #stage {
            strong { "Stage " (text(stage, "code")) ", " (text(stage, "name")) }
            ": " (text(stage, "meaning")) ". "
            span.muted { (plural(number(&shown, "interactions"), "interaction")) "; status " (text(&shown, "status")) "." }
        }
        div.grid {
            section aria-labelledby="traits-h" {
                h2 #traits-h { "Traits" }
                div.scroll {
                    table #traits {
                        caption { "Big Five, 0 to 1 (" (plural(number(&shown, "trait_updates"), "update")) ")" }
                        thead { tr { th scope="col" { "Trait" } th scope="col" { "Level" } th scope="col" { "What it means" } } }
                        tbody {
                            @for t in shown["traits"].as_array().into_iter().flatten() {
                                tr {
                                    th scope="row" { (text(t, "name")) }
                                    td { meter min="0" max="1" value=(float(t, "value").unwrap_or(0.0)) aria-label=(text(t, "name")) {} " " (decimal(float(t, "value"))) " " span.muted { (text(t, "word")) } }
                                    td { (text(t, "meaning")) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="commitments-h" {
                h2 #commitments-h { "Commitments" }
                p #commitment-health { (commitment_sentence(health)) }
                @let open = health["open_list"].as_array().cloned().unwrap_or_default();
                @if !open.is_empty() {
                    ul { @for c in &open { li { (text(c, "title")) @if let Some(due) = c["due"].as_str() { span.muted { " — due " (when(&Value::from(due))) } } } } }
                }
            }
        }
        section aria-labelledby="memories-h" {
            h2 #memories-h { "Strongest memories" }
            @let memories = &shown["memories"];
            p.muted { (number(memories, "live")) " kept, " (number(memories, "forgotten")) " forgotten; a memory's strength fades with its age (docs/views.md)." }
            @let strongest = memories["strongest"].as_array().cloned().unwrap_or_default();
            @if strongest.is_empty() { p { "No memories yet." } } @else {
                div.scroll {
                    table {
                        caption { "Strength as of " (when(&memories["as_of"])) }
                        thead { tr { th scope="col" { "Id" } th scope="col" { "Memory" } th scope="col" { "Strength" } th scope="col" { "Tags" } th scope="col" { "Added" } } }
                        tbody {
                            @for m in &strongest {
                                tr {
                                    td { code { (short(text(m, "id"))) } }
                                    td { (text(m, "text")) }
                                    td { meter min="0" max="1" value=(float(m, "strength").unwrap_or(0.0)) aria-label="strength" {} " " (decimal(float(m, "strength"))) }
                                    td { (m["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                                    td { (when(&m["created"])) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="emotion-h" {
            h2 #emotion-h { "Emotion over time" }
            @match &emotions {
                Err(message) => (failure(message)),
                Ok(emotions) => {
                    @let x: Vec<f64> = emotions.iter().filter_map(|r| seconds(&r["at"])).collect();
                    (chart("chart-emotion", "Valence (−1 to 1) and arousal (0 to 1)", Some((-1.0, 1.0)), &x, &[
                        ("valence", emotions.iter().map(|r| float(r, "valence")).collect()),
                        ("arousal", emotions.iter().map(|r| float(r, "arousal")).collect()),
                    ]))
                }
            }
        }
        div.grid {
            section aria-labelledby="lineage-h" {
                h2 #lineage-h { "Lineage" }
                p {
                    @match hex(&lineage["parent"]) {
                        Some(parent) => { "Forked from " a href={"/ui/mind/" (parent)} { (short(parent)) } @if let Some(l) = lineage["license"].as_str() { " under " (l) } "." }
                        None => "An original (not a fork).",
                    }
                    " Depth " (number(lineage, "depth")) "."
                }
                @let children = lineage["children"].as_array().cloned().unwrap_or_default();
                @if !children.is_empty() {
                    p { "Forks of it: " @for (i, c) in children.iter().enumerate() { @if i > 0 { ", " } @let child = c.as_str().or_else(|| c["id"].as_str()).unwrap_or(""); a href={"/ui/mind/" (child)} { (short(child)) } } }
                }
            }
            section aria-labelledby="models-h" {
                h2 #models-h { "Model history" }
                @match &models {
                    Err(message) => (failure(message)),
                    Ok(models) if models.is_empty() => p { "No model recorded: " code { "mindlog model use" } "." },
                    Ok(models) => ul { @for m in models { li { (text(m, "model")) " " span.muted { "since " (when(&m["since"])) " (" (text(m, "hash")) ")" } } } },
                }
            }
        }
        section aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" }
            @match &timeline {
                Err(message) => (failure(message)),
                Ok(events) => div.scroll { table {
                    caption { "Its latest events" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Kind" } th scope="col" { "What" } } }
                    tbody { @for e in events { tr { td { (when(&e["ts"])) } td { code { (text(e, "kind")) } } td { (text(e, "what")) } } } }
                } },
            }
        }
    };
    let body = live_section("persona", &url, inner);
    Page::new("/ui/mind", name, body).live(&state).await.render(&state)
}

// ---------------------------------------------------------------------------------------------
// Privacy

async fn privacy(State(state): State<AppState>) -> Response {
    let stats = report(&state, &["stats"]).await;
    let personas = report(&state, &["persona", "list"]).await.unwrap_or(Value::Null);
    let verifier = report(&state, &["identity", "list"])
        .await
        .ok()
        .and_then(|ids| ids.as_array()?.iter().find(|i| i["default"].as_bool() == Some(true)).cloned())
        .map(|i| text(&i, "verifier").to_owned());
    let yours: Vec<String> = personas
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["yours"].as_bool().unwrap_or(false))
        .map(|p| text(p, "name").to_owned())
        .collect();
    let body = html! {
        h1 { "Privacy" }
        p.lead { "Everything this mind is lives in one file on this machine. Nothing leaves it unless you export it or replicate it; private payloads never leave it." }
        @match &stats {
            Err(message) => (failure(message)),
            Ok(stats) => {
                dl.facts #file-facts {
                    dt { "File" } dd { code { (text(stats, "store")) } }
                    dt { "Size" } dd { (human_bytes(number(stats, "file_bytes"))) }
                    dt { "Events" } dd { (thousands(number(stats, "events"))) " in " (number(stats, "feeds")) " feeds" }
                    dt { "Last verified" } dd #last-verified {
                        @match stats.get("last_verified").filter(|v| !v.is_null()) {
                            Some(v) => { (when(&v["at"])) ": " @if v["ok"].as_bool().unwrap_or(false) { "OK" } @else { strong { "FAILED" } } ", " (thousands(number(v, "events"))) " events" }
                            None => "never",
                        }
                    }
                }
            }
        }
        section aria-labelledby="verify-h" {
            h2 #verify-h { "Verify" }
            p { "Checks every hash, link and signature in the file (" code { "mindlog verify" } ")." }
            button #verify type="button" { "Verify now" }
            " "
            progress #verify-progress max="1" value="0" aria-label="verify progress" {}
            p #verify-outcome role="status" aria-live="polite" {}
        }
        section aria-labelledby="export-h" {
            h2 #export-h { "Export" }
            p { "Downloads of the whole log; private payloads stay out (they leave as " em { "withheld" } ")." }
            ul {
                li { a href="/v1/export.jsonl" download="mindlog-export.jsonl" { "Events as JSON lines" } " (" code { "mindlog export --jsonl" } ", importable)" }
                li { a href="/v1/export/events.parquet" download="events.parquet" { "Events as Parquet" } " (for DuckDB, pandas, Spark)" }
            }
            h3 { "A signed checkpoint" }
            p {
                "A checkpoint is your feed's size and Merkle root, signed with your key and published in the feed (" code { "mindlog sign" } "). Anyone can check it, and proofs of your events against it, with your verifier key and " code { "mindlog check" } ", without this file."
            }
            form.command #sign hx-post="/v1/checkpoint" hx-ext="json-form" hx-swap="none" data-done="Signed and published." {
                button type="submit" { "Sign a checkpoint now" }
                p.outcome role="status" aria-live="polite" {}
            }
            p { a #checkpoint href="/v1/checkpoint" download="feed.checkpoint" { "Download the newest checkpoint of your feed" } " (" code { "mindlog checkpoint" } "). Your verifier key:" }
            @if let Some(key) = &verifier { p { code.wrap #verifier-key { (key) } } }
        }
        section aria-labelledby="erase-h" {
            h2 #erase-h { "Erase" }
            p { "Erasing removes the text from the file, the views and every later export, for real. A signed " code { "ledger.erased/1" } " event records that it happened (not what was said); its reason is public." }
            datalist #your-personas { @for name in &yours { option value=(name) {} } }
            div.grid {
                (command_form("/v1/erasures", "Erase the memory", "Erased.", html! {
                    h3 { "One memory" }
                    label for="erase-memory-persona" { "Persona" }
                    input #erase-memory-persona name="persona" required list="your-personas" autocomplete="off";
                    label for="erase-memory-id" { "Memory (id or prefix, from the Mind page)" }
                    input #erase-memory-id name="memory" required autocomplete="off";
                    p.warning { input #erase-memory-sure type="checkbox" required; label for="erase-memory-sure" { "I understand this cannot be undone: the text is gone from this file, and no one can read it back." } }
                }))
                (command_form("/v1/erasures", "Erase its private data", "Erased.", html! {
                    h3 { "A persona's private data" }
                    label for="erase-persona" { "Persona" }
                    input #erase-persona name="persona" required list="your-personas" autocomplete="off";
                    input type="hidden" name="private" value="true" data-json="boolean";
                    p.warning { input #erase-persona-sure type="checkbox" required; label for="erase-persona-sure" { "I understand this cannot be undone: every memory, message, reflection and emotion of this persona is erased. Its name, traits and commitments stay." } }
                }))
            }
        }
    };
    Page::new("/ui/privacy", "Privacy", body).render(&state)
}

// ---------------------------------------------------------------------------------------------
// Marketplace

/// A listing's price as a person reads it.
fn price(listing: &Value) -> String {
    let currency = text(listing, "currency");
    let mut parts = Vec::new();
    if let Some(price) = listing["price"].as_u64() {
        parts.push(money(price, currency));
    }
    for tier in listing["tiers"].as_array().into_iter().flatten() {
        parts.push(format!(
            "{} {}/{}",
            text(tier, "name"),
            money(number(tier, "amount"), currency),
            text(tier, "period")
        ));
    }
    if parts.is_empty() {
        // `market list` names the model only (`market show` has the tiers).
        text(listing, "price_model").to_owned()
    } else {
        parts.join(", ")
    }
}

fn rating(listing: &Value) -> String {
    match float(listing, "mean_rating") {
        Some(r) => {
            format!("{r:.1} ★ ({} reviews)", number(listing, "reviews").max(number(&listing["stats"], "reviews")))
        }
        None => "no reviews".to_owned(),
    }
}

async fn market(State(state): State<AppState>) -> Response {
    let listings = report(&state, &["market", "list"]).await;
    let revenue = rows(
        &state,
        "SELECT date_trunc('month', CAST(day AS TIMESTAMP)) AS month, substr(metric, 9) AS currency, sum(value) AS amount \
         FROM market_daily WHERE metric LIKE 'revenue:%' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    let body = html! {
        h1 { "Marketplace" }
        section aria-labelledby="revenue-h" {
            h2 #revenue-h { "Revenue per month" }
            @match &revenue {
                Err(message) => (failure(message)),
                Ok(rows) => {
                    @let months: Vec<f64> = { let mut m: Vec<f64> = rows.iter().filter_map(|r| seconds(&r["month"])).collect(); m.dedup(); m };
                    @let currencies: Vec<&str> = { let mut c: Vec<&str> = rows.iter().map(|r| text(r, "currency")).collect(); c.sort_unstable(); c.dedup(); c };
                    @let series: Vec<(&str, Vec<Option<f64>>)> = currencies.iter().map(|cur| (*cur, months.iter().map(|m| {
                        Some(rows.iter().filter(|r| text(r, "currency") == *cur && seconds(&r["month"]) == Some(*m)).map(|r| number(r, "amount") as f64 / 100.0).sum())
                    }).collect())).collect();
                    (chart("chart-revenue", "Revenue per month, in major units per currency", None, &months, &series))
                }
            }
        }
        (live_section("listings", "/ui/market", html! {
            h2 { "Listings" }
            @match &listings {
                Err(message) => (failure(message)),
                Ok(list) => {
                    @let list = list.as_array().cloned().unwrap_or_default();
                    div.scroll { table {
                        caption { (list.len()) " listings" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Price" } th scope="col" { "Rating" } th scope="col" { "Status" } } }
                        tbody { @for l in &list { tr {
                            td { a href={"/ui/market/" (text(l, "id"))} { (text(l, "name")) } }
                            td { (text(l, "kind")) } td { (price(l)) } td { (rating(l)) } td { (text(l, "status")) }
                        } } }
                    } }
                }
            }
        }))
        div.grid {
            (command_form("/v1/commands", "Publish", "Published.", html! {
                h2 { "Publish a listing" }
                input type="hidden" name="command" value="market.publish";
                label for="pub-kind" { "Kind" }
                select #pub-kind name="kind" { @for k in mindlog_commands::ListingKind::ALL { option { (k.as_str()) } } }
                label for="pub-name" { "Name" } input #pub-name name="name" required maxlength="100";
                label for="pub-version" { "Version" } input #pub-version name="version" required value="1.0.0";
                label for="pub-price" { "Price, in minor units (500 is 5.00)" } input #pub-price name="price" type="number" min="0" step="1" data-json="integer";
                label for="pub-currency" { "Currency" } input #pub-currency name="currency" required value="EUR";
                label for="pub-license" { "License" } input #pub-license name="license" value="MIT";
            }))
            (command_form("/v1/commands", "Review", "Reviewed.", html! {
                h2 { "Review a listing" }
                input type="hidden" name="command" value="review";
                label for="rev-listing" { "Listing (its id or an id prefix; type a name to find it)" }
                input #rev-listing name="listing" required list="listing-ids" autocomplete="off";
                @if let Ok(list) = &listings {
                    datalist #listing-ids { @for l in list.as_array().into_iter().flatten() { option value=(short(text(l, "id"))) { (text(l, "name")) } } }
                }
                label for="rev-rating" { "Rating" }
                select #rev-rating name="rating" data-json="integer" { @for r in (1..=5).rev() { option value=(r) { (r) " ★" } } }
                label for="rev-text" { "Review" } textarea #rev-text name="text" rows="3" maxlength="5000" {}
            }))
        }
    };
    Page::new("/ui/market", "Marketplace", body).live(&state).await.render(&state)
}

async fn listing(State(state): State<AppState>, Path(listing): Path<String>) -> Response {
    let body = match report(&state, &["market", "show", "--", &listing]).await {
        Err(message) => return Page::missing("/ui/market", "Listing", &message).render(&state),
        Ok(l) => html! {
            h1 { (text(&l, "name")) " " span.muted { (text(&l, "version")) } }
            dl.facts {
                dt { "Kind" } dd { (text(&l, "kind")) }
                dt { "Price" } dd { (price(&l)) }
                dt { "Rating" } dd { (rating(&l)) }
                dt { "Status" } dd { (text(&l, "status")) }
                dt { "License" } dd { (text(&l, "license")) }
                dt { "Owner" } dd { a href={"/ui/reputation/" (text(&l, "owner"))} { code { (short(text(&l, "owner"))) } } }
                dt { "Sales" } dd { (number(&l["stats"], "purchases")) " purchases, " (number(&l["stats"], "subscribers")) " subscribers" }
            }
            h2 { "Reviews" }
            @let reviews = l["reviews"].as_array().cloned().unwrap_or_default();
            @if reviews.is_empty() { p { "No reviews yet." } } @else {
                ul.reviews { @for r in &reviews { li { strong { (number(r, "rating")) " ★" } " " (text(r, "text")) " " span.muted { "— " code { (short(text(r, "reviewer"))) } ", " (when(&r["at"])) } } } }
            }
            p { a href="/ui/market" { "All listings" } }
        },
    };
    Page::new("/ui/market", "Listing", body).render(&state)
}

// ---------------------------------------------------------------------------------------------
// Reputation

async fn reputation(State(state): State<AppState>) -> Response {
    let board = rows(
        &state,
        "SELECT subject, score, tier, attestations, vouches, violations FROM reputation ORDER BY score DESC, subject LIMIT 100",
    )
    .await;
    let body = html! {
        h1 { "Reputation" }
        p.lead { "Scores from 0 to 100 (docs/reputation.md): attestations of work, vouches, and upheld reports." }
        @match &board {
            Err(message) => (failure(message)),
            Ok(board) => div.scroll { table {
                caption { "Leaderboard (the first 100)" }
                thead { tr { th scope="col" { "#" } th scope="col" { "Key" } th scope="col" { "Score" } th scope="col" { "Tier" } th scope="col" { "Attestations" } th scope="col" { "Vouches" } th scope="col" { "Violations" } } }
                tbody { @for (i, r) in board.iter().enumerate() { tr {
                    td.num { (i + 1) } td { a href={"/ui/reputation/" (text(r, "subject"))} { code { (short(text(r, "subject"))) } } }
                    td.num { (decimal(float(r, "score"))) } td { (text(r, "tier")) }
                    td.num { (number(r, "attestations")) } td.num { (number(r, "vouches")) } td.num { (number(r, "violations")) }
                } } }
            } },
        }
    };
    let body = live_section("leaderboard", "/ui/reputation", body);
    Page::new("/ui/reputation", "Reputation", body).live(&state).await.render(&state)
}

/// Points of a key's score-over-time chart.
const SCORE_POINTS: usize = 24;
/// How many of those `rep show --as-of` run at once.
const SCORE_AT_ONCE: usize = 4;

async fn subject(State(state): State<AppState>, Path(subject): Path<String>) -> Response {
    let shown = match report(&state, &["rep", "show", "--", &subject]).await {
        Ok(shown) => shown,
        Err(message) => return Page::missing("/ui/reputation", "Reputation", &message).render(&state),
    };
    let key = text(&shown, "subject").to_owned();
    // Its score at evenly spaced instants from its first evidence to now: `rep show --as-of`.
    let first = shown["vouches"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| seconds(&v["since"]))
        .chain(shown["violations"].as_array().into_iter().flatten().filter_map(|v| seconds(&v["at"])))
        .chain(
            rows(
                &state,
                &format!(
                    "SELECT min(at) AS at FROM attestations WHERE subject = '{}'",
                    hex(&shown["subject"]).unwrap_or("")
                ),
            )
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|r| seconds(&r["at"])),
        )
        .fold(f64::INFINITY, f64::min);
    let attestations = rows(
        &state,
        &format!(
            "SELECT attester, task, outcome, weight, at FROM attestations WHERE subject = '{}' ORDER BY at DESC LIMIT 50",
            hex(&shown["subject"]).unwrap_or("")
        ),
    )
    .await;
    let now = seconds(&shown["as_of"]).unwrap_or(0.0);
    let mut x = Vec::new();
    let mut scores = Vec::new();
    if first.is_finite() && first < now {
        let instants: Vec<f64> =
            (0..SCORE_POINTS).map(|i| first + (now - first) * i as f64 / (SCORE_POINTS - 1) as f64).collect();
        let asks: Vec<_> = instants
            .iter()
            .map(|t| {
                let at = jiff::Timestamp::from_microsecond((t * 1e6) as i64).map(|t| t.to_string()).unwrap_or_default();
                let state = state.clone();
                let key = key.clone();
                async move { report(&state, &["rep", "show", &key, "--as-of", &at]).await }
            })
            .collect();
        use futures::StreamExt as _;
        let answers: Vec<_> = futures::stream::iter(asks).buffered(SCORE_AT_ONCE).collect().await;
        for (t, answer) in instants.iter().zip(answers) {
            x.push(*t);
            scores.push(answer.ok().and_then(|r| float(&r, "score")));
        }
    }
    let inner = html! {
        h1 { "Reputation of " code { (short(&key)) } }
        p.muted { "Formula " (text(&shown, "formula")) " (docs/reputation.md), as of " (when(&shown["as_of"])) "." }
        p.lead { code.wrap { (key) } }
        dl.facts {
            dt { "Score" } dd #score { (decimal(float(&shown, "score"))) " of 100 (" (text(&shown, "tier")) ")" }
            dt { "Success rate" } dd { (float(&shown, "success_rate").map_or_else(|| "–".to_owned(), percent)) }
            dt { "Attestations" } dd { (number(&shown, "attestations")) }
            dt { "Parts" } dd { "track " (decimal(float(&shown, "track"))) ", vouch " (decimal(float(&shown, "vouch"))) ", penalty " (decimal(float(&shown, "penalty"))) }
        }
        (chart("chart-score", "Score over time (0 to 100)", Some((0.0, 100.0)), &x, &[("score", scores)]))
        section aria-labelledby="attestations-h" {
            h2 #attestations-h { "Attestations" }
            @match &attestations {
                Err(message) => (failure(message)),
                Ok(list) if list.is_empty() => p { "None." },
                Ok(list) => div.scroll { table #attestations {
                    caption { "The latest " (list.len()) " (one per attester and task)" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Attester" } th scope="col" { "Task" } th scope="col" { "Outcome" } th scope="col" { "Weight" } } }
                    tbody { @for a in list { tr {
                        td { (when(&a["at"])) } td { a href={"/ui/reputation/" (text(a, "attester"))} { code { (short(text(a, "attester"))) } } }
                        td { (text(a, "task")) } td { (text(a, "outcome")) } td.num { (number(a, "weight")) }
                    } } }
                } },
            }
        }
        div.grid {
            section aria-labelledby="vouches-h" {
                h2 #vouches-h { "Vouches" }
                @let vouches = shown["vouches"].as_array().cloned().unwrap_or_default();
                @if vouches.is_empty() { p { "None." } } @else {
                    ul { @for v in &vouches { li { a href={"/ui/reputation/" (text(v, "voucher"))} { code { (short(text(v, "voucher"))) } } " since " (when(&v["since"])) ", standing " (decimal(float(v, "standing"))) } } }
                }
            }
            section aria-labelledby="violations-h" {
                h2 #violations-h { "Reports and violations" }
                @let violations = shown["violations"].as_array().cloned().unwrap_or_default();
                @if violations.is_empty() { p { "None." } } @else {
                    ul { @for v in &violations { li {
                        (text(v, "category")) " at " (when(&v["at"])) ": "
                        @if v["upheld"].as_bool().unwrap_or(false) { strong { "upheld" } } @else { "not upheld" }
                        span.muted { " (" (number(v, "upheld_by")) " uphold, " (number(v, "dismissed_by")) " dismiss)" }
                    } } }
                }
            }
        }
    };
    Page::new("/ui/reputation", "Reputation", inner).render(&state)
}

// ---------------------------------------------------------------------------------------------
// Audit

async fn audit(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Response {
    let pending = report(&state, &["audit", "pending"]).await;
    // The pages sign as the home's default identity: only its requests can be answered here.
    let signer: Option<String> = report(&state, &["identity", "list"])
        .await
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .find(|i| i["default"].as_bool().unwrap_or(false))
        .map(|i| text(i, "public_key").to_owned());
    let sessions =
        rows(&state, "SELECT session, count(*) AS requests, max(at) AS last FROM audit_requests GROUP BY session ORDER BY last DESC LIMIT 50")
            .await;
    let chosen = params
        .get("session")
        .filter(|s| !s.is_empty())
        .cloned()
        .or_else(|| sessions.as_ref().ok().and_then(|s| s.first()).map(|s| text(s, "session").to_owned()));
    let timeline = match &chosen {
        Some(session) => Some(report(&state, &["audit", "show", "--", session]).await),
        None => None,
    };
    let url = match &chosen {
        Some(s) => format!("/ui/audit?session={}", encode(s)),
        None => "/ui/audit".to_owned(),
    };
    let inner = html! {
        h1 { "Audit" }
        section aria-labelledby="pending-h" {
            h2 #pending-h { "Waiting for you" }
            @match &pending {
                Err(message) => (failure(message)),
                Ok(list) => {
                    @let list = list.as_array().cloned().unwrap_or_default();
                    @if list.is_empty() { p #no-pending { "Nothing waits for an answer." } } @else {
                        @let shown = &list[..list.len().min(PENDING_ROWS)];
                        div.scroll { table #pending {
                            caption {
                                (plural(list.len() as u64, "tool call")) " asked for approval (oldest first)"
                                @if shown.len() < list.len() { "; the first " (shown.len()) " here, all with " code { "mindlog audit pending" } }
                            }
                            thead { tr { th scope="col" { "Asked" } th scope="col" { "Session" } th scope="col" { "Tool" } th scope="col" { "Scope" } th scope="col" { "Reason" } th scope="col" { "Answer" } } }
                            tbody { @for r in shown { tr id={"pending-" (text(r, "id"))} {
                                td { (when(&r["at"])) } td { (text(r, "session")) } td { code { (text(r, "tool")) } } td { (text(r, "scope")) } td { (text(r, "reason")) }
                                td.actions {
                                    @if signer.as_deref() == Some(text(r, "author")) {
                                        (answer_form("audit.approve", "Approve", "Approved.", text(r, "id"), text(r, "tool")))
                                        (answer_form("audit.deny", "Deny", "Denied.", text(r, "id"), text(r, "tool")))
                                    } @else {
                                        span.muted { "its author " code { (short(text(r, "author"))) } " answers" }
                                    }
                                }
                            } } }
                        } }
                    }
                }
            }
        }
        section aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" @if let Some(s) = &chosen { " of session " code { (s) } } }
            @match &sessions {
                Err(message) => (failure(message)),
                Ok(sessions) if sessions.len() > 1 => {
                    form.inline method="get" action="/ui/audit" {
                        label for="session" { "Session" }
                        select #session name="session" {
                            @for s in sessions { option value=(text(s, "session")) selected[Some(text(s, "session")) == chosen.as_deref()] { (text(s, "session")) " (" (number(s, "requests")) ")" } }
                        }
                        button type="submit" { "Show" }
                    }
                }
                Ok(_) => {}
            }
            @match &timeline {
                None => p { "No tool calls recorded yet: " code { "mindlog audit tool" } "." },
                Some(Err(message)) => (failure(message)),
                Some(Ok(t)) => {
                    p #audit-totals { (number(t, "requests")) " requests: " (number(t, "allowed")) " allowed, " (number(t, "denied")) " denied, " (number(t, "asked")) " asked; " (number(t, "completed")) " completed, " (number(t, "failed")) " failed; " (thousands(number(t, "tokens"))) " tokens, " (cents(number(t, "cost_cents"))) " in cost." }
                    div.scroll { table #audit-timeline {
                        caption { "Tool calls, oldest first" }
                        thead { tr { th scope="col" { "Asked" } th scope="col" { "Tool" } th scope="col" { "Scope" } th scope="col" { "Decision" } th scope="col" { "Status" } th scope="col" { "Cost" } th scope="col" { "Reason" } } }
                        tbody { @for r in t["timeline"].as_array().into_iter().flatten() { tr id={"request-" (text(r, "id"))} {
                            td { (when(&r["at"])) } td { code { (text(r, "tool")) } } td { (text(r, "scope")) }
                            td { span class={"decision " (text(r, "decision"))} { (text(r, "decision")) } }
                            td.status { (text(r, "status")) }
                            td.num { @if let Some(result) = r["result"].as_object() { (cents(result.get("cost_cents").and_then(Value::as_u64).unwrap_or(0))) } }
                            td { (text(r, "reason")) }
                        } } }
                    } }
                }
            }
        }
    };
    let body = live_section("audit", &url, inner);
    Page::new("/ui/audit", "Audit", body).live(&state).await.render(&state)
}

/// Pending requests the Audit page lists.
const PENDING_ROWS: usize = 200;

/// An Approve or Deny button: `{"command": "audit.approve", "request": ID}` to the API.
fn answer_form(command: &str, label: &str, done: &str, request: &str, tool: &str) -> Markup {
    html! {
        form.command.answer hx-post="/v1/commands" hx-ext="json-form" hx-swap="none" data-done=(done) {
            input type="hidden" name="command" value=(command);
            input type="hidden" name="request" value=(request);
            button type="submit" class=(label.to_lowercase()) aria-label={(label) " " (tool) " request " (short(request))} { (label) }
            span.outcome role="status" aria-live="polite" {}
        }
    }
}

/// Percent-encodes a query parameter's value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Events

/// Events the tail shows from before the page was opened.
const TAIL_BACK: u64 = 50;

async fn events(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Response {
    let author = params.get("author").map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    let kind = params.get("kind").map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    // A filter the subscription would refuse would have the browser retry it for ever: refused here.
    let wrong = match (&author, &kind) {
        (Some(a), _) if a.parse::<mindlog_ledger::PublicKey>().is_err() => {
            Some(format!("author {a:?} is not a public key (64 lowercase hex characters)"))
        }
        (_, Some(k)) if !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"./-_:".contains(&b)) => {
            Some(format!("{k:?} is not an event kind (persona.created/1, …)"))
        }
        _ => None,
    };
    let kinds = report(&state, &["stats"]).await.ok();
    let end = kinds.as_ref().map_or(0, |s| number(s, "events"));
    // The tail starts with the latest events the filter admits: the offset before the
    // [`TAIL_BACK`]th latest of them.
    let back = if wrong.is_none() && (author.is_some() || kind.is_some()) {
        let mut conditions = Vec::new();
        if let Some(a) = &author {
            conditions.push(format!("author = '{a}'"));
        }
        if let Some(k) = &kind {
            conditions.push(format!("kind = '{k}'"));
        }
        let sql = format!(
            "SELECT \"offset\" FROM events WHERE {} ORDER BY \"offset\" DESC LIMIT 1 OFFSET {}",
            conditions.join(" AND "),
            TAIL_BACK - 1
        );
        rows(&state, &sql).await.ok().and_then(|r| r.first().map(|r| number(r, "offset"))).unwrap_or(0)
    } else {
        end.saturating_sub(TAIL_BACK)
    };
    let mut subscribe = format!("/v1/subscribe?after={back}");
    if let Some(a) = &author {
        let _ = write!(subscribe, "&author={}", encode(a));
    }
    if let Some(k) = &kind {
        let _ = write!(subscribe, "&kind={}", encode(k));
    }
    let body = html! {
        h1 { "Events" }
        p.lead { "The log as it grows: the latest events, then each new one as it is committed (newest first)." }
        form.inline method="get" action="/ui/events" {
            label for="author" { "Author (public key)" }
            input #author name="author" value=[author.as_deref()] size="20" autocomplete="off" pattern="[0-9a-f]{64}";
            label for="kind" { "Kind" }
            input #kind name="kind" value=[kind.as_deref()] list="kinds" size="24" autocomplete="off";
            datalist #kinds { @for k in kinds.as_ref().and_then(|s| s["kinds"].as_array()).into_iter().flatten() { option value=(text(k, "kind")) {} } }
            button type="submit" { "Filter" }
            " " a href="/ui/events" { "Clear" }
        }
        @if let Some(message) = &wrong { (failure(message)) }
        div.scroll {
            table #tail aria-live="polite" aria-relevant="additions" {
                caption { "Live tail" }
                thead { tr { th scope="col" { "Offset" } th scope="col" { "Time" } th scope="col" { "Author" } th scope="col" { "Seq" } th scope="col" { "Kind" } th scope="col" { "Hash" } } }
                tbody {}
            }
        }
    };
    let mut page = Page::new("/ui/events", "Events", body);
    page.live = wrong.is_none().then_some(subscribe);
    page.render(&state)
}

// ---------------------------------------------------------------------------------------------
// Query

/// Rows the Query page shows (the CSV has them all).
const QUERY_ROWS: usize = 1000;
/// How long a query from the Query page may run.
const QUERY_TIMEOUT: &str = "30s";

/// The first `limit` rows of a query (`mindlog query --format jsonl`, stopped once it has given
/// one more), and whether there were more; or the one line it failed with.
async fn first_rows(state: &AppState, sql: &str, limit: usize) -> Result<(Vec<Value>, bool), String> {
    use super::api::Piece;
    let argv = ["query", sql, "--format", "jsonl", "--timeout", QUERY_TIMEOUT].map(str::to_owned).to_vec();
    let mut rx = served_command(state, just(argv));
    let mut out = Vec::new();
    let failure = loop {
        match rx.recv().await {
            Some(Piece::Out(bytes)) => {
                out.extend(bytes);
                if out.iter().filter(|b| **b == b'\n').count() > limit {
                    // Dropping the channel stops the query: its next write finds a closed pipe.
                    break None;
                }
            }
            Some(Piece::Err(_) | Piece::Progress(_)) => {}
            Some(Piece::Done(finished)) => break finished.failure,
            None => break None,
        }
    };
    if let Some(failure) = failure {
        return Err(failure.message());
    }
    let mut rows = Vec::new();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        rows.push(serde_json::from_slice(line).map_err(|e| format!("a row is not JSON: {e}"))?);
    }
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

const EXAMPLE_SQL: &str = "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC";

async fn query(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Response {
    let sql = params.get("sql").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let results = match &sql {
        Some(sql) => Some(first_rows(&state, sql, QUERY_ROWS).await),
        None => None,
    };
    let shown = sql.as_deref().unwrap_or(EXAMPLE_SQL);
    let body = html! {
        h1 { "Query" }
        p.lead { "Read-only SQL over the log and every view (" code { "docs/query.md" } " lists the tables; " code { "mindlog query --tables" } " too). The URL keeps the query: bookmark it." }
        form #query-form method="get" action="/ui/query" {
            label for="sql" { "SQL" }
            textarea #sql name="sql" rows="4" spellcheck="false" { (shown) }
            button type="submit" { "Run" }
        }
        section #results aria-live="polite" {
            @match &results {
                None => {}
                Some(Err(message)) => (failure(message)),
                Some(Ok((rows, more))) => {
                    p {
                        @if *more { "The first " (thousands(rows.len() as u64)) " rows" } @else { (plural(rows.len() as u64, "row")) }
                        " · " a href={"/ui/query.csv?sql=" (encode(shown))} download="query.csv" { "Download " @if *more { "all " } "as CSV" }
                    }
                    @if !rows.is_empty() { (table(rows, "Results")) }
                }
            }
        }
    };
    Page::new("/ui/query", "Query", body).render(&state)
}

/// `GET /ui/query.csv?sql=`: the query's answer as CSV (`mindlog query --format csv`), to download.
async fn query_csv(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Response {
    let sql = params.get("sql").cloned().unwrap_or_default();
    let mut response =
        super::api::stream_command(&state, vec!["query".into(), sql, "--format".into(), "csv".into()], "text/csv")
            .await;
    if response.status().is_success() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"query.csv\""));
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Peers

async fn peers(State(state): State<AppState>) -> Response {
    let peers = report(&state, &["peers"]).await;
    let forks = report(&state, &["forks"]).await;
    let inner = html! {
        h1 { "Peers" }
        @match &peers {
            Err(message) => { p #not-replicating { (message) } }
            Ok(p) => {
                dl.facts {
                    dt { "This node" } dd { code.wrap { (text(p, "peer_id")) } }
                    dt { "Listening on" } dd { @for a in p["listening"].as_array().into_iter().flatten() { code.wrap { (a.as_str().unwrap_or("")) } br; } }
                }
                @let list = p["peers"].as_array().cloned().unwrap_or_default();
                @if list.is_empty() { p { "No peer yet: start a node with " code { "--peer" } "." } } @else {
                    div.scroll { table #peer-table {
                        caption { (list.len()) " peers" }
                        thead { tr { th scope="col" { "Peer" } th scope="col" { "State" } th scope="col" { "Feeds in common" } th scope="col" { "Lag" } th scope="col" { "Ahead" } th scope="col" { "Score" } th scope="col" { "Received" } th scope="col" { "Last seen" } } }
                        tbody { @for peer in &list { tr {
                            td { code { (short(text(peer, "peer_id"))) } }
                            td { @if !peer["blocked_until"].is_null() { "blocked" } @else if peer["connected"].as_bool().unwrap_or(false) { "connected" } @else { "away" } }
                            td.num { (number(peer, "feeds_in_common")) } td.num { (number(peer, "lag")) } td.num { (number(peer, "ahead")) }
                            td.num { (decimal(float(peer, "score"))) } td.num { (number(peer, "events_received")) }
                            td { (when(&peer["last_seen"])) }
                        } } }
                    } }
                }
            }
        }
        h2 { "Fork proofs" }
        @match &forks {
            Err(message) => (failure(message)),
            Ok(f) => {
                @let list = f.as_array().cloned().or_else(|| f["forks"].as_array().cloned()).unwrap_or_default();
                @if list.is_empty() { p { "None: every author's feed is one chain." } } @else {
                    ul { @for fork in &list { li { "author " a href={"/ui/reputation/" (text(fork, "author"))} { code { (short(text(fork, "author"))) } } " signed two events at seq " (number(fork, "seq")) } } }
                }
            }
        }
    };
    let body = live_section("peers", "/ui/peers", inner);
    Page::new("/ui/peers", "Peers", body).live(&state).await.render(&state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_sentences() {
        let health = serde_json::json!({"opened": 11, "open": 3, "closed": 8, "expired": 0, "close_rate": 0.73});
        assert_eq!(commitment_sentence(&health), "Commitments: 11 opened, 8 closed (73% success); 3 open, 0 expired.");
        let none = serde_json::json!({"opened": 1, "open": 1, "closed": 0, "expired": 0, "close_rate": null});
        assert_eq!(commitment_sentence(&none), "Commitments: 1 opened, 0 closed (none ended yet); 1 open, 0 expired.");
    }

    #[test]
    fn every_page_is_a_page_and_every_asset_is_named_once() {
        for (path, _, _) in PAGES {
            assert!(is_page(path), "{path}");
        }
        assert!(!is_page("/v1/personas") && !is_page("/docs/") && !is_page("/uix"));
        let mut names: Vec<_> = ASSETS.iter().map(|(n, _, _)| n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ASSETS.len());
    }

    #[test]
    fn times_with_and_without_an_offset() {
        assert_eq!(seconds(&Value::from("1970-01-02T00:00:00Z")), Some(86_400.0));
        assert_eq!(seconds(&Value::from("1970-01-02T00:00:00")), Some(86_400.0));
        assert_eq!(seconds(&Value::from("1970-01-02T02:00:00+02:00")), Some(86_400.0));
        assert_eq!(seconds(&Value::from("yesterday")), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
