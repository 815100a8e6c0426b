//! One output path: everything a command prints is a typed value (a [`Report`]); `--json` prints
//! its serde form, text is rendered from the same value, and both go through [`emit`].
//!
//! Standard output is reached only through [`stdout`], which notices a reader that went away
//! (`mindlog log --json | head -1`), however deep the error is wrapped afterwards: `main` then
//! exits 0.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// How a command prints: text for people, or JSON (`--json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Text, rendered by [`Report::text`].
    Text,
    /// The report's serde form.
    Json,
}

/// What a command prints: its serde form is the `--json` output, `text` the text output.
pub(crate) trait Report: Serialize {
    /// Renders the report for people.
    fn text(&self, out: &mut dyn Write) -> io::Result<()>;

    /// Writes the JSON form: one pretty-printed document. A report that is a long list writes
    /// JSON Lines instead (one compact object per line, so a reader can stop early).
    fn json(&self, out: &mut dyn Write) -> io::Result<()>
    where
        Self: Sized,
    {
        json_document(out, self)
    }
}

/// Prints `report` on stdout in `format`.
pub(crate) fn emit<R: Report>(report: &R, format: Format) -> Result<()> {
    let mut out = stdout();
    match format {
        Format::Text => report.text(&mut out)?,
        Format::Json => report.json(&mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// `value` as one pretty-printed JSON document and a newline.
pub(crate) fn json_document(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, PlainZero(PrettyFormatter::new()));
    value.serialize(&mut serializer).map_err(io::Error::from)?;
    writeln!(out)
}

/// `value` as one line of compact JSON.
pub(crate) fn json_line(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, PlainZero(CompactFormatter));
    value.serialize(&mut serializer).map_err(io::Error::from)?;
    writeln!(out)
}

/// A JSON formatter that writes `-0.0` as `0.0`, and otherwise is `F`.
struct PlainZero<F>(F);

impl<F: Formatter> Formatter for PlainZero<F> {
    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.0.write_f32(writer, if value == 0.0 { 0.0 } else { value })
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        self.0.write_f64(writer, if value == 0.0 { 0.0 } else { value })
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

/// A float for text output: rounded to `decimals`, and never `-0` (a tiny negative rounds to 0).
pub(crate) fn decimal(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_owned(),
        _ => text,
    }
}

thread_local! {
    /// Set when a write to stdout found the reader gone (per thread: a node runs many commands).
    static READER_GONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a write to stdout found that the reader went away (a closed pipe): then the command's
/// error is not one.
pub(crate) fn reader_went_away() -> bool {
    READER_GONE.get()
}

/// Standard output, buffered, noting a closed pipe for [`reader_went_away`]: the process's, or,
/// for a command a node runs for a client, the client's ([`crate::served`]).
pub(crate) fn stdout() -> BufWriter<Stdout> {
    let out = match crate::served::current() {
        Some(served) => Stdout::Served(Arc::clone(&served.sink)),
        None => Stdout::Process(io::stdout()),
    };
    BufWriter::with_capacity(1 << 16, out)
}

/// Writes one line on standard error: the process's, or the client's when served. Every message
/// a command prints beside its output goes through here (the `say!` macro).
pub(crate) fn stderr_line(line: std::fmt::Arguments<'_>) {
    match crate::served::current() {
        Some(served) => {
            let _ = served.sink.stderr(format!("{line}\n").as_bytes());
        }
        None => {
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
    }
}

/// `eprintln!` for commands: one line on the command's standard error ([`stderr_line`]).
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::stderr_line(format_args!($($arg)*)) };
}

/// Standard output that remembers a broken pipe.
pub(crate) enum Stdout {
    /// This process's.
    Process(io::Stdout),
    /// A client's, through the node.
    Served(Arc<dyn crate::served::Sink>),
}

impl Stdout {
    fn note<T>(result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            READER_GONE.set(true);
        }
        result
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stdout::Process(out) => Stdout::note(out.write(buf)),
            Stdout::Served(sink) => Stdout::note(sink.stdout(buf).map(|()| buf.len())),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stdout::Process(out) => Stdout::note(out.flush()),
            Stdout::Served(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_never_appears() {
        #[derive(Serialize)]
        struct Numbers {
            a: f64,
            b: Vec<f64>,
            c: f32,
        }
        let numbers = Numbers { a: -0.0, b: vec![-0.0, -1.5, 0.0], c: -0.0 };
        let mut line = Vec::new();
        json_line(&mut line, &numbers).unwrap();
        assert_eq!(String::from_utf8(line).unwrap(), "{\"a\":0.0,\"b\":[0.0,-1.5,0.0],\"c\":0.0}\n");
        let mut document = Vec::new();
        json_document(&mut document, &numbers).unwrap();
        let document = String::from_utf8(document).unwrap();
        assert!(!document.contains("-0.0") && document.contains("\n  \"b\": [\n    0.0,"), "{document}");
        assert_eq!(decimal(-0.0001, 1), "0.0");
        assert_eq!(decimal(-0.04, 1), "0.0");
        assert_eq!(decimal(-0.06, 1), "-0.1");
        assert_eq!(decimal(1.26, 1), "1.3");
    }
}
