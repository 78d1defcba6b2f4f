//! Lingering close, as nginx does it: when a connection ends while the
//! client may still be sending (an early 413 for a body it is still
//! writing), closing the socket with unread data makes the kernel answer
//! with a reset, and the reset can destroy the answer before the client
//! reads it. So the socket is half-closed first (the client sees the
//! answer and then end-of-stream) and what still arrives is read and
//! thrown away, for a bounded time, before the socket is closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// How long a closing socket keeps reading at most, in all.
const LINGER_TOTAL: Duration = Duration::from_secs(10);
/// ...and how long it waits for more when the client pauses.
const LINGER_IDLE: Duration = Duration::from_secs(2);
/// Bytes read and discarded at most per closing socket.
const LINGER_BYTES: u64 = 64 * 1024 * 1024;

/// A TCP stream that lingers when dropped (see the module's comment).
pub struct Lingering {
    stream: Option<TcpStream>,
    /// Sockets lingering at once are capped: past the cap a socket closes
    /// at once, as it did before.
    slots: Arc<Semaphore>,
}

impl Lingering {
    pub fn new(stream: TcpStream, slots: Arc<Semaphore>) -> Self {
        Self { stream: Some(stream), slots }
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.stream.as_mut().expect("only taken on drop"))
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else { return };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let _slot = slot;
            // The answer is out; end-of-stream tells the client so.
            let _ = stream.shutdown().await;
            let drain = async {
                let mut buf = vec![0u8; 16 * 1024];
                let mut read = 0u64;
                while read < LINGER_BYTES {
                    match tokio::time::timeout(LINGER_IDLE, stream.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => read += n as u64,
                        _ => break,
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER_TOTAL, drain).await;
        });
    }
}

impl AsyncRead for Lingering {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_shutdown(cx)
    }
}
