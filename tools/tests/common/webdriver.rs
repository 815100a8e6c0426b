//! A small WebDriver client for end-to-end browser tests: it starts `chromedriver` on a free
//! 127.0.0.1 port and drives headless Chromium over the W3C WebDriver HTTP protocol.
//!
//! Protocol errors panic with the WebDriver error and message: this is test code.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key under which WebDriver returns and accepts element references (W3C WebDriver, "web
/// element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `Driver::start` waits for chromedriver to report ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the `wait_*` helpers poll.
const POLL: Duration = Duration::from_millis(50);
/// A cap on any single request (a new session is the slowest, a few seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A cap on a response body (a screenshot of a large viewport is a few MB of base64).
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

/// A WebDriver error: the HTTP status, the `error` code and the `message`.
#[derive(Debug)]
struct WdError {
    status: u16,
    error: String,
    message: String,
}

/// An agent for 127.0.0.1 only: no proxy from the environment, statuses read as bodies.
fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Sends one command; the `value` of the response, or the WebDriver error.
fn command(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Result<Value, WdError> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        ("POST", body) => {
            let bytes = serde_json::to_vec(body.unwrap_or(&json!({}))).unwrap();
            agent.post(url).header("Content-Type", "application/json").send(bytes)
        }
        _ => panic!("webdriver: unsupported method {method}"),
    };
    let mut response = response.unwrap_or_else(|e| panic!("webdriver: {method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_string()
        .unwrap_or_else(|e| panic!("webdriver: {method} {url}: reading the response: {e}"));
    let parsed: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("webdriver: {method} {url}: status {status}, not JSON ({e}): {text}"));
    let value = parsed.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(value);
    }
    let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    Err(WdError { status, error: field("error"), message: field("message") })
}

/// The value of a command that must succeed.
fn must(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Value {
    command(agent, method, url, body)
        .unwrap_or_else(|e| panic!("webdriver: {method} {url}: {} (HTTP {}): {}", e.error, e.status, e.message))
}

/// A string field of a command's value.
fn string(value: Value, what: &str) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("webdriver: {what}: expected a string, got {other}"),
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The chromedriver binary: `MINDLOG_CHROMEDRIVER`, else `chromedriver` on `PATH`.
fn chromedriver_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MINDLOG_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join("chromedriver")).find(|p| p.is_file())
}

const NOT_FOUND: &str = "chromedriver not found: install chromium and chromium-driver \
                         (apt-get install -y chromium chromium-driver), as .ci/run does";

/// A running chromedriver, killed on drop.
pub(crate) struct Driver {
    child: Child,
    port: u16,
    agent: ureq::Agent,
}

