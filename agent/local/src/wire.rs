//! [`Connection`]: typed messages over a byte stream, one line each, read into a fixed buffer of
//! [`MAX_LINE_BYTES`] that is wiped when dropped (lines may hold passwords), so a longer line is
//! refused without growing memory.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{DecodeError, MAX_LINE_BYTES, decode, encode};

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The stream failed.
    #[error("local socket: {0}")]
    Io(#[from] std::io::Error),
    /// A line was longer than the limit.
    #[error("a line longer than {MAX_LINE_BYTES} bytes was refused")]
    LineTooLong,
    /// The stream ended in the middle of a line.
    #[error("the connection ended in the middle of a message")]
    Truncated,
    /// A line was not a message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Messages over `S`.
pub struct Connection<S> {
    stream: S,
    buffer: Zeroizing<Vec<u8>>,
    filled: usize,
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("buffered", &self.filled).finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> Self {
        Connection { stream, buffer: Zeroizing::new(vec![0; MAX_LINE_BYTES + 1]), filled: 0 }
    }

    /// Sends one message.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), WireError> {
        let line = encode(msg);
        self.stream.write_all(&line).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The next message, or `None` when the other side closed the connection between messages.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, WireError> {
        match self.read_line().await? {
            Some(line) => Ok(Some(decode(&line)?)),
            None => Ok(None),
        }
    }

    /// The next line without its newline (and an optional `\r`).
    async fn read_line(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, WireError> {
        loop {
            if let Some(end) = self.buffer[..self.filled].iter().position(|b| *b == b'\n') {
                let mut line = Zeroizing::new(self.buffer[..end].to_vec());
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.buffer.copy_within(end + 1..self.filled, 0);
                let rest = self.filled - end - 1;
                self.buffer[rest..self.filled].zeroize();
                self.filled = rest;
                return Ok(Some(line));
            }
            if self.filled > MAX_LINE_BYTES {
                return Err(WireError::LineTooLong);
            }
            let read = self.stream.read(&mut self.buffer[self.filled..]).await?;
            if read == 0 {
                return if self.filled == 0 { Ok(None) } else { Err(WireError::Truncated) };
            }
            self.filled += read;
        }
    }
}
