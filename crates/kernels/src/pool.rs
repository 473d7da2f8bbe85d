//! The thread pool's runtime, in wasm so that a whole training step needs one call from JS.
//!
//! JS starts `n - 1` workers, each instantiating this module on the same shared memory with its own stack
//! and calling `wl_worker_main(tid)`, which only returns at shutdown. The calling thread is thread 0.
//!
//! Work moves to whoever is running. A job (a program) is cut into *tiles*: each op into a number of tiles
//! that depends only on the op's sizes, never on the thread count, and tiles are numbered across the whole
//! program. Threads claim tile numbers from one shared counter, in order, and count finished tiles in
//! another. A tile of op i may start once every tile numbered before op i's first is finished — the done
//! count tells, because nothing after that point can finish earlier. So there is no barrier that waits
//! for *threads*: a thread that is off the CPU (descheduled by a competing process, still waking from its
//! futex) delays only the tiles it already claimed, and the others take everything else. A tile is always
//! computed whole, by one thread, in a fixed order, so results are bitwise identical for any thread count
//! and any schedule.
//!
//! Spinning adapts: a waiter that sees no tile finish for a while sleeps on the done counter's futex
//! (whoever finishes a tile wakes it), and an idle worker shortens its spin before sleeping each time it
//! ended up sleeping anyway. A late worker is harmless: it claims nothing from a finished job.
//!
//! A worker that traps is reported by its JS wrapper through `FAILED`; every wait checks it, so the calling
//! thread gets an error code instead of hanging.
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

/// Control block, read by JS through `wl_pool_ctrl` (as i32 words: 0 = failed, 8 = started; JS notifies
/// words 0–8 when a worker dies, which wakes every sleeper below).
#[repr(C)]
pub struct Ctrl {
    pub failed: AtomicU32, // 0, or 1 + id of the thread that died
    pub abort: AtomicU32,  // set by JS when the calling thread trapped mid-job: workers leave the job
    pub shutdown: AtomicU32,
    pub epoch: AtomicU32, // bumped for each job; idle workers sleep on it
    pub nthreads: AtomicU32,
    pub main_can_block: AtomicU32, // 0 on a browser main thread, where memory.atomic.wait traps
    pub done: AtomicU32,           // tiles of the current job finished; waiters sleep on it
    pub done_sleepers: AtomicU32,
    pub started: AtomicU32, // workers that have entered wl_worker_main
    pub idle_sleepers: AtomicU32,
    // The job, written before its epoch is published. `job_epoch` is written first and checked last by a
    // worker (a seqlock): a worker that read a later job's fields notices and leaves.
    pub job_epoch: AtomicU32,
    pub job_kind: AtomicU32,
    pub job_a: AtomicU32,
    pub job_b: AtomicU32,
    pub job_total: AtomicU32,
    /// Test hook: thread `delay_tid` spins `delay_spins` iterations before each tile it claims.
    pub delay_tid: AtomicU32,
    pub delay_spins: AtomicU32,
    _pad: AtomicU32,
    /// (epoch << 32) | next tile number. The epoch in the same word makes a claim by a worker that is still
    /// on an older job fail instead of taking a tile of the new one.
    pub next: AtomicU64,
    /// Tiles each thread has run (threads 0–15), one 64-byte line each so that counting costs no sharing.
    pub tiles_run: [TileCount; MAX_COUNTED],
}

pub const MAX_COUNTED: usize = 16;

#[repr(C, align(64))]
pub struct TileCount(AtomicU32);

