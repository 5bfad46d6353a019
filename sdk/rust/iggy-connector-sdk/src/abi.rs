//! The records that cross the plugin boundary (ABI v1), with their CBOR encoding.
//!
//! These are the same records as `abi/abi.go` and the prose of `abi/iggy_connector.h`: maps with
//! small unsigned integer keys, definite lengths, minimal-length integers, keys in ascending order.
//! Optional fields are left out exactly where the Go encoder leaves them out (`omitempty`: an empty
//! string, a false bool, a zero number, an empty list or byte string). `Header` and `LogAttr` are
//! arrays. Encoding therefore gives the same bytes as the Go side; the golden vectors in
//! `abi/testdata` prove it (see `tests/golden.rs`).
//!
//! Decoding follows the header's reader rules: unknown keys are skipped, absent keys read as their
//! zero value, a repeated key, trailing bytes, a wrong type, an indefinite-length record or a
//! truncated buffer is a [`DecodeError`] naming the field and the byte offset. Go writes a nil slice
//! as `null`, so `null` reads as empty wherever a byte string or a list is expected.

use std::fmt;

use minicbor::data::Type;
use minicbor::Decoder;

/// Major version of the ABI this crate implements.
pub const ABI_VERSION_MAJOR: u32 = 1;
/// Minor version of the ABI this crate implements.
pub const ABI_VERSION_MINOR: u32 = 1;
/// `(major << 16) | minor`, the value of `iggy_plugin_abi_version()`.
pub const ABI_VERSION: u32 = ABI_VERSION_MAJOR << 16 | ABI_VERSION_MINOR;

/// Status codes returned by every `int32_t` ABI function (`IGGY_STATUS_*`).
pub mod status {
    /// The call did what it was asked.
    pub const OK: i32 = 0;
    /// A transient failure: the runtime retries the same call with backoff.
    pub const RETRYABLE: i32 = 1;
    /// A failure that retrying will not fix (bad config, rejected data, a recovered panic).
    pub const PERMANENT: i32 = 2;
    /// The instance id is not open in this library.
    pub const UNKNOWN_INSTANCE: i32 = 3;
    /// The input buffer could not be decoded (malformed CBOR or JSON).
    pub const BAD_INPUT: i32 = 4;
}

/// Stable error codes carried in [`Error::code`]. Plugins may use other snake_case words.
pub mod code {
    /// A plugin_config problem; [`Error::field`](crate::Error::field) names the key.
    pub const INVALID_CONFIG: &str = "invalid_config";
    /// An input buffer or value the plugin cannot use.
    pub const BAD_INPUT: &str = "bad_input";
    /// The instance id is not open.
    pub const UNKNOWN_INSTANCE: &str = "unknown_instance";
    /// The instance id is already open.
    pub const ALREADY_OPEN: &str = "already_open";
    /// A panic was caught at the boundary.
    pub const PANIC: &str = "panic";
    /// The external system cannot be reached.
    pub const CONNECTION: &str = "connection";
    /// Writing to the external system failed.
    pub const WRITE_FAILED: &str = "write_failed";
    /// Something inside the plugin went wrong.
    pub const INTERNAL: &str = "internal";
    /// `iggy_source_open` cannot decode the persisted state; the runtime names the state file and
    /// applies the connector's `on_corrupt_state`.
    pub const CORRUPT_STATE: &str = "corrupt_state";
}

/// Iggy header kinds, numbered as on the Iggy wire.
pub mod header_kind {
    pub const RAW: u8 = 1;
    pub const STRING: u8 = 2;
    pub const BOOL: u8 = 3;
    pub const INT8: u8 = 4;
    pub const INT16: u8 = 5;
    pub const INT32: u8 = 6;
    pub const INT64: u8 = 7;
    pub const INT128: u8 = 8;
    pub const UINT8: u8 = 9;
    pub const UINT16: u8 = 10;
    pub const UINT32: u8 = 11;
    pub const UINT64: u8 = 12;
    pub const UINT128: u8 = 13;
    pub const FLOAT32: u8 = 14;
    pub const FLOAT64: u8 = 15;
}

/// Log levels of [`LogRecord::level`].
pub mod log_level {
    pub const TRACE: u8 = 0;
    pub const DEBUG: u8 = 1;
    pub const INFO: u8 = 2;
    pub const WARN: u8 = 3;
    pub const ERROR: u8 = 4;
}

