//! The connection sesamectl opens: TLS verified against the CA of the credentials file only (no
//! system roots, no way to skip verification), and the bearer token on every request.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::credentials::Credentials;
use sesame_base::error_chain::chain;
use sesame_proto::limits::{MAX_ADMIN_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use sesame_proto::v1::admin_service_client::AdminServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::Error;

/// Adds `authorization: Bearer <token>` to every request.
#[derive(Clone)]
pub struct BearerToken(SecretString);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([REDACTED])")
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let mut value: MetadataValue<_> =
            format!("Bearer {}", self.0.expose_secret()).parse().map_err(|_| {
                tonic::Status::invalid_argument("the credentials file holds a malformed token")
            })?;
        value.set_sensitive(true);
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// An authenticated AdminService client.
pub type AdminClient = AdminServiceClient<InterceptedService<Channel, BearerToken>>;

/// Connects to the server named by the credentials.
pub async fn connect(credentials: &Credentials) -> Result<AdminClient, Error> {
    let err = |message: String| Error::Connect { server: credentials.server.clone(), message };
    if !credentials.server.starts_with("https://") {
        return Err(err("the server address must start with https://".to_owned()));
    }
    let endpoint = Endpoint::from_shared(credentials.server.clone())
        .map_err(|_| err("not a valid URL".to_owned()))?
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&credentials.ca_certificate)),
        )
        .map_err(|e| err(chain(&e)))?;
    let channel = endpoint.connect().await.map_err(|e| err(chain(&e)))?;
    Ok(AdminServiceClient::with_interceptor(channel, BearerToken(credentials.token.clone()))
        .max_decoding_message_size(MAX_RESPONSE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_REQUEST_BYTES))
}
