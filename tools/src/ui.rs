//! Terminal output: progress bars that show on a terminal and stay silent in a pipe, and timing helpers.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub(crate) fn progress(len: Option<u64>, what: &str) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    // A command a node runs for a client draws no bar: the node's terminal is not the client's;
    // its position goes to the client instead (`served::report_progress`).
    if !std::io::stderr().is_terminal() || crate::served::current().is_some() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = if len.is_some() {
        "{msg:>10} [{bar:30}] {human_pos}/{human_len} events ({per_sec}, eta {eta})"
    } else {
        "{msg:>10} {spinner} {human_pos} events ({per_sec})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    crate::served::report_progress(&bar, what);
    bar
}

/// Now, in microseconds since the Unix epoch: the time commands are decided at.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// A human figure: 123,456.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as KiB/MiB/GiB.
pub(crate) fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// Money in minor units as `12.34 EUR`.
pub(crate) fn money(amount: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", amount / 100, amount % 100)
}