// ------------------------------------------------------------------------------------------------
// Records
// ------------------------------------------------------------------------------------------------

/// `PluginInfo`, the answer of `iggy_plugin_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginInfo {
    /// 1: [`ABI_VERSION`].
    pub abi_version: u32,
    /// 2: `"sink"` or `"source"`.
    pub kind: String,
    /// 3: the connector's short name.
    pub name: String,
    /// 4: the plugin's own version.
    pub version: String,
    /// 5 (optional): one sentence for humans.
    pub description: String,
    /// 6 (optional): the plugin_config keys.
    pub config_fields: Vec<ConfigField>,
    /// 7 (optional): the SDK that built the plugin, e.g. `rust-sdk/0.1.0`.
    pub sdk: String,
}

/// `ConfigField`: one key of a plugin's plugin_config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigField {
    /// 1: the key.
    pub name: String,
    /// 2: `string`, `int`, `float`, `bool`, `duration`, `array`, `object` or `any`.
    pub ty: String,
    /// 3 (optional): the key must be present.
    pub required: bool,
    /// 4 (optional): JSON text of the default value.
    pub default: String,
    /// 5 (optional): what the key means.
    pub description: String,
    /// 6 (optional): the value is a secret (redacted by the runtime).
    pub secret: bool,
}

/// `Error`: the record returned with every non-OK status, and the error type of the Rust SDK.
///
/// A [`retryable`](Error::retryable) error becomes `IGGY_STATUS_RETRYABLE`, any other
/// `IGGY_STATUS_PERMANENT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Error {
    /// 1: a stable snake_case word, see [`code`].
    pub code: String,
    /// 2: what happened, for humans.
    pub message: String,
    /// 3 (optional): retrying may succeed.
    pub retryable: bool,
    /// 4 (optional): the offending plugin_config key.
    pub field: String,
}

/// `Header`: a typed key and a typed value, encoded as `[key_kind, key, value_kind, value]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub key_kind: u8,
    pub key: Vec<u8>,
    pub value_kind: u8,
    pub value: Vec<u8>,
}

impl Header {
    /// A header with a string key and a string value, the common case.
    pub fn string(key: &str, value: &str) -> Header {
        Header {
            key_kind: header_kind::STRING,
            key: key.as_bytes().to_vec(),
            value_kind: header_kind::STRING,
            value: value.as_bytes().to_vec(),
        }
    }
}

/// `Message`: one Iggy message handed to a sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// 1: the u128 message id (16 big-endian bytes on the wire).
    pub id: u128,
    /// 2
    pub offset: u64,
    /// 3
    pub checksum: u64,
    /// 4: broker time, µs since the epoch.
    pub timestamp: u64,
    /// 5: producer time, µs since the epoch.
    pub origin_timestamp: u64,
    /// 6 (optional)
    pub headers: Vec<Header>,
    /// 7: read according to [`SinkBatch::schema`].
    pub payload: Vec<u8>,
}

/// `SinkBatch`: the input of `iggy_sink_consume`, messages of one partition in offset order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkBatch {
    pub stream: String,
    pub topic: String,
    pub partition_id: u32,
    /// The partition's latest offset at poll time.
    pub current_offset: u64,
    /// `json`, `raw`, `text`, `proto` or `flatbuffer`.
    pub schema: String,
    pub messages: Vec<Message>,
}

/// ABI 1.1 `IggyMessageRef` (iggy_connector.h §6): one message of a [`SinkBatchRef`]. The pointers
/// point into the runtime's memory and are valid only during `iggy_sink_consume_ref`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MessageRef {
    /// The u128 message id, 16 big-endian bytes.
    pub id: [u8; 16],
    pub offset: u64,
    pub checksum: u64,
    pub timestamp: u64,
    pub origin_timestamp: u64,
    /// The CBOR `[Header]` array of `Message` key 6, NULL when there are none.
    pub headers: *const u8,
    pub headers_len: usize,
    pub payload: *const u8,
    pub payload_len: usize,
}

/// ABI 1.1 `IggySinkBatchRef` (iggy_connector.h §6): a sink batch by reference, the input of
/// `iggy_sink_consume_ref`. Everything it points to belongs to the runtime and is valid only during
/// the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SinkBatchRef {
    /// `size_of::<SinkBatchRef>()` as built by the runtime (later minors may append fields).
    pub size: u32,
    pub partition_id: u32,
    pub current_offset: u64,
    pub stream: *const u8,
    pub stream_len: usize,
    pub topic: *const u8,
    pub topic_len: usize,
    pub schema: *const u8,
    pub schema_len: usize,
    pub messages: *const MessageRef,
    pub messages_len: usize,
    /// Distance in bytes between consecutive [`MessageRef`]s.
    pub message_size: usize,
}

