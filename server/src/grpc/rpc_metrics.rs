//! [`RpcMetrics`]: times every call of a gRPC service and records it by method and status code in
//! the server's [`Metrics`].
//!
//! The code is where gRPC puts it: in the response headers of a trailers-only answer (what tonic
//! sends for an error returned before any message), else in the trailers that end the body. A
//! body that ends without trailers counts as UNKNOWN, one that fails with its error's code, and a
//! call dropped before its end (the client went away, or the request timed out) as CANCELLED. Method names are checked
//! against the services' descriptors ([`KnownMethods`]): any other path counts as `unknown`, so
//! the number of label sets stays bounded whatever clients send.

use std::collections::HashSet;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::Frame;
use prost::Message;
use tokio::time::Instant;
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::server::NamedService;

use crate::ops::Metrics;

/// The method label of a path the contract does not name.
const UNKNOWN_METHOD: &str = "unknown";

/// The `/service/method` paths of the services the server serves, read from their encoded
/// `FileDescriptorSet`s.
#[derive(Debug, Default)]
pub(crate) struct KnownMethods(HashSet<String>);

impl KnownMethods {
    /// The methods of every service in `sets`; a set that does not decode adds nothing.
    pub(crate) fn from_descriptor_sets(sets: &[&[u8]]) -> KnownMethods {
        let mut paths = HashSet::new();
        for set in sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else { continue };
            for file in &set.file {
                for service in &file.service {
                    let name = match file.package() {
                        "" => service.name().to_owned(),
                        package => format!("{package}.{}", service.name()),
                    };
                    for method in &service.method {
                        paths.insert(format!("/{name}/{}", method.name()));
                    }
                }
            }
        }
        KnownMethods(paths)
    }

    /// The method label of `path` in `service`: its name when the contract has it, else
    /// [`UNKNOWN_METHOD`].
    fn method<'p>(&self, service: &str, path: &'p str) -> &'p str {
        match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
            Some((s, method)) if s == service && self.0.contains(path) => method,
            _ => UNKNOWN_METHOD,
        }
    }
}

/// Wraps a gRPC service so that each call's duration is recorded with its method and code.
#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
    methods: Arc<KnownMethods>,
}

impl<S> RpcMetrics<S> {
    /// `inner`, its calls recorded in `metrics`.
    pub(crate) fn new(inner: S, metrics: Arc<Metrics>, methods: Arc<KnownMethods>) -> Self {
        RpcMetrics { inner, metrics, methods }
    }
}

impl<S: NamedService> NamedService for RpcMetrics<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for RpcMetrics<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + NamedService,
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
        let call = Call {
            metrics: Some(self.metrics.clone()),
            method: self.methods.method(S::NAME, request.uri().path()).to_owned(),
            service: S::NAME,
            start: Instant::now(),
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(match header_code(response.headers()) {
                Some(code) => {
                    call.finish(code);
                    response
                }
                None => response.map(|body| Body::new(Observed { inner: body, call: Some(call) })),
            })
        })
    }
}

/// One call being timed; dropped unfinished, it counts as CANCELLED.
struct Call {
    /// Taken when the call is recorded.
    metrics: Option<Arc<Metrics>>,
    service: &'static str,
    method: String,
    start: Instant,
}

impl Call {
    /// Records the call as ended now with `code`.
    fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        if let Some(metrics) = self.metrics.take() {
            let seconds = self.start.elapsed().as_secs_f64();
            metrics.observe_rpc(self.service, &self.method, code_name(code), seconds);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

/// The code in `headers`' `grpc-status`, if it has one.
fn header_code(headers: &HeaderMap) -> Option<Code> {
    headers.get("grpc-status").map(|value| Code::from_bytes(value.as_bytes()))
}

/// An answer's body, watched for the trailers that carry the code.
struct Observed {
    inner: Body,
    /// Taken when the call is recorded; dropped with the body before that, it counts as
    /// CANCELLED.
    call: Option<Call>,
}

impl Observed {
    fn finish(&mut self, code: Code) {
        if let Some(call) = self.call.take() {
            call.finish(code);
        }
    }
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = header_code(trailers).unwrap_or(Code::Unknown);
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                self.finish(code);
            }
            Poll::Ready(None) => self.finish(Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The canonical name of a gRPC status code, as gRPC's documentation writes it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_contracts_methods_get_their_name() {
        let known = KnownMethods::from_descriptor_sets(&[sesame_proto::FILE_DESCRIPTOR_SET]);
        let admin = "sesame.v1.AdminService";
        assert_eq!(known.method(admin, "/sesame.v1.AdminService/ListOffices"), "ListOffices");
        assert_eq!(known.method(admin, "/sesame.v1.AdminService/Nope"), UNKNOWN_METHOD);
        assert_eq!(known.method(admin, "/sesame.v1.AgentService/Heartbeat"), UNKNOWN_METHOD);
        assert_eq!(known.method(admin, "garbage"), UNKNOWN_METHOD);
        let agent = "sesame.v1.AgentService";
        assert_eq!(known.method(agent, "/sesame.v1.AgentService/Heartbeat"), "Heartbeat");
    }

    #[test]
    fn a_call_dropped_before_its_end_counts_as_cancelled_and_once() {
        let metrics = Arc::new(Metrics::new());
        let call = |method: &str| Call {
            metrics: Some(metrics.clone()),
            service: "sesame.v1.AdminService",
            method: method.to_owned(),
            start: Instant::now(),
        };
        drop(call("ListOffices"));
        call("GetOffice").finish(Code::NotFound);
        let text = metrics.render(None, std::time::Duration::ZERO).unwrap();
        let counts: Vec<&str> =
            text.lines().filter(|l| l.starts_with("sesame_rpc_duration_seconds_count")).collect();
        assert_eq!(counts.len(), 2, "{text}");
        assert!(counts.iter().any(|l| l.contains("method=\"ListOffices\",code=\"CANCELLED\"} 1")));
        assert!(counts.iter().any(|l| l.contains("method=\"GetOffice\",code=\"NOT_FOUND\"} 1")));
    }

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(code_name(Code::from_bytes(b"0")), "OK");
        assert_eq!(code_name(Code::from_bytes(b"16")), "UNAUTHENTICATED");
        assert_eq!(code_name(Code::from_bytes(b"99")), "UNKNOWN");
    }
}
