#include "kappa/connectors/http_client.h"

#include <httplib.h>

#include "absl/strings/match.h"

namespace kappa::connectors {
namespace {

void SetTimeout(absl::Duration d, const std::function<void(time_t, time_t)>& set) {
  const int64_t us = absl::ToInt64Microseconds(d);
  set(static_cast<time_t>(us / 1'000'000), static_cast<time_t>(us % 1'000'000));
}

absl::Status StatusOf(httplib::Error e, const std::string& base_url) {
  switch (e) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
      return absl::UnavailableError(absl::StrCat("cannot connect to ", base_url));
    case httplib::Error::Read:
      return absl::DeadlineExceededError("no answer (timed out, or the connection closed)");
    default:
      return absl::UnavailableError(httplib::to_string(e));
  }
}

const char* Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace

class HttpClient::Connection {
 public:
  Connection(const std::string& base_url, const HttpClientOptions& o) : base_url_(base_url), client_(base_url) {
    client_.set_keep_alive(true);
    // Small requests and answers: without it Nagle's algorithm and the peer's delayed ACK
    // add some 40 ms to each request on a kept-alive connection.
    client_.set_tcp_nodelay(true);
    SetTimeout(o.connect_timeout, [this](time_t s, time_t us) { client_.set_connection_timeout(s, us); });
    SetTimeout(o.timeout, [this](time_t s, time_t us) {
      client_.set_read_timeout(s, us);
      client_.set_write_timeout(s, us);
    });
    for (const auto& [k, v] : o.headers) headers_.emplace(k, v);
  }

  absl::StatusOr<HttpResponse> Do(const Request& r) {
    httplib::Result res = r.post ? client_.Post(r.path, headers_, r.body, r.content_type) : client_.Get(r.path, headers_);
    if (!res) return StatusOf(res.error(), base_url_);
    return HttpResponse{res->status, std::move(res->body)};
  }

 private:
  const std::string& base_url_;
  httplib::Client client_;
  httplib::Headers headers_;
};

absl::StatusOr<std::shared_ptr<HttpClient>> HttpClient::Create(const std::string& base_url, HttpClientOptions options) {
  const std::string rest = absl::StartsWith(base_url, "http://") ? base_url.substr(7) : "";
  if (rest.empty() || rest.find('/') != std::string::npos || !httplib::Client(base_url).is_valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP client: the base URL must be http://HOST[:PORT], not '", base_url, "'"));
  }
  if (options.threads < 1) return absl::InvalidArgumentError("HTTP client: threads must be at least 1");
  return std::shared_ptr<HttpClient>(new HttpClient(base_url, std::move(options)));
}

HttpClient::HttpClient(std::string base_url, HttpClientOptions options)
    : base_url_(std::move(base_url)), options_(std::move(options)) {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { IoLoop(); });
}

HttpClient::~HttpClient() {
  std::deque<Request> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  for (Request& r : left) r.done(absl::CancelledError("the HTTP client was closed before the request was sent"));
  for (std::thread& t : threads_) t.join();
}

void HttpClient::Get(std::string path, Callback done) {
  Enqueue(Request{.post = false, .path = std::move(path), .done = std::move(done)});
}

void HttpClient::Post(std::string path, std::string body, std::string content_type, Callback done) {
  Enqueue(Request{.post = true, .path = std::move(path), .body = std::move(body), .content_type = std::move(content_type),
                  .done = std::move(done)});
}

void HttpClient::Enqueue(Request request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(request));
      request.done = nullptr;
    }
  }
  if (request.done) {
    request.done(absl::CancelledError("the HTTP client is closing"));
    return;
  }
  cv_.notify_one();
}

void HttpClient::IoLoop() {
  Connection connection(base_url_, options_);
  while (true) {
    Request r;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    r.done(connection.Do(r));
  }
}

std::exception_ptr HttpClient::FailureOf(const std::string& what, const absl::StatusOr<HttpResponse>& r) {
  if (!r.ok()) {
    if (absl::IsCancelled(r.status())) return std::make_exception_ptr(PermanentError(absl::StrCat(what, ": ", r.status().message())));
    return std::make_exception_ptr(HttpError(0, absl::StrCat(what, ": ", r.status().message())));
  }
  if (r->status >= 200 && r->status < 300) return nullptr;
  std::string message = absl::StrCat(what, ": ", r->status);
  if (const char* reason = Reason(r->status); *reason != '\0') absl::StrAppend(&message, " ", reason);
  // 408 and 429 say "not now" rather than "never": worth another attempt, like a 5xx.
  if (r->status >= 500 || r->status == 408 || r->status == 429) return std::make_exception_ptr(HttpError(r->status, message));
  return std::make_exception_ptr(PermanentError(message));
}

}  // namespace kappa::connectors
