//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and every input a fuzzer found
//! (`tests/fuzz_regressions/<target>/`) through the same property its target checks, so
//! stable CI keeps fixed bugs fixed without nightly or libFuzzer.

#[path = "../../fuzz/src/lib.rs"]
mod props;

use std::path::Path;

/// Runs `check` on every file in `dir` (if it exists); returns how many there were.
fn replay(dir: &Path, check: props::Property) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut paths: Vec<_> = entries.map(|e| e.expect("readable dir").path()).collect();
    paths.sort();
    for p in &paths {
        let data = std::fs::read(p).expect("readable input");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("property failed on {}", p.display());
        }
    }
    paths.len()
}

#[test]
fn seeds_and_found_inputs_satisfy_their_properties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for &(target, check) in props::TARGETS {
        let seeds = replay(&root.join("../fuzz/seeds").join(target), check);
        assert!(seeds > 0, "no seeds for fuzz target {target}");
        replay(&root.join("fuzz_regressions").join(target), check);
    }
}
