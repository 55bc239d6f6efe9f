//! The AgentService implementation: what workstation agents call.

use std::sync::Arc;

use sesame_proto::v1::agent_service_server::AgentService;
use sesame_proto::v1::{GetServerInfoRequest, GetServerInfoResponse};
use tonic::{Request, Response, Status};

use super::AppState;
use super::status::ApiError;

/// The oldest agent version this server works with.
pub(crate) const MIN_AGENT_VERSION: (u64, u64, u64) = (0, 1, 0);

/// The AgentService handlers.
#[derive(Debug)]
pub(crate) struct AgentApi {
    _state: Arc<AppState>,
}

impl AgentApi {
    pub(crate) fn new(state: Arc<AppState>) -> AgentApi {
        AgentApi { _state: state }
    }
}

fn parse_version(value: &str) -> Option<(u64, u64, u64)> {
    let core = value.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn get_server_info(
        &self,
        request: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        let agent_version = request.into_inner().agent_version;
        let Some(version) = parse_version(&agent_version) else {
            return Err(ApiError::invalid("agent_version: expected a version such as 0.1.0").into());
        };
        let (a, b, c) = MIN_AGENT_VERSION;
        Ok(Response::new(GetServerInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            min_agent_version: format!("{a}.{b}.{c}"),
            agent_version_supported: version >= MIN_AGENT_VERSION,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse_version("0.1.0"), Some((0, 1, 0)));
        assert_eq!(parse_version("1.2.3-rc.1"), Some((1, 2, 3)));
        for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1..2"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
