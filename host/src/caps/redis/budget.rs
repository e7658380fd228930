//! What one reply may take: its bytes on the wire ([`ReplyBudget`], spent
//! by the [`Metered`] socket every node connection reads through) and its
//! elements ([`elements`]), with the errors that say to ask in parts.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use redis::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{MAX_REPLY_BYTES, MAX_REPLY_ELEMENTS};
use crate::bindings::types::Error as CapError;

/// What the reply in flight on one connection may still read from the
/// socket: set before each call, spent by [`Metered`]; when it runs out the
/// read fails, the connection is dropped and the call says why.
#[derive(Debug, Default)]
pub struct ReplyBudget {
    left: AtomicI64,
    exceeded: AtomicBool,
}

impl ReplyBudget {
    /// A fresh budget of [`MAX_REPLY_BYTES`].
    pub fn full() -> Arc<ReplyBudget> {
        Arc::new(ReplyBudget {
            left: AtomicI64::new(MAX_REPLY_BYTES),
            exceeded: AtomicBool::new(false),
        })
    }

    pub(crate) fn refill(&self) {
        self.exceeded.store(false, Ordering::SeqCst);
        self.left.store(MAX_REPLY_BYTES, Ordering::SeqCst);
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::SeqCst)
    }
}

/// A socket (TCP or TLS) whose reads spend a [`ReplyBudget`].
pub(crate) struct Metered<S> {
    pub(crate) inner: S,
    pub(crate) budget: Arc<ReplyBudget>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let read = (buf.filled().len() - before) as i64;
            if self.budget.left.fetch_sub(read, Ordering::SeqCst) - read < 0 {
                self.budget.exceeded.store(true, Ordering::SeqCst);
                return Poll::Ready(Err(std::io::Error::other("the reply exceeds drhost's cap")));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The error of a reply that ran out of its [`ReplyBudget`].
pub(crate) fn too_large(addr: &str) -> CapError {
    CapError::InvalidArgument(format!(
        "redis at {addr}: the reply is larger than {} MiB, drhost's cap per call; ask in parts (GETRANGE, LRANGE/ZRANGE with bounds, HSCAN/SSCAN/ZSCAN with COUNT)",
        MAX_REPLY_BYTES / (1024 * 1024)
    ))
}

/// The error of a reply with more than [`MAX_REPLY_ELEMENTS`] elements.
pub(crate) fn too_many_elements(addr: &str) -> CapError {
    CapError::InvalidArgument(format!(
        "redis at {addr}: the reply has more than {MAX_REPLY_ELEMENTS} elements, drhost's cap per call; ask in parts (SCAN/HSCAN/SSCAN/ZSCAN with COUNT, LRANGE/ZRANGE with bounds)"
    ))
}

/// The number of elements in a reply, nested ones included.
pub(crate) fn elements(value: &Value) -> usize {
    match value {
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            items.len() + items.iter().map(elements).sum::<usize>()
        }
        Value::Map(pairs) => 2 * pairs.len() + pairs.iter().map(|(k, v)| elements(k) + elements(v)).sum::<usize>(),
        Value::Attribute { data, .. } => elements(data),
        _ => 0,
    }
}
