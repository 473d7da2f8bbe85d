//! Inverted dropout. Whether element i of training step `step` is kept is a pure function of
//! (seed, salt, step, i) — a murmur3 finalizer over a counter — so masks are reproducible and do not
//! depend on how elements are split across threads. Forward stores the mask as the multiplier
//! (0 or 1/(1 − rate)) and backward is dx = dy ⊙ mask.
use crate::ops::{DropoutFwdArgs, Kernel, MulArgs};
use crate::{for_lanes, split_elems};
use core::arch::wasm32::*;

impl Kernel for DropoutFwdArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        forward(self.n, self.x, self.y, self.mask, self.rate, key(self.seed, self.salt, self.step), tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, 4096, 64)
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for DropoutFwdArgs {
    unsafe fn reference(&self) {
        forward_naive(self.n, self.x, self.y, self.mask, self.rate, key(self.seed, self.salt, self.step))
    }
}

impl Kernel for MulArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        mul(self.n, self.x, self.m, self.y, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, 4096, 64)
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for MulArgs {
    unsafe fn reference(&self) {
        for i in 0..self.n {
            *self.y.add(i) = *self.x.add(i) * *self.m.add(i);
        }
    }
}

#[inline(always)]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

#[inline(always)]
fn fmix32x4(mut h: v128) -> v128 {
    h = v128_xor(h, u32x4_shr(h, 16));
    h = i32x4_mul(h, u32x4_splat(0x85eb_ca6b));
    h = v128_xor(h, u32x4_shr(h, 13));
    h = i32x4_mul(h, u32x4_splat(0xc2b2_ae35));
    v128_xor(h, u32x4_shr(h, 16))
}

/// The per-(seed, salt, step) key; element i's draw is fmix32(i·φ + key).
#[inline]
pub fn key(seed: u32, salt: u32, step: u32) -> u32 {
    fmix32(seed ^ fmix32(salt.wrapping_mul(0x9e37_79b9) ^ fmix32(step.wrapping_add(0x632b_e5ab))))
}

#[inline]
pub fn threshold(rate: f32) -> u32 {
    // keep when draw >= rate·2³²
    let t = (rate as f64) * 4_294_967_296.0;
    if t >= 4_294_967_295.0 { u32::MAX } else { t as u32 }
}

#[inline(always)]
pub fn keep(i: u32, k: u32, thr: u32) -> bool {
    fmix32(i.wrapping_mul(0x9e37_79b1).wrapping_add(k)) >= thr
}

/// # Safety
/// `x`, `y` and `mask` address `n` floats (`y` may be `x`; `mask` overlaps neither); every thread of the
/// job passes the same arguments, so the ranges `split_elems` gives them are disjoint.
pub unsafe fn forward(n: usize, x: *const f32, y: *mut f32, mask: *mut f32, rate: f32, k: u32, tid: usize, nt: usize) {
    let (s, e) = split_elems(n, tid, nt);
    let thr = threshold(rate);
    let scale = 1.0 / (1.0 - rate);
    let sv = f32x4_splat(scale);
    let idx0 = u32x4(0, 1, 2, 3);
    for_lanes(
        s,
        e,
        |i| {
            let idx = i32x4_add(u32x4_splat(i as u32), idx0);
            let h = fmix32x4(i32x4_add(i32x4_mul(idx, u32x4_splat(0x9e37_79b1)), u32x4_splat(k)));
            let m = v128_and(sv, u32x4_ge(h, u32x4_splat(thr)));
            v128_store(mask.add(i) as *mut v128, m);
            v128_store(y.add(i) as *mut v128, f32x4_mul(v128_load(x.add(i) as *const v128), m));
        },
        |i| {
            let m = if keep(i as u32, k, thr) { scale } else { 0.0 };
            *mask.add(i) = m;
            *y.add(i) = *x.add(i) * m;
        },
    );
}

/// y = x ⊙ m (dropout's backward, with m its mask).
///
/// # Safety
/// `x`, `m` and `y` address `n` floats (`y` may be `x`); every thread passes the same arguments.
pub unsafe fn mul(n: usize, x: *const f32, m: *const f32, y: *mut f32, tid: usize, nt: usize) {
    let (s, e) = split_elems(n, tid, nt);
    for_lanes(
        s,
        e,
        |i| {
            let v = f32x4_mul(v128_load(x.add(i) as *const v128), v128_load(m.add(i) as *const v128));
            v128_store(y.add(i) as *mut v128, v);
        },
        |i| *y.add(i) = *x.add(i) * *m.add(i),
    );
}

/// # Safety
/// As `forward`, on one thread.
#[cfg(feature = "reference")]
pub unsafe fn forward_naive(n: usize, x: *const f32, y: *mut f32, mask: *mut f32, rate: f32, k: u32) {
    let thr = threshold(rate);
    for i in 0..n {
        let m = if keep(i as u32, k, thr) { 1.0 / (1.0 - rate) } else { 0.0 };
        *mask.add(i) = m;
        *y.add(i) = *x.add(i) * m;
    }
}
