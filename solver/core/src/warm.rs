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
//!
//! On pools of many hosts first fit would scan the hosts that are full (on
//! a near-full pool, most of them) for every VM it places: there a tree of
//! the most spare per resource under each node ([`Fit`]) leads it to the
//! first host with room in a few steps, the same host the scan would find.

use crate::model::*;
use crate::pack::NO_GROUP;
use crate::scenario::Analysis;

/// One packing of the VMs of the failed and down hosts, repaired as hosts
/// are added to and removed from the failure set.
pub(crate) struct Warm<'a, 'p> {
    an: &'a Analysis<'p>,
    nres: usize,
    /// The order VMs are placed in and which may use `fit`: [`Warm::keys`].
    key: &'a Keys,
    /// The spare of the hosts that may receive VMs, by host, for first fit
    /// on pools of [`FIT_HOSTS`] hosts or more.
    fit: Option<Fit>,
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
    /// Places each VM on the last host with room instead of the first
    /// ([`Alone`]'s packings, kept clear of the search's).
    last: bool,
}

#[derive(Clone, Copy)]
enum Step {
    Place(VmId, HostId),
    Unplace(VmId, HostId),
}

/// Pools of at least this many hosts place VMs with a [`Fit`] tree: below,
/// a scan of the hosts costs less than keeping the tree.
const FIT_HOSTS: usize = 64;

/// What every [`Warm`] of one pool shares, computed once per pool.
pub(crate) struct Keys {
    /// Per VM, the order key (largest placed first).
    order: Vec<f64>,
    /// Per requirement (`agility::Targets::requirement`), whether every
    /// host that may receive VMs passes it: its VMs may then find their
    /// host with the [`Fit`] tree, which knows nothing of requirements.
    dense: Vec<bool>,
}

impl<'a, 'p> Warm<'a, 'p> {
    /// Per VM, the order key [`Warm`] places VMs by (its share of the
    /// receiving hosts' total spare, summed over resources), and which
    /// requirements every receiving host passes. Computed once per pool
    /// and shared by every search task.
    pub(crate) fn keys(an: &Analysis) -> Keys {
        let targets = &an.agility.targets;
        let receiving = an.receives.iter().filter(|&&r| r).count();
        let dense = (0..targets.requirements())
            .map(|n| {
                targets
                    .passing(n)
                    .iter()
                    .filter(|&&h| an.receives[h])
                    .count()
                    == receiving
            })
            .collect();
        Keys {
            order: Self::order(an),
            dense,
        }
    }

