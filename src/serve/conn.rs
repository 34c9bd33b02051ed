//! The accept loop of `orx serve`: a connection cap, a header-read timeout and a write-stall
//! timeout, so idle or stalled clients cannot lock everyone else out.
//!
//! Without them, 1,100 idle TCP connections (no token needed, the check runs after the
//! request head) used up the usual 1,024 open files and every later client waited forever.
//! So: at most [`Limits::max_connections`] connections are served at once, lowered to what
//! the process's open-file limit leaves after a reserve for run files and child processes;
//! beyond it, new connections wait in the kernel's accept queue (they are not refused, so a
//! real client is served as soon as a slot frees) and `accept` never fails for lack of files.
//! hyper's header-read timeout closes a connection that has not sent a whole request head
//! within [`Limits::header_timeout`], and it runs from the moment a connection is idle, so it
//! is the keep-alive idle timeout too. Reads are not otherwise timed (a slow handler or a
//! long event stream is fine), but a response whose writes make no progress for
//! [`Limits::write_stall`] (a client that stopped reading) ends its connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// What bounds the server's connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections served at once (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// How long a connection may take to send a request head, counted from when it is idle.
    pub header_timeout: Duration,
    /// How long a response write may make no progress.
    pub write_stall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            write_stall: Duration::from_secs(60),
        }
    }
}

/// Open files kept free for everything but connections: run files, logs, child processes'
/// pipes, the runtime's own descriptors.
const FILE_RESERVE: u64 = 64;

/// `max` lowered to what the soft open-file limit leaves after [`FILE_RESERVE`] (at least 1).
pub fn effective_cap(max: usize) -> usize {
    // SAFETY: a zeroed rlimit is a valid out-parameter for getrlimit.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    if rc != 0 || rl.rlim_cur == libc::RLIM_INFINITY {
        return max.max(1);
    }
    let fit = (rl.rlim_cur as u64).saturating_sub(FILE_RESERVE).max(1);
    max.min(usize::try_from(fit).unwrap_or(usize::MAX)).max(1)
}

/// Serve `app` on `listener` until `shutdown` turns true, then let open connections finish
/// (idle ones are closed at once).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let cap = effective_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    loop {
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break, // never closed; stop serving if it were
            },
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    // Out of files despite the cap (another part of the process used them),
                    // or the peer gave up before accept: wait a little and go on.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let io = TokioIo::new(StallGuard::new(stream, limits.write_stall));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            let stopping = tokio::select! {
                _ = conn.as_mut() => false,
                r = stop.wait_for(|s| *s) => r.is_ok(),
            };
            if stopping {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        });
    }
    // Wait for the connections still open (the caller's exit timer bounds this).
    let _ = slots.acquire_many(cap as u32).await;
}

/// A TCP stream whose writes fail once they have made no progress for `stall`.
struct StallGuard {
    inner: TcpStream,
    stall: Duration,
    /// Armed while a write is pending; `None` when the last write went through.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallGuard {
    fn new(inner: TcpStream, stall: Duration) -> Self {
        StallGuard {
            inner,
            stall,
            deadline: None,
        }
    }

    /// The answer to a write: a pending one waits out the stall deadline, a finished one (done
    /// or failed) clears it.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match poll {
            Poll::Pending => self.pending_write(cx),
            done => {
                self.deadline = None;
                done
            }
        }
    }

    /// After a pending write: fail once the stall deadline has passed.
    fn pending_write<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        let stall = self.stall;
        let d = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        if d.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.pending_write(cx),
            done => done,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_file_limit() {
        assert!(effective_cap(1) == 1);
        assert!(effective_cap(usize::MAX) >= 1);
        assert!(effective_cap(0) == 1);
    }
}
