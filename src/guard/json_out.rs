//! Writing a value as JSON with every string redacted on the way out.
//!
//! [`Redactor::write_json`] is what [`Redactor::redact_json`] does to a `serde_json::Value`,
//! without building one: the event stream of a busy agent is tens of thousands of events a
//! second, and turning each into a tree of maps only to walk its strings and drop it cost more
//! than writing the line. serde_json hands a string to its [`Formatter`] in pieces (runs of
//! plain text and single escaped characters); the formatter here puts the pieces back together
//! into the string as it was, redacts it whole (so an escape cannot split a secret from the
//! scanner), and only then writes it, escaped. Map keys are written as they are, as
//! `redact_json` leaves them: they are the names of fields, and scanning each would cost as
//! much as the values.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use super::Redactor;

impl Redactor {
    /// Append `value` to `out` as compact JSON, every string redacted as
    /// [`Redactor::redact`] would; returns whether anything was redacted. The bytes are those
    /// `serde_json::to_writer` writes when nothing is.
    pub fn write_json<T: Serialize + ?Sized>(
        &self,
        out: &mut Vec<u8>,
        value: &T,
    ) -> serde_json::Result<bool> {
        let mut changed = false;
        let formatter = Redacting {
            redactor: self,
            text: String::new(),
            escaped: Vec::new(),
            in_string: false,
            in_key: false,
            changed: &mut changed,
        };
        value.serialize(&mut serde_json::Serializer::with_formatter(out, formatter))?;
        Ok(changed)
    }

    /// `value` as one line of compact JSON and its newline, every string redacted: the form a
    /// run's state takes in its journal and, indented, in `state.json`.
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> serde_json::Result<Vec<u8>> {
        let mut line = Vec::with_capacity(8 * 1024);
        self.write_json(&mut line, value)?;
        line.push(b'\n');
        Ok(line)
    }
}

/// A compact formatter that holds each string back until it is whole.
struct Redacting<'a> {
    redactor: &'a Redactor,
    /// The string being written, as it was before escaping (the buffer is reused).
    text: String,
    /// The same string as serde_json escaped it, written out when nothing in it is secret.
    escaped: Vec<u8>,
    in_string: bool,
    /// A map key is being written: it goes out as it comes.
    in_key: bool,
    changed: &'a mut bool,
}

impl Redacting<'_> {
    /// Inside a string (a number or boolean as a map key), `write` goes into the string;
    /// elsewhere it goes out as the compact formatter writes it.
    fn value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        write: impl FnOnce(&mut CompactFormatter, &mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.in_string && !self.in_key {
            let mut bytes = Vec::new();
            write(&mut CompactFormatter, &mut bytes)?;
            self.text.push_str(&String::from_utf8_lossy(&bytes));
            Ok(())
        } else {
            write(&mut CompactFormatter, &mut WriteRef(writer))
        }
    }
}

/// A `?Sized` writer behind a sized handle.
struct WriteRef<'w, W: ?Sized>(&'w mut W);

impl<W: ?Sized + Write> Write for WriteRef<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The character an escape stands for.
fn unescaped(escape: &CharEscape) -> char {
    match escape {
        CharEscape::Quote => '"',
        CharEscape::ReverseSolidus => '\\',
        CharEscape::Solidus => '/',
        CharEscape::Backspace => '\u{8}',
        CharEscape::FormFeed => '\u{c}',
        CharEscape::LineFeed => '\n',
        CharEscape::CarriageReturn => '\r',
        CharEscape::Tab => '\t',
        CharEscape::AsciiControl(b) => char::from(*b),
    }
}

/// The numbers and booleans: each goes through [`Redacting::value`].
macro_rules! values {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<W: ?Sized + Write>(&mut self, writer: &mut W, value: $ty) -> io::Result<()> {
                self.value(writer, |f, w| f.$method(w, value))
            }
        )*
    };
}

