//! The fake engine's stream (AgentEvent JSON lines): arbitrary bytes cut into lines, fed to
//! its parser, then `finish`. Never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orx::agents::AgentCli;

fuzz_target!(|data: &[u8]| {
    let cli = orx::agents::fake::FakeCli::new(None);
    let mut p = cli.parser();
    orx_fuzz::feed_all(p.as_mut(), data);
});
