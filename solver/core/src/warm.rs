//! Packings carried from one failure set to its neighbours.
//!
//! The set search (`tolerance`) walks failure sets depth first: each set is
//! its parent plus one host, and siblings differ in that last host only. A
//! packing of the parent's VMs is most of a packing of the child's: only the
//! VMs it put on the host that now fails, and that host's own VMs, need a
//! place. [`Warm`] keeps one packing along the search path and repairs it
//! host by host (first fit, largest VM first), undoing the repair when the
//! search backs out, so a set costs a handful of placements instead of a
//! packing instance built and decided from scratch.
//!
//! A packing it holds is valid by construction (every VM of a failed or
//! down host on a surviving host that receives restarts and that its
//! agility allows, within spare capacity, no two VMs of an anti-affinity
//! group on one host), so it proves the set feasible. Rules beyond plain
//! anti-affinity (apart caps above one, keep-together groups) it does not
//! keep: with those it proves nothing and steps aside. When a repair finds no
//! room, every VM is packed anew (a fragmented packing is the usual cause),
//! still undoable; when that fails too, the set, and the sets below it, are
//! decided on their own: a failure here proves nothing. Nothing is
//! allocated per set once the buffers have grown.

use crate::model::*;
use crate::pack::NO_GROUP;
use crate::scenario::Analysis;

/// One packing of the VMs of the failed and down hosts, repaired as hosts
/// are added to and removed from the failure set.
pub(crate) struct Warm<'a, 'p> {
    an: &'a Analysis<'p>,
    nres: usize,
    /// Per VM, the order key (largest placed first): [`Warm::keys`].
    key: &'a [f64],
    /// Remaining spare per host and resource (`[h * nres + r]`).
    rem: Vec<i64>,
    failed: Vec<bool>,
    /// Per host, the VMs the packing restarts there.
    on: Vec<Vec<VmId>>,
    /// Undo log: every change to `rem` and `on`.
    log: Vec<Step>,
    /// The failure set's hosts in the order added, each with the log length
    /// and validity before its repair (`None` while not yet repaired).
    frames: Vec<(HostId, Option<(usize, bool)>)>,
    /// Every repaired frame found room for all its VMs.
    valid: bool,
    queue: Vec<VmId>,
}

#[derive(Clone, Copy)]
enum Step {
    Place(VmId, HostId),
    Unplace(VmId, HostId),
}

impl<'a, 'p> Warm<'a, 'p> {
    /// Per VM, the order key [`Warm`] places VMs by: its share of the
    /// receiving hosts' total spare, summed over resources. Computed once
    /// per pool and shared by every search task.
    pub(crate) fn keys(an: &Analysis) -> Vec<f64> {
        let nres = an.pool.resources.len();
        let scale: Vec<f64> = (0..nres)
            .map(|r| {
                let total: i64 = (0..an.pool.hosts.len())
                    .filter(|&h| an.receives[h])
                    .map(|h| an.spare[h][r].max(0))
                    .sum();
                if total > 0 { 1.0 / total as f64 } else { 0.0 }
            })
            .collect();
        an.pool
            .vms
            .iter()
            .map(|vm| {
                vm.demand
                    .iter()
                    .zip(&scale)
                    .map(|(&d, &s)| if s > 0.0 { d as f64 * s } else { d as f64 })
                    .sum()
            })
            .collect()
    }

    /// The packing with no host failed: the VMs of hosts already down
    /// placed, if they fit. `key` is [`Warm::keys`] of the same pool.
    pub(crate) fn new(an: &'a Analysis<'p>, key: &'a [f64]) -> Self {
        let nh = an.pool.hosts.len();
        let mut w = Warm {
            an,
            nres: an.pool.resources.len(),
            key,
            rem: an.spare.iter().flatten().copied().collect(),
            failed: vec![false; nh],
            on: vec![Vec::new(); nh],
            log: Vec::new(),
            frames: Vec::new(),
            valid: true,
            queue: Vec::new(),
        };
        for &h in &an.down {
            w.queue.extend(&an.items[h]);
        }
        w.valid = w.place_queue();
        w.log.clear(); // the base state is never undone
        w
    }

    /// Adds `h` to the failure set (the repair waits until it is needed).
    pub(crate) fn push(&mut self, h: HostId) {
        self.failed[h] = true;
        self.frames.push((h, None));
    }

    /// Removes the host added last, undoing its repair.
    pub(crate) fn pop(&mut self) {
        let (h, done) = self.frames.pop().expect("pop without push");
        if let Some((mark, valid)) = done {
            self.undo_to(mark);
            self.valid = valid;
        }
        self.failed[h] = false;
    }

