//! The directions of issue #13, in the order the report lists them: the rate policies
//! (BitTyrant, PropShare), FairTorrent, and the driver-level adversaries (large-view,
//! whitewash).

use super::stats::{
    class_ratio, class_spread, free_rider_completion, free_rider_lag, leecher_running,
    lowest_upload, max_deficit, mean_completion, policy_name,
};
use super::{Direction, Measure, Rule, Setup};
use crate::RunResult;

const PIATEK: &str = "Piatek, Isdal, Anderson, Krishnamurthy, Venkataramani: Do incentives \
                      build robustness in BitTorrent? (NSDI 2007)";
const LEVIN: &str = "Levin, LaCurts, Spring, Bhattacharjee: BitTorrent is an auction \
                     (SIGCOMM 2008)";
const SHERMAN: &str = "Sherman, Nieh, Stein: FairTorrent: bringing fairness to peer-to-peer \
                       systems (CoNEXT 2009)";

const LONE: Setup = Setup::new("zoo/bittyrant-lone", &[]);
const SELFISH: Setup = Setup::new("zoo/bittyrant-all-selfish", &[]);
const SELFISH_AS_TFT: Setup = Setup::new("zoo/bittyrant-all-selfish", &["defaults.policy=\"tft\""]);
const HEAD_TO_HEAD: Setup = Setup::new("zoo/propshare-vs-bittyrant", &[]);
const FT_CLASSES: Setup = Setup::new(
    "zoo/fairtorrent-classes",
    &["defaults.policy=\"fairtorrent\""],
);
const TFT_CLASSES: Setup = Setup::new("zoo/fairtorrent-classes", &["defaults.policy=\"tft\""]);
const FT_FREE: Setup = Setup::new(
    "zoo/fairtorrent-free-riders",
    &["defaults.policy=\"fairtorrent\""],
);
const TFT_FREE: Setup = Setup::new("zoo/fairtorrent-free-riders", &["defaults.policy=\"tft\""]);

/// The lone BitTyrant's completion minus the mean of the tft leechers of its upload class.
fn lone_tyrant_gain(r: &[&RunResult]) -> Option<f64> {
    let r = r[0];
    let up = r
        .nodes
        .iter()
        .find(|n| leecher_running(n, "bittyrant"))?
        .upload;
    let tyrant = mean_completion(r, |n| leecher_running(n, "bittyrant"))?;
    let class = mean_completion(r, |n| leecher_running(n, "tft") && n.upload == up)?;
    Some(tyrant - class)
}

/// Low-class completion with every peer selfish BitTyrant minus the same swarm on tft.
fn selfish_low_class_cost(r: &[&RunResult]) -> Option<f64> {
    let low = |r: &RunResult, policy: &str| {
        let up = lowest_upload(r);
        mean_completion(r, |n| leecher_running(n, policy) && n.upload == up)
    };
    Some(low(r[0], "bittyrant")? - low(r[1], "tft")?)
}

/// PropShare leechers' mean completion minus BitTyrant's in the same run.
fn propshare_minus_bittyrant(r: &[&RunResult]) -> Option<f64> {
    let r = r[0];
    Some(
        mean_completion(r, |n| leecher_running(n, "propshare"))?
            - mean_completion(r, |n| leecher_running(n, "bittyrant"))?,
    )
}

const SIRIVIANOS: &str = "Sirivianos, Han, Rex, Yang: Free-riding in BitTorrent networks with \
                          the large view exploit (IPTPS 2007); Locher et al.: Free riding in \
                          BitTorrent is cheap (HotNets 2006)";
const FELDMAN: &str = "Feldman, Papadimitriou, Chuang, Stoica: Free-riding and whitewashing in \
                       peer-to-peer systems (2004/2006)";

/// `large-view-ci` with `n` of its 60 leechers running large-view; at full size the same share
/// of `large-view-300`'s 300.
macro_rules! large_view {
    ($tft:literal, $lv:literal, $tft300:literal, $lv300:literal) => {
        Setup {
            file: "zoo/large-view-ci",
            set: &[
                concat!("group.2.count=", $tft),
                concat!("group.3.count=", $lv),
            ],
            full: Some((
                "zoo/large-view-300",
                &[
                    concat!("group.2.count=", $tft300),
                    concat!("group.3.count=", $lv300),
                ],
            )),
        }
    };
}
const LV_10: Setup = large_view!(54, 6, 270, 30);
const LV_40: Setup = large_view!(36, 24, 180, 120);
const LV_60: Setup = large_view!(24, 36, 120, 180);

