//! The latency histogram: log-linear buckets over microseconds (128 exact values, then 64 buckets
//! per power of two, so any recorded value is reported within 1.6%), with percentiles
//! and the exact maximum.

/// Sub-buckets per power of two above the exact range.
const SUB: u64 = 64;
/// Values below this are counted exactly.
const EXACT: u64 = 2 * SUB;
/// Enough buckets for any `u64`.
const BUCKETS: usize = (EXACT + 58 * SUB) as usize;

/// Counts of latencies in microseconds.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram { counts: vec![0; BUCKETS], total: 0, max: 0, sum: 0 }
    }
}

/// The bucket of a value.
fn index(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let msb = 63 - u64::from(value.leading_zeros()); // at least 7
    let shift = msb - 6; // keeps the top 7 bits: 64..=127
    let top = value >> shift;
    (EXACT + (shift - 1) * SUB + (top - SUB)) as usize
}

/// The largest value of a bucket.
fn upper(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT {
        return index;
    }
    let shift = (index - EXACT) / SUB + 1;
    let top = (index - EXACT) % SUB + SUB;
    u64::try_from(((u128::from(top) + 1) << shift) - 1).unwrap_or(u64::MAX)
}

impl Histogram {
    /// Counts one value.
    pub(crate) fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
        self.sum += u128::from(micros);
    }

    /// How many values were counted.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// The largest value counted (0 when empty).
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The mean (0 when empty).
    pub(crate) fn mean(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            u64::try_from(self.sum / u128::from(self.total)).unwrap_or(u64::MAX)
        }
    }

    /// The value at quantile `q` (0 to 1): the upper end of the bucket holding the value of rank
    /// ⌈q·n⌉, never above the maximum (0 when empty).
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_that_holds_it_within_two_percent() {
        let mut value = 0u64;
        while value < u64::MAX / 20 {
            let i = index(value);
            assert!(i < BUCKETS);
            assert!(upper(i) >= value, "{value} above its bucket {}", upper(i));
            let low = if i == 0 { 0 } else { upper(i - 1) + 1 };
            assert!(low <= value, "{value} below its bucket");
            assert!(
                (upper(i) - low) as f64 <= value as f64 / 60.0 + 1.0,
                "bucket too wide at {value}"
            );
            value = value * 11 / 10 + 1;
        }
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut h = Histogram::default();
        for v in 1..=10_000 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000);
        assert_eq!(h.mean(), 5_000);
        for (q, expected) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.999, 9_990.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - expected).abs() / expected < 0.02, "q{q}: {got}");
        }
        assert_eq!(h.quantile(1.0), 10_000);
        assert_eq!(h.quantile(0.0), 1);
    }

    #[test]
    fn small_values_are_exact() {
        let mut a = Histogram::default();
        a.record(3);
        a.record(100);
        a.record(100);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(0.3), 3);
        assert_eq!(a.quantile(0.5), 100);
        assert_eq!(a.max(), 100);
        assert_eq!(Histogram::default().quantile(0.99), 0);
    }
}
