//! exp, ln, sigmoid and tanh for no_std f32 (Cephes-style range reduction and minimax polynomials,
//! about 1–2 ulp). The scalar and 4-lane versions run the same operations in the same order, so a
//! tail element computed by the scalar code equals what a SIMD lane would give.
use core::arch::wasm32::*;

const EXP_HI: f32 = 88.376_26;
const EXP_LO: f32 = -87.336_55; // keeps 2^n normal; below it e^x < 2^-126 is flushed to 0
const LOG2E: f32 = 1.442_695;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P: [f32; 6] = [1.987_569_2e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1];

/// e^x for x ≤ EXP_HI (larger x give e^EXP_HI ≈ 2.4e38). Below EXP_LO the result would be subnormal
/// or 0: it is 0 (not the clamped 2^-126, which made softmax([1000, -1000]) = [1, 5.9e-39] and a
/// -inf logit come out nonzero). NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    if x < EXP_LO {
        return 0.0;
    }
    let x = if x > EXP_HI { EXP_HI } else { x };
    let n = nearest(x * LOG2E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut y = P[0];
    y = y * r + P[1];
    y = y * r + P[2];
    y = y * r + P[3];
    y = y * r + P[4];
    y = y * r + P[5];
    let y = (y * (r * r) + r) + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn nearest(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_nearest(f32x4_splat(x)))
}

/// `exp` on 4 lanes (the same operations per lane).
#[inline(always)]
pub fn exp4(x0: v128) -> v128 {
    let x = f32x4_pmin(f32x4_pmax(x0, f32x4_splat(EXP_LO)), f32x4_splat(EXP_HI));
    let n = f32x4_nearest(f32x4_mul(x, f32x4_splat(LOG2E)));
    let r = f32x4_sub(f32x4_sub(x, f32x4_mul(n, f32x4_splat(LN2_HI))), f32x4_mul(n, f32x4_splat(LN2_LO)));
    let mut y = f32x4_splat(P[0]);
    for c in &P[1..] {
        y = f32x4_add(f32x4_mul(y, r), f32x4_splat(*c));
    }
    let y = f32x4_add(f32x4_add(f32x4_mul(y, f32x4_mul(r, r)), r), f32x4_splat(1.0));
    let e = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23);
    // lanes below EXP_LO → +0
    let r = v128_andnot(f32x4_mul(y, e), f32x4_lt(x0, f32x4_splat(EXP_LO)));
    // A NaN lane stays NaN explicitly: with relaxed SIMD enabled the compiler may lower the pmin/pmax clamp
    // above to min/max instructions that return the bound for NaN (sigmoid(NaN) came out 4e-39 on Node 24).
    v128_bitselect(x0, r, f32x4_ne(x0, x0))
}

/// Natural log for x > 0 (callers clip away 0 and negatives).
pub fn ln(x: f32) -> f32 {
    if !(x > 0.0) {
        return if x == 0.0 { f32::NEG_INFINITY } else { f32::NAN };
    }
    if x == f32::INFINITY {
        return x;
    }
    let mut bits = x.to_bits();
    let mut e: i32 = 0;
    if bits < 0x0080_0000 {
        // subnormal: scale into the normal range first
        bits = (x * 16_777_216.0).to_bits();
        e -= 24;
    }
    e += ((bits >> 23) & 0xff) as i32 - 126;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    if m < core::f32::consts::FRAC_1_SQRT_2 {
        e -= 1;
        m = m + m - 1.0;
    } else {
        m -= 1.0;
    }
    let z = m * m;
    let mut y = 7.037_683_6e-2f32;
    y = y * m - 1.151_461e-1;
    y = y * m + 1.167_699_9e-1;
    y = y * m - 1.242_014_1e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_5e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333_1e-1;
    y = y * m * z;
    let ef = e as f32;
    y += LN2_LO * ef;
    y += -0.5 * z;
    (m + y) + LN2_HI * ef
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
pub fn sigmoid4(x: v128) -> v128 {
    let one = f32x4_splat(1.0);
    f32x4_div(one, f32x4_add(one, exp4(f32x4_neg(x))))
}

const TANH_P: [f32; 5] = [-5.704_988_7e-3, 2.063_908_9e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328_2e-1];

/// tanh: an odd polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), the exp form elsewhere.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let ax = if x < 0.0 { -x } else { x };
    if ax < 0.625 {
        let z = x * x;
        let mut p = TANH_P[0];
        p = p * z + TANH_P[1];
        p = p * z + TANH_P[2];
        p = p * z + TANH_P[3];
        p = p * z + TANH_P[4];
        (p * z) * x + x
    } else {
        let t = 1.0 - 2.0 / (exp(ax + ax) + 1.0);
        if x < 0.0 { -t } else { t }
    }
}

#[inline(always)]
pub fn tanh4(x: v128) -> v128 {
    let ax = f32x4_abs(x);
    let z = f32x4_mul(x, x);
    let mut p = f32x4_splat(TANH_P[0]);
    for c in &TANH_P[1..] {
        p = f32x4_add(f32x4_mul(p, z), f32x4_splat(*c));
    }
    let small = f32x4_add(f32x4_mul(f32x4_mul(p, z), x), x);
    let one = f32x4_splat(1.0);
    let two = f32x4_splat(2.0);
    let t = f32x4_sub(one, f32x4_div(two, f32x4_add(exp4(f32x4_add(ax, ax)), one)));
    // copy the sign of x onto t
    let sign = v128_and(x, f32x4_splat(-0.0));
    let big = v128_or(t, sign);
    v128_bitselect(small, big, f32x4_lt(ax, f32x4_splat(0.625)))
}

#[inline(always)]
pub fn sqrt(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_sqrt(f32x4_splat(x)))
}
