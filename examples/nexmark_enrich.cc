// nexmark-enrich: every bid with its bidder's name and state, looked up in a person
// service over HTTP without blocking a worker (AsyncMap). The service fails now and then
// (a 503) and always for some records (poison): a lookup is retried with exponential
// backoff while the bids behind it go on, and a bid still failing after the last attempt
// becomes a dead letter instead of stopping the job.
//
//   kappa run nexmark-enrich --source gen:nexmark?events=10000 --sink file:out/
//       --param lookup=http://127.0.0.1:8080 --retry-attempts 5 --retry-backoff 50:2000
//       --checkpoint-dir ckpt/ --dead-letter file:dead/
//   {"auction":1007,"bidder":1001,"price":250,"dateTime":1700000000000,"name":"Person 1001","state":"AZ"}
//
// GET {lookup}/person/{bidder} answers {"name": ..., "state": ...}. A 5xx answer, 408, 429,
// a connection failure or a timeout is worth another attempt; any other 4xx is not (the
// person does not exist, or the request is wrong: no retry changes that) and makes the bid
// a dead letter at once. Parameters: lookup (required), capacity (lookups open at once per
// instance, default 64), timeout (per attempt, default 2s).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "examples/jobs.h"
#include "kappa/http.h"
#include "kappa/kappa.h"
#include "kappa/nexmark.h"

namespace kappa::examples {

struct EnrichedBid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t dateTime = 0;  // the contract's field name
  std::string name;
  std::string state;
};

// What the person service answers.
struct PersonInfo {
  std::string name;
  std::string state;
};

}  // namespace kappa::examples

KAPPA_JSON(kappa::examples::EnrichedBid, auction, bidder, price, dateTime, name, state);
KAPPA_JSON(kappa::examples::PersonInfo, name, state);

namespace kappa::examples {
namespace {

using nexmark::Event;

constexpr Timestamp kDefaultOutOfOrdernessMs = 4000;

// The lookup's default policy: 3 attempts, 100 ms then 200 ms apart (±20%), each
// attempt at most `timeout`. --retry-attempts and --retry-backoff change it.
RetryPolicy DefaultLookupPolicy(absl::Duration timeout) {
  RetryPolicy policy = RetryPolicy::Exponential(3, absl::Milliseconds(100), absl::Seconds(5));
  policy.attempt_timeout = timeout;
  return policy;
}

EnrichedBid Enrich(const nexmark::Bid& bid, PersonInfo&& person) {
  return EnrichedBid{bid.auction, bid.bidder, bid.price, bid.date_time, std::move(person.name),
                     std::move(person.state)};
}

void BuildNexmarkEnrich(JobContext& ctx) {
  const std::string lookup = ctx.params().RequireString("lookup");
  const int64_t capacity = ctx.params().GetInt64("capacity", 64);
  const absl::Duration timeout = ctx.params().GetDuration("timeout", absl::Seconds(2));
  auto strategy = WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(kDefaultOutOfOrdernessMs))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  Stream<Event> bids = ctx.Source<Event>("events", std::move(strategy)).Filter([](const Event& e) {
    return e.is_bid();
  }, "bids");
  if (lookup.empty()) return;  // RequireString recorded the error
  if (capacity < 1 || capacity > 100'000) {
    ctx.RecordError(absl::InvalidArgumentError(
        absl::StrCat("--param capacity=", capacity, ": expected between 1 and 100000 lookups open at once")));
    return;
  }
  if (timeout <= absl::ZeroDuration()) {
    ctx.RecordError(absl::InvalidArgumentError("--param timeout: expected a positive duration such as 2s"));
    return;
  }
  // One client for every parallel instance: each of its I/O threads keeps a connection.
  auto http = connectors::HttpClient::Create(
      lookup, {.threads = static_cast<int>(std::min<int64_t>(capacity, 32)), .timeout = timeout});
  if (!http.ok()) {
    ctx.RecordError(absl::InvalidArgumentError(absl::StrCat("--param lookup=", lookup, ": ", http.status().message())));
    return;
  }
  // The operator's input is the bid event as read, so that a dead letter's record is what
  // the source decodes again on a redrive.
  Stream<EnrichedBid> enriched = bids.AsyncMap<EnrichedBid>(
      [http = *http](const Event& e, AsyncResult<EnrichedBid> result) {
        const nexmark::Bid& bid = e.bid();
        http->GetJson<PersonInfo>(absl::StrCat("/person/", bid.bidder), std::move(result),
                                  [bid](PersonInfo&& p) { return Enrich(bid, std::move(p)); });
      },
      {.capacity = static_cast<int>(capacity), .order = AsyncOrder::kUnordered,
       .retry = ctx.retry_policy(DefaultLookupPolicy(timeout))},
      "enrich");
  ctx.Sink(enriched, "output");
}

}  // namespace

void RegisterEnrichJob(JobRegistry* registry) {
  registry->Register({"nexmark-enrich",
                      "every bid with its bidder's name and state from GET {lookup}/person/{bidder} "
                      "(--param lookup=http://HOST:PORT), retried with backoff; failures to --dead-letter",
                      BuildNexmarkEnrich});
}

}  // namespace kappa::examples
