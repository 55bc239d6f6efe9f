//! The benchmarks' summary of timings: a Markdown table's cells `median | p95 | max | runs |`.

use std::time::Duration;

/// The median, 95th percentile and slowest of `samples`, in milliseconds, and how many there were.
pub(crate) fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = samples[(samples.len() * 95 / 100).min(samples.len() - 1)];
    format!(
        "{:.1} ms | {:.1} ms | {:.1} ms | {} |",
        ms(samples[samples.len() / 2]),
        ms(p95),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}
