//! Bounds that decide many failure sets at once.
//!
//! **Necessary (upper bound).** Per resource r, a set F is infeasible when the
//! protected demand it displaces exceeds the spare left on the survivors:
//! `Σ_{h∈F} (D_h[r] + S_h[r]) > S_total[r] − D_down[r]`, where `S_h` counts
//! only for hosts that receive VMs (up, not overloaded, standby when
//! `standby_only`), and likewise in `f(x) = floor(x / u)` blocks for every
//! VM size u (superadditive, so it still holds). The left side is a sum
//! over hosts, so the worst set of size k is the k hosts with the largest
//! `D_h[r] + S_h[r]`.
//!
//! **Sufficient (lower bound).** Think of first-fit decreasing by one resource
//! r1 (FFD-r1), and of the first VM v it cannot place. Then every survivor t
//! that v may run on is *blocked*: some resource r has `rem_t[r] < d_v[r]`, so
//! the demand already placed on t is at least
//! `c_t[r] = max(0, S_t[r] − d_v[r] + 1)`. Blocked in r1, t holds at least
//! `c_t[r1]` of the r1-demand placed before v, which (FFD-r1) is made of VMs at
//! least as large in r1 as v: at most `Y[r1] = D_{≥v}[r1] − d_v[r1]`. (When
//! every demand and spare of r is a multiple of a grain g, "less than d_v
//! left" means "at most d_v − g left", and `c_t[r] = max(0, S_t[r] − d_v[r] + g)`.) The
//! survivors blocked in another resource r hold at most `Y[r]` of it, so the
//! r1-capacity they take out of the count is at most a fractional knapsack
//! `FK_r` (values `c_t[r1]`, costs `c_t[r]`, budget `Y[r]`). Anti-affinity is
//! left out of `E_v` (the hosts v's requirements pass, so that VMs of one
//! requirement share it): a group of m running members can block at most
//! m − 1 survivors, each running a member or holding one restarted before v,
//! and those hosts are taken out of the count (`AA`): a host holding a
//! restarted member keeps that member's r1-demand in it (at least the
//! least of a VM placed before v), and a failed host running a member
//! leaves the count once, not as failed and as blocked both. A type mixes
//! VMs of many groups, so when the plain count fails `AA` is counted group
//! by group (`Order::aa_by_group`): for the type's VMs of group G only
//! G's hosts `P_G` are blocked, the members restarted before v go to
//! hosts outside `P_G` (so only those hosts' values leave the count), a
//! failure set displaces one of these VMs only if it fails a host running
//! one, and a set failing j hosts of `P_G` displaces at most j·m_G
//! members (m_G the most on one host), so at most j·m_G − 1 restart
//! before v. The worst set is then the best split of its hosts between
//! `P_G` and the others. So if
//!
//! `Σ_{t ∈ E_v ∩ S} c_t[r1] − AA − Σ_{r≠r1} FK_r  >  Y[r1]`
//!
//! for every VM v that could be displaced, FFD-r1 cannot fail, and F is
//! feasible. The VMs are grouped into *types* (eligible hosts `E`, size in r1);
//! for each type the left side minus the right side is, but for the `FK` and
//! `AA` terms (bounded from above over all hosts), a sum over the hosts of F,
//! so the worst set of size k is again a top-k. One resource r1 for which every
//! type passes proves every set of that size feasible.
//!
//! *One VM at least.* A survivor that had room for v in r1 and is
//! blocked there received some VM before v, and every such VM is at least
//! as large in r1 as v: it holds at least `max(c_t[r1], d_v[r1])`, which
//! is its value in the count. Likewise a survivor blocked in another
//! resource r that had room for v there (`c_t[r] > 0`) holds at least one
//! VM, so at least `d_v[r1]` of r1 too: only the rest of its value leaves
//! the count. For hosts with room for one or two VMs of v's size this
//! counts a whole VM where `c_t[r1]` counted a sliver, which is what the
//! largest VMs need. (In the orders by another key, "at least as large in
//! r1" becomes the least r1-demand of a VM in v's bucket or above.)
//!
//! *Sizes.* VMs are bucketed by size: one bucket per size when there are
//! at most 24 (`MAX_LEVELS`) sizes, else that many quantile buckets, whose
//! budgets count every VM of the bucket, and then the largest VMs (at
//! most 64 (`TOP_VMS`) of them, a size shared across the cut staying below
//! it) have a bucket per size and a kind per demand, in every order: their
//! budgets count only VMs at least as large, and their costs in other
//! resources are their own, not the largest of a mix. (In the count above,
//! "v" stands for the smallest VM of a kind: its `d_v[r1]` is the kind's
//! least demand in r1.)
//!
//! Four refinements, each sound on its own (tests/properties.rs checks
//! them against the reference on pools of three and four resources, with
//! the default sizing and coarse ones):
//!
//! - *Orders by the hardest VMs*: first-fit decreasing by a VM's largest
//!   share of any resource (the one-resource weight of
//!   `Amounts::scalar`), still counting in the pool's amounts with r1 the
//!   tightest resources. The argument needs only that every VM placed
//!   before v is in v's bucket or above, so the budgets `Y[r]` become the
//!   demand of VMs at least as hard as v; the largest VMs meet few.
//! - *Counted in the weight, blocked in the vectors*: first-fit
//!   decreasing by the one-resource weight `w_v = ⌈max_r M·d_v[r] / σ_r⌉`
//!   of a view (`Amounts::scaled`: any weights σ_r > 0), packing the
//!   pool's own vectors, and counting in w. The view alone (the order
//!   counted in `Amounts::scalar`) is a restriction: it blocks t for v
//!   as soon as `W_t` less the weight placed is below `w_v`, charging v
//!   its largest share in every resource. Here, if v is the first VM
//!   the packing cannot place, every survivor t that v may run on is
//!   blocked in some resource r of the pool: `placed_t[r] ≥ S_t[r] −
//!   d_v[r] + g_r` (g_r the grain, as above). Every VM u on t has `w_u ≥
//!   M·d_u[r] / σ_r`, so the weight placed on t is at least
//!   `M·(S_t[r] − d_v[r] + g_r) / σ_r` for that r, hence at least
//!   `c_t = ⌊min_r M·(S_t[r] − d_v[r] + g_r) / σ_r⌋` over the resources
//!   v needs (a resource with `d_v[r] = 0` blocks nothing; in a kind,
//!   those its largest demand needs), 0 when one of the terms over the
//!   resources some displaceable VM needs is not positive: v
//!   does not fit t empty; `VectorBlocking::held`). When `c_t > 0`, v
//!   fits t empty (`S_t[r] − d_v[r] + g_r > 0` with both amounts
//!   multiples of g_r means `S_t[r] ≥ d_v[r]`: this step needs the
//!   grain to divide them), so t received a VM before v, of weight at least
//!   `w_v` (*one VM at least*). The weight placed before v is at most
//!   `Y = Σ w` over the displaced VMs at least as heavy as v, less `w_v`,
//!   so `Σ_{t ∈ E_v ∩ S} c_t − AA > Y` proves the packing succeeds. There
//!   is no knapsack (every resource is inside the min), the count is a
//!   top-k over the hosts of F like the others', and the kinds, buckets
//!   and `AA` terms are those of the view's order with r1 the weight; a
//!   kind's `c_t` uses its largest demand in every resource (in the
//!   pool's amounts, where its kinds are also split by shape). The
//!   weights are `σ_r = √(spare_r · demand_r)`, the totals of the spare
//!   on the receiving hosts and of the displaceable demand.
//! - *Kinds split by shape* (those orders and two of the three counted
//!   in the weight, but for the largest VMs' buckets, split by demand in
//!   every order): a kind counts its largest
//!   VM in every resource, so a VM large in one resource and one large in
//!   another make both look large in both; the VMs of a kind are halved
//!   at the median of their widest resource, up to three times within a
//!   budget of per-host cells. Asked of partial sets of at most one chosen
//!   host on large pools (they cost the most).
//! - *Joint knapsacks*: a host blocked in several resources leaves the
//!   count once, and a failed host is not also blocked: the knapsacks, and
//!   the top-k choice of failed hosts, as one linear program whose dual
//!   gives an upper bound for any multipliers (`Joint`). Asked of whole
//!   sizes only, when the separate terms fail.
//!
//! Both bounds also apply to partial sets (some hosts chosen, the rest to come
//! from a given list), which is what lets the set search prune whole subtrees.
//!
//! Rules between VMs: plain anti-affinity (`Analysis::group_of`) is the
//! `AA` term above. The necessary condition holds whatever else binds
//! (more rules only remove packings; VMs restarting together need at least
//! the blocks they need apart, f being superadditive). The sufficient one
//! does not model apart caps above one or keep-together groups: when
//! those bind some scenario, its orders are those of a stricter pool
//! (`stricter`: the apart rules as plain anti-affinity, the members of
//! a keep-together group on one host as one VM), whose feasible sets are
//! feasible here, or, when there is none, it proves nothing
//! (`SetBounds::all_feasible`).

use std::collections::HashMap;

use rayon::prelude::*;

use crate::model::*;
use crate::pack::NO_GROUP;
use crate::scenario::Analysis;

mod stricter;

/// One VM type for one ordering resource: what the sufficient condition
/// needs about the VMs of that type failing to place.
#[derive(Clone, Debug)]
struct Kind {
    /// Size in r1 of the VMs of this type.
    d1: i64,
    /// Per host: `c_t[r1]` if the host receives and is eligible, else 0.
    value: Vec<i64>,
    /// Sum of `value` over all hosts.
    value_total: i64,
    /// Index into `Order::levels` of this type's size.
    level: usize,
    /// The smallest demand of the type per resource (for budgets).
    dmin: Vec<i64>,
    /// Per other resource: hosts in knapsack order with prefix sums of
    /// (cost, value); hosts of cost 0 come first.
    knap: Vec<Knapsack>,
    /// The same knapsacks as one problem (a host leaves the count once).
    joint: Joint,
    /// Anti-affinity (`AA`): of v's group G of g running members, the
    /// hosts running one are blocked (`aa_fixed`: the most `Σ_{t∈P_G} value`
    /// over the type's groups), and so are the hosts holding members
    /// restarted before v: at most min(g − 1, |F|·m_G + g_down − 1), m_G
    /// the most members on one host, each
    /// worth at most the largest values less the member's own share of r1
    /// (`aa_top`, prefix sums).
    aa_fixed: i64,
    aa_top: Vec<i64>,
    /// The type's groups, largest `Σ_{t∈P_G} value` first.
    aa_groups: Vec<AaGroup>,
    /// How many of `aa_groups`, the first, are counted one by one.
    aa_exact: usize,
    /// The up hosts running a VM of this type in no group, and whether a
    /// host already down does (`None`: every VM of the type has a group).
    ungrouped: Option<(Vec<HostId>, bool)>,
    /// The most members of a group of this type, of them on hosts
    /// already down, and of them on one host.
    gmax: i64,
    gdown: i64,
    gmult: i64,
    /// The up hosts running a VM of this type, ascending, and whether a
    /// host already down does: a failure set none of whose hosts runs one
    /// displaces none, and the type cannot be the first to fail.
    hosts: Vec<HostId>,
    on_down: bool,
    /// Per resource: whether none of the type's VMs needs any of it. No
    /// host blocks such a VM in that resource (it would need less than
    /// nothing left), so that knapsack takes nothing out of the count.
    free: Vec<bool>,
}

/// One anti-affinity group G of a type, for the count of the type's VMs
/// of G alone: only G's hosts are blocked for them, only G's members
/// restart before them, and only a failure set running one of them
/// displaces one.
#[derive(Clone, Debug)]
struct AaGroup {
    /// `Σ_{t∈P_G} value`.
    a: i64,
    gid: u32,
    /// The up hosts running a VM of the type in G (ascending), and whether
    /// a host already down does.
    hosts: Vec<HostId>,
    on_down: bool,
    /// Prefix sums of the largest `value − one` over the hosts not in
    /// `P_G` (where members restarted before v go), at most
    /// min(g − 1, [`AA_TOP_CAP`]) of them; `top_whole`: all there are.
    top: Vec<i64>,
    top_whole: bool,
}

#[derive(Clone, Debug, Default)]
struct Knapsack {
    r: usize,
    /// The host of each item, in knapsack order.
    host: Vec<u32>,
    cost_prefix: Vec<i64>,
    value_prefix: Vec<i64>,
    cost: Vec<i64>,
    value: Vec<i64>,
}

impl Knapsack {
    /// Fractional knapsack optimum with the given budget (an upper bound).
    fn best(&self, budget: i64) -> i64 {
        let budget = budget.max(0);
        // Items sorted by value/cost descending, zero cost first.
        let i = self.cost_prefix.partition_point(|&c| c <= budget);
        // cost_prefix[0] = 0, so i >= 1.
        let whole = self.value_prefix[i - 1];
        if i - 1 < self.cost.len() {
            let left = budget - self.cost_prefix[i - 1];
            let (c, v) = (self.cost[i - 1], self.value[i - 1]);
            // Round up: this is an upper bound.
            whole
                + if c > 0 {
                    ((v as i128 * left as i128 + c as i128 - 1) / c as i128) as i64
                } else {
                    v
                }
        } else {
            whole
        }
    }
}

