//! The machinery behind [`export_source!`](crate::export_source): every ABI entry point as a generic
//! function. Plugin code does not call these; the macro generates the `extern "C"` symbols that do.
//!
//! Boundary discipline, applied to every function here:
//! - every call runs inside `std::panic::catch_unwind`: a panic becomes `IGGY_STATUS_PERMANENT` with
//!   an Error record of code `panic` (and an error log record); nothing unwinds into the host;
//! - inputs are borrowed only for the duration of the call (a NULL pointer with a non-zero length is
//!   `IGGY_STATUS_BAD_INPUT`);
//! - out buffers are allocated with `libc::malloc` and released by [`plugin_free`] with `libc::free`,
//!   so the length the runtime passes back does not matter and any thread may free;
//! - instances live in a [`Registry`]: a map from instance id to a per-instance mutex, so calls for
//!   different instances run concurrently and calls for one instance are serialised.

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::{code, log_level, status, Error, PluginInfo, PollResult, Record, ABI_VERSION};
use crate::config::{decode_config, ConfigError};
use crate::log::{self, Logger};
use crate::source::{Env, Source};
use crate::SDK_VERSION;

/// Result of an entry point: an optional output record, or a status with an Error record.
type Outcome = Result<Option<Vec<u8>>, (i32, Error)>;

struct Instance<S> {
    source: S,
    target: &'static str,
    /// Id of the last batch handed out (0 = none yet).
    last_batch: u64,
    /// Id of the last batch committed (0 = none yet).
    last_committed: u64,
}

/// The open instances of one library, keyed by instance id.
pub struct Registry<S> {
    map: Mutex<BTreeMap<u32, Arc<Mutex<Instance<S>>>>>,
}

impl<S> Registry<S> {
    /// An empty registry (usable in a `static`).
    pub const fn new() -> Registry<S> {
        Registry { map: Mutex::new(BTreeMap::new()) }
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<u32, Arc<Mutex<Instance<S>>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: u32) -> Result<Arc<Mutex<Instance<S>>>, (i32, Error)> {
        self.map().get(&id).cloned().ok_or_else(|| unknown(id))
    }

    /// Number of open instances.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// True when no instance is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S> Default for Registry<S> {
    fn default() -> Self {
        Registry::new()
    }
}

fn lock<S>(m: &Mutex<Instance<S>>) -> MutexGuard<'_, Instance<S>> {
    // An instance whose call panicked stays usable (as in the Go SDK); its poison is cleared.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unknown(id: u32) -> (i32, Error) {
    (status::UNKNOWN_INSTANCE, Error::permanent(code::UNKNOWN_INSTANCE, format!("instance {id} is not open")))
}

fn fail(e: Error) -> (i32, Error) {
    (e.status(), e)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs `f`, turning a panic into a permanent "panic" error.
fn guarded(op: &str, instance: u32, f: impl FnOnce() -> Outcome) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let msg = format!("panic in {op}: {}", panic_message(payload.as_ref()));
            // Dropping a payload can itself panic; never let that unwind into the host.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            log::log(log_level::ERROR, instance, "iggy_connector_sdk", format!("recovered {msg}"), &[]);
            Err((status::PERMANENT, Error::permanent(code::PANIC, msg)))
        }
    }
}

/// Copies `bytes` into a malloc'ed buffer stored in `*out`. Out of memory leaves `*out` NULL.
unsafe fn write_out(out: *mut *mut u8, out_len: *mut usize, bytes: &[u8]) {
    if out.is_null() || out_len.is_null() {
        return;
    }
    let p = unsafe { libc::malloc(bytes.len().max(1)) } as *mut u8;
    if p.is_null() {
        return;
    }
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *out = p;
        *out_len = bytes.len();
    }
}