const WASH_TFT: Setup = Setup::new("zoo/whitewash-tft", &[]);
const NO_WASH_TFT: Setup = Setup::new("zoo/whitewash-tft", &["group.4.policy=free-rider"]);
const WASH_LIAR: Setup = Setup::new("zoo/whitewash-seniority", &[]);
const NO_WASH_LIAR: Setup = Setup::new(
    "zoo/whitewash-seniority",
    &["group.4.policy=seniority-liar"],
);
const WASH_SENIOR: Setup = Setup::new(
    "zoo/whitewash-seniority",
    &[
        "group.4.policy=whitewash:every=5min,base=seniority",
        "group.4.online_days=30",
    ],
);
const NO_WASH_SENIOR: Setup = Setup::new(
    "zoo/whitewash-seniority",
    &["group.4.policy=seniority", "group.4.online_days=30"],
);

/// `whitewash-seniority`'s four 7-day leechers (groups 3 and 4) all lying, or all honest,
/// under seniority variant `$v`: the same nodes, joins and bandwidths either way.
macro_rules! liars {
    ($v:literal) => {
        [
            Setup::new(
                "zoo/whitewash-seniority",
                &[
                    "group.4.policy=seniority-liar",
                    concat!("engine.seniority=", $v),
                ],
            ),
            Setup::new(
                "zoo/whitewash-seniority",
                &[
                    "group.3.policy=seniority",
                    "group.4.policy=seniority",
                    concat!("engine.seniority=", $v),
                ],
            ),
        ]
    };
}
const LIARS_THESIS: [Setup; 2] = liars!("thesis-code");
const LIARS_WORK: [Setup; 2] = liars!("work-conserving");
const LIARS_FORMULA: [Setup; 2] = liars!("formula");

/// The mean completion of the nodes running `policy` in `r[0]` over that of the same nodes
/// (same seed: the same joins and bandwidths) in `r[1]`, where they run something else.
fn same_nodes_ratio(r: &[&RunResult], policy: &str) -> Option<f64> {
    let ids: Vec<u32> = r[0]
        .nodes
        .iter()
        .filter(|n| policy_name(n) == policy)
        .map(|n| n.id)
        .collect();
    let of = |r: &RunResult| mean_completion(r, |n| ids.contains(&n.id));
    Some(of(r[0])? / of(r[1])?)
}

/// The liars' mean completion over that of the same nodes reporting their true weight.
fn liar_ratio(r: &[&RunResult]) -> Option<f64> {
    same_nodes_ratio(r, "seniority-liar")
}

const LI: &str = "Li: a seniority incentive for BitTorrent (thesis, seed 004)";
const LIAR_STAT: &str = "liars / the same nodes honest, completion";

/// Large-view leechers' mean completion over the tft leechers' in the same run.
fn large_view_ratio(r: &RunResult) -> Option<f64> {
    Some(
        mean_completion(r, |n| leecher_running(n, "large-view"))?
            / mean_completion(r, |n| leecher_running(n, "tft"))?,
    )
}

/// The whitewashers' mean completion over that of the same nodes (same seed, so the same
/// joins and bandwidths) not whitewashing; `None` if no identity changed in the run.
fn whitewash_ratio(r: &[&RunResult]) -> Option<f64> {
    if r[0].stats.whitewashes == 0 {
        return None;
    }
    same_nodes_ratio(r, "whitewash")
}

const LV_CLAIM: &str = "large-view free-riders finish no later than compliant peers while \
                        under ~40% of the swarm";
const LV_PAPER: &str = "free-riders with a large view download as fast as or faster than \
                        compliant peers (~300 leechers)";
const WASH_WHY: &str = "Under tit-for-tat there is no history beyond a connection to escape \
                        (rates, snubbing and unchokes are per connection, and a free-rider \
                        never earns a regular slot); mainline's newcomer bias in optimistic \
                        unchokes does not pay for the blocks and unchokes each identity \
                        change loses.";

