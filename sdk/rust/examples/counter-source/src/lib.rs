//! `counter` — an example iggy-connectors source plugin written in Rust with `iggy-connector-sdk`.
//!
//! It produces numbered JSON messages `{"n":<n>,"text":"<prefix><n>"}` with n = 1, 2, 3, ... and the
//! message id n (as u128), `batch_size` messages per poll, and stops after `max_count` messages when
//! that is set (polls then return empty batches with a 1 s wait hint). Each batch carries the state
//! `{next: u64}` (MessagePack, struct as array: `[next]`), the first number not yet produced; the
//! runtime persists it once the batch is in Iggy, so a reopen with the persisted state continues
//! exactly after the last committed message. Commits are cumulative and only advance the committed
//! position that `close` reports: the counter has no external side effects to make permanent.
//!
//! plugin_config:
//! - `prefix` (string, required): text before the number in `text`;
//! - `batch_size` (int, default 10, 1..=100000): messages per poll;
//! - `max_count` (int, optional): produce messages 1..=max_count only;
//! - `panic_at` (int, optional): TEST SWITCH — poll panics when it would produce message n =
//!   panic_at; the SDK catches the panic and returns a permanent "panic" error. Used to test panic
//!   discipline at the boundary; never set it in production.

use std::collections::VecDeque;

use iggy_connector_sdk::{
    decode_state, encode_state, export_source, Batch, ConfigField, Env, Error, Info, Logger, Source, SourceMessage,
};
use serde::{Deserialize, Serialize};

/// plugin_config of the counter source.
#[derive(Debug, Clone, Deserialize)]
pub struct CounterConfig {
    pub prefix: String,
    pub batch_size: u64,
    pub max_count: Option<u64>,
    pub panic_at: Option<u64>,
}

/// Persisted state: the first number not yet produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterState {
    pub next: u64,
}

#[derive(Serialize)]
struct Payload<'a> {
    n: u64,
    text: &'a str,
}

/// Largest accepted batch_size.
pub const MAX_BATCH_SIZE: u64 = 100_000;
/// Wait hint of the empty batches after max_count.
pub const DONE_WAIT_MS: u64 = 1000;

/// The counter source.
pub struct Counter {
    cfg: CounterConfig,
    log: Logger,
    /// Next number to produce (the in-flight position).
    next: u64,
    /// First number not covered by a committed batch.
    committed_next: u64,
    /// Polled, uncommitted batches: (batch id, next after the batch).
    pending: VecDeque<(u64, u64)>,
}

impl Source for Counter {
    type Config = CounterConfig;

    fn info() -> Info {
        Info {
            name: "counter",
            version: env!("CARGO_PKG_VERSION"),
            description: "Example Rust source: numbered JSON messages with resumable state",
        }
    }

    fn config_fields() -> Vec<ConfigField> {
        let f = |name: &str, ty: &str, required: bool, default: &str, description: &str| ConfigField {
            name: name.into(),
            ty: ty.into(),
            required,
            default: default.into(),
            description: description.into(),
            secret: false,
        };
        vec![
            f("prefix", "string", true, "", "text before the number in each message's \"text\""),
            f("batch_size", "int", false, "10", "messages per poll (1..=100000)"),
            f("max_count", "int", false, "", "stop after this many messages"),
            f("panic_at", "int", false, "", "test switch: poll panics when it reaches this number"),
        ]
    }

    fn validate(cfg: &CounterConfig) -> Result<(), Error> {
        if cfg.batch_size == 0 || cfg.batch_size > MAX_BATCH_SIZE {
            return Err(Error::invalid_config(
                "batch_size",
                format!("batch_size must be between 1 and {MAX_BATCH_SIZE}, got {}", cfg.batch_size),
            ));
        }
        Ok(())
    }

    fn new(cfg: CounterConfig, state: Option<&[u8]>, env: Env) -> Result<Self, Error> {
        let next = match state {
            None => 1,
            Some(bytes) => {
                let s: CounterState = decode_state(bytes)?;
                if s.next == 0 {
                    return Err(Error::permanent("corrupt_state", "persisted state has next = 0; numbers start at 1"));
                }
                s.next
            }
        };
        env.log.info(format!("counter starts at {next}"));
        Ok(Counter { cfg, log: env.log, next, committed_next: next, pending: VecDeque::new() })
    }

    fn poll(&mut self, batch_id: u64) -> Result<Batch, Error> {
        let remaining = match self.cfg.max_count {
            Some(max) => max.saturating_add(1).saturating_sub(self.next),
            None => u64::MAX,
        };
        let count = self.cfg.batch_size.min(remaining);
        if count == 0 {
            return Ok(Batch { wait_hint_ms: DONE_WAIT_MS, ..Batch::default() });
        }
        if let Some(p) = self.cfg.panic_at {
            if p >= self.next && p - self.next < count {
                panic!("counter: panic_at {p} reached (test switch)");
            }
        }
        let mut messages = Vec::with_capacity(count as usize);
        for n in self.next..self.next + count {
            let text = format!("{}{n}", self.cfg.prefix);
            let payload = serde_json::to_vec(&Payload { n, text: &text })
                .map_err(|e| Error::permanent("internal", format!("encode message {n}: {e}")))?;
            messages.push(SourceMessage { id: Some(n as u128), payload, ..SourceMessage::default() });
        }
        self.next += count;
        self.pending.push_back((batch_id, self.next));
        Ok(Batch {
            schema: "json".into(),
            messages,
            state: Some(encode_state(&CounterState { next: self.next })?),
            wait_hint_ms: 0,
        })
    }

    fn commit(&mut self, batch_id: u64) -> Result<(), Error> {
        while let Some(&(id, next)) = self.pending.front() {
            if id > batch_id {
                break;
            }
            self.committed_next = next;
            self.pending.pop_front();
        }
        self.log.debug(format!("committed through batch {batch_id}: next is {}", self.committed_next));
        Ok(())
    }

    fn close(&mut self) -> Result<(), Error> {
        self.log.info(format!("closed: produced up to {}, committed up to {}", self.next - 1, self.committed_next - 1));
        Ok(())
    }
}

export_source!(Counter);

#[cfg(test)]
mod tests;
