//! JSON as Python's `json` module reads and writes it, byte for byte, for re-computing the hashes
//! of a Persistent Mind Model ledger (docs/pmm.md): `json.loads`, then
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"))` with its defaults — `ensure_ascii`
//! (every character outside space to `~` written `\uXXXX`, per UTF-16 unit), integers of any size
//! as read, floats as Python's `repr`, `NaN` and `Infinity` allowed.
//!
//! Strings are kept as UTF-16 units, as Python's escapes are, so that even an escaped lone
//! surrogate (which Python accepts) is written back as it was.

use std::fmt::Write as _;

/// A value as Python's `json.loads` makes it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// An integer, as its decimal digits (Python's `int` has no size limit).
    Int(String),
    Float(f64),
    Str(Vec<u16>),
    List(Vec<Value>),
    /// Keys in the order read; a repeated key keeps its last value (as a Python dict does).
    Dict(Vec<(Vec<u16>, Value)>),
}

impl Value {
    pub(crate) fn str(text: &str) -> Value {
        Value::Str(text.encode_utf16().collect())
    }

    /// A string value's units, as a dict key.
    pub(crate) fn key(self) -> Vec<u16> {
        match self {
            Value::Str(units) => units,
            _ => Vec::new(),
        }
    }

    /// `json.dumps(self, sort_keys=True, separators=(",", ":"))`.
    pub(crate) fn dumps(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(digits) => out.push_str(digits),
            Value::Float(x) => out.push_str(&float_repr(*x)),
            Value::Str(units) => write_str(units, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Dict(entries) => {
                let mut sorted: Vec<&(Vec<u16>, Value)> = entries.iter().collect();
                sorted.sort_by(|a, b| code_points(&a.0).cmp(code_points(&b.0)));
                out.push('{');
                for (i, (key, value)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A string's code points as Python orders them (a surrogate pair is one code point; a lone
/// surrogate is itself).
fn code_points(units: &[u16]) -> impl Iterator<Item = u32> + '_ {
    char::decode_utf16(units.iter().copied()).map(|r| r.map_or_else(|e| u32::from(e.unpaired_surrogate()), u32::from))
}

/// Python's `json` string escaping with `ensure_ascii=True`.
fn write_str(units: &[u16], out: &mut String) {
    out.push('"');
    for &u in units {
        match u {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(u as u8)),
            _ => {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out.push('"');
}

/// Python's `repr` of a float, as `json.dumps` writes it: the shortest digits that read back the
/// same; fixed notation (with `.0` if whole) for decimal exponents from −4 to 15, otherwise
/// `d.ddde±XX`; `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    // ryu gives the shortest digits that read back the same, a tie between two going to the even
    // one, as Python's repr (David Gay's dtoa) does; Rust's own `{:e}` rounds such ties up.
    let mut buffer = ryu::Buffer::new();
    let (digits, exp) = digits_and_exponent(buffer.format_finite(x.abs()));
    if (-4..16).contains(&exp) {
        let body = if exp >= 0 {
            let point = exp as usize + 1;
            let padded = format!("{digits:0<point$}");
            let (int, frac) = padded.split_at(point);
            format!("{int}.{}", if frac.is_empty() { "0" } else { frac })
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        format!("{sign}{first}{rest}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// A positive decimal (`152.5`, `1e16`, `1.5e-7`, `0.0001`, `0.0`) as its significant digits and
/// the decimal exponent of the first of them (`"0"`, 0 for zero).
fn digits_and_exponent(text: &str) -> (String, i32) {
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0');
    if digits.is_empty() {
        return ("0".into(), 0);
    }
    (digits.to_owned(), exp + int.len() as i32 - 1 - leading as i32)
}

/// `json.loads(text)`, or where and why it fails.
pub(crate) fn loads(text: &str) -> Result<Value, String> {
    let mut p = Parser { s: text.as_bytes(), at: 0 };
    p.ws();
    let value = p.value(0)?;
    p.ws();
    if p.at != p.s.len() {
        return Err(format!("extra data at byte {}", p.at));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

/// Deeper nesting is refused (Python's own limit is its recursion limit, about 1,000).
const MAX_DEPTH: usize = 512;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deep");
        }
        match self.s.get(self.at) {
            None => self.fail("unexpected end"),
            Some(b'{') => {
                self.at += 1;
                let mut entries: Vec<(Vec<u16>, Value)> = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Value::Dict(entries));
                }
                loop {
                    self.ws();
                    if self.s.get(self.at) != Some(&b'"') {
                        return self.fail("expected a key");
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return self.fail("expected ':'");
                    }
                    self.ws();
                    let value = self.value(depth + 1)?;
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = value,
                        None => entries.push((key, value)),
                    }
                    self.ws();
                    if self.eat("}") {
                        return Ok(Value::Dict(entries));
                    }
                    if !self.eat(",") {
                        return self.fail("expected ',' or '}'");
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Value::List(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(Value::List(items));
                    }
                    if !self.eat(",") {
                        return self.fail("expected ',' or ']'");
                    }
                }
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(_) if self.eat("null") => Ok(Value::Null),
            Some(_) if self.eat("true") => Ok(Value::Bool(true)),
            Some(_) if self.eat("false") => Ok(Value::Bool(false)),
            Some(_) if self.eat("NaN") => Ok(Value::Float(f64::NAN)),
            Some(_) if self.eat("Infinity") => Ok(Value::Float(f64::INFINITY)),
            Some(_) if self.eat("-Infinity") => Ok(Value::Float(f64::NEG_INFINITY)),
            Some(_) => self.number(),
        }
    }

    /// A JSON number: an `Int` unless it has a fraction or an exponent.
    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        let digits = |p: &mut Parser<'_>| {
            let from = p.at;
            while p.at < p.s.len() && p.s[p.at].is_ascii_digit() {
                p.at += 1;
            }
            p.at - from
        };
        self.eat("-");
        let int_start = self.at;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return self.fail("bad number");
        }
        let mut float = false;
        if self.eat(".") {
            float = true;
            if digits(self) == 0 {
                return self.fail("bad number");
            }
        }
        if self.at < self.s.len() && matches!(self.s[self.at], b'e' | b'E') {
            float = true;
            self.at += 1;
            if !self.eat("+") {
                self.eat("-");
            }
            if digits(self) == 0 {
                return self.fail("bad number");
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).map_err(|e| e.to_string())?;
        if float {
            return text.parse::<f64>().map(Value::Float).map_err(|e| e.to_string());
        }
        // Python's int: "-0" is 0.
        Ok(Value::Int(if text == "-0" { "0".into() } else { text.to_owned() }))
    }

    /// A string after its opening quote is at `self.at`: its UTF-16 units.
    fn string(&mut self) -> Result<Vec<u16>, String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.at) else { return self.fail("unterminated string") };
            match b {
                b'"' => {
                    self.at += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let Some(&e) = self.s.get(self.at + 1) else { return self.fail("unterminated string") };
                    self.at += 2;
                    let unit = match e {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.at..self.at + 4)
                                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                                .and_then(|h| std::str::from_utf8(h).ok());
                            let Some(unit) = hex.and_then(|h| u16::from_str_radix(h, 16).ok()) else {
                                return self.fail("bad \\u escape");
                            };
                            self.at += 4;
                            unit
                        }
                        _ => return self.fail("bad escape"),
                    };
                    out.push(unit);
                }
                // Python's default (strict) refuses control characters inside strings.
                0x00..=0x1f => return self.fail("control character in a string"),
                _ => {
                    // One UTF-8 character (the text is valid UTF-8: it came from a `&str`).
                    let len = match b {
                        0x00..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    let end = (self.at + len).min(self.s.len());
                    let ch = std::str::from_utf8(&self.s[self.at..end]).map_err(|e| e.to_string())?;
                    out.extend(ch.encode_utf16());
                    self.at = end;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_python_repr_writes_them() {
        for (x, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (2.5e100, "2.5e+100"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            // Ties between two shortest candidates go to the even digit, as in Python.
            (2f64.powi(-25), "2.9802322387695312e-08"),
            (152.51235961914062, "152.51235961914062"),
            (1125899906842624.2, "1125899906842624.2"),
            (222507385850720.12, "222507385850720.12"),
            (26363981746409.312, "26363981746409.312"),
            (100.0, "100.0"),
            (1e22, "1e+22"),
            (1e23, "1e+23"),
            (123.456, "123.456"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn dumps_sorts_keys_and_escapes_as_python_does() {
        // Python: json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
        let cases = [
            (r#"{"b": 1, "a": [1.0, 2, "x"], "c": null}"#, r#"{"a":[1.0,2,"x"],"b":1,"c":null}"#),
            (
                r#"{"k": "é ü 🙂 \u0000 \u007f \"q\" \\"}"#,
                r#"{"k":"\u00e9 \u00fc \ud83d\ude42 \u0000 \u007f \"q\" \\"}"#,
            ),
            (
                r#"{"big": 123456789012345678901234567890, "neg": -0, "e": 1E2}"#,
                r#"{"big":123456789012345678901234567890,"e":100.0,"neg":0}"#,
            ),
            (r#"{"a": 1, "a": 2}"#, r#"{"a":2}"#),
            (r#"{"\ud800": true, "\ue000": false, "😀": 1}"#, r#"{"\ud800":true,"\ue000":false,"\ud83d\ude00":1}"#),
            (r#"[NaN, Infinity, -Infinity, 1e400]"#, r#"[NaN,Infinity,-Infinity,Infinity]"#),
            ("{\"t\":\"tab\\tnew\\nline\\/slash\"}", r#"{"t":"tab\tnew\nline/slash"}"#),
        ];
        for (text, want) in cases {
            assert_eq!(loads(text).unwrap().dumps(), want, "{text}");
        }
        for bad in ["{", "[1,]", "01", "1.", "\"a\u{1}\"", "{\"a\" 1}", "tru", "1 2", r#""\u+041""#] {
            assert!(loads(bad).is_err(), "{bad:?}");
        }
    }
}
