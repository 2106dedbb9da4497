//! The raw wasm ABI: the one place with raw pointers and `unsafe`. Everything above it works on
//! typed values through [`crate::state::Host`]. Built only for `wasm32`.
//!
//! See the crate documentation ("The wasm ABI") for the contract between module and runtime.

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::codec::{decode, encode, BoundedBytes};
use crate::contract;
#[cfg(feature = "in-wasm-verify")]
use crate::crypto::Ed25519Strict;
use crate::crypto::{Verifier, MAX_VERIFY_BYTES};
use crate::error::Error;
use crate::state::Host;
use crate::wire::{PublicKey, Signature};

/// A bump allocator. A runtime uses a fresh instance per call, so memory is returned by
/// discarding the instance; only the most recent allocation is freed or grown in place.
struct Bump;

static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
const PAGE: usize = 65_536;

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = NEXT.load(Ordering::Relaxed);
        let mut end = END.load(Ordering::Relaxed);
        if end == 0 {
            // The heap starts at the end of the initial memory, above data and stack.
            end = core::arch::wasm32::memory_size(0) * PAGE;
            next = end;
        }
        let start = (next + layout.align() - 1) & !(layout.align() - 1);
        let Some(new_next) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if new_next > end {
            let pages = (new_next - end).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            end += pages * PAGE;
        }
        NEXT.store(new_next, Ordering::Relaxed);
        END.store(end, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == NEXT.load(Ordering::Relaxed) {
            NEXT.store(ptr as usize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let next = NEXT.load(Ordering::Relaxed);
        if ptr as usize + layout.size() == next {
            // The last allocation grows or shrinks in place when memory allows.
            let new_next = ptr as usize + new_size;
            let end = END.load(Ordering::Relaxed);
            if new_next <= end {
                NEXT.store(new_next, Ordering::Relaxed);
                return ptr;
            }
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return core::ptr::null_mut();
        };
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Bump = Bump;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    const MSG: &[u8] = b"warden-module panicked";
    // SAFETY: MSG is a valid static byte slice.
    unsafe { abort(MSG.as_ptr(), MSG.len() as u32) };
    core::arch::wasm32::unreachable()
}

#[link(wasm_import_module = "warden")]
extern "C" {
    fn storage_read(key_ptr: *const u8, key_len: u32, value_ptr: *mut u8, value_cap: u32) -> i32;
    fn storage_write(key_ptr: *const u8, key_len: u32, value_ptr: *const u8, value_len: u32);
    fn storage_remove(key_ptr: *const u8, key_len: u32);
    fn block_height() -> u64;
    fn block_time() -> u64;
    fn caller(out_ptr: *mut u8) -> i32;
    fn emit_event(ptr: *const u8, len: u32);
    fn output(ptr: *const u8, len: u32);
    fn abort(msg_ptr: *const u8, msg_len: u32);
    #[cfg(not(feature = "in-wasm-verify"))]
    fn verify(key_ptr: *const u8, msg_ptr: *const u8, msg_len: u32, sig_ptr: *const u8) -> i32;
}

/// The buffer a storage read offers first: larger values are read a second time.
const READ_BUFFER_BYTES: usize = 1024;

/// The runtime's strict ed25519 check, through the `verify` import.
#[cfg(not(feature = "in-wasm-verify"))]
struct RuntimeVerifier;

#[cfg(not(feature = "in-wasm-verify"))]
impl Verifier for RuntimeVerifier {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        // SAFETY: a 32-byte key, a live message slice and a 64-byte signature.
        unsafe {
            verify(
                key.0.as_ptr(),
                message.as_ptr(),
                message.len() as u32,
                signature.0.as_ptr(),
            ) == 1
        }
    }
}

/// The verifier this build uses: the runtime's, or with feature `in-wasm-verify`
/// ed25519-dalek's `verify_strict` inside the module.
#[cfg(not(feature = "in-wasm-verify"))]
const VERIFIER: RuntimeVerifier = RuntimeVerifier;
#[cfg(feature = "in-wasm-verify")]
const VERIFIER: Ed25519Strict = Ed25519Strict;

/// The runtime, through its imported functions.
struct WasmHost;

impl Host for WasmHost {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        // Room for most values, left uninitialised: the runtime writes the value into it, and
        // a larger one is read again into a buffer of its announced length.
        let mut buf: Vec<u8> = Vec::with_capacity(READ_BUFFER_BYTES);
        // SAFETY: the key is a live slice; the runtime writes at most `capacity` bytes into
        // the buffer's spare capacity.
        let len = unsafe {
            storage_read(
                key.as_ptr(),
                key.len() as u32,
                buf.as_mut_ptr(),
                buf.capacity() as u32,
            )
        };
        if len < 0 {
            return None;
        }
        let len = len as usize;
        if len > buf.capacity() {
            buf = Vec::with_capacity(len);
            // SAFETY: as above, with a buffer of the announced length.
            unsafe { storage_read(key.as_ptr(), key.len() as u32, buf.as_mut_ptr(), len as u32) };
        }
        // SAFETY: the runtime wrote the value's `len` bytes, within the capacity.
        unsafe { buf.set_len(len) };
        Some(buf)
    }

    fn write(&mut self, key: &[u8], value: &[u8]) {
        // SAFETY: live slices.
        unsafe {
            storage_write(
                key.as_ptr(),
                key.len() as u32,
                value.as_ptr(),
                value.len() as u32,
            )
        }
    }

    fn remove(&mut self, key: &[u8]) {
        // SAFETY: live slice.
        unsafe { storage_remove(key.as_ptr(), key.len() as u32) }
    }

    fn block_height(&self) -> u64 {
        // SAFETY: no arguments.
        unsafe { block_height() }
    }

    fn block_time(&self) -> u64 {
        // SAFETY: no arguments.
        unsafe { block_time() }
    }

    fn caller(&self) -> Option<PublicKey> {
        let mut key = [0u8; 32];
        // SAFETY: a live 32-byte buffer.
        let present = unsafe { caller(key.as_mut_ptr()) };
        (present == 1).then_some(PublicKey(key))
    }

    fn emit(&mut self, event: &[u8]) {
        // SAFETY: live slice.
        unsafe { emit_event(event.as_ptr(), event.len() as u32) }
    }
}

