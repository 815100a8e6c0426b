//! The dashboard in a real browser: headless Chromium driven through chromedriver (installed by
//! .ci/run from the distribution's packages), against a real node on 127.0.0.1. Screenshots of
//! every page at 1280×800 go to `target/dashboard-screenshots/` (docs/dashboard.md).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::webdriver::{Driver, Session};
use common::{ok, ok_trimmed};

/// How long anything in the browser may take before the test fails (a loaded machine is slow;
/// nothing here measures speed).
const PATIENCE: Duration = Duration::from_secs(20);

/// A node on a home, with its address, token and one-time login URL.
struct Node {
    child: Child,
    address: String,
    token: String,
    login: String,
}

impl Node {
    fn start(home: &Path) -> Node {
        let (child, found) = common::start_node(home, &[], &[], &["listening on http://", "browser login (once): "]);
        let [address, login] = <[String; 2]>::try_from(found).unwrap();
        let token = std::fs::read_to_string(home.join("node.token")).unwrap().trim().to_owned();
        Node { child, address, token, login }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A request as the browser would send it (the login cookie), with extra headers; status and body.
    fn with_cookie(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let cookie = format!("mindlog_session={}", self.token);
        let response = if method == "GET" {
            let mut request = agent.get(&self.url(path)).header("Cookie", &cookie);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.call()
        } else {
            let mut request = agent.post(&self.url(path)).header("Cookie", &cookie);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.send(body.as_bytes())
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap_or_default())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go: `target/dashboard-screenshots/` of the workspace.
fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots")
}

/// A home with something on every page: gen's workload, and a persona, a pending approval and a
/// listing of the home's own identity.
fn home() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["init"]);
    ok(home, &["gen", "--events", "3000", "--authors", "4", "--seed", "7"]);
    ok(home, &["persona", "create", "Echo", "--description", "a curious research assistant"]);
    ok(home, &["persona", "traits", "Echo", "--openness", "0.05", "--neuroticism", "-0.05"]);
    ok(home, &["commitment", "open", "Echo", "write the weekly report"]);
    let closed = ok_trimmed(home, &["commitment", "open", "Echo", "answer the mail"]);
    let closed = closed.split_whitespace().last().unwrap().to_owned();
    ok(home, &["commitment", "close", "Echo", &closed, "--outcome", "done"]);
    ok(home, &["memory", "add", "Echo", "prefers concise answers", "--importance", "0.8", "--tag", "style"]);
    for (valence, arousal) in [("0.1", "0.3"), ("0.4", "0.5"), ("-0.2", "0.7")] {
        ok(home, &["emotion", "Echo", "--valence", valence, "--arousal", arousal]);
    }
    ok(home, &["model", "use", "Echo", "ollama:llama3.1", "--hash", "sha256:9f86d081884c7d65"]);
    let published =
        ok(home, &["--json", "market", "publish", "plugin", "summarizer", "--price", "500", "--currency", "EUR"]);
    let listing = common::json(&published)[0]["hash"].as_str().unwrap().to_owned();
    ok(home, &["identity", "new", "buyer"]);
    ok(home, &["--as", "buyer", "market", "buy", &listing]);
    ok(home, &["--as", "buyer", "review", &listing, "--rating", "4", "--text", "saves me an hour a day"]);
    ok(
        home,
        &["--as", "buyer", "rep", "attest", "default", "--task", "summaries", "--outcome", "success", "--weight", "5"],
    );
    let request = ok_trimmed(
        home,
        &[
            "audit",
            "tool",
            "s-dashboard",
            "--tool",
            "shell.exec",
            "--args-digest",
            "sha256:ab12",
            "--scope",
            "workspace",
            "--decision",
            "ask",
            "--reason",
            "deletes build files",
        ],
    );
    (dir, request)
}

