//! The reader side of the supervisor: one thread per output pipe, the line splitter and the
//! byte-bounded queue that carries lines to the calling thread.
//!
//! An agent CLI may run for an hour and print gigabytes, sometimes as one enormous line, so
//! nothing here ever holds a whole stream or a whole line. Each reader takes the pipe in 64 KiB
//! chunks, appends every raw byte to the stream's log file at once, keeps running statistics
//! (byte count, the last 8 KiB, truncated lines) and cuts the chunk into lines. A line is kept
//! only up to `max_line_bytes`; the rest is counted, never stored. The lines of one chunk
//! travel as one [`Batch`] (one string, a list of end offsets) so a flood of tiny lines costs
//! one queue operation per chunk, not per line. The [`LineQueue`] is bounded by total bytes:
//! a reader blocks when it is full, which stalls the pipe, which stalls the child. That
//! backpressure is what keeps memory flat however fast the child prints; one batch is always
//! admitted into an empty queue so an oversized batch cannot deadlock.
//!
//! With a [`super::LineFilter`] (secret redaction), the log is written from the split lines
//! instead of the raw chunk; a line cut at `max_line_bytes` is logged cut, with a marker,
//! because redacting it whole would mean holding it whole. The filter first looks at a chunk's
//! lines as texts of at most about 64 KiB ([`super::LineFilter::clean`]; the scan makes several
//! passes over its text, which a larger one would not keep in the CPU's cache): nearly always
//! they hold no secret and are logged from that one scan; otherwise their lines go through the
//! filter one by one. A chunk only ever holds whole lines (the splitter keeps the unfinished one
//! for the next chunk), so a secret that a read boundary cuts in two is still seen whole.
//! Either way a chunk is one `write` (never one per line), made as soon as the chunk is read,
//! so whoever follows the log (`orx logs`, the dashboard) sees a line once it is complete.
//! Reads and writes of up to 1 MiB (with the pipe grown to match) were measured: they cut the
//! kernel's share of the log writes, but on a loaded 2-CPU machine every side-by-side run of
//! ingestion took longer in wall time than with 64 KiB chunks, so the chunk stays at 64 KiB.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::StreamKind;

/// Size of one read from a child pipe.
const CHUNK: usize = 64 * 1024;
/// How much of a batch the secret scan looks at in one go (a batch can exceed a chunk when a
/// long line completes in it): the scan makes several passes over its text, which stay in the
/// CPU's cache at this size; over a whole megabyte at once it cost about twice as much per byte.
const SCAN_PIECE: usize = 64 * 1024;
/// How much of each stream's end is kept for [`super::ExitInfo`].
pub(crate) const TAIL_BYTES: usize = 8 * 1024;

/// Lock a mutex, ignoring poisoning: the guarded data is plain counters and buffers that stay
/// consistent even if a thread panicked while holding the lock.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lines cut from one chunk of one stream: `text` holds them back to back, each with its
/// `\n` (so a batch the log filter finds clean is logged as it is, without a copy), and
/// `ends[i]` is the byte offset just past line `i`'s `\n`.
pub(crate) struct Batch {
    pub kind: StreamKind,
    text: String,
    ends: Vec<usize>,
    /// Indices of the lines cut at `max_line_bytes` (usually none).
    cuts: Vec<usize>,
}

impl Batch {
    fn new(kind: StreamKind) -> Self {
        Batch {
            kind,
            text: String::new(),
            ends: Vec::new(),
            cuts: Vec::new(),
        }
    }

    /// Mark the line just pushed as cut.
    fn mark_cut(&mut self) {
        self.cuts.push(self.ends.len().saturating_sub(1));
    }

    /// Whether line `i` was cut.
    fn is_cut(&self, i: usize) -> bool {
        self.cuts.contains(&i)
    }

    /// Where line `i` starts in `text` (`text.len()` past the last line).
    fn start(&self, i: usize) -> usize {
        i.checked_sub(1)
            .and_then(|p| self.ends.get(p).copied())
            .unwrap_or(0)
    }

    /// Line `i`, without its `\n`.
    fn line(&self, i: usize) -> &str {
        let start = self.start(i);
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text
            .get(start..end.saturating_sub(1).max(start))
            .unwrap_or("")
    }

