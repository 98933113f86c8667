//! Samples of the kinds of data users validate, drawn from a seeded generator
//! so that every run of the tests sees the same files: a normal column, a
//! skewed (lognormal) one, an integer count (Poisson) and a categorical one.
//! A `shift` moves every numeric column by that many of its standard
//! deviations, and the categories' shares a little, as drifted data would.

use std::fmt::Write as _;
use std::path::Path;

/// SplitMix64: small, seeded, the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Poisson (Knuth's product of uniforms; fine for small means).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.uniform();
            if p < limit {
                return k;
            }
            k += 1;
        }
    }
}

/// The standard deviation of lognormal(0, 1): √((e − 1)·e).
pub const LOGNORMAL_SD: f64 = 2.161_197_5;
/// Poisson(5)'s.
pub const POISSON_MEAN: f64 = 5.0;

/// Columns: `x` ~ N(50, 10), `latency_ms` ~ 20·lognormal(0, 1), `count` ~
/// Poisson(5) (rounded shift), `species` one of four with shares 40/30/20/10 %.
pub fn csv(rng: &mut Rng, rows: usize, shift: f64) -> String {
    let mut text = String::from("x,latency_ms,count,species\n");
    // A shift of the categories: 10 points from the first share to the last.
    let moved = if shift > 0.0 { 0.1 } else { 0.0 };
    let shares = [0.4 - moved, 0.3, 0.2, 0.1 + moved];
    for _ in 0..rows {
        let x = 50.0 + 10.0 * (rng.normal() + shift);
        let latency = 20.0 * (rng.normal().exp() + shift * LOGNORMAL_SD);
        let count = rng.poisson(POISSON_MEAN) as f64 + (shift * POISSON_MEAN.sqrt()).round();
        let mut pick = rng.uniform();
        let mut species = "setosa";
        for (share, name) in shares
            .iter()
            .zip(["setosa", "versicolor", "virginica", "arctica"])
        {
            species = name;
            if pick < *share {
                break;
            }
            pick -= share;
        }
        let _ = writeln!(text, "{x:.4},{latency:.3},{count},{species}");
    }
    text
}

pub fn write(path: &Path, rng: &mut Rng, rows: usize, shift: f64) {
    std::fs::write(path, csv(rng, rows, shift)).unwrap();
}