/// The `len` bytes at `p` (empty for `len == 0`), or an error naming `field` for NULL with a length.
///
/// # Safety
/// `p` must be valid for `len` bytes for the returned lifetime.
unsafe fn ref_bytes<'a>(p: *const u8, len: usize, field: &str) -> Result<&'a [u8], DecodeError> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(DecodeError::new(format!("NULL with length {len}"), 0).within(field.to_owned()));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

impl MessageRef {
    /// The payload, borrowed from the runtime: no copy.
    ///
    /// # Safety
    /// Only during the `iggy_sink_consume_ref` call that passed this message.
    pub unsafe fn payload(&self) -> Result<&[u8], DecodeError> {
        ref_bytes(self.payload, self.payload_len, "payload")
    }

    /// Decodes the message's headers.
    ///
    /// # Safety
    /// As [`MessageRef::payload`].
    pub unsafe fn headers(&self) -> Result<Vec<Header>, DecodeError> {
        let h = ref_bytes(self.headers, self.headers_len, "headers")?;
        if h.is_empty() {
            return Ok(Vec::new());
        }
        let mut r = Reader::new(h);
        let v = r.list(Header::decode).map_err(|e| e.within("headers"))?;
        r.finish().map_err(|e| e.within("headers"))?;
        Ok(v)
    }
}

impl SinkBatchRef {
    /// The messages, borrowed from the runtime (steps by `message_size`).
    ///
    /// # Safety
    /// Only during the `iggy_sink_consume_ref` call that passed this batch.
    pub unsafe fn messages(&self) -> Result<Vec<&MessageRef>, DecodeError> {
        if self.size < std::mem::size_of::<SinkBatchRef>() as u32 {
            return Err(DecodeError::new(
                format!("size {} is smaller than ABI 1.1's {}", self.size, std::mem::size_of::<SinkBatchRef>()),
                0,
            )
            .within("SinkBatchRef"));
        }
        if self.messages_len > 0 && (self.messages.is_null() || self.message_size < std::mem::size_of::<MessageRef>()) {
            return Err(DecodeError::new(
                format!(
                    "{} messages with stride {} (want a pointer and stride >= {})",
                    self.messages_len,
                    self.message_size,
                    std::mem::size_of::<MessageRef>()
                ),
                0,
            )
            .within("SinkBatchRef.messages"));
        }
        Ok((0..self.messages_len)
            .map(|i| &*((self.messages as *const u8).add(i * self.message_size) as *const MessageRef))
            .collect())
    }

    /// Copies the batch into an owned [`SinkBatch`] (the same value `iggy_sink_consume` would decode).
    ///
    /// # Safety
    /// Only during the `iggy_sink_consume_ref` call that passed this batch.
    pub unsafe fn to_sink_batch(&self) -> Result<SinkBatch, DecodeError> {
        let text = |p, n, field: &str| -> Result<String, DecodeError> {
            let b = ref_bytes(p, n, field)?;
            std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| DecodeError::new("invalid UTF-8", 0).within(field.to_owned()))
        };
        let within = |e: DecodeError| e.within("SinkBatchRef");
        let mut b = SinkBatch {
            stream: text(self.stream, self.stream_len, "stream").map_err(within)?,
            topic: text(self.topic, self.topic_len, "topic").map_err(within)?,
            partition_id: self.partition_id,
            current_offset: self.current_offset,
            schema: text(self.schema, self.schema_len, "schema").map_err(within)?,
            messages: Vec::new(),
        };
        for (i, m) in self.messages()?.into_iter().enumerate() {
            let at = |e: DecodeError| e.within(format!("SinkBatchRef.messages[{i}]"));
            b.messages.push(Message {
                id: u128::from_be_bytes(m.id),
                offset: m.offset,
                checksum: m.checksum,
                timestamp: m.timestamp,
                origin_timestamp: m.origin_timestamp,
                headers: m.headers().map_err(at)?,
                payload: m.payload().map_err(at)?.to_vec(),
            });
        }
        Ok(b)
    }
}

