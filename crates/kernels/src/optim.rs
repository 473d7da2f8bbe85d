//! Optimizers: one pass over each parameter buffer, with Keras' update rules.
//!   Adam:    m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − αₜ·m/(√v + ε),
//!            αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ) computed by the caller in f64 for each step.
//!            (tf.train.adam instead adds ε to √v̂ = √(v/(1−β2ᵗ)); the two agree when ε ≪ √v.)
//!   SGD:     u ← μ·u − lr·g;  p ← p + u  (Nesterov: p ← p + μ·u − lr·g); without momentum p ← p − lr·g.
//!   RMSprop: s ← ρ·s + (1−ρ)·g²;  p ← p − lr·g/(√s + ε)  (tf.train.rmsprop puts ε under the root).
use crate::ops::{AdamArgs, Kernel, RmspropArgs as RmsProp, SgdArgs as Sgd};
use crate::{for_lanes, ld, split_elems, st};
use core::arch::wasm32::*;

impl AdamArgs {
    #[inline(always)]
    fn adam(&self) -> Adam {
        Adam { n: self.n, p: self.p, g: self.g, m: self.m, v: self.v, h: AdamHyper { b1: self.beta1, b2: self.beta2, eps: self.epsilon, alpha: self.alpha } }
    }
}

impl Kernel for AdamArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        adam(&self.adam(), tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, 4096, 64)
    }
}

impl Kernel for Sgd {
    unsafe fn run(&self, tid: usize, nt: usize) {
        sgd(self, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, 4096, 64)
    }
}

