//! `mindlog node` end to end: real nodes on 127.0.0.1:0, real HTTP and WebSocket clients, the
//! CLI through a running node, the seam of a subscription, a slow subscriber, and shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{mindlog, ok, submit_stdin};

/// A node running on a home; killed when dropped.
struct Node {
    child: Child,
    address: String,
    token: String,
    home: PathBuf,
}

impl Node {
    fn start(home: &Path) -> Node {
        Node::start_with(home, &[])
    }

    fn start_with(home: &Path, env: &[(&str, &str)]) -> Node {
        let (child, found) = common::start_node(home, &[], env, &["listening on http://"]);
        let address = found.into_iter().next().unwrap();
        let token = std::fs::read_to_string(home.join("node.token")).unwrap().trim().to_owned();
        Node { child, address, token, home: home.to_owned() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn request(&self, method: &str, path: &str, body: Option<(&str, &[u8])>, token: bool) -> (u16, String) {
        let agent = agent();
        let url = self.url(path);
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("GET", _) => {
                let r = agent.get(&url);
                if token { r.header("Authorization", &auth).call() } else { r.call() }
            }
            (_, body) => {
                let (ty, bytes) = body.unwrap_or(("application/json", b"{}"));
                let r = agent.post(&url).header("Content-Type", ty);
                let r = if token { r.header("Authorization", &auth) } else { r };
                r.send(bytes)
            }
        };
        let mut response = response.unwrap();
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, None, true)
    }

    fn post(&self, path: &str, json: &str) -> (u16, String) {
        self.request("POST", path, Some(("application/json", json.as_bytes())), true)
    }

    /// Stops the node with SIGTERM and waits for it: its exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        Command::new("sh").args(["-c", &format!("kill -TERM {}", self.child.id())]).status().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the node did not stop within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A home with a persona and a memory.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    ok(dir.path(), &["persona", "create", "Echo", "--description", "a test persona"]);
    ok(dir.path(), &["memory", "add", "Echo", "the first memory", "--importance", "0.7"]);
    dir
}

fn copy_home(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
        }
    }
    to
}

