//! Every set of at most k host failures proved survivable at once, by
//! restart lists composed from one plan per host.
//!
//! Each protected VM `v` of every up host `a` gets a list `L_v` of k
//! distinct hosts it may restart on (its restart targets, receiving hosts
//! only), or of k − 1 hosts (a short list, below). When a set F of at most
//! k hosts fails, `v` (on a host of F) restarts on the first host of `L_v`
//! that is not in F.
//!
//! **Triggers.** The entry of `L_v` at position j, host t, is taken only
//! when a and the j − 1 hosts before t in `L_v` all failed: its trigger is
//! `T = {a, L_v[1], ..., L_v[j − 1]}`, and v lands on t in a failure set F
//! (t ∉ F) only if `T ⊆ F`. Writing `W_t(T)` for the summed demand of the
//! entries on t with trigger T, the load F puts on t is at most
//! `f_t(F) = Σ_{T ⊆ F} W_t(T)`. For k > 3 the trigger is coarsened to `{a}`
//! (a subset of the true one, so it only counts an entry in more sets:
//! still an upper bound, the classic "k largest loads per host" rule).
//!
//! The lists prove every such F survived when:
//!
//! 1. for every receiving host t and resource r, `f_t(F)[r]` is at most
//!    t's spare in r for every set F of at most k up hosts without t;
//! 2. no two entries of VMs of one anti-affinity group on one host clash:
//!    entries with triggers T and T' clash when `T ∪ T'` has at most k
//!    hosts (below, "Clashes");
//! 3. every set `{a} ∪ L_v` of a short list (k hosts: the only set of at
//!    most k hosts, holding a, that leaves v no list host) is decided
//!    survivable on its own, exactly, by the caller.
//!
//! **Repairs (k ≤ 3).** Condition 1 may fail on some hosts (hot hosts)
//! for some sets. Those sets are then covered by repairs, or left to
//! decide like the sets of (3). A repair of a core M (a set of at most k
//! hosts) moves a few VMs whose entries have their triggers within M off
//! the hosts M overloads, each to one other host u ∉ M, and claims every
//! set F ⊇ M of at most k hosts holding no move's host u. It holds when,
//! for every host w ∉ M, `worst(w, M)` (at least the most any such F puts
//! on w by the lists, [`Loads::worst`]; exact for k ≤ 3 but around one
//! host when k = 3, an upper bound there, below; or `worst(w, ∅)`, the
//! most any set of at most k hosts puts on w, larger still, which a host
//! a move goes to is counted with first), less the demand moved
//! off w, plus the demand moved onto w, is within w's spare; a moved VM
//! goes only to a receiving restart target of its own where no other VM
//! of its anti-affinity group is moved, nor listed by an entry whose
//! trigger holds at most k hosts with M (only such an entry is taken in a
//! set F ⊇ M of at most k hosts). Sound: in such an F a
//! moved VM's entry on w has its trigger within F, so the lists would send
//! it to w (w ∉ F) and `f_w(F)` counts it: taking it off is exact; every
//! other VM lands by its list as in the proof below, u survives, and
//! group members never meet (condition 2 for the listed ones; a moved
//! one where no listed one lands in F, nor another moved one). The sets
//! F ⊇ M holding a move's host are the cores M ∪ {u}, repaired in their
//! turn. A core no repair settles is
//! left to decide when it has k hosts, and otherwise grown by every other
//! up host (its sets of k hosts cover it: tolerance is monotone here).
//! The first cores are the sets M whose own failure overloads a hot host
//! w while no smaller set on the way to M does, found depth first among
//! the hosts with an entry on w: `f_w(F)` depends only on those hosts of
//! F, so every set that overloads w holds one. The search takes these
//! hosts largest load on w first and cuts a branch (M, with the hosts
//! after a position still to add) where an upper bound on what any of
//! those additions puts on w fits ([`later_bound`]): each added host x
//! adds the triggers within M ∪ {x} that hold it, and the triggers
//! holding two added hosts or more are counted at least twice in the sum,
//! over the added hosts, of all the triggers of two hosts or more holding
//! each; half of that per host covers them. A set is also cut where
//! `worst(w, M)` fits. A set that overloads no host is carried by the lists; one that
//! does holds a first core, and each core is repaired (its sets then
//! repaired but for those holding a move's host, a core of its own),
//! grown (its sets then those of the larger cores) or decided: by
//! induction on the size of the core every set of k hosts is survived.
//! Repairs are found per core in parallel, cores that share their
//! overloaded hosts' VMs in one step (a core of one or two hosts settles
//! every set around it at once); each is checked by these counts alone,
//! independently of how the lists were made. The smaller cores go first:
//! a core holding a smaller one repaired (or carried by the lists alone)
//! and none of that one's moves' hosts needs no repair of its own, since
//! every set holding it is claimed by that repair or holds a move's host,
//! and with it a core of its own.
//!
//! **Placements.** A set of k hosts is also settled by a placement of its
//! own: every protected VM of its hosts on a receiving restart target of
//! its own outside the set, no two of one anti-affinity group on one host,
//! every host within its spare — exactly a packing of its scenario, so
//! the set is survived, as if decided. A core M of k − 1 hosts no repair
//! places is grown by every other up host y; its VMs get one placement
//! (the spread of M, first fit, checked VM by VM), and each set M ∪ {y}
//! is placed from it: M's VMs where the spread puts them, y's VMs on
//! their first list hosts where the spread leaves them room, and the VMs
//! that leaves out (the spread's on y, y's whose first host is in M or
//! full) first fit around them, each checked as it goes. Only the sets
//! where that fails are cores of the next round. Cores of k hosts that
//! share k − 1 of them are placed likewise, around the spread of those
//! hosts, before any repair (those with nothing to place one by one).
//! Such a set needs nothing of the lists' bounds: the placement is the
//! proof.
//!
//! Proof. Let F be a set of at most k up hosts. If F is one of the sets
//! of (3), decided, placed, or a set a repair claims, it is survived. Otherwise a VM v of
//! a ∈ F has a host in `L_v` outside F: a full list holds k distinct
//! hosts, none of them a (a VM never restarts on its own host), so at most
//! k − 1 of them are in F; a short list has all its k − 1 hosts in F only
//! if F = `{a} ∪ L_v`, a set of (3). The host v takes, t, is in v's
//! restart targets, receives and survives: t is one of v's eligible
//! targets in F's scenario. Two VMs of one group never take the same host:
//! the entries they would take there both have their triggers within F,
//! a union of at most k hosts, a clash (2). The entry v takes has its
//! trigger within F, so the VMs restarted on t demand at most `f_t(F)`, within the spare (1; F overloads no host). So
//! every scenario of at most k failed hosts has a packing: the pool
//! tolerates k. Only the few sets of (3) and the cores no repair places
//! are decided one by one; the others, C(n, k) of them, are settled by
//! the lists and the repairs at once.
//!
//! **Clashes.** Members of one anti-affinity group may list one host t;
//! condition 2 refuses the lists exactly when some set of at most k hosts
//! would restart two of them on t. For k ≤ 3 the triggers are exact: a VM
//! lands on t in F iff its entry's trigger T is within F and t ∉ F. And t
//! is in neither trigger: not the VM's own host nor a host before t in its
//! list, and not the other VM's host, which runs a member of the group and
//! so is no restart target of it. So both land on t in some F of at most k
//! hosts iff `T ∪ T'` has at most k hosts (then `F = T ∪ T'` is one): the
//! check, over every pair of the group's entries on t, finds every such
//! set or refuses the lists. For k > 3 a trigger is coarsened to `{a}`,
//! within the true one, so a pair that truly clashes has its coarse union
//! within the true union and clashes too (more pairs refused, none
//! missed). When members run on different hosts, an entry whose trigger
//! holds k hosts (k = 3: the third host of a list; k = 2: the second)
//! clashes with no other member's entry, since their union also holds the
//! other VM's host: the rule then binds only the hosts before it. Members
//! that already share a host (a pool that breaks its own rule today) may
//! clash anywhere; the check computes the real union, so it stays exact
//! either way. A group's entries on one host are kept to
//! [`MOST_SHARING`], so the pairs checked stay bounded.
//!
//! **Computing the worst set (k ≤ 3).** `f_t` is a sum of non-negative
//! terms over the triggers within F. The best F holding a given set M is
//! M, the union U of the triggers of two or more hosts inside F, and hosts
//! that only add their single-host loads `W_t({h})`, for which the largest
//! such loads off M ∪ U are as good (per resource). With k ≤ 3 and triggers
//! of two or more hosts, M ∪ U is M, M ∪ T1, or M ∪ T1 ∪ T2 with T2 meeting
//! M ∪ T1 (a second trigger disjoint from a set of two would need four
//! hosts); T1 meets M unless |M| + 2 ≤ k. [`Loads::worst`] tries exactly
//! these, so it is the maximum of `f_t` over the sets holding M, not an
//! estimate; condition 1 is `worst(t, ∅)` within the spare.
//!
//! **A bound around one host (k = 3).** With M = {a} the sets tried above
//! are every trigger of two or more hosts on t, which the lists ask for
//! each entry they try: too slow on pools of thousands of VMs. There
//! [`Loads::worst`] gives an upper bound instead, from the triggers holding
//! a alone. A set F = {a, x, y} (x, y ≠ a, possibly fewer hosts) puts
//! `W({a}) + g(x) + g(y) + W({x, y}) + W({a, x, y})` on t, with
//! `g(x) = W({x}) + W({a, x})` (every term non-negative, missing ones 0).
//! So `W({a})`, plus the two largest g over the hosts x ≠ a (a host with
//! no trigger {a, x} has g = `W({x})`, at most the smallest of the k
//! largest single-host loads when it is not among them), plus the largest
//! load of any trigger of two hosts on t, plus the largest of three hosts
//! holding a, is at least `f_t(F)` per resource. So is `W({a})`, plus
//! the largest load of a set of one or two hosts (which bounds
//! `W({x}) + W({y}) + W({x, y})`), plus the two largest `W({a, x})`, plus
//! the largest of three hosts holding a: [`Loads::worst`] takes the
//! smaller of the two, per resource. Everything above needs
//! of `worst` only that it is at least the true maximum: condition 1 and
//! the repairs' counts then hold a fortiori; the search for first cores
//! prunes with the exact maximum.
//!
//! The argument needs scenarios whose items are exactly the protected VMs
//! of the failed hosts, each eligible on its restart targets among the
//! survivors, bound only by capacity and plain anti-affinity: no host
//! already down (its VMs would be placed in every scenario) and no rule
//! beyond plain anti-affinity (`Analysis::rules` empty, which also makes
//! tolerance monotone). [`applies`] says so; elsewhere nothing is claimed.
//!
//! The lists come from a heuristic ([`lists`]): the VMs, largest first,
//! take k hosts each, first fit from a start that differs per VM (so that
//! the load spreads), where adding the entry keeps condition 1 (the worst
//! set holding its trigger, plus its demand, within the spare), and no
//! entry clashes with one of its group's on the same host. For k ≤ 3 an
//! entry that no host takes within condition 1 among the first few tried goes to the
//! one it overloads least among those tried that hold it with its
//! trigger's own load (repairs settle the sets it overloads); with k = 3
//! a host such an entry already went to is preferred, so that few hosts
//! are overloaded and the others stay clear. A VM that finds only k − 1
//! hosts keeps a short list while few sets are left to decide. [`proves`]
//! checks the conditions on the lists themselves, independently of how
//! they were made: only its "yes", with the sets of (3) decided, is a
//! proof.

use std::collections::{HashMap, HashSet};

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use rayon::prelude::*;

use crate::model::*;
use crate::pack::{Budget, NO_GROUP};
use crate::scenario::Analysis;

/// Restart lists: per VM with a list, its k (or k − 1) hosts in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lists {
    pub k: usize,
    /// `(vm, hosts)`, the hosts in the order they are tried.
    pub of: Vec<(VmId, Vec<HostId>)>,
}

/// Whether restart lists can prove anything about `an`'s scenarios (module
/// doc): host failover, nothing down, no rule beyond plain anti-affinity.
pub(crate) fn applies(an: &Analysis) -> bool {
    an.failover && an.down.is_empty() && an.rules.is_none()
}

/// Whether every set of at most `k` up hosts can fail with every protected
/// VM restarted, proved by restart lists, with `survives` deciding the few
/// sets short lists leave (condition 3 of the module doc; it must answer
/// true only for a set proved survivable); false when the lists are not
/// found in time or prove nothing (which says nothing about the pool).
pub(crate) fn tolerates(
    an: &Analysis,
    k: usize,
    budget: &Budget,
    survives: impl Fn(&[HostId]) -> bool,
) -> bool {
    let entries = an
        .items
        .iter()
        .map(Vec::len)
        .sum::<usize>()
        .saturating_mul(k);
    k == 0
        || (applies(an) && k <= MOST_K && entries <= MOST_ENTRIES && {
            // Not all the time left: the rest is for the bounds and the
            // search. Lists that take half of it are not finished.
            let now = std::time::Instant::now();
            let share = |n: u32, d: u32| Budget {
                deadline: budget
                    .deadline
                    .map(|end| now + end.saturating_duration_since(now) * n / d),
                cancel: budget.cancel,
            };
            let budget = &share(7, 8);
            lists(an, k, &share(1, 2))
                .and_then(|l| proves(an, &l, budget))
                .is_some_and(|c| c.decide.iter().all(|s| !budget.expired() && survives(s)))
        })
}

/// Lists longer than this are not tried: a VM that needs more hosts set
/// aside than this hardly finds them, and the lists' memory grows with k.
const MOST_K: usize = 8;
/// Nor lists of more host entries in all (memory and time stay bounded on
/// any pool: a few tens of MB).
const MOST_ENTRIES: usize = 1 << 20;
/// Short lists and cores no repair places leave at most this many sets
/// to decide one by one.
const MOST_SHORT: usize = 1024;

/// A map keyed by host indices, hashed cheaply (the keys are small
/// integers the pool's order gives, not text).
type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Mix>>;

/// A multiply-rotate hasher for [`FastMap`].
#[derive(Default)]
struct Mix(u64);

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A trigger: the hosts whose failure sends a list entry's VM to its host,
/// sorted, padded with `NOT`; one to three hosts.
type Trigger = [HostId; 3];
const NOT: HostId = usize::MAX;

/// The trigger of the entry after `before` in the list of a VM of `a`
/// (module doc): `{a} ∪ before`, or `{a}` alone when k > 3.
fn trigger(k: usize, a: HostId, before: &[HostId]) -> Trigger {
    let mut t = [NOT; 3];
    t[0] = a;
    if k <= 3 {
        t[1..1 + before.len()].copy_from_slice(before);
    }
    t.sort_unstable();
    t
}

