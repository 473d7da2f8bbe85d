//! GEMM in three row-major layouts, with a fused bias + activation epilogue:
//!   NN: C = A·B    (A [M,K], B [K,N])  — dense forward
//!   TN: C = Aᵀ·B   (A [K,M], B [K,N])  — dense backward, dW = Xᵀ·dY
//!   NT: C = A·Bᵀ   (A [M,K], B [N,K])  — dense backward, dX = dY·Wᵀ
//! NN and TN share one micro-kernel that broadcasts one A value per row and multiplies it by two 4-wide
//! vectors of a B row (a 4×8 tile, twelve v128 registers). NT is a dot-product kernel: both operands are
//! contiguous along K, so a 4×2 tile of 4-lane partial sums is reduced horizontally at the end — except
//! for K ≤ NT_PACK_MAX_K, where Bᵀ is packed into panels and the NN micro-kernel sums sequentially.
//! Each output element is computed by the same sequence of operations whichever tile and thread it falls
//! in (tiles start at fixed multiples of 8 columns; scalar tails do what one SIMD lane does), so results
//! are bitwise identical for any thread count. NN and TN skip the k at which a 4-row band's A values are
//! all zero (`nonzero_ks`): images and ReLU outputs hold many zeros, and the skipped terms could not
//! have changed a bit of the result.
//! GEMM_ADAM is a weight gradient applied by Adam as it is finished, so that the gradient never goes to
//! memory: where it is narrow and its B small (`streams_update`; the seed at batch 32), a few bands of
//! it are finished on the stack and the update then streams their rows; elsewhere each tile updates its
//! own 4×8 piece, which is slower than storing the gradient, so the planner fuses only the first kind.
use crate::ops::act::RELU as ACT_RELU;
use crate::ops::layout::{NN, NT, TN};
use crate::ops::{GemmAdamArgs, GemmArgs, Kernel};
use crate::optim::{adam1, adam4, AdamHyper};
use crate::{hsum, split};
use core::arch::wasm32::*;

impl GemmArgs {
    #[inline(always)]
    fn gemm(&self) -> Gemm {
        let (a, b, c) = (self.a, self.b, self.c);
        Gemm { layout: self.layout, m: self.m, n: self.n, k: self.k, a, lda: self.lda, b, ldb: self.ldb, c, ldc: self.ldc, bias: self.bias, act: self.act, adam: None }
    }
}

impl GemmAdamArgs {
    #[inline(always)]
    fn gemm(&self) -> Gemm {
        let (a, b, c) = (self.a, self.b, self.c);
        let h = AdamHyper { b1: self.beta1, b2: self.beta2, eps: self.epsilon, alpha: self.alpha };
        let adam = Some(AdamUpdate { m: self.adam_m, v: self.adam_v, h });
        Gemm { layout: self.layout, m: self.m, n: self.n, k: self.k, a, lda: self.lda, b, ldb: self.ldb, c, ldc: self.ldc, bias: core::ptr::null(), act: crate::ops::act::LINEAR, adam }
    }
}

impl Kernel for GemmArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        gemm_part(&self.gemm(), tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(2 * self.m * self.n * self.k, 1 << 17, max_tiles(self.layout, self.m, self.n, self.k))
    }
}

