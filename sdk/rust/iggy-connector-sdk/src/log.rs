//! The library's bounded log buffer, drained by `iggy_plugin_drain_logs`.
//!
//! Plugins never call into the host, so log records wait here until the runtime drains them (after
//! every lifecycle call and periodically). The buffer holds at most [`CAPACITY`] records; when it is
//! full the oldest record is dropped and the next drain starts with a warning saying how many were
//! lost. Records below the level set by the `IGGY_PLUGIN_LOG_LEVEL` environment variable (trace,
//! debug, info — the default —, warn, error; read once when the first record is logged) are dropped
//! before they are formatted into the buffer. Every function is safe to call from any thread,
//! including a connector's own background threads.

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::abi::{log_level, LogAttr, LogRecord, Record};

/// Records kept between two drains.
pub const CAPACITY: usize = 4096;

/// Environment variable naming the lowest level that is buffered.
pub const LEVEL_ENV: &str = "IGGY_PLUGIN_LOG_LEVEL";

struct Ring {
    records: VecDeque<LogRecord>,
    dropped: u64,
}

static RING: Mutex<Ring> = Mutex::new(Ring { records: VecDeque::new(), dropped: 0 });
static MIN_LEVEL: OnceLock<u8> = OnceLock::new();

fn lock() -> std::sync::MutexGuard<'static, Ring> {
    // A panic never happens while the lock is held, but a poisoned buffer must still work.
    RING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Parses a level name (trace, debug, info, warn/warning, error), case-insensitively.
pub fn parse_level(s: &str) -> Option<u8> {
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(log_level::TRACE),
        "debug" => Some(log_level::DEBUG),
        "info" => Some(log_level::INFO),
        "warn" | "warning" => Some(log_level::WARN),
        "error" => Some(log_level::ERROR),
        _ => None,
    }
}

/// The lowest level that is buffered.
pub fn min_level() -> u8 {
    *MIN_LEVEL.get_or_init(|| std::env::var(LEVEL_ENV).ok().and_then(|v| parse_level(&v)).unwrap_or(log_level::INFO))
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Buffers one record. `instance` 0 means the library itself.
pub fn log(level: u8, instance: u32, target: &str, message: impl Into<String>, attrs: &[(&str, &str)]) {
    if level < min_level() {
        return;
    }
    let rec = LogRecord {
        level: level.min(log_level::ERROR),
        instance,
        message: message.into(),
        target: target.to_owned(),
        time_us: now_us(),
        attrs: attrs.iter().map(|(k, v)| LogAttr { key: (*k).to_owned(), value: (*v).to_owned() }).collect(),
    };
    let mut ring = lock();
    if ring.records.len() >= CAPACITY {
        ring.records.pop_front();
        ring.dropped += 1;
    }
    ring.records.push_back(rec);
}

/// Takes every buffered record, oldest first, preceded by a warning when records were dropped.
pub fn drain() -> Vec<LogRecord> {
    let mut ring = lock();
    let mut out = Vec::with_capacity(ring.records.len() + 1);
    if ring.dropped > 0 {
        out.push(LogRecord {
            level: log_level::WARN,
            message: format!("log buffer full: {} log records dropped", ring.dropped),
            target: "iggy_plugin".to_owned(),
            time_us: now_us(),
            ..LogRecord::default()
        });
        ring.dropped = 0;
    }
    out.extend(ring.records.drain(..));
    out
}

/// Drains the buffer into an encoded LogBatch, or `None` when it is empty.
pub fn drain_cbor() -> Option<Vec<u8>> {
    let recs = drain();
    if recs.is_empty() {
        None
    } else {
        Some(recs.to_cbor())
    }
}

/// A handle that logs on behalf of one instance under one target. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Logger {
    instance: u32,
    target: String,
}

impl Logger {
    /// A logger for `instance` (0 = the library) whose records carry `target`.
    pub fn new(instance: u32, target: impl Into<String>) -> Logger {
        Logger { instance, target: target.into() }
    }

    /// Logs at `level` with attributes.
    pub fn log(&self, level: u8, message: impl Into<String>, attrs: &[(&str, &str)]) {
        log(level, self.instance, &self.target, message, attrs)
    }
    pub fn trace(&self, message: impl Into<String>) {
        self.log(log_level::TRACE, message, &[])
    }
    pub fn debug(&self, message: impl Into<String>) {
        self.log(log_level::DEBUG, message, &[])
    }
    pub fn info(&self, message: impl Into<String>) {
        self.log(log_level::INFO, message, &[])
    }
    pub fn warn(&self, message: impl Into<String>) {
        self.log(log_level::WARN, message, &[])
    }
    pub fn error(&self, message: impl Into<String>) {
        self.log(log_level::ERROR, message, &[])
    }
}