impl Kernel for RmsProp {
    unsafe fn run(&self, tid: usize, nt: usize) {
        rmsprop(self, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, 4096, 64)
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for AdamArgs {
    unsafe fn reference(&self) {
        adam_naive(&self.adam())
    }
}

/// Element by element, in the textbook form of the rule above.
#[cfg(feature = "reference")]
impl crate::ops::Reference for Sgd {
    unsafe fn reference(&self) {
        for i in 0..self.n {
            let g = *self.g.add(i);
            if self.u.is_null() {
                *self.p.add(i) -= self.lr * g;
                continue;
            }
            let u = self.momentum * *self.u.add(i) - self.lr * g;
            *self.u.add(i) = u;
            *self.p.add(i) += if self.nesterov { self.momentum * u - self.lr * g } else { u };
        }
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for RmsProp {
    unsafe fn reference(&self) {
        for i in 0..self.n {
            let g = *self.g.add(i);
            let s = self.rho * *self.s.add(i) + (1.0 - self.rho) * (g * g);
            *self.s.add(i) = s;
            *self.p.add(i) -= (self.lr * g) / (crate::math::sqrt(s) + self.epsilon);
        }
    }
}

/// Adam's constants for one step.
#[derive(Clone, Copy)]
pub struct AdamHyper {
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    pub alpha: f32,
}

/// Subnormal moments are flushed to zero. A weight whose gradient is always 0 (an MNIST border pixel)
/// has its m decay by β1 every step through the subnormal range, where x86 arithmetic is many times
/// slower: 10% of m was subnormal after 5 epochs, making the update 1.1–2.3× slower. TensorFlow runs
/// with flush-to-zero on CPUs, so Keras' own Adam does the same; the values involved are below 1.2e-38.
#[inline(always)]
fn ftz4(x: v128) -> v128 {
    // "less than" so that NaN (never less) survives and a diverging run is still noticed
    v128_andnot(x, f32x4_lt(f32x4_abs(x), f32x4_splat(f32::MIN_POSITIVE)))
}

#[inline(always)]
fn ftz1(x: f32) -> f32 {
    if (if x < 0.0 { -x } else { x }) < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// One Adam update of 4 parameters at p/m/v with gradient g. Shared by the Adam op and the GEMM that
/// computes a weight gradient and applies the update in its epilogue; `adam1` does what one lane does.
///
/// # Safety
/// `p`, `m` and `v` each start 4 writable floats.
#[inline(always)]
pub unsafe fn adam4(h: &AdamHyper, p: *mut f32, m: *mut f32, v: *mut f32, g: v128) {
    let mn = ftz4(f32x4_add(f32x4_mul(f32x4_splat(h.b1), ld(m, 0)), f32x4_mul(f32x4_splat(1.0 - h.b1), g)));
    let vn = ftz4(f32x4_add(f32x4_mul(f32x4_splat(h.b2), ld(v, 0)), f32x4_mul(f32x4_splat(1.0 - h.b2), f32x4_mul(g, g))));
    st(m, 0, mn);
    st(v, 0, vn);
    let upd = f32x4_div(f32x4_mul(f32x4_splat(h.alpha), mn), f32x4_add(f32x4_sqrt(vn), f32x4_splat(h.eps)));
    st(p, 0, f32x4_sub(ld(p, 0), upd));
}

/// # Safety
/// `p`, `m` and `v` are writable floats.
#[inline(always)]
pub unsafe fn adam1(h: &AdamHyper, p: *mut f32, m: *mut f32, v: *mut f32, g: f32) {
    let mn = ftz1(h.b1 * *m + (1.0 - h.b1) * g);
    let vn = ftz1(h.b2 * *v + (1.0 - h.b2) * (g * g));
    *m = mn;
    *v = vn;
    *p -= (h.alpha * mn) / (crate::math::sqrt(vn) + h.eps);
}

#[derive(Clone, Copy)]
pub struct Adam {
    pub n: usize,
    pub p: *mut f32,
    pub g: *const f32,
    pub m: *mut f32,
    pub v: *mut f32,
    pub h: AdamHyper,
}

/// # Safety
/// `o.p`, `o.g`, `o.m` and `o.v` address `o.n` floats, `g` overlapping none of the others; every thread
/// passes the same `o`, so the ranges `split_elems` gives them are disjoint.
pub unsafe fn adam(o: &Adam, tid: usize, nt: usize) {
    let (s, e) = split_elems(o.n, tid, nt);
    for_lanes(
        s,
        e,
        |i| adam4(&o.h, o.p.add(i), o.m.add(i), o.v.add(i), ld(o.g, i)),
        |i| adam1(&o.h, o.p.add(i), o.m.add(i), o.v.add(i), *o.g.add(i)),
    );
}

/// # Safety
/// As `adam`, on one thread.
#[cfg(feature = "reference")]
pub unsafe fn adam_naive(o: &Adam) {
    let h = &o.h;
    for i in 0..o.n {
        let g = *o.g.add(i);
        let m = ftz1(h.b1 * *o.m.add(i) + (1.0 - h.b1) * g);
        let v = ftz1(h.b2 * *o.v.add(i) + (1.0 - h.b2) * (g * g));
        *o.m.add(i) = m;
        *o.v.add(i) = v;
        *o.p.add(i) -= (h.alpha * m) / (crate::math::sqrt(v) + h.eps);
    }
}

/// # Safety
/// `o.p`, `o.g` and `o.u` (or null) address `o.n` floats, `g` overlapping neither; every thread passes
/// the same `o`.
pub unsafe fn sgd(o: &Sgd, tid: usize, nt: usize) {
    let (s, e) = split_elems(o.n, tid, nt);
    let (vlr, vmu) = (f32x4_splat(o.lr), f32x4_splat(o.momentum));
    if o.u.is_null() {
        for_lanes(s, e, |i| st(o.p, i, f32x4_sub(ld(o.p, i), f32x4_mul(vlr, ld(o.g, i)))), |i| {
            *o.p.add(i) -= o.lr * *o.g.add(i)
        });
        return;
    }
    for_lanes(
        s,
        e,
        |i| {
            let g = f32x4_mul(vlr, ld(o.g, i));
            let u = f32x4_sub(f32x4_mul(vmu, ld(o.u, i)), g);
            st(o.u, i, u);
            let step = if o.nesterov { f32x4_sub(f32x4_mul(vmu, u), g) } else { u };
            st(o.p, i, f32x4_add(ld(o.p, i), step));
        },
        |i| {
            let g = o.lr * *o.g.add(i);
            let u = o.momentum * *o.u.add(i) - g;
            *o.u.add(i) = u;
            *o.p.add(i) += if o.nesterov { o.momentum * u - g } else { u };
        },
    );
}

/// # Safety
/// `o.p`, `o.g` and `o.s` address `o.n` floats, `g` overlapping neither; every thread passes the same `o`.
pub unsafe fn rmsprop(o: &RmsProp, tid: usize, nt: usize) {
    let (s, e) = split_elems(o.n, tid, nt);
    let (vr, vc, vlr, veps) = (f32x4_splat(o.rho), f32x4_splat(1.0 - o.rho), f32x4_splat(o.lr), f32x4_splat(o.epsilon));
    for_lanes(
        s,
        e,
        |i| {
            let g = ld(o.g, i);
            let sv = f32x4_add(f32x4_mul(vr, ld(o.s, i)), f32x4_mul(vc, f32x4_mul(g, g)));
            st(o.s, i, sv);
            let upd = f32x4_div(f32x4_mul(vlr, g), f32x4_add(f32x4_sqrt(sv), veps));
            st(o.p, i, f32x4_sub(ld(o.p, i), upd));
        },
        |i| {
            let g = *o.g.add(i);
            let sv = o.rho * *o.s.add(i) + (1.0 - o.rho) * (g * g);
            *o.s.add(i) = sv;
            *o.p.add(i) -= (o.lr * g) / (crate::math::sqrt(sv) + o.epsilon);
        },
    );
}
