//! Handing a child its standard input: the bytes of a `CommandSpec::stdin`, then end-of-file.
//!
//! A prompt usually fits in the pipe's buffer (64 KiB on Linux), so it is written at once
//! without blocking and the pipe closed on the calling thread; only what does not fit goes to a
//! thread of its own, which blocks until the child has read it. A thread for every call cost
//! more than the write itself in a short run of many calls (its stack, its start and its exit),
//! and a child that never reads its stdin must still never stall the supervisor.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

/// Write `data` to the child's stdin `pipe` and close it: here as far as the pipe takes it
/// without waiting, the rest on a thread.
pub(super) fn hand_over(mut pipe: File, data: &[u8]) -> io::Result<()> {
    let written = match write_without_waiting(&pipe, data) {
        Ok(n) => n,
        // The child is gone or closed its stdin: it did not want the rest, as with the thread.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => {
            tracing::warn!("writing the child's stdin failed: {e}");
            return Ok(());
        }
    };
    if written == data.len() {
        return Ok(()); // `pipe` is dropped here: the child sees end-of-file.
    }
    let rest = data[written..].to_vec();
    std::thread::Builder::new()
        .name("orx-exec-stdin".to_string())
        .spawn(move || {
            if let Err(e) = pipe.write_all(&rest) {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    tracing::warn!("writing the child's stdin failed: {e}");
                }
            }
            // `pipe` is dropped here: the child sees end-of-file.
        })?;
    Ok(())
}

/// As much of `data` as `pipe` takes now; the pipe is left blocking again for whoever writes
/// the rest.
fn write_without_waiting(pipe: &File, data: &[u8]) -> io::Result<usize> {
    let fd = pipe.as_raw_fd();
    // SAFETY: F_GETFL on a descriptor this File owns reads its flags and changes nothing.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Ok(0);
    }
    // SAFETY: F_SETFL on a descriptor this File owns; only O_NONBLOCK is added.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Ok(0);
    }
    let mut written = 0;
    let result = loop {
        if written == data.len() {
            break Ok(written);
        }
        match (&*pipe).write(&data[written..]) {
            Ok(0) => break Ok(written),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(written),
            Err(e) => break Err(e),
        }
    };
    // SAFETY: as above; the flags are put back as they were.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::OwnedFd;

    /// Both ends of a new pipe as files: (read, write).
    fn pipe() -> (File, File) {
        let (r, w) = std::io::pipe().unwrap();
        (File::from(OwnedFd::from(r)), File::from(OwnedFd::from(w)))
    }

    #[test]
    fn a_small_input_and_a_large_one_both_arrive_whole_and_end_in_eof() {
        for len in [0, 5, 64 * 1024, 1 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (mut r, w) = pipe();
            hand_over(w, &data).unwrap();
            // read_to_end returns once every writer is closed: the end-of-file the child sees.
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert!(got == data, "{len} bytes came back as {}", got.len());
        }
    }

    #[test]
    fn a_reader_that_went_away_is_not_an_error() {
        let (r, w) = pipe();
        drop(r);
        hand_over(w, b"nobody reads this").unwrap();
    }
}
