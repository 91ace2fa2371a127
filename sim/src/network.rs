//! Flow-level network model: max–min fair rates for the active block transfers.
//!
//! Each active flow `a → b` is limited by three resources: `a`'s upload capacity (shared by its
//! active out-flows), `b`'s download capacity (shared by its active in-flows) and an optional
//! per-flow cap set by `a`'s allocator. Progressive filling gives the max–min fair allocation,
//! the fixed point TCP-like sharing approaches. A heap of resource saturation levels makes one
//! solve `O(F log R)`; ties break on resource index, so results are deterministic.

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
        self.members.resize_with(r_count, Vec::new);
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
        for r in 0..r_count {
            if self.unfrozen[r] > 0 {
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
                for r2 in [f.from, n + f.to, 2 * n + fi] {
                    self.frozen_sum[r2] += lvl;
                    self.unfrozen[r2] -= 1;
                    if r2 != r && self.unfrozen[r2] > 0 {
                        self.heap.push(Level(self.level(r2), r2));
                    }
                }
            }
        }
    }

    fn level(&self, r: usize) -> f64 {
        ((self.cap[r] - self.frozen_sum[r]) / self.unfrozen[r] as f64).max(0.0)
    }
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
}
