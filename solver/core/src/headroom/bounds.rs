//! Upper bounds on the new VMs: the counting conditions per resource and unit,
//! whole VMs per host (`slots_bound`), the room restarts keep back
//! (`restart_bound`).

use super::*;

/// [`Ctx::restart_bound`] counts the VMs that may restart on at most this
/// many hosts.
const RESTART_BOUND_TARGETS: usize = 32;

impl Ctx<'_, '_> {
    /// The bounds that hold for every placement over all hosts.
    pub(super) fn upper_bounds(&self) -> Bound {
        let capacity: u64 = self.room.iter().map(|&r| r as u64).sum();
        let mut best = Bound::capacity(capacity, self);
        for b in self.conditions(&self.eligible) {
            if b.n < best.n {
                best = b;
            }
        }
        if let Some(b) = self.slots_bound() {
            if b.n < best.n {
                best = b;
            }
        }
        if let Some(b) = self.restart_bound() {
            if b.n < best.n {
                best = b;
            }
        }
        best
    }

    /// Counting the room restarts keep back: a VM v that some failure must
    /// restart (one of a failure candidate's when K >= 1, or of a host
    /// already down) runs afterwards on one of the hosts it may restart on,
    /// T_v, whatever else fails with its host; on t it fits only while t
    /// holds at most m_t(v) new VMs (t's restart spare less v's demand, in
    /// whole VMs of the shape). So some host of T_v holds room_t - m_t(v)
    /// fewer than its room: at least c(v), the least over T_v. VMs whose
    /// T_v have no host in common give up room on different hosts, so n is
    /// at most the room less the sum of their c(v) (VMs taken greedily,
    /// the largest c(v) first, then the fewest hosts). VMs that may
    /// restart on more than [`RESTART_BOUND_TARGETS`] hosts are left out
    /// (any subset of the VMs gives a bound), so that the cost stays linear
    /// in the VMs.
    pub(super) fn restart_bound(&self) -> Option<Bound> {
        if !self.failover {
            return None;
        }
        let an = self.an;
        let pool = self.pool;
        let nres = self.d.len();
        let mut hosts: Vec<HostId> = an.down.clone();
        if self.k > 0 {
            hosts.extend(&an.candidates);
        }
        // (c(v), T_v, v, its host) for the VMs with c(v) > 0.
        let mut costly: Vec<(u64, Vec<HostId>, VmId, HostId)> = Vec::new();
        for &h in &hosts {
            if self.expired() {
                return None;
            }
            'vm: for &v in &an.items[h] {
                let dv = &pool.vms[v].demand;
                let mut c = u64::MAX;
                let mut on: Vec<HostId> = Vec::new();
                let targets = || {
                    an.agility
                        .targets
                        .of(v)
                        .filter(|&t| t != h && an.receives[t])
                };
                if targets().nth(RESTART_BOUND_TARGETS).is_some() {
                    continue; // room on so many hosts would bar many others
                }
                for t in targets() {
                    let s = &an.spare[t];
                    if (0..nres).any(|r| s[r] < dv[r]) {
                        continue; // v fits there with no new VM either
                    }
                    let m = (0..nres)
                        .filter(|&r| self.d[r] > 0)
                        .map(|r| ((s[r] - dv[r]) / self.d[r]) as u64)
                        .min()
                        .unwrap_or(u64::MAX);
                    let lost = (self.room[t] as u64).saturating_sub(m);
                    if lost == 0 {
                        continue 'vm;
                    }
                    c = c.min(lost);
                    on.push(t);
                }
                if !on.is_empty() {
                    costly.push((c, on, v, h));
                }
            }
        }
        costly.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.len().cmp(&b.1.len()))
                .then(a.2.cmp(&b.2))
        });
        let mut used = vec![false; pool.hosts.len()];
        let mut lost = 0u64;
        let mut taken: Vec<(VmId, HostId, &[HostId])> = Vec::new();
        for (c, on, v, h) in &costly {
            if on.iter().any(|&t| used[t]) {
                continue;
            }
            for &t in on {
                used[t] = true;
            }
            lost += c;
            taken.push((*v, *h, on));
        }
        if lost == 0 {
            return None;
        }
        let capacity: u64 = self.room.iter().map(|&r| r as u64).sum();
        let n = capacity.saturating_sub(lost);
        let name = |h: HostId| pool.hosts[h].name.as_str();
        let (v, h, on) = taken[0];
        let c = costly[0].0;
        let example = format!(
            "for example {} (on {}) may restart only on {}, which would then hold at least {c} new VM{} \
             fewer than its room",
            pool.vms[v].name,
            name(h),
            on.iter().map(|&t| name(t)).collect::<Vec<_>>().join(" or "),
            if c == 1 { "" } else { "s" },
        );
        let reason = format!(
            "restarts keep room back: {} VMs that failures must restart, with no host they may restart on in \
             common, each need room on one of those hosts that new VMs would take ({example}); of the room for \
             {capacity}, {lost} are kept back: room for {n}, not {}",
            taken.len(),
            n + 1
        );
        Some(Bound {
            n,
            limit: Limit {
                kind: LimitKind::Aggregate,
                reason,
                failed: Vec::new(),
            },
        })
    }

    /// How many new VMs each host can hold once K hosts have failed: its
    /// restart spare in whole VMs where new VMs may restart (a host that
    /// receives restarts and that they may use), else its room (the new
    /// VMs started there stay, no more arrive).
    fn slot_caps(&self) -> Vec<u64> {
        let an = self.an;
        (0..self.pool.hosts.len())
            .map(|t| {
                let room = self.room[t] as u64;
                if !(an.receives[t] && self.target[t]) {
                    return room;
                }
                let slots = self
                    .d
                    .iter()
                    .zip(&an.spare[t])
                    .filter(|&(&dr, _)| dr > 0)
                    .map(|(&dr, &s)| (s.max(0) / dr) as u64)
                    .min()
                    .unwrap_or(0);
                slots.max(room)
            })
            .collect()
    }

    /// Counting whole new VMs: after a failure F every new VM runs on a
    /// host outside F (those of F are protected and agile: they restart),
    /// and a host t holds at most `slot_caps()[t]` of them, its own and
    /// restarted ones together (each takes the VM's demand from the same
    /// spare). So n is at most the caps of the hosts outside F, for the K
    /// failure candidates with the largest caps (with failure domains,
    /// the K domains holding those hosts fail them all, and more). Unlike
    /// the per-resource conditions, this counts each host's scarcest
    /// resource, which differs from host to host.
    pub(super) fn slots_bound(&self) -> Option<Bound> {
        if !self.failover || self.k == 0 || self.an.candidates.is_empty() {
            return None;
        }
        let pool = self.pool;
        let caps = self.slot_caps();
        let all: u64 = caps.iter().sum();
        let mut cand: Vec<HostId> = self.an.candidates.clone();
        cand.sort_by(|&a, &b| caps[b].cmp(&caps[a]).then(a.cmp(&b)));
        cand.truncate(self.k as usize);
        let lost: u64 = cand.iter().map(|&h| caps[h]).sum();
        let n = all - lost;
        cand.sort_unstable();
        let names: Vec<&str> = cand.iter().map(|&h| pool.hosts[h].name.as_str()).collect();
        let reason = format!(
            "counting whole VMs of this shape: if {} fail{}, every new VM must run on the other hosts, \
             whose spare holds {n} of them at most (what restarts may use, where new VMs may restart; \
             the room to start them elsewhere): room for {n}, not {}",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" },
            n + 1
        );
        Some(Bound {
            n,
            limit: Limit {
                kind: LimitKind::Aggregate,
                reason,
                failed: cand,
            },
        })
    }

    /// For each host, an upper bound on how many new VMs can all start on
    /// it alone (at most `cap`): the bounds of [`Ctx::conditions`] for
    /// placements on that host only, each counting condition set up once
    /// for all hosts (linear in the pool, not in hosts times VMs).
    pub(super) fn single_host_bounds(&self, cap: u32) -> Vec<u32> {
        let nh = self.pool.hosts.len();
        let countings = self.countings();
        let mut pos: Vec<Option<usize>> = vec![None; nh];
        for (i, &h) in self.an.candidates.iter().enumerate() {
            pos[h] = Some(i);
        }
        (0..nh)
            .map(|h| {
                if self.room[h] == 0 {
                    return 0;
                }
                let n = countings
                    .iter()
                    .map(|c| c.single(h, pos[h], self.room[h]))
                    .min()
                    .unwrap_or(u64::MAX);
                n.min(self.room[h] as u64).min(cap as u64) as u32
            })
            .collect()
    }

    /// One bound per resource the VM needs, unit (1 and the VM's demand)
    /// and set of restart hosts (all, and those the new VMs may use), for
    /// placements on the hosts marked in `allowed`.
    pub(super) fn conditions(&self, allowed: &[bool]) -> Vec<Bound> {
        self.countings()
            .iter()
            .map(|c| self.condition(c, allowed))
            .collect()
    }

    /// The counting conditions: one per resource the VM needs, unit and
    /// set of restart hosts (see [`Ctx::condition`]); none when nothing
    /// restarts on other hosts.
    pub(super) fn countings(&self) -> Vec<Counting> {
        let an = self.an;
        let pool = self.pool;
        if !self.failover {
            return Vec::new(); // nothing restarts on other hosts
        }
        let only_new_differs = (0..pool.hosts.len()).any(|h| an.receives[h] && !self.target[h]);
        let mut out = Vec::new();
        for r in 0..self.d.len() {
            let dr = self.d[r];
            if dr <= 0 {
                continue;
            }
            // Units dividing the demand: a new VM then takes exactly
            // d / u whole units, on its host or where it restarts.
            let mut units: Vec<i64> = (1..=DIVISORS)
                .filter(|&m| dr % m == 0)
                .map(|m| dr / m)
                .collect();
            units.push(1);
            units.dedup();
            for &u in &units {
                for only_new in [false, true] {
                    if only_new && !only_new_differs {
                        continue;
                    }
                    out.push(self.counting(r, u, only_new));
                }
            }
        }
        out
    }

    /// The parts of the counting condition of resource `r` in whole units
    /// `u` that do not depend on where new VMs may start.
    fn counting(&self, r: ResourceId, u: i64, only_new: bool) -> Counting {
        let an = self.an;
        let pool = self.pool;
        let nh = pool.hosts.len();
        let f = |y: i64| y.max(0) / u;
        let receives: Vec<bool> = (0..nh)
            .map(|h| an.receives[h] && (!only_new || self.target[h]))
            .collect();
        // Per candidate: displaced blocks plus own room if it receives.
        let base: Vec<i64> = an
            .candidates
            .iter()
            .map(|&h| {
                let disp: i64 = if only_new {
                    0
                } else {
                    an.items[h].iter().map(|&v| f(pool.vms[v].demand[r])).sum()
                };
                disp + if receives[h] { f(an.spare[h][r]) } else { 0 }
            })
            .collect();
        let down: i64 = if only_new {
            0
        } else {
            an.down
                .iter()
                .flat_map(|&h| &an.items[h])
                .map(|&v| f(pool.vms[v].demand[r]))
                .sum()
        };
        let total: i64 = (0..nh)
            .filter(|&t| receives[t])
            .map(|t| f(an.spare[t][r]))
            .sum::<i64>()
            - down;
        let k = (self.k as usize).min(base.len());
        let mut order: Vec<usize> = (0..base.len()).collect();
        order.sort_by(|&i, &j| base[j].cmp(&base[i]).then(i.cmp(&j)));
        let mut rank = vec![0usize; base.len()];
        for (p, &i) in order.iter().enumerate() {
            rank[i] = p;
        }
        let mut prefix = vec![0i64; k + 1];
        for j in 0..k {
            prefix[j + 1] = prefix[j] + base[order[j]];
        }
        Counting {
            r,
            u,
            only_new,
            a: f(self.d[r]),
            base,
            total,
            k,
            receives,
            rank,
            prefix,
        }
    }

    /// The most new VMs that placements on `allowed` hosts can hold with
    /// every failure set of K hosts passing the counting condition `c`
    /// (resource `r` in whole units `u`, see the module doc), counted over
    /// the hosts that receive restarts, or with `only_new` over those the
    /// new VMs may restart on, for the new VMs alone.
    pub(super) fn condition(&self, c: &Counting, allowed: &[bool]) -> Bound {
        let pool = self.pool;
        let nh = pool.hosts.len();
        let (r, u, only_new, a) = (c.r, c.u, c.only_new, c.a);
        let receives = |h: HostId| c.receives[h];
        let cand = &self.an.candidates;
        let (base, total) = (&c.base, c.total);
        let k = c.k;
        let top = |vals: &[i64]| -> (i64, Vec<usize>) {
            let mut idx: Vec<usize> = (0..vals.len()).collect();
            idx.sort_by(|&i, &j| vals[j].cmp(&vals[i]).then(i.cmp(&j)));
            idx.truncate(k);
            (idx.iter().map(|&i| vals[i]).sum(), idx)
        };
        // New VMs on hosts that receive restarts take `a` from `total`; on
        // the others they raise their host's term.
        let mut vals = base.clone();
        let mut x = vec![0u64; cand.len()];
        let cap_r: u64 = (0..nh)
            .filter(|&h| allowed[h] && receives(h))
            .map(|h| self.room[h] as u64)
            .sum();
        let raise: Vec<usize> = (0..cand.len())
            .filter(|&i| allowed[cand[i]] && !receives(cand[i]) && self.room[cand[i]] > 0)
            .collect();
        let (mut sum, _) = top(&vals);
        let mut n: u64 = 0;
        if sum <= total {
            // The lowest term that may still rise, while one may.
            while let Some(&i) = raise
                .iter()
                .filter(|&&i| x[i] < self.room[cand[i]] as u64)
                .min_by_key(|&&i| (vals[i], i))
            {
                vals[i] += a;
                let (s, _) = top(&vals);
                if s > total {
                    vals[i] -= a;
                    break;
                }
                sum = s;
                x[i] += 1;
                n += 1;
                if n > MAX_ADDITIONAL {
                    break;
                }
            }
            let raise_full = raise.iter().all(|&i| x[i] == self.room[cand[i]] as u64);
            if raise_full {
                n += (((total - sum) / a) as u64).min(cap_r);
            }
        }
        // The argument, for the bound n: with n + 1 more, the top K fail it.
        let (worst_sum, worst) = top(base);
        let failed: Vec<HostId> = {
            let mut w: Vec<HostId> = worst.iter().map(|&i| cand[i]).collect();
            w.sort_unstable();
            w
        };
        let names = |hs: &[HostId]| {
            hs.iter()
                .map(|&h| pool.hosts[h].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let res = &pool.resources[r];
        let scope = if only_new {
            let mut what = Vec::new();
            if !self.shape.storage.is_empty() || !self.shape.networks.is_empty() {
                what.push("reach its storage and networks".to_string());
            }
            if pool.ha.migration_path == MigrationPath::StandbyOnly {
                what.push("are standby hosts".to_string());
            }
            format!(
                "the new VMs can restart only on hosts that {}: ",
                what.join(" and ")
            )
        } else {
            String::new()
        };
        let k_words = if k == 0 {
            "with no host failing".to_string()
        } else {
            format!(
                "if {} fail{}",
                names(&failed),
                if k == 1 { "s" } else { "" }
            )
        };
        let reason = if !raise.is_empty() {
            let units = if u == 1 {
                String::new()
            } else {
                format!("whole slots of {u} ")
            };
            let amount = if u == 1 {
                format!("{total} {res}")
            } else {
                format!("{total} slots")
            };
            let worst = if k == 1 {
                "the host".to_string()
            } else {
                format!("the {k} hosts")
            };
            format!(
                "{scope}counting {units}{res}: restarts can use only the spare of hosts that receive them ({amount} in all), \
                 and a new VM on a host that receives none adds to what that host's failure displaces: however {} more VMs \
                 of {} {res} are placed, the failure of {worst} then displacing the most needs more",
                n + 1,
                self.d[r]
            )
        } else if u == 1 {
            format!(
                "{scope}{res}: {k_words}, {} {res} of the surviving hosts' spare is left after the VMs to restart, \
                 and each new VM takes {}, on the host it runs on or where it restarts: room for {n}, not {}",
                total - worst_sum,
                self.d[r],
                n + 1
            )
        } else {
            format!(
                "{scope}counting whole slots of {u} {res}: {k_words}, {} slots of the surviving hosts are left \
                 after the VMs to restart, and each new VM takes one, on the host it runs on or where it restarts: \
                 room for {n}, not {}",
                total - worst_sum,
                n + 1
            )
        };
        Bound {
            n,
            limit: Limit {
                kind: LimitKind::Aggregate,
                reason,
                failed: if raise.is_empty() { failed } else { Vec::new() },
            },
        }
    }

    pub(super) fn capacity_reason(&self, n: u64) -> String {
        format!(
            "the hosts that may start it have room for {n} in all{}",
            if n == 0 {
                String::new()
            } else {
                format!(", not {}", n + 1)
            }
        )
    }

    pub(super) fn no_host_reason(&self) -> String {
        let pool = self.pool;
        if !self.eligible.iter().any(|&e| e) {
            let why: Vec<String> = (0..pool.hosts.len())
                .filter_map(|h| {
                    self.excluded[h]
                        .as_ref()
                        .map(|w| format!("{}: {w}", pool.hosts[h].name))
                })
                .collect();
            if why.is_empty() {
                "the pool has no host".to_string()
            } else {
                format!("no host may start it: {}", why.join("; "))
            }
        } else {
            "no host that may start it has room for it in its spare".to_string()
        }
    }
}