/// K ≤ KC (checked by `ops::check` before the program runs): the fused update keeps no partial sums.
impl Kernel for GemmAdamArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        gemm_part(&self.gemm(), tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(2 * self.m * self.n * self.k, 1 << 17, max_tiles(self.layout, self.m, self.n, self.k))
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for GemmArgs {
    unsafe fn reference(&self) {
        gemm_naive(&self.gemm())
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for GemmAdamArgs {
    unsafe fn reference(&self) {
        gemm_naive(&self.gemm())
    }
}

/// One product, decoded. Its invariant, which every `unsafe fn` of this file relies on: `a` addresses A
/// ([m, k] for NN and NT, [k, m] for TN) with rows `lda` floats apart, `b` addresses B ([k, n] for NN and
/// TN, [n, k] for NT) with rows `ldb` apart, `c` addresses C [m, n] with rows `ldc` apart, `bias` is null
/// or n floats, `adam`'s m and v are laid out as C; C does not overlap A, B or the bias. The TypeScript
/// planner allocates them so (src/model/plan.ts); nothing here can check it.
#[derive(Clone, Copy)]
pub struct Gemm {
    pub layout: u32,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: *const f32,
    pub lda: usize,
    pub b: *const f32,
    pub ldb: usize,
    pub c: *mut f32,
    pub ldc: usize,
    pub bias: *const f32, // null: none
    pub act: u32,
    /// When set, C is a parameter and each finished element is its gradient: Adam updates it in place.
    pub adam: Option<AdamUpdate>,
}

#[derive(Clone, Copy)]
pub struct AdamUpdate {
    pub m: *mut f32,
    pub v: *mut f32,
    pub h: AdamHyper,
}

/// c + a·b. The relaxed-SIMD build fuses it (one rounding; x86 FMA / ARM FMLA), which changes results
/// in the last bits relative to the SIMD128 build — never with the thread count.
#[inline(always)]
fn madd(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, c)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(c, f32x4_mul(a, b))
    }
}

#[inline(always)]
fn relu4(v: v128) -> v128 {
    // pmax(v, 0) is `v < 0 ? 0 : v`: NaN stays NaN (so a diverging run is noticed), exactly like store1.
    f32x4_pmax(v, f32x4_splat(0.0))
}

/// # Safety
/// `j + 4 ≤ n` when a bias is given (it reads bias[j..j+4]).
#[inline(always)]
unsafe fn epilogue4(g: &Gemm, j: usize, acc: v128) -> v128 {
    let mut v = acc;
    if !g.bias.is_null() {
        v = f32x4_add(v, v128_load(g.bias.add(j) as *const v128));
    }
    if g.act == ACT_RELU {
        v = relu4(v);
    }
    v
}

/// # Safety
/// `p` is C's element (i, j) of a row this tile owns, and j < n.
#[inline(always)]
unsafe fn store1(g: &Gemm, p: *mut f32, j: usize, acc: f32) {
    let mut v = acc;
    if !g.bias.is_null() {
        v += *g.bias.add(j);
    }
    if g.act == ACT_RELU && v < 0.0 {
        v = 0.0;
    }
    *p = v;
}

/// K is processed in chunks of KC so that a packed panel of B (KC × 8 floats, 32 KiB) fits on the
/// stack and in L1. Partial sums go through C between chunks: the same f32 values as one long loop.
pub const KC: usize = crate::ops::GEMM_KC;
/// Up to this K, NT sums each element sequentially over k like NN (packed Bᵀ); above it, in 4 lanes.
pub const NT_PACK_MAX_K: usize = 16;

/// Copies B[k0..k0+kc, j0..j0+w] into `dst` as kc rows of 8 (zero-padded past w). Unpacked, a panel's
/// rows are ldb apart; with ldb a multiple of 1–2 KiB they all fall in a few L1 sets and evict each other.
/// With `check`, returns whether every value copied is finite: a skipped zero of A (see `nonzero_ks`) times
/// an infinite or NaN value of B would have made NaN, so such a panel is computed densely. Without (no band
/// of A skips anything), returns true and spends nothing on it.
///
/// # Safety
/// B's rows k0..k0+kc and columns j0..j0+w exist (w ≤ 8), and `dst` has room for kc × 8 floats.
#[inline(always)]
unsafe fn pack_b<const BT: bool>(g: &Gemm, k0: usize, kc: usize, j0: usize, w: usize, dst: *mut f32, check: bool) -> bool {
    // Padding is written as two opaque-zero vectors and then overwritten: a constant zero lets LLVM turn
    // it into a memset, i.e. one memory.fill per row of the panel — a call into V8's runtime each time.
    let zero = core::hint::black_box(f32x4_splat(0.0));
    // x − x is +0 for a finite x and NaN otherwise: OR-ed over the panel, nonzero bits mean "not finite".
    let mut bad = zero;
    if BT {
        // B given as [N, K] (NT with a short K): gather the panel's 8 rows column by column.
        for k in 0..kc {
            let d = dst.add(k * 8);
            if w < 8 {
                v128_store(d as *mut v128, zero);
                v128_store(d.add(4) as *mut v128, zero);
            }
            for c in 0..w {
                *d.add(c) = *g.b.add((j0 + c) * g.ldb + k0 + k);
            }
            if check {
                let (x0, x1) = (v128_load(d as *const v128), v128_load(d.add(4) as *const v128));
                bad = v128_or(bad, v128_or(f32x4_sub(x0, x0), f32x4_sub(x1, x1)));
            }
        }
        return !v128_any_true(bad);
    }
    let mut src = g.b.add(k0 * g.ldb + j0);
    let mut d = dst;
    if w == 8 {
        for _ in 0..kc {
            let (x0, x1) = (v128_load(src as *const v128), v128_load(src.add(4) as *const v128));
            v128_store(d as *mut v128, x0);
            v128_store(d.add(4) as *mut v128, x1);
            if check {
                bad = v128_or(bad, v128_or(f32x4_sub(x0, x0), f32x4_sub(x1, x1)));
            }
            src = src.add(g.ldb);
            d = d.add(8);
        }
    } else {
        for _ in 0..kc {
            v128_store(d as *mut v128, zero);
            v128_store(d.add(4) as *mut v128, zero);
            for c in 0..w {
                *d.add(c) = *src.add(c);
            }
            if check {
                let (x0, x1) = (v128_load(d as *const v128), v128_load(d.add(4) as *const v128));
                bad = v128_or(bad, v128_or(f32x4_sub(x0, x0), f32x4_sub(x1, x1)));
            }
            src = src.add(g.ldb);
            d = d.add(8);
        }
    }
    !v128_any_true(bad)
}

/// Bands of 4 rows of C whose lists of nonzero k (`nonzero_ks`) are kept at once: 64 rows, 32 KiB of
/// stack beside the 32 KiB panel buffer (a worker's stack is 256 KiB).
const SPARSE_BANDS: usize = 16;
/// A tile spanning fewer panels than this does not look for zeros in A, whose scan would be repeated for
/// every panel. Two was measured when the seed's forward still ran in 2-panel tiles (bench/ab-fit.ts,
/// paired: 1.33× and 1.53× the build without skipping on 1 and 2 threads, against 1.25× and 1.22× with a
/// minimum of 4); it also scans a 10-unit layer's 8 + 2 columns.
const SPARSE_MIN_PANELS: usize = 2;

/// Whether a band that has `nk` of `kc` k left is run over its list: each listed k costs a little more
/// than a k of the dense loop (an index load and address arithmetic), so a band with few zeros runs dense.
/// The 1/8 is a guard, not a tuned value (the seed's bands keep 39% and 28% of their k).
#[inline(always)]
fn worth_skipping(nk: usize, kc: usize) -> bool {
    nk * 8 <= kc * 7
}

/// Writes to `out` the k in [0, kc) at which the 4 A values of rows i..i+4 of C (A(i+r, k0+k) for NN,
/// A(k0+k, i+r) for TN) are not all zero, and returns how many there are. NaN counts as nonzero, and −0
/// as zero.
///
/// Skipping the other k leaves every result bit unchanged. At such a k each of the band's products is
/// 0·b = ±0 (b finite: `pack_b` checks), and adding ±0 to an accumulator changes nothing: x + ±0 = x
/// for x ≠ 0, and the accumulator is never −0 — it starts at +0, and a sum that cancels to zero is +0
/// in round-to-nearest, as is +0 + −0. The same holds for a fused multiply-add. So C is bitwise what
/// the dense loop gives, while MNIST's images (81% zeros) leave 39% of the k of a forward band and
/// 28% of a weight gradient's.
///
/// # Safety
/// Rows i..i+4 of C and k0..k0+kc of A exist in `g`'s layout; `out` has room for kc values; kc ≤ KC.
#[inline(never)]
unsafe fn nonzero_ks<const T: bool>(g: &Gemm, i: usize, k0: usize, kc: usize, out: *mut u16) -> usize {
    let zero = f32x4_splat(0.0);
    let mut n = 0;
    if T {
        // The band's 4 values at one k are contiguous: one vector per k.
        let mut p = g.a.add(k0 * g.lda + i);
        for k in 0..kc {
            *out.add(n) = k as u16;
            n += v128_any_true(f32x4_ne(v128_load(p as *const v128), zero)) as usize;
            p = p.add(g.lda);
        }
        return n;
    }
    // NN: 4 rows lda apart; 4 consecutive k of each row per vector, their nonzero lanes OR-ed.
    let rows = [0, 1, 2, 3].map(|r| g.a.add((i + r) * g.lda + k0));
    let mut k = 0;
    while k + 4 <= kc {
        let mut nz = f32x4_ne(v128_load(rows[0].add(k) as *const v128), zero);
        for row in &rows[1..] {
            nz = v128_or(nz, f32x4_ne(v128_load(row.add(k) as *const v128), zero));
        }
        let bits = i32x4_bitmask(nz) as usize;
        for l in 0..4 {
            *out.add(n) = (k + l) as u16;
            n += (bits >> l) & 1;
        }
        k += 4;
    }
    while k < kc {
        *out.add(n) = k as u16;
        n += rows.iter().any(|row| *row.add(k) != 0.0) as usize;
        k += 1;
    }
    n
}

/// R rows × one packed 8-column panel, over k in [k0, k0+kc) — or, when `ks` is not null, over the `nk`
/// offsets from k0 it lists (`nonzero_ks`; the same result, bit for bit). A's R values for one k sit at
/// `ap + r·arow` and the next k's at `ap + astep`.
///
/// A full panel (w = 8) loads and stores C and applies the epilogue or the Adam update straight from the
/// accumulator registers; the narrow last panel goes through out-of-line helpers, so the accumulators
/// never need a home in memory. With a short K (a weight gradient, K = the batch) a tile runs only 32
/// steps, and what happens around the loop decides the speed: zeroing an in-memory accumulator array
/// compiled to a memory.fill, which V8 runs as a call into its runtime — a third of the time at K = 32.
///
/// # Safety
/// `ap`, `bp` follow the strides given for R rows of A and a packed panel of `kc` rows; C's rows i0..i0+R and columns j0..j0+w exist and belong to this tile (as do Adam's m, v and parameter rows in the fused update); `ks` is null or holds `nk` increasing offsets below kc.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize>(g: &Gemm, mut ap: *const f32, arow: usize, astep: usize, bp: *const f32, kc: usize, ks: *const u16, nk: usize, i0: usize, j0: usize, w: usize, first: bool, last: bool) {
    let full = w == 8;
    // An opaque zero: a constant one lets LLVM merge the initialisation into a memset, which becomes a
    // memory.fill — a call into V8's runtime on every tile.
    let zero = core::hint::black_box(f32x4_splat(0.0));
    let mut acc = [[zero; 2]; R];
    if !first {
        if full {
            for r in 0..R {
                let cp = g.c.add((i0 + r) * g.ldc + j0);
                acc[r] = [v128_load(cp as *const v128), v128_load(cp.add(4) as *const v128)];
            }
        } else {
            // Through a stack buffer only on this path: the accumulators themselves never live in memory.
            let mut t = core::mem::MaybeUninit::<[[f32; 8]; R]>::uninit();
            load_partial(g, t.as_mut_ptr() as *mut f32, R, i0, j0, w);
            let t = t.as_ptr() as *const f32;
            for r in 0..R {
                acc[r] = [v128_load(t.add(r * 8) as *const v128), v128_load(t.add(r * 8 + 4) as *const v128)];
            }
        }
    }
    if ks.is_null() {
        let mut bp = bp;
        for _ in 0..kc {
            step(&mut acc, ap, arow, bp);
            ap = ap.add(astep);
            bp = bp.add(8);
        }
    } else {
        for t in 0..nk {
            let k = *ks.add(t) as usize;
            step(&mut acc, ap.add(k * astep), arow, bp.add(k * 8));
        }
    }
    if !full {
        let mut t = core::mem::MaybeUninit::<[[f32; 8]; R]>::uninit();
        let tp = t.as_mut_ptr() as *mut f32;
        for r in 0..R {
            v128_store(tp.add(r * 8) as *mut v128, acc[r][0]);
            v128_store(tp.add(r * 8 + 4) as *mut v128, acc[r][1]);
        }
        store_partial(g, tp, R, i0, j0, w, last);
        return;
    }
    if let Some(u) = &g.adam {
        // A gradient tile, finished (K ≤ KC): update the parameters it belongs to.
        for r in 0..R {
            let o = (i0 + r) * g.ldc + j0;
            let (p, m, v) = (g.c.add(o), u.m.add(o), u.v.add(o));
            adam4(&u.h, p, m, v, acc[r][0]);
            adam4(&u.h, p.add(4), m.add(4), v.add(4), acc[r][1]);
        }
        return;
    }
    for r in 0..R {
        let cp = g.c.add((i0 + r) * g.ldc + j0);
        let (mut v0, mut v1) = (acc[r][0], acc[r][1]);
        if last {
            v0 = epilogue4(g, j0, v0);
            v1 = epilogue4(g, j0 + 4, v1);
        }
        v128_store(cp as *mut v128, v0);
        v128_store(cp.add(4) as *mut v128, v1);
    }
}

