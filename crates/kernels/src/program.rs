//! The program interpreter: the one central place that maps ops to kernels.
//!
//! A program is a list of ops, each `[opcode, word count including these two, args…]` (u32 words;
//! pointers are byte offsets into linear memory, f32 args are their bit patterns). Each op is cut into tiles
//! (`tiles`: a function of its sizes only) that the pool's threads claim in order (see pool.rs); a tile of
//! an op starts once the ops before it are complete, so an op may read what the previous one wrote.
//! `opcode | REF` runs the op's naive reference as one tile instead (used by the tests).
use crate::pool::{self, Stop, Worker};
use crate::{activation, data, dropout, gemm, loss, metrics, optim, reduce, softmax};

pub const GEMM: u32 = 1;
pub const ACT_FWD: u32 = 2;
pub const ACT_BWD: u32 = 3;
pub const SOFTMAX_FWD: u32 = 4;
pub const SOFTMAX_BWD: u32 = 5;
pub const DROPOUT_FWD: u32 = 6;
pub const MUL: u32 = 7;
pub const LOSS: u32 = 8;
pub const ACCURACY: u32 = 9;
pub const SUM: u32 = 10;
pub const COLSUM: u32 = 11;
pub const ADAM: u32 = 12;
pub const SGD: u32 = 13;
pub const RMSPROP: u32 = 14;
pub const GATHER: u32 = 15;
pub const COUNT_NONFINITE: u32 = 16;
/// A weight gradient that is applied by Adam as it is computed (never stored): args as GEMM's first ten
/// (C = the parameter), then m, v, β1, β2, ε, αₜ. K must be ≤ gemm::KC.
pub const GEMM_ADAM: u32 = 17;
pub const REF: u32 = 0x100;

pub const OK: i32 = 0;
pub const ERR_WORKER: i32 = 1;
pub const ERR_ABORTED: i32 = 2;
pub const ERR_PROGRAM: i32 = 3;

struct Args(*const u32);
impl Args {
    #[inline(always)]
    unsafe fn u(&self, i: usize) -> u32 {
        *self.0.add(2 + i)
    }
    #[inline(always)]
    unsafe fn n(&self, i: usize) -> usize {
        self.u(i) as usize
    }
    #[inline(always)]
    unsafe fn f(&self, i: usize) -> f32 {
        f32::from_bits(self.u(i))
    }
    #[inline(always)]
    unsafe fn p<T>(&self, i: usize) -> *mut T {
        self.u(i) as usize as *mut T
    }
}

/// Argument count (after opcode and length) of each op; the program is checked against it once.
fn arity(op: u32) -> Option<usize> {
    Some(match op & !REF {
        GEMM => 12,
        GEMM_ADAM => 16,
        ACT_FWD => 4,
        ACT_BWD => 5,
        SOFTMAX_FWD => 4,
        SOFTMAX_BWD => 5,
        DROPOUT_FWD => 8,
        MUL => 4,
        LOSS => 10,
        ACCURACY => 6,
        SUM => 4,
        COLSUM => 4,
        ADAM => 9,
        SGD => 7,
        RMSPROP => 7,
        GATHER => 9,
        COUNT_NONFINITE => 3,
        _ => return None,
    })
}

unsafe fn adam_hyper(a: &Args, at: usize) -> optim::AdamHyper {
    optim::AdamHyper { b1: a.f(at), b2: a.f(at + 1), eps: a.f(at + 2), alpha: a.f(at + 3) }
}

unsafe fn gemm_of(a: &Args) -> gemm::Gemm {
    gemm::Gemm {
        layout: a.u(0),
        m: a.n(1),
        n: a.n(2),
        k: a.n(3),
        a: a.p(4),
        lda: a.n(5),
        b: a.p(6),
        ldb: a.n(7),
        c: a.p(8),
        ldc: a.n(9),
        bias: a.p(10),
        act: a.u(11),
        adam: None,
    }
}

