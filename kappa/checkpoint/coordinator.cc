#include "kappa/checkpoint/coordinator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kappa/checkpoint/manifest_convert.h"

namespace kappa::checkpoint {

CheckpointCoordinator::CheckpointCoordinator(checkpoint::CheckpointStorage* storage, CoordinatorOptions options,
                                             int tasks, std::function<void(int64_t id)> trigger_sources)
    : storage_(storage),
      options_(std::move(options)),
      tasks_(tasks),
      trigger_sources_(std::move(trigger_sources)),
      live_tasks_(tasks),
      next_id_(options_.first_id) {}

CheckpointCoordinator::~CheckpointCoordinator() { Stop(); }

std::string CheckpointCoordinator::SnapshotDir(int64_t id, const std::string& task) const {
  std::string safe;
  for (char c : task) safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return absl::StrCat(storage_->PathFor(id), "/tasks/", safe);
}

void CheckpointCoordinator::Start() {
  if (options_.interval_ms <= 0) return;
  thread_ = std::thread([this] { Loop(); });
}

void CheckpointCoordinator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status CheckpointCoordinator::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

absl::Status CheckpointCoordinator::fatal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

CheckpointStats CheckpointCoordinator::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void CheckpointCoordinator::Record(CheckpointRecord record, bool failed) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  if (record.completed) ++stats_.completed;
  if (failed) ++stats_.failed;
  stats_.history.push_back(std::move(record));
  if (stats_.history.size() > CheckpointStats::kHistory) stats_.history.erase(stats_.history.begin());
}

absl::Status CheckpointCoordinator::CommitSink(const checkpoint::SinkPending& sink) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = options_.commit ? options_.commit(sink) : PublishPending(PendingFilesOf(sink));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(stats_mu_);
  SinkCommitRecord* r = nullptr;
  for (SinkCommitRecord& c : stats_.sinks) {
    if (c.operator_uid == sink.operator_uid() && c.subtask == sink.subtask()) r = &c;
  }
  if (r == nullptr) {
    r = &stats_.sinks.emplace_back();
    r->operator_uid = sink.operator_uid();
    r->subtask = sink.subtask();
  }
  ++r->commits;
  r->last_commit_s = took;
  return s;
}

// Called with mu_ held.
bool CheckpointCoordinator::Failed(const absl::Status& s) {
  if (s.ok()) return false;
  if (status_.ok()) status_ = s;
  if (!IsFatal(s)) return false;
  if (fatal_.ok()) fatal_ = s;
  return true;
}

void CheckpointCoordinator::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // Sleep until the next checkpoint is due, waking every 100 ms for savepoint requests.
    auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.interval_ms);
    while (!stopping_ && std::chrono::steady_clock::now() < due) {
      cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(due - std::chrono::steady_clock::now(),
                                                                        std::chrono::milliseconds(100)),
                   [this] { return stopping_; });
      std::vector<std::string> requested = storage_->TakeSavepointRequests();
      if (!requested.empty()) {
        savepoints_requested_.insert(savepoints_requested_.end(), requested.begin(), requested.end());
        break;  // checkpoint now
      }
    }
    if (stopping_) break;
    if (live_tasks_ < tasks_ && live_tasks_ == 0) break;
    int64_t id = next_id_++;
    CheckpointRecord record;
    record.id = id;
    record.triggered_ms = absl::ToUnixMillis(absl::Now());
    const auto started = std::chrono::steady_clock::now();
    auto finish = [&](bool completed, std::string error, bool failed) {
      record.completed = completed;
      record.error = std::move(error);
      record.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      Record(std::move(record), failed);
    };
    lock.unlock();
    absl::Status triggered = Trigger(id);
    lock.lock();
    if (!triggered.ok()) finish(false, std::string(triggered.message()), true);
    if (Failed(triggered)) break;
    if (!triggered.ok()) continue;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    cv_.wait_until(lock, deadline,
                   [this] { return stopping_ || expected_acks_ <= 0 || acks_ >= expected_acks_; });
    if (stopping_) break;
    if (expected_acks_ <= 0 || acks_ < expected_acks_) {
      if (expected_acks_ <= 0) {
        finish(false, "abandoned: a task finished before it acknowledged", false);
      } else {
        finish(false, absl::StrCat("timed out after ", options_.timeout_ms, " ms with ", acks_, " of ",
                                   expected_acks_, " tasks acknowledged"),
               true);
      }
      // Timed out, or a task finished meanwhile: abandon, try again next time. What the
      // sinks pre-committed for it still has to be published by a later checkpoint.
      for (TaskAck& ack : pending_acks_) {
        for (const auto& s : ack.snapshot.sinks) carried_sinks_.push_back(ToProto(s));
      }
      pending_acks_.clear();
      pending_id_ = -1;
      continue;
    }
    absl::Status s = Complete();
    pending_id_ = -1;
    record.alignment_s = pending_alignment_s_;
    record.bytes = pending_bytes_;
    finish(s.ok(), std::string(s.message()), !s.ok());
    if (Failed(s)) break;
    if (s.ok()) {
      bool fatal = false;
      for (const std::string& name : savepoints_requested_) {
        auto path = storage_->CreateSavepoint(name);
        if (!path.ok()) fatal |= Failed(path.status());
      }
      savepoints_requested_.clear();
      if (fatal) break;
    }
  }
  // A fatal error: nothing more is triggered or completed; the run is told to stop.
  if (!fatal_.ok() && on_fatal_) {
    absl::Status fatal = fatal_;
    lock.unlock();
    on_fatal_(fatal);
  }
}