impl Formatter for Redacting<'_> {
    values! {
        write_bool: bool,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_f32: f32, write_f64: f64,
    }

    fn write_number_str<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        self.value(writer, |f, w| f.write_number_str(w, value))
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.in_key = true;
        CompactFormatter.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_key = false;
        CompactFormatter.begin_object_value(writer)
    }

    fn begin_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if self.in_key {
            return CompactFormatter.begin_string(writer);
        }
        self.text.clear();
        self.escaped.clear();
        self.in_string = true;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if self.in_key {
            return CompactFormatter.write_string_fragment(writer, fragment);
        }
        self.text.push_str(fragment);
        self.escaped.extend_from_slice(fragment.as_bytes());
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        if self.in_key {
            return CompactFormatter.write_char_escape(writer, escape);
        }
        self.text.push(unescaped(&escape));
        CompactFormatter.write_char_escape(&mut self.escaped, escape)
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if self.in_key {
            return CompactFormatter.end_string(writer);
        }
        self.in_string = false;
        match self.redactor.redact(&self.text) {
            Cow::Borrowed(_) => {
                writer.write_all(b"\"")?;
                writer.write_all(&self.escaped)?;
                writer.write_all(b"\"")
            }
            Cow::Owned(shown) => {
                *self.changed = true;
                serde_json::to_writer(WriteRef(writer), &shown).map_err(io::Error::other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const KEY: &str = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

    fn redactor() -> Redactor {
        Redactor::from_vars([("MY_TOKEN".to_string(), "hunter2-is-long\"q".to_string())])
    }

    /// What `redact_json` makes of the same value, written by serde_json.
    fn through_value<T: Serialize>(r: &Redactor, v: &T) -> (String, bool) {
        let mut json = serde_json::to_value(v).unwrap();
        let changed = r.redact_json(&mut json);
        (serde_json::to_string(&json).unwrap(), changed)
    }

    fn written<T: Serialize>(r: &Redactor, v: &T) -> (String, bool) {
        let mut out = Vec::new();
        let changed = r.write_json(&mut out, v).unwrap();
        (String::from_utf8(out).unwrap(), changed)
    }

    #[test]
    fn a_clean_value_is_written_as_serde_json_writes_it() {
        let v = serde_json::json!({
            "type": "text", "n": 3, "f": 1.5, "ok": true, "none": null,
            "text": "line one\nline \"two\"\t\\ and \u{1} and ünïcode /",
            "list": ["a", 1, {"b": [false]}],
        });
        let (out, changed) = written(&redactor(), &v);
        assert!(!changed);
        assert_eq!(out, serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn secrets_are_redacted_as_redact_json_redacts_them() {
        let r = redactor();
        let v = serde_json::json!({
            "text": format!("the key is {KEY} ok"),
            "nested": [{"env": "value hunter2-is-long\"q here"}],
            "escaped": format!("quote\"then {KEY}\nnext line"),
        });
        let (out, changed) = written(&r, &v);
        assert!(changed);
        assert!(!out.contains(KEY), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert_eq!((out, changed), through_value(&r, &v));
    }

    #[test]
    fn an_escape_inside_a_secret_does_not_hide_it() {
        // In the JSON text the value's quote is `\"`: only the string put back together
        // matches the environment value.
        let r = redactor();
        let (out, changed) = written(&r, &"x hunter2-is-long\"q y");
        assert!(changed);
        assert_eq!(out, "\"x [REDACTED:env:MY_TOKEN] y\"");
    }

    #[test]
    fn keys_are_written_as_they_are_even_numbers_and_booleans() {
        let r = redactor();
        let mut m = BTreeMap::new();
        m.insert("name".to_string(), KEY.to_string());
        let (out, changed) = written(&r, &m);
        assert!(changed);
        assert!(out.starts_with(r#"{"name":"[REDACTED:"#), "{out}");
        assert_eq!((out, changed), through_value(&r, &m));
        let mut n = BTreeMap::new();
        n.insert(42u32, "v");
        n.insert(7u32, "w");
        assert_eq!(
            written(&r, &n),
            (r#"{"7":"w","42":"v"}"#.to_string(), false)
        );
        let mut b = BTreeMap::new();
        b.insert(true, 1);
        assert_eq!(written(&r, &b), (r#"{"true":1}"#.to_string(), false));
    }
}