/// The knapsacks of a kind as one problem: a host blocked in several
/// resources is blocked in one of them as far as the count goes, so its
/// value leaves the count once. Summing the knapsacks apart takes it out
/// once per resource that could block it.
///
/// With `x_tj` the share of host t blocked in knapsack j's resource, the
/// value taken out is at most the linear program
/// `max Σ v_tj·x_tj` subject to `Σ_t c_tj·x_tj ≤ y_j` for every j and
/// `Σ_j x_tj ≤ 1` for every t, whose dual gives, for *any* λ ≥ 0,
/// `Σ_j λ_j·y_j + Σ_t max(0, max_j (v_tj − λ_j·c_tj))` as an upper bound
/// (weak duality). λ is chosen by coordinate descent from the single
/// knapsacks' own optima (each step the exact minimum in one λ_j), then
/// rounded and the bound evaluated in exact integers: whatever λ the
/// floating-point steps pick, the value is a sound bound. After the first
/// sweep it is at most the sum of the knapsacks' optima (but for the
/// rounding of λ, which may add one).
#[derive(Clone, Debug, Default)]
struct Joint {
    /// Knapsacks (columns).
    nk: usize,
    /// Per host in any knapsack (rows) and knapsack: cost and value, value
    /// 0 when the host is not in that knapsack.
    cost: Vec<i64>,
    value: Vec<i64>,
    /// The host of each row, and the row of each host (`u32::MAX`: none).
    host: Vec<u32>,
    row_of: Vec<u32>,
}

/// The orders split by shape are asked of partial sets of at most this
/// many hosts, unless their kinds take at most [`SHAPED_CHEAP`] per-host
/// cells in all (then of every partial set).
const SHAPED_CHOSEN: usize = 1;
const SHAPED_CHEAP: usize = 20_000;

/// Coordinate-descent sweeps over the knapsacks of [`Joint::bound`].
const JOINT_SWEEPS: usize = 3;

impl Joint {
    fn new(knap: &[Knapsack], nh: usize) -> Joint {
        let nk = knap.len();
        let mut row_of = vec![u32::MAX; nh];
        let mut host = Vec::new();
        let (mut cost, mut value) = (Vec::new(), Vec::new());
        for (j, k) in knap.iter().enumerate() {
            for i in 0..k.host.len() {
                let h = k.host[i] as usize;
                if row_of[h] == u32::MAX {
                    row_of[h] = host.len() as u32;
                    host.push(h as u32);
                    cost.resize(cost.len() + nk, 0);
                    value.resize(value.len() + nk, 0);
                }
                let r = row_of[h] as usize;
                cost[r * nk + j] = k.cost[i];
                value[r * nk + j] = k.value[i];
            }
        }
        Joint {
            nk,
            cost,
            value,
            host,
            row_of,
        }
    }

    /// An upper bound on what the failed hosts and the blocked ones take
    /// out of the count together: `Σ_{t∈F} w_t` (F the `chosen` hosts and
    /// `m` of `rest`) plus the value of hosts blocked within the budgets
    /// `y`, where a failed host is never also blocked. As in
    /// [`Joint::bound`], by weak duality of the linear program with one
    /// more variable per host (failed or not, `Σ_{t∈rest} f_t ≤ m`,
    /// `f_t + Σ_j x_tj ≤ 1`): for any κ, λ ≥ 0,
    /// `Σ_{chosen} w_t + m·κ + Σ_j λ_j·y_j + Σ_{t∉chosen} max(0, [t∈rest](w_t − κ), max_j (v_tj − λ_j·c_tj))`.
    /// The sum of the separate bounds counts a failed host's value twice
    /// when it is also among the cheapest to block.
    fn bound_with_failed(
        &self,
        y: &[i64],
        chosen: &[HostId],
        rest: &[HostId],
        m: usize,
        w: &dyn Fn(HostId) -> i64,
    ) -> i128 {
        let nk = self.nk;
        let n = self.host.len();
        // Per row: w if the host may fail (rest), excluded if chosen.
        let mut fw: Vec<Option<i64>> = vec![None; n];
        let mut excluded = vec![false; n];
        let mut extra: Vec<i64> = Vec::new();
        for &h in rest {
            match self.row_of[h] {
                u32::MAX => extra.push(w(h)),
                r => fw[r as usize] = Some(w(h)),
            }
        }
        for &h in chosen {
            if self.row_of[h] != u32::MAX {
                excluded[self.row_of[h] as usize] = true;
            }
        }
        let fixed: i128 = chosen.iter().map(|&h| w(h) as i128).sum();
        // κ: the m-th largest w of the rest (the top-m sum exactly).
        let mut ws: Vec<i64> = fw
            .iter()
            .flatten()
            .copied()
            .chain(extra.iter().copied())
            .collect();
        let mut kappa = if m == 0 {
            f64::INFINITY
        } else if m <= ws.len() {
            ws.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
            ws[m - 1].max(0) as f64
        } else {
            0.0
        };
        let mut lambda = vec![f64::INFINITY; nk];
        let knap_term = |i: usize, j: usize, l: f64| -> f64 {
            let (c, v) = (self.cost[i * nk + j], self.value[i * nk + j]);
            if v <= 0 || l.is_infinite() && c > 0 {
                0.0
            } else {
                v as f64 - l * c as f64
            }
        };
        let f_term = |i: usize, kappa: f64| -> f64 {
            match fw[i] {
                Some(wt) if kappa.is_finite() => wt as f64 - kappa,
                _ => 0.0,
            }
        };
        let mut bps: Vec<(f64, i64)> = Vec::with_capacity(n);
        for _ in 0..JOINT_SWEEPS {
            for j in 0..nk {
                bps.clear();
                for i in (0..n).filter(|&i| !excluded[i]) {
                    let (c, v) = (self.cost[i * nk + j], self.value[i * nk + j]);
                    if v <= 0 || c == 0 {
                        continue;
                    }
                    let a = (0..nk)
                        .filter(|&o| o != j)
                        .map(|o| knap_term(i, o, lambda[o]))
                        .fold(f_term(i, kappa).max(0.0), f64::max);
                    if (v as f64) > a {
                        bps.push(((v as f64 - a) / c as f64, c));
                    }
                }
                lambda[j] = breakpoint_past(&mut bps, y[j]);
            }
            if m > 0 {
                // κ given λ: m·κ + Σ max(b_t, w_t − κ) is least at the
                // (m+1)-th largest breakpoint w_t − b_t (or 0).
                let mut bk: Vec<f64> = (0..n)
                    .filter(|&i| !excluded[i])
                    .filter_map(|i| {
                        let b = (0..nk)
                            .map(|j| knap_term(i, j, lambda[j]))
                            .fold(0.0, f64::max);
                        fw[i].map(|wt| wt as f64 - b)
                    })
                    .chain(extra.iter().map(|&wt| wt as f64))
                    .filter(|&x| x > 0.0)
                    .collect();
                kappa = if bk.len() > m {
                    bk.select_nth_unstable_by(m, |a, b| b.total_cmp(a));
                    bk[m]
                } else {
                    0.0
                };
            }
        }
        // Exact, with κ rounded down to an integer and λ_j to P_j / SCALE.
        let p = fixed_point(&lambda);
        let kap: i128 = if kappa.is_finite() && kappa > 0.0 {
            (kappa.min((1u64 << 62) as f64) as i128) * SCALE
        } else {
            0
        };
        let mut total: i128 = (0..nk)
            .map(|j| p[j].saturating_mul(y[j].max(0) as i128))
            .fold((m as i128).saturating_mul(kap), |a, b| a.saturating_add(b));
        for i in (0..n).filter(|&i| !excluded[i]) {
            let f = fw[i].map_or(0, |wt| (wt as i128 * SCALE).saturating_sub(kap));
            let best = (0..nk)
                .filter(|&j| self.value[i * nk + j] > 0)
                .map(|j| {
                    (self.value[i * nk + j] as i128 * SCALE)
                        .saturating_sub(p[j].saturating_mul(self.cost[i * nk + j] as i128))
                })
                .fold(f.max(0), i128::max);
            total = total.saturating_add(best);
        }
        for &wt in &extra {
            total = total.saturating_add((wt as i128 * SCALE).saturating_sub(kap).max(0));
        }
        let up = total.div_euclid(SCALE) + (total.rem_euclid(SCALE) != 0) as i128;
        up.saturating_add(fixed)
    }

    /// An upper bound on the value the knapsacks take out together, with
    /// budget `y[j]` for knapsack j.
    fn bound(&self, y: &[i64]) -> i128 {
        let nk = self.nk;
        let n = self.cost.len().checked_div(nk).unwrap_or(0);
        if n == 0 {
            return 0;
        }
        // λ_j = ∞ leaves only knapsack j's free hosts (cost 0).
        let mut lambda = vec![f64::INFINITY; nk];
        let term = |i: usize, j: usize, l: f64| -> f64 {
            let (c, v) = (self.cost[i * nk + j], self.value[i * nk + j]);
            if v <= 0 {
                0.0
            } else if c == 0 {
                v as f64
            } else if l.is_infinite() {
                0.0
            } else {
                v as f64 - l * c as f64
            }
        };
        let mut bps: Vec<(f64, i64)> = Vec::with_capacity(n);
        for _ in 0..JOINT_SWEEPS {
            for j in 0..nk {
                // With the other λ fixed, the bound in λ_j is
                // λ_j·y_j + Σ_t max(a_t, v_tj − λ_j·c_tj) (+ constants),
                // convex and piecewise linear: its slope y_j − Σ c_tj over
                // the hosts still above a_t turns non-negative at a
                // breakpoint (v_tj − a_t) / c_tj.
                bps.clear();
                for i in 0..n {
                    let (c, v) = (self.cost[i * nk + j], self.value[i * nk + j]);
                    if v <= 0 || c == 0 {
                        continue;
                    }
                    let a = (0..nk)
                        .filter(|&o| o != j)
                        .map(|o| term(i, o, lambda[o]))
                        .fold(0.0, f64::max);
                    if (v as f64) > a {
                        bps.push(((v as f64 - a) / c as f64, c));
                    }
                }
                lambda[j] = breakpoint_past(&mut bps, y[j]);
            }
        }
        // Exact: λ_j rounded to P_j / SCALE (any λ ≥ 0 is sound).
        let p = fixed_point(&lambda);
        let mut total: i128 = (0..nk)
            .map(|j| p[j].saturating_mul(y[j].max(0) as i128))
            .fold(0i128, |a, b| a.saturating_add(b));
        for i in 0..n {
            let best = (0..nk)
                .filter(|&j| self.value[i * nk + j] > 0)
                .map(|j| {
                    (self.value[i * nk + j] as i128 * SCALE)
                        .saturating_sub(p[j].saturating_mul(self.cost[i * nk + j] as i128))
                })
                .fold(0i128, i128::max);
            total = total.saturating_add(best);
        }
        // Rounded up: an upper bound.
        total.div_euclid(SCALE) + (total.rem_euclid(SCALE) != 0) as i128
    }
}

/// All types for one ordering resource r1.
#[derive(Clone, Debug)]
struct Order {
    /// Blocking is judged in the pool's own amounts (`VectorBlocking`;
    /// read by the tests).
    #[allow(dead_code)]
    vector: bool,
    /// Asked only of partial sets of at most [`SHAPED_CHOSEN`] hosts on
    /// large pools (the orders whose kinds are split by shape: the most
    /// costly to ask).
    shallow_only: bool,
    /// Resources of the amounts it was built from.
    nres: usize,
    r1: usize,
    /// The smallest size of each bucket (in r1, or by the order's key),
    /// ascending.
    #[allow(dead_code)]
    levels: Vec<i64>,
    /// `ge[level][host * nres + r]`: demand of the host's VMs with r1 size ≥ level.
    ge: Vec<Vec<i64>>,
    /// Same for hosts already down, summed.
    ge_down: Vec<Vec<i64>>,
    kinds: Vec<Kind>,
    /// Per anti-affinity group: the hosts running a member
    /// (`EligClasses::group_peers`).
    group_peers: Vec<Vec<HostId>>,
    /// Per anti-affinity group: its members, those of them on hosts
    /// already down, and the most on one host.
    group_facts: Vec<(i64, i64, i64)>,
}

/// Set-level bounds for a pool.
#[derive(Clone, Debug)]
pub struct SetBounds {
    nhosts: usize,
    /// Necessary conditions, one per (resource, unit u): with
    /// `f(x) = floor(x / u)`, superadditive, a set F is infeasible when
    /// `Σ_{h∈F} (Σ_{v on h} f(d_v[r]) + f(S_h[r])) > Σ_t f(S_t[r]) − Σ_{v down} f(d_v[r])`.
    /// u = 1 is the plain aggregate condition.
    units: Vec<Unit>,
    orders: Vec<Order>,
    /// Position of each host when sorted by name.
    name_rank: Vec<usize>,
    /// The pool has rules the sufficient condition does not model, they
    /// bind some scenario ([`Analysis::rules_bind`]), and it has no
    /// stricter pool to stand for it.
    beyond_plain: bool,
    /// The orders split by shape are cheap enough to ask everywhere.
    shaped_everywhere: bool,
}

