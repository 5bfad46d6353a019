/*
 * iggy_connector.h — the iggy-connectors plugin ABI, version 1.1 (normative).
 *
 * Licensed under the Apache License, Version 2.0.
 *
 * A connector plugin is a shared library (.so / .dylib / .dll) that exports the C functions declared
 * below. The host is the `iggy-connectors` runtime. The runtime owns everything generic (Iggy, batching,
 * retries, offsets, state files, transforms, codecs, metrics); a plugin only talks to its external
 * system. This header is the contract; the Go types in abi/abi.go and the vectors in abi/testdata/
 * describe the same records.
 *
 * ---------------------------------------------------------------------------------------------------
 * 1. Versioning
 * ---------------------------------------------------------------------------------------------------
 * iggy_plugin_abi_version() returns (major << 16) | minor. The runtime refuses a library whose major
 * version differs from its own, naming the library and both versions. A minor version only adds
 * optional symbols or optional record fields; readers ignore unknown record keys.
 * - 1.0: every record crosses as CBOR (§4).
 * - 1.1: adds the optional symbol iggy_sink_consume_ref (§6): sink batches by reference. A runtime
 *   speaking 1.1 calls it only for a library whose iggy_plugin_abi_version() reports minor >= 1 and
 *   that exports it; every other sink (all 1.0 libraries) gets CBOR SinkBatches through
 *   iggy_sink_consume, which a 1.1 sink must still export (a 1.0 runtime only knows that one).
 *   `iggy-connectors plugin inspect` shows the version a library speaks and whether its sink batches
 *   cross by reference.
 *
 * ---------------------------------------------------------------------------------------------------
 * 2. Instances
 * ---------------------------------------------------------------------------------------------------
 * One library can serve many connector instances. Every lifecycle call carries an instance id chosen
 * by the runtime (non-zero, never reused while open). A plugin keeps per-instance state behind that
 * id (for Go plugins: in a map; never hand a Go pointer to C).
 *
 * ---------------------------------------------------------------------------------------------------
 * 3. Buffers and ownership
 * ---------------------------------------------------------------------------------------------------
 * Inputs are (ptr, len) byte buffers owned by the caller and valid only for the duration of the call;
 * the plugin copies what it keeps. A zero length may come with a NULL pointer.
 * Outputs are returned through (uint8_t **out, size_t *out_len). The plugin allocates the buffer; the
 * runtime copies or decodes it and then releases it with iggy_plugin_free(ptr, len) exactly once, from
 * any thread. A plugin that has nothing to return stores NULL / 0 (and the runtime does not call
 * iggy_plugin_free for a NULL pointer). The runtime initialises *out = NULL and *out_len = 0 before
 * every call. No pointer is kept across calls by either side.
 *
 * ---------------------------------------------------------------------------------------------------
 * 4. Encodings
 * ---------------------------------------------------------------------------------------------------
 * - Plugin config crosses as UTF-8 JSON text (an object; "{}" when the connector has no plugin_config).
 * - Source state crosses as opaque bytes (MessagePack by convention); zero length means "no state".
 * - Every other record is CBOR (RFC 8949): maps with small unsigned integer keys, definite lengths.
 *   Readers must ignore unknown keys and treat absent keys as their zero value. Records:
 *
 *   PluginInfo     { 1: abi_version uint, 2: kind text ("sink"|"source"), 3: name text,
 *                    4: version text, 5?: description text, 6?: config_fields [ConfigField],
 *                    7?: sdk text }
 *   ConfigField    { 1: name text, 2: type text ("string"|"int"|"float"|"bool"|"duration"|"array"|
 *                    "object"|"any"), 3?: required bool, 4?: default text (JSON), 5?: description
 *                    text, 6?: secret bool }
 *   Error          { 1: code text, 2: message text, 3?: retryable bool, 4?: field text }
 *                    code is a stable snake_case word: "invalid_config", "bad_input",
 *                    "unknown_instance", "already_open", "panic", "connection", "write_failed", ...
 *                    field names the offending plugin_config key when there is one.
 *   Header         [ key_kind uint, key bytes, value_kind uint, value bytes ]   (a 4-element array)
 *                    kinds are the Iggy header kinds: 1 raw, 2 string, 3 bool, 4 int8, 5 int16,
 *                    6 int32, 7 int64, 8 int128, 9 uint8, 10 uint16, 11 uint32, 12 uint64,
 *                    13 uint128, 14 float32, 15 float64; numbers little-endian as on the Iggy wire.
 *   Message        { 1: id bytes(16), 2: offset uint, 3: checksum uint, 4: timestamp uint,
 *                    5: origin_timestamp uint, 6?: headers [Header], 7: payload bytes }
 *                    id is the Iggy u128 message id as 16 big-endian bytes; timestamps are
 *                    microseconds since the Unix epoch.
 *   SinkBatch      { 1: stream text, 2: topic text, 3: partition_id uint, 4: current_offset uint,
 *                    5: schema text, 6: messages [Message] }
 *                    schema says how to read every payload in the batch: "json" (UTF-8 JSON text),
 *                    "raw", "text" (UTF-8), "proto", "flatbuffer". current_offset is the partition's
 *                    latest offset at poll time (lag = current_offset - last message offset).
 *   SinkResult     { 1?: failures [MessageFailure] }
 *   MessageFailure { 1: index uint, 2: error Error }
 *                    index is the position in SinkBatch.messages. Every message not listed was
 *                    written. A failure with retryable=true was not written and will be offered again;
 *                    retryable=false is permanent and follows the connector's on_error policy.
 *   SourceMessage  { 1?: id bytes(16), 2?: headers [Header], 3: payload bytes,
 *                    4?: origin_timestamp uint, 5?: key bytes }
 *                    without an id the runtime assigns a random (UUID v4) id; key, when present,
 *                    selects the partition by hash (Iggy "messages key" partitioning).
 *   PollResult     { 1: batch_id uint, 2: schema text, 3?: messages [SourceMessage], 4?: state bytes,
 *                    5?: wait_hint_ms uint }
 *                    batch_id is chosen by the plugin, unique and increasing per instance.
 *                    state, when present, is the source state to persist once this batch is
 *                    durably in Iggy. wait_hint_ms tells the runtime how long to wait before the next
 *                    poll when the batch is empty (0 = its own poll_interval).
 *   LogRecord      { 1: level uint (0 trace, 1 debug, 2 info, 3 warn, 4 error), 2?: instance uint
 *                    (0 = the library), 3: message text, 4?: target text, 5?: time_us uint,
 *                    6?: attrs [[key text, value text]] }
 *   LogBatch       [LogRecord]
 *
 * ---------------------------------------------------------------------------------------------------
 * 5. Status codes
 * ---------------------------------------------------------------------------------------------------
 * Every int32_t-returning function returns one of the IGGY_STATUS_* codes. On any status other than
 * IGGY_STATUS_OK the plugin should return an Error record in *out (the runtime synthesises one if the
 * plugin returns none).
 *
 * ---------------------------------------------------------------------------------------------------
 * 6. Sink batches by reference (ABI 1.1)
 * ---------------------------------------------------------------------------------------------------
 * iggy_sink_consume_ref(instance, batch, out, out_len) is iggy_sink_consume with the batch described
 * by an IggySinkBatchRef instead of a CBOR SinkBatch: the same messages and fields, with the payloads
 * (and the header bytes) as pointer + length into the runtime's own memory, normally the buffer the
 * runtime read the messages from Iggy into. Neither side copies the payloads or walks them: the plugin
 * touches only the payloads it reads. Everything else (status codes, the SinkResult in *out, errors,
 * threading) is as for iggy_sink_consume.
 *
 * Layout. IggySinkBatchRef and IggyMessageRef below are plain C structs with the platform's natural
 * alignment (8 bytes on 64-bit platforms: 88 and 80 bytes; every field at the offset noted beside
 * it, little- or big-endian as the platform). Pointers to bytes have no alignment. Text (stream,
 * topic, schema) is UTF-8 and not NUL-terminated. A pointer may be NULL only when its length is 0.
 * - size is sizeof(IggySinkBatchRef) as the runtime built it, and message_size the distance in bytes
 *   between consecutive IggyMessageRef entries. Later minor versions may append fields to either
 *   struct (size / message_size grow); a plugin reads the fields it knows and steps by message_size.
 *   A plugin rejects (IGGY_STATUS_BAD_INPUT) a size or message_size smaller than 1.1's.
 * - id is the Iggy u128 message id as 16 big-endian bytes; offset, checksum, timestamp and
 *   origin_timestamp as in Message (§4).
 * - headers / headers_len is the message's user headers as the CBOR array [Header] of §4 (exactly the
 *   bytes of Message key 6), NULL / 0 when the message has none.
 * - payload / payload_len is the payload, schema saying how to read it.
 *
 * Lifetime and ownership. The IggySinkBatchRef, the IggyMessageRef array and every byte they point to
 * belong to the runtime and are valid only until iggy_sink_consume_ref returns; they are read-only
 * for the plugin. A plugin that keeps anything after returning (a buffering sink) copies it first.
 * The runtime does not modify or free any of it during the call and retains nothing of the call.
 * (The Go runtime passes Go heap memory here: Go's collector does not move heap objects, and the
 * runtime keeps the batch reachable until the call has returned.)
 *
 * Process transport. Pointers cannot cross processes: the `process` transport hands the batch to
 * its plugin-host child as inline bytes, in a shared memory region (Linux) or over its pipe. For a
 * library that takes batches by reference the bytes are the batch's image (the layout of the golden
 * vector below): the child only turns offsets into pointers into its mapping of those bytes and calls
 * iggy_sink_consume_ref, with the same lifetime rules; every other library gets the CBOR SinkBatch.
 *
 * Golden vector. abi/testdata/sink_batch_ref.bin is the sink_batch vector as an IggySinkBatchRef image
 * of a 64-bit little-endian platform: the struct at offset 0, the IggyMessageRef array after it, then
 * the bytes, every pointer written as its offset from the start of the file (0 = NULL). A test adds
 * the address of its copy of the file to every non-zero pointer and decodes the result.
 */