/// Every direction; ids are stable (tests and `sim zoo --only` name them).
pub static DIRECTIONS: &[Direction] = &[
    Direction {
        id: "bittyrant-lone",
        paper: PIATEK,
        claim: "one BitTyrant client among tft peers finishes before the tft peers of its own \
                upload class",
        paper_value: "median ×1.72 download speed-up in live swarms",
        setups: &[LONE],
        statistic: "BitTyrant − tft of its class, completion (s)",
        measure: Measure::Paired(lone_tyrant_gain),
        rule: Rule::Below(0.0),
        why: "Much of a leecher's download is not reciprocation (seed, optimistic unchokes); in \
              the CI flash crowd tft does not tie download speed to upload class, so there is \
              nothing to buy; with mainline's 4 + 1 slots fast peers' reciprocation costs \
              40–80 KiB/s per slot, out of a 100 KiB/s peer's reach (the paper's live swarms \
              had many cheap reciprocators); capped shares a peer cannot take idle (84% of \
              upload used against 95% for its tft class).",
    },
    Direction {
        id: "bittyrant-selfish",
        paper: PIATEK,
        claim: "when every peer runs selfish BitTyrant, low-capacity peers finish later than \
                on mainline",
        paper_value: "314 s → 733 s on PlanetLab",
        setups: &[SELFISH, SELFISH_AS_TFT],
        statistic: "lowest class: selfish − tft completion (s)",
        measure: Measure::Paired(selfish_low_class_cost),
        rule: Rule::Above(0.0),
        why: "",
    },
    Direction {
        id: "propshare-vs-bittyrant",
        paper: LEVIN,
        claim: "head to head, PropShare's peers finish no later than BitTyrant's",
        paper_value: "PropShare outperforms BitTyrant in head-to-head swarms",
        setups: &[HEAD_TO_HEAD],
        statistic: "PropShare − BitTyrant completion (s)",
        measure: Measure::Paired(propshare_minus_bittyrant),
        rule: Rule::NotAbove(0.0),
        why: "Reproduces in the CI flash crowd only: in the full 300-peer steady swarm \
              PropShare is +25.0 s [16.0, 34.0] slower (10 replicates) — its 400 KiB/s peers \
              pay every contributor in proportion, so BitTyrant's fast peers buy their upload \
              at their own optimal price and do not pay back in kind.",
    },
    Direction {
        id: "fairtorrent-deficit",
        paper: SHERMAN,
        claim: "FairTorrent keeps each pair's |sent − received| far smaller than tft",
        paper_value: "deficits bounded near one block, far below tft's",
        setups: &[FT_CLASSES, TFT_CLASSES],
        statistic: "per leecher, largest |sent − received| with a leecher (bytes), mean; \
                    reference tft",
        measure: Measure::Each(max_deficit),
        rule: Rule::BelowRefTimes(0.5),
        why: "",
    },
    Direction {
        id: "fairtorrent-spread",
        paper: SHERMAN,
        claim: "peers that upload the same download at the same rate under FairTorrent, far \
                more evenly than under tft",
        paper_value: "download-rate spread far below tft's",
        setups: &[FT_CLASSES, TFT_CLASSES],
        statistic: "within-class CV of download rates; reference tft",
        measure: Measure::Each(class_spread),
        rule: Rule::BelowRefTimes(0.5),
        why: "",
    },
    Direction {
        id: "fairtorrent-class-order",
        paper: SHERMAN,
        claim: "faster uploaders download faster under FairTorrent than under tft",
        paper_value: "download rate tracks upload rate",
        setups: &[FT_CLASSES, TFT_CLASSES],
        statistic: "fastest / slowest class download rate; reference tft",
        measure: Measure::Each(class_ratio),
        rule: Rule::AboveRef,
        why: "",
    },
    Direction {
        id: "fairtorrent-proportional",
        paper: SHERMAN,
        claim: "a peer's download rate is proportional to its upload rate",
        paper_value: "download ≈ upload per peer (here 4× fastest/slowest)",
        setups: &[FT_CLASSES],
        statistic: "fastest / slowest class download rate",
        measure: Measure::Each(class_ratio),
        rule: Rule::Above(3.0),
        why: "Leechers also download from the 1 MB/s seeder, which serves every class alike, \
              so only part of a peer's download is bought with upload: the direction \
              reproduces (1.32× against tft's 1.13×), proportionality does not.",
    },
    Direction {
        id: "fairtorrent-free-riders",
        paper: SHERMAN,
        claim: "free-riders finish later relative to contributors under FairTorrent than under \
                tft",
        paper_value: "free-riders get little but leftover capacity",
        setups: &[FT_FREE, TFT_FREE],
        statistic: "free-rider / contributor completion; reference tft",
        measure: Measure::Each(free_rider_lag),
        rule: Rule::AboveRef,
        why: "",
    },
    Direction {
        id: "fairtorrent-free-rider-time",
        paper: SHERMAN,
        claim: "free-riders finish later under FairTorrent than under tft",
        paper_value: "free-riders get little but leftover capacity",
        setups: &[FT_FREE, TFT_FREE],
        statistic: "free-rider completion (s); reference tft",
        measure: Measure::Each(free_rider_completion),
        rule: Rule::AboveRef,
        why: "",
    },
    Direction {
        id: "fairtorrent-free-riders-far",
        paper: SHERMAN,
        claim: "free-riders finish far later than contributors under FairTorrent",
        paper_value: "free-riders starve while contributors are served",
        setups: &[FT_FREE],
        statistic: "free-rider / contributor completion",
        measure: Measure::Each(free_rider_lag),
        rule: Rule::Above(1.5),
        why: "FairTorrent is work-conserving: a leecher serves the smallest deficit among \
              peers with requests queued; a free-rider always waits while contributors often \
              hold what the leecher has, so the free-rider gets the idle uplink (1.18×, not \
              far later).",
    },
    Direction {
        id: "large-view-10",
        paper: SIRIVIANOS,
        claim: LV_CLAIM,
        paper_value: LV_PAPER,
        setups: &[LV_10],
        statistic: "large-view / tft completion, 10% large-view",
        measure: Measure::Each(large_view_ratio),
        rule: Rule::Below(1.0),
        why: "",
    },
    Direction {
        id: "large-view-40",
        paper: SIRIVIANOS,
        claim: LV_CLAIM,
        paper_value: LV_PAPER,
        setups: &[LV_40],
        statistic: "large-view / tft completion, 40% large-view",
        measure: Measure::Each(large_view_ratio),
        rule: Rule::Below(1.0),
        why: "",
    },
    Direction {
        id: "large-view-shrinks",
        paper: SIRIVIANOS,
        claim: "the large-view advantage shrinks as free-riders' share grows",
        paper_value: "the exploit pays less as more peers use it",
        setups: &[LV_10, LV_60],
        statistic: "large-view / tft completion at 10%; reference at 60%",
        measure: Measure::Each(large_view_ratio),
        rule: Rule::BelowRefTimes(1.0),
        why: "",
    },
    Direction {
        id: "whitewash-free-rider-gain",
        paper: FELDMAN,
        claim: "whitewashing pays a free-rider by escaping its history (here under tft)",
        paper_value: "whitewashers do better than free-riders keeping one identity",
        setups: &[WASH_TFT, NO_WASH_TFT],
        statistic: "whitewashing / not, the same free-riders' completion",
        measure: Measure::Paired(whitewash_ratio),
        rule: Rule::Below(1.0),
        why: WASH_WHY,
    },
    Direction {
        id: "liar-gain-thesis-code",
        paper: LI,
        claim: "a seniority-liar (reporting weight e) finishes before the same node honest, \
                under the thesis's code",
        paper_value: "(not measured in the thesis: its weights are self-reported)",
        setups: &LIARS_THESIS,
        statistic: LIAR_STAT,
        measure: Measure::Paired(liar_ratio),
        rule: Rule::Below(1.0),
        why: "",
    },
    Direction {
        id: "liar-gain-work-conserving",
        paper: LI,
        claim: "a seniority-liar finishes before the same node honest, under the \
                work-conserving variant",
        paper_value: "(not measured in the thesis: its weights are self-reported)",
        setups: &LIARS_WORK,
        statistic: LIAR_STAT,
        measure: Measure::Paired(liar_ratio),
        rule: Rule::Below(1.0),
        why: "",
    },
    Direction {
        id: "liar-gain-formula",
        paper: LI,
        claim: "under the formula as printed, lying gains nothing: every weight is already ≈ e",
        paper_value: "(the formula gives Y ≈ e for everyone online a day or more)",
        setups: &LIARS_FORMULA,
        statistic: LIAR_STAT,
        measure: Measure::Paired(liar_ratio),
        rule: Rule::Covers(1.0),
        why: "",
    },
    Direction {
        id: "whitewash-free-rider-cost",
        paper: FELDMAN,
        claim: "in our model whitewashing costs a free-rider under tft (the converse)",
        paper_value: "(the converse of the paper)",
        setups: &[WASH_TFT, NO_WASH_TFT],
        statistic: "whitewashing / not, the same free-riders' completion",
        measure: Measure::Paired(whitewash_ratio),
        rule: Rule::Above(1.0),
        why: "",
    },
    Direction {
        id: "whitewash-liar-cost",
        paper: FELDMAN,
        claim: "whitewashing costs a seniority-liar what lying gains",
        paper_value: "(the thesis' seniority: identity change loses the counter)",
        setups: &[WASH_LIAR, NO_WASH_LIAR],
        statistic: "whitewashing / not, the same seniority-liars' completion",
        measure: Measure::Paired(whitewash_ratio),
        rule: Rule::Above(1.0),
        why: "",
    },
    Direction {
        id: "whitewash-senior-cost",
        paper: FELDMAN,
        claim: "whitewashing costs an honest node online 30 days its seniority",
        paper_value: "(the thesis' seniority: identity change loses the counter)",
        setups: &[WASH_SENIOR, NO_WASH_SENIOR],
        statistic: "whitewashing / not, the same seniority nodes' completion",
        measure: Measure::Paired(whitewash_ratio),
        rule: Rule::Above(1.0),
        why: "",
    },
];
