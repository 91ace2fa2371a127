//! Descriptive statistics, Student-t confidence intervals, Spearman's rho,
//! least-squares slopes and paired t-tests.
//!
//! Every function is deterministic and total: empty input, too few points, any
//! non-finite value (NaN or ±inf) or a degenerate (constant) series yields
//! `None` instead of a panic or a NaN, so report code never has to guard.
//!
//! The t quantile comes from `statrs` (`StudentsT::inverse_cdf`), which inverts
//! the regularised incomplete beta function numerically; it agrees with
//! published t tables to well under 1e-6.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Two-sided 95% standard-normal quantile, Φ⁻¹(0.975), used by the Fisher-z CI.
const Z_975: f64 = 1.959_963_984_540_054;

/// Summary of one sample: location, spread and a 95% Student-t CI of the mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Number of observations.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator).
    pub std: f64,
    /// Lower end of the 95% t confidence interval of the mean.
    pub ci95_low: f64,
    /// Upper end of the 95% t confidence interval of the mean.
    pub ci95_high: f64,
    /// Median (mean of the two middle values for even n).
    pub median: f64,
    /// Smallest observation.
    pub min: f64,
    /// Largest observation.
    pub max: f64,
}

/// Returns the input only if it is non-empty and entirely finite, so every
/// statistic below shares one notion of "usable data".
fn finite(xs: &[f64]) -> Option<&[f64]> {
    (!xs.is_empty() && xs.iter().all(|x| x.is_finite())).then_some(xs)
}

/// Arithmetic mean; `None` for empty or non-finite input.
pub fn mean(xs: &[f64]) -> Option<f64> {
    let xs = finite(xs)?;
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    // The sum of large finite values can overflow to infinity.
    m.is_finite().then_some(m)
}

/// Median; `None` for empty or non-finite input.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = finite(xs)?.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        // Halve before adding so two huge values cannot overflow.
        v[mid - 1] / 2.0 + v[mid] / 2.0
    })
}

/// Sample standard deviation (n - 1 denominator); `None` for fewer than two
/// points or non-finite input. Constant data gives `Some(0.0)`.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    let xs = finite(xs)?;
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    let s = (ss / (xs.len() - 1) as f64).sqrt();
    s.is_finite().then_some(s)
}

/// Two-sided 95% Student-t quantile t(0.975, df); `None` when df is 0.
pub fn t_quantile_95(df: usize) -> Option<f64> {
    let t = StudentsT::new(0.0, 1.0, df as f64).ok()?;
    let q = t.inverse_cdf(0.975);
    (q.is_finite() && q > 0.0).then_some(q)
}

/// 95% t confidence interval of a mean from its summary statistics, for when
/// only (mean, sample std, n) are known; `None` if n < 2 or inputs non-finite.
pub fn mean_ci_from(mean: f64, std: f64, n: usize) -> Option<(f64, f64)> {
    if n < 2 || !mean.is_finite() || !std.is_finite() || std < 0.0 {
        return None;
    }
    let half = t_quantile_95(n - 1)? * std / (n as f64).sqrt();
    Some((mean - half, mean + half))
}

/// 95% t confidence interval of the mean of a sample; `None` if fewer than two
/// points or non-finite input.
pub fn mean_ci(xs: &[f64]) -> Option<(f64, f64)> {
    mean_ci_from(mean(xs)?, std_dev(xs)?, xs.len())
}

