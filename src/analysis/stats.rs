//! Honest statistics for small series: correlations that say how many points they rest on and
//! how sure they are, and that refuse rather than invent.
//!
//! A business has a few dozen weeks of history, not thousands of samples, so every figure
//! here comes with its `n` and a confidence interval, and a series too short or without
//! variation gives a typed reason ([`NoCorrelation`]) instead of NaN. The lag, decoupling and
//! metric-audit rules all read their correlations from here, so they agree on what "enough
//! data" means.

use serde::Serialize;

/// The fewest pairs a correlation is computed on by default: below this, a coefficient says
/// more about chance than about the channel.
pub const MIN_PERIODS: usize = 8;

/// A correlation between two series, with how much it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Correlation {
    /// Pearson's r.
    pub r: f64,
    /// How many pairs it was computed on (pairs with a missing value are left out).
    pub n: usize,
    /// The 95% confidence interval of r, by Fisher's z transformation.
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Why no correlation was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoCorrelation {
    /// Fewer complete pairs than the minimum.
    TooFewPeriods { n: usize, needed: usize },
    /// One series does not vary over the pairs (a constant has no correlation with anything).
    Constant,
}

/// Pearson's r of the pairs where both values are known, with its Fisher-z interval; at least
/// `min_n` pairs (and never fewer than 4, where the interval is undefined).
pub fn pearson(
    x: &[Option<f64>],
    y: &[Option<f64>],
    min_n: usize,
) -> Result<Correlation, NoCorrelation> {
    let (xs, ys) = pairs(x, y);
    let n = xs.len();
    let needed = min_n.max(4);
    if n < needed {
        return Err(NoCorrelation::TooFewPeriods { n, needed });
    }
    let r = coefficient(&xs, &ys).ok_or(NoCorrelation::Constant)?;
    let (ci_low, ci_high) = fisher_interval(r, n);
    Ok(Correlation {
        r,
        n,
        ci_low,
        ci_high,
    })
}

/// Spearman's rho: Pearson's r of the ranks (ties get their mean rank), with the same
/// interval (Fisher's z on rho is the usual approximation).
pub fn spearman(
    x: &[Option<f64>],
    y: &[Option<f64>],
    min_n: usize,
) -> Result<Correlation, NoCorrelation> {
    let (xs, ys) = pairs(x, y);
    let (rx, ry) = (ranks(&xs), ranks(&ys));
    let known: Vec<Option<f64>> = rx.into_iter().map(Some).collect();
    let other: Vec<Option<f64>> = ry.into_iter().map(Some).collect();
    pearson(&known, &other, min_n)
}

/// Pearson's r of `x[t]` against `y[t + lag]` for each lag in `0..=max_lag`: activity now
/// against money `lag` periods later.
pub fn cross_correlation(
    x: &[Option<f64>],
    y: &[Option<f64>],
    max_lag: usize,
    min_n: usize,
) -> Vec<(usize, Result<Correlation, NoCorrelation>)> {
    (0..=max_lag)
        .map(|lag| {
            let shifted_y: Vec<Option<f64>> = y.iter().skip(lag).copied().collect();
            let len = shifted_y.len().min(x.len());
            (lag, pearson(&x[..len], &shifted_y[..len], min_n))
        })
        .collect()
}

/// The lag in `0..=max_lag` whose correlation of `x[t]` with `y[t + lag]` is the highest, with
/// that correlation; `None` when no lag has one (too few pairs, or a constant series), with
/// the reason of lag 0. The same rule everywhere a "best lag" is read (the lag rule, the
/// metric audit), so they never disagree.
pub fn best_lag(
    x: &[Option<f64>],
    y: &[Option<f64>],
    max_lag: usize,
    min_n: usize,
) -> Result<(usize, Correlation), NoCorrelation> {
    let all = cross_correlation(x, y, max_lag, min_n);
    let first_reason =
        all.first()
            .and_then(|(_, c)| c.err())
            .unwrap_or(NoCorrelation::TooFewPeriods {
                n: 0,
                needed: min_n.max(4),
            });
    all.into_iter()
        .filter_map(|(lag, c)| c.ok().map(|c| (lag, c)))
        // Ties go to the shorter lag: fewer periods lost, and the simpler story.
        .fold(
            None,
            |best: Option<(usize, Correlation)>, (lag, c)| match best {
                Some((_, b)) if b.r >= c.r => best,
                _ => Some((lag, c)),
            },
        )
        .ok_or(first_reason)
}

