//! libnftables, the library behind the `nft` command, loaded at run time and called in
//! process: the same JSON in and out as `nft -j`, without a fork and exec per change
//! (about 4 ms each here, most of what publishing a port cost). This is the crate's one
//! module with unsafe code.
//!
//! The library is opened with dlopen by its soname, so building berth needs no
//! development package and a host without it falls back to the `nft` binary.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

type Ctx = *mut c_void;
type CtxNew = unsafe extern "C" fn(u32) -> Ctx;
type CtxFn = unsafe extern "C" fn(Ctx);
type CtxInt = unsafe extern "C" fn(Ctx) -> c_int;
type CtxStr = unsafe extern "C" fn(Ctx) -> *const c_char;
type CtxFlags = unsafe extern "C" fn(Ctx, u32);
type CtxRun = unsafe extern "C" fn(Ctx, *const c_char) -> c_int;

/// `NFT_CTX_DEFAULT` for `nft_ctx_new`.
const CTX_DEFAULT: u32 = 0;
/// `NFT_CTX_OUTPUT_JSON` of libnftables' output flags: JSON output, and JSON input
/// accepted by `nft_run_cmd_from_buffer`.
const OUTPUT_JSON: u32 = 1 << 4;

/// The functions berth uses, resolved from `libnftables.so.1`.
pub(crate) struct Library {
    ctx_new: CtxNew,
    ctx_free: CtxFn,
    buffer_output: CtxInt,
    buffer_error: CtxInt,
    output_buffer: CtxStr,
    error_buffer: CtxStr,
    set_output_flags: CtxFlags,
    run_cmd: CtxRun,
    // libnftables keeps some global state (its symbol tables, the gmp allocator);
    // one call at a time per process.
    serial: Mutex<()>,
}

/// The library, loaded once; `None` if this host does not have it.
pub(crate) fn library() -> Option<&'static Library> {
    static LIB: OnceLock<Option<Library>> = OnceLock::new();
    LIB.get_or_init(load).as_ref()
}

fn load() -> Option<Library> {
    // SAFETY: dlopen with a constant, NUL-terminated name; the handle is never closed, so
    // the function pointers taken from it stay valid for the life of the process.
    let handle = unsafe {
        libc::dlopen(
            c"libnftables.so.1".as_ptr(),
            libc::RTLD_NOW | libc::RTLD_LOCAL,
        )
    };
    if handle.is_null() {
        return None;
    }
    macro_rules! sym {
        ($name:literal, $ty:ty) => {{
            // SAFETY: dlsym on a live handle with a NUL-terminated name.
            let p = unsafe { libc::dlsym(handle, $name.as_ptr()) };
            if p.is_null() {
                return None;
            }
            // SAFETY: the symbol is the libnftables function of that name, whose C
            // signature (libnftables(3)) is the one the field declares.
            unsafe { std::mem::transmute::<*mut c_void, $ty>(p) }
        }};
    }
    Some(Library {
        ctx_new: sym!(c"nft_ctx_new", CtxNew),
        ctx_free: sym!(c"nft_ctx_free", CtxFn),
        buffer_output: sym!(c"nft_ctx_buffer_output", CtxInt),
        buffer_error: sym!(c"nft_ctx_buffer_error", CtxInt),
        output_buffer: sym!(c"nft_ctx_get_output_buffer", CtxStr),
        error_buffer: sym!(c"nft_ctx_get_error_buffer", CtxStr),
        set_output_flags: sym!(c"nft_ctx_output_set_flags", CtxFlags),
        run_cmd: sym!(c"nft_run_cmd_from_buffer", CtxRun),
        serial: Mutex::new(()),
    })
}

impl Library {
    /// Runs one command (native syntax such as `list table ip berth`, or a JSON document)
    /// with JSON output. Returns the output, or the library's error text.
    pub(crate) fn run(&self, command: &str) -> Result<String, String> {
        let command =
            CString::new(command).map_err(|_| "command contains a NUL byte".to_string())?;
        let _serial = self.serial.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: a fresh context, used only here and freed before returning; the
        // buffers it hands back are NUL-terminated strings owned by the context, copied
        // out before it is freed.
        unsafe {
            let ctx = (self.ctx_new)(CTX_DEFAULT);
            if ctx.is_null() {
                return Err("nft_ctx_new failed".into());
            }
            (self.buffer_output)(ctx);
            (self.buffer_error)(ctx);
            (self.set_output_flags)(ctx, OUTPUT_JSON);
            let rc = (self.run_cmd)(ctx, command.as_ptr());
            let text = |p: *const c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            let out = text((self.output_buffer)(ctx));
            let err = text((self.error_buffer)(ctx));
            (self.ctx_free)(ctx);
            if rc == 0 { Ok(out) } else { Err(err) }
        }
    }
}