/// What every page must be, once its live parts have caught up: no console errors, every form field labelled, no sideways scroll at
/// 1280 px nor at 400 px, the skip link first in keyboard order.
fn check_page(browser: &Session, name: &str) {
    // A live page has caught up with the log (the events tail is filled) before it is looked at.
    browser.wait_until(
        "!document.body.dataset.subscribe || document.getElementById('live-status').textContent === 'live'",
        PATIENCE,
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "{name}: console errors {errors:?}");
    let unlabelled = browser.execute(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.outerHTML)",
        vec![],
    );
    assert_eq!(unlabelled, serde_json::json!([]), "{name}: fields without a label");
    let wide = browser.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]);
    assert_eq!(wide, serde_json::json!(true), "{name}: scrolls sideways at 1280 px");
    browser.screenshot(&screenshots().join(format!("{name}.png")));
    browser.set_viewport(400, 800);
    let narrow = browser.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]);
    assert_eq!(narrow, serde_json::json!(true), "{name}: scrolls sideways at 400 px");
    browser.set_viewport(1280, 800);
    browser.execute("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)", vec![]);
    browser.press("\u{E004}");
    assert_eq!(browser.active().attr("class").as_deref(), Some("skip"), "{name}: Tab reaches the skip link first");
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let (dir, request) = home();
    let home = dir.path();
    let node = Node::start(home);
    let driver = Driver::start();
    let browser = driver.session(1280, 800);

    // Without the cookie a page is refused, in the browser and to any client.
    browser.goto(&node.url("/ui/mind"));
    assert!(browser.source().contains("Sign in to this node"), "{}", browser.source());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    assert_eq!(agent.get(&node.url("/ui/mind")).call().unwrap().status().as_u16(), 401);
    let _ = browser.console_errors(); // the refusal's 401 is one

    // The console is read (so "no console errors" below can fail).
    browser.execute("console.error('the test reads the console')", vec![]);
    assert!(browser.console_errors().iter().any(|e| e.contains("the test reads the console")));

    // The one-time login URL signs the browser in, and works once.
    browser.goto(&node.login);
    assert!(browser.current_url().ends_with("/ui/mind"), "{}", browser.current_url());
    assert_eq!(agent.get(&node.login).call().unwrap().status().as_u16(), 403, "a login code works once");

    // Every page of the navigation bar: 200, no console error, labelled, fits, keyboard first stop.
    let pages: Vec<String> = browser.find_all("nav a").iter().map(|a| a.attr("href").unwrap()).collect::<Vec<_>>();
    assert!(pages.len() >= 8, "{pages:?}");
    for path in &pages {
        let (status, _) = node.with_cookie("GET", path, &[], "");
        assert_eq!(status, 200, "{path}");
        browser.goto(&node.url(path));
        browser.wait_for("main h1", PATIENCE);
        check_page(&browser, path.trim_start_matches("/ui/"));
    }

    // Mind: the persona's traits with their meaning, and the commitment sentence.
    browser.goto(&node.url("/ui/mind"));
    browser.wait_for("main table a", PATIENCE);
    let echo = browser.find_all("main table a").into_iter().find(|a| a.text() == "Echo").expect("Echo is listed");
    echo.click();
    browser.wait_for("#traits", PATIENCE);
    let traits = browser.find("#traits").unwrap().text();
    assert!(traits.contains("openness") && traits.contains("curiosity and imagination"), "{traits}");
    assert!(traits.contains("0.55") && traits.contains("0.45"), "{traits}");
    assert_eq!(
        browser.find("#commitment-health").unwrap().text(),
        "Commitments: 2 opened, 1 closed (100% success); 1 open, 0 expired."
    );
    assert!(browser.find("#stage").unwrap().text().contains("nascent"));
    browser.wait_for("#persona .chart canvas", PATIENCE); // the emotion chart is drawn
    check_page(&browser, "mind-persona");

    // Marketplace: revenue per month as a chart; a listing with its review.
    browser.goto(&node.url("/ui/market"));
    browser.wait_for("[data-chart=chart-revenue] canvas", PATIENCE);
    browser.find_all("#listings a").into_iter().find(|a| a.text() == "summarizer").expect("listed").click();
    browser.wait_for("ul.reviews", PATIENCE);
    assert!(browser.find("ul.reviews").unwrap().text().contains("4 ★ saves me an hour a day"));
    check_page(&browser, "market-listing");

    // Reputation: the leaderboard links to a key's record, with its score over time.
    browser.goto(&node.url("/ui/reputation"));
    let me = common::json(&ok(home, &["--json", "identity", "list"]))[0]["public_key"].as_str().unwrap().to_owned();
    browser.find(&format!("a[href='/ui/reputation/{me}']")).expect("the home's key is on the board").click();
    browser.wait_for("[data-chart=chart-score] canvas", PATIENCE);
    assert!(browser.find("#score").unwrap().text().contains("of 100"));
    assert!(browser.find("#attestations").unwrap().text().contains("summaries success 5"));
    check_page(&browser, "reputation-key");

    // Audit: Approve in one tab; the other tab sees it without a reload.
    let pending_row = format!("#pending-{request}");
    let status_cell = format!("#request-{request} td.status");
    browser.goto(&node.url("/ui/audit?session=s-dashboard"));
    browser.wait_for(&pending_row, PATIENCE);
    let first = browser.window_handle();
    let second = browser.new_tab();
    browser.switch_to(&second);
    browser.goto(&node.url("/ui/audit?session=s-dashboard"));
    browser.wait_for(&status_cell, PATIENCE);
    assert_eq!(browser.find(&status_cell).unwrap().text(), "waiting");
    browser.wait_until("document.getElementById('live-status').textContent === 'live'", PATIENCE);
    browser.execute("window.notReloaded = true", vec![]);
    browser.switch_to(&first);
    browser.find(&format!("{pending_row} button.approve")).expect("an Approve button").click();
    browser.wait_until(&format!("document.querySelector('{status_cell}')?.textContent === 'approved'"), PATIENCE);
    assert!(browser.find(&pending_row).is_none(), "no longer waiting");
    browser.switch_to(&second);
    browser.wait_until(&format!("document.querySelector('{status_cell}')?.textContent === 'approved'"), PATIENCE);
    assert_eq!(browser.execute("return window.notReloaded === true", vec![]), serde_json::json!(true));
    let shown = common::json(&ok(home, &["--json", "audit", "show", "s-dashboard"]));
    assert_eq!(shown["timeline"][0]["status"], "approved", "the approval is in the log");
    assert!(browser.console_errors().is_empty());

    // A form's rejection shows next to the form, in one line.
    browser.goto(&node.url("/ui/market"));
    let review = browser.wait_for("#rev-listing", PATIENCE);
    review.send_keys("no-such-listing");
    browser.find("#rev-text").unwrap().send_keys("great");
    browser.find("form:has(#rev-listing) button[type=submit]").unwrap().click();
    browser.wait_until("document.querySelector('#rev-listing').form.querySelector('.outcome.error')", PATIENCE);
    let outcome = browser
        .execute("return document.querySelector('#rev-listing').form.querySelector('.outcome').textContent", vec![]);
    let outcome = outcome.as_str().unwrap();
    assert!(outcome.contains("no-such-listing") && !outcome.contains('\n'), "{outcome}");
    // …and an accepted one changes the page live.
    browser.find("#pub-name").unwrap().send_keys("translator");
    browser.find("#pub-price").unwrap().send_keys("900");
    browser.find("form:has(#pub-name) button[type=submit]").unwrap().click();
    browser.wait_until(
        "[...document.querySelectorAll('#listings a')].some(a => a.textContent === 'translator')",
        PATIENCE,
    );
    let errors = browser.console_errors();
    // The browser and htmx each log the rejected review's 404; nothing else.
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e.contains("404") && e.contains("/v1/commands")),
        "only the rejected review's answer: {errors:?}"
    );

    // Events: an append made through the CLI appears in the live tail, filtered by kind.
    browser.goto(&node.url("/ui/events?kind=memory.added/1"));
    browser.wait_until("document.getElementById('live-status').textContent === 'live'", PATIENCE);
    // The backlog: the latest 50 memories (of many more in the log), and nothing else.
    browser.wait_until("document.querySelectorAll('#tail tbody tr').length === 50", PATIENCE);
    let before = browser.find_all("#tail tbody tr").len();
    assert!(
        browser.find_all("#tail tbody tr").iter().all(|r| r.attr("data-kind").as_deref() == Some("memory.added/1"))
    );
    ok(home, &["reflect", "Echo", "not in this tail"]);
    ok(home, &["memory", "add", "Echo", "seen in the tail", "--importance", "0.3"]);
    let appended = Instant::now();
    let took = browser.wait_until(&format!("document.querySelectorAll('#tail tbody tr').length > {before}"), PATIENCE);
    let newest = browser.find("#tail tbody tr").unwrap();
    assert_eq!(newest.attr("data-kind").as_deref(), Some("memory.added/1"), "the filter keeps the reflection out");
    assert_eq!(browser.find_all("#tail tbody tr").len(), before + 1);
    eprintln!(
        "the tail showed the CLI's append {} ms after the CLI returned",
        (appended.elapsed().min(took)).as_millis()
    );

    // Query: runs, shows a table, and links to the same answer as CSV.
    browser.goto(&node.url("/ui/query"));
    let sql = browser.wait_for("#sql", PATIENCE);
    sql.clear();
    sql.send_keys("SELECT name, status FROM personas WHERE name = 'Echo'");
    browser.find("#query-form button").unwrap().click();
    browser.wait_for("#results table", PATIENCE);
    assert!(browser.find("#results table").unwrap().text().contains("Echo"));
    assert!(browser.current_url().contains("sql=SELECT"), "the query is in the URL: {}", browser.current_url());
    let csv = browser.find("#results a[download]").unwrap().attr("href").unwrap();
    let (status, body) = node.with_cookie("GET", &csv, &[], "");
    assert_eq!((status, body.as_str()), (200, "name,status\nEcho,active\n"));

    // Privacy: sign a checkpoint, then download it; it checks with the key the page shows.
    browser.goto(&node.url("/ui/privacy"));
    browser.wait_for("#sign button", PATIENCE).click();
    browser.wait_until("document.querySelector('#sign .outcome').textContent !== ''", PATIENCE);
    let said = browser.find("#sign .outcome").unwrap().text();
    assert!(said.starts_with("Signed"), "{said}");
    let link = browser.wait_for("#checkpoint", PATIENCE).attr("href").unwrap();
    let key = browser.find("#verifier-key").unwrap().text();
    let (status, note) = node.with_cookie("GET", &link, &[], "");
    assert_eq!(status, 200, "{note}");
    let file = home.join("downloaded.checkpoint");
    std::fs::write(&file, note).unwrap();
    let checked = ok(home, &["check", file.to_str().unwrap(), "--key", &key]);
    assert!(checked.starts_with("OK: checkpoint of mindlog.local/feed/"), "{checked}");

    // Privacy: verify with progress, then the last verification is shown.
    browser.wait_for("#verify", PATIENCE).click();
    browser.wait_until("document.getElementById('verify-outcome').textContent.startsWith('OK: ')", PATIENCE);
    browser.wait_until("!document.getElementById('last-verified').textContent.includes('never')", PATIENCE);
    // Erasing a memory needs the confirmation; then its text is gone from the file.
    let memory = common::json(&ok(home, &["--json", "memory", "list", "Echo"]))[0]["id"].as_str().unwrap().to_owned();
    browser.find("#erase-memory-persona").unwrap().send_keys("Echo");
    browser.find("#erase-memory-id").unwrap().send_keys(&memory);
    let erase = browser.find("form:has(#erase-memory-id) button[type=submit]").unwrap();
    erase.click();
    let valid = browser.execute("return document.querySelector('#erase-memory-id').form.checkValidity()", vec![]);
    assert_eq!(valid, serde_json::json!(false), "the form cannot be sent before the confirmation is ticked");
    std::thread::sleep(Duration::from_millis(500));
    let listed = common::json(&ok(home, &["--json", "memory", "list", "Echo"]));
    assert_eq!(listed[0]["id"], memory.as_str(), "the memory is still there");
    assert!(listed[0]["forgotten"].is_null(), "and not forgotten");
    browser.find("#erase-memory-sure").unwrap().click();
    erase.click();
    browser.wait_until(
        "document.querySelector('#erase-memory-id').form.querySelector('.outcome').textContent === 'Erased.'",
        PATIENCE,
    );
    let file = std::fs::read(home.join("mind.redb")).unwrap();
    assert!(!file.windows(23).any(|w| w == b"prefers concise answers"), "the memory's text is gone from the file");
    assert!(browser.console_errors().is_empty());
}