/// One k of a tile: each of R accumulator rows += its A value (at `ap + r·arow`) × the panel row at `bp`.
///
/// # Safety
/// `ap + r·arow` (r < R) and the 8 floats at `bp` are readable.
#[inline(always)]
unsafe fn step<const R: usize>(acc: &mut [[v128; 2]; R], ap: *const f32, arow: usize, bp: *const f32) {
    let b0 = v128_load(bp as *const v128);
    let b1 = v128_load(bp.add(4) as *const v128);
    for r in 0..R {
        let a = v128_load32_splat(ap.add(r * arow) as *const u32);
        acc[r][0] = madd(a, b0, acc[r][0]);
        acc[r][1] = madd(a, b1, acc[r][1]);
    }
}

/// C's first w < 8 columns of `rows` rows at (i0, j0) into `t` (rows of 8, zero-padded).
///
/// # Safety
/// `t` has room for `rows × 8` floats; C's rows and columns exist.
#[cold]
#[inline(never)]
unsafe fn load_partial(g: &Gemm, t: *mut f32, rows: usize, i0: usize, j0: usize, w: usize) {
    for r in 0..rows {
        let cp = g.c.add((i0 + r) * g.ldc + j0);
        for c in 0..8 {
            *t.add(r * 8 + c) = if c < w { *cp.add(c) } else { 0.0 };
        }
    }
}

