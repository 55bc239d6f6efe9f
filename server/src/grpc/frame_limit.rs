//! The request message size limit, with the code gRPC's guide gives it: RESOURCE_EXHAUSTED.
//!
//! tonic's codec refuses a message over its decoding limit with OUT_OF_RANGE. [`FrameLimit`] wraps
//! a service and reads the 5-byte header of every length-prefixed message of the request body
//! (1 byte compressed flag, 4 bytes big-endian length) as the body streams in: a declared length
//! over the limit ends the body with an error before that message is buffered, and the answer is
//! replaced by a trailers-only RESOURCE_EXHAUSTED naming the limit. This covers unary calls and
//! each message of a client stream. tonic's own limit stays in place behind it.
//!
//! It also answers a request body that is not a valid message (protobuf that does not decode,
//! nesting past prost's depth limit, a body ending inside a message) with INVALID_ARGUMENT:
//! tonic's codec says INTERNAL, which would blame the server (and count as its error) for what a
//! client sent. The compressed flag without an encoding keeps INTERNAL, as gRPC's compression
//! spec requires.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http_body::Frame;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::server::NamedService;
use tonic::{Code, Status};

/// Length of a gRPC message header: the compressed flag and the 4-byte length.
const HEADER_LEN: usize = 5;

/// Wraps a gRPC service so that request messages over `limit` bytes get RESOURCE_EXHAUSTED.
#[derive(Debug, Clone)]
pub(crate) struct FrameLimit<S> {
    inner: S,
    limit: usize,
}

impl<S> FrameLimit<S> {
    /// `inner`, refusing request messages longer than `limit` bytes.
    pub(crate) fn new(inner: S, limit: usize) -> Self {
        FrameLimit { inner, limit }
    }
}

impl<S: NamedService> NamedService for FrameLimit<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for FrameLimit<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let tripped = Arc::new(OnceLock::new());
        let limit = self.limit;
        let guarded = {
            let tripped = tripped.clone();
            request.map(move |body| Body::new(Guarded::new(body, limit, tripped)))
        };
        let answer = self.inner.call(guarded);
        Box::pin(async move {
            let response = answer.await?;
            Ok(match tripped.get() {
                Some(&found) => too_large(found, limit).into_http(),
                None if is_undecodable(&response) => Status::new(
                    Code::InvalidArgument,
                    "the request is not a valid message of this method",
                )
                .into_http(),
                None => response,
            })
        })
    }
}

/// tonic's prefixes of the INTERNAL messages of a request that does not decode (tonic-prost's
/// protobuf errors, and a body ending inside a message), as they travel in `grpc-message`.
const UNDECODABLE: [&str; 2] = ["failed%20to%20decode%20Protobuf", "Unexpected%20EOF%20decoding"];

/// Whether `response` is tonic's trailers-only INTERNAL for a request that did not decode.
fn is_undecodable<B>(response: &Response<B>) -> bool {
    let headers = response.headers();
    headers.get("grpc-status").is_some_and(|code| code == "13")
        && headers.get("grpc-message").is_some_and(|message| {
            let message = message.as_bytes();
            UNDECODABLE.iter().any(|prefix| message.starts_with(prefix.as_bytes()))
        })
}

/// The status for a message declaring `found` bytes, over `limit`.
fn too_large(found: usize, limit: usize) -> Status {
    Status::new(
        Code::ResourceExhausted,
        format!("request message too large: {found} bytes, the limit is {limit} bytes"),
    )
}

/// A request body whose message headers are checked against the limit as the data passes.
struct Guarded {
    inner: Body,
    headers: Headers,
    limit: usize,
    /// Set to the declared length of the first message over the limit.
    tripped: Arc<OnceLock<usize>>,
}

impl Guarded {
    fn new(inner: Body, limit: usize, tripped: Arc<OnceLock<usize>>) -> Self {
        Guarded { inner, headers: Headers::default(), limit, tripped }
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.tripped.get().is_some() {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            let limit = self.limit;
            if let Some(found) = self.headers.scan(data, limit) {
                let _ = self.tripped.set(found);
                return Poll::Ready(Some(Err(too_large(found, limit))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.tripped.get().is_some() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Where the body stands between message headers, across data chunks of any size.
#[derive(Debug, Default)]
struct Headers {
    /// Bytes of the current message still to come.
    payload_left: usize,
    /// The header being read, when it straddles chunks.
    header: [u8; HEADER_LEN],
    header_read: usize,
}

impl Headers {
    /// Reads the message headers in `data`, the next bytes of the body; returns the declared length
    /// of the first message over `limit`.
    fn scan(&mut self, mut data: &[u8], limit: usize) -> Option<usize> {
        while !data.is_empty() {
            if self.payload_left > 0 {
                let skipped = self.payload_left.min(data.len());
                self.payload_left -= skipped;
                data = &data[skipped..];
                continue;
            }
            let taken = (HEADER_LEN - self.header_read).min(data.len());
            self.header[self.header_read..self.header_read + taken].copy_from_slice(&data[..taken]);
            self.header_read += taken;
            data = &data[taken..];
            if self.header_read == HEADER_LEN {
                self.header_read = 0;
                let [_, a, b, c, d] = self.header;
                let declared = u32::from_be_bytes([a, b, c, d]) as usize;
                if declared > limit {
                    return Some(declared);
                }
                self.payload_left = declared;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        bytes.extend(std::iter::repeat_n(7, len));
        bytes
    }

    #[test]
    fn headers_are_found_whatever_the_chunking() {
        let mut body = message(10);
        body.extend(message(0));
        body.extend(message(100));
        body.extend(message(101));
        body.extend(message(3));
        for chunk in [1, 2, 4, 5, 6, 7, 16, 1000] {
            let mut headers = Headers::default();
            let found = body.chunks(chunk).find_map(|c| headers.scan(c, 100));
            assert_eq!(found, Some(101), "chunks of {chunk}");
        }
    }

    #[test]
    fn undecodable_requests_are_told_apart_from_other_internal_errors() {
        let with = |message: &str| {
            let status = Status::new(Code::Internal, message.to_owned());
            super::is_undecodable(&status.into_http::<Body>())
        };
        assert!(with("failed to decode Protobuf message: invalid wire type"));
        assert!(with("Unexpected EOF decoding stream."));
        assert!(!with("internal error; the server log has the details"));
        assert!(!with(
            "protocol error: received message with compressed-flag but no grpc-encoding was specified"
        ));
    }

    #[test]
    fn messages_up_to_the_limit_pass() {
        let mut headers = Headers::default();
        let mut body = message(100);
        body.extend(message(100));
        assert_eq!(headers.scan(&body, 100), None);
        assert_eq!(headers.scan(&message(0), 100), None);
    }
}