/// Writes the outcome to the out parameters and returns the status.
unsafe fn respond(out: *mut *mut u8, out_len: *mut usize, outcome: Outcome) -> i32 {
    match outcome {
        Ok(None) => status::OK,
        Ok(Some(bytes)) => {
            unsafe { write_out(out, out_len, &bytes) };
            status::OK
        }
        Err((st, e)) => {
            let bytes = catch_unwind(AssertUnwindSafe(|| e.to_cbor())).unwrap_or_default();
            unsafe { write_out(out, out_len, &bytes) };
            st
        }
    }
}

/// Borrows a caller-owned input buffer for the duration of the call.
unsafe fn input<'a>(what: &str, ptr: *const u8, len: usize) -> Result<&'a [u8], (i32, Error)> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err((
            status::BAD_INPUT,
            Error::permanent(code::BAD_INPUT, format!("{what} is NULL with length {len}")),
        ));
    }
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

fn config_error(e: ConfigError) -> (i32, Error) {
    (e.status, e.error)
}

fn plugin_info_record<S: Source>() -> PluginInfo {
    let info = S::info();
    PluginInfo {
        abi_version: ABI_VERSION,
        kind: "source".to_owned(),
        name: info.name.to_owned(),
        version: info.version.to_owned(),
        description: info.description.to_owned(),
        config_fields: S::config_fields(),
        sdk: SDK_VERSION.to_owned(),
    }
}

fn decode_and_validate<S: Source>(cfg: &[u8]) -> Result<S::Config, (i32, Error)> {
    let config = decode_config::<S::Config>(cfg, &S::config_fields()).map_err(config_error)?;
    S::validate(&config).map_err(fail)?;
    Ok(config)
}

/// `iggy_plugin_info`.
///
/// # Safety
/// `out` and `out_len` are NULL or valid for writes.
pub unsafe fn plugin_info<S: Source>(out: *mut *mut u8, out_len: *mut usize) -> i32 {
    if out.is_null() || out_len.is_null() {
        return status::BAD_INPUT;
    }
    let outcome = guarded("plugin_info", 0, || Ok(Some(plugin_info_record::<S>().to_cbor())));
    unsafe { respond(out, out_len, outcome) }
}

/// `iggy_plugin_free`: releases a buffer this library returned.
///
/// # Safety
/// `ptr` is NULL or a buffer returned through an out parameter of this library, not yet freed.
pub unsafe fn plugin_free(ptr: *mut u8, _len: usize) {
    if !ptr.is_null() {
        unsafe { libc::free(ptr as *mut libc::c_void) };
    }
}

/// `iggy_plugin_drain_logs`.
///
/// # Safety
/// `out` and `out_len` are NULL or valid for writes.
pub unsafe fn drain_logs(out: *mut *mut u8, out_len: *mut usize) -> i32 {
    if out.is_null() || out_len.is_null() {
        return status::BAD_INPUT;
    }
    let outcome = guarded("drain_logs", 0, || Ok(log::drain_cbor()));
    unsafe { respond(out, out_len, outcome) }
}

/// `iggy_plugin_validate_config`.
///
/// # Safety
/// `config` is valid for `config_len` bytes (or `config_len` is 0); `out`, `out_len` are NULL or
/// valid for writes.
pub unsafe fn validate_config<S: Source>(
    config: *const u8,
    config_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    let outcome = guarded("validate_config", 0, || {
        let cfg = unsafe { input("config", config, config_len) }?;
        decode_and_validate::<S>(cfg)?;
        Ok(None)
    });
    unsafe { respond(out, out_len, outcome) }
}

