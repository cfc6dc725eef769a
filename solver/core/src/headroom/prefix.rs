//! Lower bounds from prefixes of placements: probes from the bound, galloping
//! and bisection, growth by class and repair of refuted placements.

use super::*;

impl Ctx<'_, '_> {
    /// The prefixes of one greedy order that fit, searched from the bound
    /// ([`Ctx::prefixes`] from [`From::Top`]). With `Reach::Longest` and a
    /// lower bound already, first whether this order's prefix beats it at
    /// all (a prefix that fails fails every longer one).
    pub(super) fn greedy(&self, st: &mut State, upper: u32, order: Order, reach: Reach) {
        let nh = self.pool.hosts.len();
        if st.lower >= upper || st.undecided {
            return;
        }
        let seq = self.sequence(order, upper);
        let lo = st.lower;
        if lo >= (seq.len() as u32).min(upper) {
            return;
        }
        if lo > 0
            && reach == Reach::Longest
            && self.probe(st, prefix(&seq, lo + 1, nh)) != Some(true)
        {
            return;
        }
        self.prefixes(st, upper, &seq, From::Top, reach);
    }

    /// The prefixes of a sequence of hosts (one entry per new VM) that fit,
    /// as far as `reach` asks: the first probe where `from` says, then going
    /// down by its steps, doubling, until a prefix fits (halving the gap
    /// once it is no larger than the step), then halving the gap up to the
    /// longest (a prefix of a placement that fits fits too, so the prefixes
    /// that fit are those up to some length). Each probe that fits raises
    /// the lower bound; none lowers the upper (another placement may fit).
    /// Only prefixes that beat the best are tried.
    pub(super) fn prefixes(
        &self,
        st: &mut State,
        upper: u32,
        seq: &[HostId],
        from: From,
        reach: Reach,
    ) {
        let nh = self.pool.hosts.len();
        if st.lower >= upper || st.undecided {
            return;
        }
        let mut lo = st.lower;
        let mut hi = (seq.len() as u32).min(upper);
        if lo >= hi {
            return;
        }
        let (mut probe, mut step) = match from {
            From::Top => (hi, 2),
            From::Aim(first) => {
                let p = first.clamp(lo + 1, hi);
                (p, (p / 256).max(1))
            }
        };
        let mut fitted = false;
        loop {
            match self.probe(st, prefix(seq, probe, nh)) {
                Some(true) => {
                    lo = probe;
                    fitted = true;
                }
                Some(false) => hi = probe - 1,
                None => return,
            }
            if lo >= hi || reach == Reach::Bound || (fitted && reach == Reach::Gallop) {
                return;
            }
            probe = if fitted || hi - lo <= step {
                lo + (hi - lo).div_ceil(2)
            } else {
                let p = hi + 1 - step;
                step = step.saturating_mul(2);
                p
            };
        }
    }

    /// One more VM at a time, on each class of interchangeable hosts, as
    /// long as one fits.
    pub(super) fn grow(&self, st: &mut State, upper: u32) {
        while st.lower < upper && !st.undecided {
            let mut grown = false;
            for h in self.representatives(&st.best) {
                let mut x = st.best.clone();
                x[h] += 1;
                if st
                    .cuts
                    .iter()
                    .any(|f| self.set_feasible(f, &x) == Some(false))
                {
                    continue;
                }
                match self.probe(st, x) {
                    Some(true) => {
                        grown = true;
                        break;
                    }
                    Some(false) => {}
                    None => break,
                }
            }
            if !grown {
                break;
            }
        }
    }

    /// A part of a refuted placement `x` that may fit: without the new VMs
    /// of the failing set's hosts (their failure then displaces less). One
    /// check, kept when it fits and beats the best: the lower bound rises
    /// even while the master problem's placements are refuted.
    #[cfg(feature = "ilp")]
    pub(super) fn repair(&self, st: &mut State, x: &[u32], w: &tolerance::Witness) {
        let mut y = x.to_vec();
        for &h in &w.failed {
            y[h] = 0;
        }
        if total(&y) <= st.lower {
            return;
        }
        match self.test(&y) {
            Tested::Fits => st.raise(y),
            Tested::Fails(w) => st.refute(&y, w),
            Tested::Unknown => st.undecided = true,
        }
    }
}
