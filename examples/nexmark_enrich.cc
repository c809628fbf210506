// nexmark-enrich: every bid with its bidder's name and state, looked up in a person
// service over HTTP. The service fails now and then (a 503) and always for some records
// (poison): a lookup is retried with exponential backoff, and a bid still failing after
// the last attempt goes to the dead-letter output instead of stopping the job.
//
//   kappa run nexmark-enrich --source gen:nexmark?events=10000 --sink file:out/
//       --param lookup=http://127.0.0.1:8080 --retry-attempts 5 --retry-backoff 50:2000
//       --checkpoint-dir ckpt/ --dead-letter file:dead/
//   {"auction":1007,"bidder":1001,"price":250,"dateTime":1700000000000,"name":"Person 1001","state":"AZ"}
//
// GET {lookup}/person/{bidder} answers {"name": ..., "state": ...}. A 5xx answer, a
// connection failure or a timeout is worth another attempt; a 4xx is not (the person does
// not exist, or the request is wrong: no retry changes that) and makes the bid a dead
// letter at once.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/jobs.h"
#include "httplib.h"
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

// The lookup's default policy: 3 attempts, 100 ms then 200 ms apart (±20%), each attempt
// at most 2 s. --retry-attempts and --retry-backoff change it.
RetryPolicy DefaultLookupPolicy() {
  RetryPolicy policy = RetryPolicy::Exponential(3, absl::Milliseconds(100), absl::Seconds(5));
  policy.attempt_timeout = absl::Seconds(2);
  return policy;
}

// One GET of a person. Returns the person, or throws: PermanentError for a 4xx, a
// std::runtime_error (retriable) for a 5xx or a failed connection.
PersonInfo GetPerson(httplib::Client& client, int64_t id) {
  const std::string path = absl::StrCat("/person/", id);
  httplib::Result res = client.Get(path);
  if (!res) throw std::runtime_error(absl::StrCat("GET ", path, ": ", httplib::to_string(res.error())));
  if (res->status >= 400 && res->status < 500) {
    throw PermanentError(absl::StrCat("GET ", path, ": ", res->status, " ", res->body));
  }
  if (res->status != 200) throw std::runtime_error(absl::StrCat("GET ", path, ": ", res->status, " ", res->body));
  PersonInfo person;
  JsonCodec<PersonInfo> codec;
  if (absl::Status s = codec.Decode(res->body, 0, &person); !s.ok()) {
    throw PermanentError(absl::StrCat("GET ", path, ": unreadable answer: ", s.message()));
  }
  return person;
}

EnrichedBid Enrich(const nexmark::Bid& bid, PersonInfo&& person) {
  return EnrichedBid{bid.auction, bid.bidder, bid.price, bid.date_time, std::move(person.name),
                     std::move(person.state)};
}

void BuildNexmarkEnrich(JobContext& ctx) {
  const std::string lookup = ctx.params().RequireString("lookup");
  const RetryPolicy policy = ctx.retry_policy(DefaultLookupPolicy());
  auto strategy = WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(kDefaultOutOfOrdernessMs))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  Stream<Event> bids = ctx.Source<Event>("events", std::move(strategy)).Filter([](const Event& e) {
    return e.is_bid();
  }, "bids");

  // Each parallel instance gets its own copy of the function and so its own client.
  struct Lookup {
    std::string base;
    RetryPolicy policy;
    std::shared_ptr<httplib::Client> client;
    void operator()(const Event& e, Collector<EnrichedBid>& out) {
      if (client == nullptr) {
        client = std::make_shared<httplib::Client>(base);
        const auto timeout = absl::ToChronoMilliseconds(policy.attempt_timeout);
        if (timeout.count() > 0) client->set_read_timeout(timeout);
      }
      const nexmark::Bid& bid = e.bid();
      std::string errors;
      for (int attempt = 1;; ++attempt) {
        try {
          out.Collect(Enrich(bid, GetPerson(*client, bid.bidder)));
          return;
        } catch (const std::exception& failure) {
          absl::StrAppend(&errors, errors.empty() ? "" : "; ", failure.what());
          if (attempt >= policy.max_attempts || !policy.IsRetriable(failure)) {
            throw PermanentError(absl::StrCat(attempt, " attempts: ", errors));
          }
          absl::SleepFor(policy.Backoff(attempt, absl::HashOf(bid.auction, bid.bidder, bid.date_time, attempt)));
        }
      }
    }
  };
  Stream<EnrichedBid> enriched = bids.FlatMap<EnrichedBid>(Lookup{lookup, policy, nullptr}, "enrich");
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