unsafe fn exec(op: u32, a: &Args, tid: usize, nt: usize) {
    let reference = op & REF != 0;
    if reference && tid != 0 {
        return;
    }
    let (tid, nt) = if reference { (0, 1) } else { (tid, nt) };
    match op & !REF {
        GEMM => {
            let g = gemm_of(a);
            if reference { gemm::gemm_naive(&g) } else { gemm::gemm_part(&g, tid, nt) }
        }
        GEMM_ADAM => {
            let mut g = gemm_of(a);
            g.bias = core::ptr::null();
            g.act = gemm::ACT_LINEAR;
            g.adam = Some(gemm::AdamUpdate { m: a.p(10), v: a.p(11), h: adam_hyper(a, 12) });
            if reference {
                gemm::gemm_naive(&g)
            } else {
                gemm::gemm_part(&g, tid, nt)
            }
        }
        ACT_FWD => {
            if reference {
                activation::forward_naive(a.u(0), a.n(1), a.p(2), a.p(3))
            } else {
                activation::forward(a.u(0), a.n(1), a.p(2), a.p(3), tid, nt)
            }
        }
        ACT_BWD => {
            if reference {
                activation::backward_naive(a.u(0), a.n(1), a.p(2), a.p(3), a.p(4))
            } else {
                activation::backward(a.u(0), a.n(1), a.p(2), a.p(3), a.p(4), tid, nt)
            }
        }
        SOFTMAX_FWD => {
            if reference {
                softmax::forward_naive(a.n(0), a.n(1), a.p(2), a.p(3))
            } else {
                softmax::forward(a.n(0), a.n(1), a.p(2), a.p(3), tid, nt)
            }
        }
        SOFTMAX_BWD => softmax::backward(a.n(0), a.n(1), a.p(2), a.p(3), a.p(4), tid, nt),
        DROPOUT_FWD => {
            // args: n, x, y, mask, rate, seed, salt, step
            let k = dropout::key(a.u(5), a.u(6), a.u(7));
            if reference {
                dropout::forward_naive(a.n(0), a.p(1), a.p(2), a.p(3), a.f(4), k)
            } else {
                dropout::forward(a.n(0), a.p(1), a.p(2), a.p(3), a.f(4), k, tid, nt)
            }
        }
        MUL => dropout::mul(a.n(0), a.p(1), a.p(2), a.p(3), tid, nt),
        LOSS => {
            let l = loss::Loss {
                kind: a.u(0),
                rows: a.n(1),
                cols: a.n(2),
                pred: a.p(3),
                labels: a.p(4),
                out: a.p(5),
                grad: a.p(6),
                scale: a.f(7),
                flags: a.u(8),
                eps: a.f(9),
            };
            loss::run(&l, tid, nt)
        }
        ACCURACY => metrics::accuracy(a.u(0), a.n(1), a.n(2), a.p(3), a.p(4), a.p(5), tid, nt),
        SUM => {
            // args: n, x, out, scale — sequential, on thread 0
            if tid == 0 {
                reduce::sum(a.n(0), a.p(1), a.p(2), a.f(3))
            }
        }
        COLSUM => {
            if reference {
                reduce::colsum_naive(a.n(0), a.n(1), a.p(2), a.p(3))
            } else {
                reduce::colsum(a.n(0), a.n(1), a.p(2), a.p(3), tid, nt)
            }
        }
        ADAM => {
            let o = optim::Adam { n: a.n(0), p: a.p(1), g: a.p(2), m: a.p(3), v: a.p(4), h: adam_hyper(a, 5) };
            if reference { optim::adam_naive(&o) } else { optim::adam(&o, tid, nt) }
        }
        SGD => {
            let o = optim::Sgd {
                n: a.n(0),
                p: a.p(1),
                g: a.p(2),
                u: a.p(3),
                lr: a.f(4),
                momentum: a.f(5),
                nesterov: a.u(6) != 0,
            };
            optim::sgd(&o, tid, nt)
        }
        RMSPROP => {
            let o = optim::RmsProp { n: a.n(0), p: a.p(1), g: a.p(2), s: a.p(3), lr: a.f(4), rho: a.f(5), eps: a.f(6) };
            optim::rmsprop(&o, tid, nt)
        }
        GATHER => {
            // args: src_kind, dst_kind, rows, row_len, idx, src, dst, divisor, _reserved
            data::gather(a.u(0), a.u(1), a.n(2), a.n(3), a.p(4), a.p(5), a.p(6), a.f(7), tid, nt)
        }
        COUNT_NONFINITE => {
            // args: n, x, out(u32) — on thread 0; used to reject NaN/Inf inputs with a clear error
            if tid == 0 {
                let (n, x, out) = (a.n(0), a.p::<f32>(1), a.p::<u32>(2));
                let mut bad = 0u32;
                for i in 0..n {
                    let v = *x.add(i);
                    bad += (v - v != 0.0 || v != v) as u32;
                }
                *out = bad;
            }
        }
        _ => {}
    }
}