fn hosts_of(t: &Trigger) -> &[HostId] {
    let n = t.iter().take_while(|&&h| h != NOT).count();
    &t[..n]
}

/// The triggers of the list entries of each anti-affinity group per host:
/// `(group, host)` to the triggers of its members' entries there.
type Sharing = FastMap<(u32, HostId), Vec<Trigger>>;

/// Pools of at most this many hosts squared keep [`Loads`]' tables per
/// pair of hosts (9 MB at most).
const MOST_DENSE: usize = 1 << 20;

/// Entries of one group on one host, at most this many (then the host is
/// not shared further): the clash checks stay bounded on any pool.
const MOST_SHARING: usize = 64;

/// The number of hosts in `x ∪ y`, each of them without repeats.
fn union_len(x: &[HostId], y: &[HostId]) -> usize {
    x.len() + y.iter().filter(|h| !x.contains(h)).count()
}

/// Whether entries with triggers `x` and `y` clash (module doc, condition
/// 2): some set of at most k hosts holds both triggers, so that two VMs of
/// one group listing one host would both land there.
fn clash(k: usize, x: &Trigger, y: &Trigger) -> bool {
    union_len(hosts_of(x), hosts_of(y)) <= k
}

/// Whether an entry of a VM of `group` on `t` with trigger `trig` may join
/// the entries `taken` holds: it clashes with none of its group's there,
/// and they are fewer than [`MOST_SHARING`].
fn shares(k: usize, taken: &Sharing, group: u32, t: HostId, trig: &Trigger) -> bool {
    taken
        .get(&(group, t))
        .is_none_or(|ts| ts.len() < MOST_SHARING && !ts.iter().any(|u| clash(k, trig, u)))
}

/// The summed demands `W_t(T)` of list entries per receiving host t and
/// trigger T, with what [`Loads::worst`] needs to find the worst failure
/// set: per (t, resource) the k largest single-host loads, per t its
/// triggers of two or more hosts, and those per host they hold.
struct Loads {
    k: usize,
    nres: usize,
    at: FastMap<(HostId, Trigger), usize>,
    /// Hosts in the pool when the tables below are kept, else 0.
    dense: usize,
    /// Per (t, h) at `t * dense + h`: where `W_t({h})` is in `vals`
    /// (`NOT` for none): what `at` says, without hashing.
    single_at: Vec<usize>,
    /// Per (t, h) likewise: whether h is in a trigger of two or more hosts
    /// on t (a trigger holding a host that is not has no load on t).
    in_multi: Vec<bool>,
    vals: Vec<i64>,
    /// Per (t, r), k slots: `(host, W_t({host})[r])`, largest first, `NOT`
    /// for none yet.
    top: Vec<(HostId, i64)>,
    multi: HashMap<HostId, Vec<Trigger>>,
    /// Per (t, h), the triggers of two or more hosts holding h, with where
    /// their loads are in `vals`.
    touching: FastMap<(HostId, HostId), Vec<(Trigger, usize)>>,
    /// Per t, the hosts with a single-host trigger there.
    singles: HashMap<HostId, Vec<HostId>>,
    /// Per (t, r), the largest `W_t(T)[r]` over the triggers T of two
    /// hosts.
    pair_max: Vec<i64>,
    /// Per (t, r) when k = 3, the largest `f_t(S)[r]` over the sets S of
    /// one or two hosts (kept as loads grow, [`Loads::add_pairs`]).
    pair_best: Vec<i64>,
}

impl Loads {
    fn new(hosts: usize, nres: usize, k: usize) -> Loads {
        Loads::with_tables(hosts, nres, k, hosts.saturating_mul(hosts) <= MOST_DENSE)
    }

    /// [`Loads::new`], with the tables per pair of hosts or not.
    fn with_tables(hosts: usize, nres: usize, k: usize, tables: bool) -> Loads {
        let dense = if tables { hosts } else { 0 };
        Loads {
            k,
            nres,
            at: FastMap::default(),
            dense,
            single_at: vec![NOT; dense * dense],
            in_multi: vec![false; dense * dense],
            vals: Vec::new(),
            top: vec![(NOT, 0); hosts * nres * k],
            multi: HashMap::new(),
            touching: FastMap::default(),
            singles: HashMap::new(),
            pair_max: vec![0; hosts * nres],
            pair_best: vec![0; if k == 3 { hosts * nres } else { 0 }],
        }
    }

    /// The k largest single-host loads on `t` in resource `r` (`top`).
    fn tops(&self, t: HostId, r: usize) -> &[(HostId, i64)] {
        let at = (t * self.nres + r) * self.k;
        &self.top[at..at + self.k]
    }

    fn get(&self, t: HostId, trig: &Trigger) -> Option<&[i64]> {
        let n = self.dense;
        if n > 0 {
            if trig[1] == NOT {
                let o = self.single_at[t * n + trig[0]];
                return (o != NOT).then(|| &self.vals[o..o + self.nres]);
            }
            if hosts_of(trig).iter().any(|&h| !self.in_multi[t * n + h]) {
                return None;
            }
        }
        self.at
            .get(&(t, *trig))
            .map(|&o| &self.vals[o..o + self.nres])
    }

    /// Adds demand `d` to `W_t(trig)`. Loads only grow, so the k largest
    /// single-host loads are kept as they go: a load that leaves them comes
    /// back only by growing past one of them.
    fn add(&mut self, t: HostId, trig: Trigger, d: &[i64]) {
        let (nres, k) = (self.nres, self.k);
        let o = match self.at.get(&(t, trig)) {
            Some(&o) => o,
            None => {
                let o = self.vals.len();
                self.vals.extend(std::iter::repeat_n(0, nres));
                self.at.insert((t, trig), o);
                let hosts = hosts_of(&trig);
                let n = self.dense;
                if hosts.len() == 1 {
                    self.singles.entry(t).or_default().push(trig[0]);
                    if n > 0 {
                        self.single_at[t * n + trig[0]] = o;
                    }
                } else {
                    self.multi.entry(t).or_default().push(trig);
                    for &h in hosts {
                        self.touching.entry((t, h)).or_default().push((trig, o));
                        if n > 0 {
                            self.in_multi[t * n + h] = true;
                        }
                    }
                }
                o
            }
        };
        for r in 0..nres {
            self.vals[o + r] = self.vals[o + r].saturating_add(d[r].max(0));
        }
        if trig[1] != NOT {
            if trig[2] == NOT {
                for r in 0..nres {
                    let m = &mut self.pair_max[t * nres + r];
                    *m = (*m).max(self.vals[o + r]);
                }
                if k == 3 {
                    self.add_pairs(t, trig);
                }
            }
            return;
        }
        let a = trig[0];
        for r in 0..nres {
            let now = self.vals[o + r];
            let tops = &mut self.top[(t * nres + r) * k..(t * nres + r + 1) * k];
            if let Some(e) = tops.iter_mut().find(|e| e.0 == a) {
                e.1 = now;
            } else if let Some(e) = tops
                .iter_mut()
                .filter(|e| e.0 == NOT || e.1 < now)
                .min_by_key(|e| if e.0 == NOT { i64::MIN } else { e.1 })
            {
                *e = (a, now);
            }
            tops.sort_by_key(|e| std::cmp::Reverse(e.1));
        }
        if k == 3 {
            self.add_pairs(t, trig);
        }
    }

    /// Raises `pair_best` at t to `f_t(S)` for the sets S of at most two
    /// hosts holding `trig` (at most two hosts), the only sets whose load
    /// grew: `{x, y}` itself for a trigger of two hosts; for `{x}`, `{x}`,
    /// the hosts y sharing a trigger of two hosts with x, and the largest
    /// single-host load of any other host y (at least `W_t({y})` for each).
    fn add_pairs(&mut self, t: HostId, trig: Trigger) {
        let nres = self.nres;
        let mut sets: Vec<[HostId; 2]> = Vec::new();
        if trig[1] != NOT {
            sets.push([trig[0], trig[1]]);
        } else {
            let x = trig[0];
            sets.push([x, NOT]);
            for &(p, _) in self.touching.get(&(t, x)).into_iter().flatten() {
                if p[2] == NOT {
                    sets.push([p[0], p[1]]);
                }
            }
        }
        let mut val = vec![0i64; nres];
        for s in sets {
            let f0: &[HostId] = if s[1] == NOT { &s[..1] } else { &s };
            self.within(t, f0, &mut val);
            for r in 0..nres {
                let m = &mut self.pair_best[t * nres + r];
                *m = (*m).max(val[r]);
            }
        }
        if trig[1] == NOT {
            let x = trig[0];
            let wx = self
                .get(t, &trig)
                .map_or_else(|| vec![0; nres], <[i64]>::to_vec);
            for r in 0..nres {
                let other = self
                    .tops(t, r)
                    .iter()
                    .find(|e| e.0 != NOT && e.0 != x)
                    .map_or(0, |e| e.1);
                let m = &mut self.pair_best[t * nres + r];
                *m = (*m).max(wx[r].saturating_add(other));
            }
        }
    }

    /// `f_t(f0)`: the loads of the triggers within `f0` (at most 3 hosts).
    fn within(&self, t: HostId, f0: &[HostId], out: &mut [i64]) {
        out.fill(0);
        for mask in 1u32..(1 << f0.len()) {
            let mut trig = [NOT; 3];
            let mut n = 0;
            for (i, &h) in f0.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    trig[n] = h;
                    n += 1;
                }
            }
            if let Some(w) = self.get(t, &trig) {
                for (o, &x) in out.iter_mut().zip(w) {
                    *o = o.saturating_add(x);
                }
            }
        }
    }

    /// Per resource, the largest `f_t(F)` over the sets F of at most k hosts
    /// holding `must` (sorted, at most k hosts, t not among them); exact,
    /// as the module doc shows, since only k ≤ 3 has triggers of two or
    /// more hosts.
    fn worst(&self, t: HostId, must: &[HostId]) -> Vec<i64> {
        match must {
            &[a] if self.k == 3 => {
                let mut w = self.worst_around(t, a);
                for (w, p) in w.iter_mut().zip(self.worst_around_pairs(t, a)) {
                    *w = (*w).min(p);
                }
                w
            }
            _ => self.worst_of(t, must, self.k),
        }
    }

    /// An upper bound on the largest `f_t(F)` over the sets F of at most 3
    /// hosts holding `a` (k = 3), from the triggers holding `a` alone
    /// (module doc, "a bound around one host"): `W_t({a})`, the two largest
    /// `W_t({x}) + W_t({a, x})` over the hosts x ≠ a, the largest load of a
    /// trigger of two hosts on t and the largest of three hosts holding a.
    fn worst_around(&self, t: HostId, a: HostId) -> Vec<i64> {
        let nres = self.nres;
        let mut best = self
            .get(t, &[a, NOT, NOT])
            .map_or_else(|| vec![0; nres], <[i64]>::to_vec);
        // g(x) = W_t({x}) + W_t({a, x}) for the hosts x paired with a.
        let mut paired: Vec<(HostId, Vec<i64>)> = Vec::new();
        let mut triple = vec![0i64; nres];
        let none = Vec::new();
        for &(trig, o) in self.touching.get(&(t, a)).unwrap_or(&none) {
            let w = &self.vals[o..o + nres];
            if trig[2] == NOT {
                let x = if trig[0] == a { trig[1] } else { trig[0] };
                let mut g = w.to_vec();
                if let Some(s) = self.get(t, &[x, NOT, NOT]) {
                    for (g, &s) in g.iter_mut().zip(s) {
                        *g = g.saturating_add(s);
                    }
                }
                paired.push((x, g));
            } else {
                for (m, &l) in triple.iter_mut().zip(w) {
                    *m = (*m).max(l);
                }
            }
        }
        for r in 0..nres {
            let tops = self.tops(t, r);
            // Any host outside the k largest single loads has at most the
            // smallest of them (none when fewer hosts have one).
            let rest = if tops.iter().all(|e| e.0 != NOT) {
                tops.iter().map(|e| e.1).min().unwrap_or(0)
            } else {
                0
            };
            let (mut b1, mut b2) = (rest, rest);
            let mut offer = |l: i64| {
                if l > b1 {
                    b2 = b1;
                    b1 = l;
                } else if l > b2 {
                    b2 = l;
                }
            };
            for &(h, l) in tops {
                if h != NOT && h != a && !paired.iter().any(|p| p.0 == h) {
                    offer(l);
                }
            }
            for (_, g) in &paired {
                offer(g[r]);
            }
            best[r] = best[r]
                .saturating_add(b1)
                .saturating_add(b2)
                .saturating_add(self.pair_max[t * nres + r])
                .saturating_add(triple[r]);
        }
        best
    }

    /// Another upper bound on the largest `f_t(F)` over the sets F of at
    /// most 3 hosts holding `a` (k = 3; module doc, "a bound around one
    /// host"): `W_t({a})`, the largest load of a set of two hosts
    /// (`pair_best`), the two largest `W_t({a, x})` and the largest load of
    /// a trigger of three hosts holding a.
    fn worst_around_pairs(&self, t: HostId, a: HostId) -> Vec<i64> {
        let nres = self.nres;
        let mut best = self
            .get(t, &[a, NOT, NOT])
            .map_or_else(|| vec![0; nres], <[i64]>::to_vec);
        let mut two = vec![(0i64, 0i64); nres];
        let mut triple = vec![0i64; nres];
        for &(trig, o) in self.touching.get(&(t, a)).into_iter().flatten() {
            let w = &self.vals[o..o + nres];
            for r in 0..nres {
                if trig[2] != NOT {
                    triple[r] = triple[r].max(w[r]);
                } else if w[r] > two[r].0 {
                    two[r] = (w[r], two[r].0);
                } else if w[r] > two[r].1 {
                    two[r].1 = w[r];
                }
            }
        }
        for r in 0..nres {
            best[r] = best[r]
                .saturating_add(self.pair_best[t * nres + r])
                .saturating_add(two[r].0)
                .saturating_add(two[r].1)
                .saturating_add(triple[r]);
        }
        best
    }

    /// [`Loads::worst`] over the sets of at most `k` hosts (at most the
    /// lists' k).
    fn worst_of(&self, t: HostId, must: &[HostId], k: usize) -> Vec<i64> {
        let nres = self.nres;
        let mut best = vec![0i64; nres];
        if must.len() >= k {
            // No room for more hosts: the load of `must` itself.
            self.within(t, must, &mut best);
            return best;
        }
        if must.len() + 1 == k {
            return self.worst_one_more(t, must);
        }
        let mut val = vec![0i64; nres];
        let mut consider = |f0: &[HostId]| {
            self.within(t, f0, &mut val);
            let room = k - f0.len();
            for r in 0..nres {
                let pad = self
                    .tops(t, r)
                    .iter()
                    .filter(|&&(h, _)| h != NOT && !f0.contains(&h))
                    .take(room)
                    .fold(0i64, |s, &(_, l)| s.saturating_add(l));
                best[r] = best[r].max(val[r].saturating_add(pad));
            }
        };
        consider(must);
        let union = |a: &[HostId], b: &Trigger| {
            let mut u: Vec<HostId> = a.iter().chain(hosts_of(b)).copied().collect();
            u.sort_unstable();
            u.dedup();
            u
        };
        let none = Vec::new();
        let touching = |h: HostId| self.touching.get(&(t, h)).unwrap_or(&none);
        let firsts: Vec<&Trigger> = if must.len() + 2 <= k {
            self.multi.get(&t).into_iter().flatten().collect()
        } else {
            must.iter()
                .flat_map(|&h| touching(h).iter().map(|e| &e.0))
                .collect()
        };
        for t1 in firsts {
            let f1 = union(must, t1);
            if f1.len() > k {
                continue;
            }
            consider(&f1);
            if f1.len() < k {
                for &h in &f1 {
                    for (t2, _) in touching(h) {
                        let f2 = union(&f1, t2);
                        if f2.len() <= k && f2 != f1 {
                            consider(&f2);
                        }
                    }
                }
            }
        }
        best
    }

    /// [`Loads::worst_of`] over the sets of at most `must.len() + 1`
    /// hosts (`must` sorted): `must` itself, or `must ∪ {x}`,
    /// which adds `W_t({x})` and the loads of the triggers holding x whose
    /// other hosts are all in `must` (each met once, through its first host
    /// in `must`). A host x on no such trigger adds `W_t({x})` alone, at
    /// most the largest single-host load off `must`.
    fn worst_one_more(&self, t: HostId, must: &[HostId]) -> Vec<i64> {
        let nres = self.nres;
        let mut base = vec![0i64; nres];
        self.within(t, must, &mut base);
        // (x, where the load of a trigger holding x and hosts of `must` is).
        let mut gains: Vec<(HostId, usize)> = Vec::new();
        for &h in must {
            for &(trig, o) in self.touching.get(&(t, h)).into_iter().flatten() {
                let hosts = hosts_of(&trig);
                let mut outside = hosts.iter().filter(|x| !must.contains(x));
                let (Some(&x), None) = (outside.next(), outside.next()) else {
                    continue;
                };
                if hosts.iter().find(|x| must.contains(x)) == Some(&h) {
                    gains.push((x, o));
                }
            }
        }
        gains.sort_unstable();
        let mut best: Vec<i64> = (0..nres)
            .map(|r| {
                let pad = self
                    .tops(t, r)
                    .iter()
                    .find(|&&(h, _)| h != NOT && !must.contains(&h))
                    .map_or(0, |&(_, l)| l);
                base[r].saturating_add(pad)
            })
            .collect();
        let mut sum = vec![0i64; nres];
        for run in gains.chunk_by(|p, q| p.0 == q.0) {
            let x = run[0].0;
            sum.copy_from_slice(&base);
            if let Some(s) = self.get(t, &[x, NOT, NOT]) {
                for (a, &l) in sum.iter_mut().zip(s) {
                    *a = a.saturating_add(l);
                }
            }
            for &(_, o) in run {
                for (a, &l) in sum.iter_mut().zip(&self.vals[o..o + nres]) {
                    *a = a.saturating_add(l);
                }
            }
            for (b, &s) in best.iter_mut().zip(&sum) {
                *b = (*b).max(s);
            }
        }
        best
    }
}

