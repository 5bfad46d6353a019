//! The [`Source`] trait: what a source connector implements.

use serde::de::DeserializeOwned;

use crate::abi::{ConfigField, Error, SourceMessage};
use crate::log::Logger;

/// Describes a plugin to the runtime (`iggy-connectors plugin inspect`).
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// The connector's short name, e.g. `"counter"`.
    pub name: &'static str,
    /// The plugin's own version, e.g. `"0.1.0"`.
    pub version: &'static str,
    /// One sentence for humans.
    pub description: &'static str,
}

/// What the SDK hands to a source's constructor; valid for the life of the instance.
#[derive(Debug, Clone)]
pub struct Env {
    /// The id the runtime gave this instance; unique among the library's open instances.
    pub instance: u32,
    /// Forwards records to the runtime (through `iggy_plugin_drain_logs`), tagged with the instance.
    pub log: Logger,
}

/// What [`Source::poll`] returns.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// How the payloads are encoded: `json`, `raw`, `text`, ... Empty means `json`.
    pub schema: String,
    /// Messages to produce, in order.
    pub messages: Vec<SourceMessage>,
    /// When set, the state the runtime persists once this batch is durably in Iggy and hands to
    /// [`Source::new`] on the next start. MessagePack by convention: see [`crate::encode_state`].
    pub state: Option<Vec<u8>>,
    /// How long the runtime should wait before the next poll when `messages` is empty
    /// (0 = the connector's poll_interval).
    pub wait_hint_ms: u64,
}

/// A source reads records from an external system for the runtime to produce to Iggy.
///
/// Lifecycle: the SDK decodes the plugin_config into [`Source::Config`] (rejecting unknown keys,
/// missing required keys and wrong types, each naming the key), calls [`Source::validate`], then
/// [`Source::new`] with the last persisted state, then [`Source::open`] once, [`Source::poll`] and
/// [`Source::commit`] any number of times, and [`Source::close`] once.
///
/// Concurrency: the runtime never calls one instance concurrently (the SDK also holds a per-instance
/// lock), but different instances of the same library run concurrently on arbitrary threads, so
/// shared statics must be synchronised. Calls should return within a few seconds: the runtime cannot
/// interrupt them.
///
/// Errors: return an [`Error`]; a [`retryable`](Error::retryable) one makes the runtime retry the
/// call after a backoff, any other is permanent. A panic in any method is caught at the boundary and
/// becomes a permanent error with code `panic`; the library keeps serving its other instances.
pub trait Source: Send + Sized + 'static {
    /// The plugin_config, decoded from JSON with serde.
    type Config: DeserializeOwned;

    /// Name, version and description of the plugin.
    fn info() -> Info;

    /// Every plugin_config key the config reads, with its type, default (JSON text) and whether it
    /// is required. Keys not listed here are refused.
    fn config_fields() -> Vec<ConfigField>;

    /// Checks a decoded config. Must be pure: no network, no files. Return
    /// [`Error::invalid_config`] naming the key.
    fn validate(_config: &Self::Config) -> Result<(), Error> {
        Ok(())
    }

    /// Builds the (not yet opened) source from its config and the last persisted state (`None` on
    /// first start).
    fn new(config: Self::Config, state: Option<&[u8]>, env: Env) -> Result<Self, Error>;

    /// Connects to the external system.
    fn open(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Returns the next batch, or an empty one when nothing is ready (promptly; set
    /// [`Batch::wait_hint_ms`]). `batch_id` is the id this batch will carry (1, 2, ... per instance);
    /// it is what [`Source::commit`] will name.
    ///
    /// Nothing a batch implies may become permanent in the external system before its commit: the
    /// runtime may crash before the batch is durably in Iggy, and after a restart the source resumes
    /// from the last committed state. The runtime may poll again before the previous batch is
    /// committed, so `poll` continues after the previous batch, not after the committed one.
    fn poll(&mut self, batch_id: u64) -> Result<Batch, Error>;

    /// Batch `batch_id` and every earlier batch are durably in Iggy and their state is persisted:
    /// make their side effects permanent now (delete rows, advance cursors). Cumulative: one call
    /// covers every earlier batch. Called in increasing order, at most once per id, and only for ids
    /// this instance returned. An error is reported on the connector; the data is in Iggy either way.
    fn commit(&mut self, _batch_id: u64) -> Result<(), Error> {
        Ok(())
    }

    /// Releases resources. Uncommitted batches are abandoned and will be read again after the next
    /// open.
    fn close(&mut self) -> Result<(), Error> {
        Ok(())
    }
}
