//! A small deterministic generator of random numbers (SplitMix64), for
//! what must give the same choices on every run: the runtime's simulated
//! pools and the local search for failing sets.

/// A small deterministic generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose numbers are a function of `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn rng_is_splitmix64() {
        // SplitMix64 from state 0 (the seed cancels the first mix).
        let mut r = Rng::new(0x9e37_79b9_7f4a_7c15);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn range_and_chance_stay_in_bounds() {
        let mut r = Rng::new(7);
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let x = r.range(4, 6);
            assert!((4..=6).contains(&x));
            seen[(x - 4) as usize] = true;
            assert!(!r.chance(-1.0));
            assert!(r.chance(1.0));
        }
        assert_eq!(seen, [true; 3]);
    }
}
