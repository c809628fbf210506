// A job's snapshot in Prometheus's text exposition format (version 0.0.4), as served on
// /metrics: names `kappa_..._total` for counters and base units (`_seconds`, `_bytes`),
// labelled by job, operator uid and instance.
#ifndef KAPPA_APP_PROMETHEUS_TEXT_H_
#define KAPPA_APP_PROMETHEUS_TEXT_H_

#include <string>

#include "kappa/runtime/monitor.h"

namespace kappa::app {

std::string PrometheusText(const runtime::JobSnapshot& snapshot);

}  // namespace kappa::app

#endif  // KAPPA_APP_PROMETHEUS_TEXT_H_
