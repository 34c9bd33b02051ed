//! What the stream targets share: cut bytes into lines as the supervisor does and play them
//! through a parser to the end.

use std::time::Duration;

use orx::agents::StreamParser;
use orx::exec::{ExitInfo, Termination};

/// Feed `data` line by line (lossy UTF-8, `\r\n` stripped), then finish the stream.
pub fn feed_all(p: &mut dyn StreamParser, data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let _ = p.feed(&String::from_utf8_lossy(line));
    }
    let code = if data.first().is_some_and(|b| b & 1 == 1) {
        1
    } else {
        0
    };
    let exit = ExitInfo {
        code: Some(code),
        signal: None,
        termination: Termination::Exited,
        duration: Duration::from_millis(5),
        stdout_tail: String::from_utf8_lossy(&data[data.len().saturating_sub(8192)..]).into_owned(),
        stderr_tail: String::new(),
        stdout_bytes: data.len() as u64,
        stderr_bytes: 0,
        truncated_lines: 0,
        strays_killed: 0,
    };
    let _ = p.finish(&exit);
}