/// The first w < 8 columns of a finished (or, before the last K chunk, partial) tile held in `t` (rows of
/// 8), lane by lane as the full-panel path does them.
///
/// # Safety
/// `t` holds `rows × 8` floats; C's (and Adam's m and v) rows and columns exist.
#[cold]
#[inline(never)]
unsafe fn store_partial(g: &Gemm, t: *const f32, rows: usize, i0: usize, j0: usize, w: usize, last: bool) {
    for r in 0..rows {
        let o = (i0 + r) * g.ldc + j0;
        for c in 0..w {
            let x = *t.add(r * 8 + c);
            if let Some(u) = &g.adam {
                adam1(&u.h, g.c.add(o + c), u.m.add(o + c), u.v.add(o + c), x);
            } else if last {
                store1(g, g.c.add(o + c), j0 + c, x);
            } else {
                *g.c.add(o + c) = x;
            }
        }
    }
}

/// A(i0, k0) and the (row, k) strides of A for NN (`T = false`) and TN (`T = true`).
///
/// # Safety
/// `g`'s A holds row i0 and column k0 in its layout.
#[inline(always)]
unsafe fn a_rows<const T: bool>(g: &Gemm, i0: usize, k0: usize) -> (*const f32, usize, usize) {
    if T {
        (g.a.add(k0 * g.lda + i0), 1, g.lda)
    } else {
        (g.a.add(i0 * g.lda + k0), g.lda, 1)
    }
}

/// Packs panels [q0, q1) of B (its rows k0..k0+kc) one after another into `buf`, kc × 8 floats each, and
/// returns whether every value is finite (with `check`; see `pack_b`).
///
/// # Safety
/// As `pack_b` for each panel; `buf` has room for (q1 − q0) × kc × 8 floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_panels<const BT: bool>(g: &Gemm, k0: usize, kc: usize, q0: usize, q1: usize, buf: *mut f32, check: bool) -> bool {
    let mut finite = true;
    for q in q0..q1 {
        let j0 = q * 8;
        finite &= pack_b::<BT>(g, k0, kc, j0, (g.n - j0).min(8), buf.add((q - q0) * kc * 8), check);
    }
    finite
}

