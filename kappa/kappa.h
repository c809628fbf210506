// Kappa: stateful stream processing, one job for live data and for replays of history.
//
// The one header a job includes. It brings the typed API (Job, Stream, KeyedStream,
// windows, joins, process functions, state), the job registry and the context that binds
// a job's named sources and sinks to URIs, and the whole `kappa` command line:
//
//   #include "kappa/kappa.h"
//
//   struct Click { std::string page; int64_t ts; };
//   KAPPA_JSON(Click, page, ts);
//   struct PageCount { std::string page; int64_t count; int64_t window_end; };
//   KAPPA_JSON(PageCount, page, count, window_end);
//
//   void ClicksPerPage(kappa::JobContext& ctx) {
//     auto clicks = ctx.Source<Click>("clicks", kappa::WatermarkStrategy<Click>::BoundedOutOfOrderness(
//         ctx.out_of_orderness_ms(5000)).WithTimestamp([](const Click& c) { return c.ts; }));
//     ctx.Sink(clicks.KeyBy([](const Click& c) { return c.page; })
//                  .Window(kappa::Tumbling(absl::Minutes(1)))
//                  .Aggregate(kappa::Count(), [](const std::string& page, const kappa::TimeWindow& w,
//                                                int64_t n) { return PageCount{page, n, w.end}; }));
//   }
//
//   int main(int argc, char** argv) {
//     kappa::JobRegistry registry;
//     registry.Register({"clicks-per-page", "clicks per page per minute", ClicksPerPage});
//     return kappa::cli::Main(argc, argv, registry);  // run, replay, savepoint, diff, ...
//   }
//
// Opt-in headers: "kappa/kafka.h" (Kafka sources and sinks as typed objects),
// "kappa/nexmark.h" (the Nexmark event model and generator), "kappa/testing.h" (the
// operator test harness and status matchers). docs/api.md is the guide.
#ifndef KAPPA_KAPPA_H_
#define KAPPA_KAPPA_H_

#include "kappa/api/job.h"
#include "kappa/app/job_registry.h"
#include "kappa/connectors/http_client.h"  // HttpClient, for AsyncMap
#include "kappa/cli/cli.h"

#endif  // KAPPA_KAPPA_H_
