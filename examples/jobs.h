// The example jobs that ship with the `kappa` command. Each is written only against the
// public API (engine/api.h, engine/job_registry.h) and the connectors.
#ifndef KAPPA_EXAMPLES_JOBS_H_
#define KAPPA_EXAMPLES_JOBS_H_

#include "kappa/kappa.h"

namespace kappa::examples {

// Registers every example job: hot-auctions, nexmark-copy, ...
void RegisterExampleJobs(JobRegistry* registry);

}  // namespace kappa::examples

#endif  // KAPPA_EXAMPLES_JOBS_H_
