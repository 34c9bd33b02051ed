//! Validated identifiers: a run id.
//!
//! A run id names a folder under `runs/`, a branch `orx/<id>` and refs under `refs/orx/<id>/`,
//! and it arrives from command lines, HTTP paths and MCP calls. [`RunId::parse`] is the one
//! place that says what a safe one looks like, so a value of this type can be joined to a path
//! or put in a ref name without another check.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A run id: 1 to 64 ASCII letters, digits, `-` or `_` (so never `..`, `/` or empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// Longest run id accepted.
    pub const MAX_LEN: usize = 64;

    /// `text` as a run id, when it has the shape of one and is safe as a path component.
    pub fn parse(text: &str) -> Option<RunId> {
        let ok = !text.is_empty()
            && text.len() <= RunId::MAX_LEN
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        ok.then(|| RunId(text.to_string()))
    }

    /// A new run id from the time (UTC, to the second) and 24 random bits:
    /// `20261121-120059-a1b2c3`, so ids sort by creation time.
    pub fn generate(now: std::time::SystemTime, random: u32) -> RunId {
        let stamp = humantime::format_rfc3339_seconds(now).to_string();
        // "2026-11-21T12:00:59Z" → "20261121-120059"
        let digits: String = stamp.chars().filter(|c| c.is_ascii_digit()).collect();
        let (date, time) = digits.split_at(digits.len().min(8));
        RunId(format!("{date}-{time}-{:06x}", random & 0xff_ffff))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RunId, D::Error> {
        let text = String::deserialize(d)?;
        RunId::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a run id (letters, digits, - and _)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_path_safe_ids_parse() {
        assert!(RunId::parse("20261121-120059-a1b2c3").is_some());
        assert!(RunId::parse("nightly_2").is_some());
        for bad in ["", "../etc", "a/b", "a b", ".", "é", &"x".repeat(65)] {
            assert!(RunId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(RunId::parse(&"x".repeat(64)).is_some());
    }

    #[test]
    fn generated_ids_sort_by_time_and_read_back() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let a = RunId::generate(t, 0x12_34_56_78);
        assert_eq!(a.as_str(), "20261118-110640-345678");
        let later = RunId::generate(t + std::time::Duration::from_secs(1), 0);
        assert!(later > a);
        assert_eq!(RunId::parse(a.as_str()), Some(a.clone()));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"20261118-110640-345678\"");
        assert_eq!(serde_json::from_str::<RunId>(&json).unwrap(), a);
        assert!(serde_json::from_str::<RunId>("\"../x\"").is_err());
    }
}
