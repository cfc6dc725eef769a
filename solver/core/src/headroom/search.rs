//! The exhaustive search over count vectors between the bounds.

use super::*;

pub(super) enum SearchOutcome {
    Found(Vec<u32>),
    Exhausted,
    Stopped,
}

/// The exhaustive search for a placement of exactly `n` new VMs.
pub(super) struct Search<'c, 'a, 'p> {
    cx: &'c Ctx<'a, 'p>,
    n: u32,
    /// Hosts with room, classes together, roomiest first.
    hosts: Vec<HostId>,
    /// `same[i]`: hosts[i] is interchangeable with hosts[i - 1].
    same: Vec<bool>,
    /// Room of hosts[i..], summed.
    room_after: Vec<u64>,
    pub(super) cuts: Vec<Vec<HostId>>,
    pub(super) leaves: u64,
    x: Vec<u32>,
    stopped: bool,
}

impl<'c, 'a, 'p> Search<'c, 'a, 'p> {
    pub(super) fn new(cx: &'c Ctx<'a, 'p>, n: u32, cuts: Vec<Vec<HostId>>) -> Self {
        let nh = cx.pool.hosts.len();
        let mut hosts: Vec<HostId> = (0..nh).filter(|&h| cx.room[h] > 0).collect();
        // Classes stay together: order classes by their first host's rank.
        hosts.sort_by_key(|&h| (std::cmp::Reverse(cx.room[h]), cx.class[h], h));
        let same: Vec<bool> = (0..hosts.len())
            .map(|i| i > 0 && cx.class[hosts[i]] == cx.class[hosts[i - 1]])
            .collect();
        let mut room_after = vec![0u64; hosts.len() + 1];
        for i in (0..hosts.len()).rev() {
            room_after[i] = room_after[i + 1] + cx.room[hosts[i]] as u64;
        }
        Search {
            cx,
            n,
            hosts,
            same,
            room_after,
            cuts,
            leaves: 0,
            x: vec![0; nh],
            stopped: false,
        }
    }

    pub(super) fn run(&mut self) -> SearchOutcome {
        match self.dfs(0, self.n) {
            Some(found) => found,
            None if self.stopped => SearchOutcome::Stopped,
            None => SearchOutcome::Exhausted,
        }
    }

    /// Whether a cut already rules out the partial placement (every
    /// completion adds VMs, which never helps). Cuts that hit move to the
    /// front.
    fn cut(&mut self) -> bool {
        for i in 0..self.cuts.len() {
            match self.cx.set_feasible(&self.cuts[i], &self.x) {
                Some(false) => {
                    let c = self.cuts.remove(i);
                    self.cuts.insert(0, c);
                    return true;
                }
                Some(true) => {}
                None => {
                    self.stopped = true;
                    return true;
                }
            }
        }
        false
    }

    fn dfs(&mut self, i: usize, left: u32) -> Option<SearchOutcome> {
        if self.stopped || self.cx.expired() {
            self.stopped = true;
            return None;
        }
        if left == 0 {
            self.leaves += 1;
            self.cx.placements.fetch_add(1, Ordering::Relaxed);
            return match self.cx.test(&self.x) {
                Tested::Fits => Some(SearchOutcome::Found(self.x.clone())),
                Tested::Fails(w) => {
                    if let Some(w) = w {
                        if !self.cuts.contains(&w.failed) {
                            self.cuts.insert(0, w.failed);
                        }
                    }
                    None
                }
                Tested::Unknown => {
                    self.stopped = true;
                    None
                }
            };
        }
        if i == self.hosts.len() || (left as u64) > self.room_after[i] {
            return None;
        }
        let h = self.hosts[i];
        let mut hi = self.cx.room[h].min(left);
        if self.same[i] {
            hi = hi.min(self.x[self.hosts[i - 1]]);
        }
        let lo = (left as u64).saturating_sub(self.room_after[i + 1]) as u32;
        for c in (lo..=hi).rev() {
            self.x[h] = c;
            if c > 0 && self.cut() {
                continue;
            }
            if let Some(found) = crate::deep(|| self.dfs(i + 1, left - c)) {
                self.x[h] = 0;
                return Some(found);
            }
            if self.stopped {
                break;
            }
        }
        self.x[h] = 0;
        None
    }
}
