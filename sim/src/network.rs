//! Flow-level network model: max–min fair rates for the active block transfers.
//!
//! Each active flow `a → b` is limited by three resources: `a`'s upload capacity (shared by its
//! active out-flows), `b`'s download capacity (shared by its active in-flows) and an optional
//! per-flow cap set by `a`'s allocator. Progressive filling gives the max–min fair allocation,
//! the fixed point TCP-like sharing approaches. A heap of resource saturation levels makes one
//! solve `O(F log R)`; ties break on resource index, so results are deterministic.
//!
//! [`Network`] keeps the allocation up to date incrementally: a change re-solves only the flows
//! sharing an endpoint with it, holding all other flows at their rates, and widens to the
//! neighbours of every flow whose rate moved until nothing more moves. A flow outside that set
//! sees no change on any of its resources, so it keeps its bottleneck and the result is the
//! global max–min allocation (a property test checks this against a full solve).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One active flow as the solver sees it.
#[derive(Clone, Copy, Debug)]
pub struct FlowDemand {
    pub from: usize,
    pub to: usize,
    pub cap: Option<f64>,
}

#[derive(PartialEq)]
struct Level(f64, usize);
impl Eq for Level {}
impl PartialOrd for Level {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Level {
    // Min-heap on (level, resource).
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

/// Reusable buffers for [`Solver::solve`], so repeated solves don't allocate.
#[derive(Default)]
pub struct Solver {
    cap: Vec<f64>,
    frozen_sum: Vec<f64>,
    unfrozen: Vec<u32>,
    members: Vec<Vec<usize>>,
    done: Vec<bool>,
    heap: BinaryHeap<Level>,
}

impl Solver {
    /// Max–min fair rates for `flows` given per-node `up` and `down` capacities (bytes/s).
    pub fn solve(&mut self, flows: &[FlowDemand], up: &[f64], down: &[f64], rates: &mut Vec<f64>) {
        let n = up.len();
        let r_count = 2 * n + flows.len();
        self.cap.clear();
        self.cap.extend_from_slice(up);
        self.cap.extend_from_slice(down);
        self.frozen_sum.clear();
        self.frozen_sum.resize(r_count, 0.0);
        self.unfrozen.clear();
        self.unfrozen.resize(r_count, 0);
        // Grow only: truncating would free member lists the next, larger solve reallocates.
        if self.members.len() < r_count {
            self.members.resize_with(r_count, Vec::new);
        }
        for m in &mut self.members[..r_count] {
            m.clear();
        }
        for (i, f) in flows.iter().enumerate() {
            self.cap.push(f.cap.unwrap_or(f64::INFINITY));
            for r in [f.from, n + f.to, 2 * n + i] {
                self.members[r].push(i);
                self.unfrozen[r] += 1;
            }
        }
        rates.clear();
        rates.resize(flows.len(), 0.0);
        self.done.clear();
        self.done.resize(flows.len(), false);
        self.heap.clear();
        // Uncapped flows' own resources never saturate first: every flow also crosses two finite
        // node resources, so leaving them out of the heap changes nothing but the work.
        for r in 0..r_count {
            if self.unfrozen[r] > 0 && self.cap[r].is_finite() {
                self.heap.push(Level(self.level(r), r));
            }
        }
        while let Some(Level(lvl, r)) = self.heap.pop() {
            if self.unfrozen[r] == 0 {
                continue;
            }
            let current = self.level(r);
            if current != lvl {
                self.heap.push(Level(current, r));
                continue;
            }
            for k in 0..self.members[r].len() {
                let fi = self.members[r][k];
                if self.done[fi] {
                    continue;
                }
                self.done[fi] = true;
                rates[fi] = lvl;
                let f = flows[fi];
                // A resource's level never falls as flows freeze at the water level, so its
                // heap entry may go stale low: it is refreshed when popped, not here.
                for r2 in [f.from, n + f.to, 2 * n + fi] {
                    self.frozen_sum[r2] += lvl;
                    self.unfrozen[r2] -= 1;
                }
            }
        }
    }

