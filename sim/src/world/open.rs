//! Open swarms (issue #14): the lifecycle events beyond joining and finishing — a seeder that
//! seeds for a while and goes, a leecher that gives up unfinished — and the swarm's time
//! series (`series.csv`: leechers, seeds, upload rates), the quantities the Qiu–Srikant
//! fluid model predicts. Arrivals need nothing here: the scenario expands them into nodes
//! with fixed join times.

use engine_core::time::Duration;
use scenario::result::SeriesPoint;
use scenario::{Abort, Leave, Role};

use super::{Event, World};

/// What the open-swarm bookkeeping keeps between events.
#[derive(Default)]
pub(super) struct OpenState {
    /// The series' step, if the run records one.
    step: Option<Duration>,
    /// Each node's block bytes uploaded at the previous series point.
    uploaded_then: Vec<u64>,
    aborted: u32,
    series: Vec<SeriesPoint>,
}

impl OpenState {
    pub(super) fn new(step: Option<Duration>, nodes: usize) -> Self {
        OpenState {
            step,
            uploaded_then: vec![0; nodes],
            ..OpenState::default()
        }
    }

    pub(super) fn records_series(&self) -> bool {
        self.step.is_some()
    }

    pub(super) fn take_series(&mut self) -> Vec<SeriesPoint> {
        std::mem::take(&mut self.series)
    }
}

impl World {
    /// After a join: a seeder with a seeding time leaves when it is up; a leecher with an
    /// abort time gives up then unless it has finished.
    pub(super) fn schedule_departures(&mut self, n: u32) {
        let spec = &self.nodes[n as usize].spec;
        match (spec.role, spec.leave, spec.abort) {
            (Role::Seeder, Leave::After(d) | Leave::Exponential(d), _) => {
                self.push(self.now + d.0, Event::Leave(n))
            }
            (Role::Leecher, _, Some(Abort::After(d) | Abort::Exponential(d))) => {
                self.push(self.now + d.0, Event::Abort(n))
            }
            _ => {}
        }
    }

    /// Node `n`'s patience ran out: it leaves if it is still downloading.
    pub(super) fn abort(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        if node.torrent.is_some() && node.completed_at.is_none() {
            self.open.aborted += 1;
            self.leave(n);
        }
    }

    /// Records one point of the time series and schedules the next.
    pub(super) fn series_point(&mut self) {
        let Some(step) = self.open.step else {
            return;
        };
        let mut p = SeriesPoint {
            time_s: self.now.as_secs_f64(),
            leechers: 0,
            seeds: 0,
            seeders: 0,
            upload_bps: 0.0,
            leecher_upload_bps: 0.0,
            arrived: 0,
            completed: 0,
            aborted: self.open.aborted,
        };
        let secs = step.as_secs_f64();
        for (node, then) in self.nodes.iter().zip(&mut self.open.uploaded_then) {
            let leecher = node.spec.role == Role::Leecher;
            let downloading = leecher && node.completed_at.is_none();
            if leecher && node.join_at.is_some_and(|t| t <= self.now) {
                p.arrived += 1;
                p.completed += node.completed_at.is_some() as u32;
            }
            let rate = (node.uploaded - *then) as f64 / secs;
            *then = node.uploaded;
            p.upload_bps += rate;
            if node.torrent.is_some() {
                if downloading {
                    p.leechers += 1;
                    p.leecher_upload_bps += rate;
                } else if leecher {
                    p.seeds += 1;
                } else {
                    p.seeders += 1;
                }
            }
        }
        self.open.series.push(p);
        self.push(self.now + step, Event::Series);
    }
}
