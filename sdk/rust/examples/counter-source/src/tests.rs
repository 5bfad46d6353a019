//! Tests of the counter source through its exported `extern "C"` functions only, as the runtime calls
//! them: raw pointers in, malloc'ed CBOR out, released with `iggy_plugin_free`. Every test uses its
//! own instance ids because the instance table and the log buffer are shared by the whole library.

use std::ptr;

use iggy_connector_sdk::{code, status, Error, PluginInfo, PollResult, Record};

use super::*;

/// A call's status and its out buffer (copied, then released with iggy_plugin_free).
fn take(st: i32, out: *mut u8, len: usize) -> (i32, Option<Vec<u8>>) {
    if out.is_null() {
        return (st, None);
    }
    let v = unsafe { std::slice::from_raw_parts(out, len) }.to_vec();
    unsafe { iggy_plugin_free(out, len) };
    (st, Some(v))
}

fn err_of(r: &(i32, Option<Vec<u8>>)) -> Error {
    Error::from_cbor(r.1.as_deref().expect("an Error record")).expect("Error decodes")
}

fn open(id: u32, cfg: &str, state: &[u8]) -> (i32, Option<Vec<u8>>) {
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe {
        iggy_source_open(
            id,
            cfg.as_ptr(),
            cfg.len(),
            if state.is_empty() { ptr::null() } else { state.as_ptr() },
            state.len(),
            &mut out,
            &mut len,
        )
    };
    take(st, out, len)
}

fn poll(id: u32) -> (i32, Option<Vec<u8>>) {
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe { iggy_source_poll(id, &mut out, &mut len) };
    take(st, out, len)
}

fn poll_ok(id: u32) -> PollResult {
    let r = poll(id);
    assert_eq!(r.0, status::OK, "poll {id}: {:?}", r.1.as_deref().map(Error::from_cbor));
    PollResult::from_cbor(r.1.as_deref().expect("a PollResult")).expect("PollResult decodes")
}

fn commit(id: u32, batch: u64) -> (i32, Option<Vec<u8>>) {
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe { iggy_source_commit(id, batch, &mut out, &mut len) };
    take(st, out, len)
}

fn close(id: u32) -> (i32, Option<Vec<u8>>) {
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe { iggy_source_close(id, &mut out, &mut len) };
    take(st, out, len)
}

fn validate(cfg: &str) -> (i32, Option<Vec<u8>>) {
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe { iggy_plugin_validate_config(cfg.as_ptr(), cfg.len(), &mut out, &mut len) };
    take(st, out, len)
}

fn drain() -> Vec<iggy_connector_sdk::LogRecord> {
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe { iggy_plugin_drain_logs(&mut out, &mut len) };
    assert_eq!(st, status::OK);
    match take(st, out, len).1 {
        None => vec![],
        Some(b) => Vec::<iggy_connector_sdk::LogRecord>::from_cbor(&b).expect("LogBatch decodes"),
    }
}

fn payloads(p: &PollResult) -> Vec<String> {
    p.messages.iter().map(|m| String::from_utf8(m.payload.clone()).unwrap()).collect()
}

#[test]
fn abi_version_and_plugin_info() {
    assert_eq!(iggy_plugin_abi_version(), 0x0001_0001);
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let r = take(unsafe { iggy_plugin_info(&mut out, &mut len) }, out, len);
    assert_eq!(r.0, status::OK);
    let info = PluginInfo::from_cbor(&r.1.unwrap()).unwrap();
    assert_eq!(info.abi_version, 0x0001_0001);
    assert_eq!((info.kind.as_str(), info.name.as_str(), info.version.as_str()), ("source", "counter", "0.1.0"));
    assert_eq!(info.sdk, "rust-sdk/0.1.0");
    let names: Vec<_> =
        info.config_fields.iter().map(|f| (f.name.as_str(), f.ty.as_str(), f.required, f.default.as_str())).collect();
    assert_eq!(
        names,
        vec![
            ("prefix", "string", true, ""),
            ("batch_size", "int", false, "10"),
            ("max_count", "int", false, ""),
            ("panic_at", "int", false, "")
        ]
    );
    assert_eq!(unsafe { iggy_plugin_info(ptr::null_mut(), ptr::null_mut()) }, status::BAD_INPUT);
}