    /// Whether the packing, repaired for every host added, places every VM
    /// of the failed and down hosts: a proof that the set is feasible.
    /// Never with rules beyond plain anti-affinity (`scenario::Rules`),
    /// which the repair does not keep: those sets are decided on their own.
    pub(crate) fn feasible(&mut self) -> bool {
        if self.an.rules.is_some() {
            return false;
        }
        for i in 0..self.frames.len() {
            if self.frames[i].1.is_some() {
                continue;
            }
            self.frames[i].1 = Some((self.log.len(), self.valid));
            if self.valid {
                let h = self.frames[i].0;
                let mark = self.log.len();
                if !self.repair(h) {
                    // The repair found no room: repack every VM from scratch.
                    self.undo_to(mark);
                    self.valid = self.repack(h);
                }
            }
        }
        self.valid
    }

    /// The placement and the spare it leaves.
    #[cfg(test)]
    fn state(&self) -> (Vec<(VmId, HostId)>, Vec<i64>) {
        (self.placement(), self.rem.clone())
    }

    /// Where the packing restarts each VM of the failed and down hosts.
    #[cfg(test)]
    pub(crate) fn placement(&self) -> Vec<(VmId, HostId)> {
        let mut out: Vec<(VmId, HostId)> = (0..self.on.len())
            .flat_map(|h| self.on[h].iter().map(move |&v| (v, h)))
            .collect();
        out.sort_unstable();
        out
    }

    /// `h` fails: its restarted VMs and its own VMs need new places.
    fn repair(&mut self, h: HostId) -> bool {
        self.queue.clear();
        while let Some(v) = self.on[h].pop() {
            self.add_rem(h, v, 1);
            self.log.push(Step::Unplace(v, h));
            self.queue.push(v);
        }
        if self.an.pool.hosts[h].state == HostState::Up {
            self.queue.extend(&self.an.items[h]);
        }
        self.place_queue()
    }

    /// `h` fails and every VM placed so far, with `h`'s own, is placed
    /// anew.
    fn repack(&mut self, h: HostId) -> bool {
        self.queue.clear();
        for t in 0..self.on.len() {
            while let Some(v) = self.on[t].pop() {
                self.add_rem(t, v, 1);
                self.log.push(Step::Unplace(v, t));
                self.queue.push(v);
            }
        }
        if self.an.pool.hosts[h].state == HostState::Up {
            self.queue.extend(&self.an.items[h]);
        }
        self.place_queue()
    }

