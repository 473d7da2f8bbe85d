//! Running programs. The encoding and the op → kernel table live in `ops.rs`, generated from `ops.json`.
//!
//! Every thread of the pool walks the whole list, does its share of each op and waits at a barrier before
//! the next, so an op may read what the previous one wrote. `opcode | REF` runs the op's naive reference on
//! thread 0 instead (test build only). Ops that are too small to split run on thread 0 alone.
use crate::ops::{self, status};
use crate::pool::{barrier, run_parallel, Stop};

/// Checks a program's framing once per run: known opcodes with their exact word counts, ending exactly at
/// `nwords`, and the declared requirements of their arguments. Returns the status to report.
///
/// # Safety
/// `prog` points at `nwords` readable u32 words.
unsafe fn validate(prog: *const u32, nwords: usize) -> i32 {
    let mut at = 0usize;
    while at < nwords {
        if at + 2 > nwords {
            return status::ERR_PROGRAM;
        }
        let (op, len) = (*prog.add(at), *prog.add(at + 1) as usize);
        match ops::words(op) {
            Some(n) if len == n + 2 && at + len <= nwords => {}
            None if ops::wants_reference(op) => return status::ERR_NO_REFERENCE,
            _ => return status::ERR_PROGRAM,
        }
        if !ops::check(op, prog.add(at + 2)) {
            return status::ERR_PROGRAM;
        }
        at += len;
    }
    status::OK
}

/// Runs a program on the pool. Returns OK, or why it stopped.
///
/// # Safety
/// `prog` points at `nwords` u32 words of a program whose pointers address memory laid out as each op
/// declares (the TypeScript side allocates them); the words stay unchanged while it runs.
#[no_mangle]
pub unsafe extern "C" fn wl_run(prog: *const u32, nwords: u32) -> i32 {
    let nwords = nwords as usize;
    let v = validate(prog, nwords);
    if v != status::OK {
        return v;
    }
    let base = prog as usize; // an address, so the closure is Sync
    let body = |tid: usize, nt: usize| -> bool {
        let prog = base as *const u32;
        let mut at = 0usize;
        let mut first = true;
        while at < nwords {
            if !first && barrier(tid, nt).is_err() {
                return false;
            }
            first = false;
            // SAFETY: validate checked that [at, at + len) lies inside the program and that its opcode
            // and length agree with the declaration; the caller vouches for the pointers in it.
            unsafe {
                let p = prog.add(at);
                ops::exec(*p, p.add(2), tid, nt);
                at += *p.add(1) as usize;
            }
        }
        true
    };
    match run_parallel(&body) {
        Ok(()) => status::OK,
        Err(Stop::Failed) => status::ERR_WORKER,
        Err(Stop::Aborted) => status::ERR_ABORTED,
    }
}

/// Test hook: makes thread `tid` trap inside the next job, to check that a dying worker is reported.
#[no_mangle]
pub extern "C" fn wl_debug_trap_on(tid: u32) -> i32 {
    let body = |t: usize, _nt: usize| -> bool {
        if t == tid as usize {
            core::arch::wasm32::unreachable();
        }
        true
    };
    match run_parallel(&body) {
        Ok(()) => status::OK,
        Err(Stop::Failed) => status::ERR_WORKER,
        Err(Stop::Aborted) => status::ERR_ABORTED,
    }
}
