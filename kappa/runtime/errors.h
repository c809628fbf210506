// The job's `errors` output: records that could not be decoded, records whose user
// function threw, and late records nobody else consumed.
//
// None of them crashes the job or vanishes: each is counted and written as one JSON line
// with where it came from and why, e.g.
//   {"kind":"decode","operator":"bids","partition":0,"offset":1234,"error":"...","record":"{\"typ"}
//   {"kind":"user","operator":"parse-price","ts":1700000001000,"error":"stoi","record":"..."}
//   {"kind":"late","operator":"window","ts":1700000001000,"record":"..."}
// Thread-safe: every task reports into the same sink. Each operator instance reports through
// its own child sink (ErrorSink(parent)), which counts what that instance reported and
// passes every event on, so the monitor can tell operators apart without a lookup. The
// root keeps the newest events for the dashboard (Recent()).
#ifndef KAPPA_RUNTIME_ERRORS_H_
#define KAPPA_RUNTIME_ERRORS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/time.h"

namespace kappa {

struct ErrorEvent {
  std::string kind;            // decode | user | late
  std::string operator_name;   // operator or source name
  int partition = -1;          // source partition, for decode errors
  int64_t offset = -1;         // source offset, for decode errors
  bool has_ts = false;
  Timestamp ts = 0;
  std::string error;           // the message (exception what(), parser error)
  std::string record;          // the raw input or the record as JSON, if known
};

// One event as the monitor shows it: when, what, where, why (not the record).
struct RecentError {
  int64_t time_ms = 0;  // epoch ms when it was reported
  std::string kind;
  std::string operator_name;
  std::string error;
};

class ErrorSink {
 public:
  // Writes to `writer`; null writer only counts. keep_in_memory: also keep every event
  // (tests read them with events()).
  explicit ErrorSink(std::unique_ptr<FileWriter> writer, bool keep_in_memory = false);
  // Counts what is reported through it and passes it on to `parent` (not owned; may be
  // null: then it only counts).
  struct ForwardTo {
    ErrorSink* parent;
  };
  explicit ErrorSink(ForwardTo to);
  ~ErrorSink();

  static constexpr size_t kRecent = 20;

  void Report(const ErrorEvent& event);
  absl::Status Flush();

  int64_t decode_errors() const { return decode_.load(); }
  int64_t user_errors() const { return user_.load(); }
  int64_t late_records() const { return late_.load(); }
  // The first write failure, if any (the job reports it at the end).
  absl::Status status() const;
  std::vector<ErrorEvent> events() const;
  // The newest events reported here (through children too), the newest last, at most kRecent.
  std::vector<RecentError> Recent() const;

 private:
  std::unique_ptr<FileWriter> writer_;
  const bool keep_;
  ErrorSink* const parent_ = nullptr;
  mutable std::mutex mu_;
  std::vector<ErrorEvent> kept_;
  std::deque<RecentError> recent_;
  absl::Status status_;
  std::atomic<int64_t> decode_{0}, user_{0}, late_{0};
};

}  // namespace kappa

#endif  // KAPPA_RUNTIME_ERRORS_H_
