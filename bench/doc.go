// Package bench is the benchmark harness of `make bench` (issue 7): it measures the runtime
// (the real iggy-connectors binary, CGO_ENABLED=0, with real plugins) beside a ceiling measured in
// the same run, against a real iggy-devserver (or an external Iggy server), and writes
// bench/RESULTS.md.
//
// Scenarios:
//   - B1 source path: random source (generator = "zero_cost") → runtime → Iggy, vs a plain Go
//     producer with the same client, batch size and 1 KB messages (RunProducer).
//   - B2 sink path: Iggy → runtime → discard sink (test/plugins/discard), vs a plain consumer-group
//     reader, iggy.GroupConsumer poll + commit (RunConsumer).
//   - B3 Iggy → runtime → PostgreSQL sink, vs plain pgx CopyFrom of the same rows (RunCopy), plus
//     the sink's own benchmark (connectors/sinks/postgres/pgsink).
//   - B4 plugin boundary per message at batch 1, 100 and 1000, both transports (bench/boundary),
//     plus test/plugintest's round-trip benchmarks.
//   - B5 transforms: B2 with an add/update/filter/delete_fields chain vs B2 without, plus
//     runtime/transform's benchmarks.
//   - B6 memory: RSS idle with the demo pipeline, loaded (B1 + B2 in one runtime), and growth over
//     a soak after its warm-up (Harness.Soak, `make soak`, 10 minutes; `make soak SOAK=1h`), with
//     the memory maps per kind (smaps.go) and every Go runtime's heap (gostats.go) once a minute.
//   - O1-O3, only with Config.Original (ORIGINAL_RUNTIME): this runtime beside the original Rust
//     runtime with the same connectors, interleaved: O1 random source (random text, 1 KB records)
//     → Iggy, O2 Iggy → stdout sink (a log line per batch, standard output to /dev/null), O3 Iggy →
//     PostgreSQL sink (original.go).
//
// Server: an iggy-devserver the harness starts (and restarts between parts), or with Config.Server
// (IGGY_BENCH_SERVER) an external Iggy server such as the real Apache Iggy server: then the
// harness works in a stream unique to the run, deletes it at the end, and reports the server's
// address and version; its CPU placement is not the harness's.
//
// Method: the machine is small and shared, so nothing is judged on one absolute time. The runtime
// and the baseline run as separate processes, pinned to the same core (taskset) away from the
// server's, one after the other, alternating which goes first, five times (Mode full). Progress is
// read from Iggy (topic message count, consumer-group offset) and CPU and memory from /proc every
// 10ms; a run is measured over a window after a warm-up. Figures are medians; ratios are medians of
// per-pair ratios; CPU is reported as CPU-seconds per million messages. A scenario that cannot run
// fails the harness; a slow one never does.
package bench
