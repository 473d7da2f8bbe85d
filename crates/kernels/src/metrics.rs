//! Accuracy per row, computed where the predictions already are. Ties in argmax go to the first index,
//! as tf.argmax does.
use crate::ops::acc_kind::{CATEGORICAL, SPARSE};
use crate::ops::{AccuracyArgs, Kernel};
use crate::split;

impl Kernel for AccuracyArgs {
    unsafe fn run(&self, tid: usize, nt: usize) {
        accuracy(self.kind, self.rows, self.cols, self.pred, self.labels, self.out, tid, nt)
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.rows * self.cols, 2048, self.rows)
    }
}

/// # Safety
/// `p` addresses `n ≥ 1` floats.
unsafe fn argmax(p: *const f32, n: usize) -> usize {
    let mut best = 0;
    let mut bv = *p;
    for j in 1..n {
        if *p.add(j) > bv {
            bv = *p.add(j);
            best = j;
        }
    }
    best
}

/// # Safety
/// `pred` addresses `rows×cols` floats, `labels` `rows` i32 (sparse) or `rows×cols` floats, `out` `rows`
/// floats; every thread passes the same arguments, so each writes its own rows.
pub unsafe fn accuracy(kind: u32, rows: usize, cols: usize, pred: *const f32, labels: *const u8, out: *mut f32, tid: usize, nt: usize) {
    let (r0, r1) = split(rows, tid, nt);
    for r in r0..r1 {
        let p = pred.add(r * cols);
        *out.add(r) = match kind {
            SPARSE => (argmax(p, cols) as i32 == *(labels as *const i32).add(r)) as u32 as f32,
            CATEGORICAL => (argmax(p, cols) == argmax((labels as *const f32).add(r * cols), cols)) as u32 as f32,
            _ => {
                let t = (labels as *const f32).add(r * cols);
                let mut hit = 0u32;
                for j in 0..cols {
                    hit += ((*p.add(j) > 0.5) == (*t.add(j) > 0.5)) as u32;
                }
                hit as f32 / cols as f32
            }
        };
    }
}