/// A browser's request that changes something must carry the pages' CSRF header; a client with
/// the bearer token needs none.
#[test]
fn a_cookie_alone_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    let node = Node::start(dir.path());
    let command = r#"{"command": "persona.create", "name": "Nova"}"#;
    let json = ("Content-Type", "application/json");
    let (status, body) = node.with_cookie("POST", "/v1/commands", &[json], command);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("x-mindlog-csrf"), "{body}");
    let (_, page) = node.with_cookie("GET", "/ui/privacy", &[], "");
    let csrf = page.split("name=\"mindlog-csrf\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (status, _) =
        node.with_cookie("POST", "/v1/commands", &[json, ("x-mindlog-csrf", "0".repeat(64).as_str())], command);
    assert_eq!(status, 403, "a wrong token is refused");
    let (status, body) = node.with_cookie("POST", "/v1/commands", &[json, ("x-mindlog-csrf", &csrf)], command);
    assert_eq!(status, 200, "{body}");
    assert!(csrf.len() == 64 && csrf != node.token, "the pages' token is not the node's");
    // Nothing of the dashboard is served without the cookie (or the token).
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for path in ["/", "/ui/", "/ui/mind", "/ui/privacy", "/ui/assets/mindlog.js", "/ui/query.csv?sql=SELECT%201"] {
        let status = agent.get(&node.url(path)).call().unwrap().status().as_u16();
        assert_eq!(status, 401, "{path}");
    }
    // A page about something that does not exist says so, with 404.
    let (status, page) = node.with_cookie("GET", "/ui/mind/no-such-persona", &[], "");
    assert_eq!(status, 404);
    assert!(page.contains("unknown persona"), "{page}");
}
