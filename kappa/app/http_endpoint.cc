#include "kappa/app/http_endpoint.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kappa/app/dashboard.h"
#include "kappa/app/job_json.h"
#include "kappa/app/prometheus_text.h"

namespace kappa::app {

struct HttpEndpoint::Impl {
  const runtime::JobMonitor* monitor = nullptr;
  std::string host;
  int port = 0;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> listen_returned{false};

  // Rates on /api/job compare the newest snapshot with one taken kRateWindowMs earlier:
  // long enough to smooth over bursts (windows firing every few seconds), short enough to
  // look live. A sampler thread takes one every half second, so that any request, the
  // first one of `kappa status` included, finds one, however often or rarely clients ask.
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  std::deque<runtime::JobSnapshot> samples;  // oldest first, at most kMaxSamples
  std::thread sampler;
  static constexpr int kSampleMs = 500;
  static constexpr int64_t kRateWindowMs = 3000;
  static constexpr size_t kMaxSamples = kRateWindowMs / kSampleMs + 2;

  void Sample() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      lock.unlock();
      runtime::JobSnapshot s = monitor->Snapshot();
      lock.lock();
      samples.push_back(std::move(s));
      if (samples.size() > kMaxSamples) samples.pop_front();
      wake.wait_for(lock, std::chrono::milliseconds(kSampleMs), [this] { return stopping; });
    }
  }

  std::string ApiJob() {
    runtime::JobSnapshot now = monitor->Snapshot();
    std::lock_guard<std::mutex> lock(mu);
    // The newest sample at least kRateWindowMs old, else the oldest one there is.
    const runtime::JobSnapshot* previous = samples.empty() ? nullptr : &samples.front();
    for (const runtime::JobSnapshot& s : samples) {
      if (now.now_ms - s.now_ms >= kRateWindowMs) previous = &s;
    }
    if (previous != nullptr && previous->now_ms >= now.now_ms) previous = nullptr;
    return JobJson(now, previous);
  }
};

HttpEndpoint::HttpEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpEndpoint::~HttpEndpoint() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->sampler.joinable()) impl_->sampler.join();
  // Server::stop() does nothing until the listening thread has started serving, so an
  // endpoint destroyed right after Start() (a job that ends at once) would leave that
  // thread accepting forever and the join hanging: stop until the thread is out.
  while (impl_->thread.joinable() && !impl_->listen_returned.load()) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

int HttpEndpoint::port() const { return impl_->port; }

std::string HttpEndpoint::url() const { return absl::StrCat("http://", impl_->host, ":", impl_->port, "/"); }

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& host_port,
                                                                  const runtime::JobMonitor* monitor) {
  size_t colon = host_port.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(host_port.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http ", host_port, ": expected HOST:PORT, e.g. 127.0.0.1:8081 (port 0 picks a free one)"));
  }
  auto impl = std::make_unique<Impl>();
  impl->monitor = monitor;
  impl->host = host_port.substr(0, colon);
  Impl* self = impl.get();
  self->server.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(PrometheusText(self->monitor->Snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  });
  self->server.Get("/api/job", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->ApiJob(), "application/json");
  });
  self->server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(DashboardHtml()), "text/html; charset=utf-8");
  });
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second process bind a port a
  // running job already serves, the kernel then splitting requests between the two.
  // SO_REUSEADDR alone only allows a restart while old connections linger in TIME_WAIT.
  self->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  if (port == 0) {
    self->port = self->server.bind_to_any_port(self->host);
  } else {
    self->port = self->server.bind_to_port(self->host, port) ? port : -1;
  }
  if (self->port <= 0) {
    return absl::UnavailableError(absl::StrCat("--http ", host_port,
                                               ": cannot listen there (address in use or not on this host); "
                                               "pick another port, or 0 for a free one"));
  }
  self->thread = std::thread([self] {
    self->server.listen_after_bind();
    self->listen_returned = true;
  });
  self->sampler = std::thread([self] { self->Sample(); });
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(impl)));
}

}  // namespace kappa::app
