// The Nexmark queries as jobs: nexmark-q0, -q1, -q2, -q3, -q4, -q5, -q7, -q8 and -q11,
// and nexmark-copy. Each query reads Nexmark events from the source named "events" (event
// time = dateTime, out-of-orderness 4000 ms unless --out-of-orderness says otherwise) and
// writes JSON lines with exactly the fields of DESIGN.md §7 to the sink named "output":
//
//   kappa run nexmark-q5 --source file:log/ --sink file:out/ --parallelism 4
//   {"auction":1000,"num":4231,"window_start":1700000000000,"window_end":1700000010000}
//
// nexmark-copy copies the events unchanged (e.g. the generator's into a file log).
//
// They live in the library, not beside the example jobs, because `kappa bench nexmark`
// and `kappa bench kafka` run them in any binary built on Kappa, whatever that binary
// registered (FindNexmarkJob). A binary that wants them in `jobs` and `run` too registers
// them with kappa::nexmark::RegisterQueries (public in kappa/nexmark.h).
// They are written against the public API only (Job, JobContext, the Nexmark event model).
#ifndef KAPPA_BENCH_NEXMARK_QUERIES_H_
#define KAPPA_BENCH_NEXMARK_QUERIES_H_

#include <string>

#include "kappa/app/job_registry.h"

namespace kappa::nexmark {

// Registers nexmark-q0 … nexmark-q11 and nexmark-copy (replacing jobs of those names). The
// public header kappa/nexmark.h declares it as well (a layer cannot include the public
// headers, and the bench layer's headers are not installed): keep the two alike.
void RegisterQueries(JobRegistry* registry);

}  // namespace kappa::nexmark

namespace kappa::bench {

// `name` as `registry` has it, else the built-in Nexmark job of that name, else null: the
// bench harnesses' lookup, so that they work in a binary that registered none of them.
// The built-ins are registered once, on first use; thread-safe.
const JobDefinition* FindNexmarkJob(const JobRegistry& registry, const std::string& name);

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_NEXMARK_QUERIES_H_