    fn level(&self, r: usize) -> f64 {
        ((self.cap[r] - self.frozen_sum[r]) / self.unfrozen[r] as f64).max(0.0)
    }
}

/// Rates within this relative distance count as unchanged, so float noise from re-solving a
/// subset does not ripple through the whole swarm.
const RATE_EPS: f64 = 1e-9;

#[derive(Clone, Copy, Debug)]
struct NetFlow {
    from: u32,
    to: u32,
    cap: Option<f64>,
    rate: f64,
    active: bool,
}

/// Buffers reused across [`Network::resolve`] calls, so steady-state solves don't allocate.
#[derive(Default)]
struct Scratch {
    subset: Vec<u32>,
    rates: Vec<f64>,
    up_cap: Vec<Resource>,
    down_cap: Vec<Resource>,
    demands: Vec<FlowDemand>,
    up_all: Vec<f64>,
    down_all: Vec<f64>,
    load: Vec<f64>,
    fastest: Vec<f64>,
    grow_up: Vec<u32>,
    grow_down: Vec<u32>,
}

/// Node indices with constant-time insert and membership, reused across solves (the dirty
/// and widening sets of [`Network::resolve`]). Iteration follows insertion order, which
/// nothing depends on: the flows it selects are sorted.
#[derive(Default)]
struct NodeSet {
    members: Vec<u32>,
    present: Vec<bool>,
}

impl NodeSet {
    fn new(nodes: usize) -> Self {
        NodeSet {
            members: Vec::new(),
            present: vec![false; nodes],
        }
    }

    /// Returns whether `n` was new.
    fn insert(&mut self, n: u32) -> bool {
        let seen = std::mem::replace(&mut self.present[n as usize], true);
        if !seen {
            self.members.push(n);
        }
        !seen
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &u32> {
        self.members.iter()
    }

    fn clear(&mut self) {
        for n in self.members.drain(..) {
            self.present[n as usize] = false;
        }
    }
}

/// The set of flows with their current max–min rates, updated incrementally.
pub struct Network {
    up: Vec<f64>,
    down: Vec<f64>,
    flows: Vec<NetFlow>,
    /// Active flow ids per node, as sender and as receiver.
    out: Vec<Vec<u32>>,
    inn: Vec<Vec<u32>>,
    dirty_up: NodeSet,
    dirty_down: NodeSet,
    solver: Solver,
    /// Scratch: generation stamps marking flows in the current subset, local node indices.
    stamp: Vec<u32>,
    generation: u32,
    local_up: Vec<(u32, u32)>,
    local_down: Vec<(u32, u32)>,
    scratch: Scratch,
}

impl Network {
    /// A network of nodes with the given upload and download capacities (bytes/s).
    pub fn new(up: Vec<f64>, down: Vec<f64>) -> Self {
        let n = up.len();
        Network {
            out: vec![Vec::new(); n],
            inn: vec![Vec::new(); n],
            local_up: vec![(0, 0); n],
            local_down: vec![(0, 0); n],
            up,
            down,
            flows: Vec::new(),
            dirty_up: NodeSet::new(n),
            dirty_down: NodeSet::new(n),
            solver: Solver::default(),
            stamp: Vec::new(),
            generation: 0,
            scratch: Scratch::default(),
        }
    }

    /// Registers flow `id` (ids are dense, assigned by the caller in increasing order).
    pub fn add_flow(&mut self, id: u32, from: u32, to: u32) {
        debug_assert_eq!(id as usize, self.flows.len());
        self.flows.push(NetFlow {
            from,
            to,
            cap: None,
            rate: 0.0,
            active: false,
        });
        self.stamp.push(0);
    }

    pub fn rate(&self, id: u32) -> f64 {
        self.flows[id as usize].rate
    }

    pub fn is_active(&self, id: u32) -> bool {
        self.flows[id as usize].active
    }

    pub fn is_dirty(&self) -> bool {
        !self.dirty_up.is_empty() || !self.dirty_down.is_empty()
    }

    fn touch(&mut self, id: u32) {
        let f = self.flows[id as usize];
        self.dirty_up.insert(f.from);
        self.dirty_down.insert(f.to);
    }

    /// The flow has data to send; returns false if it already was active.
    pub fn activate(&mut self, id: u32) -> bool {
        let f = &mut self.flows[id as usize];
        if f.active {
            return false;
        }
        f.active = true;
        f.rate = 0.0;
        let (from, to) = (f.from, f.to);
        self.out[from as usize].push(id);
        self.inn[to as usize].push(id);
        self.touch(id);
        true
    }

    /// The flow has nothing to send; returns false if it already was idle.
    pub fn deactivate(&mut self, id: u32) -> bool {
        let f = &mut self.flows[id as usize];
        if !f.active {
            return false;
        }
        f.active = false;
        f.rate = 0.0;
        let (from, to) = (f.from, f.to);
        remove_id(&mut self.out[from as usize], id);
        remove_id(&mut self.inn[to as usize], id);
        self.touch(id);
        true
    }