/// `tile` for a band of `rows` (1 to 4) rows: the one place that picks its row count.
///
/// # Safety
/// As `tile` with R = rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_rows(rows: usize, g: &Gemm, ap: *const f32, arow: usize, astep: usize, bp: *const f32, kc: usize, ks: *const u16, nk: usize, i0: usize, j0: usize, w: usize, first: bool, last: bool) {
    match rows {
        4 => tile::<4>(g, ap, arow, astep, bp, kc, ks, nk, i0, j0, w, first, last),
        3 => tile::<3>(g, ap, arow, astep, bp, kc, ks, nk, i0, j0, w, first, last),
        2 => tile::<2>(g, ap, arow, astep, bp, kc, ks, nk, i0, j0, w, first, last),
        _ => tile::<1>(g, ap, arow, astep, bp, kc, ks, nk, i0, j0, w, first, last),
    }
}

/// NN/TN over rows [i0,i1) and 8-column panels [p0,p1). The last panel may be narrower than 8; it is
/// computed zero-padded, which leaves every stored element's arithmetic unchanged.
///
/// As many packed panels as fit the 32 KiB buffer form a group, and each 4-row band runs across the
/// whole group before the next band: with a long K (forward, K = 784) a group is one panel, reused by
/// every row band from L1; with a short K (weight gradients, K = batch) a group spans hundreds of
/// columns, so the output — and in the fused Adam update the parameter, m and v rows — is walked
/// left to right in long runs (and a weight gradient may be cut into row tiles: `gradient_rows`).
/// When the tile spans SPARSE_MIN_PANELS or more, its rows go in blocks of SPARSE_BANDS bands: each
/// band's nonzero k are listed once per block and K chunk, and used by every panel.
///
/// # Safety
/// rows [i0, i1) and panels [p0, p1) lie inside C and belong to the calling tile alone.
#[inline(never)]
unsafe fn block_kn<const T: bool, const BT: bool>(g: &Gemm, i0: usize, i1: usize, p0: usize, p1: usize) {
    // Not zeroed: pack_b writes every float the tiles read (zero padding included), and V8 runs a
    // 32 KiB memory.fill per tile as a call into the runtime. Likewise `nonzero_ks` writes every list
    // entry that is read.
    let mut buf = core::mem::MaybeUninit::<[f32; KC * 8]>::uninit();
    let buf = buf.as_mut_ptr() as *mut f32;
    let mut lists = core::mem::MaybeUninit::<[u16; SPARSE_BANDS * KC]>::uninit();
    let lists = lists.as_mut_ptr() as *mut u16;
    // Zeros are looked for in blocks of SPARSE_BANDS bands (each block then packs B again); otherwise
    // every row runs across each group of packed panels.
    let scan = p1 - p0 >= SPARSE_MIN_PANELS;
    let block_rows = if scan { 4 * SPARSE_BANDS } else { i1 - i0 };
    let mut k0 = 0;
    loop {
        let kc = (g.k - k0).min(KC);
        let (first, last) = (k0 == 0, k0 + kc == g.k);
        let group = (KC / kc.max(1)).max(1);
        let mut r0 = i0;
        while r0 < i1 {
            let r1 = (r0 + block_rows).min(i1);
            // nk[b] < kc: band b has k at which all its A values are zero, and a list of the others.
            let mut nk = [kc; SPARSE_BANDS];
            let mut sparse = false;
            if scan {
                for (band, n) in nk.iter_mut().enumerate().take((r1 - r0) / 4) {
                    *n = nonzero_ks::<T>(g, r0 + 4 * band, k0, kc, lists.add(band * KC));
                    sparse |= worth_skipping(*n, kc);
                }
            }
            let mut q0 = p0;
            while q0 < p1 {
                let q1 = (q0 + group).min(p1);
                // Packing first: it must run whether or not the bands skip anything.
                let sparse = pack_panels::<BT>(g, k0, kc, q0, q1, buf, sparse) && sparse;
                let band = |i: usize, rows: usize| {
                    let (ap, ar, ak) = a_rows::<T>(g, i, k0);
                    let b = (i - r0) / 4;
                    let (ks, n) = if sparse && rows == 4 && worth_skipping(nk[b], kc) { (lists.add(b * KC) as *const u16, nk[b]) } else { (core::ptr::null(), kc) };
                    for q in q0..q1 {
                        let j0 = q * 8;
                        let (w, bp) = ((g.n - j0).min(8), buf.add((q - q0) * kc * 8));
                        tile_rows(rows, g, ap, ar, ak, bp, kc, ks, n, i, j0, w, first, last);
                    }
                };
                let mut i = r0;
                while i + 4 <= r1 {
                    band(i, 4);
                    i += 4;
                }
                if i < r1 {
                    band(i, r1 - i);
                }
                q0 = q1;
            }
            r0 = r1;
        }
        k0 += kc;
        if k0 >= g.k {
            break;
        }
    }
}


/// Bands of 4 rows whose gradient `block_tn_update` finishes before updating their rows: each panel of B
/// is then read from L1 by all of them in turn, not fetched again from L2 by each.
const UPDATE_BANDS: usize = 4;
/// The fused weight update streams the parameter rows it updates (`block_tn_update`) when its gradient is
/// at most this wide: UPDATE_BANDS bands of gradient are kept on the stack (32 KiB)…
const STREAM_MAX_N: usize = 512;
/// …and when all of B, packed, fits this many floats (64 KiB of stack): K × N ≤ 32 × 512 for the seed at
/// batch 32. B is then packed once per tile.
const STREAM_PANEL_FLOATS: usize = 2 * KC * 8;