/// Restart lists for every protected VM, made so that condition 1 of the
/// module doc holds (`None` when some VM finds fewer than k − 1 hosts, too
/// many find only k − 1, or the budget runs out). The VMs go largest first,
/// whatever their host; a VM takes host t for its next entry while the
/// worst failure set holding the entry's trigger, with the VM's demand
/// added, stays within t's spare.
pub(crate) fn lists(an: &Analysis, k: usize, budget: &Budget) -> Option<Lists> {
    if k == 0 || !applies(an) {
        return None;
    }
    let pool = an.pool;
    let nres = pool.resources.len();
    let nh = pool.hosts.len();
    let total: Vec<f64> = (0..nres)
        .map(|r| {
            (0..nh)
                .filter(|&t| an.receives[t])
                .map(|t| an.spare[t][r].max(0) as f64)
                .sum::<f64>()
                .max(1.0)
        })
        .collect();
    let mut vms: Vec<(f64, VmId)> = an
        .candidates
        .iter()
        .flat_map(|&h| an.items[h].iter())
        .map(|&v| {
            let d = &pool.vms[v].demand;
            ((0..nres).map(|r| d[r] as f64 / total[r]).sum(), v)
        })
        .collect();
    vms.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut loads = Loads::new(nh, nres, k);
    let mut taken: Sharing = Default::default();
    let mut short: HashSet<Vec<HostId>> = Default::default();
    let mut of = Vec::with_capacity(vms.len());
    // The hosts an entry went to beyond condition 1.
    let mut overloaded = vec![false; nh];
    for (i, &(_, v)) in vms.iter().enumerate() {
        if i % 256 == 0 && budget.expired() {
            return None;
        }
        let a = pool.vms[v].host;
        // A VM that may restart nowhere (halted) gets no list.
        an.agility.targets.requirement(v)?;
        let group = an.group_of[v];
        let d = &pool.vms[v].demand;
        let mut list: Vec<HostId> = Vec::with_capacity(k);
        let mut val = vec![0i64; nres];
        // Each VM starts its first fit elsewhere: the loads spread.
        let start = a.wrapping_mul(7919).wrapping_add(i.wrapping_mul(104_729));
        while list.len() < k {
            let trig = trigger(k, a, &list);
            let must = hosts_of(&trig);
            let open = |t: HostId| {
                an.receives[t]
                    && t != a
                    && !list.contains(&t)
                    && (0..nres).all(|r| d[r].max(0) <= an.spare[t][r])
                    && (group == NO_GROUP || shares(k, &taken, group, t, &trig))
            };
            // First fit within condition 1. Failing that (with k small
            // enough for repairs, after a few hosts tried), the host the
            // VM overloads least among those that hold it with its
            // trigger's own load, for repairs to settle (module doc).
            let repaired = k <= MOST_REPAIRED_K;
            let mut found = None;
            let mut least: Option<((bool, f64), HostId)> = None;
            let mut tried = 0;
            for t in an.agility.targets.of_from(v, start) {
                if !open(t) {
                    continue;
                }
                if repaired {
                    if tried >= FIRST_FIT_TRIES && least.is_some() {
                        break;
                    }
                    tried += 1;
                    loads.within(t, must, &mut val);
                    if (0..nres).any(|r| val[r].saturating_add(d[r].max(0)) > an.spare[t][r]) {
                        continue;
                    }
                }
                let w = loads.worst(t, must);
                let over: f64 = (0..nres)
                    .map(|r| {
                        (w[r].saturating_add(d[r].max(0)) - an.spare[t][r]).max(0) as f64 / total[r]
                    })
                    .sum();
                if over <= 0.0 {
                    found = Some(t);
                    break;
                }
                // With k = 3, a host already overloaded is preferred: its
                // sets are repaired anyway, and the others stay clear.
                let rank = (k == 3 && !overloaded[t], over);
                if repaired && least.is_none_or(|(o, _)| rank < o) {
                    least = Some((rank, t));
                }
            }
            if let (None, Some((_, t))) = (found, least) {
                overloaded[t] = true;
            }
            let found = found.or(least.map(|b| b.1));
            let Some(t) = found else { break };
            loads.add(t, trig, d);
            if group != NO_GROUP {
                taken.entry((group, t)).or_default().push(trig);
            }
            list.push(t);
        }
        if list.len() + 1 == k && short.len() < MOST_SHORT {
            let mut set = list.clone();
            set.push(a);
            set.sort_unstable();
            short.insert(set);
        } else if list.len() < k {
            return None;
        }
        of.push((v, list));
    }
    Some(Lists { k, of })
}

/// Whether `lists` prove that `an`'s pool tolerates `lists.k` failures: the
/// conditions of the module doc, checked on the lists alone, with the
/// repairs that carry the sets that overload a host (k ≤ 3). `Some` holds
/// those repairs and the sets to decide (those of condition 3 and the
/// cores no repair places; sorted, distinct): the proof stands once each
/// is decided survivable on its own; `None` proves nothing (nor when the
/// budget runs out first).
pub(crate) fn proves(an: &Analysis, lists: &Lists, budget: &Budget) -> Option<Cover> {
    let k = lists.k;
    if k == 0 {
        return Some(Cover::default());
    }
    if !applies(an) {
        return None;
    }
    let pool = an.pool;
    let nres = pool.resources.len();
    // Every VM a failure restarts has a list, once.
    let mut listed = vec![false; pool.vms.len()];
    let mut short: Vec<Vec<HostId>> = Vec::new();
    for (v, hosts) in &lists.of {
        if *v >= pool.vms.len() || std::mem::replace(&mut listed[*v], true) {
            return None;
        }
        let own = pool.vms[*v].host;
        let mut seen: Vec<HostId> = hosts.clone();
        seen.sort_unstable();
        seen.dedup();
        if (hosts.len() != k && hosts.len() + 1 != k)
            || seen.len() != hosts.len()
            || hosts.iter().any(|&t| {
                t >= pool.hosts.len()
                    || t == own
                    || !an.receives[t]
                    || !an.agility.targets.contains(*v, t)
            })
        {
            return None;
        }
        if hosts.len() < k {
            seen.push(own);
            seen.sort_unstable();
            short.push(seen);
        }
    }
    if an
        .candidates
        .iter()
        .any(|&h| an.items[h].iter().any(|&v| !listed[v]))
    {
        return None;
    }
    // (2) No two entries of one group on one host clash.
    let mut taken: Sharing = Default::default();
    for (v, hosts) in &lists.of {
        let group = an.group_of[*v];
        if group == NO_GROUP {
            continue;
        }
        let a = pool.vms[*v].host;
        for (j, &t) in hosts.iter().enumerate() {
            let trig = trigger(k, a, &hosts[..j]);
            if !shares(k, &taken, group, t, &trig) {
                return None;
            }
            taken.entry((group, t)).or_default().push(trig);
        }
    }
    // (1) Per host t, the worst failure set within its spare.
    let mut loads = Loads::new(pool.hosts.len(), nres, k);
    let mut targets: Vec<HostId> = Vec::new();
    for (v, hosts) in &lists.of {
        let a = pool.vms[*v].host;
        for (j, &t) in hosts.iter().enumerate() {
            loads.add(t, trigger(k, a, &hosts[..j]), &pool.vms[*v].demand);
            targets.push(t);
        }
    }
    targets.sort_unstable();
    targets.dedup();
    // Per target, the most any set of at most k hosts puts on it.
    let mut calm: FastMap<HostId, Vec<i64>> = FastMap::default();
    let mut hot: Vec<HostId> = Vec::new();
    for t in targets {
        let w = loads.worst(t, &[]);
        if w.iter().zip(&an.spare[t]).any(|(&w, &s)| w > s) {
            hot.push(t);
        }
        calm.insert(t, w);
    }
    let mut cover = Cover {
        decide: short,
        repairs: Vec::new(),
        placed: Vec::new(),
    };
    if !hot.is_empty() {
        // (1') The failure sets that overload a host, repaired or left to
        // decide.
        if k > MOST_REPAIRED_K {
            return None;
        }
        Repairer::new(an, lists, &loads, hot, calm).cover(&mut cover, budget)?;
    }
    cover.decide.sort_unstable();
    cover.decide.dedup();
    (cover.decide.len() <= MOST_SHORT).then_some(cover)
}

/// A repair (module doc): every set of at most k up hosts that holds
/// `core` and none of the moves' hosts is survived by the lists' placement
/// with each moved VM on its move's host instead.
/// A repair's moves: `(vm, host)`, the VM restarts on the host, not where
/// its list sends it.
pub(crate) type Moves = Vec<(VmId, HostId)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Repair {
    /// Sorted.
    pub core: Vec<HostId>,
    /// `(vm, host)`: the VM restarts on the host, not where its list sends
    /// it.
    pub moves: Moves,
}

/// What restart lists leave besides the sets they carry (module doc): the
/// sets to decide exactly one by one, and the repairs that carry the
/// others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cover {
    /// Sorted, distinct.
    pub decide: Vec<Vec<HostId>>,
    pub repairs: Vec<Repair>,
    /// Sets of k hosts survived by a placement of their own
    /// ([`Repairer::settle`]), sorted, padded with `NOT`.
    pub placed: Vec<Trigger>,
}

/// Repairs are tried for k up to this (the worst set is exact there).
const MOST_REPAIRED_K: usize = 3;
/// Failure sets looked at as cores of repairs, at most (then the lists
/// prove nothing): about a minute of work on two cores and a few hundred
/// MB at most (ROADEF B4, 500 hosts, at k = 3 looks at 3.4 million).
const MOST_CORES: usize = 1 << 22;
/// Cores of k hosts that share k − 1 of them, at least this many, are
/// placed around those hosts' spread before any repair is tried.
const LEAST_SHARED: usize = 8;
/// Hosts an entry tries for a first fit within condition 1, when repairs
/// may settle an overload instead.
const FIRST_FIT_TRIES: usize = 256;