    pub fn set_cap(&mut self, id: u32, cap: Option<f64>) {
        let f = &mut self.flows[id as usize];
        if f.cap != cap {
            f.cap = cap;
            if f.active {
                self.touch(id);
            }
        }
    }

    /// Re-solves what the changes since the last call affect; appends `(flow, new rate)` for
    /// every active flow whose rate changed.
    pub fn resolve(&mut self, changed: &mut Vec<(u32, f64)>) {
        let mut up_nodes = std::mem::take(&mut self.dirty_up);
        let mut down_nodes = std::mem::take(&mut self.dirty_down);
        let mut sc = std::mem::take(&mut self.scratch);
        loop {
            self.collect_subset(&up_nodes, &down_nodes, &mut sc.subset);
            self.solve_subset(&mut sc);
            let mut grew = false;
            for &n in &sc.grow_up {
                grew |= up_nodes.insert(n);
            }
            for &n in &sc.grow_down {
                grew |= down_nodes.insert(n);
            }
            for (k, &id) in sc.subset.iter().enumerate() {
                let f = self.flows[id as usize];
                if !same_rate(f.rate, sc.rates[k]) {
                    grew |= up_nodes.insert(f.from);
                    grew |= down_nodes.insert(f.to);
                }
            }
            if !grew {
                break;
            }
        }
        for (k, &id) in sc.subset.iter().enumerate() {
            let f = &mut self.flows[id as usize];
            if !same_rate(f.rate, sc.rates[k]) {
                f.rate = sc.rates[k];
                changed.push((id, sc.rates[k]));
            }
        }
        self.scratch = sc;
        up_nodes.clear();
        down_nodes.clear();
        self.dirty_up = up_nodes;
        self.dirty_down = down_nodes;
    }

    /// Active flows out of `up_nodes` or into `down_nodes`, sorted by id.
    fn collect_subset(&mut self, up_nodes: &NodeSet, down_nodes: &NodeSet, subset: &mut Vec<u32>) {
        self.generation = self.generation.wrapping_add(1).max(1);
        subset.clear();
        for (&node, lists) in up_nodes
            .iter()
            .map(|n| (n, &self.out))
            .chain(down_nodes.iter().map(|n| (n, &self.inn)))
        {
            for &id in &lists[node as usize] {
                if self.stamp[id as usize] != self.generation {
                    self.stamp[id as usize] = self.generation;
                    subset.push(id);
                }
            }
        }
        subset.sort_unstable();
    }

    /// Max–min rates for `sc.subset` with every other active flow held at its current rate,
    /// into `sc.rates`. Also fills `sc.grow_up`/`sc.grow_down` with the nodes whose resource is
    /// saturated by the subset while an outside flow on it runs faster than every subset flow
    /// there: that outside flow must give way, so those nodes join the subset.
    fn solve_subset(&mut self, sc: &mut Scratch) {
        let gen = self.generation;
        sc.up_cap.clear();
        sc.down_cap.clear();
        sc.demands.clear();
        for &id in &sc.subset {
            let f = self.flows[id as usize];
            let from = local_index(&mut self.local_up, f.from, gen, &mut sc.up_cap, || {
                residual(
                    self.up[f.from as usize],
                    &self.out[f.from as usize],
                    &self.flows,
                    &self.stamp,
                    gen,
                )
            });
            let to = local_index(&mut self.local_down, f.to, gen, &mut sc.down_cap, || {
                residual(
                    self.down[f.to as usize],
                    &self.inn[f.to as usize],
                    &self.flows,
                    &self.stamp,
                    gen,
                )
            });
            sc.demands.push(FlowDemand {
                from,
                to,
                cap: f.cap,
            });
        }
        // The solver indexes uploaders and receivers on one node axis; give them disjoint ranges.
        let n_up = sc.up_cap.len();
        let n = n_up + sc.down_cap.len();
        sc.up_all.clear();
        sc.up_all.extend(sc.up_cap.iter().map(|r| r.residual));
        sc.up_all.resize(n, 0.0);
        sc.down_all.clear();
        sc.down_all.resize(n_up, 0.0);
        sc.down_all.extend(sc.down_cap.iter().map(|r| r.residual));
        for d in &mut sc.demands {
            d.to += n_up;
        }
        self.solver
            .solve(&sc.demands, &sc.up_all, &sc.down_all, &mut sc.rates);

        // Load and fastest subset flow per local resource.
        sc.load.clear();
        sc.load.resize(n, 0.0);
        sc.fastest.clear();
        sc.fastest.resize(n, 0.0);
        for (d, &r) in sc.demands.iter().zip(sc.rates.iter()) {
            for i in [d.from, d.to] {
                sc.load[i] += r;
                sc.fastest[i] = sc.fastest[i].max(r);
            }
        }
        let (load, fastest) = (&sc.load, &sc.fastest);
        let blocked = |i: usize, res: &Resource| {
            load[i] >= res.residual * (1.0 - 1e-9) - 1e-9
                && res.max_outside > fastest[i] * (1.0 + 1e-9) + 1e-9
        };
        sc.grow_up.clear();
        sc.grow_down.clear();
        for &id in &sc.subset {
            let f = self.flows[id as usize];
            let (ui, di) = (
                self.local_up[f.from as usize].1 as usize,
                self.local_down[f.to as usize].1 as usize,
            );
            if blocked(ui, &sc.up_cap[ui]) {
                sc.grow_up.push(f.from);
            }
            if blocked(n_up + di, &sc.down_cap[di]) {
                sc.grow_down.push(f.to);
            }
        }
    }

