//! Reductions in a fixed order. Column sums (the bias gradient) split columns, never rows, across
//! threads; each column is summed top to bottom whatever the thread count.
use crate::split;
use core::arch::wasm32::*;

/// out[0] = scale · Σ x[i], in index order, on one thread.
pub unsafe fn sum(n: usize, x: *const f32, out: *mut f32, scale: f32) {
    let mut s = 0.0f32;
    for i in 0..n {
        s += *x.add(i);
    }
    *out = s * scale;
}

pub unsafe fn colsum(rows: usize, cols: usize, x: *const f32, out: *mut f32, tid: usize, nt: usize) {
    let groups = cols.div_ceil(4);
    let (g0, g1) = split(groups, tid, nt);
    for g in g0..g1 {
        let j = g * 4;
        if j + 4 <= cols {
            let mut acc = f32x4_splat(0.0);
            for i in 0..rows {
                acc = f32x4_add(acc, v128_load(x.add(i * cols + j) as *const v128));
            }
            v128_store(out.add(j) as *mut v128, acc);
        } else {
            for jj in j..cols {
                let mut s = 0.0f32;
                for i in 0..rows {
                    s += *x.add(i * cols + jj);
                }
                *out.add(jj) = s;
            }
        }
    }
}

pub unsafe fn colsum_naive(rows: usize, cols: usize, x: *const f32, out: *mut f32) {
    for j in 0..cols {
        let mut s = 0.0f32;
        for i in 0..rows {
            s += *x.add(i * cols + j);
        }
        *out.add(j) = s;
    }
}
