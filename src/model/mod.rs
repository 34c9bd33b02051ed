//! The domain vocabulary every layer speaks: stages and how they end, the statuses of a run,
//! a stage and an item, why something failed, the run's events, gate results, agent usage,
//! the run state that `state.json` persists, and a validated run id.
//!
//! It sits on the ground floor: nothing here imports another module of the crate, touches a
//! file or starts a process, so `store` can persist these types without depending on the
//! runner, the gates or the agents that produce them (a test below keeps both true). Every enum that
//! becomes a string does so one way: [`string_enum!`] gives it one name table that drives
//! `as_str`, `Display`, parsing and serde alike, so `state.json`, `events.jsonl`, `--json`
//! output and hook payloads all spell a value the same way.

/// An enum of unit variants with one name each. Generates `as_str`, `from_name`, `NAMES`,
/// `Display`, and `Serialize`/`Deserialize` as that name, all from the one table.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The one string this value is written as.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The value written as `text`, if any.
            pub fn from_name(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::from_name(&text)
                    .ok_or_else(|| serde::de::Error::unknown_variant(&text, $name::NAMES))
            }
        }
    };
}

/// For the few string enums that live outside the vocabulary (guardrail violation kinds).
pub(crate) use string_enum;

pub mod agent;
pub mod candidate;
pub mod event;
pub mod failure;
pub mod gate;
pub mod ids;
pub mod stage;
pub mod state;
pub mod status;

pub use agent::{AgentEvent, FailureKind, ToolKind, Usage};
pub use event::{EventKind, RunEvent};
pub use failure::{FailureReason, FailureRecord, OrxFailure};
pub use gate::GateResult;
pub use ids::RunId;
pub use stage::{Stage, StageEnd, Stop};
pub use state::RunState;
pub use status::{
    AttemptKind, AttemptOutcome, ItemPhase, ItemStatus, RunStatus, StageStatus, VerdictKind,
};

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The crate modules that the files of `dir` name in `crate::<module>` paths, outside
    /// comments and tests.
    fn imported_modules(dir: &str) -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for part in line.split("crate::").skip(1) {
                    let module: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    out.push((path.display().to_string(), module));
                }
            }
        }
        out
    }

    #[test]
    fn the_model_and_the_store_import_nothing_above_them() {
        for (file, module) in imported_modules("src/model") {
            assert_eq!(module, "model", "{file} imports crate::{module}");
        }
        for (file, module) in imported_modules("src/store") {
            assert!(
                ["model", "store", "error"].contains(&module.as_str()),
                "{file} imports crate::{module}"
            );
        }
    }
}