    fn push_line(&mut self, bytes: &[u8]) {
        // Valid UTF-8 is the rule: `from_utf8` checks it several times faster than the lossy
        // decoder's chunk iterator (8% of the ingestion profile), which only runs otherwise.
        match std::str::from_utf8(bytes) {
            Ok(s) => self.text.push_str(s),
            Err(_) => self.text.push_str(&String::from_utf8_lossy(bytes)),
        }
        self.text.push('\n');
        self.ends.push(self.text.len());
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// What this batch costs against the queue's byte budget: the memory it really holds,
    /// so a flood of empty lines is bounded as well as one huge line.
    fn cost(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// The lines in order, without their `\n`.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = self
                .text
                .get(start..end.saturating_sub(1).max(start))
                .unwrap_or("");
            start = end;
            line
        })
    }
}

/// What [`LineQueue::pop`] found.
pub(crate) enum Pop {
    Batch(Batch),
    /// Nothing arrived within the timeout, or [`LineQueue::wake`] was called; readers are
    /// still open.
    Empty,
    /// Every reader has finished and the queue is drained.
    Closed,
}

struct QueueState {
    items: VecDeque<Batch>,
    bytes: usize,
    open_producers: usize,
    consumer_gone: bool,
    /// Set by [`LineQueue::wake`], cleared by the `pop` it ends.
    woken: bool,
}

/// A multi-producer, single-consumer queue of [`Batch`]es bounded by total bytes.
pub(crate) struct LineQueue {
    state: Mutex<QueueState>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

impl LineQueue {
    pub fn new(capacity: usize, producers: usize) -> Self {
        LineQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                bytes: 0,
                open_producers: producers,
                consumer_gone: false,
                woken: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
        }
    }

    /// Add a batch, blocking while the queue is full. Returns false (dropping the batch) once
    /// the consumer has gone away.
    fn push(&self, batch: Batch) -> bool {
        let cost = batch.cost();
        let mut st = lock(&self.state);
        while !st.consumer_gone && st.bytes > 0 && st.bytes + cost > self.capacity {
            st = self
                .not_full
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if st.consumer_gone {
            return false;
        }
        st.bytes += cost;
        st.items.push_back(batch);
        self.not_empty.notify_one();
        true
    }

    /// Take the oldest batch, waiting at most `timeout` for one.
    pub fn pop(&self, timeout: Duration) -> Pop {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.state);
        loop {
            if let Some(batch) = st.items.pop_front() {
                st.bytes -= batch.cost();
                self.not_full.notify_all();
                return Pop::Batch(batch);
            }
            if st.open_producers == 0 {
                return Pop::Closed;
            }
            let now = Instant::now();
            if st.woken || now >= deadline {
                st.woken = false;
                return Pop::Empty;
            }
            st = self
                .not_empty
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// End the consumer's current (or next) [`LineQueue::pop`] now, with nothing: something
    /// other than a line needs its attention (the child exited, an interrupt arrived).
    pub fn wake(&self) {
        let mut st = lock(&self.state);
        st.woken = true;
        self.not_empty.notify_all();
    }

    /// One producer has finished (also used when a pipe was never there).
    pub fn producer_done(&self) {
        let mut st = lock(&self.state);
        st.open_producers = st.open_producers.saturating_sub(1);
        self.not_empty.notify_all();
    }

    /// The consumer stops listening: queued batches are dropped and blocked readers released,
    /// so a reader stuck on a pipe held open by an unknown process can never block on us.
    pub fn close_consumer(&self) {
        let mut st = lock(&self.state);
        st.consumer_gone = true;
        st.items.clear();
        st.bytes = 0;
        self.not_full.notify_all();
    }
}

/// Running statistics of one stream, shared with the supervisor so it can report them even if
/// it has to abandon a reader that never saw end-of-file.
#[derive(Default)]
pub(crate) struct StreamStats {
    pub bytes: u64,
    pub truncated_lines: u64,
    tail: Vec<u8>,
}

impl StreamStats {
    fn record(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if chunk.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail
                .extend_from_slice(&chunk[chunk.len() - TAIL_BYTES..]);
        } else {
            let excess = (self.tail.len() + chunk.len()).saturating_sub(TAIL_BYTES);
            self.tail.drain(..excess);
            self.tail.extend_from_slice(chunk);
        }
    }

    /// The last bytes of the stream as lossy UTF-8, without a leading broken character.
    pub fn tail_text(&self) -> String {
        let skip = self
            .tail
            .iter()
            .take(3)
            .take_while(|b| (**b & 0xC0) == 0x80)
            .count();
        String::from_utf8_lossy(&self.tail[skip..]).into_owned()
    }
}

/// Cuts a byte stream into lines, keeping at most `max` bytes of each.
struct LineSplitter {
    max: usize,
    /// Head of the line in progress (at most `max` bytes).
    partial: Vec<u8>,
    /// Total length of the line in progress, including bytes not kept.
    partial_len: usize,
    /// Whether the last byte of the line in progress was `\r`.
    partial_cr: bool,
    truncated: u64,
}

impl LineSplitter {
    fn new(max: usize) -> Self {
        LineSplitter {
            max,
            partial: Vec::new(),
            partial_len: 0,
            partial_cr: false,
            truncated: 0,
        }
    }

