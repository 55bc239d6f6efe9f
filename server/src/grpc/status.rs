//! The one conversion from the server's errors to `tonic::Status`.
//!
//! Clients get a stable code and a message meant for them; internal causes (SQL, file paths) are
//! logged with their whole chain and replaced by a fixed text.

use std::error::Error as StdError;

use tonic::{Code, Status};

use crate::store;

/// An error an RPC answers with.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The request is malformed; the message says which field or line.
    InvalidArgument(String),
    /// The thing named does not exist.
    NotFound(String),
    /// The thing to create exists already.
    AlreadyExists(String),
    /// No valid credential; the message says what to do, never why a secret was refused.
    Unauthenticated(String),
    /// The caller may not do this (or may not know whether the thing exists).
    PermissionDenied(String),
    /// A concurrent change won; the client may retry.
    Aborted(String),
    /// The request is too large.
    ResourceExhausted(String),
    /// The database is unreachable or overloaded; the client may retry.
    Unavailable,
    /// Anything else: logged, never shown.
    Internal(Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::InvalidArgument(message.into())
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::Unauthenticated(message.into())
    }

    pub(crate) fn denied(message: impl Into<String>) -> ApiError {
        ApiError::PermissionDenied(message.into())
    }
}

use crate::error_chain as chain;

impl From<store::Error> for ApiError {
    fn from(error: store::Error) -> ApiError {
        match error {
            store::Error::NotFound => ApiError::NotFound("not found".to_owned()),
            store::Error::Conflict => ApiError::AlreadyExists("already exists".to_owned()),
            store::Error::Backend(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            ) => {
                tracing::warn!(error = %chain(&error), "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

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