/// `SinkResult`: the optional output of a successful `iggy_sink_consume`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkResult {
    /// 1 (optional): the messages that were not written.
    pub failures: Vec<MessageFailure>,
}

/// `MessageFailure`: one message of a batch that was not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFailure {
    /// 1: position in [`SinkBatch::messages`].
    pub index: u32,
    /// 2
    pub error: Error,
}

/// `SourceMessage`: one message produced by a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMessage {
    /// 1 (optional): without an id the runtime assigns a random (UUID v4) id.
    pub id: Option<u128>,
    /// 2 (optional)
    pub headers: Vec<Header>,
    /// 3
    pub payload: Vec<u8>,
    /// 4 (optional): µs since the epoch; 0 = absent.
    pub origin_timestamp: u64,
    /// 5 (optional): partitioning key (Iggy "messages key" partitioning); empty = absent.
    pub key: Vec<u8>,
}

/// `PollResult`: the output of `iggy_source_poll`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollResult {
    /// 1: unique and increasing per instance.
    pub batch_id: u64,
    /// 2: how the payloads are encoded.
    pub schema: String,
    /// 3 (optional)
    pub messages: Vec<SourceMessage>,
    /// 4 (optional): source state to persist once the batch is in Iggy; empty = none.
    pub state: Vec<u8>,
    /// 5 (optional): how long to wait before the next poll when the batch is empty (0 = default).
    pub wait_hint_ms: u64,
}

/// `LogRecord`: one log line produced inside a plugin. A `LogBatch` is a `Vec<LogRecord>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRecord {
    /// 1: see [`log_level`].
    pub level: u8,
    /// 2 (optional): the instance, 0 = the library.
    pub instance: u32,
    /// 3
    pub message: String,
    /// 4 (optional)
    pub target: String,
    /// 5 (optional): µs since the epoch.
    pub time_us: u64,
    /// 6 (optional)
    pub attrs: Vec<LogAttr>,
}

/// `[key, value]` attribute of a log record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogAttr {
    pub key: String,
    pub value: String,
}

// ------------------------------------------------------------------------------------------------
// Encoding
// ------------------------------------------------------------------------------------------------

/// A CBOR writer producing definite lengths and minimal-length integer heads (RFC 8949 §4.2.1).
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty writer.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The bytes written so far.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if arg < 24 {
            self.buf.push(m | arg as u8);
        } else if arg <= 0xff {
            self.buf.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
    }

    /// An unsigned integer.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(0, v);
        self
    }
    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }
    /// A text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// An array head: `n` items follow.
    pub fn array(&mut self, n: usize) -> &mut Self {
        self.head(4, n as u64);
        self
    }
    /// A map head: `n` key/value pairs follow.
    pub fn map(&mut self, n: usize) -> &mut Self {
        self.head(5, n as u64);
        self
    }
    /// `true` or `false`.
    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
        self
    }
}

/// A record that crosses the boundary as CBOR.
pub trait Record: Sized {
    /// The record's name in error messages, e.g. `"SinkBatch"`.
    const NAME: &'static str;

    /// Writes the record.
    fn encode(&self, e: &mut Encoder);

    /// Reads the record at the reader's position.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// The record's CBOR bytes, identical to the Go encoding.
    fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        self.encode(&mut e);
        e.into_vec()
    }

    /// Decodes a whole buffer holding exactly one record.
    fn from_cbor(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r).map_err(|e| e.within(Self::NAME))?;
        r.finish().map_err(|e| e.within(Self::NAME))?;
        Ok(v)
    }
}

fn n_set(flags: &[bool]) -> usize {
    flags.iter().filter(|f| **f).count()
}