#[test]
fn bad_configs_name_the_field() {
    let cases: &[(&str, i32, &str, &str)] = &[
        (r#"{"prefx":"a"}"#, status::PERMANENT, "prefx", "did you mean \"prefix\""),
        (r#"{}"#, status::PERMANENT, "prefix", "prefix is required"),
        (r#"{"prefix":"a","batch_size":0}"#, status::PERMANENT, "batch_size", "between 1 and 100000, got 0"),
        (r#"{"prefix":"a","batch_size":"ten"}"#, status::PERMANENT, "batch_size", "invalid type: string"),
        (r#"{"prefix":"a","max_count":-3}"#, status::PERMANENT, "max_count", "invalid value"),
        (r#"{"prefix":1}"#, status::PERMANENT, "prefix", "expected a string"),
        (r#"["prefix"]"#, status::PERMANENT, "", "must be a JSON object"),
        (r#"{"prefix":"#, status::BAD_INPUT, "", "not valid JSON"),
    ];
    for (i, (cfg, st, field, msg)) in cases.iter().enumerate() {
        for r in [validate(cfg), open(1000 + i as u32, cfg, &[])] {
            assert_eq!(r.0, *st, "{cfg}");
            let e = err_of(&r);
            assert_eq!(e.field, *field, "{cfg}: {e}");
            assert!(e.message.contains(msg), "{cfg}: {e} lacks {msg:?}");
            assert!(!e.retryable);
            let want_code = if *st == status::BAD_INPUT { code::BAD_INPUT } else { code::INVALID_CONFIG };
            assert_eq!(e.code, want_code, "{cfg}");
        }
        assert_eq!(poll(1000 + i as u32).0, status::UNKNOWN_INSTANCE, "a refused open registers nothing");
    }
    assert_eq!(validate(r#"{"prefix":"a","batch_size":5,"max_count":null}"#), (status::OK, None));
}

#[test]
fn open_poll_commit_close_and_resume_from_state() {
    let cfg = r#"{"prefix":"p-","batch_size":3}"#;
    assert_eq!(open(1, cfg, &[]), (status::OK, None));

    let b1 = poll_ok(1);
    assert_eq!(b1.batch_id, 1);
    assert_eq!(b1.schema, "json");
    assert_eq!(payloads(&b1), vec![r#"{"n":1,"text":"p-1"}"#, r#"{"n":2,"text":"p-2"}"#, r#"{"n":3,"text":"p-3"}"#]);
    assert_eq!(b1.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(b1.state, vec![0x91, 0x04], "state {{next: 4}} as a MessagePack array");
    assert_eq!(b1.wait_hint_ms, 0);

    let b2 = poll_ok(1); // polled before b1 is committed: continues after b1
    assert_eq!(b2.batch_id, 2);
    assert_eq!(payloads(&b2)[0], r#"{"n":4,"text":"p-4"}"#);
    assert_eq!(b2.state, vec![0x91, 0x07]);

    assert_eq!(commit(1, 1), (status::OK, None));
    assert_eq!(close(1), (status::OK, None));
    assert_eq!(poll(1).0, status::UNKNOWN_INSTANCE, "closed ids are unknown");

    // The runtime persisted b1's state (the last committed batch): a reopen continues after it.
    assert_eq!(open(2, cfg, &b1.state), (status::OK, None));
    let again = poll_ok(2);
    assert_eq!(again.batch_id, 1, "batch ids are per instance");
    assert_eq!(payloads(&again), vec![r#"{"n":4,"text":"p-4"}"#, r#"{"n":5,"text":"p-5"}"#, r#"{"n":6,"text":"p-6"}"#]);
    assert_eq!(again.messages[0].id, Some(4));
    assert_eq!(close(2).0, status::OK);

    let logs = drain();
    assert!(
        logs.iter().any(|l| l.instance == 2 && l.message == "counter starts at 4" && l.target == "counter"),
        "logs: {logs:?}"
    );
}

#[test]
fn commits_are_cumulative_and_checked() {
    assert_eq!(open(10, r#"{"prefix":"c","batch_size":1}"#, &[]).0, status::OK);
    for want in 1..=3 {
        assert_eq!(poll_ok(10).batch_id, want);
    }
    assert_eq!(commit(10, 3), (status::OK, None), "one commit covers batches 1..=3");
    assert_eq!(commit(10, 2), (status::OK, None), "an already covered id is a no-op");
    let r = commit(10, 9);
    assert_eq!(r.0, status::PERMANENT);
    let e = err_of(&r);
    assert_eq!(e.code, code::BAD_INPUT);
    assert!(e.message.contains("batch 9 was never polled"), "{e}");
    assert_eq!(close(10).0, status::OK);
    let logs = drain();
    assert!(
        logs.iter().any(|l| l.instance == 10 && l.message == "closed: produced up to 3, committed up to 3"),
        "logs: {logs:?}"
    );
}

#[test]
fn max_count_ends_in_empty_batches_with_a_wait_hint() {
    assert_eq!(open(20, r#"{"prefix":"m","batch_size":4,"max_count":6}"#, &[]).0, status::OK);
    assert_eq!(poll_ok(20).messages.len(), 4);
    let b = poll_ok(20);
    assert_eq!(payloads(&b), vec![r#"{"n":5,"text":"m5"}"#, r#"{"n":6,"text":"m6"}"#]);
    let empty = poll_ok(20);
    assert!(empty.messages.is_empty());
    assert!(empty.state.is_empty(), "an empty batch changes no state");
    assert_eq!(empty.wait_hint_ms, DONE_WAIT_MS);
    assert_eq!(close(20).0, status::OK);
    // resuming at the end stays at the end
    assert_eq!(open(21, r#"{"prefix":"m","batch_size":4,"max_count":6}"#, &b.state).0, status::OK);
    assert!(poll_ok(21).messages.is_empty());
    assert_eq!(close(21).0, status::OK);
}

#[test]
fn instance_ids_are_checked() {
    assert_eq!(poll(99).0, status::UNKNOWN_INSTANCE);
    assert_eq!(err_of(&poll(99)).code, code::UNKNOWN_INSTANCE);
    assert_eq!(commit(99, 1).0, status::UNKNOWN_INSTANCE);
    assert_eq!(close(99).0, status::UNKNOWN_INSTANCE);
    let r = open(0, r#"{"prefix":"z"}"#, &[]);
    assert_eq!(r.0, status::PERMANENT);
    assert_eq!(open(30, r#"{"prefix":"z"}"#, &[]).0, status::OK);
    let r = open(30, r#"{"prefix":"z"}"#, &[]);
    assert_eq!(r.0, status::PERMANENT);
    assert_eq!(err_of(&r).code, code::ALREADY_OPEN);
    assert_eq!(close(30).0, status::OK);
    // NULL config with a length is refused, not dereferenced
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let st = unsafe { iggy_source_open(31, ptr::null(), 5, ptr::null(), 0, &mut out, &mut len) };
    let r = take(st, out, len);
    assert_eq!(r.0, status::BAD_INPUT);
}

#[test]
fn invalid_state_is_refused_as_corrupt_state() {
    let r = open(40, r#"{"prefix":"s"}"#, &[0xc1]);
    assert_eq!(r.0, status::PERMANENT);
    assert_eq!(err_of(&r).code, "corrupt_state");
    let r = open(41, r#"{"prefix":"s"}"#, &[0x91, 0x00]);
    assert_eq!(r.0, status::PERMANENT);
    assert_eq!(err_of(&r).code, "corrupt_state");
    assert!(err_of(&r).message.contains("next = 0"));
}

#[test]
fn a_panic_is_caught_and_the_instance_keeps_working() {
    assert_eq!(open(50, r#"{"prefix":"x","batch_size":2,"panic_at":3}"#, &[]).0, status::OK);
    assert_eq!(poll_ok(50).messages.len(), 2);
    let r = poll(50);
    assert_eq!(r.0, status::PERMANENT);
    let e = err_of(&r);
    assert_eq!(e.code, code::PANIC);
    assert!(e.message.contains("panic in source_poll: counter: panic_at 3 reached"), "{e}");
    assert!(!e.retryable);
    // the batch id was not consumed and the instance still answers
    assert_eq!(poll(50).0, status::PERMANENT);
    assert_eq!(commit(50, 1), (status::OK, None));
    assert_eq!(close(50), (status::OK, None));
    let logs = drain();
    assert!(
        logs.iter()
            .any(|l| l.instance == 50 && l.level == 4 && l.message.starts_with("recovered panic in source_poll")),
        "logs: {logs:?}"
    );
}

#[test]
fn instances_run_concurrently() {
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            std::thread::spawn(move || {
                let id = 60 + t;
                assert_eq!(open(id, r#"{"prefix":"t","batch_size":5}"#, &[]).0, status::OK);
                let mut n = 0u64;
                for b in 1..=50u64 {
                    let p = poll_ok(id);
                    assert_eq!(p.batch_id, b);
                    for m in &p.messages {
                        n += 1;
                        assert_eq!(m.id, Some(n as u128));
                    }
                    assert_eq!(commit(id, b).0, status::OK);
                }
                assert_eq!(close(id).0, status::OK);
                n
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), 250);
    }
}
