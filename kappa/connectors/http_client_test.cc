#include "kappa/connectors/http_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/json_codec.h"
#include "kappa/testing/harness.h"
#include "kappa/testing/status_matchers.h"

namespace kappa::connectors {
namespace {

struct Person {
  std::string name;
  std::string state;
  bool operator==(const Person&) const = default;
};

}  // namespace
}  // namespace kappa::connectors

KAPPA_JSON(kappa::connectors::Person, name, state);

namespace kappa::connectors {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// A cpp-httplib server on a free loopback port, serving from its own thread.
class TestServer {
 public:
  TestServer() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
    server_.set_keep_alive_max_count(1000);  // cpp-httplib's server closes after 5 by default
    server_.set_tcp_nodelay(true);
  }
  ~TestServer() { Stop(); }
  httplib::Server& server() { return server_; }
  void Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(server_.is_running());
  }
  void Stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// A gate handlers wait at until the test opens it (or `count` requests arrived).
class Gate {
 public:
  void Arrive() {
    std::lock_guard<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
  }
  bool WaitOpen(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return open_ || arrived_ >= count; });
  }
  bool WaitArrived(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return arrived_ >= count; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool open_ = false;
};

absl::StatusOr<HttpResponse> GetNow(HttpClient& client, const std::string& path) {
  std::promise<absl::StatusOr<HttpResponse>> p;
  client.Get(path, [&p](absl::StatusOr<HttpResponse> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

// What AsyncMap's retry policy makes of the failure `r` stands for.
struct Classified {
  bool failed = false;
  bool retriable = false;
  std::string message;
};
Classified Classify(const std::string& what, const absl::StatusOr<HttpResponse>& r) {
  Classified c;
  std::exception_ptr e = HttpClient::FailureOf(what, r);
  if (e == nullptr) return c;
  c.failed = true;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    c.retriable = RetryPolicy{}.IsRetriable(ex);
    c.message = ex.what();
  }
  return c;
}

int FreePortWithoutListener() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(HttpClientTest, GetJsonInAnAsyncMapDecodesTheAnswer) {
  TestServer s;
  s.server().Get(R"(/person/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(R"({"name":"Person )" + std::string(req.matches[1]) + R"(","state":"OR","extra":1})",
                    "application/json");
  });
  s.Start();
  std::shared_ptr<HttpClient> http = HttpClient::Create(s.url()).value();
  // The input enriched with the decoded answer.
  auto fn = [http](const int64_t& id, AsyncResult<std::string> result) {
    http->GetJson<Person>("/person/" + std::to_string(id), std::move(result),
                          [id](Person&& p) { return std::to_string(id) + ": " + p.name + " in " + p.state; });
  };
  kappa::testing::OperatorHarness<int64_t, std::string> h(
      std::make_unique<operators::AsyncMapOperator<int64_t, std::string, decltype(fn)>>(fn, AsyncOptions{.capacity = 4}));
  ASSERT_OK(h.Open());
  h.Process(7, 70);
  h.Process(8, 80);
  for (int i = 0; i < 2000 && h.output().size() < 2; ++i) {
    if (!h.Wake()) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the harness has no scheduler
  }
  EXPECT_THAT(h.output(), ::testing::ElementsAre("7: Person 7 in OR", "8: Person 8 in OR"));
}