    fn order(an: &Analysis) -> Vec<f64> {
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
    pub(crate) fn new(an: &'a Analysis<'p>, key: &'a Keys) -> Self {
        Self::with_fit(an, key, an.pool.hosts.len() >= FIT_HOSTS)
    }

    /// [`Warm::new`], with a [`Fit`] tree or without (the same packings).
    fn with_fit(an: &'a Analysis<'p>, key: &'a Keys, tree: bool) -> Self {
        let nh = an.pool.hosts.len();
        let nres = an.pool.resources.len();
        let rem: Vec<i64> = an.spare.iter().flatten().copied().collect();
        let fit = (tree && nres > 0 && key.dense.iter().any(|&d| d))
            .then(|| Fit::new(nres, &rem, &an.receives));
        let mut w = Warm {
            an,
            nres,
            key,
            fit,
            rem,
            failed: vec![false; nh],
            on: vec![Vec::new(); nh],
            log: Vec::new(),
            frames: Vec::new(),
            valid: true,
            queue: Vec::new(),
            last: false,
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
        self.refit(h);
    }

    /// Removes the host added last, undoing its repair.
    pub(crate) fn pop(&mut self) {
        let (h, done) = self.frames.pop().expect("pop without push");
        if let Some((mark, valid)) = done {
            self.undo_to(mark);
            self.valid = valid;
        }
        self.failed[h] = false;
        self.refit(h);
    }

    /// Brings `h`'s leaf of the [`Fit`] tree up to date: its spare, or
    /// none while it has failed or receives no VMs.
    fn refit(&mut self, h: HostId) {
        if let Some(fit) = &mut self.fit {
            let open = self.an.receives[h] && !self.failed[h];
            fit.set(
                h,
                open.then(|| &self.rem[h * self.nres..(h + 1) * self.nres]),
            );
        }
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
        let key = &self.key.order;
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

    /// The first host (in host order; the last with `last`) that `v` may
    /// restart on with room for it, and no VM of its anti-affinity group
    /// placed there.
    fn first_target(&self, v: VmId) -> Option<HostId> {
        self.target_where(v, |_| true)
    }

    /// [`Warm::first_target`] among the hosts that `accept` also takes
    /// (asked only of hosts that pass every other test).
    fn target_where(&self, v: VmId, mut accept: impl FnMut(HostId) -> bool) -> Option<HostId> {
        let an = self.an;
        let nres = self.nres;
        let d = &an.pool.vms[v].demand;
        let g = an.group_of[v];
        let targets = &an.agility.targets;
        let free = |t: HostId| g == NO_GROUP || self.on[t].iter().all(|&o| an.group_of[o] != g);
        let need = targets.requirement(v)?;
        if let Some(fit) = self.fit.as_ref().filter(|_| self.key.dense[need]) {
            // Every receiving host passes the requirement, and the tree
            // holds just the receiving hosts that have not failed: the
            // first of them with room, in host order, that `v`'s apart
            // rules and the packing's groups allow.
            return fit.first(d, self.last, |t| targets.open(v, t) && free(t) && accept(t));
        }
        // Room first: it is the cheaper test, and the one most hosts of a
        // full pool fail.
        let fits = |&t: &HostId| {
            an.receives[t]
                && !self.failed[t]
                && d.iter()
                    .zip(&self.rem[t * nres..(t + 1) * nres])
                    .all(|(d, r)| d <= r)
                && targets.open(v, t)
                && free(t)
                && accept(t)
        };
        let hosts = targets.candidates(v).iter().copied();
        if self.last {
            hosts.rev().find(fits)
        } else {
            hosts.into_iter().find(fits)
        }
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
        if !self.failed[h] {
            self.refit(h);
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

impl Warm<'_, '_> {
    /// The hosts the packing changed since the base state (VMs placed on
    /// or taken off them), added to `out` (with repeats).
    pub(crate) fn touched(&self, out: &mut Vec<HostId>) {
        out.extend(self.log.iter().map(|s| match *s {
            Step::Place(_, t) | Step::Unplace(_, t) => t,
        }));
    }

    /// Host `t`'s spare left by the packing, per resource.
    pub(crate) fn rem_of(&self, t: HostId) -> &[i64] {
        &self.rem[t * self.nres..(t + 1) * self.nres]
    }

    /// The VMs the packing restarts on `t`.
    pub(crate) fn on(&self, t: HostId) -> &[VmId] {
        &self.on[t]
    }
}

/// For each host x, a packing of x's VMs alone (x the one host failed,
/// beyond those already down), last fit: the search's packings are first
/// fit, so the two tend to use different hosts. A failure set `S ∪ {x}`
/// is then survived when the search's packing P of S (valid, nothing on
/// x) and x's packing meet on no host beyond its spare left by P, x's
/// packing uses no host of S, and no two VMs of one anti-affinity group
/// meet: P places every VM of S and of the hosts down, x's packing
/// every VM of x, and on a host P left as it was, x's packing fits by
/// construction. So a search that has P checks its last host x on the
/// hosts P changed and on S only ([`Alone::clashes`]) instead of packing
/// x's VMs; the VMs P put on x, and those of x's packing that do not
/// combine there, move to other hosts beside the rest of both packings
/// ([`Alone::moves`]).
pub(crate) struct Alone {
    /// Per host: x's packing exists (and moved nothing but x's own VMs).
    ok: Vec<bool>,
    /// Per host t, `entries[at[t]..at[t + 1]]`: the (x, VM) placed on t by
    /// x's packing, by x.
    at: Vec<usize>,
    entries: Vec<(HostId, VmId)>,
}

impl Alone {
    /// The packings of every up host's VMs alone, as far as the budget
    /// allows (a host not reached has none).
    pub(crate) fn of(an: &Analysis, key: &Keys, budget: &crate::pack::Budget) -> Alone {
        let nh = an.pool.hosts.len();
        let mut ok = vec![false; nh];
        let mut placed: Vec<(HostId, HostId, VmId)> = Vec::new();
        let mut w = Warm::new(an, key);
        w.last = true;
        if w.valid && an.rules.is_none() {
            for (i, &x) in an.candidates.iter().enumerate() {
                if i % 64 == 0 && budget.expired() {
                    break;
                }
                if !w.on[x].is_empty() {
                    continue; // x holds VMs of hosts down: they would move too
                }
                w.push(x);
                // Only x's VMs placed (no repack moved any other).
                if w.feasible() && w.log.len() == an.items[x].len() {
                    let places: Option<Vec<_>> = w
                        .log
                        .iter()
                        .map(|s| match *s {
                            Step::Place(v, t) => Some((t, x, v)),
                            Step::Unplace(..) => None,
                        })
                        .collect();
                    if let Some(p) = places {
                        ok[x] = true;
                        placed.extend(p);
                    }
                }
                w.pop();
            }
        }
        placed.sort_unstable();
        let mut at = vec![0; nh + 1];
        for &(t, _, _) in &placed {
            at[t + 1] += 1;
        }
        for t in 0..nh {
            at[t + 1] += at[t];
        }
        Alone {
            ok,
            at,
            entries: placed.into_iter().map(|(_, x, v)| (x, v)).collect(),
        }
    }

    /// Whether x's VMs have a packing of their own.
    pub(crate) fn has(&self, x: HostId) -> bool {
        self.ok[x]
    }

    /// What x's packing places on `t` but `skip`, per resource, added to
    /// `load`, and whether it places a VM of anti-affinity group `g` there.
    fn on_host(
        &self,
        an: &Analysis,
        x: HostId,
        t: HostId,
        g: u32,
        skip: &[VmId],
        load: &mut [i64],
    ) -> bool {
        let entries = &self.entries[self.at[t]..self.at[t + 1]];
        let from = entries.partition_point(|e| e.0 < x);
        let mut group = false;
        for &(_, v) in entries[from..]
            .iter()
            .take_while(|e| e.0 == x)
            .filter(|e| !skip.contains(&e.1))
        {
            for (l, d) in load.iter_mut().zip(&an.pool.vms[v].demand) {
                *l += d;
            }
            group |= g != NO_GROUP && an.group_of[v] == g;
        }
        group
    }

    /// Whether the VMs `w` places on x and the VMs `extra` of x's packing
    /// (those [`Alone::clashes`] finds) find new hosts (first fit, largest
    /// first) beside the rest of both packings, which together then place
    /// every VM of `failed ∪ {x}` (`failed` the set `w` packs). Each new
    /// host is one that `w`'s packing of the failure set could take:
    /// surviving, not x, receiving, the VM's agility allowing it, no VM of
    /// its group there in either packing (`extra` aside) nor among those
    /// moved before, room for it besides both packings' VMs (`extra`
    /// aside) and those moved before. `Some` with the moved VMs' hosts.
    pub(crate) fn moves(
        &self,
        an: &Analysis,
        w: &Warm,
        x: HostId,
        extra: &[VmId],
    ) -> Option<Vec<(HostId, VmId)>> {
        let nres = w.nres;
        let mut moving: Vec<VmId> = w.on[x].iter().chain(extra).copied().collect();
        let key = &w.key.order;
        moving.sort_unstable_by(|&a, &b| key[b].total_cmp(&key[a]).then(a.cmp(&b)));
        let mut moved: Vec<(HostId, VmId)> = Vec::with_capacity(moving.len());
        let mut load = vec![0i64; nres];
        for &u in &moving {
            let d = &an.pool.vms[u].demand;
            let g = an.group_of[u];
            // Where `w` would put u (surviving, receiving, agility, `w`'s
            // groups, its room), but not x, and with room and groups apart
            // from x's packing and the VMs moved before.
            let found = w.target_where(u, |t| {
                if t == x {
                    return false;
                }
                load.fill(0);
                let mut clash = self.on_host(an, x, t, g, extra, &mut load);
                for &(h, o) in &moved {
                    if h == t {
                        clash |= g != NO_GROUP && an.group_of[o] == g;
                        for (l, e) in load.iter_mut().zip(&an.pool.vms[o].demand) {
                            *l += e;
                        }
                    }
                }
                !clash && (0..nres).all(|r| d[r] + load[r] <= w.rem[t * nres + r])
            });
            moved.push((found?, u));
        }
        Some(moved)
    }

    /// Adds to `out` the VMs (x, VM) of the hosts x whose packing does not
    /// combine with `w`'s (whose failure set is `failed`) on host `t`, all
    /// of x's VMs there: where `t` failed, or they need more than `w` left
    /// of `t`'s spare, or one joins a VM `w` places there of its
    /// anti-affinity group. On a host `w` left as in its base state every
    /// packing combines.
    pub(crate) fn clashes(
        &self,
        an: &Analysis,
        w: &Warm,
        failed: &[HostId],
        t: HostId,
        load: &mut Vec<i64>,
        out: &mut Vec<(HostId, VmId)>,
    ) {
        let entries = &self.entries[self.at[t]..self.at[t + 1]];
        if failed.contains(&t) {
            out.extend_from_slice(entries);
            return;
        }
        let rem = w.rem_of(t);
        let on = w.on(t);
        for run in entries.chunk_by(|a, b| a.0 == b.0) {
            load.clear();
            load.resize(rem.len(), 0);
            let mut clash = false;
            for &(_, v) in run {
                for (l, d) in load.iter_mut().zip(&an.pool.vms[v].demand) {
                    *l += d;
                }
                let g = an.group_of[v];
                clash |= g != NO_GROUP && on.iter().any(|&o| an.group_of[o] == g);
            }
            if clash || load.iter().zip(rem).any(|(l, r)| l > r) {
                out.extend_from_slice(run);
            }
        }
    }
}

/// First fit in a few steps: a tree over the hosts (leaves in host order)
/// whose nodes hold, per resource, the most spare of any host below them
/// that is open for VMs. A subtree where some resource's most is below a
/// VM's demand has no host with room for it and is skipped; the first leaf
/// reached with room is the first such host in host order.
struct Fit {
    /// Leaves: the next power of two at or above the number of hosts.
    size: usize,
    nres: usize,
    /// Node `i`'s most spare of resource `r` at `i * nres + r` (the root
    /// is node 1, leaf `h` node `size + h`); `i64::MIN` where no host below
    /// is open.
    most: Vec<i64>,
}

impl Fit {
    /// The tree of the hosts' spare (`[h * nres + r]`), those that are
    /// `open` only.
    fn new(nres: usize, spare: &[i64], open: &[bool]) -> Fit {
        let size = open.len().next_power_of_two();
        let mut most = vec![i64::MIN; 2 * size * nres];
        for h in (0..open.len()).filter(|&h| open[h]) {
            most[(size + h) * nres..(size + h + 1) * nres]
                .copy_from_slice(&spare[h * nres..(h + 1) * nres]);
        }
        for i in (1..size).rev() {
            for r in 0..nres {
                most[i * nres + r] = most[2 * i * nres + r].max(most[(2 * i + 1) * nres + r]);
            }
        }
        Fit { size, nres, most }
    }

    /// Host `h`'s spare, `None` when it is not open for VMs.
    fn set(&mut self, h: HostId, spare: Option<&[i64]>) {
        let nres = self.nres;
        let mut i = self.size + h;
        match spare {
            Some(s) => self.most[i * nres..(i + 1) * nres].copy_from_slice(s),
            None => self.most[i * nres..(i + 1) * nres].fill(i64::MIN),
        }
        while i > 1 {
            i /= 2;
            let (l, r) = (2 * i * nres, (2 * i + 1) * nres);
            let mut changed = false;
            for k in 0..nres {
                let m = self.most[l + k].max(self.most[r + k]);
                changed |= self.most[i * nres + k] != m;
                self.most[i * nres + k] = m;
            }
            if !changed {
                break;
            }
        }
    }

    /// The first open host with room for `demand` that `accept`s it, in
    /// host order (the last with `last`): one walk of the tree, whatever
    /// `accept` turns down.
    fn first(
        &self,
        demand: &[i64],
        last: bool,
        mut accept: impl FnMut(HostId) -> bool,
    ) -> Option<HostId> {
        self.first_in(1, demand, last, &mut accept)
    }

    fn first_in(
        &self,
        i: usize,
        d: &[i64],
        last: bool,
        accept: &mut impl FnMut(HostId) -> bool,
    ) -> Option<HostId> {
        let most = &self.most[i * self.nres..(i + 1) * self.nres];
        if most.iter().zip(d).any(|(m, d)| m < d) {
            return None;
        }
        if i >= self.size {
            let h = i - self.size;
            return accept(h).then_some(h);
        }
        let (a, b) = if last {
            (2 * i + 1, 2 * i)
        } else {
            (2 * i, 2 * i + 1)
        };
        self.first_in(a, d, last, accept)
            .or_else(|| self.first_in(b, d, last, accept))
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

    proptest! {
        /// With the [`Fit`] tree, first fit finds the host the scan finds:
        /// the same pushes, pops and questions leave the same packing.
        #[test]
        fn the_tree_finds_the_host_the_scan_finds(
            caps in prop::collection::vec((20i64..100, 4i64..16), 2..12),
            vms in prop::collection::vec((0usize..12, 1i64..40, 0i64..6, prop::option::of(0u8..3)), 0..30),
            ops in prop::collection::vec((0u8..3, 0usize..12, any::<bool>()), 1..24),
        ) {
            let n = caps.len();
            let vms: Vec<_> = vms.into_iter().map(|(h, m, c, g)| (h % n, m, c, g)).collect();
            let pool = crate::parse_pool(&pool_text(&caps, &vms)).unwrap();
            let an = Analysis::new(&pool);
            let key = Warm::keys(&an);
            let mut scan = Warm::with_fit(&an, &key, false);
            let mut tree = Warm::with_fit(&an, &key, true);
            prop_assert!(scan.fit.is_none() && (tree.fit.is_some() || vms.is_empty()));
            let mut set: Vec<HostId> = Vec::new();
            for (op, h, ask) in ops {
                let h = h % n;
                if op < 2 && !set.contains(&h) {
                    scan.push(h);
                    tree.push(h);
                    set.push(h);
                } else if set.pop().is_some() {
                    scan.pop();
                    tree.pop();
                }
                if ask {
                    prop_assert_eq!(scan.feasible(), tree.feasible());
                    prop_assert_eq!(scan.state(), tree.state());
                }
            }
            prop_assert_eq!(scan.feasible(), tree.feasible());
            prop_assert_eq!(scan.state(), tree.state());
        }

        /// [`Fit::first`] is the first leaf, in host order, with room in
        /// every resource that `accept` takes.
        #[test]
        fn fit_first_is_the_first_accepted_host_with_room(
            spare in prop::collection::vec(prop::option::of((-5i64..20, -5i64..20)), 1..40),
            d in (0i64..15, 0i64..15),
            turned_down in prop::collection::vec(any::<bool>(), 40),
        ) {
            // Built with half the hosts' spare, the other half set after.
            let flat: Vec<i64> = spare.iter().flat_map(|s| {
                let (a, b) = s.unwrap_or((0, 0));
                [a, b]
            }).collect();
            let half = spare.len() / 2;
            let open: Vec<bool> = (0..spare.len()).map(|h| h < half && spare[h].is_some()).collect();
            let mut fit = Fit::new(2, &flat, &open);
            for (h, s) in spare.iter().enumerate().skip(half) {
                fit.set(h, s.map(|(a, b)| [a, b]).as_ref().map(|x| &x[..]));
            }
            let d = [d.0, d.1];
            let want = spare.iter().enumerate().position(|(h, s)| {
                s.is_some_and(|(a, b)| a >= d[0] && b >= d[1]) && !turned_down[h]
            });
            prop_assert_eq!(fit.first(&d, false, |h| !turned_down[h]), want);
            let last = spare.iter().enumerate().rposition(|(h, s)| {
                s.is_some_and(|(a, b)| a >= d[0] && b >= d[1]) && !turned_down[h]
            });
            prop_assert_eq!(fit.first(&d, true, |h| !turned_down[h]), last);
        }
    }

    proptest! {
        /// Whenever [`Alone::clashes`] (with the hosts without a packing of
        /// their own, and those the search's packing places VMs on) leaves
        /// out a host x, the search's packing of S and x's own packing,
        /// put together, are a valid packing of S ∪ {x}.
        #[test]
        fn packings_alone_combine_where_no_clash_is_found(
            caps in prop::collection::vec((20i64..100, 4i64..16), 3..9),
            vms in prop::collection::vec((0usize..9, 1i64..40, 0i64..6, prop::option::of(0u8..3)), 0..24),
            set in prop::collection::vec(0usize..9, 1..4),
            down in prop::option::of(0usize..9),
        ) {
            let n = caps.len();
            let vms: Vec<_> = vms.into_iter().map(|(h, m, c, g)| (h % n, m, c, g)).collect();
            let mut text = pool_text(&caps, &vms);
            if let Some(d) = down {
                // One host down: its VMs are in every packing's base.
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                v["hosts"][d % n]["state"] = "down".into();
                text = v.to_string();
            }
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            let key = Warm::keys(&an);
            let budget = crate::pack::Budget::default();
            let alone = Alone::of(&an, &key, &budget);
            let mut w = Warm::new(&an, &key);
            let mut s: Vec<HostId> = Vec::new();
            for h in set.into_iter().map(|h| h % n) {
                if !s.contains(&h) && an.candidates.contains(&h) {
                    w.push(h);
                    s.push(h);
                }
            }
            prop_assume!(w.feasible());
            let mut hosts = s.clone();
            w.touched(&mut hosts);
            hosts.sort_unstable();
            hosts.dedup();
            let mut clashing = Vec::new();
            let mut load = Vec::new();
            for &t in &hosts {
                alone.clashes(&an, &w, &s, t, &mut load, &mut clashing);
            }
            for &x in an.candidates.iter().filter(|x| !s.contains(x)) {
                if !alone.has(x) {
                    continue;
                }
                // x's VMs that clash, and those the packing of S put on x,
                // move, or x is left out.
                let extra: Vec<VmId> =
                    clashing.iter().filter(|e| e.0 == x).map(|e| e.1).collect();
                let Some(moved) = alone.moves(&an, &w, x, &extra) else {
                    continue;
                };
                let mut placement: Vec<(VmId, HostId)> = w
                    .placement()
                    .into_iter()
                    .filter(|&(_, t)| t != x)
                    .chain(moved.iter().map(|&(t, v)| (v, t)))
                    .collect();
                for t in 0..n {
                    placement.extend(
                        alone.entries[alone.at[t]..alone.at[t + 1]]
                            .iter()
                            .filter(|e| e.0 == x && !extra.contains(&e.1))
                            .map(|&(_, v)| (v, t)),
                    );
                }
                let mut failed = s.clone();
                failed.push(x);
                prop_assert!(valid(&an, &failed, &placement), "S {:?} + {}: {:?}", s, x, placement);
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
