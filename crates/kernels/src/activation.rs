//! Element-wise activations, forward and backward. Backward is written in terms of the forward *output*
//! y (relu: y > 0, sigmoid: y(1 − y), tanh: 1 − y²), so the pre-activation need not be kept.
use crate::math::{sigmoid, sigmoid4, tanh, tanh4};
use crate::ops::act::{RELU, SIGMOID, TANH};
use crate::ops::{ActBwdArgs, ActFwdArgs, Kernel};
use crate::{for_lanes, ld, split_elems, st};
use core::arch::wasm32::*;

impl Kernel for ActFwdArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        forward(self.kind, self.n, self.x, self.y, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, if self.kind == RELU || self.kind == crate::ops::act::LINEAR { 4096 } else { 1024 }, 64)
    }
}

impl Kernel for ActBwdArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        backward(self.kind, self.n, self.y, self.dy, self.dx, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.n, 4096, 64)
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for ActFwdArgs {
    unsafe fn reference(&self) {
        forward_naive(self.kind, self.n, self.x, self.y)
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for ActBwdArgs {
    unsafe fn reference(&self) {
        backward_naive(self.kind, self.n, self.y, self.dy, self.dx)
    }
}

/// # Safety
/// `x` and `y` address `n` floats (`y` may be `x`, no other overlap); every thread of the job passes the
/// same arguments, so the ranges `split_elems` gives them are disjoint.
pub unsafe fn forward(kind: u32, n: usize, x: *const f32, y: *mut f32, tid: usize, nt: usize) {
    let (s, e) = split_elems(n, tid, nt);
    match kind {
        RELU => for_lanes(s, e, |i| st(y, i, f32x4_pmax(ld(x, i), f32x4_splat(0.0))), |i| {
            let v = *x.add(i);
            *y.add(i) = if v < 0.0 { 0.0 } else { v };
        }),
        SIGMOID => for_lanes(s, e, |i| st(y, i, sigmoid4(ld(x, i))), |i| *y.add(i) = sigmoid(*x.add(i))),
        TANH => for_lanes(s, e, |i| st(y, i, tanh4(ld(x, i))), |i| *y.add(i) = tanh(*x.add(i))),
        _ => {
            if x != y as *const f32 {
                core::ptr::copy(x.add(s), y.add(s), e - s);
            }
        }
    }
}

/// dx = dy · f'(y); dx may alias dy.
///
/// # Safety
/// `y`, `dy` and `dx` address `n` floats (`dx` may be `dy`, no other overlap); every thread of the job
/// passes the same arguments, so their ranges are disjoint.
pub unsafe fn backward(kind: u32, n: usize, y: *const f32, dy: *const f32, dx: *mut f32, tid: usize, nt: usize) {
    let (s, e) = split_elems(n, tid, nt);
    let one = f32x4_splat(1.0);
    let zero = f32x4_splat(0.0);
    match kind {
        RELU => for_lanes(
            s,
            e,
            |i| st(dx, i, v128_and(ld(dy, i), f32x4_gt(ld(y, i), zero))),
            |i| *dx.add(i) = if *y.add(i) > 0.0 { *dy.add(i) } else { 0.0 },
        ),
        SIGMOID => for_lanes(
            s,
            e,
            |i| {
                let yv = ld(y, i);
                st(dx, i, f32x4_mul(ld(dy, i), f32x4_mul(yv, f32x4_sub(one, yv))))
            },
            |i| {
                let yv = *y.add(i);
                *dx.add(i) = *dy.add(i) * (yv * (1.0 - yv));
            },
        ),
        TANH => for_lanes(
            s,
            e,
            |i| {
                let yv = ld(y, i);
                st(dx, i, f32x4_mul(ld(dy, i), f32x4_sub(one, f32x4_mul(yv, yv))))
            },
            |i| {
                let yv = *y.add(i);
                *dx.add(i) = *dy.add(i) * (1.0 - yv * yv);
            },
        ),
        _ => {
            if dy != dx as *const f32 {
                core::ptr::copy(dy.add(s), dx.add(s), e - s);
            }
        }
    }
}

/// Naive references (libm-free, so they share `math`'s exp; the tests check exp itself against f64).
///
/// # Safety
/// As `forward`, on one thread.
#[cfg(feature = "reference")]
pub unsafe fn forward_naive(kind: u32, n: usize, x: *const f32, y: *mut f32) {
    for i in 0..n {
        let v = *x.add(i);
        *y.add(i) = match kind {
            RELU => if v < 0.0 { 0.0 } else { v },
            SIGMOID => sigmoid(v),
            TANH => tanh(v),
            _ => v,
        };
    }
}

/// # Safety
/// As `backward`, on one thread.
#[cfg(feature = "reference")]
pub unsafe fn backward_naive(kind: u32, n: usize, y: *const f32, dy: *const f32, dx: *mut f32) {
    for i in 0..n {
        let (yv, g) = (*y.add(i), *dy.add(i));
        *dx.add(i) = match kind {
            RELU => if yv > 0.0 { g } else { 0.0 },
            SIGMOID => g * (yv * (1.0 - yv)),
            TANH => g * (1.0 - yv * yv),
            _ => g,
        };
    }
}
