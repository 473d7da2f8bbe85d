//! Row-wise softmax, forward and the general backward dx = y ⊙ (dy − ⟨dy, y⟩). Rows are never split
//! across threads, so each row's sums run in one fixed order.
use crate::math::{exp, exp4};
use crate::ops::{Kernel, SoftmaxBwdArgs, SoftmaxFwdArgs};
use crate::{hsum, ld, split};
use core::arch::wasm32::*;

impl Kernel for SoftmaxFwdArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        forward(self.rows, self.cols, self.x, self.y, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.rows * self.cols, 2048, self.rows)
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for SoftmaxFwdArgs {
    unsafe fn reference(&self) {
        forward_naive(self.rows, self.cols, self.x, self.y)
    }
}

impl Kernel for SoftmaxBwdArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        backward(self.rows, self.cols, self.y, self.dy, self.dx, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.rows * self.cols, 2048, self.rows)
    }
}

/// # Safety
/// `x` and `y` address `cols` floats (`y` may be `x`).
pub unsafe fn forward_row(cols: usize, x: *const f32, y: *mut f32) {
    let c4 = cols & !3;
    let mut mx = f32::NEG_INFINITY;
    for j in 0..cols {
        let v = *x.add(j);
        if v > mx || v != v {
            mx = v;
        }
    }
    let mv = f32x4_splat(mx);
    let mut acc = f32x4_splat(0.0);
    let mut j = 0;
    while j < c4 {
        let e = exp4(f32x4_sub(ld(x, j), mv));
        v128_store(y.add(j) as *mut v128, e);
        acc = f32x4_add(acc, e);
        j += 4;
    }
    let mut sum = hsum(acc);
    while j < cols {
        let e = exp(*x.add(j) - mx);
        *y.add(j) = e;
        sum += e;
        j += 1;
    }
    let inv = 1.0 / sum;
    for j in 0..cols {
        *y.add(j) *= inv;
    }
}

/// # Safety
/// `x` and `y` address `rows×cols` floats (`y` may be `x`); every thread passes the same arguments, so
/// each writes its own rows.
pub unsafe fn forward(rows: usize, cols: usize, x: *const f32, y: *mut f32, tid: usize, nt: usize) {
    let (r0, r1) = split(rows, tid, nt);
    for r in r0..r1 {
        forward_row(cols, x.add(r * cols), y.add(r * cols));
    }
}

/// # Safety
/// `y`, `dy` and `dx` address `rows×cols` floats (`dx` may be `dy`); every thread passes the same
/// arguments, so each writes its own rows.
pub unsafe fn backward(rows: usize, cols: usize, y: *const f32, dy: *const f32, dx: *mut f32, tid: usize, nt: usize) {
    let (r0, r1) = split(rows, tid, nt);
    for r in r0..r1 {
        let (yr, dyr, dxr) = (y.add(r * cols), dy.add(r * cols), dx.add(r * cols));
        let mut dot = 0.0f32;
        for j in 0..cols {
            dot += *dyr.add(j) * *yr.add(j);
        }
        for j in 0..cols {
            *dxr.add(j) = *yr.add(j) * (*dyr.add(j) - dot);
        }
    }
}

/// # Safety
/// As `forward`, on one thread.
#[cfg(feature = "reference")]
pub unsafe fn forward_naive(rows: usize, cols: usize, x: *const f32, y: *mut f32) {
    for r in 0..rows {
        let (xr, yr) = (x.add(r * cols), y.add(r * cols));
        let mut mx = f32::NEG_INFINITY;
        for j in 0..cols {
            mx = if *xr.add(j) > mx { *xr.add(j) } else { mx };
        }
        let mut sum = 0.0f32;
        for j in 0..cols {
            *yr.add(j) = exp(*xr.add(j) - mx);
            sum += *yr.add(j);
        }
        for j in 0..cols {
            *yr.add(j) /= sum;
        }
    }
}