/// The sets M of at most `k` hosts, made of hosts with an entry on `w`,
/// whose own failure puts more than `spare` on `w` while no smaller set
/// on the way to M does: every set F of at most `k` hosts that overloads
/// `w` holds one, since `f_w(F)` depends only on the hosts of F with an
/// entry on `w`. `None` when `stop` says so (called once per set looked at).
///
/// Found depth first, the hosts in the order of the load they can put on
/// `w`, largest first: a branch (a set M and the hosts from position i on
/// still to add) is cut when no set M ∪ A, A a set of those hosts, can
/// overload `w`, by [`later_bound`], and a set when no set of at most `k`
/// hosts holding it can ([`Loads::worst_of`], exact).
fn first_cores(
    loads: &Loads,
    w: HostId,
    spare: &[i64],
    k: usize,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<Vec<HostId>>> {
    let nres = spare.len();
    let mut from: Vec<HostId> = loads.singles.get(&w).cloned().unwrap_or_default();
    for t in loads.multi.get(&w).into_iter().flatten() {
        from.extend(hosts_of(t));
    }
    from.sort_unstable();
    from.dedup();
    let later = Later::new(loads, w, spare, from);
    let from = &later.order;
    let over = |x: &[i64]| x.iter().zip(spare).any(|(&l, &s)| l > s);
    let mut out = Vec::new();
    let mut val = vec![0i64; nres];
    let mut fm = vec![0i64; nres];
    let mut stack: Vec<(Vec<HostId>, usize)> = vec![(Vec::new(), 0)];
    while let Some((m, i)) = stack.pop() {
        if i >= from.len() || m.len() >= k {
            continue;
        }
        loads.within(w, &m, &mut fm);
        if !over(&later_bound(loads, &later, w, &m, &fm, i, k)) {
            continue;
        }
        stack.push((m.clone(), i + 1));
        if stop() {
            return None;
        }
        let mut c = m;
        c.push(from[i]);
        c.sort_unstable();
        if !over(&loads.worst_of(w, &c, loads.k)) {
            continue;
        }
        loads.within(w, &c, &mut val);
        if over(&val) {
            out.push(c);
        } else if c.len() < k {
            stack.push((c, i + 1));
        }
    }
    Some(out)
}

/// What [`later_bound`] needs around one host w: the hosts with an entry on
/// w in the order of the search, and per position the largest loads the
/// hosts from there on can add.
struct Later {
    /// Largest `v` first (by its largest share of the spare).
    order: Vec<HostId>,
    /// Per host of `order`, its position there.
    pos: FastMap<HostId, usize>,
    /// Per host x, per resource, half (rounded up) of `C(x)`, the summed
    /// loads on w of the triggers of two or more hosts holding x.
    half: FastMap<HostId, Vec<i64>>,
    /// Per position i and resource r, the three largest
    /// `v(x)[r] = W_w({x})[r] + half(x)[r]` over the hosts x of `order`
    /// from i on, largest first (0 for none).
    top_v: Vec<[i64; 3]>,
    /// Per position i and resource r, the largest `W_w({x})[r]` over the
    /// hosts from i on.
    top_s: Vec<i64>,
}

impl Later {
    fn new(loads: &Loads, w: HostId, spare: &[i64], hosts: Vec<HostId>) -> Later {
        let nres = spare.len();
        let none = Vec::new();
        let mut half = FastMap::default();
        let mut single: FastMap<HostId, Vec<i64>> = FastMap::default();
        let mut v: FastMap<HostId, Vec<i64>> = FastMap::default();
        for &x in &hosts {
            let mut c = vec![0i64; nres];
            for &(_, o) in loads.touching.get(&(w, x)).unwrap_or(&none) {
                for (c, &l) in c.iter_mut().zip(&loads.vals[o..o + nres]) {
                    *c = c.saturating_add(l);
                }
            }
            let h: Vec<i64> = c.iter().map(|&c| c / 2 + c % 2).collect();
            let s = loads
                .get(w, &[x, NOT, NOT])
                .map_or_else(|| vec![0; nres], <[i64]>::to_vec);
            v.insert(
                x,
                s.iter()
                    .zip(&h)
                    .map(|(&s, &h)| s.saturating_add(h))
                    .collect(),
            );
            half.insert(x, h);
            single.insert(x, s);
        }
        let share = |x: &HostId| {
            v[x].iter()
                .zip(spare)
                .map(|(&l, &s)| l as f64 / s.max(1) as f64)
                .fold(0.0f64, f64::max)
        };
        let mut order = hosts;
        order.sort_by(|a, b| share(b).total_cmp(&share(a)).then(a.cmp(b)));
        let n = order.len();
        let mut top_v = vec![[0i64; 3]; (n + 1) * nres];
        let mut top_s = vec![0i64; (n + 1) * nres];
        for i in (0..n).rev() {
            let x = order[i];
            for r in 0..nres {
                let mut t = top_v[(i + 1) * nres + r];
                let mut l = v[&x][r];
                for e in t.iter_mut() {
                    if l > *e {
                        std::mem::swap(&mut l, e);
                    }
                }
                top_v[i * nres + r] = t;
                top_s[i * nres + r] = top_s[(i + 1) * nres + r].max(single[&x][r]);
            }
        }
        let pos = order.iter().enumerate().map(|(i, &x)| (x, i)).collect();
        Later {
            order,
            pos,
            half,
            top_v,
            top_s,
        }
    }
}

/// Per resource, at least `f_w(M ∪ A)` for every non-empty set A of at
/// most `k − |M|` hosts at positions `i` on of `later.order` (`m` sorted,
/// `fm` = `f_w(M)`).
///
/// `f_w(M ∪ A) − f_w(M)` sums the triggers within M ∪ A that meet A. Those
/// meeting A in one host x sum to `e(x) = f_w(M ∪ {x}) − f_w(M)`; the others
/// hold two hosts of A or more, so they are counted at least twice in
/// `Σ_{x ∈ A} C(x)`, at most `Σ_{x ∈ A} half(x)`. So the sum is at most
/// `Σ_{x ∈ A} (e(x) + half(x))` (every load is non-negative), and just
/// `e(x)` when A holds one host. A host x on no trigger with a host of M
/// has `e(x) = W_w({x})`: the largest of those from i on are kept per
/// position, and the hosts sharing a trigger with M are counted apart (a
/// host counted twice only raises the bound).
fn later_bound(
    loads: &Loads,
    later: &Later,
    w: HostId,
    m: &[HostId],
    fm: &[i64],
    i: usize,
    k: usize,
) -> Vec<i64> {
    let nres = fm.len();
    let room = k.saturating_sub(m.len()).min(3);
    if room == 0 {
        return fm.to_vec();
    }
    let none = Vec::new();
    let mut near: Vec<HostId> = m
        .iter()
        .flat_map(|&h| loads.touching.get(&(w, h)).unwrap_or(&none))
        .flat_map(|(t, _)| hosts_of(t).iter().copied())
        .filter(|x| !m.contains(x) && later.pos.get(x).is_some_and(|&p| p >= i))
        .collect();
    near.sort_unstable();
    near.dedup();
    // e(x) + (half(x) when A may hold more hosts) for the hosts near M.
    let mut val = vec![0i64; nres];
    let near: Vec<Vec<i64>> = near
        .iter()
        .map(|&x| {
            let mut f: Vec<HostId> = m.to_vec();
            f.push(x);
            f.sort_unstable();
            loads.within(w, &f, &mut val);
            (0..nres)
                .map(|r| {
                    let e = val[r].saturating_sub(fm[r]).max(0);
                    if room == 1 {
                        e
                    } else {
                        e.saturating_add(later.half[&x][r])
                    }
                })
                .collect()
        })
        .collect();
    (0..nres)
        .map(|r| {
            let mut vals: Vec<i64> = if room == 1 {
                vec![later.top_s[i * nres + r]]
            } else {
                later.top_v[i * nres + r][..room].to_vec()
            };
            vals.extend(near.iter().map(|e| e[r]));
            vals.sort_unstable_by(|a, b| b.cmp(a));
            vals.iter()
                .take(room)
                .fold(fm[r], |s, &l| s.saturating_add(l))
        })
        .collect()
}

/// Whether core `m` (sorted) holds a smaller core of `claimed` (a core
/// repaired, to its moves' hosts) and none of that one's moves' hosts:
/// every set holding `m` then holds the smaller core too, so it is claimed
/// by that core's repair or holds one of its moves' hosts, and with it a
/// core of its own (module doc, "Repairs").
fn within_claimed(claimed: &FastMap<Vec<HostId>, Vec<HostId>>, m: &[HostId]) -> bool {
    let n = m.len().min(MOST_REPAIRED_K);
    (1u32..(1 << n) - 1).any(|mask| {
        let sub: Vec<HostId> = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| m[i])
            .collect();
        claimed
            .get(&sub)
            .is_some_and(|to| to.iter().all(|u| !m.contains(u)))
    })
}

/// Per host a repair looks at, the most the lists put on it in the sets
/// the repair claims, and whether that is `worst(h, m)` itself (else
/// `calm`, when that is the smaller bound); kept in one buffer.
struct Counts {
    nres: usize,
    /// Per host, where its counts are in `vals`, and whether exact.
    of: FastMap<HostId, (usize, bool)>,
    vals: Vec<i64>,
}

impl Counts {
    fn new(nres: usize, hosts: usize) -> Counts {
        Counts {
            nres,
            of: FastMap::with_capacity_and_hasher(2 * hosts + 8, Default::default()),
            vals: Vec::with_capacity((hosts + 8) * nres),
        }
    }

    fn get(&self, h: HostId) -> Option<(&[i64], bool)> {
        self.of
            .get(&h)
            .map(|&(o, exact)| (&self.vals[o..o + self.nres], exact))
    }

    /// Sets h's counts (replacing any) to what `f` writes, and returns them.
    fn fill(&mut self, h: HostId, exact: bool, f: impl FnOnce(&mut [i64])) -> &[i64] {
        let o = self.vals.len();
        self.vals.resize(o + self.nres, 0);
        f(&mut self.vals[o..]);
        self.of.insert(h, (o, exact));
        &self.vals[o..]
    }
}

/// Finds the sets that overload a host and repairs them (module doc).
struct Repairer<'a, 'p> {
    an: &'a Analysis<'p>,
    loads: &'a Loads,
    /// At most this many hosts fail: k, or fewer when fewer are up.
    k: usize,
    /// The receiving hosts the worst set overloads.
    hot: Vec<HostId>,
    /// The VMs of the list entries per (host, trigger).
    vms_at: FastMap<(HostId, Trigger), Vec<VmId>>,
    /// Per (anti-affinity group, host), the VMs of the group listing it,
    /// with their entries' triggers.
    listed: FastMap<(u32, HostId), Vec<(VmId, Trigger)>>,
    /// Per VM, the sum over resources of its demand over the total spare.
    size: Vec<f64>,
    /// Per host h, the hot hosts with an entry whose trigger holds h.
    feeds: FastMap<HostId, Vec<HostId>>,
    /// Per target host, `worst(t, ∅)`: the most any set of at most k hosts
    /// puts on it, so at least the true most of the sets holding any core
    /// M (not always at least `worst(t, M)`, a looser bound for k = 3 and
    /// one host in M: the smaller of the two is used).
    calm: FastMap<HostId, Vec<i64>>,
    /// Per number j of hosts, the hot hosts some set of at most j hosts
    /// overloads (`worst` over sets of j hosts).
    over_by: Vec<Vec<HostId>>,
    /// Cores looked at so far.
    looked: AtomicUsize,
    /// Per VM, where its list is in the lists (`NOT`: none).
    list_at: Vec<usize>,
    lists: &'a Lists,
    /// Per host h, its VMs' first list entries by host, each group of
    /// them checked there ([`FirstOn`]).
    first_on: Vec<Vec<FirstOn>>,
    /// Per host, its VMs that [`FirstOn`] leaves out, placed one by one.
    loose: Vec<Vec<VmId>>,
    /// Per host, whether [`FirstOn`] holds all its VMs, each entry within
    /// its host's spare.
    fits_alone: Vec<bool>,
}

/// The VMs of one host whose first list entry is on host `to`, with their
/// summed demand: restart targets of theirs, receiving, no two of one
/// anti-affinity group.
struct FirstOn {
    to: HostId,
    load: Vec<i64>,
    vms: Vec<VmId>,
    /// The groups of those VMs that have one.
    groups: Vec<u32>,
}

/// A placement of the VMs of a core's hosts on the other receiving hosts
/// ([`Repairer::spread`]): each on a restart target of its own, within
/// the spare, no two of one anti-affinity group on one host.
struct Spread {
    /// `(vm, host)` for every VM of the core's hosts.
    to: Vec<(VmId, HostId)>,
    /// Per host, at `host * nres`, the demand placed there.
    load: Vec<i64>,
    /// `(group, host)` of the placed VMs with a group.
    groups: FastSet<(u32, HostId)>,
    /// Per host, whether a VM is placed there.
    touched: Vec<bool>,
}

type FastSet<K> = HashSet<K, std::hash::BuildHasherDefault<Mix>>;

/// What growing a core leaves ([`Repairer::grow`]): the sets that are
/// cores of the next round, and those a placement settles (sorted, padded
/// with `NOT`).
type Grown = (Vec<Vec<HostId>>, Vec<Trigger>);

impl<'a, 'p> Repairer<'a, 'p> {
    fn new(
        an: &'a Analysis<'p>,
        lists: &'a Lists,
        loads: &'a Loads,
        hot: Vec<HostId>,
        calm: FastMap<HostId, Vec<i64>>,
    ) -> Repairer<'a, 'p> {
        let pool = an.pool;
        let nres = pool.resources.len();
        let total: Vec<f64> = (0..nres)
            .map(|r| {
                (0..pool.hosts.len())
                    .filter(|&t| an.receives[t])
                    .map(|t| an.spare[t][r].max(0) as f64)
                    .sum::<f64>()
                    .max(1.0)
            })
            .collect();
        let mut vms_at: FastMap<(HostId, Trigger), Vec<VmId>> = FastMap::default();
        let mut listed: FastMap<(u32, HostId), Vec<(VmId, Trigger)>> = FastMap::default();
        let mut size = vec![0.0; pool.vms.len()];
        let mut list_at = vec![NOT; pool.vms.len()];
        let mut first_on: Vec<Vec<FirstOn>> = (0..pool.hosts.len()).map(|_| Vec::new()).collect();
        let mut loose: Vec<Vec<VmId>> = vec![Vec::new(); pool.hosts.len()];
        for (i, (v, hosts)) in lists.of.iter().enumerate() {
            let a = pool.vms[*v].host;
            let d = &pool.vms[*v].demand;
            size[*v] = (0..nres).map(|r| d[r].max(0) as f64 / total[r]).sum();
            list_at[*v] = i;
            let g = an.group_of[*v];
            let first = hosts
                .first()
                .copied()
                .filter(|&t| t != a && an.receives[t] && an.agility.targets.contains(*v, t));
            let on = first.map(|t| match first_on[a].iter().position(|f| f.to == t) {
                Some(i) => i,
                None => {
                    first_on[a].push(FirstOn {
                        to: t,
                        load: vec![0; nres],
                        vms: Vec::new(),
                        groups: Vec::new(),
                    });
                    first_on[a].len() - 1
                }
            });
            match on {
                Some(i) if g == NO_GROUP || !first_on[a][i].groups.contains(&g) => {
                    let f = &mut first_on[a][i];
                    for (l, &x) in f.load.iter_mut().zip(d) {
                        *l = l.saturating_add(x.max(0));
                    }
                    f.vms.push(*v);
                    if g != NO_GROUP {
                        f.groups.push(g);
                    }
                }
                _ => loose[a].push(*v),
            }
            for (j, &t) in hosts.iter().enumerate() {
                let trig = trigger(lists.k, a, &hosts[..j]);
                vms_at.entry((t, trig)).or_default().push(*v);
                if an.group_of[*v] != NO_GROUP {
                    listed
                        .entry((an.group_of[*v], t))
                        .or_default()
                        .push((*v, trig));
                }
            }
        }
        let fits_alone = first_on
            .iter()
            .zip(&loose)
            .map(|(on, loose)| {
                loose.is_empty()
                    && on
                        .iter()
                        .all(|f| f.load.iter().zip(&an.spare[f.to]).all(|(&l, &s)| l <= s))
            })
            .collect();
        let is_hot: HashSet<HostId> = hot.iter().copied().collect();
        let mut feeds: FastMap<HostId, Vec<HostId>> = FastMap::default();
        for &(t, trig) in vms_at.keys() {
            if is_hot.contains(&t) {
                for &h in hosts_of(&trig) {
                    feeds.entry(h).or_default().push(t);
                }
            }
        }
        for f in feeds.values_mut() {
            f.sort_unstable();
            f.dedup();
        }
        let over_by = (0..=lists.k)
            .map(|j| {
                hot.iter()
                    .copied()
                    .filter(|&w| {
                        loads
                            .worst_of(w, &[], j)
                            .iter()
                            .zip(&an.spare[w])
                            .any(|(&l, &s)| l > s)
                    })
                    .collect()
            })
            .collect();
        Repairer {
            an,
            loads,
            k: lists.k.min(an.candidates.len()),
            hot,
            vms_at,
            listed,
            size,
            feeds,
            calm,
            over_by,
            looked: AtomicUsize::new(0),
            list_at,
            lists,
            first_on,
            loose,
            fits_alone,
        }
    }

