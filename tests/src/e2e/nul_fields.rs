//! NUL bytes never reach the database: every string field of every request message of
//! AdminService and AgentService, read from the contract itself, is sent holding a NUL byte (as
//! the bootstrap global administrator, or with an enrolled agent's certificate); the answer is
//! never INTERNAL or UNKNOWN and its message carries no control character (but the line breaks
//! of a multi-line message). A new RPC or a new
//! string field is tried without anyone listing it.

use std::path::PathBuf;

use bytes::{Buf, BufMut};
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};
use secrecy::ExposeSecret;
use sesame_agent::identity::StateDir;
use time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

use super::channel;
use super::identity::{token, try_enroll};
use crate::TestServer;

/// A codec that sends and receives the message bytes as they are.
#[derive(Default, Clone, Copy)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

fn contract() -> FileDescriptorSet {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let files = ["sesame/v1/common.proto", "sesame/v1/admin.proto", "sesame/v1/agent.proto"];
    protox::compile(files.iter().map(|f| root.join(f)), [&root]).unwrap()
}

fn message<'a>(fds: &'a FileDescriptorSet, type_name: &str) -> &'a DescriptorProto {
    let name = type_name.trim_start_matches(".sesame.v1.");
    fds.file.iter().flat_map(|f| &f.message_type).find(|m| m.name() == name).unwrap()
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn length_delimited(out: &mut Vec<u8>, number: i32, bytes: &[u8]) {
    varint(out, (u64::from(number.unsigned_abs()) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Every string field reachable from `message` (nested messages included), each as its dotted
/// path and the encoded message with only that field set to a value holding a NUL byte.
fn poisoned(
    fds: &FileDescriptorSet,
    message_type: &DescriptorProto,
    depth: u8,
) -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for field in &message_type.field {
        if field.r#type() == Type::String {
            let mut bytes = Vec::new();
            length_delimited(&mut bytes, field.number(), b"ws-\0\x1b[2J\x07");
            cases.push((field.name().to_owned(), bytes));
        } else if field.r#type() == Type::Message && depth < 3 {
            let nested = message(fds, field.type_name());
            for (path, inner) in poisoned(fds, nested, depth + 1) {
                let mut bytes = Vec::new();
                length_delimited(&mut bytes, field.number(), &inner);
                cases.push((format!("{}.{path}", field.name()), bytes));
            }
        }
    }
    cases
}

async fn agent_channel(server: &TestServer, state: &StateDir) -> Channel {
    let ca = server.read_credentials().ca_certificate;
    let identity = state.load().unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
    Endpoint::from_shared(server.url()).unwrap().tls_config(tls).unwrap().connect().await.unwrap()
}

/// Sends `bytes` to `/sesame.v1.<service>/<method>` (one message, streamed when the RPC is) and
/// returns the code and message of the answer.
async fn call(
    channel: Channel,
    path: &str,
    streaming: bool,
    bytes: Vec<u8>,
    bearer: Option<&str>,
) -> (Code, String) {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).unwrap();
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Some(token) = bearer {
        metadata.insert("authorization", token.parse().unwrap());
    }
    let result = if streaming {
        let mut request = Request::new(tokio_stream::once(bytes));
        *request.metadata_mut() = metadata;
        grpc.client_streaming(request, path, Raw).await.map(|_| ())
    } else {
        let mut request = Request::new(bytes);
        *request.metadata_mut() = metadata;
        grpc.unary(request, path, Raw).await.map(|_| ())
    };
    match result {
        Ok(()) => (Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_owned()),
    }
}

/// Fields the issue found reaching the database: they must be refused as invalid.
const IDENTIFIERS: [(&str, &str); 8] = [
    ("RevokeWorkstation", "id"),
    ("UnlockWorkstation", "id"),
    ("AssignWorkstation", "workstation_id"),
    ("UnassignWorkstation", "workstation_id"),
    ("RevokeAdmin", "name"),
    ("ListMailboxes", "page_token"),
    ("GetRecoveryChallenge", "workstation_id"),
    ("Recover", "workstation_id"),
];

async fn no_string_field_carries_a_nul_byte_to_the_database(server: &TestServer) {
    let enrollment = token(server, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("agent"));
    try_enroll(server, &state, &enrollment).await.unwrap();
    let bearer = format!("Bearer {}", server.read_credentials().token.expose_secret());

    let fds = contract();
    let mut tried = Vec::new();
    let mut failures = Vec::new();
    for service in fds.file.iter().flat_map(|f| &f.service) {
        let admin = service.name() == "AdminService";
        for method in &service.method {
            let request = message(&fds, method.input_type());
            for (field, bytes) in poisoned(&fds, request, 0) {
                // Enrollment and recovery attempts are rate limited by the server's clock.
                server.clock.advance(Duration::minutes(1));
                let path = format!("/sesame.v1.{}/{}", service.name(), method.name());
                let channel =
                    if admin { channel(server).await } else { agent_channel(server, &state).await };
                let auth = admin.then_some(bearer.as_str());
                let (code, text) =
                    call(channel, &path, method.client_streaming(), bytes, auth).await;
                tried.push(format!("{}.{field}", method.name()));
                let must_be_invalid = IDENTIFIERS.contains(&(method.name(), field.as_str()));
                if matches!(code, Code::Internal | Code::Unknown)
                    // A multi-line message (an import's lines) is fine; no other control character.
                    || text.chars().any(|c| c.is_control() && c != '\n')
                    || (must_be_invalid && code != Code::InvalidArgument)
                {
                    failures.push(format!("{}.{field}: {code:?} {text:?}", method.name()));
                }
            }
        }
    }
    assert!(tried.len() >= 30, "every string field was tried: {tried:?}");
    for (rpc, field) in IDENTIFIERS {
        assert!(tried.contains(&format!("{rpc}.{field}")), "{rpc}.{field} was not tried");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

on_both_backends!(no_string_field_carries_a_nul_byte_to_the_database);
