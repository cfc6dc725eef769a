//! Per host: the most new VMs that can all start on it.

use super::*;

impl Ctx<'_, '_> {
    /// Every host, with `fits_here` between `lo` and `hi`.
    pub(super) fn hosts(&self, lo: &[u32], hi: &[u32]) -> Vec<HostHeadroom> {
        let pool = self.pool;
        (0..pool.hosts.len())
            .map(|h| {
                let reason = self.excluded[h].clone().or_else(|| {
                    (self.room[h] == 0).then(|| {
                        let short: Vec<String> = (0..self.d.len())
                            .filter(|&r| self.d[r] > 0 && self.normal[h][r] < self.d[r])
                            .map(|r| {
                                format!(
                                    "{} {} spare, {} needed",
                                    self.normal[h][r], pool.resources[r], self.d[r]
                                )
                            })
                            .collect();
                        if short.is_empty() {
                            "no resource of the VM is known to the pool".to_string()
                        } else {
                            format!("no room: {}", short.join(", "))
                        }
                    })
                });
                HostHeadroom {
                    host: h,
                    room: self.room[h],
                    fits_here: lo[h],
                    fits_here_upper: hi[h],
                    reason,
                }
            })
            .collect()
    }

    // ---------------------------------------------------------------
    // The solve

    /// `fits_here` per host: proved (lower, upper). `lower` is the proved
    /// count: a placement of more fails.
    ///
    /// A placement with every host of a batch at its own upper bound that
    /// passes proves them all at once (each count alone is a part of it).
    /// Batches hold at most `lower` VMs; one that fails is split in two, and
    /// a host alone is settled by bisection.
    pub(super) fn fits_here(&self, best: &[u32], lower: u32, upper: u32) -> (Vec<u32>, Vec<u32>) {
        let nh = self.pool.hosts.len();
        let ub = self.single_host_bounds(upper);
        // One host per class; the others copy it. Best's count on any host
        // of the class fits there alone.
        let mut reps: Vec<HostId> = Vec::new();
        for h in 0..nh {
            if self.room[h] > 0 && !reps.iter().any(|&o| self.class[o] == self.class[h]) {
                reps.push(h);
            }
        }
        let known = |h: HostId| {
            (0..nh)
                .filter(|&o| self.class[o] == self.class[h])
                .map(|o| best[o])
                .max()
                .unwrap_or(0)
                .min(ub[h])
        };
        let mut open: Vec<HostId> = reps.iter().copied().filter(|&h| known(h) < ub[h]).collect();
        open.sort_by_key(|&h| (std::cmp::Reverse(ub[h]), h));
        let mut batches: Vec<Vec<HostId>> = Vec::new();
        let mut sum = 0u64;
        for &h in &open {
            match batches.last_mut() {
                Some(b) if sum + ub[h] as u64 <= lower as u64 => b.push(h),
                _ => {
                    batches.push(vec![h]);
                    sum = 0;
                }
            }
            sum += ub[h] as u64;
        }
        let settled: Vec<(HostId, u32, u32)> = batches
            .par_iter()
            .flat_map(|batch| self.settle(batch, &ub, &known))
            .collect();
        let mut lo = vec![0u32; nh];
        let mut hi = vec![0u32; nh];
        for h in 0..nh {
            if self.room[h] == 0 {
                continue;
            }
            let rep = reps
                .iter()
                .copied()
                .find(|&r| self.class[r] == self.class[h])
                .expect("every class has a representative");
            (lo[h], hi[h]) = match settled.iter().find(|&&(r, _, _)| r == rep) {
                Some(&(_, l, u)) => (l, u),
                None => (known(rep), ub[rep]),
            };
        }
        (lo, hi)
    }

    /// (host, lower, upper) of `fits_here` for each host of `batch`.
    fn settle(
        &self,
        batch: &[HostId],
        ub: &[u32],
        known: &(dyn Fn(HostId) -> u32 + Sync),
    ) -> Vec<(HostId, u32, u32)> {
        let nh = self.pool.hosts.len();
        if let [h] = batch {
            let h = *h;
            let (mut lo, mut hi) = (known(h), ub[h]);
            let mut probe = hi;
            while lo < hi {
                let mut x = vec![0u32; nh];
                x[h] = probe;
                match self.test(&x) {
                    Tested::Fits => lo = probe,
                    Tested::Fails(_) => hi = probe - 1,
                    Tested::Unknown => break,
                }
                probe = lo + (hi - lo).div_ceil(2);
            }
            return vec![(h, lo, hi)];
        }
        let mut x = vec![0u32; nh];
        for &h in batch {
            x[h] = ub[h];
        }
        match self.test(&x) {
            Tested::Fits => batch.iter().map(|&h| (h, ub[h], ub[h])).collect(),
            Tested::Unknown => batch.iter().map(|&h| (h, known(h), ub[h])).collect(),
            Tested::Fails(_) => {
                let (a, b) = batch.split_at(batch.len() / 2);
                let mut out = self.settle(a, ub, known);
                out.extend(self.settle(b, ub, known));
                out
            }
        }
    }
}
