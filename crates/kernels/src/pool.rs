//! The thread pool's runtime, in wasm so that a whole training step needs one call from JS.
//!
//! JS starts `n - 1` workers, each instantiating this module on the same shared memory with its own stack
//! and calling `wl_worker_main(tid)`, which only returns at shutdown. The calling thread is thread 0:
//! `run_parallel` publishes a job, wakes the workers, does its own share and meets them at `barrier`.
//! Idle threads spin briefly (a step's ops follow each other within microseconds), then sleep on a futex.
//! A worker that traps is reported by its JS wrapper through `FAILED`; every wait checks it, so the calling
//! thread gets an error code instead of hanging.
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};

/// The control block, declared in ops.json (its layout is read by the JS side too, through `wl_pool_ctrl`).
pub use crate::ops::{Ctrl, CTRL};

static JOB_FN: AtomicUsize = AtomicUsize::new(0);
static JOB_CTX: AtomicUsize = AtomicUsize::new(0);

type JobFn = unsafe fn(ctx: usize, tid: usize, nt: usize) -> bool;

/// Iterations of polling before a thread sleeps: about 50–100 µs on current x86, longer than the gap
/// between two ops of a step but short enough not to burn a core between steps.
const SPIN: u32 = 1 << 15;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stop {
    Failed,
    Aborted,
}

#[inline]
fn stopped() -> Option<Stop> {
    if CTRL.failed.load(Relaxed) != 0 {
        Some(Stop::Failed)
    } else if CTRL.abort.load(Relaxed) != 0 {
        Some(Stop::Aborted)
    } else {
        None
    }
}

/// Waits until `*word != val`; gives up with the reason when a thread failed or the job was aborted.
fn wait_while(word: &AtomicU32, val: u32, can_block: bool) -> Result<(), Stop> {
    let mut i = 0u32;
    loop {
        if word.load(Acquire) != val {
            return Ok(());
        }
        if let Some(s) = stopped() {
            return Err(s);
        }
        if i < SPIN || !can_block {
            i += 1;
            core::hint::spin_loop();
        } else {
            sleep_on(word, val);
        }
    }
}

#[cfg(target_feature = "atomics")]
fn sleep_on(word: &AtomicU32, val: u32) {
    // Bounded sleep so that a FAILED/ABORT raised without a notify is still seen.
    // SAFETY: `word` is an aligned AtomicU32 of CTRL in linear memory; waiting on it reads nothing else.
    unsafe {
        core::arch::wasm32::memory_atomic_wait32(word.as_ptr() as *mut i32, val as i32, 2_000_000);
    }
}
#[cfg(not(target_feature = "atomics"))]
fn sleep_on(_: &AtomicU32, _: u32) {}

#[cfg(target_feature = "atomics")]
fn wake_all(word: &AtomicU32) {
    // SAFETY: `word` is an aligned AtomicU32 of CTRL in linear memory; notify writes nothing.
    unsafe {
        core::arch::wasm32::memory_atomic_notify(word.as_ptr() as *mut i32, u32::MAX);
    }
}
#[cfg(not(target_feature = "atomics"))]
fn wake_all(_: &AtomicU32) {}

pub fn nthreads() -> usize {
    CTRL.nthreads.load(Relaxed) as usize
}

/// Every thread of the current job calls this between ops; returns when all have.
pub fn barrier(tid: usize, nt: usize) -> Result<(), Stop> {
    if nt == 1 {
        return Ok(());
    }
    let gen = CTRL.bar_gen.load(Acquire);
    if CTRL.bar_count.fetch_add(1, AcqRel) + 1 == nt as u32 {
        CTRL.bar_count.store(0, Relaxed);
        CTRL.bar_gen.fetch_add(1, Release);
        wake_all(&CTRL.bar_gen);
        Ok(())
    } else {
        let can_block = tid != 0 || CTRL.main_can_block.load(Relaxed) != 0;
        wait_while(&CTRL.bar_gen, gen, can_block)
    }
}