#[test]
fn the_cli_through_a_node_prints_and_exits_as_without_one() {
    let served = home();
    let local = copy_home(served.path());
    let node = Node::start(served.path());
    let json_file = served.path().join("cmd.json");
    std::fs::write(&json_file, r#"{"command":"persona.create","name":"Echo"}"#).unwrap();
    let json_file = json_file.to_str().unwrap();
    // Reads print the same bytes; failures the same line and code; usage errors too.
    let reads: &[&[&str]] = &[
        &["persona", "list"],
        &["--json", "persona", "list"],
        &["persona", "show", "Echo", "--as-of", "2030-01-01T00:00:00Z"],
        &["memory", "list", "Echo", "--as-of", "2030-01-01T00:00:00Z"],
        &["persona", "show", "Nobody"],
        &["query", "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind"],
        &["query", "SELECT kind FROM events ORDER BY seq", "--format", "csv"],
        &["query", "SELEC nothing"],
        &["query", "SELECT nope FROM events"],
        &["log", "--json"],
        &["export", "--jsonl"],
        &["stats"],
        &["persona", "frobnicate"],
        &["market", "show", "no-such-listing"],
        &["submit", json_file],
        &["persona", "create", "Echo"],
        &["--as", "../evil", "persona", "list"],
        &["identity", "list"],
    ];
    for args in reads {
        let through = mindlog(served.path(), args);
        let alone = mindlog(local.path(), args);
        let show = |o: &std::process::Output| {
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
        };
        assert_eq!(
            through.status.code(),
            alone.status.code(),
            "mindlog {args:?}:\nnode: {}\nalone: {}",
            show(&through),
            show(&alone)
        );
        let same_text = |a: &[u8], b: &[u8]| {
            let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            // Paths printed differ (two homes); nothing else may.
            a.replace(served.path().to_str().unwrap(), "HOME") == b.replace(local.path().to_str().unwrap(), "HOME")
        };
        assert!(
            same_text(&through.stdout, &alone.stdout),
            "stdout of {args:?}:\nnode: {}\nalone: {}",
            show(&through),
            show(&alone)
        );
        assert!(
            same_text(&through.stderr, &alone.stderr),
            "stderr of {args:?}:\nnode: {}\nalone: {}",
            show(&through),
            show(&alone)
        );
    }
    // A write through the node lands in the node's store, and standard input travels.
    let mut child = submit_stdin(served.path());
    child.stdin.take().unwrap().write_all(br#"{"command":"persona.create","name":"Nova"}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\":true"));
    let (status, body) = node.get("/v1/personas");
    assert_eq!(status, 200);
    assert!(body.contains("\"Nova\""), "{body}");
    // A long `submit -` (more answers than a connection buffers) neither hangs nor loses one.
    let many: String =
        (0..1500).map(|i| format!("{{\"command\":\"persona.create\",\"name\":\"bulk-{i}\"}}\n")).collect();
    let mut child = submit_stdin(served.path());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(many.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).matches("\"ok\":true").count(), 1500);
    // A relative path means the client's folder, not the node's.
    let out = Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .args(["--home", served.path().to_str().unwrap(), "export", "--jsonl", "-o", "out.jsonl"])
        .current_dir(local.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(local.path().join("out.jsonl")).unwrap().lines().count(), 1503);
    // The store is the node's: a command on the home does not wait for the lock.
    assert!(node.home.join("node.json").exists());
    let status = node.stop();
    assert!(status.success(), "{status:?}");
    assert!(!served.path().join("node.json").exists(), "node.json is removed on exit");
    // Without the node the command runs on its own again.
    assert!(ok(served.path(), &["persona", "list"]).contains("Nova"));
}

#[test]
fn a_stale_node_file_is_removed_and_a_second_node_refused() {
    let home = home();
    let stale = r#"{"pid": 4000000, "address": "127.0.0.1:9", "started": "2026-01-01T00:00:00Z", "version": "0"}"#;
    std::fs::write(home.path().join("node.json"), stale).unwrap();
    assert!(ok(home.path(), &["persona", "list"]).contains("Echo"));
    assert!(!home.path().join("node.json").exists(), "a node.json whose process is gone is removed");

    let node = Node::start(home.path());
    let second = mindlog(home.path(), &["node"]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("a node already serves"), "{stderr}");
    assert!(node.get("/health").1.contains("\"ok\""));
    // A non-loopback address nothing here owns (TEST-NET-1): refused before any bind is tried.
    let refused = mindlog(home.path(), &["node", "--listen", "192.0.2.1:0"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-remote"), "{refused:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(home.path().join("node.token")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(node.token.len(), 64);
}

#[test]
fn every_route_needs_the_token_and_answers_with_the_right_status() {
    let home = home();
    let node = Node::start(home.path());
    let (status, doc) = node.get("/openapi.json");
    assert_eq!(status, 200);
    let doc = json(&doc);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{paths:?}");
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            let concrete = path
                .replace("{persona}", "Echo")
                .replace("{hash}", &"0".repeat(64))
                .replace("{table}", "events.parquet")
                .replace("{listing}", "x")
                .replace("{board}", "listings")
                .replace("{subject}", "x")
                .replace("{session}", "x");
            let (status, body) = node.request(&method.to_ascii_uppercase(), &concrete, None, false);
            let open = matches!(path.as_str(), "/health" | "/metrics" | "/login");
            if open {
                assert_ne!(status, 401, "{method} {path} is open");
            } else {
                assert_eq!(status, 401, "{method} {path} without the token: {body}");
                assert_eq!(json(&body)["error"]["code"], "unauthorized");
            }
        }
    }
    // A wrong token, a foreign Host, a foreign Origin, a wrong media type.
    let agent = agent();
    let auth = format!("Bearer {}", node.token);
    // The Swagger UI: behind the token too, and everything it loads comes from the node.
    assert_eq!(node.request("GET", "/docs/", None, false).0, 401);
    let r = agent.get(&node.url("/docs/")).header("Authorization", &auth).call().unwrap();
    assert_eq!(r.status(), 200);
    let policy = r.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"), "{policy}");
    let page = r.into_body().read_to_string().unwrap();
    assert!(page.contains("swagger-ui") && !page.contains("http://") && !page.contains("https://"), "{page}");
    let (status, init) = node.get("/docs/swagger-initializer.js");
    assert!(status == 200 && init.contains("\"/openapi.json\"") && !init.contains("https://"), "{init}");
    // A login URL (mindlog open's) signs a browser in once: a cookie, then on to the pages.
    let (status, body) = node.post("/v1/login", "{}");
    assert_eq!(status, 200, "{body}");
    let url = json(&body)["url"].as_str().unwrap().to_owned();
    let browser = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).proxy(None).max_redirects(0).build(),
    );
    let r = browser.get(&url).call().unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap();
    assert_eq!(browser.get(&node.url("/v1/personas")).header("Cookie", session).call().unwrap().status(), 200);
    assert_eq!(browser.get(&url).call().unwrap().status(), 403, "a login URL works once");
    let status_with = |method: &str, path: &str, headers: &[(&str, &str)]| {
        let mut request = ureq::http::Request::builder().method(method).uri(node.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        agent.run(request.body(b"{}".to_vec()).unwrap()).unwrap().status().as_u16()
    };
    assert_eq!(status_with("GET", "/v1/personas", &[("Authorization", "Bearer nope")]), 401);
    assert_eq!(status_with("GET", "/v1/personas", &[("Authorization", &auth), ("Host", "evil.example")]), 403);
    assert_eq!(status_with("GET", "/v1/personas", &[("Authorization", &auth), ("Origin", "http://evil.example")]), 403);
    assert_eq!(status_with("POST", "/v1/commands", &[("Authorization", &auth), ("Content-Type", "text/plain")]), 415);
    let r = agent.get(&node.url("/v1/personas")).header("Authorization", &auth).call().unwrap();
    assert_eq!(r.headers().get("x-frame-options").unwrap(), "DENY");
    assert_eq!(r.headers().get("x-content-type-options").unwrap(), "nosniff");
    assert!(r.headers().get("content-security-policy").is_some());
    // The login code trades once for a cookie that works where a header cannot be sent.
    let login = format!("/login?code={}", "0".repeat(32));
    assert_eq!(node.request("GET", &login, None, false).0, 403);

    // Statuses: 200, 400, 404, 409, 422; expect_head.
    let (status, body) = node.post("/v1/commands", r#"{"command":"persona.create","name":"Nova"}"#);
    assert_eq!(status, 200, "{body}");
    let written = json(&body);
    assert_eq!(written[0]["kind"], "persona.created/1");
    let seq = written[0]["seq"].as_u64().unwrap();
    let (status, body) = node.post("/v1/commands", r#"{"command":"persona.create","name":"Nova"}"#);
    assert_eq!((status, json(&body)["error"]["code"].as_str().unwrap()), (409, "rejected"), "{body}");
    let (status, _) = node.post("/v1/commands", r#"{"command":"no.such"}"#);
    assert_eq!(status, 400);
    let (status, _) = node.post("/v1/commands", "not json");
    assert_eq!(status, 400);
    let moved = format!(r#"{{"command":"persona.create","name":"Vega","expect_head":{}}}"#, seq - 1);
    let (status, body) = node.post("/v1/commands", &moved);
    assert_eq!((status, json(&body)["error"]["code"].as_str().unwrap()), (409, "head_moved"), "{body}");
    let at_head = format!(r#"{{"command":"persona.create","name":"Vega","expect_head":{seq}}}"#);
    assert_eq!(node.post("/v1/commands", &at_head).0, 200);
    let (status, body) = node.post(
        "/v1/commands:batch",
        r#"[{"command":"persona.create","name":"Lyra"},{"command":"persona.create","name":"Lyra"}]"#,
    );
    assert_eq!(status, 200);
    let results = json(&body);
    assert_eq!((results[0]["ok"].as_bool(), results[1]["ok"].as_bool()), (Some(true), Some(false)), "{body}");
    assert_eq!(node.get("/v1/personas/Nobody").0, 404);
    let (status, body) = node.get("/v1/personas?limit=2&offset=1");
    assert_eq!(status, 200);
    assert_eq!(json(&body).as_array().unwrap().len(), 2, "{body}");
    assert_eq!(node.get("/v1/personas/Echo?bogus=1").0, 400);
    assert_eq!(node.get(&format!("/v1/events/{}", "0".repeat(64))).0, 404);
    let hash = written[0]["hash"].as_str().unwrap();
    let (status, body) = node.get(&format!("/v1/events/{hash}"));
    assert_eq!((status, json(&body)["hash"].as_str().unwrap()), (200, hash));

    // Events: pages of export lines; ingest all or nothing.
    let (status, page) = node.get("/v1/events?after=1&limit=2");
    assert_eq!(status, 200);
    assert_eq!(page.lines().count(), 2);
    let other = tempfile::tempdir().unwrap();
    ok(other.path(), &["init"]);
    ok(other.path(), &["persona", "create", "Elsewhere"]);
    let lines = ok(other.path(), &["export", "--jsonl"]);
    let (status, body) = node.request("POST", "/v1/events", Some(("application/x-ndjson", lines.as_bytes())), true);
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        node.request("POST", "/v1/events", Some(("application/x-ndjson", b"{\"not\": \"an event\"}\n")), true);
    assert_eq!((status, json(&body)["error"]["code"].as_str().unwrap()), (422, "refused"), "{body}");

    // SQL: JSON, CSV, a wrong query, a query past its time.
    let (status, body) = node.post("/v1/query", r#"{"sql": "SELECT count(*) AS n FROM events"}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)[0]["n"], 6);
    let r = agent
        .post(&node.url("/v1/query"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .header("Accept", "text/csv")
        .send(r#"{"sql": "SELECT count(*) AS n FROM events"}"#)
        .unwrap();
    assert_eq!(r.into_body().read_to_string().unwrap(), "n\n6\n");
    let r = agent
        .post(&node.url("/v1/query"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .header("Accept", "application/vnd.apache.arrow.stream")
        .send(r#"{"sql": "SELECT kind FROM events"}"#)
        .unwrap();
    assert_eq!(r.headers().get("content-type").unwrap(), "application/vnd.apache.arrow.stream");
    let arrow = r.into_body().read_to_vec().unwrap();
    // An IPC stream: a continuation marker, then the schema message; the rows' kinds inside.
    assert!(arrow.starts_with(&[0xff, 0xff, 0xff, 0xff]), "{:?}", &arrow[..arrow.len().min(16)]);
    assert!(arrow.windows(17).any(|w| w == b"persona.created/1"), "{} bytes", arrow.len());
    assert_eq!(node.post("/v1/query", r#"{"sql": "SELEC"}"#).0, 400);
    assert_eq!(node.post("/v1/query", r#"{"sql": "DELETE FROM events"}"#).0, 400);
    let slow = r#"{"sql": "SELECT count(*) FROM events a, events b, events c, events d, events e, events f, events g, events h", "timeout_s": 0.05}"#;
    let (status, body) = node.post("/v1/query", slow);
    assert_eq!(status, 408, "{body}");
    assert_eq!(node.get("/health").0, 200, "the node keeps serving");

    // Verify, stats, feeds, export, metrics.
    let (status, body) = node.post("/v1/verify", "{}");
    assert_eq!((status, json(&body)["ok"].as_bool()), (200, Some(true)), "{body}");
    let r = agent
        .post(&node.url("/v1/verify"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .header("Accept", "application/x-ndjson")
        .send("{}")
        .unwrap();
    let lines = r.into_body().read_to_string().unwrap();
    let last = json(lines.lines().last().unwrap());
    assert_eq!(last["report"]["ok"], true, "{lines}");
    assert!(lines.lines().rev().skip(1).all(|l| json(l).get("progress").is_some()), "{lines}");
    assert_eq!(json(&node.get("/v1/stats").1)["events"], 6);
    assert_eq!(json(&node.get("/v1/feeds").1).as_array().unwrap().len(), 2);
    assert_eq!(node.get("/v1/export.jsonl").1.lines().count(), 6);
    let r = agent.get(&node.url("/v1/export/events.parquet")).header("Authorization", &auth).call().unwrap();
    assert_eq!(r.status(), 200);
    let parquet = r.into_body().read_to_vec().unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"), "{} bytes", parquet.len());
    assert_eq!(node.get("/v1/export/nope.parquet").0, 404);
    let metrics = node.get("/metrics").1;
    assert!(metrics.contains("mindlog_events 6") && metrics.contains("mindlog_http_requests_total{"), "{metrics}");
}

/// Reads a subscription's NDJSON lines until `until` says stop; offsets of the events.
fn read_ndjson(reader: impl Read, mut until: impl FnMut(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    for line in BufReader::new(reader).lines() {
        let item = json(&line.unwrap());
        let stop = until(&item);
        items.push(item);
        if stop {
            break;
        }
    }
    items
}

/// Checks that `offsets` are `first`, `first + 1`, … `last`: no gap, no duplicate (a short message).
fn check_consecutive(offsets: &[u64], first: u64, last: u64) {
    let wrong = offsets.iter().enumerate().find(|(i, o)| **o != first + *i as u64);
    assert!(
        wrong.is_none(),
        "{} offsets; at position {:?} found {:?} (no gap or duplicate allowed)",
        offsets.len(),
        wrong.map(|w| w.0),
        wrong.map(|w| w.1)
    );
    assert_eq!(offsets.last().copied(), Some(last), "{} offsets", offsets.len());
}

/// The events among `items` must be at offsets 0, 1, 2, … with `caught_up` once.
fn check_seamless(items: &[serde_json::Value], total: u64) {
    let offsets: Vec<u64> = items.iter().filter_map(|i| i["offset"].as_u64()).collect();
    check_consecutive(&offsets, 0, total - 1);
    assert_eq!(items.iter().filter(|i| i.get("caught_up").is_some()).count(), 1);
}

#[test]
fn subscriptions_replay_then_follow_without_gap_or_duplicate() {
    let home = home();
    let node = Node::start(home.path());
    let before = 2u64;
    let appends = 150u64;
    // Appends race the catch-up: they start as the subscriptions do.
    let writer = {
        let (url, token) = (node.url("/v1/commands"), node.token.clone());
        std::thread::spawn(move || {
            let agent = agent();
            for i in 0..appends {
                let body =
                    format!(r#"{{"command":"memory.add","persona":"Echo","text":"memory {i}","importance":0.5}}"#);
                let r = agent
                    .post(&url)
                    .header("Authorization", format!("Bearer {token}"))
                    .header("Content-Type", "application/json")
                    .send(body)
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        })
    };
    let total = before + appends;
    let auth = format!("Bearer {}", node.token);
    // NDJSON.
    let ndjson = {
        let (url, auth) = (node.url("/v1/subscribe?after=0"), auth.clone());
        std::thread::spawn(move || {
            let r = agent().get(&url).header("Authorization", &auth).call().unwrap();
            read_ndjson(r.into_body().into_reader(), |i| i["offset"].as_u64() == Some(total - 1))
        })
    };
    // Server-Sent Events, resumed with Last-Event-ID.
    let sse = {
        let (url, auth) = (node.url("/v1/subscribe"), auth.clone());
        std::thread::spawn(move || {
            let r = agent()
                .get(&url)
                .header("Authorization", &auth)
                .header("Accept", "text/event-stream")
                .header("Last-Event-ID", "1")
                .call()
                .unwrap();
            let mut ids = Vec::new();
            let mut caught_up = 0;
            let (mut event, mut id) = (String::new(), None);
            for line in BufReader::new(r.into_body().into_reader()).lines() {
                let line = line.unwrap();
                if let Some(name) = line.strip_prefix("event: ") {
                    event = name.to_owned();
                } else if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.parse::<u64>().unwrap());
                } else if line.is_empty() {
                    // The end of one SSE event: its fields come in any order.
                    match (event.as_str(), id) {
                        ("event", Some(id)) => ids.push(id),
                        ("caught_up", _) => caught_up += 1,
                        _ => {}
                    }
                    (event, id) = (String::new(), None);
                    if ids.last() == Some(&total) {
                        break;
                    }
                }
            }
            (ids, caught_up)
        })
    };
    // WebSocket.
    let ws = {
        let url = format!("ws://{}/v1/subscribe?after=0", node.address);
        let token = node.token.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                use futures::StreamExt as _;
                use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
                let mut request = url.into_client_request().unwrap();
                request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
                let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
                let mut items = Vec::new();
                while let Some(message) = socket.next().await {
                    let text = message.unwrap().into_text().unwrap();
                    let item = json(&text);
                    let last = item["offset"].as_u64() == Some(total - 1);
                    items.push(item);
                    if last {
                        break;
                    }
                }
                items
            })
        })
    };
    writer.join().unwrap();
    check_seamless(&ndjson.join().unwrap(), total);
    check_seamless(&ws.join().unwrap(), total);
    let (ids, caught_up) = sse.join().unwrap();
    // SSE ids are resume offsets (an event's offset + 1): Last-Event-ID 1 resumes at offset 1.
    check_consecutive(&ids, 2, total);
    assert_eq!(caught_up, 1);
}

#[test]
fn a_slow_subscriber_stalls_nobody_and_shutdown_gives_the_resume_offset() {
    let home = home();
    let node = Node::start(home.path());
    let auth = format!("Bearer {}", node.token);
    // A subscriber that reads nothing while thousands of events commit.
    let slow = agent().get(&node.url("/v1/subscribe?after=0")).header("Authorization", &auth).call().unwrap();
    let mut slow = BufReader::new(slow.into_body().into_reader());
    let commands: Vec<String> = (0..2000)
        .map(|i| {
            format!(r#"{{"command":"memory.add","persona":"Echo","text":"{i} {}","importance":0.5}}"#, "x".repeat(400))
        })
        .collect();
    let batch = format!("[{}]", commands.join(","));
    let started = Instant::now();
    let (status, _) = node.post("/v1/commands:batch", &batch);
    assert_eq!(status, 200);
    // Far more events than the live tail keeps (4,096) and the sockets hold (26 MB) arrive at
    // once, signed elsewhere: the slow subscriber falls behind the tail and goes back to the store.
    let other = tempfile::tempdir().unwrap();
    ok(other.path(), &["init"]);
    ok(other.path(), &["gen", "--events", "20000", "--authors", "2"]);
    let lines = ok(other.path(), &["export", "--jsonl"]);
    let (status, body) = node.request("POST", "/v1/events", Some(("application/x-ndjson", lines.as_bytes())), true);
    assert_eq!(status, 200, "{body}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "appends went on while a subscriber read nothing ({took:?})");
    let last = 2002 + 20000 - 1;
    // A subscriber that reads gets everything at once.
    let fresh = agent().get(&node.url("/v1/subscribe?after=0")).header("Authorization", &auth).call().unwrap();
    let items = read_ndjson(fresh.into_body().into_reader(), |i| i.get("caught_up").is_some());
    assert_eq!(items.iter().filter(|i| i.get("offset").is_some()).count(), last as usize + 1);
    // The slow one, once it reads, has every event in order, then caught_up.
    let mut offsets = Vec::new();
    let mut caught_up = 0;
    let mut line = String::new();
    while offsets.last() != Some(&last) {
        line.clear();
        slow.read_line(&mut line).unwrap();
        let item = json(&line);
        match item["offset"].as_u64() {
            Some(offset) => offsets.push(offset),
            None => caught_up += usize::from(item.get("caught_up").is_some()),
        }
    }
    check_consecutive(&offsets, 0, last);
    assert_eq!(caught_up, 1);
    let (_, metrics) = node.get("/metrics");
    let fell_behind = metrics.lines().find_map(|l| l.strip_prefix("mindlog_subscribers_fell_behind_total "));
    assert!(fell_behind.is_some_and(|n| n.trim() != "0"), "the slow subscriber went back to the store: {metrics}");
    // Shutdown with the stream open: it ends with the offset to resume from, and the node exits.
    let home_path = node.home.clone();
    let status = node.stop();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    let _ = slow.read_to_string(&mut rest);
    let end =
        rest.lines().map(json).find(|i| i.get("end").is_some()).unwrap_or_else(|| panic!("no end item in {rest:?}"));
    assert_eq!(end["end"]["next"], last + 1);
    assert_eq!(end["end"]["reason"], "shutdown");
    assert!(!home_path.join("node.json").exists());
}

/// Many clients at once: the node's writer decides their commands in rounds, each author's in
/// order (a command sees the one before it), one author's racing commands once each.
#[test]
fn concurrent_commands_keep_each_authors_order_and_preconditions() {
    let home = tempfile::tempdir().unwrap();
    ok(home.path(), &["init"]);
    let names = ["w0", "w1", "w2", "w3"];
    for name in names {
        ok(home.path(), &["identity", "new", name]);
    }
    let node = Node::start(home.path());
    // Two clients per identity, each sending batches whose second command needs the first.
    let threads: Vec<_> = names
        .iter()
        .flat_map(|name| (0..2).map(move |client| (*name, client)))
        .map(|(name, client)| {
            let (url, auth) = (node.url(&format!("/v1/commands:batch?as={name}")), format!("Bearer {}", node.token));
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0..12 {
                    let persona = format!("P{client}-{i}");
                    let batch = format!(
                        r#"[{{"command":"persona.create","name":"{persona}"}},{{"command":"memory.add","persona":"{persona}","text":"t","importance":0.5}}]"#
                    );
                    let mut r = agent
                        .post(&url)
                        .header("Authorization", &auth)
                        .header("Content-Type", "application/json")
                        .send(batch.as_bytes())
                        .unwrap();
                    let body = r.body_mut().read_to_string().unwrap();
                    let results = json(&body);
                    assert!(
                        results.as_array().unwrap().iter().all(|r| r["ok"] == true),
                        "{name}: a command failed: {body}"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // One author, the same command twice at once: one of them is rejected.
    let race = |path: &str, body: &str| -> Vec<(u16, String)> {
        let go = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (url, auth, body, go) =
                    (node.url(path), format!("Bearer {}", node.token), body.to_owned(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    let mut r = agent()
                        .post(&url)
                        .header("Authorization", &auth)
                        .header("Content-Type", "application/json")
                        .send(body.as_bytes())
                        .unwrap();
                    let code = json(&r.body_mut().read_to_string().unwrap())["error"]["code"]
                        .as_str()
                        .unwrap_or("ok")
                        .to_owned();
                    (r.status().as_u16(), code)
                })
            })
            .collect();
        let mut out: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        out.sort();
        out
    };
    for i in 0..3 {
        let once = race("/v1/commands?as=w0", &format!(r#"{{"command":"persona.create","name":"Same{i}"}}"#));
        assert_eq!(once, [(200, "ok".to_owned()), (409, "rejected".to_owned())]);
    }
    // The same precondition twice at once: one command finds the head moved.
    let seq = 2 * 2 * 12; // w1's feed: two clients, twelve batches of two events
    let expecting =
        race("/v1/commands?as=w1", &format!(r#"{{"command":"persona.create","name":"X","expect_head":{seq}}}"#));
    let expecting_other =
        race("/v1/commands?as=w1", &format!(r#"{{"command":"persona.create","name":"Y","expect_head":{}}}"#, seq + 1));
    for pair in [expecting, expecting_other] {
        assert_eq!(pair.iter().filter(|(s, _)| *s == 200).count(), 1, "{pair:?}");
    }
    // A long batch of one author does not hold back another author's command: authors take
    // turns, whatever the length of their queues.
    let long = {
        let (url, auth) = (node.url("/v1/commands:batch?as=w3"), format!("Bearer {}", node.token));
        let batch: Vec<String> = (0..800)
            .map(|i| format!(r#"{{"command":"memory.add","persona":"P0-0","text":"m{i}","importance":0.5}}"#))
            .collect();
        let batch = format!("[{}]", batch.join(","));
        std::thread::spawn(move || {
            let mut r = agent()
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(batch.as_bytes())
                .unwrap();
            json(&r.body_mut().read_to_string().unwrap())[799]["events"][0]["offset"].as_u64().unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let (status, body) = node.post("/v1/commands?as=w2", r#"{"command":"persona.create","name":"Quick"}"#);
    assert_eq!(status, 200, "{body}");
    let quick = json(&body)[0]["offset"].as_u64().unwrap();
    let last_of_batch = long.join().unwrap();
    assert!(quick + 600 < last_of_batch, "w2's command waited for w3's batch: offset {quick} vs {last_of_batch}");
    // Every feed continues its chain, and every command's events are there.
    ok(home.path(), &["verify"]);
    let stats = json(&ok(home.path(), &["--json", "stats"]));
    assert_eq!(stats["events"], 4 * 2 * 12 * 2 + 3 + 2 + 800 + 1, "{stats}");
    let heads: Vec<u64> = stats["heads"].as_array().unwrap().iter().map(|h| h["seq"].as_u64().unwrap()).collect();
    assert_eq!(heads.iter().filter(|&&seq| seq == 48 + 800).count(), 1, "w3 wrote 848: {stats}");
    let (_, metrics) = node.get("/metrics");
    assert!(metrics.contains("mindlog_commit_group_commands_count"), "{metrics}");
}

/// Erasures through a node: two at once each get their scrub (one at a time, never waiting on
/// each other); a scrub that cannot have the store alone (a long query holds it) is deferred,
/// and done as soon as the store is free.
#[test]
fn scrubs_run_one_at_a_time_and_wait_for_a_busy_store() {
    let home = home();
    for secret in ["alpha-secret", "beta-secret", "gamma-secret"] {
        ok(home.path(), &["memory", "add", "Echo", secret, "--importance", "0.5"]);
    }
    let ids: Vec<String> = json(&ok(home.path(), &["--json", "memory", "list", "Echo"]))
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"].as_str().unwrap().ends_with("-secret"))
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    let node = Node::start_with(home.path(), &[("MINDLOG_SCRUB_WAIT", "20")]);
    let store = home.path().join("mind.redb");
    let holds = |text: &str| std::fs::read(&store).unwrap().windows(text.len()).any(|w| w == text.as_bytes());
    // Two at once, through the CLI (which goes through the node).
    let forget = |id: &str| {
        let (home, id) = (home.path().to_owned(), id.to_owned());
        std::thread::spawn(move || ok(&home, &["memory", "forget", "Echo", &id, "--erase"]))
    };
    let (a, b) = (forget(&ids[0]), forget(&ids[1]));
    for out in [a.join().unwrap(), b.join().unwrap()] {
        assert!(out.contains("rewritten without them"), "{out}");
    }
    assert!(!holds("alpha-secret") && !holds("beta-secret"));
    // A scrub while a CLI command through the node holds the store and writes (submit - of many
    // commands): both complete (that neither waits for the other to give up is checked by
    // `node::writer::tests`).
    let lines: String = (0..200)
        .map(|i| format!("{{\"command\":\"memory.add\",\"persona\":\"Echo\",\"text\":\"n{i}\",\"importance\":0.5}}\n"))
        .collect();
    let submit = {
        let home = home.path().to_owned();
        std::thread::spawn(move || {
            let mut child = submit_stdin(&home);
            child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
            child.wait_with_output().unwrap().status
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let delta = json(&ok(home.path(), &["--json", "memory", "list", "Echo"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "first memory" || m["text"] == "the first memory")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .unwrap();
    let out = ok(home.path(), &["memory", "forget", "Echo", &delta, "--erase"]);
    assert!(out.contains("rewritten without them"), "{out}");
    assert!(submit.join().unwrap().success());
    assert!(!holds("the first memory"));
    // Again on a node that waits only a second for its scrubs.
    assert!(node.stop().success());
    let node = Node::start_with(home.path(), &[("MINDLOG_SCRUB_WAIT", "1")]);
    // A query holds the store for seconds: the scrub is deferred, then done once it ends.
    let slow = {
        let (url, auth) = (node.url("/v1/query"), format!("Bearer {}", node.token));
        std::thread::spawn(move || {
            let sql = r#"{"sql": "SELECT count(*) FROM events a, events b, events c, events d, events e, events f, events g, events h, events i", "timeout_s": 4}"#;
            agent()
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(sql)
                .unwrap()
                .status()
                .as_u16()
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let out = ok(home.path(), &["memory", "forget", "Echo", &ids[2], "--erase"]);
    assert!(out.contains("the file still holds the old bytes"), "{out}");
    assert!(json(&node.get("/health").1)["scrub_pending"] == true);
    assert_eq!(slow.join().unwrap(), 408);
    let started = Instant::now();
    while json(&node.get("/health").1)["scrub_pending"] == true {
        assert!(started.elapsed() < Duration::from_secs(30), "the deferred scrub never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!holds("gamma-secret"), "the deferred scrub rewrote the file");
    ok(home.path(), &["verify"]);
}

/// Checkpoints and proofs over HTTP: a proof is served only against a checkpoint published in the
/// feed (no signed checkpoint, no root, no proof); the node witnesses other feeds through C2SP
/// tlog-witness's add-checkpoint.
#[test]
fn proofs_are_served_only_against_published_checkpoints() {
    let home = home();
    let node = Node::start(home.path());
    let memory = json(node.get("/v1/events?kind=memory.added/1").1.lines().next().unwrap());
    let hash = memory["hash"].as_str().unwrap().to_owned();
    let (status, body) = node.get(&format!("/v1/proof?event={hash}"));
    assert_eq!(status, 404, "no checkpoint published yet: {body}");
    assert!(json(&body)["error"]["message"].as_str().unwrap().contains("mindlog sign"), "{body}");
    assert_eq!(node.get("/v1/checkpoint").0, 404);

    let (status, note) = node.post("/v1/checkpoint", "{}");
    assert_eq!(status, 200, "{note}");
    assert!(note.contains("\n2\n"), "the persona and the memory: {note}");
    assert_eq!(node.get("/v1/checkpoint"), (200, note.clone()));
    let (status, proof) = node.get(&format!("/v1/proof?event={hash}"));
    assert_eq!(status, 200, "{proof}");
    assert!(proof.starts_with("c2sp.org/tlog-proof@v1\nextra ") && proof.ends_with(&note), "{proof}");
    let file = home.path().join("served.tlog-proof");
    std::fs::write(&file, &proof).unwrap();
    let key = json(&ok(home.path(), &["--json", "identity", "list"]))[0]["verifier"].as_str().unwrap().to_owned();
    assert!(ok(home.path(), &["check", file.to_str().unwrap(), "--key", &key]).starts_with("OK: event"));
    let author = key.split('+').next().unwrap().rsplit('/').next().unwrap().to_owned();
    let (status, consistency) = node.get(&format!("/v1/proof?author={author}&old=1&new=2"));
    assert!(status == 200 && consistency.starts_with("old 1\n") && consistency.ends_with(&note), "{consistency}");
    assert_eq!(node.get(&format!("/v1/proof?author={author}&old=1&new=3")).0, 404, "no checkpoint at size 3");
    assert_eq!(node.get("/v1/proof").0, 400);

    // The node witnesses another author's feed: first sight (old 0), then a consistency proof.
    let other = tempfile::tempdir().unwrap();
    let o = other.path();
    ok(o, &["init"]);
    ok(o, &["persona", "create", "Nova"]);
    let first = ok(o, &["sign"]);
    ok(o, &["memory", "add", "Nova", "later", "--importance", "0.5"]);
    ok(o, &["sign"]);
    let other_author = json(&ok(o, &["--json", "identity", "list"]))[0]["public_key"].as_str().unwrap().to_owned();
    let proof = ok(o, &["prove", "--consistency", &other_author, "1", "3"]);
    let add =
        |body: &str| node.request("POST", "/v1/witness/add-checkpoint", Some(("text/plain", body.as_bytes())), true);
    let (status, line) = add(&format!("old 0\n\n{first}"));
    assert!(
        status == 200 && line.starts_with("\u{2014} mindlog.local/witness/") && line.lines().count() == 1,
        "{line}"
    );
    let (status, line) = add(&proof);
    assert!(status == 200 && line.starts_with("\u{2014} mindlog.local/witness/"), "{line}");
    let (status, body) = add(&proof);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("send a proof from 3"), "{body}");
}
