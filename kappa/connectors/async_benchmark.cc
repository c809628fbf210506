// AsyncMap throughput against a local HTTP service that answers each request after a
// fixed delay (1 ms), beside the baseline measured in the same run: a synchronous Map
// making the same GET with a blocking cpp-httplib client (one call at a time per worker,
// as any Map must).
//
//   BM_SyncMapHttp          Map → blocking GET, parallelism 1
//   BM_AsyncMapHttp/C       AsyncMap with capacity C (1, 8, 64, 256), HttpClient with C
//                           I/O threads, parallelism 1
//
// Each iteration runs a job over `records` inputs from a bounded source to a discarding
// sink; records_per_s counts inputs per second of wall time.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "kappa/api/job.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/http_client.h"

namespace kappa {
namespace {

struct Id {
  int64_t id = 0;
};
struct Name {
  std::string name;
};

}  // namespace
}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::Id, &kappa::Id::id);
KAPPA_JSON(kappa::Name, name);

namespace kappa {
namespace {

constexpr auto kServiceDelay = std::chrono::milliseconds(1);

// The service: GET /name/ID answers {"name":"nID"} after kServiceDelay.
class Service {
 public:
  Service() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(320); };
    server_.set_keep_alive_max_count(1'000'000);
    server_.set_tcp_nodelay(true);
    server_.Get(R"(/name/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(kServiceDelay);  // the service's own latency
      res.set_content(R"({"name":"n)" + std::string(req.matches[1]) + R"("})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Service() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

Service& TheService() {
  static Service* s = new Service();
  return *s;
}

// One partition of `n` ids.
class IdSource final : public SourceConnector<Id> {
 public:
  explicit IdSource(int64_t n) : n_(n) {}
  absl::StatusOr<int> NumPartitions() override { return 1; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Id>>> Open(int, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Id>>(new Reader(n_, offset));
  }
  std::string description() const override { return "ids"; }

 private:
  class Reader final : public PartitionReader<Id> {
   public:
    Reader(int64_t n, int64_t at) : n_(n), at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Id>& ctx) override {
      if (at_ >= n_) return ReadStatus::kEnd;
      for (size_t i = 0; i < max && at_ < n_; ++i) ctx.Emit(Id{at_++});
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    int64_t n_, at_;
  };
  const int64_t n_;
};

WatermarkStrategy<Id> Strategy() {
  return WatermarkStrategy<Id>::BoundedOutOfOrderness(0).WithTimestamp([](const Id& r) { return r.id; });
}

template <typename Build>
void RunJob(benchmark::State& state, int64_t records, Build build) {
  for (auto _ : state) {
    auto job = Job::Create("async-bench");
    auto out = std::make_shared<connectors::CollectSink<Name>>();
    build(job->Source<Id>("ids", std::make_shared<IdSource>(records), Strategy())).SinkTo(out);
    ErrorSink errors(nullptr, /*keep_in_memory=*/true);  // dead letters land here
    ExecutionOptions opt;
    opt.workers = 2;
    opt.errors = &errors;
    auto result = job->Execute(opt);
    if (!result.ok() || out->values().size() != static_cast<size_t>(records)) {
      std::string why = result.ok() ? absl::StrCat(records - static_cast<int64_t>(out->values().size()),
                                                   " records missing, ", errors.user_errors(), " dead letters")
                                    : std::string(result.status().message());
      if (!errors.events().empty()) absl::StrAppend(&why, ", e.g. ", errors.events().back().error);
      state.SkipWithError(why.c_str());
      return;
    }
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SyncMapHttp(benchmark::State& state) {
  const std::string url = TheService().url();
  RunJob(state, 1000, [&](Stream<Id> ids) {
    return ids.Map([url](const Id& r) {
      thread_local httplib::Client client(url);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      httplib::Result res = client.Get("/name/" + std::to_string(r.id));
      thread_local JsonCodec<Name> codec;
      Name n;
      if (res && res->status == 200) (void)codec.Decode(res->body, 0, &n);
      return n;
    });
  });
}
BENCHMARK(BM_SyncMapHttp)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_AsyncMapHttp(benchmark::State& state) {
  const int capacity = static_cast<int>(state.range(0));
  std::shared_ptr<connectors::HttpClient> http =
      connectors::HttpClient::Create(TheService().url(), {.threads = capacity}).value();
  // About two seconds of work at the ideal rate of capacity / 1 ms.
  const int64_t records = std::clamp<int64_t>(capacity * 2000, 1000, 100'000);
  RunJob(state, records, [&](Stream<Id> ids) {
    return ids.AsyncMap<Name>(
        [http](const Id& r, AsyncResult<Name> result) { http->GetJson("/name/" + std::to_string(r.id), std::move(result)); },
        // Retries: the server's listen backlog (cpp-httplib: 5) drops some of 256
        // connections opened at once; their first requests fail and are made again.
        {.capacity = capacity,
         .order = AsyncOrder::kUnordered,
         .retry = RetryPolicy::Exponential(3, absl::Milliseconds(10), absl::Milliseconds(100))});
  });
}
BENCHMARK(BM_AsyncMapHttp)->Arg(1)->Arg(8)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace
}  // namespace kappa
