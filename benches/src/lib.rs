//! Criterion benchmarks for Waymark live in `benches/benches/`; this crate
//! only hosts them. Run with `cargo bench -p waymark-benches`.