    /// Sum of rates per node over active flows, for invariant checks.
    pub fn loads(&self) -> (Vec<f64>, Vec<f64>) {
        let sum = |lists: &Vec<Vec<u32>>| -> Vec<f64> {
            lists
                .iter()
                .map(|l| l.iter().map(|&id| self.flows[id as usize].rate).sum())
                .collect()
        };
        (sum(&self.out), sum(&self.inn))
    }

    /// Whether any flow exceeds its cap or any node its capacity (relative tolerance 1e-9).
    pub fn violations(&self) -> usize {
        let (out, inn) = self.loads();
        let over = |load: f64, cap: f64| load > cap * (1.0 + 1e-9) + 1e-9;
        let nodes = (0..self.up.len())
            .filter(|&i| over(out[i], self.up[i]) || over(inn[i], self.down[i]))
            .count();
        let flows = self
            .flows
            .iter()
            .filter(|f| f.active && f.cap.is_some_and(|c| over(f.rate, c)))
            .count();
        nodes + flows
    }
}

fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() <= RATE_EPS * a.abs().max(b.abs()).max(1.0)
}

fn remove_id(list: &mut Vec<u32>, id: u32) {
    if let Some(pos) = list.iter().position(|&x| x == id) {
        list.swap_remove(pos);
    }
}

/// Capacity left on a node resource after the flows outside the current subset, and the
/// largest rate among those outside flows.
fn residual(cap: f64, ids: &[u32], flows: &[NetFlow], stamp: &[u32], gen: u32) -> Resource {
    let mut fixed = 0.0;
    let mut max_outside = 0.0f64;
    for &id in ids.iter().filter(|&&id| stamp[id as usize] != gen) {
        let r = flows[id as usize].rate;
        fixed += r;
        max_outside = max_outside.max(r);
    }
    Resource {
        residual: (cap - fixed).max(0.0),
        max_outside,
    }
}

/// A node resource as seen by one subset solve.
#[derive(Clone, Copy, Debug)]
struct Resource {
    residual: f64,
    max_outside: f64,
}

/// Maps a node to its index in the subset's capacity list, computing its residual once.
fn local_index(
    map: &mut [(u32, u32)],
    node: u32,
    gen: u32,
    caps: &mut Vec<Resource>,
    residual: impl FnOnce() -> Resource,
) -> usize {
    let slot = &mut map[node as usize];
    if slot.0 != gen {
        *slot = (gen, caps.len() as u32);
        caps.push(residual());
    }
    slot.1 as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn solve(flows: &[FlowDemand], up: &[f64], down: &[f64]) -> Vec<f64> {
        let mut r = Vec::new();
        Solver::default().solve(flows, up, down, &mut r);
        r
    }

    fn f(from: usize, to: usize, cap: Option<f64>) -> FlowDemand {
        FlowDemand { from, to, cap }
    }

    #[test]
    fn shares_upload_then_gives_leftover_to_unconstrained() {
        // Node 0 uploads to 1 and 2; node 2 can only take 10.
        let r = solve(
            &[f(0, 1, None), f(0, 2, None)],
            &[100.0, 0.0, 0.0],
            &[1e9, 1e9, 10.0],
        );
        assert_eq!(r, vec![90.0, 10.0]);
    }

    #[test]
    fn per_flow_cap_applies_and_is_not_work_conserving() {
        let r = solve(
            &[f(0, 1, Some(20.0)), f(0, 2, Some(30.0))],
            &[100.0, 0.0, 0.0],
            &[1e9; 3],
        );
        assert_eq!(r, vec![20.0, 30.0]);
    }

    #[test]
    fn download_cap_shared_between_senders() {
        let r = solve(
            &[f(0, 2, None), f(1, 2, None)],
            &[100.0, 100.0, 0.0],
            &[0.0, 0.0, 50.0],
        );
        assert_eq!(r, vec![25.0, 25.0]);
    }

    proptest! {
        /// Feasible (no capacity exceeded) and every flow is bottlenecked somewhere.
        #[test]
        fn rates_are_feasible_and_maxmin(
            raw in proptest::collection::vec((0usize..5, 0usize..5, proptest::option::of(1.0f64..200.0)), 0..25),
            up in proptest::collection::vec(1.0f64..300.0, 5),
            down in proptest::collection::vec(1.0f64..300.0, 5),
        ) {
            let flows: Vec<_> = raw.into_iter().filter(|(a, b, _)| a != b).map(|(a, b, c)| f(a, b, c)).collect();
            let r = solve(&flows, &up, &down);
            let eps = 1e-6;
            for node in 0..5 {
                let out: f64 = flows.iter().zip(&r).filter(|(fl, _)| fl.from == node).map(|(_, x)| x).sum();
                let inn: f64 = flows.iter().zip(&r).filter(|(fl, _)| fl.to == node).map(|(_, x)| x).sum();
                prop_assert!(out <= up[node] + eps && inn <= down[node] + eps);
            }
            for (i, fl) in flows.iter().enumerate() {
                prop_assert!(fl.cap.is_none_or(|c| r[i] <= c + eps));
                let capped = fl.cap.is_some_and(|c| r[i] >= c - eps);
                let sat_up = {
                    let out: f64 = flows.iter().zip(&r).filter(|(g, _)| g.from == fl.from).map(|(_, x)| x).sum();
                    let maxr = flows.iter().zip(&r).filter(|(g, _)| g.from == fl.from).map(|(_, x)| *x).fold(0.0, f64::max);
                    out >= up[fl.from] - eps && r[i] >= maxr - eps
                };
                let sat_down = {
                    let inn: f64 = flows.iter().zip(&r).filter(|(g, _)| g.to == fl.to).map(|(_, x)| x).sum();
                    let maxr = flows.iter().zip(&r).filter(|(g, _)| g.to == fl.to).map(|(_, x)| *x).fold(0.0, f64::max);
                    inn >= down[fl.to] - eps && r[i] >= maxr - eps
                };
                prop_assert!(capped || sat_up || sat_down, "flow {i} not bottlenecked: {r:?}");
            }
        }
    }

    /// The incremental allocation equals a full solve after every change.
    #[derive(Clone, Debug)]
    enum Change {
        Toggle(usize),
        Cap(usize, Option<f64>),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (0usize..40).prop_map(Change::Toggle),
            (0usize..40, proptest::option::of(1.0f64..150.0)).prop_map(|(i, c)| Change::Cap(i, c)),
        ]
    }

