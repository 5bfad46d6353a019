//! Rust SDK for iggy-connectors plugins (ABI 1.1).
//!
//! A plugin is a `cdylib` that exports the C functions of `abi/iggy_connector.h`. With this crate a
//! source plugin is a type implementing [`Source`] plus one line:
//!
//! ```ignore
//! use iggy_connector_sdk::{export_source, Batch, ConfigField, Env, Error, Info, Source};
//!
//! pub struct MySource { /* ... */ }
//!
//! impl Source for MySource {
//!     type Config = MyConfig; // serde::Deserialize
//!     fn info() -> Info { Info { name: "my", version: "0.1.0", description: "..." } }
//!     fn config_fields() -> Vec<ConfigField> { vec![/* every key */] }
//!     fn new(config: MyConfig, state: Option<&[u8]>, env: Env) -> Result<Self, Error> { todo!() }
//!     fn poll(&mut self, batch_id: u64) -> Result<Batch, Error> { todo!() }
//! }
//!
//! export_source!(MySource);
//! ```
//!
//! Build it with `crate-type = ["cdylib"]`; the library must be named
//! `libiggy_connector_<name>_source.so` for the runtime's plugin lookup.
//!
//! The runtime owns everything generic (Iggy, batching, retries, offsets, state files, transforms,
//! metrics); a plugin only talks to its external system. The crate gives:
//! - [`abi`]: the records that cross the boundary, encoded byte for byte like the Go side;
//! - [`Source`], [`Batch`], [`Env`], [`Info`]: what a connector implements and receives;
//! - [`export_source!`]: every `#[no_mangle] extern "C"` symbol of a source, with an instance table,
//!   `catch_unwind` around every entry point, malloc'ed out buffers and the log buffer;
//! - [`config::decode_config`]: plugin_config decoding whose errors name the key;
//! - [`encode_state`] / [`decode_state`]: source state as MessagePack (structs as arrays, like the
//!   original runtime's state files and the Go SDK's `EncodeState`);
//! - [`log::Logger`]: log records forwarded to the runtime.

pub mod abi;
pub mod config;
mod error;
#[doc(hidden)]
pub mod export;
pub mod log;
mod source;

pub use abi::{
    code, header_kind, log_level, status, ConfigField, DecodeError, Error, Header, LogAttr, LogRecord, Message,
    MessageFailure, MessageRef, PluginInfo, PollResult, Record, SinkBatch, SinkBatchRef, SinkResult, SourceMessage,
    ABI_VERSION,
};
pub use log::Logger;
pub use source::{Batch, Env, Info, Source};

/// Reported in `PluginInfo.sdk` by plugins built with this crate.
pub const SDK_VERSION: &str = concat!("rust-sdk/", env!("CARGO_PKG_VERSION"));

/// Serialises source state as MessagePack with structs encoded as arrays (field order), the
/// convention of the original runtime's state files (`rmp-serde`'s default) and of the Go SDK.
pub fn encode_state<T: serde::Serialize>(state: &T) -> Result<Vec<u8>, Error> {
    rmp_serde::to_vec(state).map_err(|e| Error::permanent("invalid_state", format!("cannot encode state: {e}")))
}

/// Reads state written by [`encode_state`] (or by the Go SDK or the original runtime).
pub fn decode_state<T: serde::de::DeserializeOwned>(state: &[u8]) -> Result<T, Error> {
    rmp_serde::from_slice(state)
        .map_err(|e| Error::permanent(abi::code::CORRUPT_STATE, format!("cannot decode persisted state: {e}")))
}

/// Exports every ABI symbol of a source plugin for `$source: Source`.
///
/// Generates, at the call site: `iggy_plugin_abi_version`, `iggy_plugin_info`, `iggy_plugin_free`,
/// `iggy_plugin_drain_logs`, `iggy_plugin_validate_config`, `iggy_source_open`, `iggy_source_poll`,
/// `iggy_source_commit` and `iggy_source_close`, plus the static instance table. Use it once per
/// library, at the crate root (tests in the same crate can call the generated functions directly).
#[macro_export]
macro_rules! export_source {
    ($source:ty) => {
        static __IGGY_SOURCE_INSTANCES: $crate::export::Registry<$source> = $crate::export::Registry::new();

        /// ABI version, `(major << 16) | minor`.
        #[unsafe(no_mangle)]
        pub extern "C" fn iggy_plugin_abi_version() -> u32 {
            $crate::ABI_VERSION
        }

        /// Writes the PluginInfo record to `*out`.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_plugin_info(out: *mut *mut u8, out_len: *mut usize) -> i32 {
            unsafe { $crate::export::plugin_info::<$source>(out, out_len) }
        }

        /// Releases a buffer this library returned.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_plugin_free(ptr: *mut u8, len: usize) {
            unsafe { $crate::export::plugin_free(ptr, len) }
        }

        /// Moves buffered log records into a LogBatch.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_plugin_drain_logs(out: *mut *mut u8, out_len: *mut usize) -> i32 {
            unsafe { $crate::export::drain_logs(out, out_len) }
        }

        /// Checks a plugin config without opening anything.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_plugin_validate_config(
            config: *const u8,
            config_len: usize,
            out: *mut *mut u8,
            out_len: *mut usize,
        ) -> i32 {
            unsafe { $crate::export::validate_config::<$source>(config, config_len, out, out_len) }
        }

        /// Opens a source instance.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_source_open(
            instance: u32,
            config: *const u8,
            config_len: usize,
            state: *const u8,
            state_len: usize,
            out: *mut *mut u8,
            out_len: *mut usize,
        ) -> i32 {
            unsafe {
                $crate::export::source_open::<$source>(
                    &__IGGY_SOURCE_INSTANCES,
                    instance,
                    config,
                    config_len,
                    state,
                    state_len,
                    out,
                    out_len,
                )
            }
        }

        /// Reads the next batch into a PollResult.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_source_poll(instance: u32, out: *mut *mut u8, out_len: *mut usize) -> i32 {
            unsafe { $crate::export::source_poll::<$source>(&__IGGY_SOURCE_INSTANCES, instance, out, out_len) }
        }

        /// Batch `batch_id` and every earlier batch are durably in Iggy.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_source_commit(
            instance: u32,
            batch_id: u64,
            out: *mut *mut u8,
            out_len: *mut usize,
        ) -> i32 {
            unsafe {
                $crate::export::source_commit::<$source>(&__IGGY_SOURCE_INSTANCES, instance, batch_id, out, out_len)
            }
        }

        /// Closes a source instance.
        ///
        /// # Safety
        /// See abi/iggy_connector.h.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iggy_source_close(instance: u32, out: *mut *mut u8, out_len: *mut usize) -> i32 {
            unsafe { $crate::export::source_close::<$source>(&__IGGY_SOURCE_INSTANCES, instance, out, out_len) }
        }
    };
}