#ifndef IGGY_CONNECTOR_H
#define IGGY_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IGGY_ABI_VERSION_MAJOR 1
#define IGGY_ABI_VERSION_MINOR 1
#define IGGY_ABI_VERSION ((uint32_t)((IGGY_ABI_VERSION_MAJOR << 16) | IGGY_ABI_VERSION_MINOR))

/* The call did what it was asked. *out holds the call's result record, if it has one. */
#define IGGY_STATUS_OK 0
/* A transient failure (connection lost, timeout, throttled): the runtime retries the same call with
 * exponential backoff. Nothing of the batch may be considered written. */
#define IGGY_STATUS_RETRYABLE 1
/* A failure that retrying will not fix (bad config, rejected data, a recovered panic). */
#define IGGY_STATUS_PERMANENT 2
/* The instance id is not open in this library. */
#define IGGY_STATUS_UNKNOWN_INSTANCE 3
/* The input buffer could not be decoded (malformed CBOR or JSON). */
#define IGGY_STATUS_BAD_INPUT 4

/* ------------------------------------------------------------------------------------------------
 * Symbols every plugin exports.
 * ------------------------------------------------------------------------------------------------ */

/* (major << 16) | minor. Pure; may be called at any time from any thread. */
uint32_t iggy_plugin_abi_version(void);