impl Driver {
    /// Starts chromedriver on a free 127.0.0.1 port and waits (at most 20 s) until it is ready.
    pub(crate) fn start() -> Driver {
        let binary = chromedriver_binary().unwrap_or_else(|| panic!("{NOT_FOUND}"));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => panic!("{NOT_FOUND}"),
                _ => panic!("webdriver: starting {}: {e}", binary.display()),
            });
        let mut driver = Driver { child, port, agent: agent() };
        let status_url = format!("http://127.0.0.1:{port}/status");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("webdriver: {} exited at start: {status}", binary.display());
            }
            // Refused connections panic inside `command`: probe the port first.
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && let Ok(value) = command(&driver.agent, "GET", &status_url, None)
                && value.get("ready") == Some(&Value::Bool(true))
            {
                return driver;
            }
            assert!(Instant::now() < deadline, "webdriver: chromedriver not ready on port {port} after 20 s");
            thread::sleep(POLL);
        }
    }

    /// A new headless browser session whose viewport is exactly `width`×`height` CSS px.
    pub(crate) fn session(&self, width: u32, height: u32) -> Session {
        let chromium = std::env::var_os("MINDLOG_CHROMIUM")
            .map_or_else(|| "/usr/bin/chromium".to_owned(), |p| p.to_string_lossy().into_owned());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    "--no-first-run",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-sync",
                    "--disable-component-update",
                    "--disable-default-apps",
                    "--metrics-recording-only",
                    "--no-default-browser-check",
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let url = format!("http://127.0.0.1:{}/session", self.port);
        let value = must(&self.agent, "POST", &url, Some(&capabilities));
        let id = value.get("sessionId").and_then(Value::as_str).expect("webdriver: new session without sessionId");
        let session = Session { agent: self.agent.clone(), base: format!("{url}/{id}") };
        session.set_viewport(width, height);
        session
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session, deleted (its browser closed) on drop.
pub(crate) struct Session {
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`
    base: String,
}

impl Session {
    fn get(&self, path: &str) -> Value {
        must(&self.agent, "GET", &format!("{}{path}", self.base), None)
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        must(&self.agent, "POST", &format!("{}{path}", self.base), Some(body))
    }

    fn element(&self, value: &Value, what: &str) -> Element<'_> {
        let id = value.get(ELEMENT_KEY).and_then(Value::as_str);
        let id = id.unwrap_or_else(|| panic!("webdriver: {what}: not an element reference: {value}"));
        Element { session: self, id: id.to_owned() }
    }

    /// One element matching `css` under `path` (the session or an element), `None` if none.
    pub(crate) fn goto(&self, url: &str) {
        self.post("/url", &json!({"url": url}));
    }

    pub(crate) fn current_url(&self) -> String {
        string(self.get("/url"), "current url")
    }

    /// The page source.
    pub(crate) fn source(&self) -> String {
        string(self.get("/source"), "source")
    }

    pub(crate) fn find(&self, css: &str) -> Option<Element<'_>> {
        let url = format!("{}/element", self.base);
        let body = json!({"using": "css selector", "value": css});
        match command(&self.agent, "POST", &url, Some(&body)) {
            Ok(value) => Some(self.element(&value, css)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("webdriver: find {css:?}: {} (HTTP {}): {}", e.error, e.status, e.message),
        }
    }

    pub(crate) fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let value = self.post("/elements", &json!({"using": "css selector", "value": css}));
        let Value::Array(items) = value else { panic!("webdriver: find all {css:?}: not a list: {value}") };
        items.iter().map(|item| self.element(item, css)).collect()
    }

    /// Polls every 50 ms until `css` matches; panics after `timeout` naming the selector.
    pub(crate) fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(element) = self.find(css) {
                return element;
            }
            assert!(Instant::now() < deadline, "webdriver: no element matches {css:?} after {timeout:?}");
            thread::sleep(POLL);
        }
    }

    /// Polls `return (EXPR);` every 50 ms until it is truthy; how long that took. Panics after
    /// `timeout` naming the expression.
    pub(crate) fn wait_until(&self, expr: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        let script = format!("return ({expr});");
        loop {
            if truthy(&self.execute(&script, vec![])) {
                return start.elapsed();
            }
            assert!(start.elapsed() < timeout, "webdriver: `{expr}` still not truthy after {timeout:?}");
            thread::sleep(POLL);
        }
    }

    /// Runs a synchronous script with JSON arguments; its result.
    pub(crate) fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", &json!({"script": script, "args": args}))
    }

    /// Writes a PNG screenshot of the viewport to `path`, creating its parent directories.
    pub(crate) fn screenshot(&self, path: &Path) {
        let encoded = string(self.get("/screenshot"), "screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// The messages of the browser console entries of level SEVERE since the last call.
    pub(crate) fn console_errors(&self) -> Vec<String> {
        let value = self.post("/se/log", &json!({"type": "browser"}));
        let Value::Array(entries) = value else { panic!("webdriver: browser log: not a list: {value}") };
        entries
            .iter()
            .filter(|entry| entry.get("level").and_then(Value::as_str) == Some("SEVERE"))
            .map(|entry| entry.get("message").and_then(Value::as_str).unwrap_or_default().to_owned())
            .collect()
    }

    /// Opens a new tab and returns its handle; does not switch to it.
    pub(crate) fn new_tab(&self) -> String {
        let value = self.post("/window/new", &json!({"type": "tab"}));
        string(value.get("handle").cloned().unwrap_or(Value::Null), "new tab handle")
    }

    pub(crate) fn window_handle(&self) -> String {
        string(self.get("/window"), "window handle")
    }

    pub(crate) fn switch_to(&self, handle: &str) {
        self.post("/window", &json!({"handle": handle}));
    }

    /// `[window.innerWidth, window.innerHeight]`.
    fn viewport(&self) -> (i64, i64) {
        let value = self.execute("return [window.innerWidth, window.innerHeight];", vec![]);
        let at = |i: usize| value.get(i).and_then(Value::as_i64).expect("webdriver: viewport size");
        (at(0), at(1))
    }

    /// Sets the viewport to exactly `width`×`height`: sets the window size, measures the
    /// viewport and corrects the window by the difference.
    pub(crate) fn set_viewport(&self, width: u32, height: u32) {
        let (want_w, want_h) = (i64::from(width), i64::from(height));
        let (mut window_w, mut window_h) = (want_w, want_h);
        for _ in 0..4 {
            self.post("/window/rect", &json!({"width": window_w, "height": window_h}));
            let (w, h) = self.viewport();
            if (w, h) == (want_w, want_h) {
                return;
            }
            window_w += want_w - w;
            window_h += want_h - h;
        }
        let (w, h) = self.viewport();
        panic!("webdriver: viewport {w}×{h}, not {width}×{height}, after resizing the window");
    }

    /// Types `keys` into the focused element, a key down and up each; WebDriver key codes such
    /// as "\u{E004}" (Tab) and "\u{E007}" (Enter) press those keys.
    pub(crate) fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| [json!({"type": "keyDown", "value": c}), json!({"type": "keyUp", "value": c})])
            .collect();
        self.post("/actions", &json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}));
    }

    /// `document.activeElement`.
    pub(crate) fn active(&self) -> Element<'_> {
        let value = self.get("/element/active");
        self.element(&value, "active element")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

/// An element of a session's current page.
pub(crate) struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl<'a> Element<'a> {
    fn url(&self, path: &str) -> String {
        format!("/element/{}{path}", self.id)
    }

    pub(crate) fn click(&self) {
        self.session.post(&self.url("/click"), &json!({}));
    }

    /// The rendered text.
    pub(crate) fn text(&self) -> String {
        string(self.session.get(&self.url("/text")), "element text")
    }

    /// An attribute, `None` if absent.
    pub(crate) fn attr(&self, name: &str) -> Option<String> {
        match self.session.get(&self.url(&format!("/attribute/{name}"))) {
            Value::Null => None,
            value => Some(string(value, "attribute")),
        }
    }

    pub(crate) fn send_keys(&self, text: &str) {
        self.session.post(&self.url("/value"), &json!({"text": text}));
    }

    pub(crate) fn clear(&self) {
        self.session.post(&self.url("/clear"), &json!({}));
    }
}