/// `iggy_source_open`.
///
/// # Safety
/// `config` and `state` are valid for their lengths (or the lengths are 0); `out`, `out_len` are
/// NULL or valid for writes.
#[allow(clippy::too_many_arguments)]
pub unsafe fn source_open<S: Source>(
    reg: &Registry<S>,
    id: u32,
    config: *const u8,
    config_len: usize,
    state: *const u8,
    state_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    let outcome = guarded("source_open", id, || {
        if id == 0 {
            return Err((status::PERMANENT, Error::permanent(code::BAD_INPUT, "instance id 0 is reserved")));
        }
        let already =
            || (status::PERMANENT, Error::permanent(code::ALREADY_OPEN, format!("instance {id} is already open")));
        if reg.map().contains_key(&id) {
            return Err(already());
        }
        let cfg = unsafe { input("config", config, config_len) }?;
        let st = unsafe { input("state", state, state_len) }?;
        let config = decode_and_validate::<S>(cfg)?;
        let target = S::info().name;
        let env = Env { instance: id, log: Logger::new(id, target) };
        let mut source = S::new(config, if st.is_empty() { None } else { Some(st) }, env).map_err(fail)?;
        source.open().map_err(fail)?;
        let mut map = reg.map();
        if map.contains_key(&id) {
            drop(map);
            let _ = source.close();
            return Err(already());
        }
        map.insert(id, Arc::new(Mutex::new(Instance { source, target, last_batch: 0, last_committed: 0 })));
        drop(map);
        log::log(log_level::DEBUG, id, target, "opened", &[]);
        Ok(None)
    });
    unsafe { respond(out, out_len, outcome) }
}

/// `iggy_source_poll`.
///
/// # Safety
/// `out` and `out_len` are NULL or valid for writes.
pub unsafe fn source_poll<S: Source>(reg: &Registry<S>, id: u32, out: *mut *mut u8, out_len: *mut usize) -> i32 {
    let outcome = guarded("source_poll", id, || {
        let inst = reg.get(id)?;
        let mut inst = lock(&inst);
        let batch_id = inst.last_batch + 1;
        let batch = inst.source.poll(batch_id).map_err(fail)?;
        inst.last_batch = batch_id;
        let schema = if batch.schema.is_empty() { "json".to_owned() } else { batch.schema };
        let wait_hint_ms = if batch.messages.is_empty() { batch.wait_hint_ms } else { 0 };
        let result = PollResult {
            batch_id,
            schema,
            messages: batch.messages,
            state: batch.state.unwrap_or_default(),
            wait_hint_ms,
        };
        Ok(Some(result.to_cbor()))
    });
    unsafe { respond(out, out_len, outcome) }
}

/// `iggy_source_commit`.
///
/// # Safety
/// `out` and `out_len` are NULL or valid for writes.
pub unsafe fn source_commit<S: Source>(
    reg: &Registry<S>,
    id: u32,
    batch_id: u64,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    let outcome = guarded("source_commit", id, || {
        let inst = reg.get(id)?;
        let mut inst = lock(&inst);
        if batch_id > inst.last_batch {
            let msg =
                format!("batch {batch_id} was never polled (the last batch of instance {id} is {})", inst.last_batch);
            return Err((status::PERMANENT, Error::permanent(code::BAD_INPUT, msg)));
        }
        if batch_id <= inst.last_committed {
            return Ok(None); // already covered by an earlier, cumulative commit
        }
        inst.last_committed = batch_id; // at most once, even if commit fails or panics
        inst.source.commit(batch_id).map_err(fail)?;
        Ok(None)
    });
    unsafe { respond(out, out_len, outcome) }
}

/// `iggy_source_close`: removes the instance (the id is unknown afterwards) and closes it.
///
/// # Safety
/// `out` and `out_len` are NULL or valid for writes.
pub unsafe fn source_close<S: Source>(reg: &Registry<S>, id: u32, out: *mut *mut u8, out_len: *mut usize) -> i32 {
    let outcome = guarded("source_close", id, || {
        let inst = reg.map().remove(&id).ok_or_else(|| unknown(id))?;
        let mut inst = lock(&inst);
        let target = inst.target;
        let result = inst.source.close().map_err(fail);
        log::log(log_level::DEBUG, id, target, "closed", &[]);
        result.map(|_| None)
    });
    unsafe { respond(out, out_len, outcome) }
}