    /// Places the VMs in `queue`, largest first, each on the first
    /// eligible surviving host with room.
    fn place_queue(&mut self) -> bool {
        let mut queue = std::mem::take(&mut self.queue);
        let key = self.key;
        queue.sort_unstable_by(|&a, &b| key[b].total_cmp(&key[a]).then(a.cmp(&b)));
        let mut ok = true;
        for &v in &queue {
            match self.first_target(v) {
                Some(t) => {
                    self.add_rem(t, v, -1);
                    self.on[t].push(v);
                    self.log.push(Step::Place(v, t));
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        self.queue = queue;
        ok
    }

    /// The first host (in host order) that `v` may restart on with room
    /// for it, and no VM of its anti-affinity group placed there.
    fn first_target(&self, v: VmId) -> Option<HostId> {
        let an = self.an;
        let nres = self.nres;
        let d = &an.pool.vms[v].demand;
        let g = an.group_of[v];
        an.agility.targets.of(v).find(|&t| {
            an.receives[t]
                && !self.failed[t]
                && d.iter()
                    .zip(&self.rem[t * nres..(t + 1) * nres])
                    .all(|(d, r)| d <= r)
                && (g == NO_GROUP || self.on[t].iter().all(|&o| an.group_of[o] != g))
        })
    }

    /// `rem[h] += sign * demand(v)`.
    fn add_rem(&mut self, h: HostId, v: VmId, sign: i64) {
        let d = &self.an.pool.vms[v].demand;
        for (r, &x) in self.rem[h * self.nres..(h + 1) * self.nres]
            .iter_mut()
            .zip(d)
        {
            *r += sign * x;
        }
    }

    fn undo_to(&mut self, mark: usize) {
        while self.log.len() > mark {
            match self.log.pop().expect("longer than mark") {
                Step::Place(v, t) => {
                    self.add_rem(t, v, 1);
                    let i = self.on[t]
                        .iter()
                        .rposition(|&o| o == v)
                        .expect("placed VM is on its host");
                    self.on[t].swap_remove(i);
                }
                Step::Unplace(v, h) => {
                    self.add_rem(h, v, -1);
                    self.on[h].push(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpools::pool_text;
    use proptest::prelude::*;

    /// Checks a placement against the raw pool: every VM of the failed and
    /// down hosts placed once, on an up, receiving, surviving host its
    /// agility allows, within spare capacity, groups apart.
    fn valid(an: &Analysis, failed: &[HostId], placement: &[(VmId, HostId)]) -> bool {
        let pool = an.pool;
        let mut want: Vec<VmId> = an
            .down
            .iter()
            .chain(failed)
            .flat_map(|&h| an.items[h].iter().copied())
            .collect();
        want.sort_unstable();
        let mut got: Vec<VmId> = placement.iter().map(|&(v, _)| v).collect();
        got.sort_unstable();
        if want != got {
            return false;
        }
        let mut load = an.spare.clone();
        for &(v, t) in placement {
            if failed.contains(&t) || !an.receives[t] || !an.agility.targets.contains(v, t) {
                return false;
            }
            for (r, d) in pool.vms[v].demand.iter().enumerate() {
                load[t][r] -= d;
            }
            let g = &pool.vms[v].anti_affinity;
            if g.is_some()
                && placement
                    .iter()
                    .any(|&(o, u)| o != v && u == t && &pool.vms[o].anti_affinity == g)
            {
                return false;
            }
        }
        placement
            .iter()
            .all(|&(_, t)| load[t].iter().all(|&s| s >= 0))
    }

    proptest! {
        /// Any sequence of pushes and pops, with the packing asked for only
        /// now and then (so repairs wait and run several at once), leaves a
        /// valid placement whenever `feasible` says so, and a pop restores
        /// the placement and spare from before the push.
        #[test]
        fn repairs_keep_a_valid_packing(
            caps in prop::collection::vec((20i64..100, 4i64..16), 2..7),
            vms in prop::collection::vec((0usize..7, 1i64..40, 1i64..6, prop::option::of(0u8..3)), 0..16),
            ops in prop::collection::vec((0u8..3, 0usize..7, any::<bool>()), 1..24),
        ) {
            let n = caps.len();
            let vms: Vec<_> = vms.into_iter().map(|(h, m, c, g)| (h % n, m, c, g)).collect();
            let pool = crate::parse_pool(&pool_text(&caps, &vms)).unwrap();
            let an = Analysis::new(&pool);
            let key = Warm::keys(&an);
            let mut w = Warm::new(&an, &key);
            let mut set: Vec<HostId> = Vec::new();
            // Per pushed host, the state before it (when it was asked for).
            let mut before = Vec::new();
            for (op, h, ask) in ops {
                let h = h % n;
                if op < 2 && !set.contains(&h) {
                    let was = (op == 1 && w.feasible()).then(|| w.state());
                    before.push(was);
                    w.push(h);
                    set.push(h);
                } else if set.pop().is_some() {
                    w.pop();
                    if let Some(was) = before.pop().unwrap() {
                        prop_assert!(w.feasible());
                        prop_assert_eq!(w.state(), was);
                    }
                }
                if ask && w.feasible() {
                    prop_assert!(valid(&an, &set, &w.placement()));
                }
            }
            if w.feasible() {
                prop_assert!(valid(&an, &set, &w.placement()));
            }
        }
    }

    #[test]
    fn a_failing_host_hands_on_what_it_received() {
        // h0's VM goes to h1 (first fit), then h1 fails too: both its own VM
        // and h0's must move to h2.
        let text = pool_text(
            &[(100, 16), (60, 16), (200, 16)],
            &[(0, 40, 1, None), (1, 10, 1, None)],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let key = Warm::keys(&an);
        let mut w = Warm::new(&an, &key);
        w.push(0);
        assert!(w.feasible());
        assert_eq!(w.placement(), vec![(0, 1)]);
        w.push(1);
        assert!(w.feasible());
        assert_eq!(w.placement(), vec![(0, 2), (1, 2)]);
        w.pop();
        assert!(w.feasible());
        assert_eq!(w.placement(), vec![(0, 1)]);
        w.push(2);
        assert!(w.feasible());
        assert_eq!(w.placement(), vec![(0, 1)]);
        w.push(1);
        assert!(!w.feasible(), "h0 and h1's VMs have nowhere to go");
        w.pop();
        assert!(w.feasible());
    }
}
