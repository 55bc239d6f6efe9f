//! The one conversion from the server's errors to `tonic::Status`.
//!
//! Clients get a stable code and a message meant for them; internal causes (SQL, file paths) are
//! logged with their whole chain and replaced by a fixed text.

use tonic::{Code, Status};

use crate::services::Error;
use sesame_base::error_chain::chain;

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        match error {
            Error::InvalidArgument(message) => Status::new(Code::InvalidArgument, message),
            Error::NotFound(message) => Status::new(Code::NotFound, message),
            Error::AlreadyExists(message) => Status::new(Code::AlreadyExists, message),
            Error::Unauthenticated(message) => Status::new(Code::Unauthenticated, message),
            Error::PermissionDenied(message) => Status::new(Code::PermissionDenied, message),
            Error::FailedPrecondition(message) => Status::new(Code::FailedPrecondition, message),
            Error::Aborted(message) => Status::new(Code::Aborted, message),
            Error::ResourceExhausted(message) => Status::new(Code::ResourceExhausted, message),
            Error::Unavailable => {
                Status::new(Code::Unavailable, "the database is unavailable; try again later")
            }
            Error::Internal(cause) => {
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
        let cause = std::io::Error::other("SELECT secret FROM /var/lib/x");
        let status = Status::from(Error::from(store::Error::Internal(Box::new(cause))));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT") && !status.message().contains("/var/lib"));
        let timeout = store::Error::Unavailable(Box::new(std::io::Error::other("pool timed out")));
        assert_eq!(Status::from(Error::from(timeout)).code(), Code::Unavailable);
    }
}
