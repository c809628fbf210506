// `kappa bench kafka`: Kafka → nexmark-q0 → Kafka beside a hand-written raw librdkafka
// loop doing the same on the same messages, a replay beside a live run, and Kafka →
// nexmark-q5 → Kafka with exactly-once output beside a raw loop with transactions, with
// end-to-end latency seen by a read_committed consumer; in one process.
//
// Setup: N Nexmark events (JSON, DESIGN §7; message timestamp = dateTime) are produced into
// an input topic of P partitions, event e to partition e % P. The cluster is librdkafka's
// mock, started in this process (default), or a real one (`--kafka BOOTSTRAP`), where the
// bench creates every topic it needs (kappa-bench-PID-MS-ROLE, replication factor
// --replication-factor) and deletes them at the end, or uses two existing topics the user
// names (--in-topic: the input, also appended to by the live runs; --out-topic: every
// run's output). Every run reads and counts offset ranges (the high watermarks before and
// after), so user-named topics may already hold data.
//
// q0, each repetition:
//  - engine (a replay): the job nexmark-q0 (registered, else the built-in one) reads the
//    filled topic bounded (`?start=earliest&end=end`, what `kappa replay --to end` does;
//    explicit offset ranges on a real cluster) and writes an output topic through its
//    idempotent producer, no checkpoints. Timed twice: from building the job to the end of
//    Job::Execute (opening the clients, the final flush, closing them), beside the
//    baseline; and from the source having every partition assigned to the last row in the
//    output topic, beside live;
//  - baseline: one thread, one consumer assigned every partition from its first to its end
//    offset (each partition read from its own queue, as the engine's source does),
//    simdjson to find bids and their fields, the q0 row
//    {"auction","bidder","price","dateTime","extra"} re-encoded, produced with the same
//    producer settings (idempotent, linger.ms=5, no key), flushed at the end;
//  - live: the same job started on an empty range of another topic, following it (no end);
//    once its consumer is assigned, a producer thread writes the N events at full speed,
//    and the run is timed from the first produce until the output topic holds every row
//    (watched by ListOffsets requests every 2 ms once the job has read every event).
// The engine's rows must equal the baseline's and the live run's (counts, and once the
// multisets of message values); a difference fails the bench. MB/s = input JSON values
// (bytes, 10^6) per second of the same wall time as events/s.
//
// q5 with exactly-once output (checkpoints every --checkpoint-interval into a temporary
// directory, output committed in Kafka transactions), once after the q0 repetitions:
//  - replay: nexmark-q5 over the filled input, bounded; timed from building the job to
//    the last row returned to a read_committed consumer thread (CommittedReader);
//  - baseline: one thread consumes the same range, counts bids per auction in the same
//    sliding windows, fires a window when the same watermark passes its end (lowest
//    per-partition message timestamp − bound), produces its rows through a transactional
//    producer and commits every checkpoint interval and at the end; timed the same way;
//  - live: the job follows an empty topic while a producer paces rate × duration events
//    at --latency-rate, setting each event's dateTime and message timestamp to the
//    wall-clock ms at which it is produced (so produce time = event time). Per window the
//    input closed (Q5Windows: the window's end − 1 ≤ the watermark after the last event),
//    latency = the time its last row reached the read_committed reader − the produce time
//    of (a) the window's newest bid (this includes waiting for the watermark bound) and
//    (b) the event after which the watermark passed the window's end. Then the job is
//    stopped (a stopped run commits nothing after its last checkpoint).
// Row counts must equal the hand-written q5's (nexmark_baseline.h for the replay,
// Q5Windows for the live run), counted afterwards with a fresh read_committed consumer.
//
// On the embedded cluster every run has topics of its own, output topics have 8 times the
// input's partitions (rows without a key land unevenly; the mock keeps ~5 MiB per
// partition), and every consumer uses fetch.wait.max.ms=10: the mock answers a fetch that
// finds no data only after the whole wait (500 ms by default), so a live consumer that
// catches up with its producer would stall that long each time. The read_committed
// reader uses fetch.wait.max.ms=100 on a real cluster, which answers as soon as data or a
// commit marker arrives.
//
// CPU: all threads of the process (getrusage) minus the embedded broker's thread, so
// "per core" figures include librdkafka's client threads but not the mock broker. The
// broker still shares the machine's cores with what is measured.
//
//   KafkaBenchOptions options;
//   options.events = 200'000;
//   int exit_code = RunKafkaBench(registry, options, std::cout, std::cerr);
//
// Runs on the calling thread (plus the engine's workers, a producer thread and the
// read_committed reader's); one bench at a time per process.
#ifndef KAPPA_BENCH_KAFKA_BENCH_H_
#define KAPPA_BENCH_KAFKA_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "kappa/app/job_registry.h"

