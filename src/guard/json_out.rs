//! Writing a value as JSON with every string redacted on the way out.
//!
//! [`Redactor::write_json`] is what [`Redactor::redact_json`] does to a `serde_json::Value`,
//! without building one: the event stream of a busy agent is tens of thousands of events a
//! second, and turning each into a tree of maps only to walk its strings and drop it cost more
//! than writing the line. It is a `serde::Serializer` of its own rather than a serde_json
//! `Formatter`, because serde_json hands a formatter each string in escaped pieces: putting
//! them back together to scan the string whole, while keeping the escaped copy to write, cost
//! two copies of every string and serde_json's byte-by-byte escape loop, a fifth of ingesting
//! an agent's stream. Here each string arrives whole, is redacted whole (so no escape can split
//! a secret from the scanner), and is escaped in one pass that tests eight bytes at a time
//! ([`escape_into`]). The bytes are serde_json's compact output, byte for byte, whenever
//! nothing is redacted (the tests hold it to `serde_json::to_string`). Map keys are written as
//! they are, as `redact_json` leaves them: they are the names of fields, and scanning each
//! would cost as much as the values.

use std::borrow::Cow;

use serde::ser::{self, Impossible, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};

use super::Redactor;

/// serde_json's error type, so callers keep theirs.
type Error = serde_json::Error;

/// The struct name serde_json gives a `RawValue`; its text cannot be redacted string by
/// string, so it is refused rather than written unscanned.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

impl Redactor {
    /// Append `value` to `out` as compact JSON, every string redacted as
    /// [`Redactor::redact`] would; returns whether anything was redacted. The bytes are those
    /// `serde_json::to_writer` writes when nothing is.
    pub fn write_json<T: Serialize + ?Sized>(
        &self,
        out: &mut Vec<u8>,
        value: &T,
    ) -> serde_json::Result<bool> {
        let mut w = Writer {
            out,
            redactor: self,
            changed: false,
        };
        value.serialize(&mut w)?;
        Ok(w.changed)
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

/// The serializer: compact JSON into `out`, strings redacted.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    redactor: &'a Redactor,
    changed: bool,
}

impl Writer<'_> {
    /// A string value: redacted, then quoted and escaped.
    fn string(&mut self, text: &str) {
        let shown = self.redactor.redact(text);
        if let Cow::Owned(_) = shown {
            self.changed = true;
        }
        quoted(self.out, &shown);
    }
}

