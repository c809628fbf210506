// A small HTTP client for the common case of AsyncMap: one line for a JSON GET or POST.
//
//   auto http = kappa::connectors::HttpClient::Create("http://127.0.0.1:8080").value();
//   bids.AsyncMap<Person>([http](const Bid& b, kappa::AsyncResult<Person> result) {
//     http->GetJson(absl::StrCat("/person/", b.bidder), std::move(result));
//   }, {.capacity = 64, .retry = kappa::RetryPolicy::Exponential(5, absl::Milliseconds(100), absl::Seconds(5))});
//
//   // The input enriched with the answer: combine(T&&) -> Out runs on the I/O thread.
//   bids.AsyncMap<EnrichedBid>([http](const Bid& b, kappa::AsyncResult<EnrichedBid> result) {
//     http->GetJson<Person>(absl::StrCat("/person/", b.bidder), std::move(result),
//                           [b](Person&& p) { return EnrichedBid{b.auction, b.price, p.name, p.state}; });
//   }, {.capacity = 64});
//
// Requests never block the caller: they wait in the client's queue for one of its I/O
// threads, each of which keeps its own keep-alive connection to the server (cpp-httplib).
// With more open calls than threads the rest queue, so `threads` bounds the requests on
// the wire; give it about the AsyncMap's capacity when the service is slow.
//
// Failures as AsyncMap's RetryPolicy sees them: a connection error, a timeout, an HTTP
// 5xx answer, 408 or 429 is an HttpError (retriable); any other answer outside 2xx (a
// 4xx: the request itself is wrong) and a body that does not decode are PermanentError
// (a dead letter at once).
//
// Thread-safety: every method may be called from any thread. Callbacks run on the
// client's I/O threads. The destructor finishes the requests on the wire, fails the
// queued ones with a cancelled status, and joins the threads.
#ifndef KAPPA_CONNECTORS_HTTP_CLIENT_H_
#define KAPPA_CONNECTORS_HTTP_CLIENT_H_

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kappa/base/json_codec.h"
#include "kappa/operators/async.h"
#include "kappa/runtime/retry.h"

namespace kappa::connectors {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// A failure worth another attempt: no connection, a timeout, or a 5xx, 408 or 429 answer
// (status() is 0 for the first two).
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

struct HttpClientOptions {
  int threads = 16;  // I/O threads, each with its own keep-alive connection
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration timeout = absl::Seconds(10);  // to read (or write) an answer
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
};

class HttpClient {
 public:
  // `base_url`: http://HOST:PORT (paths are appended to it). A malformed URL is an
  // InvalidArgument error.
  static absl::StatusOr<std::shared_ptr<HttpClient>> Create(const std::string& base_url,
                                                            HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The answer, or the status of a request that got none (Unavailable: no connection;
  // DeadlineExceeded: timed out; Cancelled: the client was destroyed first).
  using Callback = std::function<void(absl::StatusOr<HttpResponse>)>;
  void Get(std::string path, Callback done);
  void Post(std::string path, std::string body, std::string content_type, Callback done);

  // GET path; completes `result` with the body decoded as T (JsonCodec<T>).
  template <typename T>
  void GetJson(std::string path, AsyncResult<T> result) {
    GetJson<T>(std::move(path), std::move(result), [](T&& v) { return std::move(v); });
  }
  // GET path; completes `result` with combine(the body decoded as T), e.g. the input
  // record enriched with the answer. combine runs on an I/O thread; what it throws fails
  // the attempt.
  template <typename T, typename Out, typename Combine>
  void GetJson(std::string path, AsyncResult<Out> result, Combine combine) {
    std::string what = "GET " + path;
    Get(std::move(path), [result = std::move(result), what = std::move(what),
                          combine = std::move(combine)](absl::StatusOr<HttpResponse> r) mutable {
      CompleteJson<T>(what, std::move(r), result, combine);
    });
  }
  // POST path with `body` encoded as JSON; completes `result` with the answer decoded as T.
  template <typename T, typename Body>
  void PostJson(std::string path, const Body& body, AsyncResult<T> result) {
    PostJson<T>(std::move(path), body, std::move(result), [](T&& v) { return std::move(v); });
  }
  template <typename T, typename Body, typename Out, typename Combine>
  void PostJson(std::string path, const Body& body, AsyncResult<Out> result, Combine combine) {
    std::string json;
    JsonCodec<Body>().Encode(body, &json);
    std::string what = "POST " + path;
    Post(std::move(path), std::move(json), "application/json",
         [result = std::move(result), what = std::move(what), combine = std::move(combine)](
             absl::StatusOr<HttpResponse> r) mutable { CompleteJson<T>(what, std::move(r), result, combine); });
  }

  // The failure an answer (or its absence) stands for, as described above; null for a 2xx.
  // `what` names the request in the message ("GET /person/7: 503 Service Unavailable").
  static std::exception_ptr FailureOf(const std::string& what, const absl::StatusOr<HttpResponse>& r);

  const std::string& base_url() const { return base_url_; }

 private:
  struct Request {
    bool post = false;
    std::string path;
    std::string body;
    std::string content_type;
    Callback done;
  };
  class Connection;  // one I/O thread's httplib client

  HttpClient(std::string base_url, HttpClientOptions options);
  void Enqueue(Request request);
  void IoLoop();

  template <typename T, typename Out, typename Combine>
  static void CompleteJson(const std::string& what, absl::StatusOr<HttpResponse> r, const AsyncResult<Out>& result,
                           Combine& combine) {
    if (std::exception_ptr failure = FailureOf(what, r)) {
      result.Fail(failure);
      return;
    }
    thread_local JsonCodec<T> codec;  // holds a parser: one per thread
    T value{};
    if (absl::Status s = codec.Decode(r->body, 0, &value); !s.ok()) {
      result.Fail(std::make_exception_ptr(PermanentError(absl::StrCat(what, ": the answer does not decode: ", s.message()))));
      return;
    }
    try {
      result.Complete(combine(std::move(value)));
    } catch (...) {
      result.Fail(std::current_exception());
    }
  }

  const std::string base_url_;
  const HttpClientOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_HTTP_CLIENT_H_
