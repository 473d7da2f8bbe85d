//! Reductions in a fixed order. Column sums (the bias gradient) split columns, never rows, across
//! threads; each column is summed top to bottom whatever the thread count.
use crate::ops::{ColsumArgs, Kernel, SumArgs};
use crate::split;
use core::arch::wasm32::*;

impl Kernel for SumArgs {
    unsafe fn run(&self, tid: usize, _nt: usize) {
        if tid == 0 {
            sum(self.n, self.x, self.out, self.scale)
        }
    }
}

impl Kernel for ColsumArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        colsum(self.rows, self.cols, self.x, self.out, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.rows * self.cols, 4096, self.cols.div_ceil(4))
    }
}

#[cfg(feature = "reference")]
impl crate::ops::Reference for ColsumArgs {
    unsafe fn reference(&self) {
        colsum_naive(self.rows, self.cols, self.x, self.out)
    }
}

/// out[0] = scale · Σ x[i], in index order, on one thread.
///
/// # Safety
/// `x` addresses `n` floats and `out` one.
pub unsafe fn sum(n: usize, x: *const f32, out: *mut f32, scale: f32) {
    let mut s = 0.0f32;
    for i in 0..n {
        s += *x.add(i);
    }
    *out = s * scale;
}

/// Row by row into the output (rows are contiguous; walking down a column of a 512-wide matrix puts every
/// load in the same few L1 sets). Each column still sums its rows top to bottom.
///
/// # Safety
/// `x` addresses `rows×cols` floats and `out` `cols`, not overlapping; every thread passes the same
/// arguments, so each writes its own column groups.
pub unsafe fn colsum(rows: usize, cols: usize, x: *const f32, out: *mut f32, tid: usize, nt: usize) {
    let (g0, g1) = split(cols.div_ceil(4), tid, nt);
    let (j0, j1) = (g0 * 4, (g1 * 4).min(cols));
    if j0 >= j1 {
        return;
    }
    let v1 = j0 + ((j1 - j0) & !3);
    for j in j0..j1 {
        *out.add(j) = 0.0;
    }
    for i in 0..rows {
        let row = x.add(i * cols);
        let mut j = j0;
        while j < v1 {
            let o = out.add(j) as *mut v128;
            v128_store(o, f32x4_add(v128_load(o), v128_load(row.add(j) as *const v128)));
            j += 4;
        }
        while j < j1 {
            *out.add(j) += *row.add(j);
            j += 1;
        }
    }
}

/// # Safety
/// As `colsum`, on one thread.
#[cfg(feature = "reference")]
pub unsafe fn colsum_naive(rows: usize, cols: usize, x: *const f32, out: *mut f32) {
    for j in 0..cols {
        let mut s = 0.0f32;
        for i in 0..rows {
            s += *x.add(i * cols + j);
        }
        *out.add(j) = s;
    }
}