    /// Adds to `cover` what carries every set of `k` hosts that overloads
    /// a host: repairs, and the sets no repair places, to decide; `None`
    /// when these grow too many or the budget runs out.
    fn cover(&self, cover: &mut Cover, budget: &Budget) -> Option<()> {
        // Every set that overloads a host holds one of these cores.
        let found: Vec<Option<Vec<Vec<HostId>>>> = self
            .hot
            .par_iter()
            .map(|&w| self.cores_of(w, budget))
            .collect();
        let mut queue: Vec<Vec<HostId>> = Vec::new();
        for f in found {
            queue.extend(f?);
        }
        let mut seen: HashSet<Vec<HostId>> = HashSet::new();
        // Per core of fewer than k hosts repaired (or carried by the lists
        // alone), its moves' hosts: the repair claims every set holding
        // the core and none of them, so a larger core holding it and none
        // of its moves' hosts is settled with it ([`within_claimed`]).
        let mut claimed: FastMap<Vec<HostId>, Vec<HostId>> = FastMap::default();
        // In rounds, the smallest cores first (so that those they settle
        // are not repaired again): the cores of a round repaired in
        // parallel, the sets their repairs leave to the next rounds.
        while !queue.is_empty() {
            queue.sort_unstable();
            queue.dedup();
            queue.retain(|m| !seen.contains(m));
            let size = queue.iter().map(Vec::len).min().unwrap_or(0);
            let (now, larger): (Vec<_>, Vec<_>) = queue.into_iter().partition(|m| m.len() == size);
            queue = now;
            queue.retain(|m| {
                let settled = within_claimed(&claimed, m);
                if settled {
                    seen.insert(m.clone());
                }
                !settled
            });
            let looked = self.looked.fetch_add(queue.len(), Relaxed) + queue.len();
            if looked > MOST_CORES || budget.expired() {
                return None;
            }
            if size == self.k && size >= 2 {
                let placed = self.place_cores(&queue, budget)?;
                if !placed.is_empty() {
                    queue.retain(|m| {
                        let mut t = [NOT; 3];
                        t[..m.len()].copy_from_slice(m);
                        placed.binary_search(&t).is_err()
                    });
                    cover.placed.extend(placed);
                }
            }
            let done: Vec<Option<Result<Moves, ()>>> = queue
                .par_iter()
                .map(|m| (!budget.expired()).then(|| self.repair(m)))
                .collect();
            let mut next = larger;
            // Cores of k − 1 hosts no repair places, grown below.
            let mut failed: Vec<Vec<HostId>> = Vec::new();
            for (m, r) in queue.drain(..).zip(done) {
                let grown = |y: HostId| {
                    let mut c = m.clone();
                    c.push(y);
                    c.sort_unstable();
                    c
                };
                match r? {
                    Ok(moves) if moves.is_empty() => {
                        if m.len() < self.k {
                            claimed.insert(m.clone(), Vec::new());
                        }
                    }
                    Ok(moves) => {
                        if m.len() < self.k {
                            let mut to: Vec<HostId> = moves.iter().map(|&(_, u)| u).collect();
                            to.sort_unstable();
                            to.dedup();
                            next.extend(to.iter().map(|&u| grown(u)));
                            claimed.insert(m.clone(), to);
                        }
                        cover.repairs.push(Repair {
                            core: m.clone(),
                            moves,
                        });
                    }
                    Err(()) if m.len() >= self.k => {
                        cover.decide.push(m.clone());
                        if cover.decide.len() > MOST_SHORT {
                            return None;
                        }
                    }
                    Err(()) if m.len() + 1 == self.k => failed.push(m.clone()),
                    Err(()) => next.extend(
                        self.an
                            .candidates
                            .iter()
                            .filter(|y| !m.contains(y))
                            .map(|&y| grown(y)),
                    ),
                }
                seen.insert(m);
            }
            // Each grown by every other up host: the sets of k hosts a
            // placement of their own settles are survived (module doc,
            // "Placements"), the others are cores of the next round.
            let grown: Vec<Option<Grown>> = failed
                .par_iter()
                .map(|m| self.grow(m, &claimed, budget))
                .collect();
            for g in grown {
                let (more, placed) = g?;
                next.extend(more);
                cover.placed.extend(placed);
            }
            queue = next;
        }
        cover.placed.sort_unstable();
        cover.placed.dedup();
        Some(())
    }

    /// The sets `m ∪ {y}` (`m` a core of k − 1 hosts no repair places, y
    /// any other up host) left as cores, and those a placement of their
    /// own settles ([`Repairer::settle`]); a set that holds a claimed
    /// core and none of its moves' hosts is left as a core, settled with
    /// the others ([`within_claimed`]). `None` when the budget runs out.
    fn grow(
        &self,
        m: &[HostId],
        claimed: &FastMap<Vec<HostId>, Vec<HostId>>,
        budget: &Budget,
    ) -> Option<Grown> {
        let mut more = Vec::new();
        let mut placed = Vec::new();
        let ys: Vec<HostId> = self
            .an
            .candidates
            .iter()
            .copied()
            .filter(|y| !m.contains(y))
            .collect();
        self.grow_with(
            m,
            &ys,
            Some(claimed),
            true,
            budget,
            |c, placement| match placement {
                Some(_) => {
                    let mut t = [NOT; 3];
                    t[..c.len()].copy_from_slice(c);
                    placed.push(t);
                }
                None => more.push(c.to_vec()),
            },
        )?;
        Some((more, placed))
    }

    /// Whether y's VMs all restart on their first list hosts beside
    /// `spread` (of `m`'s VMs) when `m` and y fail: the spread put no VM on
    /// y, [`FirstOn`] holds all of y's VMs, within their hosts' spare
    /// alone (`fits_alone`), and none of its hosts is in `m` or, where the
    /// spread placed VMs, is filled beyond its spare or holds a VM of one
    /// of their groups.
    fn fits_first(&self, m: &[HostId], spread: &Spread, y: HostId) -> bool {
        let an = self.an;
        let nres = an.pool.resources.len();
        !spread.touched[y]
            && self.fits_alone[y]
            && self.first_on[y].iter().all(|f| {
                let t = f.to;
                !m.contains(&t)
                    && (!spread.touched[t]
                        || ((0..nres).all(|r| {
                            spread.load[t * nres + r].saturating_add(f.load[r]) <= an.spare[t][r]
                        }) && f.groups.iter().all(|&g| !spread.groups.contains(&(g, t)))))
            })
    }