/// The proof behind an aggregate rejection: in blocks of `unit` of resource
/// `res`, the VMs to restart need `need` blocks, the survivors have room for
/// `have` (`unit` 1: plain amounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// The resource counted.
    pub res: ResourceId,
    /// The block size (1: plain amounts).
    pub unit: i64,
    /// Blocks the VMs to restart need.
    pub need: i64,
    /// Blocks the survivors have room for.
    pub have: i64,
}

#[derive(Clone, Debug)]
struct Unit {
    r: ResourceId,
    u: i64,
    /// Per host: blocks its protected VMs need, and room (if it receives).
    displaced: Vec<i64>,
    room: Vec<i64>,
    /// Blocks needed by the VMs of hosts already down.
    slack_need: i64,
    /// Per host: `Σ_{v on h} f(d_v) + f(S_h)` (S counted if the host receives).
    loss: Vec<i64>,
    /// `top_prefix[m]`: the sum of the m largest `loss` values of all hosts,
    /// a bound on what m hosts of any list add.
    top_prefix: Vec<i64>,
    /// `Σ_t f(S_t) − Σ_{v down} f(d_v)`.
    slack: i64,
}

impl Unit {
    /// The condition for resource `r` in blocks of `u`; `dem[start[h]..
    /// start[h + 1]]` are host h's displaceable VMs' demands in `r`, largest
    /// first.
    fn new(an: &Analysis, r: ResourceId, u: i64, dem: &[i64], start: &[usize]) -> Unit {
        let pool = an.pool;
        let nh = pool.hosts.len();
        let f = |x: i64| x.max(0) / u;
        let mut loss = vec![0i64; nh];
        let mut displaced = vec![0i64; nh];
        let mut room = vec![0i64; nh];
        let mut slack = 0i64;
        let mut slack_need = 0i64;
        for h in 0..nh {
            let d: i64 = dem[start[h]..start[h + 1]]
                .iter()
                .take_while(|&&x| x >= u)
                .map(|&x| x / u)
                .sum();
            if pool.hosts[h].state == HostState::Down {
                slack -= d;
                slack_need += d;
            } else {
                loss[h] += d;
                displaced[h] = d;
            }
            if an.receives[h] {
                room[h] = f(an.spare[h][r]);
                loss[h] += room[h];
                slack += room[h];
            }
        }
        let mut sorted = loss.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let mut top_prefix = vec![0i64];
        for x in sorted {
            top_prefix.push(top_prefix.last().unwrap() + x);
        }
        Unit {
            r,
            u,
            displaced,
            room,
            slack_need,
            loss,
            top_prefix,
            slack,
        }
    }
}

/// A whole-block count is a proof of infeasibility: plain totals (a
/// `unit` of 1) are [`Infeasible::Short`](crate::pack::Infeasible::Short),
/// others [`Infeasible::Blocks`](crate::pack::Infeasible::Blocks).
impl From<Blocks> for crate::pack::Infeasible {
    fn from(b: Blocks) -> Self {
        if b.unit == 1 {
            crate::pack::Infeasible::Short {
                res: b.res,
                need: b.need,
                have: b.have,
            }
        } else {
            crate::pack::Infeasible::Blocks {
                res: b.res,
                unit: b.unit,
                need: b.need,
                have: b.have,
            }
        }
    }
}

/// A partial failure set: `chosen` hosts, and `m` more to come from `rest`.
pub struct Partial<'a> {
    /// Hosts already in the set.
    pub chosen: &'a [HostId],
    /// Hosts the rest may come from.
    pub rest: &'a [HostId],
    /// How many more hosts the set takes.
    pub m: usize,
}

impl SetBounds {
    /// The bounds of every failure set of the pool `an` describes, built
    /// without a time limit.
    pub fn new(an: &Analysis) -> SetBounds {
        SetBounds::within(an, &crate::pack::Budget::unlimited())
    }

    /// [`SetBounds::new`], stopping early when `budget` runs out on a pool
    /// of more than `SMALL_STEPS` (50,000) resource-host-VM steps: every
    /// condition stands on its own, so fewer of them are still sound, only
    /// weaker (with none, nothing is decided at the set level). The plain
    /// aggregate condition (block size 1) of every resource is always
    /// built (one pass over the displaceable VMs per resource), so even an
    /// exhausted budget leaves proved upper bounds.
    pub fn within(an: &Analysis, budget: &crate::pack::Budget) -> SetBounds {
        SetBounds::sized(an, budget, Sizing::default())
    }

    /// [`SetBounds::within`] with the given [`Sizing`] of the orderings
    /// (coarse ones let small pools use every path of the bounds).
    pub fn sized(an: &Analysis, budget: &crate::pack::Budget, sizing: Sizing) -> SetBounds {
        let pool = an.pool;
        let nres = pool.resources.len();
        let nh = pool.hosts.len();
        let mut units = Vec::new();
        // Each block size costs a pass over the hosts and displaceable VMs
        // here and one over the hosts when the search prunes: as many as
        // about 2·10^7 steps allow, at least MIN_UNITS per resource.
        let items: usize = an.items.iter().map(Vec::len).sum();
        let max_units = (20_000_000 / (nres.max(1) * (nh + items + 1))).max(MIN_UNITS);
        // A small pool always gets all its bounds (they take less than a
        // search would, and decide what a zero time limit can).
        let large = !small(nres, nh, items);
        let stop = || large && budget.expired();
        // Block size 1 for every resource first, then the others while the
        // budget lasts.
        let mut by_r: Vec<Vec<Unit>> = (0..nres).map(|_| Vec::new()).collect();
        // The resources in parallel (pass 0 for all of them before pass 1).
        for pass in 0..2 {
            by_r.par_iter_mut().enumerate().for_each(|(r, out)| {
                if pass == 1 && stop() {
                    return;
                }
                // The demands of each host's displaceable VMs, contiguous and
                // largest first: block size u counts only the VMs of at least u.
                let mut start = Vec::with_capacity(nh + 1);
                let mut dem: Vec<i64> = Vec::with_capacity(items);
                start.push(0);
                for h in 0..nh {
                    let from = dem.len();
                    dem.extend(an.items[h].iter().map(|&v| pool.vms[v].demand[r].max(0)));
                    dem[from..].sort_unstable_by(|a, b| b.cmp(a));
                    start.push(dem.len());
                }
                let sizes = if pass == 0 {
                    vec![1]
                } else {
                    let sizes: Vec<i64> = dem.iter().copied().filter(|&d| d > 0).collect();
                    unit_sizes(sizes, max_units)
                        .into_iter()
                        .filter(|&u| u != 1)
                        .collect()
                };
                for u in sizes {
                    if pass == 1 && stop() {
                        break;
                    }
                    out.push(Unit::new(an, r, u, &dem, &start));
                }
            });
        }
        // In resource order, block sizes ascending.
        for (r, mut list) in by_r.into_iter().enumerate() {
            list.sort_by_key(|u| u.u);
            debug_assert!(list.iter().all(|u| u.r == r));
            units.extend(list);
        }
        // The sufficient condition's orders are the pool's, or its stricter
        // pool's when rules they do not model bind some scenario (a set
        // feasible there is feasible here: `stricter`); with neither, there
        // are none.
        let held;
        let stricter_an;
        let (an, orders_apply) = if an.rules_bind() {
            match stricter::stricter_pool(an) {
                Some(s) => {
                    held = s;
                    stricter_an = Analysis::new(&held.pool);
                    if held.stands_for(an, &stricter_an) {
                        (&stricter_an, true)
                    } else {
                        (an, false)
                    }
                }
                None => (an, false),
            }
        } else {
            (an, true)
        };
        let pool = an.pool;
        // Orders by the tightest resources: total protected demand over total spare.
        let mut tight: Vec<(f64, usize)> = (0..nres)
            .map(|r| {
                let need: i64 = an
                    .items
                    .iter()
                    .flatten()
                    .map(|&v| pool.vms[v].demand[r])
                    .sum();
                let have: i64 = (0..nh)
                    .filter(|&h| an.receives[h])
                    .map(|h| an.spare[h][r])
                    .sum();
                (need as f64 / (have.max(0) as f64 + 1.0), r)
            })
            .filter(|&(t, _)| t > 0.0)
            .collect();
        tight.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if tight.is_empty() && nres > 0 {
            tight.push((0.0, 0)); // nothing demands anything: eligibility still counts
        }
        let mut by_name: Vec<HostId> = (0..nh).collect();
        by_name.sort_by(|&a, &b| pool.hosts[a].name.cmp(&pool.hosts[b].name));
        let mut name_rank = vec![0; nh];
        for (i, &h) in by_name.iter().enumerate() {
            name_rank[h] = i;
        }
        let classes = EligClasses::of(an);
        let amounts = Amounts::of(an);
        // What each order is built from; the orders are then built in
        // parallel (each stands on its own: any of them may be missing).
        enum Spec<'s> {
            /// First fit decreasing by the pool's resource r1.
            Plain(usize),
            /// By the one-resource weight, counted in it.
            Scalar,
            /// Counted in the weight of the view, blocked in the vectors.
            Vector(bool, Sizing),
            /// The hardest VMs first, counted in the pool's resource r1.
            Key(usize, &'s [i64]),
        }
        let mut specs: Vec<Spec> = tight
            .iter()
            .take(MAX_ORDERS)
            .map(|&(_, r1)| Spec::Plain(r1))
            .collect();
        let scalar = Amounts::scalar(an).filter(|_| !stop());
        let mut view = None;
        if let Some((_, scale)) = &scalar {
            specs.push(Spec::Scalar);
            // Counted in the weight, blocked in the pool's own amounts, with
            // weights between the spare's and the demand's (any weights
            // are sound; these weigh up the resources short of spare).
            let sigma: Vec<i128> = (0..nres)
                .map(|r| {
                    let need: i128 = an
                        .items
                        .iter()
                        .flatten()
                        .map(|&v| pool.vms[v].demand[r].max(0) as i128)
                        .sum();
                    ((scale.sigma[r] as f64 * need as f64).sqrt() as i128).max(1)
                })
                .collect();
            view = Amounts::scaled(an, sigma).filter(|_| !stop());
            if view.is_some() {
                // Unsplit and split by shape, and split with twice the
                // buckets: a kind costs one value per host here (no
                // knapsacks), and its budget counts its bucket whole (finer
                // is not always stronger: a bucket's least weight is what
                // its hosts count at least).
                let fine = Sizing {
                    levels: sizing.levels.saturating_mul(VECTOR_LEVELS_FACTOR),
                    ..sizing
                };
                specs.extend(
                    [(false, sizing), (true, sizing), (true, fine)]
                        .map(|(s, z)| Spec::Vector(s, z)),
                );
            }
        }
        // The hardest VMs first: first fit decreasing by the one-resource
        // weight (the largest share of any resource), counted in the
        // pool's own amounts. The largest VMs then meet budgets of few
        // VMs in every resource at once.
        if let Some(key) = scalar.as_ref().and_then(|(s, _)| s.demand.as_deref()) {
            specs.extend(
                tight
                    .iter()
                    .take(MAX_KEY_ORDERS)
                    .map(|&(_, r1)| Spec::Key(r1, key)),
            );
        }
        let vb = view.as_ref().map(|(_, scale)| VectorBlocking {
            real: &amounts,
            scale,
            grain: grains(an, &amounts),
        });
        let build = |spec: &Spec| -> Option<Order> {
            let order = |am: &Amounts, r1, key, shapes, sizing, vector| {
                Order::new(an, am, r1, key, shapes, &classes, sizing, vector)
            };
            if stop() {
                return None;
            }
            Some(match *spec {
                Spec::Plain(r1) => order(&amounts, r1, None, false, sizing, None),
                Spec::Scalar => order(&scalar.as_ref()?.0, 0, None, false, sizing, None),
                Spec::Vector(shapes, sizing) => {
                    order(&view.as_ref()?.0, 0, None, shapes, sizing, vb.as_ref())
                }
                Spec::Key(r1, key) => order(&amounts, r1, Some(key), true, sizing, None),
            })
        };
        let orders: Vec<Order> = if orders_apply {
            specs.par_iter().filter_map(build).collect()
        } else {
            Vec::new()
        };
        let shaped_cells: usize = orders
            .iter()
            .filter(|o| o.shallow_only)
            .map(|o| o.kinds.len() * nh * o.nres)
            .sum();
        SetBounds {
            nhosts: nh,
            units,
            orders,
            name_rank,
            beyond_plain: !orders_apply,
            shaped_everywhere: shaped_cells <= SHAPED_CHEAP,
        }
    }

