//! orx.yaml text → interpolation → deserialisation → validation. Any input must give a
//! `Config` or one located error, never a panic; every `${VAR}` resolves to a value so the
//! fuzzer gets past interpolation into the YAML and the semantic rules.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    let env = |name: &str| (name.len() % 3 != 0).then(|| format!("v-{name}"));
    if let Err(e) = orx::config::parse_str(text, Path::new("orx.yaml"), &env) {
        assert!(!e.to_string().is_empty());
    }
});
