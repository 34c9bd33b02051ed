//! OpenCode's stream: arbitrary bytes cut into lines as the supervisor delivers them (lossy
//! UTF-8), fed to the parser, then `finish` with a clean or failed exit (the input chooses).
//! Never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut p = orx::agents::opencode::OpenCodeParser::default();
    orx_fuzz::feed_all(&mut p, data);
});
