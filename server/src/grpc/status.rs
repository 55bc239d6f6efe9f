//! The one conversion from the server's errors to `tonic::Status`.
//!
//! Clients get a stable code and a message meant for them; internal causes (SQL, file paths) are
//! logged with their whole chain and replaced by a fixed text.

use tonic::{Code, Status};

pub(crate) use crate::services::Error as ApiError;
use sesame_base::error_chain::chain;

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        match error {
            ApiError::InvalidArgument(message) => Status::new(Code::InvalidArgument, message),
            ApiError::NotFound(message) => Status::new(Code::NotFound, message),
            ApiError::AlreadyExists(message) => Status::new(Code::AlreadyExists, message),
            ApiError::Unauthenticated(message) => Status::new(Code::Unauthenticated, message),
            ApiError::PermissionDenied(message) => Status::new(Code::PermissionDenied, message),
            ApiError::Aborted(message) => Status::new(Code::Aborted, message),
            ApiError::ResourceExhausted(message) => Status::new(Code::ResourceExhausted, message),
            ApiError::Unavailable => {
                Status::new(Code::Unavailable, "the database is unavailable; try again later")
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = %chain(cause.as_ref()), "internal error");
                Status::new(Code::Internal, "internal error; the server log has the details")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;

    #[test]
    fn internal_causes_never_reach_the_client() {
        let db =
            store::Error::Backend(sqlx::Error::Protocol("SELECT secret FROM /var/lib/x".into()));
        let status = Status::from(ApiError::from(db));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT") && !status.message().contains("/var/lib"));
        let timeout =
            Status::from(ApiError::from(store::Error::Backend(sqlx::Error::PoolTimedOut)));
        assert_eq!(timeout.code(), Code::Unavailable);
    }
}
