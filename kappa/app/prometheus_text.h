// A job's snapshot in Prometheus's text exposition format (version 0.0.4), as served on
// /metrics: names `kappa_<subsystem>_<name>_<unit>` with `_total` for counters, base units
// (`_seconds`, `_bytes`; event time as seconds since the epoch), labelled by `job`, `task`
// (a fused chain), `instance` (its subtask), `operator` (uid), `source`, `partition` and
// `kind`. Every family has HELP and TYPE lines; a figure the snapshot does not know (-1, no
// watermark yet) is left out rather than printed, and a family without samples is left
// out whole. docs/operations.md lists the metrics.
//
//   std::string page = app::PrometheusText(monitor.Snapshot());
//
// A pure function of the snapshot: any thread may call it.
#ifndef KAPPA_APP_PROMETHEUS_TEXT_H_
#define KAPPA_APP_PROMETHEUS_TEXT_H_

#include <string>

#include "kappa/runtime/monitor.h"

namespace kappa::app {

std::string PrometheusText(const runtime::JobSnapshot& snapshot);

}  // namespace kappa::app

#endif  // KAPPA_APP_PROMETHEUS_TEXT_H_
