//! The socket under a plugin's Postgres session, metered: while a `query`
//! runs, the bytes the server sends are counted as they arrive, *before*
//! the driver buffers a whole message. A single huge value (`SELECT
//! repeat('x', 1e9)`) is a single message, which the row caps of `rows.rs`
//! would only see once it sat whole in the host's memory; past
//! [`WIRE_CAP`] the socket fails instead, the session ends, and the call is
//! refused naming the cap. Outside a query the socket is not metered.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes the server may send for one `query` (values, row framing and
/// all): four times the values cap of `rows.rs`, room for its row cap's
/// framing.
pub const WIRE_CAP: u64 = 4 * super::rows::MAX_QUERY_BYTES as u64;

/// No meter armed.
const UNMETERED: u64 = u64::MAX;

/// The allowance of one session's socket.
#[derive(Debug)]
pub(super) struct Meter {
    left: AtomicU64,
    tripped: AtomicBool,
}

impl Meter {
    pub(super) fn new() -> Arc<Meter> {
        Arc::new(Meter {
            left: AtomicU64::new(UNMETERED),
            tripped: AtomicBool::new(false),
        })
    }

    /// From now on the server may send `bytes` more.
    pub(super) fn arm(&self, bytes: u64) {
        self.left.store(bytes, Ordering::SeqCst);
    }

    /// Stops metering.
    pub(super) fn disarm(&self) {
        self.left.store(UNMETERED, Ordering::SeqCst);
    }

    /// Whether the allowance ran out (the session is then closed).
    pub(super) fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// Counts `n` bytes received; false once the allowance is spent.
    fn take(&self, n: u64) -> bool {
        if self.tripped() {
            return false;
        }
        let left = self.left.load(Ordering::SeqCst);
        if left == UNMETERED {
            return true;
        }
        if n > left {
            self.tripped.store(true, Ordering::SeqCst);
            return false;
        }
        self.left.store(left - n, Ordering::SeqCst);
        true
    }
}

/// Any byte stream a session can run over (TCP or a unix socket).
pub(super) trait Wire: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Wire for T {}

/// A stream whose reads are counted against a [`Meter`].
pub(super) struct Metered {
    inner: Box<dyn Wire>,
    meter: Arc<Meter>,
}

impl Metered {
    pub(super) fn new(inner: Box<dyn Wire>, meter: Arc<Meter>) -> Metered {
        Metered { inner, meter }
    }
}

fn over_the_cap() -> io::Error {
    io::Error::other(format!(
        "the server sent more than {} MiB for one query, drhost's cap",
        WIRE_CAP >> 20
    ))
}

impl AsyncRead for Metered {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.meter.tripped() {
            return Poll::Ready(Err(over_the_cap()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = (buf.filled().len() - before) as u64;
        if !this.meter.take(read) {
            return Poll::Ready(Err(over_the_cap()));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Metered {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_meter_trips_past_its_allowance_and_stays_tripped() {
        let meter = Meter::new();
        assert!(meter.take(1 << 40), "unmetered");
        meter.arm(10);
        assert!(meter.take(6));
        assert!(meter.take(4));
        assert!(!meter.take(1));
        assert!(meter.tripped());
        meter.disarm();
        assert!(!meter.take(1), "a tripped session stays closed");
    }
}