absl::Status CheckpointCoordinator::Trigger(int64_t id) {
  auto path = storage_->Begin(id);
  if (!path.ok()) return path.status();
  std::lock_guard<std::mutex> lock(mu_);
  pending_id_ = id;
  pending_path_ = *path;
  acks_ = 0;
  expected_acks_ = live_tasks_;
  pending_acks_.clear();
  trigger_sources_(id);
  return absl::OkStatus();
}

void CheckpointCoordinator::OnAck(int64_t id, TaskAck ack) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id != pending_id_) {
      // A late ack of an abandoned checkpoint: keep its pre-committed sink files.
      for (const auto& s : ack.snapshot.sinks) carried_sinks_.push_back(ToProto(s));
      return;
    }
    pending_acks_.push_back(std::move(ack));
    ++acks_;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::OnTaskFinished(TaskSnapshot final_snapshot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --live_tasks_;
    for (const auto& s : final_snapshot.sources) finished_sources_.push_back(ToProto(s));
    // A checkpoint in flight may now wait for an ack that never comes: abandon it.
    if (pending_id_ >= 0) expected_acks_ = -1;
  }
  cv_.notify_all();
}

checkpoint::Manifest CheckpointCoordinator::NewManifest(int64_t id) const {
  checkpoint::Manifest m;
  m.set_format_version(checkpoint::kFormatVersion);
  m.set_job_name(options_.job_name);
  m.set_checkpoint_id(id);
  m.set_created_unix_ms(absl::ToUnixMillis(absl::Now()));
  m.set_max_parallelism(options_.max_parallelism);
  m.set_keeps_event_time(true);
  for (const auto& uid : options_.operator_uids) m.add_operator_uids(uid);
  return m;
}

// Called with mu_ held, by the trigger thread.
absl::Status CheckpointCoordinator::Complete() {
  checkpoint::Manifest m = NewManifest(pending_id_);
  const std::string root = pending_path_;
  pending_alignment_s_ = 0;
  pending_bytes_ = 0;
  for (TaskAck& ack : pending_acks_) {
    pending_alignment_s_ = std::max(pending_alignment_s_, ack.alignment_s);
    if (ack.state) {
      checkpoint::TaskState state = std::move(*ack.state);
      std::string rel = std::filesystem::relative(state.dir(), root).string();
      state.set_dir(rel);
      std::vector<std::string> names;
      for (const auto& f : state.files()) names.push_back(f.path());
      state.clear_files();
      for (const auto& name : names) {
        auto entry = checkpoint::DescribeFile(root, rel + "/" + name);
        if (!entry.ok()) return entry.status();
        pending_bytes_ += static_cast<int64_t>(entry->size());
        *state.add_files() = *entry;
      }
      *m.add_tasks() = std::move(state);
    }
    for (const auto& s : ack.snapshot.sources) *m.add_sources() = ToProto(s);
    for (const auto& s : ack.snapshot.sinks) *m.add_sinks() = ToProto(s);
    for (const auto& s : ack.snapshot.operator_states) *m.add_operator_states() = ToProto(s);
    if (ack.watermark) *m.add_watermarks() = ToProto(*ack.watermark);
  }
  for (const auto& s : finished_sources_) *m.add_sources() = s;
  for (const auto& s : carried_sinks_) *m.add_sinks() = s;
  absl::Status s = storage_->Commit(root, m);
  if (!s.ok()) return s;
  carried_sinks_.clear();
  // The checkpoint is complete: its pre-committed output becomes visible.
  for (const auto& sink : m.sinks()) {
    absl::Status p = CommitSink(sink);
    if (!p.ok()) return p;
  }
  completed_.fetch_add(1);
  last_completed_.store(m.checkpoint_id());
  return storage_->Retain(options_.retained);
}

absl::Status CheckpointCoordinator::Finalize(const std::vector<checkpoint::SinkPending>& final_files) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t id = next_id_++;
  auto path = storage_->Begin(id);
  if (!path.ok()) return path.status();
  checkpoint::Manifest m = NewManifest(id);
  m.set_final(true);
  for (const auto& s : finished_sources_) *m.add_sources() = s;
  for (const auto& f : final_files) *m.add_sinks() = f;
  for (const auto& s : carried_sinks_) *m.add_sinks() = s;
  carried_sinks_.clear();
  absl::Status s = storage_->Commit(*path, m);
  if (!s.ok()) return s;
  for (const auto& sink : m.sinks()) {
    absl::Status p = CommitSink(sink);
    if (!p.ok()) return p;
  }
  last_completed_.store(id);
  return storage_->Retain(options_.retained);
}

}  // namespace kappa::checkpoint