pub static CTRL: Ctrl = Ctrl {
    failed: AtomicU32::new(0),
    abort: AtomicU32::new(0),
    shutdown: AtomicU32::new(0),
    epoch: AtomicU32::new(0),
    nthreads: AtomicU32::new(1),
    main_can_block: AtomicU32::new(1),
    done: AtomicU32::new(0),
    done_sleepers: AtomicU32::new(0),
    started: AtomicU32::new(0),
    idle_sleepers: AtomicU32::new(0),
    job_epoch: AtomicU32::new(0),
    job_kind: AtomicU32::new(0),
    job_a: AtomicU32::new(0),
    job_b: AtomicU32::new(0),
    job_total: AtomicU32::new(0),
    delay_tid: AtomicU32::new(u32::MAX),
    delay_spins: AtomicU32::new(0),
    _pad: AtomicU32::new(0),
    next: AtomicU64::new(0),
    tiles_run: [const { TileCount(AtomicU32::new(0)) }; MAX_COUNTED],
};

/// A program: `a` = its address, `b` = its word count.
pub const JOB_PROGRAM: u32 = 0;
/// Test: thread `a` traps.
pub const JOB_TRAP: u32 = 1;

/// Polls without progress (no tile finished) before a waiter sleeps: ~20–40 µs, longer than a tile takes
/// when its thread is running, far shorter than a scheduler time slice when it is not.
const NO_PROGRESS_SPIN: u32 = 1 << 13;
/// Bounds of an idle worker's spin before it sleeps until the next job (~2 µs … ~150 µs).
const IDLE_SPIN_MIN: u32 = 1 << 10;
const IDLE_SPIN_MAX: u32 = 1 << 16;

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

/// How long a thread waiting for tiles to finish (`wait_done`) sleeps at most, in ns: bounded so that a
/// FAILED/ABORT raised without a notify is still seen.
const DONE_SLEEP_NS: i64 = 2_000_000;
/// How long an idle worker, waiting for the next job, sleeps at most. It has no job to fail or abort, and is
/// woken by the first job that includes it (`run_job`) and by shutdown; no notify can be missed (the epoch
/// is compared when the wait starts). A short bound would wake it 500 times a second for nothing — between
/// training runs, and all along when threads: 'auto' leaves it out because the other core is busy, where
/// each such wake preempted the thread running the jobs (its involuntary context switches fell from ~600
/// to under 100 per 15,000-sample epoch).
const IDLE_SLEEP_NS: i64 = 1_000_000_000;

#[cfg(target_feature = "atomics")]
fn sleep_on(word: &AtomicU32, val: u32, ns: i64) {
    // SAFETY: `word` is an aligned AtomicU32 of CTRL in linear memory; waiting on it reads nothing else.
    unsafe {
        core::arch::wasm32::memory_atomic_wait32(word.as_ptr() as *mut i32, val as i32, ns);
    }
}
#[cfg(not(target_feature = "atomics"))]
fn sleep_on(_: &AtomicU32, _: u32, _: i64) {}

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

fn can_block(tid: usize) -> bool {
    tid != 0 || CTRL.main_can_block.load(Relaxed) != 0
}

/// The work of one job on one thread: claims tiles until none are left. Returns false if it had to stop.
pub trait Work {
    /// Runs on every thread that joins the job, the calling one first. `claim` gives tile numbers in
    /// increasing order; `finish` must be called once per tile after it is complete.
    fn work(&self, t: &mut Worker) -> Result<(), Stop>;
}

/// One thread's handle on the running job.
pub struct Worker {
    pub tid: usize,
    epoch: u32,
    total: u32,
    /// The shared counter's epoch bits, cached for the claim's compare-exchange.
    tag: u64,
}