/// Whether a fused weight update (TN with `adam`) runs as `block_tn_update`: the gradient of a few bands
/// is finished on the stack, then the update streams those rows of the parameter, m and v — contiguous,
/// as the optimizer's own op walks them — instead of updating them in 32-byte pieces per tile.
#[inline]
fn streams_update(g: &Gemm) -> bool {
    g.adam.is_some() && streams(g.layout, g.n, g.k, g.ldc)
}

#[inline]
fn streams(layout: u32, n: usize, k: usize, ldc: usize) -> bool {
    layout == TN && ldc == n && n <= STREAM_MAX_N && k <= KC && k * n.next_multiple_of(8) <= STREAM_PANEL_FLOATS
}

/// Whether GEMM_ADAM on these operands would stream its update (`streams_update`). Only then is the fused
/// update faster than a gradient GEMM followed by the ADAM op (bench/ab-fuse.ts); the planner
/// (src/model/plan.ts) asks before fusing.
#[no_mangle]
pub extern "C" fn wl_gemm_update_streams(layout: u32, n: u32, k: u32, ldc: u32) -> u32 {
    streams(layout, n as usize, k as usize, ldc as usize) as u32
}

/// TN with a fused Adam update over rows [i0, i1), all columns (`streams_update`). Each band's gradient is
/// computed exactly as `block_kn` computes it (same tiles, same skipped zeros), into a stack buffer instead
/// of C; the update then runs over the rows' contiguous elements with `adam4`/`adam1`, which give the
/// same bits as the ADAM op whatever the vector/tail split (lane for lane the same operations).
///
/// # Safety
/// As `block_kn`, with `streams_update(g)`; rows [i0, i1) of C, m and v belong to the calling tile alone.
#[inline(never)]
unsafe fn block_tn_update(g: &Gemm, i0: usize, i1: usize) {
    let Some(u) = &g.adam else { return };
    let kc = g.k;
    let panels = g.n.div_ceil(8);
    // Uninitialised for the reasons given in `block_kn`: every float read is written first.
    let mut buf = core::mem::MaybeUninit::<[f32; STREAM_PANEL_FLOATS]>::uninit();
    let buf = buf.as_mut_ptr() as *mut f32;
    let mut grad = core::mem::MaybeUninit::<[f32; 4 * UPDATE_BANDS * STREAM_MAX_N]>::uninit();
    let grad = grad.as_mut_ptr() as *mut f32;
    let mut lists = core::mem::MaybeUninit::<[u16; UPDATE_BANDS * KC]>::uninit();
    let lists = lists.as_mut_ptr() as *mut u16;
    let finite = pack_panels::<false>(g, 0, kc, 0, panels, buf, true);
    // The gradient of rows r0.. goes to `grad` (rows n apart) as a plain product.
    let to = Gemm { c: grad, ldc: g.n, bias: core::ptr::null(), act: crate::ops::act::LINEAR, adam: None, ..*g };
    let mut r0 = i0;
    while r0 < i1 {
        let r1 = (r0 + 4 * UPDATE_BANDS).min(i1);
        let mut ks = [core::ptr::null::<u16>(); UPDATE_BANDS];
        let mut nk = [kc; UPDATE_BANDS];
        if finite {
            for b in 0..UPDATE_BANDS {
                let i = r0 + 4 * b;
                if i + 4 <= r1 {
                    let list = lists.add(b * KC);
                    let n = nonzero_ks::<true>(g, i, 0, kc, list);
                    if worth_skipping(n, kc) {
                        (ks[b], nk[b]) = (list, n);
                    }
                }
            }
        }
        for q in 0..panels {
            let j0 = q * 8;
            let (w, bp) = ((g.n - j0).min(8), buf.add(q * kc * 8));
            let mut i = r0;
            while i < r1 {
                let (ap, ar, ak) = a_rows::<true>(g, i, 0);
                let b = (i - r0) / 4;
                let (ks, nk) = if i + 4 <= r1 { (ks[b], nk[b]) } else { (core::ptr::null(), kc) };
                tile_rows((r1 - i).min(4), &to, ap, ar, ak, bp, kc, ks, nk, i - r0, j0, w, true, true);
                i += 4;
            }
        }
        let o = r0 * g.n;
        let (p, m, v) = (g.c.add(o), u.m.add(o), u.v.add(o));
        crate::for_lanes(
            0,
            (r1 - r0) * g.n,
            |e| adam4(&u.h, p.add(e), m.add(e), v.add(e), v128_load(grad.add(e) as *const v128)),
            |e| adam1(&u.h, p.add(e), m.add(e), v.add(e), *grad.add(e)),
        );
        r0 = r1;
    }
}