/// Full summary of a sample; `None` if fewer than two points (a CI needs a
/// spread estimate) or any value is non-finite.
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    let mean = mean(xs)?;
    let std = std_dev(xs)?;
    let (ci95_low, ci95_high) = mean_ci_from(mean, std, xs.len())?;
    Some(Summary {
        n: xs.len(),
        mean,
        std,
        ci95_low,
        ci95_high,
        median: median(xs)?,
        min: xs.iter().copied().fold(f64::INFINITY, f64::min),
        max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// 1-based ranks with ties given the average of the ranks they span.
/// Ties are resolved by a stable sort, so equal inputs give equal outputs.
fn average_ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) share rank mean(i+1 ..= j+1).
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman rank correlation: Pearson correlation of average ranks, so ties
/// are handled exactly. `None` if the lengths differ, there are fewer than 3
/// points, any value is non-finite, or either series is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let (rx, ry) = (average_ranks(finite(x)?), average_ranks(finite(y)?));
    let (mx, my) = (mean(&rx)?, mean(&ry)?);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    // Clamp away rounding excursions just past ±1.
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// 95% CI of Spearman's rho via Fisher's z with the Bonett–Wright (2000)
/// standard error `sqrt((1 + rho²/2) / (n - 3))`, which is better calibrated
/// for rank correlations than the Pearson `1/sqrt(n - 3)`.
///
/// Returns the uninformative `(-1, 1)` when the interval is undefined
/// (n ≤ 3 or a non-finite rho), and `(rho, rho)` for |rho| = 1.
pub fn spearman_ci(rho: f64, n: usize) -> (f64, f64) {
    if n <= 3 || !rho.is_finite() {
        return (-1.0, 1.0);
    }
    let rho = rho.clamp(-1.0, 1.0);
    if rho.abs() == 1.0 {
        return (rho, rho);
    }
    let se = ((1.0 + rho * rho / 2.0) / (n - 3) as f64).sqrt();
    let z = rho.atanh();
    ((z - Z_975 * se).tanh(), (z + Z_975 * se).tanh())
}

/// Least-squares slope of `y` on `x` (units of y per unit of x); `None` if the
/// lengths differ, there are fewer than two points, any value is non-finite,
/// or `x` is constant (no slope is defined).
pub fn ols_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    let b = sxy / sxx;
    (sxx > 0.0 && b.is_finite()).then_some(b)
}

/// Mean of `y` over the third of the points with the smallest `x` minus its
/// mean over the third with the largest `x` (`n / 3` points each, rounded
/// down; ties in `x` keep input order, so the split is deterministic). `None`
/// for fewer than three points, mismatched lengths, non-finite input or a
/// constant `x`, where "fewest" and "most" mean nothing.
pub fn thirds_gap(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let (x, y) = (finite(x)?, finite(y)?);
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    if x[idx[0]] == x[idx[idx.len() - 1]] {
        return None;
    }
    let k = x.len() / 3;
    let third = |ids: &[usize]| mean(&ids.iter().map(|&i| y[i]).collect::<Vec<_>>());
    Some(third(&idx[..k])? - third(&idx[idx.len() - k..])?)
}

/// A paired comparison of two samples observed on the same units (here:
/// replicates sharing a seed), from the per-unit differences `b - a`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// Number of pairs.
    pub n: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// Mean of the differences `b - a` (equal to `mean_b - mean_a`).
    pub diff: f64,
    /// 95% Student-t CI of the mean difference (df = n - 1).
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Paired t statistic, `diff / (sd / sqrt(n))`; ±inf when every difference
    /// is the same non-zero value.
    pub t: f64,
    /// Two-sided p-value of the paired t-test of "mean difference is 0".
    pub p_value: f64,
}

