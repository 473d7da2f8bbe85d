//! f32 training kernels for wasm-layers, with a C ABI over raw pointers into linear memory.
//!
//! The TypeScript side owns all memory (an arena above `__heap_base`) and describes work as a *program*:
//! a list of ops encoded as u32 words (see `program.rs`). One call to `wl_run` executes a whole program —
//! a training step is one call — with the pool's threads claiming the ops' tiles in order (`pool.rs`).
//! The encoding is declared once in `ops.json` (`ops.rs` is generated from it); each op file implements
//! `ops::Kernel` for its ops' decoded arguments (its tiling and its kernel) and, in the test build (feature
//! `reference`), `ops::Reference`: the naive reference the tests compare the kernel with.
//!
//! Why kernels take raw pointers and not slices. The one boundary where untrusted words become pointers
//! is the decoder generated from `ops.json` (`ops.rs`): it turns an op's words into a typed argument
//! struct, and the TypeScript planner is what guarantees that each pointer addresses the extent the op
//! declares (it allocated those buffers from the arena with those sizes). From there on, pointers stay
//! pointers, for three reasons that slices cannot meet:
//! - ops run in place (`y` may be `x`, `dx` may be `dy`, the optimizers update `w` through itself): an
//!   `&[f32]` and an `&mut [f32]` over the same memory is undefined behaviour in Rust, even unread;
//! - one op's buffer is written by several threads at once, each in its own tile: a `&mut [f32]` per
//!   thread over the whole buffer would alias too, and cutting per-tile sub-slices costs a bounds check
//!   per tile and per row in the GEMM's packing loops;
//! - SIMD loads and stores (`v128_load`) take pointers anyway.
//! Each `unsafe fn` says in its `# Safety` note which extents it relies on and which aliasing it allows.
#![no_std]
#![cfg_attr(target_feature = "atomics", feature(stdarch_wasm_atomic_wait))]

pub mod activation;
pub mod data;
pub mod dropout;
pub mod gemm;
pub mod loss;
pub mod math;
pub mod metrics;
pub mod ops;
pub mod optim;
pub mod pool;
pub mod program;
pub mod reduce;
pub mod softmax;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Splits `units` work units into `nt` contiguous ranges; tile `tid` gets the `tid`-th. (Kernels take a
/// tile number and a tile count, named tid/nt: the pool runs each tile on whichever thread claims it.)
/// Every kernel computes each output element the same way whatever range it falls in, so results do not
/// depend on the thread count or on the tiling.
#[inline]
pub fn split(units: usize, tid: usize, nt: usize) -> (usize, usize) {
    let base = units / nt;
    let rem = units % nt;
    let start = tid * base + tid.min(rem);
    let len = base + if tid < rem { 1 } else { 0 };
    (start, start + len)
}

/// Tiles for `work` units of work at about `unit` per tile, between 1 and `max`. Tiles of a few µs keep
/// both threads busy on the small ops of a batch-32 step; more would cost more in claims than they gain.
#[inline]
pub fn tiles_for(work: usize, unit: usize, max: usize) -> u32 {
    (work / unit).clamp(1, max.max(1)) as u32
}

/// `split` over `n` elements in blocks of 16, so every thread's range starts on a 64-byte boundary of
/// an aligned buffer and SIMD bodies see whole vectors.
#[inline]
pub fn split_elems(n: usize, tid: usize, nt: usize) -> (usize, usize) {
    let (b0, b1) = split(n.div_ceil(16), tid, nt);
    ((b0 * 16).min(n), (b1 * 16).min(n))
}

/// Applies `v` to each whole 4-lane group of [s, e) and `s1` to the scalar tail.
#[inline(always)]
pub fn for_lanes(s: usize, e: usize, mut v: impl FnMut(usize), mut s1: impl FnMut(usize)) {
    let mut i = s;
    while i + 4 <= e {
        v(i);
        i += 4;
    }
    while i < e {
        s1(i);
        i += 1;
    }
}

/// Loads 4 lanes at p[i..i+4] (unaligned).
///
/// # Safety
/// `p.add(i)` through `p.add(i + 3)` lie inside one buffer the caller may read.
#[inline(always)]
pub(crate) unsafe fn ld(p: *const f32, i: usize) -> core::arch::wasm32::v128 {
    core::arch::wasm32::v128_load(p.add(i) as *const core::arch::wasm32::v128)
}

/// Stores 4 lanes at p[i..i+4] (unaligned).
///
/// # Safety
/// `p.add(i)` through `p.add(i + 3)` lie inside one buffer the caller may write, and no other thread
/// reads or writes those 4 floats during the call (they belong to the caller's tile).
#[inline(always)]
pub(crate) unsafe fn st(p: *mut f32, i: usize, v: core::arch::wasm32::v128) {
    core::arch::wasm32::v128_store(p.add(i) as *mut core::arch::wasm32::v128, v)
}

/// Sum of the 4 lanes in a fixed order: (l0 + l1) + (l2 + l3).
#[inline(always)]
pub(crate) fn hsum(v: core::arch::wasm32::v128) -> f32 {
    use core::arch::wasm32::f32x4_extract_lane as lane;
    (lane::<0>(v) + lane::<1>(v)) + (lane::<2>(v) + lane::<3>(v))
}
