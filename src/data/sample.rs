//! A fixed-size uniform sample of a column's values (reservoir sampling,
//! Li's algorithm L), seeded from the column's name so that the same file
//! always gives the same histogram: a rerun on unchanged data shows no drift.
//! Algorithm L draws how many values to skip before the next one kept, so a
//! value that is not kept costs a comparison, not a random number: on a
//! gigabyte that is most of them.

/// Values kept per numeric column: 10 000 give each of 20 bins about 500
/// values, enough to see a shift of a few percent, in 80 KB.
pub const SAMPLE_SIZE: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Reservoir {
    values: Vec<f64>,
    /// The most values kept.
    size: usize,
    seen: u64,
    /// The count of values seen at which the next one is kept.
    next_kept: u64,
    /// Algorithm L's W: the largest of `size` uniform keys, shrinking.
    w: f64,
    state: u64,
}

impl Reservoir {
    pub fn new(seed: &str) -> Self {
        Reservoir::with_size(seed, SAMPLE_SIZE)
    }

    /// A reservoir of at most `size` values.
    pub fn with_size(seed: &str, size: usize) -> Self {
        // FNV-1a of the seed: deterministic across runs and platforms.
        let state = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut reservoir = Reservoir {
            values: Vec::new(),
            size,
            seen: 0,
            next_kept: 0,
            w: 1.0,
            state,
        };
        reservoir.w = (reservoir.uniform().ln() / size.max(1) as f64).exp();
        reservoir.next_kept = size as u64 + reservoir.skip() + 1;
        reservoir
    }

    pub fn push(&mut self, x: f64) {
        self.seen += 1;
        if self.values.len() < self.size {
            self.values.push(x);
            return;
        }
        if self.seen < self.next_kept {
            return;
        }
        let slot = (self.next() % self.size as u64) as usize;
        if let Some(slot) = self.values.get_mut(slot) {
            *slot = x;
        }
        self.w *= (self.uniform().ln() / self.size as f64).exp();
        self.next_kept = self.seen + self.skip() + 1;
    }

    /// How many values to pass over before the next one kept: geometric,
    /// with the chance of keeping each being 1 − W.
    fn skip(&mut self) -> u64 {
        let skip = (self.uniform().ln() / (1.0 - self.w).ln()).floor();
        // A W that rounded to 1 would mean never: keep counting instead.
        if skip.is_finite() && skip >= 0.0 {
            skip.min(u64::MAX as f64 / 2.0) as u64
        } else {
            u64::MAX / 2
        }
    }

    /// Uniform in (0, 1], never 0 (its logarithm is taken).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// SplitMix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_bounded_deterministic_and_uniform() {
        let fill = || {
            let mut r = Reservoir::new("x");
            for i in 0..200_000 {
                r.push(f64::from(i));
            }
            r
        };
        let (a, b) = (fill(), fill());
        assert_eq!(a.values().len(), SAMPLE_SIZE);
        assert_eq!(a.values(), b.values());
        // A uniform sample of 0..200000 has about half its values below 100000.
        let low = a.values().iter().filter(|&&x| x < 100_000.0).count();
        assert!((4_500..5_500).contains(&low), "{low}");
    }

    #[test]
    fn every_part_of_a_long_stream_is_sampled_alike() {
        let mut r = Reservoir::new("long");
        let n = 2_000_000;
        for i in 0..n {
            r.push(f64::from(i));
        }
        // A tenth of the sample in each tenth of the stream, the last too.
        let mut tenths = [0; 10];
        for &x in r.values() {
            tenths[(x / f64::from(n) * 10.0) as usize] += 1;
        }
        for count in tenths {
            assert!((850..1_150).contains(&count), "{tenths:?}");
        }
    }
}
