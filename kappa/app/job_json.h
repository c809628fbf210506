// A job's snapshot as JSON, as served on /api/job and read by the dashboard and
// `kappa status URL`. Field names are JobSnapshot's (runtime/monitor.h); with a previous
// snapshot, tasks and chains also carry rates over the time between the two.
#ifndef KAPPA_APP_JOB_JSON_H_
#define KAPPA_APP_JOB_JSON_H_

#include <string>

#include "kappa/runtime/monitor.h"

namespace kappa::app {

std::string JobJson(const runtime::JobSnapshot& now, const runtime::JobSnapshot* previous);

}  // namespace kappa::app

#endif  // KAPPA_APP_JOB_JSON_H_