impl Record for ConfigField {
    const NAME: &'static str = "ConfigField";
    fn encode(&self, e: &mut Encoder) {
        e.map(2 + n_set(&[self.required, !self.default.is_empty(), !self.description.is_empty(), self.secret]));
        e.uint(1).text(&self.name);
        e.uint(2).text(&self.ty);
        if self.required {
            e.uint(3).bool(true);
        }
        if !self.default.is_empty() {
            e.uint(4).text(&self.default);
        }
        if !self.description.is_empty() {
            e.uint(5).text(&self.description);
        }
        if self.secret {
            e.uint(6).bool(true);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = ConfigField::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.name = r.text().map_err(|e| e.within("name"))?,
                2 => v.ty = r.text().map_err(|e| e.within("type"))?,
                3 => v.required = r.bool().map_err(|e| e.within("required"))?,
                4 => v.default = r.text().map_err(|e| e.within("default"))?,
                5 => v.description = r.text().map_err(|e| e.within("description"))?,
                6 => v.secret = r.bool().map_err(|e| e.within("secret"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for PluginInfo {
    const NAME: &'static str = "PluginInfo";
    fn encode(&self, e: &mut Encoder) {
        e.map(4 + n_set(&[!self.description.is_empty(), !self.config_fields.is_empty(), !self.sdk.is_empty()]));
        e.uint(1).uint(self.abi_version as u64);
        e.uint(2).text(&self.kind);
        e.uint(3).text(&self.name);
        e.uint(4).text(&self.version);
        if !self.description.is_empty() {
            e.uint(5).text(&self.description);
        }
        if !self.config_fields.is_empty() {
            e.uint(6).array(self.config_fields.len());
            for f in &self.config_fields {
                f.encode(e);
            }
        }
        if !self.sdk.is_empty() {
            e.uint(7).text(&self.sdk);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = PluginInfo::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.abi_version = r.u32().map_err(|e| e.within("abi_version"))?,
                2 => v.kind = r.text().map_err(|e| e.within("kind"))?,
                3 => v.name = r.text().map_err(|e| e.within("name"))?,
                4 => v.version = r.text().map_err(|e| e.within("version"))?,
                5 => v.description = r.text().map_err(|e| e.within("description"))?,
                6 => v.config_fields = r.list(ConfigField::decode).map_err(|e| e.within("config_fields"))?,
                7 => v.sdk = r.text().map_err(|e| e.within("sdk"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for Error {
    const NAME: &'static str = "Error";
    fn encode(&self, e: &mut Encoder) {
        e.map(2 + n_set(&[self.retryable, !self.field.is_empty()]));
        e.uint(1).text(&self.code);
        e.uint(2).text(&self.message);
        if self.retryable {
            e.uint(3).bool(true);
        }
        if !self.field.is_empty() {
            e.uint(4).text(&self.field);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = Error::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.code = r.text().map_err(|e| e.within("code"))?,
                2 => v.message = r.text().map_err(|e| e.within("message"))?,
                3 => v.retryable = r.bool().map_err(|e| e.within("retryable"))?,
                4 => v.field = r.text().map_err(|e| e.within("field"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for Header {
    const NAME: &'static str = "Header";
    fn encode(&self, e: &mut Encoder) {
        e.array(4).uint(self.key_kind as u64).bytes(&self.key).uint(self.value_kind as u64).bytes(&self.value);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let n = r.array_len()?;
        if n != 4 {
            return Err(DecodeError::new(
                format!("expected a 4-element array [key_kind, key, value_kind, value], found {n} elements"),
                at,
            ));
        }
        Ok(Header {
            key_kind: r.u8().map_err(|e| e.within("key_kind"))?,
            key: r.bytes().map_err(|e| e.within("key"))?,
            value_kind: r.u8().map_err(|e| e.within("value_kind"))?,
            value: r.bytes().map_err(|e| e.within("value"))?,
        })
    }
}

impl Record for Message {
    const NAME: &'static str = "Message";
    fn encode(&self, e: &mut Encoder) {
        e.map(6 + n_set(&[!self.headers.is_empty()]));
        e.uint(1).bytes(&self.id.to_be_bytes());
        e.uint(2).uint(self.offset);
        e.uint(3).uint(self.checksum);
        e.uint(4).uint(self.timestamp);
        e.uint(5).uint(self.origin_timestamp);
        if !self.headers.is_empty() {
            e.uint(6).array(self.headers.len());
            for h in &self.headers {
                h.encode(e);
            }
        }
        e.uint(7).bytes(&self.payload);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = Message::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.id = r.id().map_err(|e| e.within("id"))?.unwrap_or(0),
                2 => v.offset = r.u64().map_err(|e| e.within("offset"))?,
                3 => v.checksum = r.u64().map_err(|e| e.within("checksum"))?,
                4 => v.timestamp = r.u64().map_err(|e| e.within("timestamp"))?,
                5 => v.origin_timestamp = r.u64().map_err(|e| e.within("origin_timestamp"))?,
                6 => v.headers = r.list(Header::decode).map_err(|e| e.within("headers"))?,
                7 => v.payload = r.bytes().map_err(|e| e.within("payload"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for SinkBatch {
    const NAME: &'static str = "SinkBatch";
    fn encode(&self, e: &mut Encoder) {
        e.map(6);
        e.uint(1).text(&self.stream);
        e.uint(2).text(&self.topic);
        e.uint(3).uint(self.partition_id as u64);
        e.uint(4).uint(self.current_offset);
        e.uint(5).text(&self.schema);
        e.uint(6).array(self.messages.len());
        for m in &self.messages {
            m.encode(e);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = SinkBatch::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.stream = r.text().map_err(|e| e.within("stream"))?,
                2 => v.topic = r.text().map_err(|e| e.within("topic"))?,
                3 => v.partition_id = r.u32().map_err(|e| e.within("partition_id"))?,
                4 => v.current_offset = r.u64().map_err(|e| e.within("current_offset"))?,
                5 => v.schema = r.text().map_err(|e| e.within("schema"))?,
                6 => v.messages = r.list(Message::decode).map_err(|e| e.within("messages"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for MessageFailure {
    const NAME: &'static str = "MessageFailure";
    fn encode(&self, e: &mut Encoder) {
        e.map(2);
        e.uint(1).uint(self.index as u64);
        e.uint(2);
        self.error.encode(e);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = MessageFailure::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.index = r.u32().map_err(|e| e.within("index"))?,
                2 => v.error = Error::decode(r).map_err(|e| e.within("error"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for SinkResult {
    const NAME: &'static str = "SinkResult";
    fn encode(&self, e: &mut Encoder) {
        e.map(n_set(&[!self.failures.is_empty()]));
        if !self.failures.is_empty() {
            e.uint(1).array(self.failures.len());
            for f in &self.failures {
                f.encode(e);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = SinkResult::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.failures = r.list(MessageFailure::decode).map_err(|e| e.within("failures"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for SourceMessage {
    const NAME: &'static str = "SourceMessage";
    fn encode(&self, e: &mut Encoder) {
        e.map(
            1 + n_set(&[self.id.is_some(), !self.headers.is_empty(), self.origin_timestamp != 0, !self.key.is_empty()]),
        );
        if let Some(id) = self.id {
            e.uint(1).bytes(&id.to_be_bytes());
        }
        if !self.headers.is_empty() {
            e.uint(2).array(self.headers.len());
            for h in &self.headers {
                h.encode(e);
            }
        }
        e.uint(3).bytes(&self.payload);
        if self.origin_timestamp != 0 {
            e.uint(4).uint(self.origin_timestamp);
        }
        if !self.key.is_empty() {
            e.uint(5).bytes(&self.key);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = SourceMessage::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.id = r.id().map_err(|e| e.within("id"))?,
                2 => v.headers = r.list(Header::decode).map_err(|e| e.within("headers"))?,
                3 => v.payload = r.bytes().map_err(|e| e.within("payload"))?,
                4 => v.origin_timestamp = r.u64().map_err(|e| e.within("origin_timestamp"))?,
                5 => v.key = r.bytes().map_err(|e| e.within("key"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for PollResult {
    const NAME: &'static str = "PollResult";
    fn encode(&self, e: &mut Encoder) {
        e.map(2 + n_set(&[!self.messages.is_empty(), !self.state.is_empty(), self.wait_hint_ms != 0]));
        e.uint(1).uint(self.batch_id);
        e.uint(2).text(&self.schema);
        if !self.messages.is_empty() {
            e.uint(3).array(self.messages.len());
            for m in &self.messages {
                m.encode(e);
            }
        }
        if !self.state.is_empty() {
            e.uint(4).bytes(&self.state);
        }
        if self.wait_hint_ms != 0 {
            e.uint(5).uint(self.wait_hint_ms);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = PollResult::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.batch_id = r.u64().map_err(|e| e.within("batch_id"))?,
                2 => v.schema = r.text().map_err(|e| e.within("schema"))?,
                3 => v.messages = r.list(SourceMessage::decode).map_err(|e| e.within("messages"))?,
                4 => v.state = r.bytes().map_err(|e| e.within("state"))?,
                5 => v.wait_hint_ms = r.u64().map_err(|e| e.within("wait_hint_ms"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

impl Record for LogAttr {
    const NAME: &'static str = "LogAttr";
    fn encode(&self, e: &mut Encoder) {
        e.array(2).text(&self.key).text(&self.value);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let n = r.array_len()?;
        if n != 2 {
            return Err(DecodeError::new(format!("expected a 2-element array [key, value], found {n} elements"), at));
        }
        Ok(LogAttr { key: r.text().map_err(|e| e.within("key"))?, value: r.text().map_err(|e| e.within("value"))? })
    }
}

impl Record for LogRecord {
    const NAME: &'static str = "LogRecord";
    fn encode(&self, e: &mut Encoder) {
        e.map(2 + n_set(&[self.instance != 0, !self.target.is_empty(), self.time_us != 0, !self.attrs.is_empty()]));
        e.uint(1).uint(self.level as u64);
        if self.instance != 0 {
            e.uint(2).uint(self.instance as u64);
        }
        e.uint(3).text(&self.message);
        if !self.target.is_empty() {
            e.uint(4).text(&self.target);
        }
        if self.time_us != 0 {
            e.uint(5).uint(self.time_us);
        }
        if !self.attrs.is_empty() {
            e.uint(6).array(self.attrs.len());
            for a in &self.attrs {
                a.encode(e);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = LogRecord::default();
        r.map_fields(|r, key| {
            match key {
                1 => v.level = r.u8().map_err(|e| e.within("level"))?,
                2 => v.instance = r.u32().map_err(|e| e.within("instance"))?,
                3 => v.message = r.text().map_err(|e| e.within("message"))?,
                4 => v.target = r.text().map_err(|e| e.within("target"))?,
                5 => v.time_us = r.u64().map_err(|e| e.within("time_us"))?,
                6 => v.attrs = r.list(LogAttr::decode).map_err(|e| e.within("attrs"))?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

/// `LogBatch`: a list of log records, the answer of `iggy_plugin_drain_logs`.
impl Record for Vec<LogRecord> {
    const NAME: &'static str = "LogBatch";
    fn encode(&self, e: &mut Encoder) {
        e.array(self.len());
        for l in self {
            l.encode(e);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.list(LogRecord::decode)
    }
}

// ------------------------------------------------------------------------------------------------
// Decoding
// ------------------------------------------------------------------------------------------------

/// Why a buffer could not be decoded: the field path, what was wrong and the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    path: Vec<String>, // innermost first
    message: String,
    offset: usize,
}

impl DecodeError {
    fn new(message: impl Into<String>, offset: usize) -> DecodeError {
        DecodeError { path: Vec::new(), message: message.into(), offset }
    }

    fn from_cbor(e: minicbor::decode::Error, at: usize) -> DecodeError {
        let msg = if e.is_end_of_input() {
            "unexpected end of input".to_string()
        } else {
            // minicbor says "... at position N: ..."; the offset is reported once, by DecodeError.
            e.to_string().replacen(&format!(" at position {at}"), "", 1)
        };
        DecodeError::new(msg, at)
    }

    /// Adds an outer path segment: a field name, a record name or an index such as `[3]`.
    pub fn within(mut self, segment: impl Into<String>) -> DecodeError {
        self.path.push(segment.into());
        self
    }

    /// The field path, e.g. `SinkBatch.messages[1].payload`.
    pub fn path(&self) -> String {
        let mut s = String::new();
        for seg in self.path.iter().rev() {
            if !s.is_empty() && !seg.starts_with('[') {
                s.push('.');
            }
            s.push_str(seg);
        }
        s
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "{} (at byte {})", self.message, self.offset)
        } else {
            write!(f, "{}: {} (at byte {})", path, self.message, self.offset)
        }
    }
}

impl std::error::Error for DecodeError {}

/// A bounds-checked CBOR reader over a borrowed buffer (wraps [`minicbor::Decoder`]).
pub struct Reader<'b> {
    d: Decoder<'b>,
}

impl<'b> Reader<'b> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'b [u8]) -> Reader<'b> {
        Reader { d: Decoder::new(bytes) }
    }

    /// Current byte offset.
    pub fn position(&self) -> usize {
        self.d.position()
    }

    fn remaining(&self) -> usize {
        self.d.input().len() - self.d.position()
    }

    fn datatype(&self) -> Result<Type, DecodeError> {
        self.d.datatype().map_err(|e| DecodeError::from_cbor(e, self.position()))
    }

    /// Errors unless the whole input was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::new(format!("{n} trailing bytes after the record"), self.position())),
        }
    }

    /// Consumes a null or undefined item if one is next.
    pub fn null(&mut self) -> bool {
        match self.d.datatype() {
            Ok(Type::Null) | Ok(Type::Undefined) => self.d.skip().is_ok(),
            _ => false,
        }
    }

    fn wrap<T>(
        &mut self,
        f: impl FnOnce(&mut Decoder<'b>) -> Result<T, minicbor::decode::Error>,
    ) -> Result<T, DecodeError> {
        let at = self.position();
        f(&mut self.d).map_err(|e| {
            self.d.set_position(at);
            DecodeError::from_cbor(e, at)
        })
    }

    /// An unsigned integer.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.wrap(|d| d.u64())
    }
    /// An unsigned integer that fits in u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.wrap(|d| d.u32())
    }
    /// An unsigned integer that fits in u8.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.wrap(|d| d.u8())
    }
    /// A boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        self.wrap(|d| d.bool())
    }
    /// A definite-length UTF-8 text string.
    pub fn text(&mut self) -> Result<String, DecodeError> {
        if self.datatype()? == Type::StringIndef {
            return Err(DecodeError::new("indefinite-length text string is not allowed", self.position()));
        }
        self.wrap(|d| d.str()).map(str::to_owned)
    }
    /// A definite-length byte string (null reads as empty).
    pub fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        if self.null() {
            return Ok(Vec::new());
        }
        if self.datatype()? == Type::BytesIndef {
            return Err(DecodeError::new("indefinite-length byte string is not allowed", self.position()));
        }
        self.wrap(|d| d.bytes()).map(<[u8]>::to_vec)
    }
    /// A 16-byte u128 id (big-endian); null reads as absent.
    pub fn id(&mut self) -> Result<Option<u128>, DecodeError> {
        let at = self.position();
        if self.null() {
            return Ok(None);
        }
        let b = self.bytes()?;
        let arr: [u8; 16] = b
            .as_slice()
            .try_into()
            .map_err(|_| DecodeError::new(format!("expected 16 bytes, found {}", b.len()), at))?;
        Ok(Some(u128::from_be_bytes(arr)))
    }
    /// An array head (null reads as an empty array). Counts that cannot fit in the remaining input
    /// are rejected before anything is allocated.
    pub fn array_len(&mut self) -> Result<usize, DecodeError> {
        let at = self.position();
        if self.null() {
            return Ok(0);
        }
        match self.wrap(|d| d.array())? {
            None => Err(DecodeError::new("indefinite-length array is not allowed", at)),
            Some(n) if n > self.remaining() as u64 => {
                Err(DecodeError::new(format!("array of {n} items runs past the end of the input"), at))
            }
            Some(n) => Ok(n as usize),
        }
    }
    /// A map head (definite length only).
    pub fn map_len(&mut self) -> Result<usize, DecodeError> {
        let at = self.position();
        match self.wrap(|d| d.map())? {
            None => Err(DecodeError::new("indefinite-length map is not allowed", at)),
            Some(n) if n > (self.remaining() / 2) as u64 => {
                Err(DecodeError::new(format!("map of {n} pairs runs past the end of the input"), at))
            }
            Some(n) => Ok(n as usize),
        }
    }
    /// Skips one item of any type.
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        self.wrap(|d| d.skip())
    }

    /// Reads a list of items with `item`, naming the index of a bad one.
    pub fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Reader<'b>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.array_len()?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(item(self).map_err(|e| e.within(format!("[{i}]")))?);
        }
        Ok(out)
    }

    /// Reads a map with unsigned integer keys, calling `field(reader, key)` for each; `field` returns
    /// `Ok(false)` for a key it does not know, whose value is then skipped. Keys that are not unsigned
    /// integers are skipped with their values; a repeated key is an error.
    pub fn map_fields(
        &mut self,
        mut field: impl FnMut(&mut Reader<'b>, u64) -> Result<bool, DecodeError>,
    ) -> Result<(), DecodeError> {
        let pairs = self.map_len()?;
        let mut seen: u64 = 0;
        for _ in 0..pairs {
            let at = self.position();
            let key = match self.datatype()? {
                Type::U8 | Type::U16 | Type::U32 | Type::U64 => Some(self.u64()?),
                _ => {
                    self.skip()?;
                    None
                }
            };
            let known = match key {
                Some(k) => {
                    if (1..64).contains(&k) {
                        if seen & (1 << k) != 0 {
                            return Err(DecodeError::new(format!("duplicate map key {k}"), at));
                        }
                        seen |= 1 << k;
                    }
                    field(self, k)?
                }
                None => false,
            };
            if !known {
                self.skip()?;
            }
        }
        Ok(())
    }
}
