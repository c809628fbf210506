// The Nexmark queries as built-in jobs: nexmark-q0, -q1, -q2, -q3, -q4, -q5, -q7, -q8 and
// -q11. Each reads Nexmark events from the source named "events" (event time = dateTime,
// out-of-orderness 4000 ms unless --out-of-orderness says otherwise) and writes JSON lines
// with exactly the fields of DESIGN.md §7 to the sink named "output":
//
//   kappa run nexmark-q5 --source file:log/ --sink file:out/ --parallelism 4
//   {"auction":1000,"num":4231,"window_start":1700000000000,"window_end":1700000010000}
//
// The jobs are written only against the public API (engine/api.h, engine/job_registry.h)
// and the Nexmark event model.
#ifndef KAPPA_EXAMPLES_NEXMARK_QUERIES_H_
#define KAPPA_EXAMPLES_NEXMARK_QUERIES_H_

#include "kappa/kappa.h"

namespace kappa::examples {

// Registers the nexmark-qN jobs listed above.
void RegisterNexmarkJobs(JobRegistry* registry);

}  // namespace kappa::examples

#endif  // KAPPA_EXAMPLES_NEXMARK_QUERIES_H_