TEST(HttpClientTest, PostJsonSendsTheBodyAsJson) {
  TestServer s;
  std::string seen_type;
  s.server().Post("/echo", [&](const httplib::Request& req, httplib::Response& res) {
    seen_type = req.get_header_value("Content-Type");
    res.set_content(req.body, "application/json");
  });
  s.Start();
  std::shared_ptr<HttpClient> http = HttpClient::Create(s.url()).value();
  auto fn = [http](const int64_t& id, AsyncResult<Person> result) {
    http->PostJson("/echo", Person{"P" + std::to_string(id), "ID"}, std::move(result));
  };
  kappa::testing::OperatorHarness<int64_t, Person> h(
      std::make_unique<operators::AsyncMapOperator<int64_t, Person, decltype(fn)>>(fn, AsyncOptions{}));
  ASSERT_OK(h.Open());
  h.Process(3, 30);
  for (int i = 0; i < 2000 && h.output().empty(); ++i) {
    if (!h.Wake()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_THAT(h.output(), ::testing::ElementsAre(Person{"P3", "ID"}));
  EXPECT_EQ(seen_type, "application/json");
}

TEST(HttpClientTest, ServerErrorsAndTimeoutsAreRetriableClientErrorsAreNot) {
  TestServer s;
  Gate gate;
  s.server().Get("/busy", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  s.server().Get("/limited", [](const httplib::Request&, httplib::Response& res) { res.status = 429; });
  s.server().Get("/bad", [](const httplib::Request&, httplib::Response& res) { res.status = 400; });
  s.server().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    gate.WaitOpen(1000);
    res.set_content("{}", "application/json");
  });
  s.Start();
  std::shared_ptr<HttpClient> http = HttpClient::Create(s.url(), {.threads = 2, .timeout = absl::Milliseconds(200)}).value();

  Classified busy = Classify("GET /busy", GetNow(*http, "/busy"));
  EXPECT_TRUE(busy.failed && busy.retriable);
  EXPECT_EQ(busy.message, "GET /busy: 503 Service Unavailable");
  Classified limited = Classify("GET /limited", GetNow(*http, "/limited"));
  EXPECT_TRUE(limited.failed && limited.retriable);
  Classified bad = Classify("GET /bad", GetNow(*http, "/bad"));
  EXPECT_TRUE(bad.failed);
  EXPECT_FALSE(bad.retriable);
  EXPECT_EQ(bad.message, "GET /bad: 400 Bad Request");
  Classified missing = Classify("GET /nowhere", GetNow(*http, "/nowhere"));
  EXPECT_FALSE(missing.retriable);
  EXPECT_EQ(missing.message, "GET /nowhere: 404 Not Found");

  absl::StatusOr<HttpResponse> slow = GetNow(*http, "/slow");
  gate.Open();
  EXPECT_TRUE(absl::IsDeadlineExceeded(slow.status())) << slow.status();
  Classified timed_out = Classify("GET /slow", slow);
  EXPECT_TRUE(timed_out.failed && timed_out.retriable);
  EXPECT_THAT(timed_out.message, HasSubstr("GET /slow: no answer"));

  std::shared_ptr<HttpClient> nobody =
      HttpClient::Create("http://127.0.0.1:" + std::to_string(FreePortWithoutListener())).value();
  absl::StatusOr<HttpResponse> refused = GetNow(*nobody, "/x");
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_TRUE(Classify("GET /x", refused).retriable);
}

TEST(HttpClientTest, AnAnswerThatDoesNotDecodeIsADeadLetterAtOnce) {
  TestServer s;
  s.server().Get("/person/1", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"name":"no state"})", "application/json");
  });
  s.Start();
  std::shared_ptr<HttpClient> http = HttpClient::Create(s.url()).value();
  auto fn = [http](const int64_t& id, AsyncResult<Person> result) {
    http->GetJson("/person/" + std::to_string(id), std::move(result));
  };
  RetryPolicy retry = RetryPolicy::Exponential(5, absl::Milliseconds(1), absl::Milliseconds(1));
  kappa::testing::OperatorHarness<int64_t, Person> h(std::make_unique<operators::AsyncMapOperator<int64_t, Person, decltype(fn)>>(
      fn, AsyncOptions{.retry = retry}));
  ASSERT_OK(h.Open());
  h.Process(1, 10);
  for (int i = 0; i < 2000 && h.dead_letters().empty(); ++i) {
    if (!h.Wake()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_THAT(h.dead_letters(), SizeIs(1));
  EXPECT_EQ(h.dead_letters()[0].attempts, 1);
  EXPECT_THAT(h.dead_letters()[0].errors[0], HasSubstr("GET /person/1: the answer does not decode"));
}

TEST(HttpClientTest, RequestsGoOutConcurrentlyOverKeepAliveConnections) {
  constexpr int kThreads = 4;
  TestServer s;
  Gate gate;
  std::mutex mu;
  std::set<int> client_ports;
  s.server().Get("/together", [&](const httplib::Request&, httplib::Response& res) {
    gate.Arrive();
    // Answers only once all four are on the wire at once (or fails the test by timing out).
    res.status = gate.WaitOpen(kThreads) ? 200 : 504;
  });
  s.server().Get("/port", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    client_ports.insert(req.remote_port);
    res.set_content("{}", "application/json");
  });
  s.Start();
  std::shared_ptr<HttpClient> http = HttpClient::Create(s.url(), {.threads = kThreads}).value();
  std::vector<std::future<absl::StatusOr<HttpResponse>>> answers;
  for (int i = 0; i < kThreads; ++i) {
    auto p = std::make_shared<std::promise<absl::StatusOr<HttpResponse>>>();
    answers.push_back(p->get_future());
    http->Get("/together", [p](absl::StatusOr<HttpResponse> r) { p->set_value(std::move(r)); });
  }
  for (auto& a : answers) {
    absl::StatusOr<HttpResponse> r = a.get();
    ASSERT_OK(r.status());
    EXPECT_EQ(r->status, 200);
  }
  for (int i = 0; i < 40; ++i) ASSERT_EQ(GetNow(*http, "/port")->status, 200);
  EXPECT_LE(client_ports.size(), static_cast<size_t>(kThreads));  // connections are kept, not one per request
}

TEST(HttpClientTest, ClosingTheClientCancelsWhatIsStillQueued) {
  TestServer s;
  Gate gate;
  s.server().Get("/hold", [&](const httplib::Request&, httplib::Response& res) {
    gate.Arrive();
    gate.WaitOpen(1000);
    res.set_content("{}", "application/json");
  });
  s.Start();
  std::shared_ptr<HttpClient> http = HttpClient::Create(s.url(), {.threads = 1}).value();
  std::promise<absl::StatusOr<HttpResponse>> first;
  http->Get("/hold", [&](absl::StatusOr<HttpResponse> r) { first.set_value(std::move(r)); });
  ASSERT_TRUE(gate.WaitArrived(1));  // the only I/O thread is busy with it
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 3; ++i) {
    http->Get("/hold", [&](absl::StatusOr<HttpResponse> r) { cancelled += absl::IsCancelled(r.status()); });
  }
  std::thread closer([&] { http.reset(); });
  for (int i = 0; i < 4000 && cancelled < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(cancelled.load(), 3);
  gate.Open();
  closer.join();
  absl::StatusOr<HttpResponse> r = first.get_future().get();
  ASSERT_OK(r.status());
  EXPECT_EQ(r->status, 200);  // what was on the wire finished
}

TEST(HttpClientTest, ABaseUrlThatIsNotPlainHttpIsRefusedWithOneLine) {
  absl::StatusOr<std::shared_ptr<HttpClient>> c = HttpClient::Create("localhost:8080");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "HTTP client: the base URL must be http://HOST[:PORT], not 'localhost:8080'");
  EXPECT_FALSE(HttpClient::Create("http://host:1/path").ok());
  EXPECT_FALSE(HttpClient::Create("http://h", {.threads = 0}).ok());
}

}  // namespace
}  // namespace kappa::connectors
