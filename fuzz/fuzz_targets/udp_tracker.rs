#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm_fuzz::udp_tracker(data));
