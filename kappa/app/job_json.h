// A job's snapshot as JSON, as served on /api/job and read by the dashboard and
// `kappa status URL`. Field names are JobSnapshot's (runtime/monitor.h), with these
// differences:
//   - source partitions are flattened: {source, partition, start, offset, end, records,
//     finished, high_water, watermark, idle, replay_end} plus the computed
//     `lag` (offsets between the position and the partition's end: the high-water mark
//     when known, else the bounded end; records for Kafka, bytes for a file log; null when
//     neither is known) and
//     `event_time_lag_s` (now - watermark; null before the first watermark, 0 once the
//     input ended);
//   - watermarks are null before the first one; the final watermark of an ended input is
//     9223372036854775807 (kMaxTimestamp), as in the snapshot;
//   - chains carry the sums of their tasks (records_in, records_out) and edges their
//     `fill` (queued / capacity, 0..1);
//   - histograms carry estimated quantiles `p50_s`, `p99_s` (null without observations).
// With a previous snapshot (taken before `now`), the top level has `interval_s`, and every
// task and chain has `records_in_per_s`, `records_out_per_s` and the shares of the
// interval (0..1) its worker time was `busy`, `backpressured` and `idle` (for a chain:
// the mean over its instances); source partitions have `records_per_s`. Without one,
// these fields are absent.
//
//   std::string body = app::JobJson(monitor.Snapshot(), &a_second_ago);
#ifndef KAPPA_APP_JOB_JSON_H_
#define KAPPA_APP_JOB_JSON_H_

#include <string>

#include "kappa/runtime/monitor.h"

namespace kappa::app {

std::string JobJson(const runtime::JobSnapshot& now, const runtime::JobSnapshot* previous);

// Quantile q (0..1) of the histogram, estimated as Prometheus's histogram_quantile does:
// linearly within the bucket that holds it (the first bucket starts at 0); past the last
// bound, the last bound. Negative when the histogram is empty.
double HistogramQuantile(const runtime::HistogramView& h, double q);

}  // namespace kappa::app

#endif  // KAPPA_APP_JOB_JSON_H_