/// `text` as a JSON string, quotes included.
fn quoted(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    escape_into(out, text);
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` needs an escape in a JSON string: a control
/// character (below 0x20), a quote or a backslash. Each test is the classic "has a byte below
/// n" / "has a zero byte" bit trick: exact for "any", which is all that is asked.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v;
    (below_space | has_zero(quote) | has_zero(backslash)) & HIGH != 0
}

/// The escape serde_json writes for `byte`, if it needs one.
fn escape_of(byte: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match byte {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        b if b < 0x20 => CONTROL.get(usize::from(b)).copied(),
        _ => None,
    }
}

/// Append `text` escaped as serde_json escapes a string's content: runs of plain bytes are
/// copied whole, found eight bytes at a time.
fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut plain = 0; // start of the run not yet copied
    let mut at = 0;
    while at < bytes.len() {
        if let Some(chunk) = bytes.get(at..at + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !needs_escape(u64::from_le_bytes(word)) {
                at += 8;
                continue;
            }
        }
        // A byte to look at one by one: within a word that holds an escape, or in the tail.
        let end = (at + 8).min(bytes.len());
        while at < end {
            if let Some(escape) = bytes.get(at).copied().and_then(escape_of) {
                out.extend_from_slice(&bytes[plain..at]);
                out.extend_from_slice(escape);
                plain = at + 1;
            }
            at += 1;
        }
    }
    out.extend_from_slice(&bytes[plain..]);
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        CompactFormatter.write_i64(self.out, v).map_err(Error::io)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        CompactFormatter.write_i128(self.out, v).map_err(Error::io)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        CompactFormatter.write_u64(self.out, v).map_err(Error::io)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        CompactFormatter.write_u128(self.out, v).map_err(Error::io)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // serde_json writes a number that is not finite as null, and a finite one as its
        // formatter does (through it here, so the digits stay serde_json's).
        if v.is_finite() {
            CompactFormatter.write_f32(self.out, v).map_err(Error::io)
        } else {
            self.serialize_unit()
        }
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            CompactFormatter.write_f64(self.out, v).map_err(Error::io)
        } else {
            self.serialize_unit()
        }
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        quoted(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'[');
        Ok(Compound::new(self, b"]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        quoted(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound::new(self, b"]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        Ok(Compound::new(self, b"}"))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'w, 'a>, Error> {
        if name == RAW_VALUE {
            return Err(ser::Error::custom(
                "a raw JSON value cannot be redacted string by string",
            ));
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        quoted(self.out, variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound::new(self, b"}}"))
    }
}

/// A sequence or map being written: the separator before each element after the first, and
/// the closing bytes at the end.
struct Compound<'w, 'a> {
    writer: &'w mut Writer<'a>,
    first: bool,
    close: &'static [u8],
}

impl<'w, 'a> Compound<'w, 'a> {
    fn new(writer: &'w mut Writer<'a>, close: &'static [u8]) -> Self {
        Compound {
            writer,
            first: true,
            close,
        }
    }

    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.writer.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(&mut *self.writer)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.separate();
        quoted(self.writer.out, key);
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Error> {
        self.writer.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(Key(self.writer.out))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// A map key, written as serde_json writes one: a string as it is (not redacted), a number or
/// boolean quoted; anything else is refused as serde_json refuses it.
struct Key<'o>(&'o mut Vec<u8>);

impl Key<'_> {
    fn text(self, text: &str) -> Result<(), Error> {
        quoted(self.0, text);
        Ok(())
    }

    /// A number key, quoted, its digits as serde_json's formatter writes them.
    fn number(
        self,
        write: impl FnOnce(&mut CompactFormatter, &mut Vec<u8>) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        self.0.push(b'"');
        write(&mut CompactFormatter, self.0).map_err(Error::io)?;
        self.0.push(b'"');
        Ok(())
    }
}

fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.text(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.number(|f, w| f.write_i8(w, v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.number(|f, w| f.write_i16(w, v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.number(|f, w| f.write_i32(w, v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.number(|f, w| f.write_i64(w, v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.number(|f, w| f.write_i128(w, v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.number(|f, w| f.write_u8(w, v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.number(|f, w| f.write_u16(w, v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.number(|f, w| f.write_u32(w, v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.number(|f, w| f.write_u64(w, v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.number(|f, w| f.write_u128(w, v))
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(ser::Error::custom("float key must be finite"));
        }
        self.number(|f, w| f.write_f32(w, v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(ser::Error::custom("float key must be finite"));
        }
        self.number(|f, w| f.write_f64(w, v))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.text(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
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
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let r = Redactor::from_vars([]);
        // Every ASCII character alone, then at each place of an eight-byte word and of the
        // tail after it, among plain text and non-ASCII characters.
        for b in 0u8..0x80 {
            let c = char::from(b);
            for text in [
                c.to_string(),
                format!("{c}abcdefgh"),
                format!("abcdefg{c}"),
                format!("ab{c}cdefghij{c}kl"),
                format!("ünï{c}cödé ☃ {c}"),
                format!("{}{c}", "x".repeat(23)),
            ] {
                let (out, changed) = written(&r, &text);
                assert!(!changed);
                assert_eq!(out, serde_json::to_string(&text).unwrap(), "{text:?}");
            }
        }
        assert_eq!(written(&r, &"").0, "\"\"");
    }

    #[test]
    fn every_shape_serde_has_is_written_as_serde_json_writes_it() {
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(i32, String),
            Struct { a: Option<f64>, b: char },
        }
        #[derive(serde::Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Tagged {
            One { text: String },
            Two,
        }
        #[derive(serde::Serialize)]
        struct Unit;
        #[derive(serde::Serialize)]
        struct New(String);
        #[derive(serde::Serialize)]
        struct Pair(u8, bool);
        #[derive(serde::Serialize)]
        struct All {
            ints: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
            floats: Vec<f64>,
            small: f32,
            nothing: Option<String>,
            unit: (),
            unit_struct: Unit,
            new: New,
            pair: Pair,
            enums: Vec<E>,
            tagged: Vec<Tagged>,
            bytes: serde_bytes_like::Bytes,
            by_number: BTreeMap<i64, Vec<String>>,
            by_char: BTreeMap<char, u8>,
            empty: BTreeMap<String, u8>,
            list: Vec<Vec<u8>>,
        }
        mod serde_bytes_like {
            pub struct Bytes(pub Vec<u8>);
            impl serde::Serialize for Bytes {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_bytes(&self.0)
                }
            }
        }
        let v = All {
            ints: (
                i8::MIN,
                -300,
                i32::MAX,
                i64::MIN,
                i128::MIN,
                255,
                7,
                0,
                u64::MAX,
                u128::MAX,
            ),
            floats: vec![
                0.0,
                -0.0,
                1.5,
                1e21,
                1e-7,
                f64::MAX,
                f64::NAN,
                f64::INFINITY,
                0.1,
            ],
            small: 0.3,
            nothing: None,
            unit: (),
            unit_struct: Unit,
            new: New("n\"q".into()),
            pair: Pair(1, true),
            enums: vec![
                E::Unit,
                E::New(9),
                E::Tuple(-1, "t".into()),
                E::Struct {
                    a: Some(2.25),
                    b: '\n',
                },
                E::Struct { a: None, b: 'é' },
            ],
            tagged: vec![Tagged::One { text: "x".into() }, Tagged::Two],
            bytes: serde_bytes_like::Bytes(vec![0, 1, 255]),
            by_number: BTreeMap::from([(-2, vec!["a".into()]), (10, vec![])]),
            by_char: BTreeMap::from([('"', 1)]),
            empty: BTreeMap::new(),
            list: vec![vec![], vec![1, 2]],
        };
        let (out, changed) = written(&redactor(), &v);
        assert!(!changed);
        assert_eq!(out, serde_json::to_string(&v).unwrap());
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