/// Allocates `len` bytes for the runtime to write an input into; returns the pointer. The
/// memory belongs to the instance, which is discarded after the call.
#[no_mangle]
pub extern "C" fn warden_alloc(len: u32) -> *mut u8 {
    let mut buf: Vec<u8> = Vec::with_capacity(len as usize);
    let ptr = buf.as_mut_ptr();
    core::mem::forget(buf);
    ptr
}

/// # Safety
/// `ptr..ptr + len` must be memory the runtime wrote through [`warden_alloc`].
unsafe fn input<'a>(ptr: *const u8, len: u32) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    core::slice::from_raw_parts(ptr, len as usize)
}

fn finish(result: Result<Option<Vec<u8>>, Error>) -> u32 {
    let (code, out) = match result {
        Ok(out) => (0, out),
        Err(e) => (e.code(), Some(encode(&e))),
    };
    if let Some(out) = out {
        // SAFETY: live slice.
        unsafe { output(out.as_ptr(), out.len() as u32) };
    }
    code
}

/// Initialises the module from a borsh [`crate::msg::Genesis`]. Returns 0 or an error code.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn warden_init(ptr: *const u8, len: u32) -> u32 {
    finish(contract::init(&mut WasmHost, input(ptr, len)).map(|()| None))
}

/// Executes a borsh [`crate::msg::Msg`]. Returns 0 or an error code.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn warden_execute(ptr: *const u8, len: u32) -> u32 {
    finish(contract::execute(&mut WasmHost, &VERIFIER, input(ptr, len)).map(|()| None))
}

/// Answers a borsh [`crate::msg::Query`]; the response goes to `output`. Returns 0 or an
/// error code.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn warden_query(ptr: *const u8, len: u32) -> u32 {
    finish(contract::query(&mut WasmHost, input(ptr, len)).map(Some))
}

/// Verifies one signature with the module's verifier (see `VERIFIER`): input is borsh
/// `(PublicKey, BoundedBytes<65536>, Signature)`. Returns 0 when it verifies, or an error code
/// (`BadSignature`, `Decode`, `TooLarge`). Reads and writes no state.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn warden_verify(ptr: *const u8, len: u32) -> u32 {
    let result =
        decode::<(PublicKey, BoundedBytes<65536>, Signature)>(input(ptr, len), MAX_VERIFY_BYTES)
            .and_then(|(key, message, signature)| {
                if VERIFIER.verify(&key, message.as_bytes(), &signature) {
                    Ok(None)
                } else {
                    Err(Error::BadSignature { signer: 0 })
                }
            });
    finish(result)
}
