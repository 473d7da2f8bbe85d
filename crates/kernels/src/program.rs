//! Running programs. The encoding, each op's tiling and the op → kernel table live in `ops.rs`, generated
//! from `ops.json`.
//!
//! Each op is cut into tiles (a function of its sizes only) that the pool's threads claim in order (see
//! pool.rs); a tile of an op starts once the ops before it are complete, so an op may read what the previous
//! one wrote. `opcode | REF` runs the op's naive reference as one tile instead (test build only).
use crate::ops::{self, status, Kernel, StopIfNonFiniteArgs};
use crate::pool::{self, Stop, Worker};
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Set by `stopIfNonFinite` when a step's loss is not finite: the job's remaining ops are skipped, so the step
/// applies no update. Cleared when a program starts. A tile reads it after waiting for the ops before its own
/// (the pool's SeqCst `done` counter orders the store before the read), so every op after the guard sees it.
static HALT: AtomicU32 = AtomicU32::new(0);

impl Kernel for StopIfNonFiniteArgs {
    unsafe fn run(&self, tid: usize, _nt: usize) {
        if tid == 0 {
            let v = *self.x;
            if v - v != 0.0 {
                HALT.store(1, Relaxed); // NaN or ±Infinity (v − v is NaN for both)
            }
        }
    }
}

/// Checks a program's framing (known opcodes with their exact word counts, ending exactly at `nwords`, and
/// the declared requirements of their arguments) and returns its tile count, or the status to report.
///
/// # Safety
/// `prog` points at `nwords` readable u32 words.
unsafe fn validate(prog: *const u32, nwords: usize) -> Result<u32, i32> {
    let mut at = 0usize;
    let mut total = 0u32;
    while at < nwords {
        if at + 2 > nwords {
            return Err(status::ERR_PROGRAM);
        }
        let (op, len) = (*prog.add(at), *prog.add(at + 1) as usize);
        match ops::words(op) {
            Some(n) if len == n + 2 && at + len <= nwords => {}
            None if ops::wants_reference(op) => return Err(status::ERR_NO_REFERENCE),
            _ => return Err(status::ERR_PROGRAM),
        }
        if !ops::check(op, prog.add(at + 2)) {
            return Err(status::ERR_PROGRAM);
        }
        total = total.checked_add(ops::tiles(op, prog.add(at + 2))).ok_or(status::ERR_PROGRAM)?;
        at += len;
    }
    Ok(total)
}

/// One thread's part of a job: claims tiles in order and runs each once the ops before its op are done.
///
/// # Safety
/// For a program job, `a` and `b` are a program and its length that `validate` accepted, alive until the
/// job ends.
unsafe fn job(kind: u32, a: u32, b: u32, w: &mut Worker) -> Result<(), Stop> {
    if kind == pool::JOB_TRAP {
        if w.tid == a as usize {
            core::arch::wasm32::unreachable();
        }
        return Ok(());
    }
    let (prog, nwords) = (a as usize as *const u32, b as usize);
    // The op the last claimed tile fell in: its word offset, first tile number and tile count.
    let (mut at, mut base, mut count) = (0usize, 0u32, 0u32);
    let mut ready = 0u32; // tiles known complete
    let mut started = false;
    while let Some(t) = w.claim() {
        // A successful claim keeps the job (and so the program's memory) alive until finish().
        if !started {
            count = ops::tiles(*prog, prog.add(2));
            started = true;
        }
        while t >= base + count {
            base += count;
            at += *prog.add(at + 1) as usize;
            if at >= nwords {
                return Ok(()); // unreachable for a validated program
            }
            count = ops::tiles(*prog.add(at), prog.add(at + 2));
        }
        if ready < base {
            w.wait_done(base)?;
            ready = base;
        }
        if HALT.load(Relaxed) == 0 {
            let p = prog.add(at);
            ops::exec(*p, p.add(2), (t - base) as usize, count as usize);
        }
        w.finish();
    }
    Ok(())
}

fn code(r: Result<(), Stop>) -> i32 {
    match r {
        Ok(()) => status::OK,
        Err(Stop::Failed) => status::ERR_WORKER,
        Err(Stop::Aborted) => status::ERR_ABORTED,
    }
}

/// Runs a program on the pool. Returns OK, or why it stopped.
///
/// # Safety
/// `prog` points at `nwords` u32 words of a program whose pointers address memory laid out as each op
/// declares (the TypeScript side allocates them); the words stay unchanged while it runs.
#[no_mangle]
pub unsafe extern "C" fn wl_run(prog: *const u32, nwords: u32) -> i32 {
    match validate(prog, nwords as usize) {
        Ok(total) => {
            HALT.store(0, Relaxed); // published to the workers with the job
            code(pool::run_job(pool::JOB_PROGRAM, prog as u32, nwords, total, job))
        }
        Err(status) => status,
    }
}

/// Test hook: makes thread `tid` trap inside the next job, to check that a dying worker is reported.
#[no_mangle]
pub extern "C" fn wl_debug_trap_on(tid: u32) -> i32 {
    if tid as usize >= pool::nthreads() {
        return status::ERR_PROGRAM; // no such thread in the pool: it would wait forever
    }
    code(pool::run_job(pool::JOB_TRAP, tid, 0, 1, job))
}