/// NT: R rows of A × S rows of B (= S output columns), dot products along K.
///
/// # Safety
/// rows i0..i0+R of A and i0..i0+R, j0..j0+S of C, and rows j0..j0+S of B exist; C's elements belong to this tile.
#[inline(always)]
unsafe fn tile_nt<const R: usize, const S: usize>(g: &Gemm, i0: usize, j0: usize) {
    let k4 = g.k & !3;
    let zero = core::hint::black_box(f32x4_splat(0.0)); // see `tile`
    let mut acc = [[zero; S]; R];
    let mut kk = 0;
    while kk < k4 {
        let mut bv = [zero; S];
        for s in 0..S {
            bv[s] = v128_load(g.b.add((j0 + s) * g.ldb + kk) as *const v128);
        }
        for r in 0..R {
            let av = v128_load(g.a.add((i0 + r) * g.lda + kk) as *const v128);
            for s in 0..S {
                acc[r][s] = madd(av, bv[s], acc[r][s]);
            }
        }
        kk += 4;
    }
    for r in 0..R {
        for s in 0..S {
            let mut t = hsum(acc[r][s]);
            for q in k4..g.k {
                t += *g.a.add((i0 + r) * g.lda + q) * *g.b.add((j0 + s) * g.ldb + q);
            }
            let o = (i0 + r) * g.ldc + j0 + s;
            match &g.adam {
                Some(u) => adam1(&u.h, g.c.add(o), u.m.add(o), u.v.add(o), t),
                None => store1(g, g.c.add(o), j0 + s, t),
            }
        }
    }
}

/// # Safety
/// rows [i0, i1) of A and C, and rows j0..j0+S of B exist; C's elements belong to this tile.
#[inline(always)]
unsafe fn rows_nt<const S: usize>(g: &Gemm, i0: usize, i1: usize, j0: usize) {
    let mut i = i0;
    while i + 4 <= i1 {
        tile_nt::<4, S>(g, i, j0);
        i += 4;
    }
    match i1 - i {
        3 => tile_nt::<3, S>(g, i, j0),
        2 => tile_nt::<2, S>(g, i, j0),
        1 => tile_nt::<1, S>(g, i, j0),
        _ => {}
    }
}

/// NT over rows [i0,i1) and 2-column groups [p0,p1).
///
/// # Safety
/// rows [i0, i1) and 2-column groups [p0, p1) lie inside C and belong to the calling tile alone.
#[inline(never)]
unsafe fn block_nt(g: &Gemm, i0: usize, i1: usize, p0: usize, p1: usize) {
    for p in p0..p1 {
        let j0 = p * 2;
        if j0 + 2 <= g.n {
            rows_nt::<2>(g, i0, i1, j0);
        } else {
            rows_nt::<1>(g, i0, i1, j0);
        }
    }
}

/// Most tiles a product is cut into (see program.rs `tiles`): enough for two to four threads to balance,
/// few enough that a tile of a weight-gradient product still covers two or more panels of B.
pub const MAX_TILES: usize = 32;

/// NT with a short K (dX of a narrow layer: K = its units) packs Bᵀ into panels and runs the NN
/// micro-kernel: a dot product of 10 terms would spend more on its horizontal sum than on the products.
#[inline]
fn nt_dot(layout: u32, k: usize) -> bool {
    layout == NT && k > NT_PACK_MAX_K
}

/// (column units, row units) a product can be split into: 8-column panels (2-column groups for the NT dot
/// kernel) and 4-row tiles.
pub fn units(layout: u32, m: usize, n: usize, k: usize) -> (usize, usize) {
    (n.div_ceil(if nt_dot(layout, k) { 2 } else { 8 }), m.div_ceil(4))
}

/// Below this K (a weight gradient: K = the batch) a product's tiles are few and, for TN, whole rows.
const SHORT_K: usize = 256;

/// A weight gradient (TN with a short K) cut into row tiles, each running across every panel of B, writes
/// C — the gradient, which the optimizer's op then streams — in long runs of whole rows; column tiles
/// write it in 128-byte pieces of 2 KiB-strided rows, which the hardware prefetchers do not follow. But
/// each row tile packs all of B (the batch's dY) for itself, so row tiles are used only while those
/// copies (tiles × K × N floats) are fewer than C's M × N. Seed model (bench/ab-fit.ts, paired epochs):
/// batch 32 (512 ≤ 784) ran 1.12× and 1.08× faster on 1 thread in two runs (14 of 16 rounds), 1.09× and
/// 1.00× on 2; batch 128 (2048 > 784) ran 0.96× on 1 thread with row tiles, so it keeps column tiles.
#[inline]
fn gradient_rows(g: &Gemm, tiles: usize) -> bool {
    g.layout == TN && g.k < SHORT_K && tiles * g.k <= g.m
}

/// Most tiles worth cutting a product into. With a short K a tile has little work per panel of B, so it
/// keeps at least 4 panels (or, as row tiles, packs all of B) for what it computes. A forward product
/// (NN, long K) no taller than wide is cut into column tiles, each of which scans all of A for zeros
/// (`nonzero_ks`): it keeps 8 panels (the seed's forward: 8 tiles, not 32), so that the scan stays a
/// small part of what the tile computes, with at least 4 tiles for threads to share.
pub fn max_tiles(layout: u32, m: usize, n: usize, k: usize) -> usize {
    let (cols, rows) = units(layout, m, n, k);
    let short_k = layout != NT && k < SHORT_K && cols >= 8;
    let scans_all = layout == NN && k >= SHORT_K && cols >= rows;
    MAX_TILES.min(if short_k {
        (cols / 4).max(1)
    } else if scans_all {
        (cols / 8).max(cols.min(4))
    } else {
        cols.max(rows)
    })
}

