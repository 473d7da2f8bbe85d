//! Batch assembly: rows picked by an index list from a dataset that stays in its stored dtype
//! (MNIST stays uint8 in memory; only the current batch becomes f32, divided on the way: v / 255
//! correctly rounded, the same float32 that tfjs' `x.div(255)` gives).
use crate::ops::dtype::{I32, U8};
use crate::ops::{CountNonFiniteArgs, GatherArgs, Kernel};
use crate::split;

impl Kernel for GatherArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        gather(self.src_kind, self.dst_kind, self.rows, self.row_len, self.idx, self.src, self.dst, self.div, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.rows * self.row_len, 4096, self.rows)
    }
}

/// Counts NaN and ±Infinity, on thread 0 (used to reject bad inputs with a clear error).
impl Kernel for CountNonFiniteArgs {
    unsafe fn run(&self, tid: usize, _nt: usize) {
        if tid == 0 {
            let mut bad = 0u32;
            for i in 0..self.n {
                let v = *self.x.add(i);
                bad += (v - v != 0.0 || v != v) as u32;
            }
            *self.out = bad;
        }
    }
}

/// dst[r, :] = src[idx[r], :] / div, converting `src_kind` to `dst_kind` (F32, or I32 for labels).
///
/// # Safety
/// `idx` addresses `rows` i32 row numbers of `src`, each in range; `src` holds those rows of `row_len`
/// elements of `src_kind`; `dst` addresses `rows·row_len` elements of `dst_kind` and overlaps neither `src` nor
/// `idx`; every thread passes the same arguments, so each writes its own rows.
pub unsafe fn gather(src_kind: u32, dst_kind: u32, rows: usize, row_len: usize, idx: *const i32, src: *const u8, dst: *mut u8, div: f32, tid: usize, nt: usize) {
    let (r0, r1) = split(rows, tid, nt);
    for r in r0..r1 {
        let s = *idx.add(r) as usize * row_len;
        let d = r * row_len;
        for c in 0..row_len {
            let v: f32 = match src_kind {
                U8 => *src.add(s + c) as f32,
                I32 => *(src as *const i32).add(s + c) as f32,
                _ => *(src as *const f32).add(s + c),
            };
            if dst_kind == I32 {
                *(dst as *mut i32).add(d + c) = match src_kind {
                    I32 => *(src as *const i32).add(s + c),
                    _ => v as i32,
                };
            } else {
                *(dst as *mut f32).add(d + c) = if div == 1.0 { v } else { v / div };
            }
        }
    }
}
