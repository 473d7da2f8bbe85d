//! Optimizers: one pass over each parameter buffer, with Keras' update rules.
//!   Adam:    m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − αₜ·m/(√v + ε),
//!            αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ) computed by the caller in f64 for each step.
//!            (tf.train.adam instead adds ε to √v̂ = √(v/(1−β2ᵗ)); the two agree when ε ≪ √v.)
//!   SGD:     u ← μ·u − lr·g;  p ← p + u  (Nesterov: p ← p + μ·u − lr·g); without momentum p ← p − lr·g.
//!   RMSprop: s ← ρ·s + (1−ρ)·g²;  p ← p − lr·g/(√s + ε)  (tf.train.rmsprop puts ε under the root).
use crate::{for_lanes, split_elems};
use core::arch::wasm32::*;

#[inline(always)]
unsafe fn ld(p: *const f32, i: usize) -> v128 {
    v128_load(p.add(i) as *const v128)
}
#[inline(always)]
unsafe fn st(p: *mut f32, i: usize, v: v128) {
    v128_store(p.add(i) as *mut v128, v)
}

#[derive(Clone, Copy)]
pub struct Adam {
    pub n: usize,
    pub p: *mut f32,
    pub g: *const f32,
    pub m: *mut f32,
    pub v: *mut f32,
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    pub alpha: f32,
}

pub unsafe fn adam(o: &Adam, tid: usize, nt: usize) {
    let (s, e) = split_elems(o.n, tid, nt);
    let (b1, b2, c1, c2) = (o.b1, o.b2, 1.0 - o.b1, 1.0 - o.b2);
    let (vb1, vb2, vc1, vc2) = (f32x4_splat(b1), f32x4_splat(b2), f32x4_splat(c1), f32x4_splat(c2));
    let (veps, valpha) = (f32x4_splat(o.eps), f32x4_splat(o.alpha));
    for_lanes(
        s,
        e,
        |i| {
            let g = ld(o.g, i);
            let m = f32x4_add(f32x4_mul(vb1, ld(o.m, i)), f32x4_mul(vc1, g));
            let v = f32x4_add(f32x4_mul(vb2, ld(o.v, i)), f32x4_mul(vc2, f32x4_mul(g, g)));
            st(o.m, i, m);
            st(o.v, i, v);
            let upd = f32x4_div(f32x4_mul(valpha, m), f32x4_add(f32x4_sqrt(v), veps));
            st(o.p, i, f32x4_sub(ld(o.p, i), upd));
        },
        |i| {
            let g = *o.g.add(i);
            let m = b1 * *o.m.add(i) + c1 * g;
            let v = b2 * *o.v.add(i) + c2 * (g * g);
            *o.m.add(i) = m;
            *o.v.add(i) = v;
            *o.p.add(i) -= (o.alpha * m) / (crate::math::sqrt(v) + o.eps);
        },
    );
}

pub unsafe fn adam_naive(o: &Adam) {
    for i in 0..o.n {
        let g = *o.g.add(i);
        let m = o.b1 * *o.m.add(i) + (1.0 - o.b1) * g;
        let v = o.b2 * *o.v.add(i) + (1.0 - o.b2) * (g * g);
        *o.m.add(i) = m;
        *o.v.add(i) = v;
        *o.p.add(i) -= (o.alpha * m) / (crate::math::sqrt(v) + o.eps);
    }
}

#[derive(Clone, Copy)]
pub struct Sgd {
    pub n: usize,
    pub p: *mut f32,
    pub g: *const f32,
    pub u: *mut f32, // null when momentum is 0
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
}

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

#[derive(Clone, Copy)]
pub struct RmsProp {
    pub n: usize,
    pub p: *mut f32,
    pub g: *const f32,
    pub s: *mut f32,
    pub lr: f32,
    pub rho: f32,
    pub eps: f32,
}

pub unsafe fn rmsprop(o: &RmsProp, tid: usize, nt: usize) {
    let (s, e) = split_elems(o.n, tid, nt);
    let (vr, vc, vlr, veps) = (f32x4_splat(o.rho), f32x4_splat(1.0 - o.rho), f32x4_splat(o.lr), f32x4_splat(o.eps));
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
            *o.p.add(i) -= (o.lr * g) / (crate::math::sqrt(sv) + o.eps);
        },
    );
}