    /// Feed one chunk; complete lines are appended to `out`.
    fn feed(&mut self, mut chunk: &[u8], out: &mut Batch) {
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let (segment, rest) = chunk.split_at(nl);
            if self.partial_len == 0 {
                self.emit_whole(segment, out);
            } else {
                self.extend(segment);
                self.finish(out);
            }
            chunk = &rest[1..];
        }
        if !chunk.is_empty() {
            self.extend(chunk);
        }
    }

    /// End of stream: a final line without `\n` is delivered too.
    fn flush(&mut self, out: &mut Batch) {
        if self.partial_len > 0 {
            self.finish(out);
        }
    }

    /// A line that lies entirely inside one chunk: no copy into `partial`.
    fn emit_whole(&mut self, line: &[u8], out: &mut Batch) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max {
            self.truncated += 1;
            out.push_line(cut_at_char(&line[..self.max]));
            out.mark_cut();
        } else {
            out.push_line(line);
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let room = self.max.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.partial_len += bytes.len();
        self.partial_cr = bytes.last() == Some(&b'\r');
    }

    fn finish(&mut self, out: &mut Batch) {
        let len = self.partial_len - usize::from(self.partial_cr);
        self.partial.truncate(len);
        if len > self.max {
            self.truncated += 1;
            out.push_line(cut_at_char(&self.partial));
            out.mark_cut();
        } else {
            out.push_line(&self.partial);
        }
        self.partial.clear();
        if self.partial.capacity() > CHUNK {
            self.partial.shrink_to(CHUNK);
        }
        self.partial_len = 0;
        self.partial_cr = false;
    }
}

/// Drop an incomplete UTF-8 character left at the end by truncation.
fn cut_at_char(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        _ => bytes,
    }
}

/// A batch's lines as the log shows them through `filter`: the batch's own text when the
/// filter finds all of it clean (the common case, no copy), else a copy in `buf` (cleared
/// first, kept from chunk to chunk so a flood does not allocate a fresh buffer per read). The
/// uncut lines are looked at as texts of about [`SCAN_PIECE`] bytes: such a text is kept as it
/// is when the filter finds it clean, else its lines go through the filter one by one; a cut
/// line always does, with its marker. Each piece is looked at once, in order, and since
/// [`super::LineFilter::clean`] leaves the filter as its lines would, the log is the same
/// whatever the pieces.
fn filtered_text<'b>(
    filter: &mut dyn super::LineFilter,
    batch: &'b Batch,
    buf: &'b mut String,
) -> &'b str {
    buf.clear();
    let n = batch.ends.len();
    // Everything so far is the batch's text as it is; `buf` is only filled from the first
    // piece that is not.
    let mut direct = true;
    let mut i = 0;
    while i < n {
        let (first, start) = (i, batch.start(i));
        while i < n && !batch.is_cut(i) && batch.start(i) - start < SCAN_PIECE {
            i += 1;
        }
        let piece = batch.text.get(start..batch.start(i)).unwrap_or("");
        if i > first && filter.clean(piece) {
            if !direct {
                buf.push_str(piece);
            }
            continue;
        }
        if direct {
            buf.push_str(batch.text.get(..start).unwrap_or(""));
            direct = false;
        }
        let end = if i > first { i } else { i + 1 };
        for j in first..end {
            let line = batch.line(j);
            match filter.filter(line) {
                Some(l) => buf.push_str(&l),
                None => buf.push_str(line),
            }
            if batch.is_cut(j) {
                buf.push_str(" [orx: line truncated]");
            }
            buf.push('\n');
        }
        i = end;
    }
    if direct {
        &batch.text
    } else {
        buf
    }
}