/* Writes a PluginInfo record to *out. Pure (no I/O, no instance needed); may be called concurrently
 * with anything. Used by `iggy-connectors plugin inspect` and `validate`. */
int32_t iggy_plugin_info(uint8_t **out, size_t *out_len);

/* Releases a buffer this library returned through an out parameter. Called exactly once per
 * non-NULL buffer, from any thread, possibly concurrently with other calls. */
void iggy_plugin_free(uint8_t *ptr, size_t len);

/* Moves the library's buffered log records into a LogBatch in *out (NULL / 0 when there are none).
 * Plugins never call into the host: log records wait in a bounded buffer inside the library (oldest
 * dropped first, with a warning record saying how many) until the runtime drains them, which it does
 * after every lifecycle call and periodically. May be called concurrently with anything. */
int32_t iggy_plugin_drain_logs(uint8_t **out, size_t *out_len);

/* OPTIONAL. Checks a plugin config (JSON) without opening anything: pure, no network. Returns OK or
 * PERMANENT with an Error record whose `field` names the offending key. Runtime `validate` uses it;
 * without it the runtime checks the config against PluginInfo.config_fields only. */
int32_t iggy_plugin_validate_config(const uint8_t *config, size_t config_len, uint8_t **out,
                                    size_t *out_len);

/* ------------------------------------------------------------------------------------------------
 * Threading rules (all lifecycle calls).
 * - Calls for one instance are never concurrent: the runtime serialises them.
 * - Calls for different instances may run concurrently, on any OS thread; a call may run on a
 *   different thread than the previous call for the same instance.
 * - A call may block while it does its I/O, but should return within a few seconds: the runtime cannot
 *   interrupt a call, so shutdown waits for it. Long waits belong in the runtime (wait_hint_ms).
 * - Plugins may run background threads/goroutines; those never call into the runtime.
 * ------------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------------
 * Sinks (external system <- runtime <- Iggy).
 * ------------------------------------------------------------------------------------------------ */

/* Opens instance `instance` with its plugin config (JSON). Validates the config, connects, prepares.
 * Errors: PERMANENT with code "invalid_config" and `field` for config problems; RETRYABLE when the
 * external system is unreachable (the runtime retries opening with backoff); PERMANENT with code
 * "already_open" if the id is already open. */
int32_t iggy_sink_open(uint32_t instance, const uint8_t *config, size_t config_len, uint8_t **out,
                       size_t *out_len);

/* Writes one SinkBatch. On OK, *out may hold a SinkResult listing per-message failures (NULL / 0 means
 * every message was written). The runtime stores the consumer offset only for the written prefix.
 * RETRYABLE: nothing may be assumed written; the same batch is offered again after a backoff.
 * PERMANENT: the whole batch failed for a reason retrying will not fix; the connector's on_error
 * policy applies to every message of the batch. Writes should be idempotent (keyed by stream, topic,
 * partition and offset, or by message id) because a batch can be offered again after a crash. */