impl Worker {
    /// The next tile number for this thread, or None when every tile of the job is taken.
    #[inline]
    pub fn claim(&mut self) -> Option<u32> {
        let mut cur = CTRL.next.load(SeqCst);
        loop {
            if cur & !0xFFFF_FFFF != self.tag || (cur as u32) >= self.total {
                return None;
            }
            match CTRL.next.compare_exchange_weak(cur, cur + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        let d = CTRL.delay_tid.load(Relaxed);
        if d == self.tid as u32 {
            for _ in 0..CTRL.delay_spins.load(Relaxed) {
                core::hint::spin_loop();
            }
        }
        Some(cur as u32)
    }

    /// Marks one claimed tile as complete.
    #[inline]
    pub fn finish(&mut self) {
        if let Some(c) = CTRL.tiles_run.get(self.tid) {
            c.0.store(c.0.load(Relaxed).wrapping_add(1), Relaxed); // only this thread writes it
        }
        CTRL.done.fetch_add(1, SeqCst);
        if CTRL.done_sleepers.load(SeqCst) != 0 {
            wake_all(&CTRL.done);
        }
    }

    /// Waits until `target` tiles of the job are complete (all tiles numbered below `target`, since tiles
    /// are claimed in order and each waits for those before its op).
    pub fn wait_done(&self, target: u32) -> Result<(), Stop> {
        let block = can_block(self.tid);
        let mut last = CTRL.done.load(SeqCst);
        let mut idle = 0u32;
        loop {
            let d = CTRL.done.load(SeqCst);
            if d >= target {
                return Ok(());
            }
            if let Some(s) = stopped() {
                return Err(s);
            }
            if d != last {
                last = d;
                idle = 0;
            }
            if idle < NO_PROGRESS_SPIN || !block {
                idle += 1;
                core::hint::spin_loop();
            } else {
                // Whoever holds the missing tiles is not running: give up this core to it.
                CTRL.done_sleepers.fetch_add(1, SeqCst);
                sleep_on(&CTRL.done, d, DONE_SLEEP_NS);
                CTRL.done_sleepers.fetch_sub(1, SeqCst);
                idle = 0;
            }
        }
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }
}

/// What a job runs: set by the program interpreter.
///
/// # Safety
/// `a` and `b` are what the job was started with (for the interpreter: a program's address and length
/// in words, a program the TypeScript planner encoded over live buffers); the function may run on every
/// thread of the pool at once.
pub type JobFn = unsafe fn(kind: u32, a: u32, b: u32, w: &mut Worker) -> Result<(), Stop>;
static JOB_FN: AtomicU32 = AtomicU32::new(0);

/// Registers the function every thread runs for a job (a plain function: no pointer into a stack).
pub fn set_job_fn(f: JobFn) {
    JOB_FN.store(f as usize as u32, Relaxed);
}

/// Runs a job of `total` tiles on the pool and returns when every tile is complete.
pub fn run_job(kind: u32, a: u32, b: u32, total: u32, f: JobFn) -> Result<(), Stop> {
    set_job_fn(f);
    if let Some(s) = stopped() {
        return Err(s);
    }
    let nt = nthreads();
    let epoch = CTRL.epoch.load(Relaxed).wrapping_add(1);
    CTRL.job_epoch.store(epoch, SeqCst);
    CTRL.job_kind.store(kind, SeqCst);
    CTRL.job_a.store(a, SeqCst);
    CTRL.job_b.store(b, SeqCst);
    CTRL.job_total.store(total, SeqCst);
    CTRL.done.store(0, SeqCst);
    let tag = (epoch as u64) << 32;
    CTRL.next.store(tag, SeqCst);
    CTRL.epoch.store(epoch, SeqCst);
    // One thread: nobody is woken. A worker that wakes anyway (its sleep is bounded) finds no place in
    // the job (tid >= nthreads) and sleeps again.
    if nt > 1 && CTRL.idle_sleepers.load(SeqCst) != 0 {
        wake_all(&CTRL.epoch);
    }
    let mut w = Worker { tid: 0, epoch, total, tag };
    // SAFETY: the caller passes a job function with the arguments it expects (a validated program).
    let r = unsafe { f(kind, a, b, &mut w) };
    // Tiles claimed by others may still be running (they finish them even if this thread stopped).
    let end = w.wait_done(total);
    r.and(end)
}

#[no_mangle]
pub extern "C" fn wl_worker_main(tid: u32) {
    let tid = tid as usize;
    CTRL.started.fetch_add(1, AcqRel);
    let mut seen = CTRL.epoch.load(SeqCst);
    let mut budget = IDLE_SPIN_MAX / 2;
    loop {
        let mut i = 0u32;
        // A worker left out of the jobs (fewer threads configured, as threads: 'auto' does when the cores
        // are busy) sleeps at once: its spinning would take a share of the core the calling thread needs
        // (with another process on one of two cores, the OS gives this process about one core for all of
        // its threads).
        let spin = if tid < nthreads() { budget } else { 0 };
        loop {
            if CTRL.shutdown.load(Relaxed) != 0 {
                return;
            }
            if CTRL.epoch.load(SeqCst) != seen {
                // The job came while spinning: spinning pays, allow a little more next time.
                if i < spin {
                    budget = (budget * 2).min(IDLE_SPIN_MAX);
                }
                break;
            }
            if i < spin {
                i += 1;
                core::hint::spin_loop();
            } else {
                if i == spin && spin > 0 {
                    // Spun for nothing: spin less before sleeping next time.
                    budget = (budget / 4).max(IDLE_SPIN_MIN);
                }
                i = spin + 1;
                CTRL.idle_sleepers.fetch_add(1, SeqCst);
                sleep_on(&CTRL.epoch, seen, IDLE_SLEEP_NS);
                CTRL.idle_sleepers.fetch_sub(1, SeqCst);
            }
        }
        seen = CTRL.epoch.load(SeqCst);
        if tid >= nthreads() {
            continue;
        }
        // Read the job, then check it is still the one of `seen` (see Ctrl::job_epoch).
        let (kind, a, b, total) = (CTRL.job_kind.load(SeqCst), CTRL.job_a.load(SeqCst), CTRL.job_b.load(SeqCst), CTRL.job_total.load(SeqCst));
        if CTRL.job_epoch.load(SeqCst) != seen {
            continue;
        }
        let f = JOB_FN.load(Relaxed);
        if f == 0 {
            continue;
        }
        // SAFETY: JOB_FN only ever holds a `JobFn` stored by run_job (0 meaning none), read back as that type.
        let f: JobFn = unsafe { core::mem::transmute(f as usize) };
        let mut w = Worker { tid, epoch: seen, total, tag: (seen as u64) << 32 };
        // A stop (failure elsewhere, abort) ends this thread's part; the caller reports it.
        // SAFETY: the job's arguments were published with it; a worker that read a later job's fields
        // fails its claims (the epoch tag) and leaves without touching them.
        let _ = unsafe { f(kind, a, b, &mut w) };
    }
}

/// Sets how many threads take part in jobs (1 ..= started workers + 1) and whether the calling thread may
/// block. Changing it between jobs is free: tiles do not depend on it. Returns the control block's address.
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
    wake_all(&CTRL.done);
}

/// After a trap on the calling thread: make workers leave the job, and clear the flag once they have.
#[no_mangle]
pub extern "C" fn wl_pool_abort() {
    CTRL.abort.store(1, Release);
    wake_all(&CTRL.done);
}

#[no_mangle]
pub extern "C" fn wl_pool_ctrl() -> u32 {
    &CTRL as *const Ctrl as u32
}

/// Tiles thread `tid` has run since the module started (tests and the bench: who did the work).
#[no_mangle]
pub extern "C" fn wl_pool_tiles_run(tid: u32) -> u32 {
    CTRL.tiles_run.get(tid as usize).map_or(0, |c| c.0.load(Relaxed))
}

/// Test hook: thread `tid` spins `spins` iterations before each tile it claims (u32::MAX: nobody), so a
/// test can check that a thread running late changes nothing in the results.
#[no_mangle]
pub extern "C" fn wl_debug_delay(tid: u32, spins: u32) {
    CTRL.delay_spins.store(spins, Relaxed);
    CTRL.delay_tid.store(tid, Relaxed);
}