/// Append a batch's lines to the log through `filter`; a failed write stops the logging.
fn write_filtered(
    log: &mut Option<(File, std::path::PathBuf)>,
    filter: &mut dyn super::LineFilter,
    batch: &Batch,
    buf: &mut String,
) {
    let Some((file, path)) = log else { return };
    let text = filtered_text(filter, batch, buf);
    if let Err(e) = file.write_all(text.as_bytes()) {
        tracing::warn!(
            "cannot append to log {}: {e}; the rest of this stream is not logged",
            path.display()
        );
        *log = None;
    }
}

/// Everything a reader thread shares with the supervisor.
pub(crate) struct ReaderShared {
    pub queue: Arc<LineQueue>,
    /// Nanoseconds since `epoch` at which the last byte arrived on any stream.
    pub last_byte: Arc<AtomicU64>,
    pub epoch: Instant,
    /// Readers that have reached end-of-file. One may still be busy with its last line (a
    /// long final line through the log filter takes a while); the supervisor keeps waiting
    /// for those and gives up only on readers whose pipe some stray process holds open.
    pub at_eof: Arc<AtomicUsize>,
}

/// Marks the producer finished even if the reader thread unwinds.
struct ProducerGuard(Arc<LineQueue>);

impl Drop for ProducerGuard {
    fn drop(&mut self) {
        self.0.producer_done();
    }
}