    /// A completion of `p` that the aggregate condition proves infeasible,
    /// if there is one: the chosen hosts plus, for some resource, the `m`
    /// hosts of `rest` that cost the most.
    pub fn infeasible_completion(&self, p: &Partial) -> Option<(Vec<HostId>, Blocks)> {
        // Ties go to the host whose name sorts first, whatever the file order.
        let mut rest: Vec<(i64, std::cmp::Reverse<usize>, HostId)> =
            Vec::with_capacity(p.rest.len());
        for unit in &self.units {
            let fixed: i64 = p.chosen.iter().map(|&h| unit.loss[h]).sum();
            if fixed + unit.top_prefix[p.m.min(self.nhosts)] <= unit.slack {
                continue; // not even the m largest of all hosts would do
            }
            rest.clear();
            rest.extend(
                p.rest
                    .iter()
                    .map(|&h| (unit.loss[h], std::cmp::Reverse(self.name_rank[h]), h)),
            );
            let top = top_m(&mut rest, p.m);
            let extra: i64 = top.iter().map(|x| x.0).sum();
            if fixed + extra > unit.slack {
                let mut set: Vec<HostId> = p.chosen.to_vec();
                set.extend(top.iter().map(|x| x.2));
                set.sort_unstable();
                let survivors: i64 = (0..self.nhosts)
                    .filter(|h| !set.contains(h))
                    .map(|h| unit.room[h])
                    .sum();
                let need = unit.slack_need + set.iter().map(|&h| unit.displaced[h]).sum::<i64>();
                return Some((
                    set,
                    Blocks {
                        res: unit.r,
                        unit: unit.u,
                        need,
                        have: survivors,
                    },
                ));
            }
        }
        None
    }

    /// Whether every completion of `p` is proved feasible. With rules
    /// beyond plain anti-affinity that bind (`scenario::Rules`: caps above
    /// one, keep-together groups), which the sufficient condition does not
    /// model, it counts in the stricter pool (`stricter`), and without one
    /// never: those sets are decided one by one.
    pub fn all_feasible(&self, p: &Partial) -> bool {
        // The hosts a completion may fail: VM types none of whose hosts is
        // among them are never displaced.
        let mut open = vec![false; self.nhosts];
        for &h in p.chosen.iter().chain(p.rest) {
            open[h] = true;
        }
        let shallow = self.shaped_everywhere || p.chosen.len() <= SHAPED_CHOSEN;
        !self.beyond_plain
            && self
                .orders
                .iter()
                .filter(|o| shallow || !o.shallow_only)
                .any(|o| o.proves(p, &open))
    }

    /// Whether every failure set of size k is proved feasible.
    pub fn all_of_size(&self, candidates: &[HostId], k: usize) -> bool {
        self.all_feasible(&Partial {
            chosen: &[],
            rest: candidates,
            m: k,
        })
    }
}

/// The amounts the sufficient condition reasons about: the pool's own, or
/// a restriction of them to one resource (`Amounts::scalar`).
struct Amounts<'a> {
    nres: usize,
    pool: &'a Pool,
    /// Per VM (`[v * nres + r]`), when not the pool's demands.
    demand: Option<Vec<i64>>,
    /// Per host and resource.
    spare: std::borrow::Cow<'a, [Vec<i64>]>,
}

