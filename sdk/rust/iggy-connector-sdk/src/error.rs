//! Constructors and conversions for [`Error`], the ABI error record that is also the SDK's error
//! type. A connector returns `Err(Error)` from any [`Source`](crate::Source) method; the exported
//! function answers with `IGGY_STATUS_RETRYABLE` when [`Error::retryable`] is set and with
//! `IGGY_STATUS_PERMANENT` otherwise, and hands the record to the runtime.

use std::fmt;

use crate::abi::{code, status, Error};

impl Error {
    /// A failure that retrying will not fix.
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Error {
        Error { code: code.into(), message: message.into(), retryable: false, field: String::new() }
    }

    /// A transient failure: the runtime retries the call after a backoff.
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Error {
        Error { code: code.into(), message: message.into(), retryable: true, field: String::new() }
    }

    /// A problem with one plugin_config key (permanent, code `invalid_config`).
    pub fn invalid_config(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error { code: code::INVALID_CONFIG.into(), message: message.into(), retryable: false, field: field.into() }
    }

    /// The status code this error is returned with.
    pub fn status(&self) -> i32 {
        if self.retryable {
            status::RETRYABLE
        } else {
            status::PERMANENT
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "{}: {} (field {:?})", self.code, self.message, self.field)
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    /// I/O errors are transient unless they say the thing does not exist or is not allowed.
    fn from(e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        match e.kind() {
            NotFound | PermissionDenied | InvalidInput | InvalidData | Unsupported => {
                Error::permanent("io", e.to_string())
            }
            _ => Error::retryable("io", e.to_string()),
        }
    }
}
