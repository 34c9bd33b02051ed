//! Fake-engine scenario YAML → `Scenario` (including the path-safety check on file names),
//! then every lookup the fake agent makes. Never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    if let Ok(s) = orx::agents::scenario::parse_scenario(text, Path::new("scenario.yaml")) {
        for stage in [
            "plan",
            "spec",
            "decompose",
            "implement",
            "fix",
            "review",
            "knowledge_update",
        ] {
            for n in 0..3 {
                let _ = s.step(stage, None, n);
                let _ = s.step(stage, Some("W001"), n);
            }
        }
    }
});