impl<'a> Amounts<'a> {
    fn of(an: &'a Analysis) -> Amounts<'a> {
        Amounts {
            nres: an.pool.resources.len(),
            pool: an.pool,
            demand: None,
            spare: std::borrow::Cow::Borrowed(&an.spare),
        }
    }

    fn demand(&self, v: VmId) -> &[i64] {
        match &self.demand {
            Some(d) => &d[v * self.nres..(v + 1) * self.nres],
            None => &self.pool.vms[v].demand,
        }
    }

    /// One resource in place of all: with weights σ_r (each resource's
    /// total spare on the receiving hosts), a VM needs
    /// `w_v = ⌈max_r M·d_v[r] / σ_r⌉` and a host has room for
    /// `W_t = ⌊min_r M·S_t[r] / σ_r⌋`. VMs whose `w` fit a host's `W` fit
    /// it in every resource (`d_v[r] ≤ σ_r·w_v / M`, summed), so a packing
    /// of the one resource is a packing of all: a restriction, which only
    /// the sufficient condition may use. It wins when VMs are small
    /// against hosts in every resource at once, where bounding each
    /// resource apart (the knapsacks) counts every host as blocked.
    fn scalar(an: &'a Analysis) -> Option<(Amounts<'a>, Scale)> {
        let pool = an.pool;
        let nres = pool.resources.len();
        let sigma: Vec<i128> = (0..nres)
            .map(|r| {
                (0..pool.hosts.len())
                    .filter(|&h| an.receives[h])
                    .map(|h| an.spare[h][r].max(0) as i128)
                    .sum()
            })
            .collect();
        Amounts::scaled(an, sigma)
    }

    /// [`Amounts::scalar`] with the weights σ_r given (any positive
    /// weights give a view of its own; σ_r is ignored for a resource no
    /// displaceable VM needs).
    fn scaled(an: &'a Analysis, sigma: Vec<i128>) -> Option<(Amounts<'a>, Scale)> {
        let m = SCALE_M;
        let pool = an.pool;
        let nres = pool.resources.len();
        let demanded: Vec<bool> = (0..nres)
            .map(|r| {
                an.items
                    .iter()
                    .flatten()
                    .any(|&v| pool.vms[v].demand[r] > 0)
            })
            .collect();
        // A resource no displaceable VM needs constrains nothing; one
        // with no spare at all leaves nothing to scale by.
        if nres < 2 || (0..nres).any(|r| demanded[r] && sigma[r] <= 0) {
            return None;
        }
        let used: Vec<usize> = (0..nres).filter(|&r| demanded[r]).collect();
        let demand: Vec<i128> = pool
            .vms
            .iter()
            .map(|vm| {
                used.iter()
                    .map(|&r| -((-(vm.demand[r] as i128 * m)).div_euclid(sigma[r])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let spare: Vec<i128> = an
            .spare
            .iter()
            .map(|s| {
                used.iter()
                    .map(|&r| (s[r] as i128 * m).div_euclid(sigma[r]))
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        // Sums of these must fit in i64 (a pool far over its spare could
        // pass it): then the view is not used.
        let total: i128 = demand.iter().sum::<i128>() + spare.iter().map(|s| s.abs()).sum::<i128>();
        if total > MAX_TOTAL as i128 {
            return None;
        }
        let demand = demand.into_iter().map(|w| w as i64).collect();
        let spare = spare.into_iter().map(|w| vec![w as i64]).collect();
        Some((
            Amounts {
                nres: 1,
                pool,
                demand: Some(demand),
                spare: std::borrow::Cow::Owned(spare),
            },
            Scale { sigma, used },
        ))
    }
}

/// The scale M of the one-resource weights.
const SCALE_M: i128 = 1 << 24;

/// The weights of a one-resource view ([`Amounts::scaled`]): σ_r per
/// resource, and the resources some displaceable VM needs.
struct Scale {
    sigma: Vec<i128>,
    used: Vec<usize>,
}

/// Blocking judged in the pool's own amounts while the count is in a
/// one-resource weight (`Order::new` with `vector`): see the module
/// documentation, *counted in the weight, blocked in the vectors*.
struct VectorBlocking<'s> {
    /// The pool's own amounts (kinds are split by shape in these).
    real: &'s Amounts<'s>,
    scale: &'s Scale,
    /// The grain of each of the pool's resources ([`grains`]).
    grain: Vec<i64>,
}

impl VectorBlocking<'_> {
    /// The least weight a host `spare` must hold when it blocks a VM of
    /// demand at most `dmax`: `⌊min_r M·(S[r] − dmax[r] + g_r) / σ_r⌋`
    /// over the resources the kind needs (`dmax[r] > 0`: no other one
    /// can block it), 0 when the VM does not fit it empty.
    fn held(&self, spare: &[i64], dmax: &[i64]) -> i64 {
        let mut least = i128::MAX;
        for &r in &self.scale.used {
            let room = spare[r] as i128 - dmax[r] as i128 + self.grain[r] as i128;
            if room <= 0 {
                return 0;
            }
            // A resource the kind does not need blocks none of its VMs.
            if dmax[r] > 0 {
                least = least.min(room * SCALE_M / self.scale.sigma[r]);
            }
        }
        if least == i128::MAX {
            0
        } else {
            least.min(i64::MAX as i128) as i64
        }
    }
}

/// Block sizes tried per resource (besides 1), however large the pool.
const MIN_UNITS: usize = 24;

/// Pools of at most this many resource-host-VM steps get every bound
/// whatever the time left.
const SMALL_STEPS: usize = 50_000;

/// Whether a pool of `nres` resources, `hosts` hosts and `items` VMs to
/// restart is small: its set bounds are built whole whatever the time (at
/// most `SMALL_STEPS` resource-host-VM steps).
pub(crate) fn small(nres: usize, hosts: usize, items: usize) -> bool {
    nres * (hosts + items) <= SMALL_STEPS
}

/// The block sizes of the necessary conditions for one resource, given the
/// displaceable VMs' demands: 1, then every distinct demand when there are
/// few, else demands at evenly spaced ranks (so that common sizes get
/// their own) and the largest. Any choice is sound: each size is a
/// condition of its own.
fn unit_sizes(mut sizes: Vec<i64>, most: usize) -> Vec<i64> {
    sizes.sort_unstable();
    let mut distinct = sizes.clone();
    distinct.dedup();
    let mut out = vec![1];
    if distinct.len() <= most {
        out.extend(distinct);
    } else {
        out.extend((1..most).map(|q| sizes[q * sizes.len() / most]));
        out.extend(sizes.last());
    }
    out.dedup();
    out
}

/// Per resource, the greatest common divisor of every displaceable VM's
/// demand and every receiving host's spare (1 when there is none). Remaining
/// capacity is then always a multiple of it, so "less than d left" means "at
/// most d − grain left": the blocking amounts `c_t` grow by grain − 1.
fn grains(an: &Analysis, am: &Amounts) -> Vec<i64> {
    let pool = an.pool;
    let nres = am.nres;
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a.abs()
    };
    (0..nres)
        .map(|r| {
            let mut g = 0i64;
            for &v in an.items.iter().flatten() {
                g = gcd(g, am.demand(v)[r]);
            }
            for h in (0..pool.hosts.len()).filter(|&h| an.receives[h]) {
                g = gcd(g, am.spare[h][r]);
            }
            g.max(1)
        })
        .collect()
}

/// Per level `l` and resource `r`: the smallest ratio `d[r1] / d[r]` over
/// the displaceable VMs `vms` with `d[r1] >= l` and `d[r] > 0`, as
/// (numerator, denominator); (0, 0) when there is none. One sweep over the
/// VMs, largest in r1 first, levels from the top.
fn ratio_floors(
    am: &Amounts,
    vms: &[VmId],
    r1: usize,
    size: &dyn Fn(VmId) -> i64,
    levels: &[i64],
) -> Vec<Vec<(i64, i64)>> {
    let nres = am.nres;
    let mut by_size: Vec<(i64, &[i64])> = vms.iter().map(|&v| (size(v), am.demand(v))).collect();
    by_size.sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
    let mut best: Vec<Option<(i64, i64)>> = vec![None; nres];
    let mut out = vec![Vec::new(); levels.len()];
    let mut next = by_size.iter().peekable();
    for l in (0..levels.len()).rev() {
        while let Some(&(_, d)) = next.next_if(|x| x.0 >= levels[l]) {
            for r in 0..nres {
                if d[r] > 0 {
                    let better = best[r].is_none_or(|(n, m)| {
                        (d[r1] as i128) * (m as i128) < (n as i128) * (d[r] as i128)
                    });
                    if better {
                        best[r] = Some((d[r1], d[r]));
                    }
                }
            }
        }
        out[l] = best.iter().map(|b| b.unwrap_or((0, 0))).collect();
    }
    out
}

/// Eligibility classes of the displaceable VMs, computed once for every
/// ordering: VMs of one requirement (`agility::Targets::requirement`) may
/// restart on the same receiving hosts, their own and their anti-affinity
/// peers' aside. A VM's own host has failed whenever the VM is displaced,
/// so it does not matter whether a mask counts it; peers are counted in the
/// anti-affinity term instead (a group of g members blocks at most g − 1
/// hosts, running there or restarted there), so that VMs of one requirement
/// share one mask whatever their group. Classes are also split by the size
/// of the VMs' groups, which that term depends on.
struct EligClasses {
    class_of: Vec<usize>,
    masks: Vec<Vec<bool>>,
    /// Per VM: its anti-affinity group (dense), or `u32::MAX`.
    group_of: Vec<u32>,
    /// Per group: the hosts running or pausing a member (ascending), how
    /// many members do, how many of them on hosts already down, and the
    /// most on one host.
    group_peers: Vec<Vec<HostId>>,
    group_members: Vec<i64>,
    group_down: Vec<i64>,
    group_mult: Vec<i64>,
}

impl EligClasses {
    fn of(an: &Analysis) -> EligClasses {
        let pool = an.pool;
        // The plain anti-affinity groups of the analysis (`Analysis::group_of`:
        // `anti_affinity`, and `vm_groups` apart with one per host).
        let mut ids: HashMap<u32, u32> = HashMap::new();
        let mut group_of = vec![u32::MAX; pool.vms.len()];
        let mut group_peers: Vec<Vec<HostId>> = Vec::new();
        let mut group_members: Vec<i64> = Vec::new();
        let mut group_down: Vec<i64> = Vec::new();
        for (v, vm) in pool.vms.iter().enumerate() {
            let g = an.group_of[v];
            if g == NO_GROUP || !vm.power.is_active() {
                continue;
            }
            let next = group_peers.len() as u32;
            let id = *ids.entry(g).or_insert(next);
            if id == next {
                group_peers.push(Vec::new());
                group_members.push(0);
                group_down.push(0);
            }
            group_of[v] = id;
            group_peers[id as usize].push(vm.host);
            group_members[id as usize] += 1;
            if pool.hosts[vm.host].state == HostState::Down {
                group_down[id as usize] += 1;
            }
        }
        // The most members on one host: k failed hosts displace at most
        // k times that many.
        let mut group_mult = Vec::with_capacity(group_peers.len());
        for p in &mut group_peers {
            p.sort_unstable();
            let most = p
                .chunk_by(|a, b| a == b)
                .map(|run| run.len() as i64)
                .max()
                .unwrap_or(0);
            group_mult.push(most);
            p.dedup();
        }
        let group_size = |v: VmId| match group_of[v] {
            u32::MAX => 0,
            g => group_members[g as usize],
        };
        // Group sizes by tier: 0-1, 2, 3-4, 5-8, ...
        let tier = |g: i64| {
            if g <= 1 {
                0
            } else {
                64 - (g - 1).leading_zeros() as usize
            }
        };
        let mut ids: HashMap<(usize, usize), usize> = HashMap::new();
        let mut masks = Vec::new();
        let mut class_of = vec![usize::MAX; pool.vms.len()];
        for &v in an.items.iter().flatten() {
            let need = an
                .agility
                .targets
                .requirement(v)
                .expect("displaceable VMs are running or paused");
            let key = (need, tier(group_size(v)));
            class_of[v] = *ids.entry(key).or_insert_with(|| {
                let mut elig = vec![false; pool.hosts.len()];
                for &t in an.agility.targets.passing(need) {
                    elig[t] = an.receives[t];
                }
                masks.push(elig);
                masks.len() - 1
            });
        }
        EligClasses {
            class_of,
            masks,
            group_of,
            group_peers,
            group_members,
            group_down,
            group_mult,
        }
    }
}

/// The m largest entries, moved to the front.
fn top_m<T: Ord>(xs: &mut [T], m: usize) -> &[T] {
    let m = m.min(xs.len());
    if m == 0 {
        return &xs[..0];
    }
    if m < xs.len() {
        xs.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
    }
    &xs[..m]
}

fn top_sum(xs: &mut [i64], m: usize) -> i64 {
    let m = m.min(xs.len());
    if m == 0 {
        return 0;
    }
    if m < xs.len() {
        xs.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
    }
    xs[..m].iter().sum()
}

/// Halvings of a kind by shape ([`split_by_shape`]), and the per-host
/// cells (kinds × hosts × resources) they may take per ordering.
const MAX_SHAPE_DEPTH: u32 = 3;
const SHAPE_CELLS: usize = 300_000;

/// Splits VMs into parts of equal demand.
fn split_by_demand(am: &Amounts, mut vms: Vec<VmId>) -> Vec<Vec<VmId>> {
    vms.sort_unstable_by(|&a, &b| am.demand(a).cmp(am.demand(b)).then(a.cmp(&b)));
    vms.chunk_by(|&a, &b| am.demand(a) == am.demand(b))
        .map(<[VmId]>::to_vec)
        .collect()
}

/// Splits the VMs of one kind into at most `2^depth` parts of like shape:
/// each step halves a part at the median of the resource (not `r1`) whose
/// range within it is widest against `reference` (the mean spare). A kind
/// counts its largest VM in every resource, so mixing a VM large in one
/// resource with one large in another makes both look large in both; any
/// partition is sound (each part's condition covers its own VMs).
fn split_by_shape(
    am: &Amounts,
    r1: usize,
    vms: Vec<VmId>,
    reference: &[i64],
    depth: u32,
) -> Vec<Vec<VmId>> {
    let nres = am.nres;
    let mut done = Vec::new();
    let mut todo = vec![(vms, depth)];
    while let Some((mut part, left)) = todo.pop() {
        if left == 0 || part.len() < 2 {
            done.push(part);
            continue;
        }
        let widest = (0..nres)
            .filter(|&r| r != r1)
            .map(|r| {
                let (lo, hi) = part.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| {
                    let d = am.demand(v)[r];
                    (lo.min(d), hi.max(d))
                });
                ((hi - lo) as f64 / reference[r] as f64, r)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((spread, r)) = widest else {
            done.push(part);
            continue;
        };
        if spread < 1.0 / 64.0 {
            done.push(part);
            continue;
        }
        part.sort_unstable_by_key(|&v| (am.demand(v)[r], v));
        // Split where the value changes, nearest the middle.
        let mid = part.len() / 2;
        let at = (mid..part.len())
            .find(|&i| am.demand(part[i])[r] != am.demand(part[i - 1])[r])
            .or_else(|| {
                (1..mid)
                    .rev()
                    .find(|&i| am.demand(part[i])[r] != am.demand(part[i - 1])[r])
            });
        match at {
            Some(at) => {
                let upper = part.split_off(at);
                todo.push((upper, left - 1));
                todo.push((part, left - 1));
            }
            None => done.push(part),
        }
    }
    done
}

/// Size buckets per ordering resource, and eligibility classes per bucket
/// with a kind of their own (the rest share one): these bound the memory and
/// the time of the bounds, whatever the pool.
const MAX_LEVELS: usize = 24;
const MAX_CLASSES: usize = 6;
/// At most this many of the largest VMs by the ordering size, in buckets
/// of one size each and kinds of one demand each, besides the
/// [`MAX_LEVELS`] buckets (only when there are more sizes than those).
const TOP_VMS: usize = 64;
/// Ordering resources tried: the tightest ones.
const MAX_ORDERS: usize = 3;
/// One of the orders counted in the weight with vector blocking has this
/// many times the size buckets of the others.
const VECTOR_LEVELS_FACTOR: usize = 2;
/// Counting resources tried with the order by the one-resource weight.
const MAX_KEY_ORDERS: usize = 2;

/// How finely an ordering splits the VMs by size: quantile buckets, and
/// the largest VMs apart. Any sizing is sound; finer ones cost more.
#[derive(Clone, Copy, Debug)]
pub struct Sizing {
    /// Buckets over the VMs but the largest (when the VMs have more
    /// distinct sizes than this; else one bucket per size).
    pub levels: usize,
    /// At most this many of the largest VMs, with buckets and kinds of
    /// their own (when the VMs have more distinct sizes than `levels`).
    pub top: usize,
}

impl Default for Sizing {
    fn default() -> Self {
        Sizing {
            levels: MAX_LEVELS,
            top: TOP_VMS,
        }
    }
}

impl Kind {
    #[allow(clippy::too_many_arguments)]
    fn new(
        an: &Analysis,
        am: &Amounts,
        ratios: &[(i64, i64)],
        r1: usize,
        lo: i64,
        hi: i64,
        one: i64,
        level: usize,
        elig: &[bool],
        dmin: Vec<i64>,
        dmax: Vec<i64>,
        members: &[(u32, HostId)],
        facts: &EligClasses,
        grain: &[i64],
        vector: Option<(&VectorBlocking, &[i64])>,
    ) -> Kind {
        let nres = am.nres;
        let nh = an.pool.hosts.len();
        let c = |h: HostId, r: usize| -> i64 {
            if elig[h] {
                (am.spare[h][r] - dmax[r] + grain[r]).max(0)
            } else {
                0
            }
        };
        // A host blocked in r1 that had room for v holds at least one VM
        // placed before v, so at least `one` of r1 as well as `c_t[r1]`.
        // Blocked in the pool's own amounts, a host holds at least the
        // weight of the demand that blocks it (`VectorBlocking::held`).
        let value: Vec<i64> = (0..nh)
            .map(|h| {
                let c1 = match vector {
                    _ if !elig[h] => 0,
                    Some((vb, real)) => vb.held(&an.spare[h], real),
                    None => c(h, r1).min((am.spare[h][r1] - hi + grain[r1]).max(0)),
                };
                if c1 > 0 { c1.max(one) } else { 0 }
            })
            .collect();
        let value_total = value.iter().sum();
        let knap: Vec<Knapsack> = (0..nres)
            .filter(|&r| r != r1)
            .map(|r| {
                // The VMs placed before one of this kind are at least `lo` in
                // r1; each brings at least ρ = min(d[r1] / d[r]) of r1 per
                // unit of r. A host blocked in r so still holds ρ·c_t[r] of
                // r1, and at least `one` when something had to be placed
                // there (c_t[r] > 0): only the rest is taken out of the
                // count.
                let (num, den) = ratios[r];
                let mut hs: Vec<(i64, i64, usize)> = (0..nh)
                    .filter(|&h| value[h] > 0)
                    .map(|h| {
                        let cost = c(h, r);
                        let held = if cost <= 0 {
                            0
                        } else if den == 0 {
                            value[h]
                        } else {
                            ((cost as i128 * num as i128) / den as i128)
                                .max(one as i128)
                                .min(value[h] as i128) as i64
                        };
                        (cost, value[h] - held, h)
                    })
                    .filter(|&(_, v, _)| v > 0)
                    .collect();
                // value/cost descending; zero cost first.
                hs.sort_by(|a, b| (b.1 as i128 * a.0 as i128).cmp(&(a.1 as i128 * b.0 as i128)));
                let mut k = Knapsack {
                    r,
                    cost_prefix: vec![0],
                    value_prefix: vec![0],
                    ..Default::default()
                };
                for (cost, val, h) in hs {
                    k.cost_prefix.push(k.cost_prefix.last().unwrap() + cost);
                    k.value_prefix.push(k.value_prefix.last().unwrap() + val);
                    k.cost.push(cost);
                    k.value.push(val);
                    k.host.push(h as u32);
                }
                k
            })
            .filter(|k| !k.cost.is_empty())
            .collect();
        // Per group of the type (`u32::MAX`: none), the hosts running its
        // VMs of the type.
        let mut by_group: Vec<(u32, HostId)> = members.to_vec();
        by_group.sort_unstable();
        by_group.dedup();
        let down = |h: HostId| an.pool.hosts[h].state == HostState::Down;
        let mut ungrouped = None;
        let mut groups: Vec<u32> = Vec::new();
        let mut group_hosts: Vec<(Vec<HostId>, bool)> = Vec::new();
        for run in by_group.chunk_by(|a, b| a.0 == b.0) {
            let on_down = run.iter().any(|&(_, h)| down(h));
            let hosts: Vec<HostId> = run.iter().map(|x| x.1).filter(|&h| !down(h)).collect();
            if run[0].0 == u32::MAX {
                ungrouped = Some((hosts, on_down));
            } else {
                groups.push(run[0].0);
                group_hosts.push((hosts, on_down));
            }
        }
        let gmax = groups
            .iter()
            .map(|&g| facts.group_members[g as usize])
            .max()
            .unwrap_or(0);
        let gdown = groups
            .iter()
            .map(|&g| facts.group_down[g as usize])
            .max()
            .unwrap_or(0);
        let gmult = groups
            .iter()
            .map(|&g| facts.group_mult[g as usize])
            .max()
            .unwrap_or(0);
        let mut aa_groups: Vec<AaGroup> = groups
            .iter()
            .zip(group_hosts)
            .map(|(&g, (hosts, on_down))| {
                let a = facts.group_peers[g as usize]
                    .iter()
                    .map(|&t| value[t])
                    .sum::<i64>();
                AaGroup {
                    a,
                    gid: g,
                    hosts,
                    on_down,
                    top: vec![0],
                    top_whole: false,
                }
            })
            .collect();
        aa_groups.sort_unstable_by(|x, y| y.a.cmp(&x.a).then(x.gid.cmp(&y.gid)));
        // The groups counted one by one: the largest values of the hosts
        // none of their members runs on.
        let mut peer = vec![false; nh];
        let mut rest: Vec<i64> = Vec::with_capacity(nh);
        let aa_exact = AA_EXACT.max(AA_STEPS / nh.max(1));
        for ag in aa_groups.iter_mut().take(aa_exact) {
            let peers = &facts.group_peers[ag.gid as usize];
            for &t in peers {
                peer[t] = true;
            }
            rest.clear();
            rest.extend(
                (0..nh)
                    .filter(|&t| !peer[t])
                    .map(|t| (value[t] - one).max(0)),
            );
            for &t in peers {
                peer[t] = false;
            }
            let want = (facts.group_members[ag.gid as usize] - 1).max(0) as usize;
            let m = want.min(AA_TOP_CAP).min(rest.len());
            ag.top_whole = m == want.min(rest.len());
            if m > 0 && m < rest.len() {
                rest.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
            }
            rest.truncate(m);
            rest.sort_unstable_by(|a, b| b.cmp(a));
            for &x in &rest {
                ag.top.push(ag.top.last().unwrap() + x);
            }
        }
        let aa_fixed = aa_groups.first().map_or(0, |x| x.a);
        let mut aa_top = vec![0i64];
        if gmax > 1 {
            // A host holding a member restarted before v holds at least
            // `one` of r1: only the rest of its value leaves the count.
            let mut v: Vec<i64> = value.iter().map(|&x| (x - one).max(0)).collect();
            let m = (gmax as usize - 1).min(v.len());
            if m > 0 && m < v.len() {
                v.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
            }
            v.truncate(m);
            v.sort_unstable_by(|a, b| b.cmp(a));
            for x in v {
                aa_top.push(aa_top.last().unwrap() + x);
            }
        }
        let joint = Joint::new(&knap, nh);
        let free = dmax.iter().map(|&d| d == 0).collect();
        Kind {
            joint,
            d1: lo,
            level,
            value,
            value_total,
            dmin,
            knap,
            aa_fixed,
            aa_top,
            aa_groups,
            aa_exact,
            ungrouped,
            gmax,
            gdown,
            gmult,
            hosts: Vec::new(),
            on_down: false,
            free,
        }
    }
}

impl Order {
    /// The conditions for first fit decreasing by `key` (per VM; `None`:
    /// the demand in `r1`), counting the demand in `r1` (which the proof
    /// needs, whatever the order).
    #[allow(clippy::too_many_arguments)]
    fn new(
        an: &Analysis,
        am: &Amounts,
        r1: usize,
        key: Option<&[i64]>,
        shapes: bool,
        classes: &EligClasses,
        sizing: Sizing,
        vector: Option<&VectorBlocking>,
    ) -> Order {
        let pool = an.pool;
        let nres = am.nres;
        let nh = pool.hosts.len();
        let grain = grains(an, am);
        let facts = classes;
        // Displaceable VMs: the items of every host.
        let all: Vec<VmId> = an.items.iter().flatten().copied().collect();
        // Size buckets in r1: at most MAX_LEVELS, each [lo, hi] of sizes.
        let size = |v: VmId| key.map_or(am.demand(v)[r1], |k| k[v]);
        let mut sizes: Vec<i64> = all.iter().map(|&v| size(v)).collect();
        sizes.sort_unstable();
        let mut distinct = sizes.clone();
        distinct.dedup();
        let (max_levels, top) = (sizing.levels.max(1), sizing.top);
        // When there are more sizes than buckets, the largest VMs (at most
        // `top` of them: a size shared across the cut stays below it) get
        // a bucket per size: few hosts have room for them, so their
        // budgets must count only VMs at least as large, and their kinds
        // only their own demands. The others get quantile buckets, so that
        // busy sizes get their own.
        let cut = if distinct.len() <= max_levels || top == 0 {
            sizes.len()
        } else {
            let mut cut = sizes.len().saturating_sub(top);
            while cut > 0 && cut < sizes.len() && sizes[cut] == sizes[cut - 1] {
                cut += 1;
            }
            cut
        };
        let lower = &sizes[..cut];
        let mut buckets: Vec<(i64, i64)> = Vec::new();
        if distinct.len() <= max_levels {
            buckets.extend(distinct.iter().map(|&d| (d, d)));
        } else if !lower.is_empty() {
            for q in 0..max_levels {
                let lo = lower[q * lower.len() / max_levels];
                let hi = lower[((q + 1) * lower.len() / max_levels).max(1) - 1];
                match buckets.last_mut() {
                    Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                    _ => buckets.push((lo, hi)),
                }
            }
        }
        let first_top = buckets.len();
        let mut big = sizes[cut..].to_vec();
        big.dedup();
        buckets.extend(big.into_iter().map(|d| (d, d)));
        let levels: Vec<i64> = buckets.iter().map(|b| b.0).collect();
        let bucket_of = |d: i64| levels.partition_point(|&l| l <= d) - 1;
        let ratios = ratio_floors(am, &all, r1, &size, &levels);
        // Per bucket: the least demand in r1 of a VM in it or above, which
        // every VM placed before one of the bucket has.
        let mut floor1 = vec![i64::MAX; levels.len()];
        for &v in &all {
            let b = bucket_of(size(v));
            floor1[b] = floor1[b].min(am.demand(v)[r1]);
        }
        for l in (0..levels.len().saturating_sub(1)).rev() {
            floor1[l] = floor1[l].min(floor1[l + 1]);
        }
        let mut ge = vec![vec![0i64; nh * nres]; levels.len()];
        let mut ge_down = vec![vec![0i64; nres]; levels.len()];
        for &v in &all {
            let vm = &pool.vms[v];
            let d = am.demand(v);
            for li in 0..=bucket_of(size(v)) {
                if pool.hosts[vm.host].state == HostState::Down {
                    for r in 0..nres {
                        ge_down[li][r] += d[r];
                    }
                } else {
                    for r in 0..nres {
                        ge[li][vm.host * nres + r] += d[r];
                    }
                }
            }
        }
        // Eligibility classes (the agility targets, own host included since
        // it has failed anyway, among hosts that receive VMs), per bucket.
        struct Class {
            dmin: Vec<i64>,
            dmax: Vec<i64>,
            groups: Vec<u32>,
            count: usize,
            hosts: Vec<HostId>,
            vms: Vec<VmId>,
        }
        let mut per_bucket: Vec<HashMap<usize, Class>> =
            (0..levels.len()).map(|_| HashMap::new()).collect();
        for &v in &all {
            let d = am.demand(v);
            let elig = classes.class_of[v];
            let c = per_bucket[bucket_of(size(v))]
                .entry(elig)
                .or_insert_with(|| Class {
                    dmin: d.to_vec(),
                    dmax: d.to_vec(),
                    groups: Vec::new(),
                    count: 0,
                    hosts: Vec::new(),
                    vms: Vec::new(),
                });
            c.hosts.push(pool.vms[v].host);
            c.vms.push(v);
            for r in 0..nres {
                c.dmin[r] = c.dmin[r].min(d[r]);
                c.dmax[r] = c.dmax[r].max(d[r]);
            }
            if classes.group_of[v] != u32::MAX {
                c.groups.push(classes.group_of[v]);
            }
            c.count += 1;
        }
        // Shape splits: each halving doubles the kinds, within a budget of
        // per-host cells whatever the pool.
        let base: usize = per_bucket[..first_top]
            .iter()
            .map(|b| b.len().min(MAX_CLASSES))
            .sum();
        let cells = (base * nh * nres).max(1);
        let mut depth = 0;
        while shapes && depth < MAX_SHAPE_DEPTH && cells << (depth + 1) <= SHAPE_CELLS {
            depth += 1;
        }
        // Kinds are split by shape in the amounts blocking is judged in
        // (every resource of the pool's own, with vector blocking).
        let (shape_am, shape_r1) = match vector {
            Some(vb) => (vb.real, usize::MAX),
            None => (am, r1),
        };
        let reference: Vec<i64> = (0..shape_am.nres)
            .map(|r| {
                let (sum, n) = (0..nh)
                    .filter(|&h| an.receives[h])
                    .fold((0i128, 0i128), |(s, n), h| {
                        (s + shape_am.spare[h][r].max(0) as i128, n + 1)
                    });
                (sum / n.max(1)).max(1) as i64
            })
            .collect();
        let mut kinds = Vec::new();
        for (level, per_class) in per_bucket.into_iter().enumerate() {
            let _ = buckets[level];
            let mut classes: Vec<(&[bool], Class)> = per_class
                .into_iter()
                .map(|(id, c)| (classes.masks[id].as_slice(), c))
                .collect();
            classes.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
            // The largest classes keep kinds of their own; the rest share one
            // whose per-host values are the least of theirs (conservative).
            let mut groups: Vec<Vec<(&[bool], Class)>> = Vec::new();
            for (i, c) in classes.into_iter().enumerate() {
                if i < MAX_CLASSES {
                    groups.push(vec![c]);
                } else {
                    groups.last_mut().expect("MAX_CLASSES > 0").push(c);
                }
            }
            for group in groups {
                let elig: Vec<bool> = (0..nh).map(|t| group.iter().all(|(e, _)| e[t])).collect();
                let vms: Vec<VmId> = group
                    .iter()
                    .flat_map(|(_, c)| c.vms.iter().copied())
                    .collect();
                let parts = if level >= first_top {
                    split_by_demand(shape_am, vms)
                } else {
                    split_by_shape(shape_am, shape_r1, vms, &reference, depth)
                };
                for part in parts {
                    let mut dmin = am.demand(part[0]).to_vec();
                    let mut dmax = dmin.clone();
                    let mut members: Vec<(u32, HostId)> = Vec::with_capacity(part.len());
                    let mut hosts: Vec<HostId> = Vec::with_capacity(part.len());
                    for &v in &part {
                        let d = am.demand(v);
                        for r in 0..nres {
                            dmin[r] = dmin[r].min(d[r]);
                            dmax[r] = dmax[r].max(d[r]);
                        }
                        members.push((facts.group_of[v], pool.vms[v].host));
                        hosts.push(pool.vms[v].host);
                    }
                    hosts.sort_unstable();
                    hosts.dedup();
                    let on_down = hosts
                        .iter()
                        .any(|&h| pool.hosts[h].state == HostState::Down);
                    hosts.retain(|&h| pool.hosts[h].state == HostState::Up);
                    // The part's own range in r1 (within the bucket's
                    // when the order is by r1).
                    let (plo, phi) = (dmin[r1], dmax[r1]);
                    // Ordered by r1, the VMs placed before one of the part
                    // are at least as large in r1 as it; by another key,
                    // they are in its bucket or above.
                    let one = if key.is_none() { plo } else { floor1[level] };
                    // The part's largest demand in the pool's own amounts,
                    // when blocking is judged there.
                    let real: Vec<i64> = match vector {
                        Some(_) => (0..pool.resources.len())
                            .map(|r| {
                                part.iter()
                                    .map(|&v| pool.vms[v].demand[r])
                                    .max()
                                    .unwrap_or(0)
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    let mut kind = Kind::new(
                        an,
                        am,
                        &ratios[level],
                        r1,
                        plo,
                        phi,
                        one,
                        level,
                        &elig,
                        dmin,
                        dmax,
                        &members,
                        facts,
                        &grain,
                        vector.map(|vb| (vb, real.as_slice())),
                    );
                    kind.hosts = hosts;
                    kind.on_down = on_down;
                    kinds.push(kind);
                }
            }
        }
        Order {
            vector: vector.is_some(),
            shallow_only: shapes,
            nres,
            r1,
            levels,
            ge,
            ge_down,
            kinds,
            group_peers: facts.group_peers.clone(),
            group_facts: (0..facts.group_peers.len())
                .map(|g| {
                    (
                        facts.group_members[g],
                        facts.group_down[g],
                        facts.group_mult[g],
                    )
                })
                .collect(),
        }
    }

    /// The condition of `kind` with the failed hosts and the blocked ones
    /// taken out together (`Joint::bound_with_failed`): a failed host is
    /// not also counted as blocked.
    fn proves_jointly(&self, kind: &Kind, p: &Partial, ys: &[i64], aa: i64) -> bool {
        let nres = self.nres;
        let g = &self.ge[kind.level];
        let w = |h: HostId| kind.value[h] + g[h * nres + self.r1];
        let b = kind.joint.bound_with_failed(ys, p.chosen, p.rest, p.m, &w);
        // value_total − AA − B > ge_down − d1
        kind.value_total as i128 - aa as i128 - b - self.ge_down[kind.level][self.r1] as i128
            + kind.d1 as i128
            > 0
    }

    /// The anti-affinity term counted group by group, with the failed
    /// hosts: for the type's VMs of one group G (or of none), `Σ_{P_G}
    /// value` plus the members restarted before v (on hosts outside `P_G`)
    /// plus the worst failed hosts, each counting only `ge[r1]` when it
    /// runs a member (its value is in `P_G`'s already), among the failure
    /// sets that run a VM of the type in G (else none of them is
    /// displaced). Returns, as the most over the groups, that total less
    /// `top` (the chosen hosts' and the `m` largest of the rest's `value +
    /// ge[r1]`, what the count took out for the failed hosts), and the
    /// blocked hosts' share alone; `None` when no completion displaces a
    /// VM of the type. The groups past the first `aa_exact` are bounded
    /// by the type's own terms.
    fn aa_by_group(
        &self,
        kind: &Kind,
        p: &Partial,
        open: &[bool],
        top: i64,
        restarted_kind: usize,
    ) -> Option<(i64, i64)> {
        let nres = self.nres;
        let g = &self.ge[kind.level];
        let nh = kind.value.len();
        let k = (p.chosen.len() + p.m) as i64;
        let kind_top = |r: usize| kind.aa_top[r.min(kind.aa_top.len() - 1)];
        let mut peer = vec![false; nh];
        let mut scratch: Vec<i64> = Vec::with_capacity(p.rest.len());
        // The worst Σ_F w over the completions that fail a host of
        // `hosts` (any, with `on_down`), or None if there is none.
        let mut worst_of = |hosts: &[HostId], on_down: bool, w: &dyn Fn(HostId) -> i64| {
            let fixed: i64 = p.chosen.iter().map(|&h| w(h)).sum();
            let hit = on_down || p.chosen.iter().any(|h| hosts.binary_search(h).is_ok());
            scratch.clear();
            scratch.extend(p.rest.iter().map(|&h| w(h)));
            let m = p.m.min(scratch.len());
            if m == 0 {
                return hit.then_some(fixed);
            }
            let all = top_sum(&mut scratch, m);
            if hit {
                return Some(fixed + all);
            }
            // No host of `hosts` chosen: the best of them in the rest
            // takes the place of the m-th largest if it is not among the
            // m largest already.
            let tm = scratch[..m].iter().copied().min().unwrap_or(0);
            let best_h = hosts.iter().filter(|&&h| open[h]).map(|&h| w(h)).max()?;
            Some(fixed + all - tm + tm.min(best_h))
        };
        let (mut best, mut best_alone) = (None::<i64>, None::<i64>);
        let raise = |slot: &mut Option<i64>, x: i64| *slot = Some(slot.map_or(x, |b| b.max(x)));
        if let Some((hosts, on_down)) = &kind.ungrouped {
            let w = |h: HostId| g[h * nres + self.r1] + kind.value[h];
            if let Some(f) = worst_of(hosts, *on_down, &w) {
                raise(&mut best, f);
                raise(&mut best_alone, 0);
            }
        }
        for (i, ag) in kind.aa_groups.iter().enumerate() {
            let upper = ag.a.saturating_add(kind_top(restarted_kind));
            if best.is_some_and(|b| upper.saturating_add(top) <= b)
                && best_alone.is_some_and(|b| upper <= b)
            {
                break; // no later group takes out more
            }
            if i >= kind.aa_exact {
                raise(&mut best, upper.saturating_add(top));
                raise(&mut best_alone, upper);
                break;
            }
            let (members, down, mult) = self.group_facts[ag.gid as usize];
            // Members restarted before v when `on` failed hosts run one:
            // at most all but v of those displaced.
            let restart_term = |on: i64| {
                let displaced = on.saturating_mul(mult).saturating_add(down);
                let restarted = (members - 1).min(displaced - 1).max(0) as usize;
                let last = ag.top.len() - 1;
                if restarted <= last {
                    ag.top[restarted]
                } else if ag.top_whole {
                    ag.top[last]
                } else {
                    // The i-th largest of a subset is at most the i-th
                    // largest of all.
                    ag.top[last] + kind_top(restarted) - kind_top(last)
                }
            };
            // Whether or not a completion displaces one (more only
            // weakens the claim).
            let alone = ag.a + restart_term(k);
            raise(&mut best_alone, alone);
            if best.is_some_and(|b| alone.saturating_add(top) <= b) {
                continue; // the failed hosts add at most `top`
            }
            let peers = &self.group_peers[ag.gid as usize];
            for &t in peers {
                peer[t] = true;
            }
            let w = |h: HostId| g[h * nres + self.r1] + if peer[h] { 0 } else { kind.value[h] };
            let worst = self.worst_with_members(p, open, &peer, ag, &w, &restart_term);
            for &t in peers {
                peer[t] = false;
            }
            if let Some(f) = worst {
                raise(&mut best, ag.a.saturating_add(f));
            }
        }
        Some((best?.saturating_sub(top), best_alone?))
    }

    /// The worst `Σ_F w` plus `restart(j)` over the completions F of `p`
    /// that fail a host of `ag.hosts` (any, when a VM of them is on a host
    /// already down), j the hosts of F running a member of the group
    /// (`peer`): those displace at most j·m_G members, so a set of few
    /// of them leaves few members to restart before v. `None` when no
    /// completion displaces a VM of the type in the group.
    fn worst_with_members(
        &self,
        p: &Partial,
        open: &[bool],
        peer: &[bool],
        ag: &AaGroup,
        w: &dyn Fn(HostId) -> i64,
        restart: &dyn Fn(i64) -> i64,
    ) -> Option<i64> {
        let fixed: i64 = p.chosen.iter().map(|&h| w(h)).sum();
        let on_chosen = p.chosen.iter().filter(|&&h| peer[h]).count() as i64;
        let in_h = |h: &HostId| ag.hosts.binary_search(h).is_ok();
        // A host running a VM of the type in G that is not a peer (never
        // so: they run a member) would escape the split below: then the
        // constraint is left out, which only weakens the bound.
        let hit = ag.on_down
            || p.chosen.iter().any(in_h)
            || ag.hosts.iter().any(|&h| open[h] && !peer[h]);
        // The rest split into the group's hosts (w, runs a VM of the type
        // in G), largest first, VMs of the type first among equals, and
        // the others' largest.
        let m = p.m.min(p.rest.len());
        let mut pg: Vec<(i64, bool)> = Vec::new();
        let mut np: Vec<i64> = Vec::with_capacity(p.rest.len());
        for &h in p.rest {
            if peer[h] {
                pg.push((w(h), in_h(&h)));
            } else {
                np.push(w(h));
            }
        }
        pg.sort_unstable_by(|a, b| b.cmp(a));
        let nm = m.min(np.len());
        if nm > 0 && nm < np.len() {
            np.select_nth_unstable_by(nm - 1, |a, b| b.cmp(a));
        }
        np.truncate(nm);
        np.sort_unstable_by(|a, b| b.cmp(a));
        let mut b_prefix = vec![0i64];
        for &x in &np {
            b_prefix.push(b_prefix.last().unwrap() + x);
        }
        let first_h = pg.iter().position(|x| x.1);
        let mut a_prefix = vec![0i64];
        let mut best: Option<i64> = None;
        for j in 0..=m.min(pg.len()) {
            if j > 0 {
                a_prefix.push(a_prefix[j - 1] + pg[j - 1].0);
            }
            if m - j >= b_prefix.len() {
                continue; // too few hosts outside the group
            }
            let from_group = if hit || first_h.is_some_and(|f| f < j) {
                a_prefix[j]
            } else if let (Some(f), true) = (first_h, j > 0) {
                a_prefix[j - 1] + pg[f].0
            } else {
                continue; // no VM of the type in G displaced
            };
            let total = fixed + from_group + b_prefix[m - j] + restart(on_chosen + j as i64);
            best = Some(best.map_or(total, |b| b.max(total)));
        }
        best
    }

    /// Whether FFD by this resource provably succeeds on every completion.
    fn proves(&self, p: &Partial, open: &[bool]) -> bool {
        let nres = self.nres;
        let r1 = self.r1;
        let mut scratch: Vec<i64> = Vec::with_capacity(p.rest.len());
        // Budgets per (level, resource): the most demand of VMs at least that
        // large in r1 that any completion displaces.
        let mut budget_cache: HashMap<(usize, usize), i64> = HashMap::new();
        let mut budget = |level: usize, r: usize, scratch: &mut Vec<i64>| -> i64 {
            *budget_cache.entry((level, r)).or_insert_with(|| {
                let g = &self.ge[level];
                let fixed: i64 = p.chosen.iter().map(|&h| g[h * nres + r]).sum();
                scratch.clear();
                scratch.extend(p.rest.iter().map(|&h| g[h * nres + r]));
                self.ge_down[level][r] + fixed + top_sum(scratch, p.m)
            })
        };
        let mut ys: Vec<i64> = Vec::with_capacity(nres);
        // The joint bounds cost a pass over the hosts per resource: asked
        // only of whole sizes (no host chosen), where a proof settles every
        // set of the size.
        let shallow = p.chosen.is_empty();
        for kind in &self.kinds {
            if !kind.on_down && !kind.hosts.iter().any(|&h| open[h]) {
                continue; // no completion displaces a VM of this type
            }
            let g = &self.ge[kind.level];
            // Σ over F of (value + ge[r1]): fixed part and the worst rest.
            let fixed: i64 = p
                .chosen
                .iter()
                .map(|&h| kind.value[h] + g[h * nres + r1])
                .sum();
            scratch.clear();
            scratch.extend(p.rest.iter().map(|&h| kind.value[h] + g[h * nres + r1]));
            let worst = fixed + top_sum(&mut scratch, p.m) + self.ge_down[kind.level][r1];
            // Saturating: with many resources the sum of knapsacks may pass
            // i64, and a larger `removed` only weakens the claim.
            let k = p.chosen.len() + p.m;
            let displaced = (k as i64).saturating_mul(kind.gmult) + kind.gdown;
            let restarted = ((kind.gmax - 1).min(displaced - 1)).max(0) as usize;
            let aa = kind.aa_fixed + kind.aa_top[restarted.min(kind.aa_top.len() - 1)];
            ys.clear();
            for k in &kind.knap {
                ys.push(if kind.free[k.r] {
                    0
                } else {
                    budget(kind.level, k.r, &mut scratch) - kind.dmin[k.r]
                });
            }
            let separate = kind
                .knap
                .iter()
                .zip(&ys)
                .fold(0i64, |a, (k, &y)| a.saturating_add(k.best(y)));
            // value_total − Σ_F value − AA − knapsacks > Σ_F ge[r1] + ge_down − d1
            let slack = kind.value_total as i128 - worst as i128 + kind.d1 as i128;
            // Counted group by group when the plain count fails: a failed
            // host running a member of v's group leaves the count once, a
            // group blocks only its own hosts and those its own members
            // restart on, and a VM of the group is displaced only by a set
            // running one (the joint bound with the failed hosts has its
            // own way of choosing them).
            let (aa, aa_alone) = if slack - aa as i128 - separate as i128 > 0 {
                (aa, aa)
            } else {
                let top = worst - self.ge_down[kind.level][r1];
                match self.aa_by_group(kind, p, open, top, restarted) {
                    Some(x) => x,
                    None => continue, // no completion displaces one
                }
            };
            let margin = |knapsacks: i128| slack - aa as i128 - knapsacks;
            if margin(separate as i128) <= 0
                && (!shallow
                    || (kind.knap.len() < 2 || margin(kind.joint.bound(&ys)) <= 0)
                        && !self.proves_jointly(kind, p, &ys, aa_alone))
            {
                return false;
            }
        }
        true
    }
}

/// Anti-affinity groups of a type counted one by one at least in
/// [`Order::aa_by_group`], or as many as take [`AA_STEPS`] host-steps.
const AA_EXACT: usize = 32;
const AA_STEPS: usize = 20_000;
/// The members restarted before v counted on the hosts outside their
/// group's, per group: at most this many (the rest as for the type).
const AA_TOP_CAP: usize = 64;

/// The fixed-point scale of the joint bound's exact evaluation.
const SCALE: i128 = 1 << 32;

/// Multipliers λ as exact integers P / SCALE, rounded down (an infinite,
/// negative or NaN λ becomes 0: any λ ≥ 0 keeps the bound sound).
fn fixed_point(lambda: &[f64]) -> Vec<i128> {
    lambda
        .iter()
        .map(|&l| {
            if l.is_finite() && l > 0.0 {
                (l * SCALE as f64).min((1u128 << 72) as f64) as i128
            } else {
                0
            }
        })
        .collect()
}

/// The coordinate-descent step of the joint knapsack bound: over the
/// breakpoints `(λ, cost)`, the largest λ at which the costs of the
/// breakpoints at or above it exceed `budget` (the bound's slope in λ turns
/// non-negative there), or 0 when they never do.
fn breakpoint_past(bps: &mut [(f64, i64)], budget: i64) -> f64 {
    bps.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let budget = budget.max(0);
    let mut acc = 0i64;
    for &(bp, c) in bps.iter() {
        acc = acc.saturating_add(c);
        if acc > budget {
            return bp;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The most the blocked hosts (each in at most one knapsack, within
    /// its budget) and the failed ones (`chosen`, and at most `m` of
    /// `rest`; never also blocked) take out, by trying every assignment.
    fn joint_by_hand(
        items: &[Vec<(i64, i64)>],
        y: &[i64],
        chosen: &[HostId],
        rest: &[HostId],
        m: usize,
        w: &[i64],
    ) -> i64 {
        let nk = y.len();
        let nh = w.len();
        // Per host: 0 none, 1..=nk blocked in knapsack j - 1, nk + 1 failed.
        let mut choice = vec![0usize; nh];
        let mut best = i64::MIN;
        loop {
            let mut spent = vec![0i64; nk];
            let mut got = 0i64;
            let mut failed = 0;
            let mut ok = true;
            for h in 0..nh {
                let is_chosen = chosen.contains(&h);
                match choice[h] {
                    c if is_chosen && c != nk + 1 => ok = false,
                    0 => {}
                    c if c == nk + 1 => {
                        if !is_chosen {
                            if !rest.contains(&h) {
                                ok = false;
                            }
                            failed += 1;
                        }
                        got += w[h];
                    }
                    c => {
                        let (cost, value) = items[h][c - 1];
                        if value <= 0 {
                            ok = false;
                        }
                        spent[c - 1] += cost;
                        got += value;
                    }
                }
            }
            if ok && failed <= m && (0..nk).all(|j| spent[j] <= y[j].max(0)) {
                best = best.max(got);
            }
            // Next assignment.
            let mut h = 0;
            while h < nh && choice[h] == nk + 1 {
                choice[h] = 0;
                h += 1;
            }
            if h == nh {
                return best;
            }
            choice[h] += 1;
        }
    }

    fn knapsacks(items: &[Vec<(i64, i64)>], nk: usize) -> Vec<Knapsack> {
        (0..nk)
            .map(|j| {
                let mut hs: Vec<(i64, i64, usize)> = items
                    .iter()
                    .enumerate()
                    .map(|(h, row)| (row[j].0, row[j].1, h))
                    .filter(|&(_, v, _)| v > 0)
                    .collect();
                hs.sort_by(|a, b| (b.1 as i128 * a.0 as i128).cmp(&(a.1 as i128 * b.0 as i128)));
                let mut k = Knapsack {
                    r: j,
                    cost_prefix: vec![0],
                    value_prefix: vec![0],
                    ..Default::default()
                };
                for (cost, val, h) in hs {
                    k.cost_prefix.push(k.cost_prefix.last().unwrap() + cost);
                    k.value_prefix.push(k.value_prefix.last().unwrap() + val);
                    k.cost.push(cost);
                    k.value.push(val);
                    k.host.push(h as u32);
                }
                k
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The joint bounds are upper bounds of the integer problems they
        /// relax, and the plain one is never above the sum of the
        /// separate knapsacks. (Dropping `Σ λ_j·y_j`, or letting a failed
        /// host be blocked too, fails here.)
        #[test]
        fn joint_bounds_hold(
            items in prop::collection::vec(
                prop::collection::vec((0i64..6, -2i64..9), 3), 1..=6),
            nk in 1usize..=3,
            y in prop::collection::vec(-1i64..12, 3),
            w in prop::collection::vec(0i64..12, 6),
            mask in any::<u16>(),
            m in 0usize..3,
        ) {
            let nh = items.len();
            let items: Vec<Vec<(i64, i64)>> =
                items.into_iter().map(|row| row[..nk].to_vec()).collect();
            let y = &y[..nk];
            let w = &w[..nh];
            let knap = knapsacks(&items, nk);
            let joint = Joint::new(&knap, nh);
            let alone = joint_by_hand(&items, y, &[], &[], 0, w);
            let b = joint.bound(y);
            prop_assert!(b >= alone as i128, "bound {b} < {alone}");
            let separate: i64 = knap.iter().zip(y).map(|(k, &y)| k.best(y)).sum();
            prop_assert!(b <= separate as i128 + 1, "bound {b} > separate {separate}");
            let chosen: Vec<HostId> = (0..nh).filter(|h| mask & (1 << h) != 0).collect();
            let rest: Vec<HostId> =
                (0..nh).filter(|h| !chosen.contains(h) && mask & (1 << (h + 8)) != 0).collect();
            let m = m.min(rest.len());
            let with = joint_by_hand(&items, y, &chosen, &rest, m, w);
            let wf = |h: HostId| w[h];
            let b = joint.bound_with_failed(y, &chosen, &rest, m, &wf);
            prop_assert!(b >= with as i128, "bound {b} < {with}");
        }
    }

    /// A pool of the given host and VM objects (JSON text).
    fn pool_of(hosts: &[String], vms: &[String]) -> Pool {
        let text = format!(
            r#"{{"name":"p","hosts":[{}],"vms":[{}]}}"#,
            hosts.join(","),
            vms.join(",")
        );
        crate::parse_pool(&text).unwrap()
    }

    /// Five hosts of 100 with 20 spare, VMs of 10; h3 and h4 have a GPU,
    /// h3's taken by a VM of 10 and one GPU. Any one host can fail (its 80
    /// fill the others' 80 exactly, the GPU VM going to h4). The GPU VM's
    /// GPU is budget for the GPU knapsack of the memory-only VMs, and the
    /// hosts without GPUs cost 1 there: taking one out of the count leaves
    /// too little. But no host blocks a VM that needs no GPU in GPUs.
    #[test]
    fn a_resource_a_kind_does_not_need_blocks_none_of_it() {
        let mut hosts = Vec::new();
        let mut vms = Vec::new();
        for h in 0..5 {
            let gpus = if h >= 3 { r#","gpus":1"# } else { "" };
            hosts.push(format!(
                r#"{{"name":"h{h}","capacity":{{"memory_mib":100{gpus}}}}}"#
            ));
            for i in 0..8 {
                let gpu = if h == 3 && i == 0 { r#","gpus":1"# } else { "" };
                vms.push(format!(
                    r#"{{"name":"v{h}-{i}","host":"h{h}","demand":{{"memory_mib":10{gpu}}}}}"#
                ));
            }
        }
        let pool = pool_of(&hosts, &vms);
        let an = Analysis::new(&pool);
        let sb = SetBounds::new(&an);
        let cands: Vec<HostId> = (0..5).collect();
        assert!(sb.all_of_size(&cands, 1));
        assert!(!sb.all_of_size(&cands, 2));
    }

    /// Six hosts, each short of one of three resources (24 of it, 60 of
    /// the others, and the capacity `extra(h)` adds), each running four
    /// VMs of 8 in one of the other two and 1 in the rest.
    fn skewed_six(extra: impl Fn(usize) -> String) -> (Vec<String>, Vec<String>) {
        let res = ["memory_mib", "vcpus", "disk_gib"];
        let mut hosts = Vec::new();
        let mut vms = Vec::new();
        for h in 0..6 {
            let cap: Vec<String> = (0..3)
                .map(|r| format!(r#""{}":{}"#, res[r], if r == h % 3 { 24 } else { 60 }))
                .collect();
            hosts.push(format!(
                r#"{{"name":"h{h}","capacity":{{{}{}}}}}"#,
                cap.join(","),
                extra(h)
            ));
            for i in 0..4 {
                let big = (h + 1 + i % 2) % 3;
                let dem: Vec<String> = (0..3)
                    .map(|r| format!(r#""{}":{}"#, res[r], if r == big { 8 } else { 1 }))
                    .collect();
                vms.push(format!(
                    r#"{{"name":"v{h}-{i}","host":"h{h}","demand":{{{}}}}}"#,
                    dem.join(",")
                ));
            }
        }
        (hosts, vms)
    }

    /// The six hosts of `skewed_six`: the one-resource view charges every
    /// VM its largest share in the host's short resource too, the
    /// resource-by-resource orders meet every host blocked in some other
    /// resource; counted in the weight but blocked in the vectors, the
    /// hosts short of a VM's large resource are the only ones it fills
    /// quickly.
    #[test]
    fn vector_blocking_proves_what_the_one_resource_view_cannot() {
        let (hosts, vms) = skewed_six(|_| String::new());
        let pool = pool_of(&hosts, &vms);
        let an = Analysis::new(&pool);
        let sb = SetBounds::new(&an);
        let cands: Vec<HostId> = (0..6).collect();
        let mut without = sb.clone();
        without.orders.retain(|o| !o.vector);
        // Any two hosts can fail: each survivor takes two of the eight VMs,
        // at most 16 of its 20 spare in any resource.
        assert!(sb.all_of_size(&cands, 2));
        assert!(!without.all_of_size(&cands, 2));
    }

    /// A resource a kind does not need does not cap its count: three of
    /// the hosts above have no GPUs, and one VM needs one. Without GPUs in
    /// the min, the VMs that need none count those three hosts in full.
    #[test]
    fn a_gpu_no_vm_of_the_kind_needs_leaves_its_weighted_count_whole() {
        let (hosts, mut vms) = skewed_six(|h| format!(r#","gpu":{}"#, if h < 3 { 100 } else { 0 }));
        vms.push(
            r#"{"name":"gvm","host":"h0","demand":{"memory_mib":9,"vcpus":1,"disk_gib":1,"gpu":1}}"#
                .to_string(),
        );
        let pool = pool_of(&hosts, &vms);
        let an = Analysis::new(&pool);
        let sb = SetBounds::new(&an);
        let cands: Vec<HostId> = (0..6).collect();
        assert!(sb.all_of_size(&cands, 2));
    }

    /// VMs of one size across the cut of the largest stay below it: 400
    /// VMs of the largest size, each of its own demand, make no more
    /// kinds than the buckets allow (one kind each would be 400).
    #[test]
    fn the_largest_vms_apart_are_at_most_top() {
        let hosts: Vec<String> = (0..10)
            .map(|h| {
                format!(r#"{{"name":"h{h}","capacity":{{"memory_mib":100000,"vcpus":100000}}}}"#)
            })
            .collect();
        let mut vms = Vec::new();
        for i in 0..30 {
            vms.push(format!(
                r#"{{"name":"s{i}","host":"h{}","demand":{{"memory_mib":{},"vcpus":1}}}}"#,
                i % 10,
                i + 1
            ));
        }
        for i in 0..400 {
            vms.push(format!(
                r#"{{"name":"b{i}","host":"h{}","demand":{{"memory_mib":1000,"vcpus":{}}}}}"#,
                i % 10,
                i + 1
            ));
        }
        let pool = pool_of(&hosts, &vms);
        let an = Analysis::new(&pool);
        let sb = SetBounds::new(&an);
        for o in sb.orders.iter().filter(|o| !o.shallow_only) {
            assert!(
                o.kinds.len() <= MAX_LEVELS * MAX_CLASSES + TOP_VMS,
                "{} kinds",
                o.kinds.len()
            );
        }
    }

    /// Every block condition counts, per host, `Σ floor(d / u)` over its
    /// displaceable VMs (a VM of exactly u counts one block), plus the
    /// host's room in blocks when it receives; with no time left only
    /// block size 1 remains, for every resource.
    #[test]
    fn block_counts_are_the_sum_of_floors() {
        let pool = crate::parse_pool(
            r#"{"name":"u","hosts":[
                {"name":"a","capacity":{"memory_mib":100,"vcpus":16}},
                {"name":"b","capacity":{"memory_mib":90,"vcpus":16}},
                {"name":"c","capacity":{"memory_mib":80,"vcpus":16},"state":"down"},
                {"name":"d","capacity":{"memory_mib":70,"vcpus":16}}],
              "vms":[
                {"name":"a1","host":"a","demand":{"memory_mib":30,"vcpus":3}},
                {"name":"a2","host":"a","demand":{"memory_mib":12,"vcpus":2}},
                {"name":"a3","host":"a","demand":{"memory_mib":7,"vcpus":1}},
                {"name":"b1","host":"b","demand":{"memory_mib":12,"vcpus":4}},
                {"name":"b2","host":"b","demand":{"memory_mib":25,"vcpus":3}},
                {"name":"c1","host":"c","demand":{"memory_mib":7,"vcpus":2}},
                {"name":"d1","host":"d","demand":{"memory_mib":30,"vcpus":1}}]}"#,
        )
        .unwrap();
        let an = Analysis::new(&pool);
        let sb = SetBounds::new(&an);
        let sizes = |r: usize| {
            let mut s: Vec<i64> = pool.vms.iter().map(|v| v.demand[r]).collect();
            s.push(1);
            s.sort_unstable();
            s.dedup();
            s
        };
        for r in 0..pool.resources.len() {
            let got: Vec<i64> = sb.units.iter().filter(|u| u.r == r).map(|u| u.u).collect();
            assert_eq!(got, sizes(r), "resource {r}");
        }
        for unit in &sb.units {
            let blocks = |h: HostId| -> i64 {
                an.items[h]
                    .iter()
                    .map(|&v| pool.vms[v].demand[unit.r] / unit.u)
                    .sum()
            };
            let mut slack = 0;
            for h in 0..pool.hosts.len() {
                let room = if an.receives[h] {
                    an.spare[h][unit.r] / unit.u
                } else {
                    0
                };
                slack += room;
                if pool.hosts[h].state == HostState::Down {
                    slack -= blocks(h);
                    assert_eq!(unit.loss[h], room);
                } else {
                    assert_eq!(unit.displaced[h], blocks(h), "{} u {}", h, unit.u);
                    assert_eq!(unit.loss[h], blocks(h) + room);
                }
            }
            assert_eq!(unit.slack, slack, "u {}", unit.u);
        }
        let spent = crate::pack::Budget {
            deadline: Some(std::time::Instant::now()),
            cancel: None,
        };
        // A pool this small keeps every bound with no time left.
        let quick = SetBounds::within(&an, &spent);
        assert_eq!(quick.units.len(), sb.units.len());
        assert_eq!(quick.orders.len(), sb.orders.len());
    }
}
