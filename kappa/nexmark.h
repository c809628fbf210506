// Opt-in: the Nexmark benchmark's event model (Person, Auction, Bid in one Event), its
// JSON codec and serializers, for jobs over Nexmark input (the generator gen:nexmark, or
// a file log or Kafka topic of its JSON lines); and the Nexmark queries as jobs.
//
// `kappa bench nexmark` runs the queries in any binary built on Kappa, registered or not.
// To have them in the binary's `jobs` and `run` as well (nexmark-q0 … nexmark-q11 and
// nexmark-copy, as the `kappa` command has them):
//
//   kappa::JobRegistry registry;
//   kappa::nexmark::RegisterQueries(&registry);
//   registry.Register({"my-job", "...", BuildMyJob});
//   return kappa::cli::Main(argc, argv, registry);
#ifndef KAPPA_NEXMARK_H_
#define KAPPA_NEXMARK_H_

#include "kappa/app/job_registry.h"
#include "kappa/connectors/nexmark/codec.h"
#include "kappa/connectors/nexmark/event.h"

namespace kappa::nexmark {

// Registers the jobs nexmark-q0, -q1, -q2, -q3, -q4, -q5, -q7, -q8, -q11 (DESIGN.md §7:
// source "events", sink "output") and nexmark-copy, replacing jobs of those names.
// Defined with the queries in kappa_bench (kappa/bench/nexmark_queries.cc, which declares
// it too), so that no header of the bench layer is installed.
void RegisterQueries(JobRegistry* registry);

}  // namespace kappa::nexmark

#endif  // KAPPA_NEXMARK_H_