/// How many tiles an op is cut into: a function of its sizes only (never of the thread count), so that a
/// tile is the same work whoever runs it. Tiles of a few µs keep both threads busy on the small ops of a
/// batch-32 step; more would cost more in claims than they gain in balance.
unsafe fn tiles(op: u32, a: &Args) -> u32 {
    if op & REF != 0 {
        return 1;
    }
    let per = |work: usize, unit: usize, max: usize| (work / unit).clamp(1, max.max(1)) as u32;
    match op {
        GEMM | GEMM_ADAM => {
            let (m, n, k) = (a.n(1), a.n(2), a.n(3));
            per(2 * m * n * k, 1 << 17, gemm::max_tiles(a.u(0), m, n, k))
        }
        ACT_FWD => per(a.n(1), if a.u(0) == activation::RELU || a.u(0) == activation::LINEAR { 4096 } else { 1024 }, 64),
        ACT_BWD => per(a.n(1), 4096, 64),
        MUL | DROPOUT_FWD | ADAM | SGD | RMSPROP => per(a.n(0), 4096, 64),
        SOFTMAX_FWD | SOFTMAX_BWD => per(a.n(0) * a.n(1), 2048, a.n(0)),
        LOSS | ACCURACY => per(a.n(1) * a.n(2), 2048, a.n(1)),
        COLSUM => per(a.n(0) * a.n(1), 4096, a.n(1).div_ceil(4)),
        GATHER => per(a.n(2) * a.n(3), 4096, a.n(2)),
        _ => 1, // SUM, COUNT_NONFINITE: one sequential pass
    }
}

/// Checks a program's framing (known opcodes with their exact word counts, ending exactly at `nwords`)
/// and returns its tile count.
unsafe fn validate(prog: *const u32, nwords: usize) -> Option<u32> {
    let mut at = 0usize;
    let mut total = 0u32;
    while at < nwords {
        if at + 2 > nwords {
            return None;
        }
        let (op, len) = (*prog.add(at), *prog.add(at + 1) as usize);
        match arity(op) {
            Some(n) if len == n + 2 && at + len <= nwords => {}
            _ => return None,
        }
        // The fused update keeps no partial sums, so its K (the batch) must fit one chunk.
        if op & !REF == GEMM_ADAM && *prog.add(at + 2 + 3) as usize > gemm::KC {
            return None;
        }
        total = total.checked_add(tiles(op, &Args(prog.add(at))))?;
        at += len;
    }
    Some(total)
}

/// One thread's part of a job: claims tiles in order and runs each once the ops before its op are done.
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
            count = tiles(*prog, &Args(prog));
            started = true;
        }
        while t >= base + count {
            base += count;
            at += *prog.add(at + 1) as usize;
            if at >= nwords {
                return Ok(()); // unreachable for a validated program
            }
            count = tiles(*prog.add(at), &Args(prog.add(at)));
        }
        if ready < base {
            w.wait_done(base)?;
            ready = base;
        }
        let p = prog.add(at);
        exec(*p, &Args(p), (t - base) as usize, count as usize);
        w.finish();
    }
    Ok(())
}

fn code(r: Result<(), Stop>) -> i32 {
    match r {
        Ok(()) => OK,
        Err(Stop::Failed) => ERR_WORKER,
        Err(Stop::Aborted) => ERR_ABORTED,
    }
}

/// Runs a program on the pool. Returns OK, or why it stopped.
#[no_mangle]
pub unsafe extern "C" fn wl_run(prog: *const u32, nwords: u32) -> i32 {
    let Some(total) = validate(prog, nwords as usize) else {
        return ERR_PROGRAM;
    };
    code(pool::run_job(pool::JOB_PROGRAM, prog as u32, nwords, total, job))
}

/// Test hook: makes thread `tid` trap inside the next job, to check that a dying worker is reported.
#[no_mangle]
pub unsafe extern "C" fn wl_debug_trap_on(tid: u32) -> i32 {
    // One tile nobody claims: the job ends when the trapping thread is reported.
    if tid as usize >= pool::nthreads() {
        return ERR_PROGRAM; // no such thread in the pool: it would wait forever
    }
    code(pool::run_job(pool::JOB_TRAP, tid, 0, 1, job))
}