/// Paired t-test and CI of `b - a`; `None` if the lengths differ, there are
/// fewer than two pairs or any value is non-finite. Identical differences give
/// a zero-width CI and p = 1 (all zero) or p = 0 (all the same non-zero value).
pub fn paired_t(a: &[f64], b: &[f64]) -> Option<Paired> {
    if a.len() != b.len() {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let s = summarize(&d)?;
    let (t, p_value) = if s.std == 0.0 {
        match s.mean {
            0.0 => (0.0, 1.0),
            m => (m.signum() * f64::INFINITY, 0.0),
        }
    } else {
        let t = s.mean / (s.std / (s.n as f64).sqrt());
        let dist = StudentsT::new(0.0, 1.0, (s.n - 1) as f64).ok()?;
        (t, (2.0 * dist.sf(t.abs())).min(1.0))
    };
    Some(Paired {
        n: s.n,
        mean_a: mean(a)?,
        mean_b: mean(b)?,
        diff: s.mean,
        ci95_low: s.ci95_low,
        ci95_high: s.ci95_high,
        t,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mean_median_std_known_values() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&xs), Some(5.0));
        assert_eq!(median(&xs), Some(4.5));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        // Sum of squares 32, n-1 = 7.
        assert!(close(std_dev(&xs).unwrap(), (32.0f64 / 7.0).sqrt(), 1e-12));
        assert_eq!(std_dev(&[1.0, 1.0, 1.0]), Some(0.0));
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(median(&[]), None);
        assert_eq!(std_dev(&[1.0]), None);
        assert_eq!(mean(&[1.0, f64::NAN]), None);
        assert_eq!(median(&[f64::INFINITY, 1.0]), None);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), None);
        assert_eq!(summarize(&[1.0]), None);
        assert_eq!(summarize(&[1.0, f64::NAN, 2.0]), None);
        assert_eq!(mean_ci(&[]), None);
        assert_eq!(mean_ci_from(1.0, f64::NAN, 10), None);
        assert_eq!(t_quantile_95(0), None);
    }

    #[test]
    fn t_quantiles_match_table() {
        // Standard two-sided 95% t table values.
        for (df, t) in [
            (1, 12.706_204_736),
            (2, 4.302_652_730),
            (5, 2.570_581_836),
            (9, 2.262_157_163),
            (30, 2.042_272_456),
            (1000, 1.962_339_170),
        ] {
            let q = t_quantile_95(df).unwrap();
            assert!(close(q, t, 1e-6), "df {df}: {q} vs {t}");
        }
    }

    #[test]
    fn t_ci_from_summary_matches_reference() {
        // mean 5, std 2, n 10: half-width = t(0.975, 9) * 2 / sqrt(10).
        let (lo, hi) = mean_ci_from(5.0, 2.0, 10).unwrap();
        let half = 2.262_157_163 * 2.0 / 10f64.sqrt();
        assert!(close(lo, 5.0 - half, 1e-8) && close(hi, 5.0 + half, 1e-8));
        assert!(close(half, 1.430_714, 1e-6));
    }

    #[test]
    fn summarize_known_sample() {
        // 5 ± t(0.975, 7) * sqrt(32/7) / sqrt(8) with the table value t = 2.364624.
        let s = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(
            (s.n, s.mean, s.median, s.min, s.max),
            (8, 5.0, 4.5, 2.0, 9.0)
        );
        assert!(close(s.ci95_low, 3.212_512, 1e-6), "{}", s.ci95_low);
        assert!(close(s.ci95_high, 6.787_488, 1e-6), "{}", s.ci95_high);
        // Constant data: zero-width CI rather than None.
        let c = summarize(&[3.0; 4]).unwrap();
        assert_eq!((c.std, c.ci95_low, c.ci95_high), (0.0, 3.0, 3.0));
    }

    #[test]
    fn spearman_monotone_is_plus_minus_one() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let up = [10.0, 20.0, 25.0, 100.0, 1000.0];
        let down = [5.0, 4.0, 3.0, 2.0, -7.0];
        assert_eq!(spearman(&x, &up), Some(1.0));
        assert_eq!(spearman(&x, &down), Some(-1.0));
    }

    #[test]
    fn spearman_ties_by_hand() {
        // Ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4], both mean 2.5.
        // Sxy = 2.25 + 0 + 0 + 2.25 = 4.5, Sxx = 4.5, Syy = 5,
        // rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9).
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(rho, 0.9f64.sqrt(), 1e-12), "{rho}");
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn spearman_degenerate_is_none() {
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[], &[]), None);
    }

    #[test]
    fn spearman_ci_bonett_wright() {
        // rho 0.5, n 20: z = atanh(0.5) = 0.549306, se = sqrt(1.125/17) = 0.257248,
        // tanh(z ± 1.959964 se) = (0.045079, 0.783164).
        let (lo, hi) = spearman_ci(0.5, 20);
        let se = (1.125f64 / 17.0).sqrt();
        assert!(close(lo, (0.5f64.atanh() - 1.959_964 * se).tanh(), 1e-6));
        assert!(close(hi, (0.5f64.atanh() + 1.959_964 * se).tanh(), 1e-6));
        assert!(
            close(lo, 0.045_079, 1e-6) && close(hi, 0.783_164, 1e-6),
            "{lo} {hi}"
        );
        assert_eq!(spearman_ci(0.5, 3), (-1.0, 1.0));
        assert_eq!(spearman_ci(f64::NAN, 30), (-1.0, 1.0));
        assert_eq!(spearman_ci(1.0, 30), (1.0, 1.0));
        let (lo, hi) = spearman_ci(0.0, 30);
        assert!(close(lo, -hi, 1e-15) && hi > 0.0 && hi < 1.0);
    }

    #[test]
    fn slope_and_thirds_by_hand() {
        // x mean 2.5, y = 2x + 1 exactly, then a perturbed y: Sxx = 5,
        // Sxy = (-1.5)(-3) + (-0.5)(-1) + 0.5(2) + 1.5(3) = 10.5, slope 2.1.
        assert_eq!(
            ols_slope(&[1.0, 2.0, 3.0, 4.0], &[3.0, 5.0, 7.0, 9.0]),
            Some(2.0)
        );
        let b = ols_slope(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 6.0, 7.0]).unwrap();
        assert!(close(b, 2.1, 1e-12), "{b}");
        assert_eq!(ols_slope(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(ols_slope(&[1.0], &[1.0]), None);
        // Seven points: thirds of 2. Smallest x: y 10, 20 (mean 15); largest: 1, 3 (mean 2).
        let x = [5.0, 1.0, 7.0, 3.0, 2.0, 6.0, 4.0];
        let y = [9.0, 10.0, 3.0, 8.0, 20.0, 1.0, 7.0];
        assert_eq!(thirds_gap(&x, &y), Some(13.0));
        // Ties in x keep input order: the first of the tied 1s is in the bottom third.
        assert_eq!(thirds_gap(&[1.0, 1.0, 2.0], &[4.0, 5.0, 1.0]), Some(3.0));
        assert_eq!(thirds_gap(&[1.0, 1.0, 1.0], &[4.0, 5.0, 1.0]), None);
        assert_eq!(thirds_gap(&[1.0, 2.0], &[4.0, 5.0]), None);
    }

    #[test]
    fn paired_t_by_hand() {
        // d = b - a = [1, 2, 2, 4]: mean 2.25, SS 4.75, sd sqrt(4.75/3),
        // t = 2.25 / (sd/2), df 3. Student t with 3 df has the closed-form CDF
        // 1/2 + (t/(sqrt3 (1 + t²/3)) + atan(t/sqrt3)) / pi.
        let p = paired_t(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 5.0, 8.0]).unwrap();
        let sd = (4.75f64 / 3.0).sqrt();
        let t = 2.25 / (sd / 2.0);
        let r3 = 3f64.sqrt();
        let cdf = 0.5 + (t / (r3 * (1.0 + t * t / 3.0)) + (t / r3).atan()) / std::f64::consts::PI;
        assert!(
            close(p.t, t, 1e-12) && close(p.t, 3.576_237, 1e-6),
            "{}",
            p.t
        );
        assert!(close(p.p_value, 2.0 * (1.0 - cdf), 1e-9), "{}", p.p_value);
        let half = 3.182_446_305 * sd / 2.0;
        assert!(close(p.ci95_low, 2.25 - half, 1e-6) && close(p.ci95_high, 2.25 + half, 1e-6));
        assert_eq!((p.n, p.mean_a, p.mean_b, p.diff), (4, 2.5, 4.75, 2.25));
        // Constant differences: exact answers, no NaN.
        let c = paired_t(&[1.0, 2.0], &[2.0, 3.0]).unwrap();
        assert_eq!(
            (c.t, c.p_value, c.ci95_low, c.ci95_high),
            (f64::INFINITY, 0.0, 1.0, 1.0)
        );
        let z = paired_t(&[1.0, 2.0], &[1.0, 2.0]).unwrap();
        assert_eq!((z.t, z.p_value), (0.0, 1.0));
        assert_eq!(paired_t(&[1.0], &[2.0]), None);
        assert_eq!(paired_t(&[1.0, 2.0], &[2.0]), None);
    }

    proptest! {
        #[test]
        fn spearman_bounded_and_symmetric(
            pairs in prop::collection::vec((-1e6f64..1e6, -1e6f64..1e6), 0..40)
        ) {
            let (x, y): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
            let r = spearman(&x, &y);
            prop_assert_eq!(r, spearman(&y, &x));
            if let Some(r) = r {
                prop_assert!((-1.0..=1.0).contains(&r));
                let (lo, hi) = spearman_ci(r, x.len());
                prop_assert!(-1.0 <= lo && lo <= r && r <= hi && hi <= 1.0);
            }
        }

        #[test]
        fn spearman_with_ties_bounded(
            pairs in prop::collection::vec((0u8..4, 0u8..4), 3..30)
        ) {
            let x: Vec<f64> = pairs.iter().map(|p| f64::from(p.0)).collect();
            let y: Vec<f64> = pairs.iter().map(|p| f64::from(p.1)).collect();
            if let Some(r) = spearman(&x, &y) {
                prop_assert!((-1.0..=1.0).contains(&r));
                prop_assert_eq!(Some(r), spearman(&y, &x));
            }
        }

        #[test]
        fn summary_is_ordered(xs in prop::collection::vec(-1e9f64..1e9, 2..50)) {
            let s = summarize(&xs).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.max);
            prop_assert!(s.ci95_low <= s.mean && s.mean <= s.ci95_high);
            prop_assert!(s.std >= 0.0);
        }
    }
}