int32_t iggy_sink_consume(uint32_t instance, const uint8_t *batch, size_t batch_len, uint8_t **out,
                          size_t *out_len);

/* ABI 1.1 (§6): one message of an IggySinkBatchRef. */
typedef struct IggyMessageRef {
    uint8_t id[16];            /*  0: u128, big-endian */
    uint64_t offset;           /* 16 */
    uint64_t checksum;         /* 24 */
    uint64_t timestamp;        /* 32: µs since the epoch (broker) */
    uint64_t origin_timestamp; /* 40: µs since the epoch (producer) */
    const uint8_t *headers;    /* 48: CBOR [Header] array, NULL when none */
    size_t headers_len;        /* 56 */
    const uint8_t *payload;    /* 64 */
    size_t payload_len;        /* 72 */
} IggyMessageRef;              /* 80 bytes on 64-bit platforms */

/* ABI 1.1 (§6): a sink batch by reference; messages of one partition, in offset order. */
typedef struct IggySinkBatchRef {
    uint32_t size;                  /*  0: sizeof(IggySinkBatchRef) as built by the runtime */
    uint32_t partition_id;          /*  4 */
    uint64_t current_offset;        /*  8 */
    const char *stream;             /* 16: UTF-8, not NUL-terminated */
    size_t stream_len;              /* 24 */
    const char *topic;              /* 32 */
    size_t topic_len;               /* 40 */
    const char *schema;             /* 48: "json", "raw", "text", "proto", "flatbuffer" */
    size_t schema_len;              /* 56 */
    const IggyMessageRef *messages; /* 64: messages_len entries, message_size bytes apart */
    size_t messages_len;            /* 72 */
    size_t message_size;            /* 80: sizeof(IggyMessageRef) as built by the runtime */
} IggySinkBatchRef;                 /* 88 bytes on 64-bit platforms */

/* OPTIONAL, ABI 1.1 (§6). Writes one batch given by reference; *batch and everything it points to are
 * valid only during the call. Status, *out and retry rules as iggy_sink_consume. */
int32_t iggy_sink_consume_ref(uint32_t instance, const IggySinkBatchRef *batch, uint8_t **out,
                              size_t *out_len);

/* Flushes and closes the instance; the id is unknown afterwards. Called once, after the last
 * consume has returned. An error is logged; the instance is considered closed either way. */
int32_t iggy_sink_close(uint32_t instance, uint8_t **out, size_t *out_len);

/* ------------------------------------------------------------------------------------------------
 * Sources (external system -> runtime -> Iggy).
 * ------------------------------------------------------------------------------------------------ */

/* Opens instance `instance` with its plugin config (JSON) and the last persisted state (opaque bytes,
 * zero length = none). Same error rules as iggy_sink_open, plus: PERMANENT with code "corrupt_state"
 * when the state cannot be decoded (the runtime then names the state file and stops the source, or
 * sets the file aside and opens again without state when the connector says on_corrupt_state =
 * "reset"). Never fall back to "no state" silently: that restarts the source from its beginning. */
int32_t iggy_source_open(uint32_t instance, const uint8_t *config, size_t config_len,
                         const uint8_t *state, size_t state_len, uint8_t **out, size_t *out_len);

/* Reads the next batch into a PollResult. Returns promptly with an empty message list when nothing is
 * ready (optionally with wait_hint_ms). The plugin must not make the batch's side effects permanent
 * (delete rows, move cursors, confirm replication positions) until iggy_source_commit names it: the
 * runtime may be killed at any moment before that, and the plugin then re-reads from its last
 * committed position. The runtime may poll again before committing the previous batch (up to its
 * in-flight limit), so the next poll continues after the previous batch, not after the committed one.
 * RETRYABLE: nothing was read; the runtime polls again after a backoff. */
int32_t iggy_source_poll(uint32_t instance, uint8_t **out, size_t *out_len);

/* Tells the plugin that batch `batch_id` and every earlier batch are durably in Iggy and the state
 * returned with them is persisted. Commits arrive in batch order, each at most once. Now the plugin
 * makes the batch's side effects permanent. An error is reported on the connector (status "error"
 * for PERMANENT); the data is already in Iggy either way. */
int32_t iggy_source_commit(uint32_t instance, uint64_t batch_id, uint8_t **out, size_t *out_len);

/* Closes the instance; uncommitted batches are abandoned (they will be re-read after the next open).
 * The id is unknown afterwards. */
int32_t iggy_source_close(uint32_t instance, uint8_t **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* IGGY_CONNECTOR_H */
