//! Losses: per-row value and, when asked, the gradient scaled by `scale` (1/batch for Keras' mean over
//! the batch). Probabilities are normalised by their row sum and clipped to [ε, 1 − ε] as Keras and
//! tfjs-layers do (sparse labels clip each probability before normalising too, as tfjs-layers'
//! sparseCategoricalCrossentropy does); where a clip is active the gradient through it is zero.
//! FUSED: `pred` holds softmax (or sigmoid) outputs and the gradient is taken with respect to the
//! logits: (p − y)·scale for cross-entropy, the form Keras uses when a softmax feeds a cross-entropy.
use crate::math::{exp, ln, sigmoid};
use crate::ops::loss_flag::{FROM_LOGITS, FUSED};
use crate::ops::loss_kind::{
    BINARY_CROSSENTROPY as BCE, CATEGORICAL_CROSSENTROPY as CCE, MEAN_SQUARED_ERROR as MSE, SPARSE_CATEGORICAL_CROSSENTROPY as SPARSE_CCE,
};
use crate::ops::{Kernel, LossArgs as Loss};
use crate::split;

impl Kernel for Loss {
    unsafe fn run(&self, tid: usize, nt: usize) {
        let (r0, r1) = split(self.rows, tid, nt);
        for r in r0..r1 {
            row(self, r);
        }
    }
    fn tiles(&self) -> u32 {
        crate::tiles_for(self.rows * self.cols, 2048, self.rows)
    }
}

#[inline(always)]
fn clip(v: f32, lo: f32, hi: f32) -> (f32, bool) {
    if v < lo {
        (lo, false)
    } else if v > hi {
        (hi, false)
    } else {
        (v, true)
    }
}

/// # Safety
/// `z` addresses `cols` floats.
unsafe fn lse(z: *const f32, cols: usize) -> f32 {
    let mut mx = f32::NEG_INFINITY;
    for j in 0..cols {
        let v = *z.add(j);
        if v > mx || v != v {
            mx = v;
        }
    }
    let mut s = 0.0f32;
    for j in 0..cols {
        s += exp(*z.add(j) - mx);
    }
    mx + ln(s)
}

/// # Safety
/// `r < l.rows` and `l`'s pointers address the extents `LossArgs` declares (labels: `rows` i32 for the
/// sparse loss, else `rows×cols` floats; `grad` null or `rows×cols`); row `r` of `out` and `grad` is this
/// thread's.
unsafe fn row(l: &Loss, r: usize) {
    let c = l.cols;
    let p = l.pred.add(r * c);
    let g = if l.grad.is_null() { core::ptr::null_mut() } else { l.grad.add(r * c) };
    let logits = l.flags & FROM_LOGITS != 0;
    let fused = l.flags & FUSED != 0;
    let (eps, sc) = (l.eps, l.scale);
    let t = (l.labels as *const f32).add(r * c); // dense labels
    let loss = match l.kind {
        SPARSE_CCE | CCE => {
            // Dense form with target weights: sparse is one-hot of the label.
            let y = if l.kind == SPARSE_CCE { *(l.labels as *const i32).add(r) } else { -1 };
            if l.kind == SPARSE_CCE && (y < 0 || y as usize >= c) {
                if !g.is_null() {
                    for j in 0..c {
                        *g.add(j) = f32::NAN;
                    }
                }
                *l.out.add(r) = f32::NAN;
                return;
            }
            let tj = |j: usize| -> f32 {
                if l.kind == SPARSE_CCE {
                    if j == y as usize { 1.0 } else { 0.0 }
                } else {
                    *t.add(j)
                }
            };
            let mut tsum = 0.0f32;
            for j in 0..c {
                tsum += tj(j);
            }
            if logits {
                let m = lse(p, c);
                let mut loss = 0.0f32;
                for j in 0..c {
                    let w = tj(j);
                    if w != 0.0 {
                        loss += w * (m - *p.add(j));
                    }
                }
                if !g.is_null() {
                    for j in 0..c {
                        *g.add(j) = sc * (exp(*p.add(j) - m) * tsum - tj(j));
                    }
                }
                loss
            } else {
                // Sparse labels: tfjs-layers (like Keras) clips each probability to [ε, 1 − ε] *before*
                // normalising (and again after), so a clipped probability gets no gradient; categorical
                // normalises first. `pre` is that first clip (the identity for categorical).
                let sparse = l.kind == SPARSE_CCE;
                let pre = |j: usize| -> (f32, bool) {
                    let v = *p.add(j);
                    if sparse { clip(v, eps, 1.0 - eps) } else { (v, true) }
                };
                let mut s = 0.0f32;
                for j in 0..c {
                    s += pre(j).0;
                }
                let mut loss = 0.0f32;
                // Σ t_i over i whose normalised value is unclipped, for the 1/s term. That term comes
                // through s, so it does not matter whether p_i itself was pre-clipped: a label whose
                // probability is below ε still pulls every unclipped p_j down through the sum.
                let mut common = 0.0f32;
                for j in 0..c {
                    let w = tj(j);
                    if w != 0.0 {
                        let (q, inside) = clip(pre(j).0 / s, eps, 1.0 - eps);
                        loss -= w * ln(q);
                        if inside {
                            common += w;
                        }
                    }
                }
                if !g.is_null() {
                    for j in 0..c {
                        let pj = *p.add(j);
                        *g.add(j) = if fused {
                            sc * (pj * tsum - tj(j))
                        } else {
                            let w = tj(j);
                            let (pc, in1) = pre(j);
                            if in1 {
                                let own = if w != 0.0 && clip(pc / s, eps, 1.0 - eps).1 { -w / pc } else { 0.0 };
                                sc * (own + common / s)
                            } else {
                                0.0
                            }
                        };
                    }
                }
                loss
            }
        }
        MSE => {
            let mut acc = 0.0f32;
            for j in 0..c {
                let d = *p.add(j) - *t.add(j);
                acc += d * d;
                if !g.is_null() {
                    *g.add(j) = sc * (2.0 * d / c as f32);
                }
            }
            acc / c as f32
        }
        BCE => {
            let mut acc = 0.0f32;
            for j in 0..c {
                let (z, tv) = (*p.add(j), *t.add(j));
                if logits {
                    let az = if z < 0.0 { -z } else { z };
                    acc += (if z > 0.0 { z } else { 0.0 }) - z * tv + ln(1.0 + exp(-az));
                    if !g.is_null() {
                        *g.add(j) = sc * (sigmoid(z) - tv) / c as f32;
                    }
                } else {
                    let (pc, inside) = clip(z, eps, 1.0 - eps);
                    acc -= tv * ln(pc) + (1.0 - tv) * ln(1.0 - pc);
                    if !g.is_null() {
                        *g.add(j) = if fused {
                            sc * (z - tv) / c as f32
                        } else if inside {
                            sc * ((pc - tv) / (pc * (1.0 - pc))) / c as f32
                        } else {
                            0.0
                        };
                    }
                }
            }
            acc / c as f32
        }
        _ => f32::NAN,
    };
    *l.out.add(r) = loss;
}
