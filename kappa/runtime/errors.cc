#include "kappa/runtime/errors.h"

#include <chrono>

#include "absl/strings/str_cat.h"

#include "kappa/base/file_writer.h"
#include "kappa/base/json_util.h"

namespace kappa {

ErrorSink::ErrorSink(std::unique_ptr<FileWriter> writer, bool keep_in_memory)
    : writer_(std::move(writer)), keep_(keep_in_memory) {}

ErrorSink::ErrorSink(ForwardTo to) : keep_(false), parent_(to.parent) {}

std::vector<RecentError> ErrorSink::Recent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<RecentError>(recent_.begin(), recent_.end());
}

std::vector<ErrorEvent> ErrorSink::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_;
}

ErrorSink::~ErrorSink() {
  if (writer_) (void)writer_->Flush();
}

void ErrorSink::Report(const ErrorEvent& e) {
  if (e.kind == "decode") {
    decode_.fetch_add(1, std::memory_order_relaxed);
  } else if (e.kind == "late") {
    late_.fetch_add(1, std::memory_order_relaxed);
  } else {
    user_.fetch_add(1, std::memory_order_relaxed);
  }
  if (parent_ != nullptr) {
    parent_->Report(e);
    return;
  }
  {
    RecentError r;
    r.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    r.kind = e.kind;
    r.operator_name = e.operator_name;
    r.error = !e.error.empty() ? e.error
              : e.kind == "late" ? absl::StrCat("event time ", e.ts, " is behind the watermark")
                               : std::string();
    std::lock_guard<std::mutex> lock(mu_);
    recent_.push_back(std::move(r));
    if (recent_.size() > kRecent) recent_.pop_front();
    if (keep_) kept_.push_back(e);
  }
  if (!writer_) return;
  std::string line = "{\"kind\":";
  json::AppendString(e.kind, &line);
  if (!e.operator_name.empty()) {
    line += ",\"operator\":";
    json::AppendString(e.operator_name, &line);
  }
  if (e.partition >= 0) {
    line += ",\"partition\":";
    json::AppendInt(e.partition, &line);
  }
  if (e.offset >= 0) {
    line += ",\"offset\":";
    json::AppendInt(e.offset, &line);
  }
  if (e.has_ts) {
    line += ",\"ts\":";
    json::AppendInt(e.ts, &line);
  }
  if (!e.error.empty()) {
    line += ",\"error\":";
    json::AppendString(e.error, &line);
  }
  if (!e.record.empty()) {
    line += ",\"record\":";
    json::AppendString(e.record, &line);
  }
  line += "}\n";
  absl::Status s = writer_->Append(line);
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.ok() && status_.ok()) status_ = s;
}

absl::Status ErrorSink::Flush() {
  if (!writer_) return absl::OkStatus();
  absl::Status s = writer_->Flush();
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.ok() && status_.ok()) status_ = s;
  return status_;
}

absl::Status ErrorSink::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace kappa