/// Tile `tile` of `tiles` (see program.rs): whole row tiles for a weight gradient (`gradient_rows`) with
/// enough rows; else whole column units when there are enough of them for every tile to get two or the
/// matrix is wider than tall (each tile then packs only its own panels of B), else whole row tiles. Which
/// split is chosen changes no result: every element is computed the same way.
///
/// # Safety
/// `g` satisfies the `Gemm` invariant (every operand addresses the extent its layout, sizes and leading dimension give), and every tile of the product is run exactly once, by whichever thread, with the same `tiles`.
pub unsafe fn gemm_part(g: &Gemm, tile: usize, tiles: usize) {
    if g.m == 0 || g.n == 0 {
        return;
    }
    let nt_dot = nt_dot(g.layout, g.k);
    let (col_units, row_units) = units(g.layout, g.m, g.n, g.k);
    let streams = streams_update(g);
    let by_cols = if (streams || gradient_rows(g, tiles)) && row_units >= tiles {
        false
    } else {
        col_units >= row_units || col_units >= 2 * tiles || tiles == 1
    };
    let (i0, i1, p0, p1) = if by_cols {
        let (p0, p1) = split(col_units, tile, tiles);
        (0, g.m, p0, p1)
    } else {
        let (r0, r1) = split(row_units, tile, tiles);
        (r0 * 4, (r1 * 4).min(g.m), 0, col_units)
    };
    if i0 >= i1 || p0 >= p1 {
        return;
    }
    // The block functions are `#[inline(never)]`: V8 optimizes each wasm function on its own when it
    // tiers up, and its compiler's memory grows faster than the function. With them inlined this
    // function was 15 KB and took an 8.2 MB compiler zone, which set the seed workflow's peak RSS
    // (Node 20: 145 → 138 MB, `bench/seed-dist.mjs`; `--trace-wasm-compilation-times` gives the zones).
    match g.layout {
        NN => block_kn::<false, false>(g, i0, i1, p0, p1),
        TN if streams && !by_cols => block_tn_update(g, i0, i1),
        TN => block_kn::<true, false>(g, i0, i1, p0, p1),
        _ if !nt_dot => block_kn::<false, true>(g, i0, i1, p0, p1),
        _ => block_nt(g, i0, i1, p0, p1),
    }
}

/// Naive reference: the textbook triple loop, one thread.
///
/// # Safety
/// `g` satisfies the `Gemm` invariant; one thread runs it.
#[cfg(feature = "reference")]
pub unsafe fn gemm_naive(g: &Gemm) {
    for i in 0..g.m {
        for j in 0..g.n {
            let mut acc = 0.0f32;
            for q in 0..g.k {
                let a = match g.layout {
                    TN => *g.a.add(q * g.lda + i),
                    _ => *g.a.add(i * g.lda + q),
                };
                let b = match g.layout {
                    NT => *g.b.add(j * g.ldb + q),
                    _ => *g.b.add(q * g.ldb + j),
                };
                acc += a * b;
            }
            if let Some(u) = &g.adam {
                let o = i * g.ldc + j;
                adam1(&u.h, g.c.add(o), u.m.add(o), u.v.add(o), acc);
                continue;
            }
            if !g.bias.is_null() {
                acc += *g.bias.add(j);
            }
            if g.act == ACT_RELU && acc < 0.0 {
                acc = 0.0;
            }
            *g.c.add(i * g.ldc + j) = acc;
        }
    }
}

/// Register chains in `wl_peak_madd`: enough independent ones to cover the latency on both vector pipes,
/// few enough to stay in the 16 vector registers V8 allocates on x64 (with the two constants).
const PEAK_CHAINS: usize = 12;

/// The machine's multiply-add peak on one thread, measured by the bench: `iters` rounds over PEAK_CHAINS
/// registers, touching no memory. Returns a value depending on every chain so nothing can be dropped.
///   form 0: `acc ← madd(acc, b, c)` — this build's `madd` (SIMD128 multiply then add, or relaxed-SIMD
///           FMA); each chain's multiply waits for its last add, so nothing can be hoisted: 12 madds of
///           8 flops per round.
///   form 1: half the chains `acc ← acc + c`, half `acc ← acc · b` — the multiply and add pipes kept busy
///           independently (no multiply→add latency on any chain): the SIMD128 peak without FMA, 6 madds'
///           worth (48 flops) per round.
/// The bench takes the faster form as the peak.
#[no_mangle]
pub extern "C" fn wl_peak_madd(iters: u32, seed: f32, form: u32) -> f32 {
    let b = f32x4_splat(0.999_99);
    let c = f32x4_splat(seed);
    let mut acc = [f32x4_splat(0.0); PEAK_CHAINS];
    for (r, a) in acc.iter_mut().enumerate() {
        *a = f32x4_splat(seed + r as f32);
    }
    if form == 0 {
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = madd(*a, b, c);
            }
        }
    } else {
        for _ in 0..iters {
            for (r, a) in acc.iter_mut().enumerate() {
                *a = if r % 2 == 0 { f32x4_add(*a, c) } else { f32x4_mul(*a, b) };
            }
        }
    }
    let mut s = f32x4_splat(0.0);
    for a in acc {
        s = f32x4_add(s, a);
    }
    crate::hsum(s)
}
