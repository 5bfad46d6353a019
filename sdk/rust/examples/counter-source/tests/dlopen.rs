//! Loads the built cdylib with dlopen, as the runtime does, and drives it through its symbols: the
//! symbol set of a source is exported (and no sink symbol), and a poll works across the C ABI.

use std::ffi::{c_void, CStr, CString};
use std::path::PathBuf;
use std::ptr;

use iggy_connector_sdk::{status, PollResult, Record};

/// The cdylib cargo built for this test run: target/<profile>/deps/ (beside this test's executable),
/// or target/<profile>/ after a `cargo build`.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("target/<profile>/deps");
    let name = format!("{}iggy_connector_counter_source{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let candidates = [deps.join(&name), deps.parent().expect("target/<profile>").join(&name)];
    candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| panic!("no {name} in {candidates:?}"))
}

struct Lib(*mut c_void);

impl Lib {
    fn open() -> Lib {
        let path = library();
        let c = CString::new(path.to_str().unwrap()).unwrap();
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            let e = unsafe { CStr::from_ptr(libc::dlerror()) };
            panic!("dlopen {}: {}", path.display(), e.to_string_lossy());
        }
        Lib(h)
    }
    fn sym(&self, name: &str) -> *mut c_void {
        let c = CString::new(name).unwrap();
        unsafe { libc::dlsym(self.0, c.as_ptr()) }
    }
}

impl Drop for Lib {
    fn drop(&mut self) {
        unsafe { libc::dlclose(self.0) };
    }
}

type OpenFn = unsafe extern "C" fn(u32, *const u8, usize, *const u8, usize, *mut *mut u8, *mut usize) -> i32;
type PollFn = unsafe extern "C" fn(u32, *mut *mut u8, *mut usize) -> i32;
type FreeFn = unsafe extern "C" fn(*mut u8, usize);
type VersionFn = unsafe extern "C" fn() -> u32;

#[test]
fn the_built_library_exports_the_source_abi() {
    let lib = Lib::open();
    for s in [
        "iggy_plugin_abi_version",
        "iggy_plugin_info",
        "iggy_plugin_free",
        "iggy_plugin_drain_logs",
        "iggy_plugin_validate_config",
        "iggy_source_open",
        "iggy_source_poll",
        "iggy_source_commit",
        "iggy_source_close",
    ] {
        assert!(!lib.sym(s).is_null(), "{s} is not exported");
    }
    for s in ["iggy_sink_open", "iggy_sink_consume", "iggy_sink_close"] {
        assert!(lib.sym(s).is_null(), "a source must not export {s}");
    }
    unsafe {
        let version: VersionFn = std::mem::transmute(lib.sym("iggy_plugin_abi_version"));
        assert_eq!(version(), 0x0001_0001);
        let open: OpenFn = std::mem::transmute(lib.sym("iggy_source_open"));
        let poll: PollFn = std::mem::transmute(lib.sym("iggy_source_poll"));
        let close: PollFn = std::mem::transmute(lib.sym("iggy_source_close"));
        let free: FreeFn = std::mem::transmute(lib.sym("iggy_plugin_free"));
        let cfg = br#"{"prefix":"so-","batch_size":2}"#;
        let (mut out, mut len) = (ptr::null_mut(), 0usize);
        assert_eq!(open(7, cfg.as_ptr(), cfg.len(), ptr::null(), 0, &mut out, &mut len), status::OK);
        assert!(out.is_null());
        assert_eq!(poll(7, &mut out, &mut len), status::OK);
        let p = PollResult::from_cbor(std::slice::from_raw_parts(out, len)).expect("PollResult");
        free(out, len);
        assert_eq!(p.batch_id, 1);
        assert_eq!(p.messages[1].payload, br#"{"n":2,"text":"so-2"}"#);
        let (mut out, mut len) = (ptr::null_mut(), 0usize);
        assert_eq!(close(7, &mut out, &mut len), status::OK);
    }
}
