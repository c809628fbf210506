// The HTTP endpoint of a running process (`--http HOST:PORT`): serves what the job's
// monitor sees, as
//   /metrics   Prometheus's text format (prometheus_text.h)
//   /api/job   the same snapshot as JSON, with rates over the last 3 seconds (job_json.h)
//   /          the dashboard, one self-contained page that reads /api/job (dashboard.h)
//
//   auto http = app::HttpEndpoint::Start("127.0.0.1:0", &monitor);
//   if (!http.ok()) ... ;
//   std::cerr << "kappa: dashboard at " << (*http)->url() << "\n";
//
// Requests are served on the endpoint's own threads; the job's tasks never wait for them.
// Stops when destroyed.
#ifndef KAPPA_APP_HTTP_ENDPOINT_H_
#define KAPPA_APP_HTTP_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kappa/runtime/monitor.h"

namespace kappa::app {

class HttpEndpoint {
 public:
  // Listens on host:port (port 0: a free port) and serves `monitor`, which must outlive the
  // endpoint.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(const std::string& host_port,
                                                            const runtime::JobMonitor* monitor);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  int port() const;
  // "http://HOST:PORT/"
  std::string url() const;

 private:
  struct Impl;
  explicit HttpEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kappa::app

#endif  // KAPPA_APP_HTTP_ENDPOINT_H_
