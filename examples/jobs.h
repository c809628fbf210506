// The example jobs that ship with the `kappa` command. Each is written only against the
// public headers (kappa/kappa.h, kappa/nexmark.h).
#ifndef KAPPA_EXAMPLES_JOBS_H_
#define KAPPA_EXAMPLES_JOBS_H_

#include "kappa/kappa.h"

namespace kappa::examples {

// Registers every example job: hot-auctions, nexmark-enrich, and the library's Nexmark
// jobs (nexmark-copy, nexmark-q0 … nexmark-q11: kappa::nexmark::RegisterQueries).
void RegisterExampleJobs(JobRegistry* registry);

// Registers nexmark-enrich: bids enriched by an HTTP lookup that retries, with dead letters.
void RegisterEnrichJob(JobRegistry* registry);

}  // namespace kappa::examples

#endif  // KAPPA_EXAMPLES_JOBS_H_