namespace kappa::bench {

struct KafkaBenchOptions {
  int64_t events = 200'000;
  // Partitions of the topics the bench creates (a user's --in-topic keeps its own). The mock
  // keeps ~5 MiB per partition; 200K events are 56 MiB of JSON, 3.4 MiB per partition at 16.
  int partitions = 16;
  int parallelism = 1;  // of the job
  int workers = 0;      // engine worker threads; 0: number of cores
  int repetitions = 1;  // best (least wall time) of this many runs of each kind
  std::string kafka;    // bootstrap servers of a real cluster; empty: embedded mock
  // A real cluster's existing topics to use instead of creating (and deleting) topics of
  // the bench's own: the input (also appended to by the live runs) and every run's output.
  std::string in_topic, out_topic;
  int replication_factor = 1;  // of the topics the bench creates on a real cluster
  uint64_t seed = 0;
  // Events per second of event time in the input (dateTime spacing): how many q5 windows
  // the input spans. 0: the generator's default (10M/s, as Flink's Nexmark).
  double event_rate = 0;
  // q5 with exactly-once output: checkpoint interval, watermark bound (the Nexmark jobs'
  // default), and the paced live run that measures latency (events/s of wall time for
  // this many seconds; 0 s: no live q5 run).
  int64_t checkpoint_interval_ms = 1000;
  int64_t out_of_orderness_ms = 4000;
  int64_t latency_rate = 5000;
  double latency_duration_s = 10;
  bool json = false;     // one JSON object on `out` instead of the table
  bool progress = true;  // progress on stderr, only when it is a terminal
};

// Kafka -> nexmark-q5 -> Kafka with exactly-once output (checkpoints every
// checkpoint_interval_ms, output committed in Kafka transactions), seen by a
// read_committed consumer thread. Latencies are per window (all rows of one q5 window are
// committed together), in milliseconds from a produce time (the input message's
// timestamp, which the live run's producer sets to the wall-clock time it produces the
// event, equal to the event's dateTime) to the moment the window's last row was returned
// to the read_committed consumer.
struct Q5Result {
  int64_t out_of_orderness_ms = 0;
  // Replay of the filled input topic, bounded; its end is the final checkpoint's commit.
  double replay_s = 0;  // building the job → every row visible to the read_committed consumer
  int64_t replay_rows = 0;
  int64_t replay_expected_rows = 0;  // windows (and ties) of the hand-written q5
  int64_t replay_checkpoints = 0;
  // The baseline: the same work by hand on raw librdkafka (kafka_bench.cc, RunQ5Baseline),
  // a transaction committed every checkpoint interval; timed the same way.
  double baseline_s = 0;
  int64_t baseline_rows = 0;
  // Live: a producer paced at `rate` events/s for `duration_s`, the job following.
  int64_t live_rate = 0;
  double live_duration_s = 0;
  int64_t live_events = 0;
  int64_t live_windows = 0;        // windows the input closed (watermark past their end)
  int64_t live_rows = 0;           // rows the read_committed consumer saw
  int64_t live_expected_rows = 0;  // rows of those windows, by the hand-written q5
  int64_t live_checkpoints = 0;
  // From the window's last contributing bid (the newest bid in it) produced.
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
  // From the event that moved the watermark past the window's end produced: what the
  // engine and the transaction add on top of the watermark bound.
  double close_latency_p50_ms = 0, close_latency_p99_ms = 0, close_latency_max_ms = 0;
};

struct KafkaBenchResult {
  int64_t events = 0;
  int64_t bids = 0;  // expected output rows
  int partitions = 0;
  int64_t max_partition_bytes = 0;  // of the input, values only
  int64_t input_bytes = 0;          // values of every input message
  int64_t output_bytes = 0;         // values of every q0 row
  double fill_s = 0;                // producing the input topic (not part of any figure)