    /// The cores of k hosts of `cores` that a placement of their own
    /// settles, sorted, padded with `NOT`: the cores grouped by a set of
    /// k − 1 of their hosts (the one most cores share), each group of at
    /// least [`LEAST_SHARED`] placed around that set's spread
    /// ([`Repairer::grow_with`]). `None` when the budget runs out.
    fn place_cores(&self, cores: &[Vec<HostId>], budget: &Budget) -> Option<Vec<Trigger>> {
        let key = |m: &[HostId], skip: usize| {
            let mut t = [NOT; 2];
            for (j, &h) in m.iter().enumerate().filter(|e| e.0 != skip).take(2) {
                t[j - usize::from(j > skip)] = h;
            }
            t
        };
        let mut count: FastMap<[HostId; 2], usize> = FastMap::default();
        for m in cores.iter().filter(|m| m.len() <= 3) {
            for skip in 0..m.len() {
                *count.entry(key(m, skip)).or_default() += 1;
            }
        }
        let mut groups: FastMap<[HostId; 2], Vec<HostId>> = FastMap::default();
        for m in cores.iter().filter(|m| m.len() <= 3) {
            let skip = (0..m.len())
                .max_by_key(|&j| (count[&key(m, j)], std::cmp::Reverse(key(m, j))))
                .unwrap_or(0);
            groups.entry(key(m, skip)).or_default().push(m[skip]);
        }
        let groups: Vec<([HostId; 2], Vec<HostId>)> = groups
            .into_iter()
            .filter(|g| g.1.len() >= LEAST_SHARED)
            .collect();
        let placed: Vec<Option<Vec<Trigger>>> = groups
            .par_iter()
            .map(|(sub, ys)| {
                let sub: Vec<HostId> = sub.iter().copied().filter(|&h| h != NOT).collect();
                let mut placed = Vec::new();
                self.grow_with(&sub, ys, None, false, budget, |c, p| {
                    if p.is_some() {
                        let mut t = [NOT; 3];
                        t[..c.len()].copy_from_slice(c);
                        placed.push(t);
                    }
                })?;
                Some(placed)
            })
            .collect();
        let mut out = Vec::new();
        for p in placed {
            out.extend(p?);
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// [`Repairer::grow`] over the hosts y of `ys`, each set `m ∪ {y}`
    /// (sorted) given to `each` with the moves of the placement that
    /// settles it ([`Repairer::settle`]; only those that need no move
    /// unless `full`), or none; a set is checked against `claimed` (when
    /// given) before it is placed with moves. A host y that
    /// [`Repairer::fits_first`] needs no move: [`Repairer::settle`]'s
    /// placement with nothing left to place one by one, checked on the
    /// hosts the spread fills alone.
    fn grow_with(
        &self,
        m: &[HostId],
        ys: &[HostId],
        claimed: Option<&FastMap<Vec<HostId>, Vec<HostId>>>,
        full: bool,
        budget: &Budget,
        mut each: impl FnMut(&[HostId], Option<Moves>),
    ) -> Option<()> {
        let spread = self.spread(m);
        let mut c = Vec::with_capacity(m.len() + 1);
        for (i, &y) in ys.iter().enumerate() {
            if m.contains(&y) {
                continue;
            }
            if i % 64 == 0 && budget.expired() {
                return None;
            }
            c.clear();
            c.extend_from_slice(m);
            c.push(y);
            c.sort_unstable();
            let Some(sp) = &spread else {
                each(&c, None);
                continue;
            };
            if self.fits_first(m, sp, y) {
                each(&c, Some(Vec::new()));
            } else if !full || claimed.is_some_and(|cl| within_claimed(cl, &c)) {
                each(&c, None);
            } else {
                each(&c, self.settle(m, sp, y));
            }
        }
        Some(())
    }

    /// The VMs of `vms` (sorted, largest first) placed one by one on
    /// receiving hosts outside `failed`: each on its list's hosts first,
    /// then on its other restart targets from a start of its own, where no
    /// VM of its group is (in `groups`, `fresh` or placed before) and
    /// `load` (per host at `host * nres`), `extra` and what went there
    /// before leave room for it, with `reserve(t, r)` more when given.
    /// `None` when some VM finds no host.
    #[allow(clippy::too_many_arguments)]
    fn first_fit(
        &self,
        vms: &[VmId],
        failed: &[HostId],
        load: &[i64],
        groups: &FastSet<(u32, HostId)>,
        extra: &mut FastMap<HostId, Vec<i64>>,
        fresh: &mut Vec<(u32, HostId)>,
        reserve: Option<&dyn Fn(HostId, usize) -> i64>,
    ) -> Option<Moves> {
        let an = self.an;
        let pool = an.pool;
        let nres = pool.resources.len();
        let targets = &an.agility.targets;
        let mut out = Vec::with_capacity(vms.len());
        for &v in vms {
            let d = &pool.vms[v].demand;
            let g = an.group_of[v];
            let fits = |t: HostId, extra: &FastMap<HostId, Vec<i64>>, fresh: &[(u32, HostId)]| {
                !failed.contains(&t)
                    && an.receives[t]
                    && targets.contains(v, t)
                    && (g == NO_GROUP || (!groups.contains(&(g, t)) && !fresh.contains(&(g, t))))
                    && (0..nres).all(|r| {
                        let e = extra.get(&t).map_or(0, |e| e[r]);
                        load[t * nres + r]
                            .saturating_add(e)
                            .saturating_add(d[r].max(0))
                            .saturating_add(reserve.map_or(0, |f| f(t, r)))
                            <= an.spare[t][r]
                    })
            };
            let listed: &[HostId] = match self.list_at[v] {
                NOT => &[],
                i => &self.lists.of[i].1,
            };
            let passing = targets.passing(targets.requirement(v)?);
            let len = passing.len();
            let start = v.wrapping_mul(7919) % len.max(1);
            let t = listed
                .iter()
                .copied()
                .chain((0..len).map(|j| passing[(start + j) % len]))
                .find(|&t| fits(t, extra, fresh))?;
            let e = extra.entry(t).or_insert_with(|| vec![0; nres]);
            for (e, &x) in e.iter_mut().zip(d) {
                *e = e.saturating_add(x.max(0));
            }
            if g != NO_GROUP {
                fresh.push((g, t));
            }
            out.push((v, t));
        }
        Some(out)
    }

    /// A placement of the VMs of `m`'s hosts on the other hosts, first fit,
    /// largest first, keeping room on each host for its largest load from
    /// one host's first list entries where it can (so that the VMs of one
    /// more failed host find their first list hosts): `None` when first
    /// fit places them nowhere.
    fn spread(&self, m: &[HostId]) -> Option<Spread> {
        let an = self.an;
        let nres = an.pool.resources.len();
        let mut vms: Vec<VmId> = m
            .iter()
            .flat_map(|&h| an.items[h].iter().copied())
            .collect();
        vms.sort_by(|x, y| self.size[*y].total_cmp(&self.size[*x]).then(x.cmp(y)));
        let load = vec![0i64; an.pool.hosts.len() * nres];
        let groups = FastSet::default();
        let reserve = |t: HostId, r: usize| {
            self.loads
                .tops(t, r)
                .first()
                .filter(|e| e.0 != NOT)
                .map_or(0, |e| e.1)
        };
        let mut to: Moves = Vec::with_capacity(vms.len());
        let mut extra: FastMap<HostId, Vec<i64>> = FastMap::default();
        let mut fresh = Vec::new();
        for &v in &vms {
            let one = [v];
            let r = self
                .first_fit(
                    &one,
                    m,
                    &load,
                    &groups,
                    &mut extra,
                    &mut fresh,
                    Some(&reserve),
                )
                .or_else(|| {
                    self.first_fit(&one, m, &load, &groups, &mut extra, &mut fresh, None)
                })?;
            to.extend(r);
        }
        let mut load = load;
        let mut touched = vec![false; an.pool.hosts.len()];
        for (t, e) in extra {
            load[t * nres..(t + 1) * nres].copy_from_slice(&e);
            touched[t] = true;
        }
        Some(Spread {
            to,
            load,
            groups: fresh.into_iter().collect(),
            touched,
        })
    }

    /// Whether the failure of `m ∪ {y}` (`m` the hosts `spread` places, y
    /// another up host) is survived with `m`'s VMs where `spread` puts
    /// them, y's VMs on their first list hosts, and the VMs these leave
    /// out (those `spread` put on y, y's VMs whose first list host failed
    /// or that [`FirstOn`] leaves out) placed one by one around them
    /// ([`Repairer::first_fit`]): the VMs so placed, or `None`. Every host
    /// is checked within its spare, every VM on a receiving restart target
    /// of its own that did not fail, no two of one group on one host.
    fn settle(&self, m: &[HostId], spread: &Spread, y: HostId) -> Option<Moves> {
        let an = self.an;
        let nres = an.pool.resources.len();
        let mut failed = m.to_vec();
        failed.push(y);
        let mut rest: Vec<VmId> = self.loose[y].clone();
        // The hosts y's VMs take by their first list entries, where
        // `spread` leaves them room; the others' VMs go one by one.
        let mut kept: Vec<&FirstOn> = Vec::with_capacity(self.first_on[y].len());
        for f in &self.first_on[y] {
            let t = f.to;
            let fits = !failed.contains(&t)
                && (0..nres)
                    .all(|r| spread.load[t * nres + r].saturating_add(f.load[r]) <= an.spare[t][r])
                && f.groups.iter().all(|&g| !spread.groups.contains(&(g, t)));
            if fits {
                kept.push(f);
            } else {
                rest.extend(&f.vms);
            }
        }
        rest.extend(spread.to.iter().filter(|e| e.1 == y).map(|e| e.0));
        if rest.is_empty() {
            return Some(Vec::new());
        }
        let mut extra: FastMap<HostId, Vec<i64>> = FastMap::default();
        let mut fresh: Vec<(u32, HostId)> = Vec::new();
        for f in kept {
            extra.insert(f.to, f.load.clone());
            fresh.extend(f.groups.iter().map(|&g| (g, f.to)));
        }
        rest.sort_by(|x, y| self.size[*y].total_cmp(&self.size[*x]).then(x.cmp(y)));
        self.first_fit(
            &rest,
            &failed,
            &spread.load,
            &spread.groups,
            &mut extra,
            &mut fresh,
            None,
        )
    }

    /// The first cores around hot host `w` ([`first_cores`]).
    fn cores_of(&self, w: HostId, budget: &Budget) -> Option<Vec<Vec<HostId>>> {
        first_cores(self.loads, w, &self.an.spare[w], self.k, &|| {
            let looked = self.looked.fetch_add(1, Relaxed);
            looked > MOST_CORES || (looked % 64 == 0 && budget.expired())
        })
    }

    /// Moves that repair every set of at most k hosts holding `m` (sorted,
    /// k hosts at most) and none of the moves' hosts: none when the lists
    /// alone carry them; `Err` when no repair is found.
    ///
    /// A host w outside `m` takes at most `worst(w, m)` from the lists in
    /// such a set. A VM whose entry on w has its trigger within `m` lands on
    /// w in every such set without w; moved to a host u outside `m`, it
    /// leaves w and adds its demand to u, which takes at most `worst(u, m)`
    /// besides. The moves keep every host within its spare by these counts.
    fn repair(&self, m: &[HostId]) -> Result<Moves, ()> {
        let an = self.an;
        let pool = an.pool;
        let nres = pool.resources.len();
        // A hot host no host of `m` feeds takes at most what a set of the
        // other k − |m| hosts puts on it: when that is too much, no move of
        // `m`'s VMs helps.
        let mut fed: Vec<HostId> = m
            .iter()
            .flat_map(|h| self.feeds.get(h).into_iter().flatten().copied())
            .collect();
        fed.sort_unstable();
        fed.dedup();
        if self.over_by[self.loads.k - m.len()]
            .iter()
            .any(|w| !m.contains(w) && fed.binary_search(w).is_err())
        {
            return Err(());
        }
        let mut base = Counts::new(nres, fed.len());
        let mut over: Vec<HostId> = Vec::new();
        for w in fed {
            if m.contains(&w) {
                continue;
            }
            let worst = if m.len() >= self.loads.k {
                // No room for more hosts: `worst(w, m)` is m's own load.
                base.fill(w, true, |out| self.loads.within(w, m, out))
            } else {
                let worst = self.loads.worst(w, m);
                base.fill(w, true, |out| out.copy_from_slice(&worst))
            };
            if worst.iter().zip(&an.spare[w]).any(|(&l, &s)| l > s) {
                over.push(w);
            }
        }
        if over.is_empty() {
            return Ok(Vec::new());
        }
        // The demand each host gains (moved in) less what it loses.
        let mut shift: FastMap<HostId, Vec<i64>> = FastMap::default();
        let mut moves: Moves = Vec::new();
        for &w in &over {
            let mut cands: Vec<VmId> = Vec::new();
            for mask in 1u32..(1 << m.len()) {
                if mask.count_ones() > 3 {
                    continue;
                }
                let mut trig = [NOT; 3];
                let mut n = 0;
                for (i, &h) in m.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        trig[n] = h;
                        n += 1;
                    }
                }
                if let Some(vs) = self.vms_at.get(&(w, trig)) {
                    cands.extend(vs);
                }
            }
            cands.sort_by(|x, y| self.size[*y].total_cmp(&self.size[*x]).then(x.cmp(y)));
            for v in cands {
                let need = |base: &Counts, shift: &FastMap<HostId, Vec<i64>>, r: usize| {
                    base.get(w).map_or(0, |c| c.0[r]) + shift.get(&w).map_or(0, |s| s[r])
                        - an.spare[w][r]
                };
                if (0..nres).all(|r| need(&base, &shift, r) <= 0) {
                    break;
                }
                let d = &pool.vms[v].demand;
                if !(0..nres).any(|r| need(&base, &shift, r) > 0 && d[r] > 0) {
                    continue;
                }
                if let Some(u) = self.place(v, m, &over, &mut base, &shift, &moves) {
                    for (h, sign) in [(w, -1), (u, 1)] {
                        let s = shift.entry(h).or_insert_with(|| vec![0; nres]);
                        for r in 0..nres {
                            s[r] += sign * d[r].max(0);
                        }
                    }
                    moves.push((v, u));
                }
            }
        }
        let fits = base.of.iter().all(|(&h, &(o, _))| {
            let s = shift.get(&h);
            (0..nres).all(|r| base.vals[o + r] + s.map_or(0, |s| s[r]) <= an.spare[h][r])
        });
        if fits { Ok(moves) } else { Err(()) }
    }

    /// Whether a VM of group `g` other than `v` may land on `u` by its list
    /// in a set of at most k hosts holding `m`: one of its entries there has
    /// a trigger that, with `m`, holds at most k hosts (it lands only in
    /// the sets that hold its trigger).
    fn lands(&self, g: u32, u: HostId, v: VmId, m: &[HostId]) -> bool {
        self.listed.get(&(g, u)).is_some_and(|xs| {
            xs.iter()
                .any(|(x, trig)| *x != v && union_len(m, hosts_of(trig)) <= self.loads.k)
        })
    }