/// The 95% interval of r over `n` pairs: tanh(atanh(r) ± 1.96 / sqrt(n - 3)).
pub fn fisher_interval(r: f64, n: usize) -> (f64, f64) {
    fisher_interval_at(r, n, 1.959_963_985)
}

/// The interval of r over `n` pairs at the normal quantile `z` (1.96 for 95%; larger for an
/// interval corrected for many comparisons): tanh(atanh(r) ± z / sqrt(n - 3)).
pub fn fisher_interval_at(r: f64, n: usize, z_crit: f64) -> (f64, f64) {
    if n <= 3 {
        return (-1.0, 1.0);
    }
    // atanh(±1) is infinite: a perfect correlation's interval is the point itself.
    let z = r.clamp(-0.999_999_999, 0.999_999_999).atanh();
    let half = z_crit / ((n - 3) as f64).sqrt();
    ((z - half).tanh(), (z + half).tanh())
}

/// The complete pairs of two series of equal length (the shorter bounds them).
fn pairs(x: &[Option<f64>], y: &[Option<f64>]) -> (Vec<f64>, Vec<f64>) {
    x.iter()
        .zip(y)
        .filter_map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if a.is_finite() && b.is_finite() => Some((*a, *b)),
            _ => None,
        })
        .unzip()
}

/// r, or `None` when either series has no variance.
fn coefficient(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    // Relative to the values' size, so rounding noise in a constant series is still constant.
    let tiny = |s: f64, m: f64| s <= f64::EPSILON * n * (m * m).max(1.0);
    if tiny(sxx, mx) || tiny(syy, my) {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = mean;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().copied().map(Some).collect()
    }

    #[test]
    fn pearson_of_a_line_is_one_and_its_interval_is_narrow() {
        let x = some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        let y = some(&[3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0, 21.0]);
        let c = pearson(&x, &y, MIN_PERIODS).unwrap();
        assert!((c.r - 1.0).abs() < 1e-12);
        assert_eq!(c.n, 10);
        assert!(c.ci_low > 0.99, "{c:?}");
    }

    #[test]
    fn a_hand_computed_r_and_its_fisher_interval() {
        // x = 1..8, y as below: Sxy = 35, Sxx = 42, Syy = 43.5, r = 35 / sqrt(42 * 43.5)
        // = 0.818839; z = atanh(r) = 1.1522, ± 1.96 / sqrt(5) gives (0.2699, 0.9661).
        let x = some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let y = some(&[2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 4.0, 9.0]);
        let c = pearson(&x, &y, 8).unwrap();
        assert!((c.r - 0.818_839_474).abs() < 1e-8, "{c:?}");
        assert!((c.ci_low - 0.2699).abs() < 1e-4, "{c:?}");
        assert!((c.ci_high - 0.9661).abs() < 1e-4, "{c:?}");
    }

    #[test]
    fn too_few_pairs_and_constant_series_are_reasons_not_nan() {
        let x = some(&[1.0, 2.0, 3.0]);
        assert_eq!(
            pearson(&x, &x, MIN_PERIODS),
            Err(NoCorrelation::TooFewPeriods { n: 3, needed: 8 })
        );
        let flat = some(&[5.0; 10]);
        let rising = some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(pearson(&flat, &rising, 8), Err(NoCorrelation::Constant));
        // Missing values drop their pair.
        let mut gappy = rising.clone();
        gappy[0] = None;
        gappy[1] = None;
        gappy[2] = None;
        assert_eq!(
            pearson(&gappy, &rising, 8),
            Err(NoCorrelation::TooFewPeriods { n: 7, needed: 8 })
        );
    }

    #[test]
    fn spearman_sees_a_monotone_curve_as_one_and_averages_ties() {
        let x = some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let y = some(&[1.0, 4.0, 9.0, 16.0, 25.0, 36.0, 49.0, 1000.0]);
        assert!((spearman(&x, &y, 8).unwrap().r - 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn cross_correlation_finds_a_two_period_lag() {
        let x: Vec<f64> = (0..20).map(|i| ((i * 7) % 11) as f64).collect();
        let mut y = vec![0.0, 0.0];
        y.extend(x.iter().map(|v| v * 3.0 + 1.0));
        let (lag, c) = best_lag(&some(&x), &some(&y), 4, 8).unwrap();
        assert_eq!(lag, 2);
        assert!((c.r - 1.0).abs() < 1e-12);
        assert_eq!(
            best_lag(&some(&x[..5]), &some(&y[..5]), 4, 8),
            Err(NoCorrelation::TooFewPeriods { n: 5, needed: 8 })
        );
    }
}