/// # Safety
/// `ctx` is the address of an `F` that stays alive until every thread has returned from it (run_parallel
/// waits at the job's final barrier before its frame goes).
unsafe fn trampoline<F: Fn(usize, usize) -> bool + Sync>(ctx: usize, tid: usize, nt: usize) -> bool {
    (*(ctx as *const F))(tid, nt)
}

/// Runs `f(tid, nt)` on every thread of the pool and returns when all are done. `f` returns false when it
/// had to stop early (a barrier inside it failed).
pub fn run_parallel<F: Fn(usize, usize) -> bool + Sync>(f: &F) -> Result<(), Stop> {
    let nt = nthreads();
    if let Some(s) = stopped() {
        return Err(s);
    }
    if nt == 1 {
        f(0, 1);
        return Ok(());
    }
    JOB_FN.store(trampoline::<F> as JobFn as usize, Relaxed);
    JOB_CTX.store(f as *const F as usize, Relaxed);
    CTRL.bar_count.store(0, Relaxed);
    CTRL.epoch.fetch_add(1, Release);
    wake_all(&CTRL.epoch);
    let ok = f(0, nt);
    // The job's final barrier: nobody may still be reading `f` (it lives on this stack) when we return.
    barrier(0, nt)?;
    if !ok {
        return Err(stopped().unwrap_or(Stop::Aborted));
    }
    Ok(())
}

#[no_mangle]
pub extern "C" fn wl_worker_main(tid: u32) {
    let tid = tid as usize;
    CTRL.started.fetch_add(1, AcqRel);
    let mut seen = CTRL.epoch.load(Acquire);
    loop {
        // Between jobs a failure or abort of the last job is not our business: only shutdown ends us.
        let mut i = 0u32;
        loop {
            if CTRL.shutdown.load(Relaxed) != 0 {
                return;
            }
            if CTRL.epoch.load(Acquire) != seen {
                break;
            }
            if i < SPIN {
                i += 1;
                core::hint::spin_loop();
            } else {
                sleep_on(&CTRL.epoch, seen);
            }
        }
        seen = CTRL.epoch.load(Acquire);
        let nt = nthreads();
        if tid >= nt {
            continue;
        }
        // SAFETY: run_parallel stored a `trampoline::<F> as JobFn` there before bumping `epoch` (Release,
        // read above with Acquire), so this converts it back to the type it had.
        let f: JobFn = unsafe { core::mem::transmute(JOB_FN.load(Relaxed)) };
        let ctx = JOB_CTX.load(Relaxed);
        // SAFETY: `ctx` is the closure published with `f`; it lives until the job's final barrier, which
        // this thread reaches only after `f` returns.
        if unsafe { f(ctx, tid, nt) } {
            let _ = barrier(tid, nt);
        }
    }
}

/// Sets how many threads take part in jobs (1 ..= started workers + 1) and whether the calling thread may
/// block. Returns the control block's address.
#[no_mangle]
pub extern "C" fn wl_pool_config(nthreads: u32, main_can_block: u32) -> u32 {
    CTRL.nthreads.store(nthreads.max(1), Relaxed);
    CTRL.main_can_block.store(main_can_block, Relaxed);
    &CTRL as *const Ctrl as u32
}

#[no_mangle]
pub extern "C" fn wl_pool_shutdown() {
    CTRL.shutdown.store(1, Release);
    wake_all(&CTRL.epoch);
    wake_all(&CTRL.bar_gen);
}

/// After a trap on the calling thread: make workers leave the job, and clear the flag once they have.
#[no_mangle]
pub extern "C" fn wl_pool_abort() {
    CTRL.abort.store(1, Release);
    wake_all(&CTRL.bar_gen);
}

#[no_mangle]
pub extern "C" fn wl_pool_ctrl() -> u32 {
    &CTRL as *const Ctrl as u32
}