    proptest! {
        #[test]
        fn incremental_matches_full_solve(
            pairs in proptest::collection::vec((0u32..8, 0u32..8), 40),
            up in proptest::collection::vec(1.0f64..300.0, 8),
            down in proptest::collection::vec(1.0f64..300.0, 8),
            changes in proptest::collection::vec(change(), 1..60),
        ) {
            let mut net = Network::new(up.clone(), down.clone());
            let mut caps = vec![None; pairs.len()];
            for (i, (a, b)) in pairs.iter().enumerate() {
                net.add_flow(i as u32, *a, *b);
            }
            let mut changed = Vec::new();
            for c in changes {
                match c {
                    Change::Toggle(i) => {
                        if !net.activate(i as u32) {
                            net.deactivate(i as u32);
                        }
                    }
                    Change::Cap(i, cap) => {
                        caps[i] = cap;
                        net.set_cap(i as u32, cap);
                    }
                }
                net.resolve(&mut changed);
                let ids: Vec<usize> = (0..pairs.len()).filter(|&i| net.is_active(i as u32)).collect();
                let demands: Vec<_> = ids.iter().map(|&i| f(pairs[i].0 as usize, pairs[i].1 as usize, caps[i])).collect();
                let full = solve(&demands, &up, &down);
                for (k, &i) in ids.iter().enumerate() {
                    let r = net.rate(i as u32);
                    prop_assert!((r - full[k]).abs() <= 1e-6 * full[k].max(1.0), "flow {i}: {r} vs {}", full[k]);
                }
                prop_assert_eq!(net.violations(), 0);
            }
        }
    }
}