  double engine_wall_s = 0;          // building the job → Execute returned (opening and closing clients included)
  double engine_cpu_s = 0;           // all threads but the embedded broker's
  double replay_s = 0;               // the same run, its source assigned → every row in the output topic
  double start_stop_s = 0;           // engine_wall_s − replay_s: starting the job, closing its clients
  double engine_broker_cpu_s = 0;    // CPU of the embedded broker's thread during the engine's run
  double baseline_broker_cpu_s = 0;  // and during the baseline's
  int64_t engine_rows = 0;
  double baseline_wall_s = 0;
  double baseline_cpu_s = 0;
  int64_t baseline_rows = 0;
  double live_wall_s = 0;      // first produce → last row in the output topic
  double live_producer_s = 0;  // first produce → producer flushed
  int64_t live_rows = 0;
  bool contents_checked = false;  // the value multisets were compared (once, all retained)
  Q5Result q5;

  double engine_events_per_s() const { return Rate(events, engine_wall_s); }
  double engine_events_per_core_s() const { return Rate(events, engine_cpu_s); }
  double baseline_events_per_s() const { return Rate(events, baseline_wall_s); }
  double baseline_events_per_core_s() const { return Rate(events, baseline_cpu_s); }
  double engine_mb_per_s() const { return Rate(input_bytes, engine_wall_s) / 1e6; }
  double baseline_mb_per_s() const { return Rate(input_bytes, baseline_wall_s) / 1e6; }
  double q5_events_per_s() const { return Rate(events, q5.replay_s); }
  double q5_baseline_events_per_s() const { return Rate(events, q5.baseline_s); }
  double q5_ratio() const { return q5.replay_s > 0 ? q5.baseline_s / q5.replay_s : 0; }
  double replay_events_per_s() const { return Rate(events, replay_s); }
  double live_events_per_s() const { return Rate(events, live_wall_s); }
  double live_producer_events_per_s() const { return Rate(events, live_producer_s); }
  // Engine ÷ baseline throughput, by wall time and per core.
  double ratio() const { return engine_wall_s > 0 ? baseline_wall_s / engine_wall_s : 0; }
  double ratio_per_core() const { return engine_cpu_s > 0 ? baseline_cpu_s / engine_cpu_s : 0; }
  // Live ÷ replay throughput, both timed the same way (from a running job's first input).
  double live_vs_replay() const { return live_wall_s > 0 ? replay_s / live_wall_s : 0; }
  bool rows_match() const {
    return engine_rows == bids && baseline_rows == bids && live_rows == bids &&
           q5.replay_rows == q5.replay_expected_rows && q5.baseline_rows == q5.replay_expected_rows &&
           q5.live_rows == q5.live_expected_rows;
  }

  static double Rate(int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0; }
};

// The whole command: checks options (a bad one: one line on `err`, exit code 2), fills the
// input, runs every measurement and prints the table (or one JSON object) on `out`.
// Returns 0, or 1 if a run failed or the rows differ.
int RunKafkaBench(const JobRegistry& registry, const KafkaBenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_KAFKA_BENCH_H_
