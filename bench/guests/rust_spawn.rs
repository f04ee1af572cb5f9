//! A Rust guest of ours for bench:compare (issue 17): raw `extern` imports of the lunatic ABI,
//! std on wasm32-wasi (so its memory starts at 17 pages, like lunatic-rs programs'). `main`
//! spawns N processes running `child`, which exits at once, and waits for each to end
//! (monitor, receive ProcessDied); it prints the nanoseconds that took.
//!
//! Built by bench/rust_guest.ts with Debian's rustc: `rustc --target wasm32-wasi -O`.

use std::time::Instant;

#[link(wasm_import_module = "lunatic::process")]
extern "C" {
    fn spawn(
        link: i64,
        config_id: i64,
        module_id: i64,
        func_ptr: *const u8,
        func_len: usize,
        params_ptr: *const u8,
        params_len: usize,
        id_ptr: *mut u64,
    ) -> u32;
    fn monitor(process_id: u64);
}

#[link(wasm_import_module = "lunatic::message")]
extern "C" {
    fn receive(tags_ptr: *const i64, tags_len: usize, timeout_ms: u64) -> u32;
}

const PROCESS_DIED: u32 = 2;

#[export_name = "child"]
pub extern "C" fn child() {}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let name = "child";
    let started = Instant::now();
    for _ in 0..n {
        let mut id = 0u64;
        let status = unsafe {
            spawn(0, -1, -1, name.as_ptr(), name.len(), std::ptr::null(), 0, &mut id)
        };
        assert_eq!(status, 0, "spawn failed");
        unsafe { monitor(id) };
        loop {
            if unsafe { receive(std::ptr::null(), 0, u64::MAX) } == PROCESS_DIED {
                break;
            }
        }
    }
    println!("spawned {} in {} ns", n, started.elapsed().as_nanos());
}