/// Start the thread that drains `pipe` until end-of-file.
pub(crate) fn spawn_reader<R: Read + Send + 'static>(
    kind: StreamKind,
    mut pipe: R,
    mut log: Option<(File, std::path::PathBuf)>,
    mut filter: Option<Box<dyn super::LineFilter>>,
    max_line_bytes: usize,
    shared: ReaderShared,
    stats: Arc<Mutex<StreamStats>>,
) -> io::Result<JoinHandle<()>> {
    let name = match kind {
        StreamKind::Stdout => "orx-exec-stdout",
        StreamKind::Stderr => "orx-exec-stderr",
    };
    let queue = Arc::clone(&shared.queue);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _guard = ProducerGuard(queue);
            let mut splitter = LineSplitter::new(max_line_bytes.max(1));
            let mut buf = vec![0u8; CHUNK];
            let mut logged = String::new();
            let mut consumer_gone = false;
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::warn!("reading the child's {kind:?} failed: {e}");
                        break;
                    }
                };
                let chunk = &buf[..n];
                let nanos = u64::try_from(shared.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                shared.last_byte.fetch_max(nanos, Ordering::Relaxed);
                if let (Some((file, path)), None) = (&mut log, &filter) {
                    if let Err(e) = file.write_all(chunk) {
                        tracing::warn!(
                            "cannot append to log {}: {e}; the rest of this stream is not logged",
                            path.display()
                        );
                        log = None;
                    }
                }
                let mut batch = Batch::new(kind);
                splitter.feed(chunk, &mut batch);
                if let Some(f) = filter.as_deref_mut() {
                    write_filtered(&mut log, f, &batch, &mut logged);
                }
                {
                    let mut st = lock(&stats);
                    st.record(chunk);
                    st.truncated_lines = splitter.truncated;
                }
                if !batch.is_empty() && !consumer_gone {
                    consumer_gone = !shared.queue.push(batch);
                }
            }
            shared.at_eof.fetch_add(1, Ordering::Release);
            let mut batch = Batch::new(kind);
            splitter.flush(&mut batch);
            if let Some(f) = filter.as_deref_mut() {
                write_filtered(&mut log, f, &batch, &mut logged);
            }
            lock(&stats).truncated_lines = splitter.truncated;
            if !batch.is_empty() && !consumer_gone {
                shared.queue.push(batch);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> (Vec<String>, u64) {
        let mut s = LineSplitter::new(max);
        let mut out = Batch::new(StreamKind::Stdout);
        for c in chunks {
            s.feed(c, &mut out);
        }
        s.flush(&mut out);
        (out.lines().map(str::to_string).collect(), s.truncated)
    }

    #[test]
    fn splits_lines_across_chunks_and_strips_crlf() {
        let (lines, t) = split(&[b"ab", b"c\r\nd\n\nxy", b"z\r", b"\n", b"tail"], 100);
        assert_eq!(lines, ["abc", "d", "", "xyz", "tail"]);
        assert_eq!(t, 0);
    }

    #[test]
    fn truncates_long_lines_keeping_the_head_and_counting_them() {
        let (lines, t) = split(&[b"abcdefgh\n123", b"456789\nok\n"], 4);
        assert_eq!(lines, ["abcd", "1234", "ok"]);
        assert_eq!(t, 2);
        // A trailing \r does not count towards the limit.
        let (lines, t) = split(&[b"abcd\r\n", b"abc", b"d\r", b"\n"], 4);
        assert_eq!(lines, ["abcd", "abcd"]);
        assert_eq!(t, 0);
    }

    #[test]
    fn truncation_never_splits_a_utf8_character() {
        let (lines, t) = split(&["aé€x\n".as_bytes()], 4);
        assert_eq!(lines, ["aé"]);
        assert_eq!(t, 1);
        let (lines, _) = split(&[b"a\xffb\n"], 100);
        assert_eq!(lines, ["a\u{fffd}b"]);
    }

    #[test]
    fn stats_keep_the_last_8_kib_without_a_broken_leading_character() {
        let mut st = StreamStats::default();
        st.record(&[b'x'; 10_000]);
        st.record("é".repeat(100).as_bytes());
        assert_eq!(st.bytes, 10_200);
        let tail = st.tail_text();
        assert!(tail.ends_with(&"é".repeat(100)));
        assert_eq!(tail.len(), TAIL_BYTES);
        st.record(&[b'y'; TAIL_BYTES - 1]);
        // The tail now starts with the second byte of an 'é': it is skipped.
        assert_eq!(st.tail_text(), "y".repeat(TAIL_BYTES - 1));
    }

    /// Wait until thread `tid` is asleep (a producer can only sleep in `push`) or `handle` is
    /// done: the event a blocking test needs, where a fixed stretch of time may pass before the
    /// thread even ran. The bound only turns a hang into a failure.
    fn wait_asleep_or_done<T>(tid: libc::pid_t, handle: &JoinHandle<T>) {
        let asleep = || {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
                .is_ok_and(|s| s.rsplit(") ").next().is_some_and(|r| r.starts_with('S')))
        };
        crate::exec::wait_until("the thread asleep or done", || {
            asleep() || handle.is_finished()
        });
    }

    /// A producer thread pushing `batch` into the full queue `q` (then, with `done`, closing its
    /// side), once it is asleep in `push`, where it must block; its answer is what `push`
    /// returned.
    fn blocked_producer(q: &Arc<LineQueue>, batch: Batch, done: bool) -> JoinHandle<bool> {
        let q2 = Arc::clone(q);
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let producer = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let pushed = q2.push(batch);
            if done {
                q2.producer_done();
            }
            pushed
        });
        wait_asleep_or_done(tid_rx.recv().unwrap(), &producer);
        assert!(
            !producer.is_finished(),
            "the producer must block while the queue is full"
        );
        producer
    }

    #[test]
    fn queue_blocks_producers_when_full_and_admits_one_oversized_batch() {
        let q = Arc::new(LineQueue::new(100, 1));
        let mut big = Batch::new(StreamKind::Stdout);
        big.push_line(&[b'a'; 500]);
        assert!(q.push(big)); // empty queue: admitted although over capacity
        let mut small = Batch::new(StreamKind::Stderr);
        small.push_line(b"small");
        let producer = blocked_producer(&q, small, true);
        let Pop::Batch(b) = q.pop(Duration::from_millis(10)) else {
            panic!("expected the big batch")
        };
        assert_eq!(b.lines().next().map(str::len), Some(500));
        assert!(producer.join().unwrap());
        let Pop::Batch(b) = q.pop(Duration::from_secs(1)) else {
            panic!("expected the small batch")
        };
        assert_eq!(b.kind, StreamKind::Stderr);
        assert!(matches!(q.pop(Duration::from_millis(10)), Pop::Closed));
    }

    /// A pipe that hands out its bytes in the pieces given, one piece per read.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut piece) = self.0.pop_front() else {
                return Ok(0);
            };
            let n = piece.len().min(buf.len());
            buf[..n].copy_from_slice(&piece[..n]);
            if n < piece.len() {
                self.0.push_front(piece.split_off(n));
            }
            Ok(n)
        }
    }

    /// What the reader logs for `pieces` through the run's redaction.
    fn logged_through_redaction(pieces: &[&[u8]]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.jsonl");
        let file = File::create(&path).unwrap();
        let redactor = Arc::new(crate::guard::redact::Redactor::from_vars(Vec::new()));
        let queue = Arc::new(LineQueue::new(usize::MAX, 1));
        let shared = ReaderShared {
            queue: Arc::clone(&queue),
            last_byte: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
            at_eof: Arc::new(AtomicUsize::new(0)),
        };
        let pipe = Pieces(pieces.iter().map(|p| p.to_vec()).collect());
        let reader = spawn_reader(
            StreamKind::Stdout,
            pipe,
            Some((file, path.clone())),
            Some(Box::new(redactor.line_redactor())),
            1 << 20,
            shared,
            Arc::new(Mutex::new(StreamStats::default())),
        )
        .unwrap();
        reader.join().unwrap();
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn a_secret_cut_by_a_read_boundary_is_redacted_in_the_log() {
        let key = "AKIA2QZ7XW4RTY9PLM3K";
        let stream = format!(
            "{{\"type\":\"text\"}}\n{{\"text\":\"the key is {key} here\"}}\n\
             -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----\ndone\n"
        );
        let whole = logged_through_redaction(&[stream.as_bytes()]);
        assert!(
            !whole.contains(key) && !whole.contains("MIIEowIBAAKCAQEAx"),
            "{whole}"
        );
        assert!(whole.contains("[REDACTED:aws_access_key_id]"), "{whole}");
        // Every place a read can end: inside the key, inside the key block, between lines.
        for cut in 1..stream.len() {
            let (a, b) = stream.as_bytes().split_at(cut);
            assert_eq!(
                logged_through_redaction(&[a, b]),
                whole,
                "cut at byte {cut}"
            );
        }
    }

    #[test]
    fn a_secret_right_after_a_json_escape_is_redacted_in_the_log() {
        // In the raw stream-json line the key follows the `n` of `\n` (or the last digit of
        // a `\u` escape), a letter glued to it; in the text the agent wrote it starts a line.
        let key = "AKIA2QZ7XW4RTY9PLM3K";
        let gh = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        for escape in ["\\n", "\\t", "\\r", "\\b", "\\f", "\\u001b", "\\u00A0"] {
            let stream = format!("{{\"text\":\"keys:{escape}{key}{escape}{gh}\"}}\n");
            let logged = logged_through_redaction(&[stream.as_bytes()]);
            assert!(!logged.contains(key) && !logged.contains(&gh), "{logged}");
        }
        // A file the agent writes, as its tool call carries it: the value sits between `\"`.
        let token = "9fQ2xZ7LmK3pR8vT1wY6";
        let stream = format!(
            "{{\"input\":{{\"content\":\"import os\\nAPI_TOKEN = \\\"{token}\\\"\\n\"}}}}\n"
        );
        let logged = logged_through_redaction(&[stream.as_bytes()]);
        assert!(!logged.contains(token), "{logged}");
        let v: serde_json::Value = serde_json::from_str(logged.trim_end()).unwrap();
        assert_eq!(
            v["input"]["content"], "import os\nAPI_TOKEN = \"[REDACTED:secret_assignment]\"\n",
            "the line stays JSON, and only the value is hidden"
        );
    }

    #[test]
    fn a_long_stream_is_logged_as_its_lines_through_the_filter_would_be() {
        use crate::exec::LineFilter;
        let filler = format!("{{\"type\":\"text\",\"text\":\"{}\"}}", "x".repeat(300));
        let mut lines: Vec<String> = vec![filler.clone(); 3000];
        lines[1500] = "token AKIA2QZ7XW4RTY9PLM3K in the middle".into();
        lines[2999] = "-----BEGIN RSA PRIVATE KEY-----".into();
        let stream: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert!(stream.len() > 4 * SCAN_PIECE);
        let redactor = Arc::new(crate::guard::redact::Redactor::from_vars(Vec::new()));
        let mut by_line = redactor.line_redactor();
        let expected: String = lines
            .iter()
            .map(|l| format!("{}\n", by_line.filter(l).unwrap_or_else(|| l.clone())))
            .collect();
        let logged = logged_through_redaction(&[stream.as_bytes()]);
        assert!(logged.contains("[REDACTED:aws_access_key_id]"));
        assert_eq!(logged, expected);
    }

    #[test]
    fn closing_the_consumer_releases_a_blocked_producer() {
        let q = Arc::new(LineQueue::new(10, 1));
        let mut b = Batch::new(StreamKind::Stdout);
        b.push_line(b"0123456789");
        assert!(q.push(b));
        let mut more = Batch::new(StreamKind::Stdout);
        more.push_line(b"more");
        let producer = blocked_producer(&q, more, false);
        q.close_consumer();
        assert!(!producer.join().unwrap());
    }
}
