//! A fixed-size uniform sample of a column's values (reservoir sampling,
//! Vitter's algorithm R), seeded from the column's name so that the same file
//! always gives the same histogram: a rerun on unchanged data shows no drift.

/// Values kept per numeric column: 10 000 give each of 20 bins about 500
/// values, enough to see a shift of a few percent, in 80 KB.
pub const SAMPLE_SIZE: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Reservoir {
    values: Vec<f64>,
    /// The most values kept.
    size: usize,
    seen: u64,
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
        Reservoir {
            values: Vec::new(),
            size,
            seen: 0,
            state,
        }
    }

    pub fn push(&mut self, x: f64) {
        self.seen += 1;
        if self.values.len() < self.size {
            self.values.push(x);
            return;
        }
        let j = self.next() % self.seen;
        if let Some(slot) = self.values.get_mut(j as usize) {
            *slot = x;
        }
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
}
