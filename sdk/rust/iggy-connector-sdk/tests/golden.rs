//! The golden vectors of abi/testdata, decoded with the Rust types and re-encoded byte for byte.
//!
//! The expected values are written out here (they are the values of abi/golden_test.go), so a change
//! on either side of the boundary fails this test.

use std::path::PathBuf;

use iggy_connector_sdk::abi::*;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../abi/testdata")
}

fn read(name: &str) -> Vec<u8> {
    let p = testdata().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

const ID1: u128 = 0x0102030405060708_090a0b0c0d0e0f10;

fn plugin_info() -> PluginInfo {
    PluginInfo {
        abi_version: ABI_VERSION,
        kind: "sink".into(),
        name: "stdout".into(),
        version: "0.1.0".into(),
        description: "Prints messages to standard output".into(),
        config_fields: vec![
            ConfigField {
                name: "print_payload".into(),
                ty: "bool".into(),
                default: "false".into(),
                description: "log every payload".into(),
                ..Default::default()
            },
            ConfigField {
                name: "connection_string".into(),
                ty: "string".into(),
                required: true,
                secret: true,
                ..Default::default()
            },
        ],
        sdk: "go-sdk/0.1.0".into(),
    }
}

fn error() -> Error {
    Error {
        code: "invalid_config".into(),
        message: "batch_size must be at least 1".into(),
        retryable: false,
        field: "batch_size".into(),
    }
}

fn error_retryable() -> Error {
    Error { code: "connection".into(), message: "connection refused".into(), retryable: true, field: String::new() }
}

fn sink_batch() -> SinkBatch {
    SinkBatch {
        stream: "orders".into(),
        topic: "created".into(),
        partition_id: 3,
        current_offset: 1_000_000_000_000,
        schema: "json".into(),
        messages: vec![
            Message {
                id: ID1,
                offset: 41,
                checksum: 0xfedcba9876543210,
                timestamp: 1_700_000_000_000_000,
                origin_timestamp: 1_699_999_999_999_000,
                headers: vec![
                    Header::string("trace", "abc"),
                    Header {
                        key_kind: header_kind::STRING,
                        key: b"n".to_vec(),
                        value_kind: header_kind::UINT32,
                        value: vec![7, 0, 0, 0],
                    },
                ],
                payload: br#"{"a":1}"#.to_vec(),
            },
            Message {
                id: 2,
                offset: 42,
                checksum: 1,
                timestamp: 1_700_000_000_000_001,
                origin_timestamp: 0,
                headers: vec![],
                payload: vec![0x00, 0xff, 0x10],
            },
        ],
    }
}

fn sink_result() -> SinkResult {
    SinkResult {
        failures: vec![MessageFailure {
            index: 1,
            error: Error {
                code: "write_failed".into(),
                message: "invalid input syntax for type json".into(),
                ..Default::default()
            },
        }],
    }
}

fn poll_result() -> PollResult {
    PollResult {
        batch_id: 7,
        schema: "json".into(),
        messages: vec![
            SourceMessage {
                id: Some(ID1),
                headers: vec![Header::string("table", "users")],
                payload: br#"{"id":1}"#.to_vec(),
                origin_timestamp: 1_700_000_000_000_000,
                key: b"users:1".to_vec(),
            },
            SourceMessage { payload: br#"{"id":2}"#.to_vec(), ..Default::default() },
        ],
        state: vec![0x91, 0x02],
        wait_hint_ms: 0,
    }
}

fn poll_result_empty() -> PollResult {
    PollResult { batch_id: 8, schema: "raw".into(), wait_hint_ms: 250, ..Default::default() }
}

fn log_batch() -> Vec<LogRecord> {
    vec![
        LogRecord {
            level: log_level::INFO,
            instance: 5,
            message: "opened".into(),
            target: "stdout".into(),
            time_us: 1_700_000_000_000_000,
            attrs: vec![LogAttr { key: "table".into(), value: "users".into() }],
        },
        LogRecord { level: log_level::ERROR, message: "library-wide failure".into(), ..Default::default() },
    ]
}

/// Decodes the file into R, compares with `want`, re-encodes `want` and compares bytes.
fn check<R: Record + PartialEq + std::fmt::Debug>(file: &str, want: R) {
    let bytes = read(file);
    let got = R::from_cbor(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(got, want, "{file}: decoded value");
    let enc = want.to_cbor();
    assert_eq!(hex(&enc), hex(&bytes), "{file}: encoding differs from the golden bytes");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_golden_vector_round_trips() {
    check("plugin_info.cbor", plugin_info());
    check("error.cbor", error());
    check("error_retryable.cbor", error_retryable());
    check("sink_batch.cbor", sink_batch());
    check("sink_result.cbor", sink_result());
    check("sink_result_empty.cbor", SinkResult::default());
    check("poll_result.cbor", poll_result());
    check("poll_result_empty.cbor", poll_result_empty());
    check("log_batch.cbor", log_batch());
}

#[test]
fn vectors_json_lists_exactly_the_vectors_checked_here() {
    let index: serde_json::Value = serde_json::from_slice(&read("vectors.json")).expect("vectors.json");
    let mut names: Vec<String> =
        index.as_array().expect("array").iter().map(|v| v["file"].as_str().expect("file").to_owned()).collect();
    names.sort();
    let mut mine = vec![
        "plugin_info.cbor",
        "error.cbor",
        "error_retryable.cbor",
        "sink_batch.cbor",
        "sink_result.cbor",
        "sink_result_empty.cbor",
        "poll_result.cbor",
        "poll_result_empty.cbor",
        "log_batch.cbor",
    ];
    mine.sort();
    assert_eq!(names, mine, "a vector was added or removed in abi/testdata: cover it in tests/golden.rs");
    for v in index.as_array().unwrap() {
        let file = v["file"].as_str().unwrap();
        assert_eq!(v["hex"].as_str().unwrap(), hex(&read(file)), "{file}: hex in vectors.json");
    }
}

/// Every proper prefix of every vector is an error, never a panic; every single-byte corruption
/// decodes or fails cleanly.
#[test]
fn truncated_and_corrupted_input_fails_cleanly() {
    fn all<R: Record>(bytes: &[u8]) -> usize {
        let mut accepted = 0;
        for n in 0..bytes.len() {
            if R::from_cbor(&bytes[..n]).is_ok() {
                accepted += 1;
            }
        }
        for pos in 0..bytes.len() {
            for v in 0..=255u8 {
                let mut c = bytes.to_vec();
                c[pos] = v;
                let _ = R::from_cbor(&c);
            }
        }
        accepted
    }
    assert_eq!(all::<PluginInfo>(&read("plugin_info.cbor")), 0);
    assert_eq!(all::<Error>(&read("error.cbor")), 0);
    assert_eq!(all::<SinkBatch>(&read("sink_batch.cbor")), 0);
    assert_eq!(all::<SinkResult>(&read("sink_result.cbor")), 0);
    assert_eq!(all::<PollResult>(&read("poll_result.cbor")), 0);
    assert_eq!(all::<Vec<LogRecord>>(&read("log_batch.cbor")), 0);
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn decode_errors_name_the_field_and_offset() {
    let cases: &[(&str, &str)] = &[
        ("a1031b0000000100000000", "SinkBatch.partition_id"),
        ("a10681a10143010203", "SinkBatch.messages[0].id: expected 16 bytes, found 3"),
        ("a10681a1068183024100", "SinkBatch.messages[0].headers[0]: expected a 4-element array"),
        ("a2016161016162", "SinkBatch: duplicate map key 1"),
        ("a1068ba0", "SinkBatch.messages: array of 11 items runs past the end"),
        ("bf01616fff", "SinkBatch: indefinite-length map is not allowed"),
        ("a101616fa0", "SinkBatch: 1 trailing bytes"),
        ("a10165", "SinkBatch.stream: unexpected end of input"),
        ("a10101", "SinkBatch.stream: unexpected type u8"),
    ];
    for (h, want) in cases {
        let err = SinkBatch::from_cbor(&unhex(h)).expect_err(h);
        assert!(err.to_string().contains(want), "{h}: {err} does not contain {want:?}");
    }
    // a successful one of the list above, to be sure the error is about the field and not the test
    let ok = SinkBatch::from_cbor(&unhex("a1016161")).expect("stream \"a\"");
    assert_eq!(ok.stream, "a");
}

#[test]
fn readers_ignore_unknown_keys_and_accept_null_for_go_nil_slices() {
    // {0x19: 1.1, 1: "s", "x": [1], 6: null} and a message with payload null and unknown key 25
    let b = SinkBatch::from_cbor(&unhex("a418fbfb3ff199999999999a0161736178810106f6")).expect("decodes");
    assert_eq!(b.stream, "s");
    assert!(b.messages.is_empty());
    let b = SinkBatch::from_cbor(&unhex("a10681a207f6181901")).expect("decodes");
    assert_eq!(b.messages.len(), 1);
    assert!(b.messages[0].payload.is_empty());
    // absent keys read as zero values
    let b = SinkBatch::from_cbor(&unhex("a0")).expect("empty map");
    assert_eq!(b, SinkBatch::default());
}

#[test]
fn integer_heads_are_minimal_at_every_boundary() {
    let cases: &[(u64, &str)] = &[
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65535, "19ffff"),
        (65536, "1a00010000"),
        (u32::MAX as u64, "1affffffff"),
        (u32::MAX as u64 + 1, "1b0000000100000000"),
        (u64::MAX, "1bffffffffffffffff"),
    ];
    for (v, h) in cases {
        let mut e = Encoder::new();
        e.uint(*v);
        assert_eq!(hex(&e.into_vec()), *h, "{v}");
    }
}

#[test]
fn golden_state_is_counter_state_next_2() {
    // The golden PollResult carries MessagePack [2]: what the counter example persists as {next: 2}.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct State {
        next: u64,
    }
    let s: State = iggy_connector_sdk::decode_state(&poll_result().state).expect("decode");
    assert_eq!(s, State { next: 2 });
    assert_eq!(iggy_connector_sdk::encode_state(&s).unwrap(), vec![0x91, 0x02]);
}

/// ABI 1.1: sink_batch_ref.bin is the sink_batch vector as an IggySinkBatchRef image (64-bit
/// little-endian, pointers as offsets from the start of the file, 0 = NULL). Relocated, it reads as
/// the same batch, with payloads borrowed from the image.
#[test]
#[cfg(all(target_pointer_width = "64", target_endian = "little"))]
fn sink_batch_ref_image_reads_as_the_sink_batch_vector() {
    assert_eq!(std::mem::size_of::<SinkBatchRef>(), 88);
    assert_eq!(std::mem::size_of::<MessageRef>(), 80);
    let bytes = read("sink_batch_ref.bin");
    // 8-aligned copy of the image
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    let base = words.as_mut_ptr() as *mut u8;
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base, bytes.len()) };
    let reloc = |at: usize| unsafe {
        let p = base.add(at) as *mut u64;
        let off = p.read();
        if off != 0 {
            assert!((off as usize) < bytes.len(), "pointer at {at}: offset {off}");
            p.write(base as u64 + off);
        }
    };
    for at in [16, 32, 48, 64] {
        reloc(at);
    }
    let n = u64::from_le_bytes(bytes[72..80].try_into().unwrap()) as usize;
    let first = u64::from_le_bytes(bytes[64..72].try_into().unwrap()) as usize;
    for i in 0..n {
        reloc(first + 80 * i + 48);
        reloc(first + 80 * i + 64);
    }
    let r = unsafe { &*(base as *const SinkBatchRef) };
    let got = unsafe { r.to_sink_batch() }.expect("decode sink_batch_ref.bin");
    assert_eq!(got, sink_batch());
    let msgs = unsafe { r.messages() }.unwrap();
    let p = unsafe { msgs[0].payload() }.unwrap();
    assert_eq!(p, b"{\"a\":1}");
    assert!(
        p.as_ptr() as usize >= base as usize && (p.as_ptr() as usize) < base as usize + bytes.len(),
        "payload is borrowed"
    );

    let mut bad = *r;
    bad.size = 40;
    let e = unsafe { bad.to_sink_batch() }.unwrap_err().to_string();
    assert!(e.contains("size 40"), "{e}");
    let mut ms: Vec<MessageRef> = msgs.iter().map(|m| **m).collect();
    ms[1].payload = std::ptr::null();
    let mut bad = *r;
    bad.messages = ms.as_ptr();
    let e = unsafe { bad.to_sink_batch() }.unwrap_err().to_string();
    assert!(e.contains("messages[1]") && e.contains("payload") && e.contains("NULL"), "{e}");
    drop(words);
}