    /// A host outside `m` and `over` that takes VM `v` (restart target,
    /// receiving, no other VM of its group landing there by its list in
    /// the sets the repair claims, [`Repairer::lands`], or moved there) within
    /// its spare: `worst(u, m)` (kept in `base`) and `shift` besides.
    fn place(
        &self,
        v: VmId,
        m: &[HostId],
        over: &[HostId],
        base: &mut Counts,
        shift: &FastMap<HostId, Vec<i64>>,
        moves: &[(VmId, HostId)],
    ) -> Option<HostId> {
        let an = self.an;
        let targets = &an.agility.targets;
        let d = &an.pool.vms[v].demand;
        let g = an.group_of[v];
        for &u in targets.passing(targets.requirement(v)?) {
            if m.contains(&u)
                || over.contains(&u)
                || !an.receives[u]
                || !targets.contains(v, u)
                || (g != NO_GROUP
                    && (self.lands(g, u, v, m)
                        || moves.iter().any(|&(x, h)| h == u && an.group_of[x] == g)))
            {
                continue;
            }
            let s = shift.get(&u);
            // Within u's spare with `worst` (none: nothing) from the lists.
            let fits = |worst: Option<&[i64]>| {
                (0..d.len()).all(|r| {
                    worst
                        .map_or(0, |w| w[r])
                        .saturating_add(s.map_or(0, |s| s[r]))
                        .saturating_add(d[r].max(0))
                        <= an.spare[u][r]
                })
            };
            // `worst(u, ∅)` first (a host no entry lists takes nothing),
            // `worst(u, m)` only when that is too much; kept in `base` for
            // the host taken, and once found.
            match base.get(u).map(|(w, exact)| (fits(Some(w)), exact)) {
                Some((true, _)) => return Some(u),
                Some((false, true)) => continue,
                Some((false, false)) => {}
                None => {
                    let calm = self.calm.get(&u);
                    if fits(calm.map(Vec::as_slice)) {
                        match calm {
                            Some(c) => base.fill(u, false, |out| out.copy_from_slice(c)),
                            None => base.fill(u, true, |out| out.fill(0)),
                        };
                        return Some(u);
                    }
                }
            }
            let mut worst = self.loads.worst(u, m);
            for (w, &c) in worst
                .iter_mut()
                .zip(self.calm.get(&u).into_iter().flatten())
            {
                *w = (*w).min(c);
            }
            let taken = fits(Some(&worst));
            base.fill(u, true, |out| out.copy_from_slice(&worst));
            if taken {
                return Some(u);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{Decision, decide};
    use crate::testpools::pool_text;
    use proptest::prelude::*;
    use std::ops::Range;

    /// Whether the failure of `set` is survived, decided exactly.
    fn survives(an: &Analysis, set: &[HostId]) -> bool {
        let sc = an.scenario(&an.mask(set));
        match decide(&sc.instance, &Budget::default()).0 {
            Decision::Feasible(_) => true,
            Decision::Infeasible(_) => false,
            Decision::Undecided => panic!("no budget, no undecided"),
        }
    }

    /// Whether restart lists, the sets they leave decided exactly, prove k.
    fn composes(an: &Analysis, k: usize) -> bool {
        tolerates(an, k, &Budget::default(), |s| survives(an, s))
    }

    /// Whether every set of exactly `k` up hosts is survived, each decided
    /// exactly on its own.
    fn brute(an: &Analysis, k: usize) -> bool {
        let hosts = &an.candidates;
        let mut set: Vec<HostId> = Vec::new();
        fn go(
            an: &Analysis,
            hosts: &[HostId],
            from: usize,
            k: usize,
            set: &mut Vec<HostId>,
        ) -> bool {
            if set.len() == k {
                return survives(an, set);
            }
            (from..hosts.len()).all(|i| {
                set.push(hosts[i]);
                let ok = go(an, hosts, i + 1, k, set);
                set.pop();
                ok
            })
        }
        k > hosts.len() || go(an, hosts, 0, k, &mut set)
    }

    /// Whether the lists alone carry the failure of `set`: every VM of its
    /// hosts has a list host outside it, the VMs each first such host
    /// takes fit its spare, and no two of them share an anti-affinity group.
    fn carried(an: &Analysis, lists: &Lists, set: &[HostId]) -> bool {
        let pool = an.pool;
        let nres = pool.resources.len();
        let mut load: Vec<Option<Vec<i64>>> = vec![None; pool.hosts.len()];
        let mut groups: HashSet<(u32, HostId)> = HashSet::new();
        for (v, hosts) in &lists.of {
            if !set.contains(&pool.vms[*v].host) {
                continue;
            }
            let Some(&t) = hosts.iter().find(|t| !set.contains(t)) else {
                return false;
            };
            if an.group_of[*v] != NO_GROUP && !groups.insert((an.group_of[*v], t)) {
                return false;
            }
            let l = load[t].get_or_insert_with(|| vec![0; nres]);
            for r in 0..nres {
                l[r] += pool.vms[*v].demand[r].max(0);
            }
        }
        load.iter().enumerate().all(|(t, l)| {
            l.as_ref()
                .is_none_or(|l| (0..nres).all(|r| l[r] <= an.spare[t][r]))
        })
    }

    /// Whether the failure of `set` is survived with each VM of its hosts
    /// where `moves` puts it, or else on its first list host up: every VM
    /// placed on a receiving restart target outside `set`, no two of one
    /// anti-affinity group on one host, every host within its spare.
    fn placed(an: &Analysis, lists: &Lists, moves: &[(VmId, HostId)], set: &[HostId]) -> bool {
        let list: HashMap<VmId, &Vec<HostId>> = lists.of.iter().map(|(v, l)| (*v, l)).collect();
        let mut to = Vec::new();
        for &h in set {
            for &v in &an.items[h] {
                let t = moves
                    .iter()
                    .find(|m| m.0 == v)
                    .map(|m| m.1)
                    .or_else(|| list.get(&v)?.iter().copied().find(|t| !set.contains(t)));
                let Some(t) = t else { return false };
                to.push((v, t));
            }
        }
        assignment_holds(an, set, &to)
    }

    /// Whether `cover`'s repairs hold: each places every set of at most k
    /// hosts it claims (holding its core, none of its moves' hosts), and
    /// every set of exactly `k` hosts (all when fewer are up) is decided,
    /// carried by the lists, or claimed by a repair.
    fn repairs_hold(an: &Analysis, lists: &Lists, cover: &Cover) -> Result<(), String> {
        let k = lists.k;
        let n = an.candidates.len();
        for set in sets_upto(&an.candidates, k) {
            if cover.decide.contains(&set) {
                continue;
            }
            let claims: Vec<&Repair> = cover
                .repairs
                .iter()
                .filter(|r| {
                    r.core.iter().all(|h| set.contains(h))
                        && r.moves.iter().all(|(_, u)| !set.contains(u))
                })
                .collect();
            for r in &claims {
                if !placed(an, lists, &r.moves, &set) {
                    return Err(format!(
                        "repair {r:?} claims {set:?}, which it does not place: lists {:?} spare {:?}",
                        lists.of, an.spare
                    ));
                }
            }
            let placed = cover.placed.iter().any(|p| hosts_of(p) == set.as_slice());
            if placed && !survives(an, &set) {
                return Err(format!("{set:?} placed, but it fails"));
            }
            if set.len() == k.min(n)
                && claims.is_empty()
                && !placed
                && !cover.decide.contains(&set)
                && !carried(an, lists, &set)
            {
                return Err(format!(
                    "{set:?} neither carried, repaired nor left to decide"
                ));
            }
        }
        Ok(())
    }

    /// Whether `to` places every VM of `set`'s hosts exactly once, each on
    /// a receiving restart target of its own outside `set`, no two of one
    /// anti-affinity group on one host, every host within its spare.
    fn assignment_holds(an: &Analysis, set: &[HostId], to: &[(VmId, HostId)]) -> bool {
        let pool = an.pool;
        let nres = pool.resources.len();
        let mut vms: Vec<VmId> = set.iter().flat_map(|&h| an.items[h].clone()).collect();
        vms.sort_unstable();
        let mut placed: Vec<VmId> = to.iter().map(|e| e.0).collect();
        placed.sort_unstable();
        if vms != placed {
            return false;
        }
        let mut load: HashMap<HostId, Vec<i64>> = HashMap::new();
        let mut groups: HashSet<(u32, HostId)> = HashSet::new();
        for &(v, t) in to {
            if set.contains(&t) || !an.receives[t] || !an.agility.targets.contains(v, t) {
                return false;
            }
            if an.group_of[v] != NO_GROUP && !groups.insert((an.group_of[v], t)) {
                return false;
            }
            let l = load.entry(t).or_insert_with(|| vec![0; nres]);
            for r in 0..nres {
                l[r] += pool.vms[v].demand[r].max(0);
            }
        }
        load.iter()
            .all(|(&t, l)| (0..nres).all(|r| l[r] <= an.spare[t][r]))
    }

    /// A repairer for `lists` with no hot host, for its placements.
    fn placer<'a, 'p>(
        an: &'a Analysis<'p>,
        lists: &'a Lists,
        loads: &'a Loads,
    ) -> Repairer<'a, 'p> {
        Repairer::new(an, lists, loads, Vec::new(), FastMap::default())
    }

    /// The loads of `lists`, as [`proves`] counts them.
    fn loads_of(an: &Analysis, lists: &Lists) -> Loads {
        let pool = an.pool;
        let mut loads = Loads::new(pool.hosts.len(), pool.resources.len(), lists.k);
        for (v, hosts) in &lists.of {
            let a = pool.vms[*v].host;
            for (j, &t) in hosts.iter().enumerate() {
                loads.add(t, trigger(lists.k, a, &hosts[..j]), &pool.vms[*v].demand);
            }
        }
        loads
    }

    /// The sets the lists leave to decide one by one (`None`: they prove
    /// nothing).
    fn left(an: &Analysis, lists: &Lists) -> Option<Vec<Vec<HostId>>> {
        proves(an, lists, &Budget::default()).map(|c| c.decide)
    }

    /// Loads of two resources on `n` hosts from random entries (target,
    /// trigger hosts, amounts), each trigger cut to at most `k` (and 3)
    /// hosts other than its target; entries left with no trigger dropped.
    fn random_loads(n: usize, k: usize, entries: Vec<(usize, Vec<usize>, i64, i64)>) -> Loads {
        random_loads_with(n, k, entries, true)
    }

    /// [`random_loads`], with [`Loads`]' tables per pair of hosts or not.
    fn random_loads_with(
        n: usize,
        k: usize,
        entries: Vec<(usize, Vec<usize>, i64, i64)>,
        tables: bool,
    ) -> Loads {
        let mut loads = Loads::with_tables(n, 2, k, tables);
        for (t, trig, x, y) in entries {
            let t = t % n;
            let mut hosts: Vec<HostId> = trig
                .into_iter()
                .map(|h| h % n)
                .filter(|&h| h != t)
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            hosts.truncate(k.min(3));
            if hosts.is_empty() {
                continue;
            }
            let mut tr = [NOT; 3];
            tr[..hosts.len()].copy_from_slice(&hosts);
            loads.add(t, tr, &[x, y]);
        }
        loads
    }

    /// Every set of one to `k` of `hosts`, sorted.
    fn sets_upto(hosts: &[HostId], k: usize) -> Vec<Vec<HostId>> {
        let mut out: Vec<Vec<HostId>> = vec![Vec::new()];
        for &h in hosts {
            let more: Vec<Vec<HostId>> = out
                .iter()
                .filter(|s| s.len() < k)
                .map(|s| {
                    let mut s = s.clone();
                    s.push(h);
                    s.sort_unstable();
                    s
                })
                .collect();
            out.extend(more);
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// Random pools: host capacities (memory, cpu) and VMs (host, memory,
    /// cpu, anti-affinity group with probability `grouped` among `groups`).
    struct Shape {
        hosts: Range<usize>,
        capacity: (Range<i64>, Range<i64>),
        vms: Range<usize>,
        demand: (Range<i64>, Range<i64>),
        grouped: f64,
        groups: u8,
    }

    fn pools(shape: Shape) -> impl Strategy<Value = String> {
        (
            prop::collection::vec(shape.capacity, shape.hosts),
            prop::collection::vec(
                (
                    0usize..7,
                    shape.demand.0,
                    shape.demand.1,
                    prop::option::weighted(shape.grouped, 0u8..shape.groups),
                ),
                shape.vms,
            ),
        )
            .prop_map(|(caps, vms)| {
                let n = caps.len();
                let vms: Vec<_> = vms
                    .into_iter()
                    .map(|(h, m, c, g)| (h % n, m, c, g))
                    .collect();
                pool_text(&caps, &vms)
            })
    }

    fn arb_pool() -> impl Strategy<Value = String> {
        pools(Shape {
            hosts: 3..7,
            capacity: (10..90, 2..12),
            vms: 0..14,
            demand: (1..40, 1..6),
            grouped: 0.25,
            groups: 4,
        })
    }

    /// Pools whose VMs are mostly members of two anti-affinity groups.
    fn arb_group_pool() -> impl Strategy<Value = String> {
        pools(Shape {
            hosts: 4..7,
            capacity: (20..120, 4..16),
            vms: 0..12,
            demand: (1..30, 1..4),
            grouped: 0.8,
            groups: 2,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Members of anti-affinity groups listing hosts in common: lists
        /// drawn from few starts (so that members share hosts) are
        /// accepted only when every set the checker leaves neither to
        /// decide nor to a repair is carried by the lists, no two members
        /// of a group on one host, and every k-set is survived, decided
        /// exactly (anti-affinity included).
        #[test]
        fn accepted_shared_lists_are_survived(
            text in arb_group_pool(),
            k in 1usize..4,
            picks in prop::collection::vec((0usize..2, any::<bool>()), 12),
        ) {
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            let of: Vec<(VmId, Vec<HostId>)> = an
                .candidates
                .iter()
                .flat_map(|&h| an.items[h].iter().copied())
                .zip(&picks)
                .map(|(v, &(start, back))| {
                    let mut t: Vec<HostId> = an.agility.targets.of(v).collect();
                    if back {
                        t.reverse();
                    }
                    let n = t.len().max(1);
                    t.rotate_left(start % n);
                    t.truncate(k);
                    (v, t)
                })
                .collect();
            let lists = Lists { k, of };
            if let Some(cover) = proves(&an, &lists, &Budget::default()) {
                if let Err(e) = repairs_hold(&an, &lists, &cover) {
                    prop_assert!(false, "shared lists for {k} accepted: {e}");
                }
                if cover.decide.iter().all(|s| survives(&an, s)) {
                    prop_assert!(brute(&an, k), "shared lists for {k} accepted, a {k}-set fails");
                }
            }
        }

        /// `Loads::worst` is never below the load a set of at most k hosts
        /// holding the given ones puts on a host, found by trying every
        /// such set: the bound around one host (k = 3) included, and exact
        /// for the other sizes.
        #[test]
        fn worst_bounds_every_set(
            n in 4usize..8,
            k in 1usize..4,
            entries in prop::collection::vec(
                (0usize..8, prop::collection::vec(0usize..8, 1..4), 0i64..50, 0i64..50),
                0..40,
            ),
        ) {
            let loads = random_loads(n, k, entries);
            let mut val = vec![0i64; 2];
            for t in 0..n {
                let others: Vec<HostId> = (0..n).filter(|&h| h != t).collect();
                let sets = sets_upto(&others, k);
                let mut musts: Vec<Vec<HostId>> = vec![Vec::new()];
                musts.extend(sets.iter().cloned());
                for must in musts {
                    let w = loads.worst(t, &must);
                    let mut most = vec![0i64; 2];
                    for f in sets.iter().filter(|f| must.iter().all(|h| f.contains(h))) {
                        loads.within(t, f, &mut val);
                        for r in 0..2 {
                            most[r] = most[r].max(val[r]);
                        }
                    }
                    for r in 0..2 {
                        prop_assert!(w[r] >= most[r], "worst({t}, {must:?}) = {w:?} below {most:?}");
                        if must.len() != 1 || k != 3 {
                            prop_assert_eq!(w[r], most[r], "worst({}, {:?}) not exact", t, must);
                        }
                    }
                }
            }
        }

        /// The tables per pair of hosts answer as the map does: every
        /// trigger's load, and every worst set, the same with and without.
        #[test]
        fn tables_agree_with_the_map(
            n in 4usize..8,
            k in 1usize..4,
            entries in prop::collection::vec(
                (0usize..8, prop::collection::vec(0usize..8, 1..4), 0i64..50, 0i64..50),
                0..40,
            ),
        ) {
            let dense = random_loads_with(n, k, entries.clone(), true);
            let map = random_loads_with(n, k, entries, false);
            prop_assert_eq!(dense.dense, n);
            prop_assert_eq!(map.dense, 0);
            for t in 0..n {
                let others: Vec<HostId> = (0..n).filter(|&h| h != t).collect();
                for f in sets_upto(&others, 3) {
                    let mut trig = [NOT; 3];
                    trig[..f.len()].copy_from_slice(&f);
                    prop_assert_eq!(dense.get(t, &trig), map.get(t, &trig), "W_{}({:?})", t, f);
                    if f.len() <= k {
                        prop_assert_eq!(dense.worst(t, &f), map.worst(t, &f));
                    }
                }
            }
        }

        /// The second bound around one host (k = 3) is at least the load of
        /// every set of at most 3 hosts holding it, and the largest load of
        /// a set of one or two hosts it uses is exact: both checked by
        /// trying every set.
        #[test]
        fn pair_bound_covers_every_set(
            n in 4usize..8,
            entries in prop::collection::vec(
                (0usize..8, prop::collection::vec(0usize..8, 1..4), 0i64..50, 0i64..50),
                0..40,
            ),
        ) {
            let loads = random_loads(n, 3, entries);
            let mut val = vec![0i64; 2];
            for t in 0..n {
                let others: Vec<HostId> = (0..n).filter(|&h| h != t).collect();
                let sets = sets_upto(&others, 3);
                let mut pairs = [0i64; 2];
                for f in sets.iter().filter(|f| f.len() <= 2) {
                    loads.within(t, f, &mut val);
                    for r in 0..2 {
                        pairs[r] = pairs[r].max(val[r]);
                    }
                }
                prop_assert_eq!(&loads.pair_best[t * 2..t * 2 + 2], &pairs[..]);
                for &a in &others {
                    let w = loads.worst_around_pairs(t, a);
                    for f in sets.iter().filter(|f| f.contains(&a)) {
                        loads.within(t, f, &mut val);
                        for r in 0..2 {
                            prop_assert!(w[r] >= val[r], "bound {w:?} at {t} below {f:?}: {val:?}");
                        }
                    }
                }
            }
        }

        /// The search for first cores cuts no branch holding a set that
        /// overloads the host: `later_bound` is never below the load of a
        /// set it bounds, and every set of at most k hosts that overloads
        /// the host holds a core found (each core overloading it), all
        /// checked by trying every set.
        #[test]
        fn first_cores_cover_every_overload(
            n in 4usize..8,
            k in 1usize..4,
            entries in prop::collection::vec(
                (0usize..8, prop::collection::vec(0usize..8, 1..4), 0i64..50, 0i64..50),
                0..40,
            ),
            spares in prop::collection::vec((0i64..150, 0i64..150), 8),
        ) {
            let loads = random_loads(n, k, entries);
            let mut val = vec![0i64; 2];
            let mut fm = vec![0i64; 2];
            for w in 0..n {
                let spare = [spares[w].0, spares[w].1];
                let over = |x: &[i64]| x.iter().zip(&spare).any(|(&l, &s)| l > s);
                let others: Vec<HostId> = (0..n).filter(|&h| h != w).collect();
                let sets = sets_upto(&others, k);
                // The bound, for every set M and position i, over every A.
                let mut feeding: Vec<HostId> = loads.singles.get(&w).cloned().unwrap_or_default();
                for t in loads.multi.get(&w).into_iter().flatten() {
                    feeding.extend(hosts_of(t));
                }
                feeding.sort_unstable();
                feeding.dedup();
                let later = Later::new(&loads, w, &spare, feeding);
                let mut ms: Vec<Vec<HostId>> = vec![Vec::new()];
                ms.extend(sets_upto(&later.order, k - 1));
                for m in &ms {
                    loads.within(w, m, &mut fm);
                    for i in 0..=later.order.len() {
                        let b = later_bound(&loads, &later, w, m, &fm, i, k);
                        for a in sets_upto(&later.order[i..], k - m.len()) {
                            if a.iter().any(|x| m.contains(x)) {
                                continue;
                            }
                            let mut f = m.clone();
                            f.extend(&a);
                            f.sort_unstable();
                            loads.within(w, &f, &mut val);
                            for r in 0..2 {
                                prop_assert!(b[r] >= val[r], "bound {b:?} at {i} for {m:?} below {f:?}: {val:?}");
                            }
                        }
                    }
                }
                let cores = first_cores(&loads, w, &spare, k, &|| false).unwrap();
                for c in &cores {
                    loads.within(w, c, &mut val);
                    prop_assert!(c.len() <= k && over(&val), "core {c:?} does not overload {w}");
                }
                for f in &sets {
                    loads.within(w, f, &mut val);
                    if over(&val) {
                        prop_assert!(
                            cores.iter().any(|c| c.iter().all(|h| f.contains(h))),
                            "{f:?} overloads {w} ({val:?} over {spare:?}), holds no core of {cores:?}"
                        );
                    }
                }
            }
        }

        /// Lists the heuristic makes are accepted by the checker, and prove
        /// k: every k-set is then survived, each decided exactly.
        #[test]
        fn accepted_lists_are_survived(text in arb_pool(), k in 1usize..4) {
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            // The heuristic keeps to the conditions the checker asks.
            if let Some(l) = lists(&an, k, &Budget::default()) {
                let cover = proves(&an, &l, &Budget::default());
                prop_assert!(cover.is_some(), "lists made for {k} refused");
                if let Err(e) = repairs_hold(&an, &l, &cover.unwrap()) {
                    prop_assert!(false, "lists made for {k}: {e}");
                }
            }
            if composes(&an, k) {
                prop_assert!(brute(&an, k), "lists for {k} accepted, a {k}-set fails");
            }
        }

        /// Lists drawn at random, not by the heuristic, are accepted only
        /// when every k-set is survived: the checker, not the heuristic, is
        /// the proof.
        #[test]
        fn accepted_random_lists_are_survived(
            text in arb_pool(),
            k in 1usize..4,
            picks in prop::collection::vec((0usize..3, any::<bool>(), prop::bool::weighted(0.2)), 14),
        ) {
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            // Each VM's restart targets from a random start, in either
            // direction, some a host short: lists a checker could wrongly
            // accept.
            let of: Vec<(VmId, Vec<HostId>)> = an
                .candidates
                .iter()
                .flat_map(|&h| an.items[h].iter().copied())
                .zip(&picks)
                .map(|(v, &(start, back, cut))| {
                    let mut t: Vec<HostId> = an.agility.targets.of(v).collect();
                    if back {
                        t.reverse();
                    }
                    let n = t.len().max(1);
                    t.rotate_left(start % n);
                    t.truncate(if cut { k - 1 } else { k });
                    (v, t)
                })
                .collect();
            let lists = Lists { k, of };
            // Every set the checker does not leave to decide is carried
            // by the lists themselves, each VM on its first host up.
            if let Some(cover) = proves(&an, &lists, &Budget::default()) {
                if let Err(e) = repairs_hold(&an, &lists, &cover) {
                    prop_assert!(false, "random lists for {k} accepted: {e}");
                }
            }
            // The sets short lists leave are decided exactly, as the
            // search does; the rest is the checker's claim.
            if proves(&an, &lists, &Budget::default())
                .is_some_and(|c| c.decide.iter().all(|s| survives(&an, s)))
            {
                prop_assert!(brute(&an, k), "random lists for {k} accepted, a {k}-set fails");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every placement a core's growth rests on holds, checked VM by
        /// VM: a core's own ([`Repairer::spread`]) and, for each other up
        /// host y, the one [`Repairer::grow_with`] claims for the core and
        /// y (its moves, the core's VMs where the spread puts them and y's
        /// on their first list hosts); and the set is survived, decided
        /// exactly.
        #[test]
        fn placements_hold(text in arb_pool(), k in 2usize..4, seed in 0usize..64) {
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            let Some(lists) = lists(&an, k, &Budget::default()) else {
                return Ok(());
            };
            if proves(&an, &lists, &Budget::default()).is_none() {
                return Ok(());
            }
            let loads = loads_of(&an, &lists);
            let rep = placer(&an, &lists, &loads);
            let first: HashMap<VmId, HostId> =
                lists.of.iter().map(|(v, l)| (*v, l[0])).collect();
            let claimed = FastMap::default();
            for (i, m) in sets_upto(&an.candidates, k - 1).into_iter().enumerate() {
                if m.len() + 1 != k || (i + seed) % 2 == 0 {
                    continue;
                }
                let Some(sp) = rep.spread(&m) else { continue };
                prop_assert!(assignment_holds(&an, &m, &sp.to), "spread of {m:?}: {:?}", sp.to);
                let mut settled: Vec<(Vec<HostId>, Moves)> = Vec::new();
                let ys: Vec<HostId> = an.candidates.clone();
                rep.grow_with(&m, &ys, Some(&claimed), seed % 4 != 0, &Budget::default(), |c, p| {
                    if let Some(moves) = p {
                        settled.push((c.to_vec(), moves));
                    }
                });
                for (set, moves) in settled {
                    let y = *set.iter().find(|h| !m.contains(h)).unwrap();
                    let moved: HashMap<VmId, HostId> = moves.iter().copied().collect();
                    let mut to: Vec<(VmId, HostId)> = moves.clone();
                    to.extend(sp.to.iter().filter(|e| !moved.contains_key(&e.0)));
                    to.extend(
                        an.items[y]
                            .iter()
                            .filter(|v| !moved.contains_key(v))
                            .map(|&v| (v, first[&v])),
                    );
                    prop_assert!(
                        assignment_holds(&an, &set, &to),
                        "{set:?} settled by {to:?}, spare {:?}", an.spare
                    );
                    prop_assert!(survives(&an, &set), "{set:?} settled, fails");
                }
            }
        }
    }

    #[test]
    fn lists_prove_a_roomy_pool_and_not_a_full_one() {
        // Four hosts of 100, one VM of 20 each: any two fail and the other
        // two take 40 between them.
        let roomy = pool_text(
            &[(100, 16), (100, 16), (100, 16), (100, 16)],
            &[
                (0, 20, 1, None),
                (1, 20, 1, None),
                (2, 20, 1, None),
                (3, 20, 1, None),
            ],
        );
        let pool = crate::parse_pool(&roomy).unwrap();
        let an = Analysis::new(&pool);
        assert!(composes(&an, 2));
        assert!(brute(&an, 2));
        // At 90 per VM a single failure already strands one.
        let full = pool_text(
            &[(100, 16), (100, 16), (100, 16)],
            &[(0, 90, 1, None), (1, 90, 1, None), (2, 90, 1, None)],
        );
        let pool = crate::parse_pool(&full).unwrap();
        let an = Analysis::new(&pool);
        assert!(!composes(&an, 1));
    }

    #[test]
    fn a_second_entry_counts_only_with_its_trigger() {
        // Three hosts with a VM of 50 and 50 free, h3 empty with 100 free.
        // Every VM lists h3 first; h0's and h2's VMs then both list h1.
        // The k largest loads per host would put 50 + 50 on h1, but h0's VM
        // lands there only when h0 and h3 fail, h2's only when h2 and h3
        // do: no pair sends both.
        let text = pool_text(
            &[(100, 16), (100, 16), (100, 16), (100, 16)],
            &[(0, 50, 1, None), (1, 50, 1, None), (2, 50, 1, None)],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let lists = Lists {
            k: 2,
            of: vec![(0, vec![3, 1]), (1, vec![3, 0]), (2, vec![3, 1])],
        };
        assert_eq!(left(&an, &lists), Some(Vec::new()));
        assert!(brute(&an, 2));
        // Listing h1 first instead counts in every pair with the VM's
        // host: with h0 and h2 failed, h1 would need 100.
        let first = Lists {
            k: 2,
            of: vec![(0, vec![1, 3]), (1, vec![3, 0]), (2, vec![1, 3])],
        };
        // That pair is repaired: h0's VM moves to h3, which no VM of h0
        // or h2 takes then (h1's VM lands there only when h1 fails); the
        // sets holding h3 are carried by the lists.
        let cover = proves(&an, &first, &Budget::default()).unwrap();
        assert_eq!(cover.decide, Vec::<Vec<HostId>>::new());
        assert_eq!(
            cover.repairs,
            vec![Repair {
                core: vec![0, 2],
                moves: vec![(0, 3)]
            }]
        );
        // A list one host short leaves its own set to decide, and only it.
        let short = Lists {
            k: 2,
            of: vec![(0, vec![3]), (1, vec![3, 0]), (2, vec![3, 1])],
        };
        assert_eq!(left(&an, &short), Some(vec![vec![0, 3]]));
    }

    #[test]
    fn a_repaired_core_settles_only_the_cores_without_its_moves_hosts() {
        // {0, 2} repaired with a move to 3; {4} carried by the lists.
        let mut claimed: FastMap<Vec<HostId>, Vec<HostId>> = FastMap::default();
        claimed.insert(vec![0, 2], vec![3]);
        claimed.insert(vec![4], Vec::new());
        assert!(within_claimed(&claimed, &[0, 1, 2]));
        // A set holding the move's host is a core of its own.
        assert!(!within_claimed(&claimed, &[0, 2, 3]));
        // Not the core itself, nor a set without it.
        assert!(!within_claimed(&claimed, &[0, 2]));
        assert!(!within_claimed(&claimed, &[0, 1, 3]));
        assert!(within_claimed(&claimed, &[1, 4]));
        assert!(within_claimed(&claimed, &[0, 3, 4]));
        assert!(!within_claimed(&claimed, &[4]));
    }

    #[test]
    fn a_move_goes_only_where_it_fits() {
        // h0 and h1 hold a VM of 60 each, both listing h3 then h4 (100
        // free each); h2 has 30 free and no entry. When h0 and h1 fail, h3
        // would take 120: one VM moves, not to h2 (too small, though no
        // list puts anything there), but to h4, which takes nothing from
        // the lists then (the second entries wait for h3 to fail).
        let text = pool_text(
            &[(100, 16), (100, 16), (30, 16), (100, 16), (100, 16)],
            &[(0, 60, 1, None), (1, 60, 1, None)],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let lists = Lists {
            k: 2,
            of: vec![(0, vec![3, 4]), (1, vec![3, 4])],
        };
        let cover = proves(&an, &lists, &Budget::default()).unwrap();
        assert_eq!(repairs_hold(&an, &lists, &cover), Ok(()));
        let into: Vec<HostId> = cover
            .repairs
            .iter()
            .flat_map(|r| r.moves.iter().map(|&(_, u)| u))
            .collect();
        assert!(
            !into.contains(&2),
            "moved onto 30 free: {:?}",
            cover.repairs
        );
        assert!(into.contains(&4), "{:?}", cover.repairs);
    }

    #[test]
    fn the_checker_rejects_lists_that_strand_a_pair() {
        // h0 and h1 hold a VM of 60 each; h2 and h3 have 100 free. Lists
        // that send both VMs first to h2 overload it when h0 and h1 fail:
        // the k largest loads on h2 (60 + 60) exceed its spare.
        let text = pool_text(
            &[(100, 16), (100, 16), (100, 16), (100, 16)],
            &[(0, 60, 1, None), (1, 60, 1, None)],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let bad = Lists {
            k: 2,
            of: vec![(0, vec![2, 3]), (1, vec![2, 3])],
        };
        // The pair that overloads h2 is repaired (one VM to h3). For k = 3
        // no repair places h0's and h1's VMs on the one host left: those
        // sets are left to decide (and fail).
        let cover = proves(&an, &bad, &Budget::default()).unwrap();
        assert_eq!(cover.decide, Vec::<Vec<HostId>>::new());
        assert_eq!(cover.repairs.len(), 1);
        assert_eq!(cover.repairs[0].core, vec![0, 1]);
        let bad3 = Lists {
            k: 3,
            of: vec![(0, vec![2, 3, 1]), (1, vec![2, 3, 0])],
        };
        let cover = proves(&an, &bad3, &Budget::default()).unwrap();
        assert!(cover.decide.contains(&vec![0, 1, 2]));
        assert_eq!(repairs_hold(&an, &bad3, &cover), Ok(()));
        assert!(!brute(&an, 3));
        assert!(!composes(&an, 3));
        // Lists that never share a first host: h0's VM lands on h1 when h0
        // and h2 fail, 60 on h1's 40 free; that pair and h1's VM's
        // {h1, h3} are repaired, each VM moved to the host with 100 free.
        let good = Lists {
            k: 2,
            of: vec![(0, vec![2, 1]), (1, vec![3, 0])],
        };
        let cover = proves(&an, &good, &Budget::default()).unwrap();
        assert_eq!(cover.decide, Vec::<Vec<HostId>>::new());
        let mut repaired: Vec<(Vec<HostId>, Moves)> = cover
            .repairs
            .iter()
            .map(|r| (r.core.clone(), r.moves.clone()))
            .collect();
        repaired.sort_unstable();
        assert_eq!(
            repaired,
            vec![(vec![0, 2], vec![(0, 3)]), (vec![1, 3], vec![(1, 2)])],
            "h1 has 40 free, not 60"
        );
        assert_eq!(repairs_hold(&an, &good, &cover), Ok(()));
        // Two members of one anti-affinity group may list one host when no
        // set of at most k hosts sends both there: h0's VM lands on h3
        // only when h0 and h2 fail, h1's when h1 fails, and no pair holds
        // both ({h0, h2} ∪ {h1} is three hosts).
        let text = pool_text(
            &[(100, 16), (100, 16), (300, 16), (300, 16)],
            &[(0, 60, 1, Some(0)), (1, 60, 1, Some(0))],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let shared = Lists {
            k: 2,
            of: vec![(0, vec![2, 3]), (1, vec![3, 2])],
        };
        assert_eq!(left(&an, &shared), Some(Vec::new()));
        assert!(brute(&an, 2));
        // The heuristic finds such lists: the group has two hosts for its
        // four entries.
        assert!(composes(&an, 2));
        // Both first on h2 clash: {h0, h1} restarts both there. Refused
        // even though h2 has the room.
        let clashing = Lists {
            k: 2,
            of: vec![(0, vec![2, 3]), (1, vec![2, 3])],
        };
        assert!(left(&an, &clashing).is_none());
        let apart = Lists {
            k: 1,
            of: vec![(0, vec![2]), (1, vec![3])],
        };
        assert_eq!(left(&an, &apart), Some(Vec::new()));
        assert!(brute(&an, 1));
    }
}
