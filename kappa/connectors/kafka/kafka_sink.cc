#include "kappa/connectors/kafka/kafka_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "kappa/base/status.h"
#include "kappa/connectors/internal/schemes.h"
#include "kappa/connectors/kafka/kafka_client.h"

namespace kappa::connectors::kafka {
namespace {

namespace fs = std::filesystem;

// Staged record: u32 key length, u32 value length, i64 timestamp, key, value.
void AppendFrame(std::string* out, std::string_view value, std::string_view key, int64_t ts) {
  uint32_t kl = static_cast<uint32_t>(key.size()), vl = static_cast<uint32_t>(value.size());
  char head[16];
  std::memcpy(head, &kl, 4);
  std::memcpy(head + 4, &vl, 4);
  std::memcpy(head + 8, &ts, 8);
  out->append(head, sizeof head);
  out->append(key);
  out->append(value);
}

// ".stage-SSS-IIIIIIII": instance SSS's output pre-committed with checkpoint I.
bool ParseStagedName(const std::string& name, int* subtask, int64_t* id) {
  if (!name.starts_with(".stage-")) return false;
  std::string rest = name.substr(7);
  size_t dash = rest.find('-');
  if (dash == std::string::npos) return false;
  if (!absl::SimpleAtoi(rest.substr(0, dash), subtask)) return false;
  std::string tail = rest.substr(dash + 1);
  if (tail == "final") {
    *id = kFinalId;
    return true;
  }
  return absl::SimpleAtoi(tail, id);
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("open ", dir, ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("fsync ", dir, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

std::string StagedName(const std::string& dir, int subtask, int64_t id) {
  if (id == kFinalId) return absl::StrFormat("%s/.stage-%03d-final", dir, subtask);
  return absl::StrFormat("%s/.stage-%03d-%08d", dir, subtask, id);
}

absl::Status KeyExtractor::Extract(std::string_view json, std::string* key) const {
  key->clear();
  for (size_t i = 0; i < fields_.size(); ++i) {
    auto text = JsonFieldText(json, fields_[i]);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("key field '", fields_[i], "': ", text.status().message()));
    }
    if (i > 0) key->push_back('|');
    key->append(*text);
  }
  return absl::OkStatus();
}

absl::Status StagingFile::Append(std::string_view value, std::string_view key, int64_t ts) {
  if (!file_) {
    path_ = absl::StrFormat("%s/.inprogress-%03d-%d-%d", dir_, subtask_, getpid(), absl::ToUnixMicros(absl::Now()));
    KAPPA_ASSIGN_OR_RETURN(file_, FileWriter::Open(path_, FileWriter::Mode::kTruncate));
  }
  AppendFrame(&buf_, value, key, ts);
  if (buf_.size() >= (64 << 10)) return Drain();
  return absl::OkStatus();
}

absl::Status StagingFile::Drain() {
  if (buf_.empty()) return absl::OkStatus();
  absl::Status s = file_->Append(buf_);
  buf_.clear();
  return s;
}

absl::StatusOr<std::string> StagingFile::Seal(int64_t id) {
  if (!file_) return std::string();
  KAPPA_RETURN_IF_ERROR(Drain());
  KAPPA_RETURN_IF_ERROR(file_->Sync());
  KAPPA_RETURN_IF_ERROR(file_->Close());
  file_.reset();
  std::string sealed = StagedName(dir_, subtask_, id);
  std::error_code ec;
  fs::rename(path_, sealed, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", path_, " to ", sealed, ": ", ec.message()));
  KAPPA_RETURN_IF_ERROR(SyncDirectory(dir_));
  return sealed;
}

TransactionCommitter::TransactionCommitter(KafkaEndpoint endpoint, std::string stage_dir,
                                           std::string transactional_prefix)
    : endpoint_(std::move(endpoint)), stage_dir_(std::move(stage_dir)), prefix_(std::move(transactional_prefix)) {}

TransactionCommitter::~TransactionCommitter() = default;

absl::StatusOr<int64_t> TransactionCommitter::LastCommitted(int subtask) {
  auto it = committed_.find(subtask);
  if (it != committed_.end()) return it->second;
  std::string path = absl::StrFormat("%s/committed-%03d", stage_dir_, subtask);
  int64_t id = -1;
  std::ifstream in(path);
  if (in) {
    std::string text;
    std::getline(in, text);
    if (!absl::SimpleAtoi(text, &id)) {
      return absl::DataLossError(absl::StrCat(path, " is corrupt ('", text, "'); it records the last checkpoint "
                                              "whose output was committed to Kafka"));
    }
  }
  committed_[subtask] = id;
  return id;
}

absl::Status TransactionCommitter::RecordCommitted(int subtask, int64_t id) {
  std::string path = absl::StrFormat("%s/committed-%03d", stage_dir_, subtask);
  std::string tmp = path + ".tmp";
  {
    KAPPA_ASSIGN_OR_RETURN(auto f, FileWriter::Open(tmp, FileWriter::Mode::kTruncate));
    KAPPA_RETURN_IF_ERROR(f->Append(absl::StrCat(id, "\n")));
    KAPPA_RETURN_IF_ERROR(f->Sync());
    KAPPA_RETURN_IF_ERROR(f->Close());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", tmp, ": ", ec.message()));
  KAPPA_RETURN_IF_ERROR(SyncDirectory(stage_dir_));
  committed_[subtask] = id;
  return absl::OkStatus();
}

absl::Status TransactionCommitter::CommitFile(const std::string& path) {
  int subtask;
  int64_t id;
  std::string name = fs::path(path).filename().string();
  if (!ParseStagedName(name, &subtask, &id)) {
    return absl::InternalError(absl::StrCat(path, " is not a staged Kafka sink file"));
  }
  KAPPA_ASSIGN_OR_RETURN(int64_t last, LastCommitted(subtask));
  std::error_code ec;
  // The final epoch's id is not known when it is staged: it is recorded by its own marker
  // (a later run of the job must not find every id "already committed").
  const std::string final_marker = absl::StrFormat("%s/committed-final-%03d", stage_dir_, subtask);
  if (id == kFinalId ? fs::exists(final_marker, ec) : id <= last) {
    fs::remove(path, ec);  // committed before; the file outlived a crash
    return absl::OkStatus();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::DataLossError(absl::StrCat("the output instance ", subtask, " pre-committed for checkpoint ",
                                            id == kFinalId ? std::string("final") : absl::StrCat(id),
                                            " is missing (", path, "); it was never committed to ",
                                            endpoint_.Describe()));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  auto& producer = producers_[subtask];
  if (!producer) {
    KAPPA_ASSIGN_OR_RETURN(producer, Producer::Open(endpoint_, absl::StrFormat("%s-%d", prefix_, subtask)));
  }
  KAPPA_RETURN_IF_ERROR(producer->Begin());
  absl::Status s;
  size_t pos = 0;
  while (s.ok() && pos + 16 <= data.size()) {
    uint32_t kl, vl;
    int64_t ts;
    std::memcpy(&kl, data.data() + pos, 4);
    std::memcpy(&vl, data.data() + pos + 4, 4);
    std::memcpy(&ts, data.data() + pos + 8, 8);
    if (pos + 16 + kl + vl > data.size()) break;
    s = producer->Produce(std::string_view(data.data() + pos + 16 + kl, vl),
                          std::string_view(data.data() + pos + 16, kl), ts);
    pos += 16 + kl + vl;
  }
  if (s.ok() && pos != data.size()) {
    s = absl::DataLossError(absl::StrCat(path, " is truncated at byte ", pos, " of ", data.size()));
  }
  if (s.ok()) s = producer->Commit(120000);
  if (!s.ok()) {
    (void)producer->Abort(30000);
    if (s.code() == absl::StatusCode::kFailedPrecondition) producer.reset();  // fenced or fatal: start anew
    return absl::Status(s.code(), absl::StrCat("committing checkpoint output to ", endpoint_.Describe(), ": ",
                                               s.message(), " (retried with the next checkpoint)"));
  }
  if (id == kFinalId) {
    KAPPA_ASSIGN_OR_RETURN(auto marker, FileWriter::Open(final_marker, FileWriter::Mode::kTruncate));
    KAPPA_RETURN_IF_ERROR(marker->Sync());
    KAPPA_RETURN_IF_ERROR(marker->Close());
    KAPPA_RETURN_IF_ERROR(SyncDirectory(stage_dir_));
  } else {
    KAPPA_RETURN_IF_ERROR(RecordCommitted(subtask, id));
  }
  fs::remove(path, ec);
  return absl::OkStatus();
}

absl::Status TransactionCommitter::Commit(const std::vector<checkpoint::PendingFile>& pending) {
  std::lock_guard<std::mutex> lock(mu_);
  // Also commit what an earlier commit left behind (the broker was down): staged files of
  // completed checkpoints up to the newest pending one. Names sort by instance, then id.
  std::set<std::string> paths;
  int64_t newest = -1;
  for (const auto& p : pending) {
    int subtask;
    int64_t id;
    if (ParseStagedName(fs::path(p.hidden).filename().string(), &subtask, &id)) newest = std::max(newest, id);
    paths.insert(p.hidden);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(stage_dir_, ec)) {
    int subtask;
    int64_t id;
    if (ParseStagedName(entry.path().filename().string(), &subtask, &id) && id <= newest) {
      paths.insert(entry.path().string());
    }
  }
  for (const auto& path : paths) KAPPA_RETURN_IF_ERROR(CommitFile(path));
  return absl::OkStatus();
}

absl::Status TransactionCommitter::Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) {
  KAPPA_RETURN_IF_ERROR(Commit(pending));
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  std::vector<fs::path> stale;
  bool restoring_final = false;
  for (const auto& p : pending) restoring_final |= p.hidden.ends_with("-final");
  if (!restoring_final) {
    // This run will end with a final epoch of its own: forget an earlier run's.
    for (const auto& entry : fs::directory_iterator(stage_dir_, ec)) {
      if (entry.path().filename().string().starts_with("committed-final-")) stale.push_back(entry.path());
    }
  }
  for (const auto& entry : fs::directory_iterator(stage_dir_, ec)) {
    std::string name = entry.path().filename().string();
    int subtask;
    int64_t id;
    if (name.starts_with(".inprogress-")) {
      stale.push_back(entry.path());
    } else if (ParseStagedName(name, &subtask, &id)) {
      stale.push_back(entry.path());  // pre-committed for a checkpoint that never completed
    } else if (name.starts_with("committed-") && !name.starts_with("committed-final-") && !name.ends_with(".tmp") &&
               restored >= 0) {
      if (absl::SimpleAtoi(name.substr(10), &subtask)) {
        auto last = LastCommitted(subtask);
        if (last.ok() && *last > restored) {
          std::cerr << "kappa: warning: " << endpoint_.Describe() << " already has the output of checkpoint " << *last
                    << " (instance " << subtask << "), newer than the restored checkpoint " << restored
                    << "; Kafka cannot withdraw it, so output after checkpoint " << restored
                    << " will appear twice\n";
        }
      }
    }
  }
  for (const auto& p : stale) fs::remove(p, ec);
  return absl::OkStatus();
}

}  // namespace kappa::connectors::kafka

namespace kappa::connectors::kafka {
namespace {

// Without checkpoints (or with delivery=at-least-once): produces every record as it
// comes, through an idempotent producer.
class DirectWriter final : public RawSinkWriter {
 public:
  DirectWriter(const std::vector<std::string>& key_fields, std::unique_ptr<Producer> producer)
      : keys_(key_fields), producer_(std::move(producer)) {}
  absl::Status Write(const RawSinkBatch& batch) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string_view value = batch.bytes(i);
      KAPPA_RETURN_IF_ERROR(keys_.Extract(value, &key_));
      KAPPA_RETURN_IF_ERROR(producer_->Produce(value, key_, batch.records[i].ts));
    }
    return absl::OkStatus();
  }
  absl::Status Flush() override { return producer_->Poll(); }
  // At-least-once with checkpoints: everything before the barrier is acknowledged.
  absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t) override {
    KAPPA_RETURN_IF_ERROR(producer_->Flush(300000));
    return std::vector<checkpoint::PendingFile>{};
  }
  absl::Status Close() override { return producer_->Flush(300000); }

 private:
  KeyExtractor keys_;
  std::unique_ptr<Producer> producer_;
  std::string key_;
};

class KafkaSinkImpl;

// Exactly-once: stages records until the barrier (see kafka_sink.h).
class StagingWriter final : public RawSinkWriter {
 public:
  StagingWriter(KafkaSinkImpl* sink, int subtask);
  absl::Status Write(const RawSinkBatch& batch) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string_view value = batch.bytes(i);
      KAPPA_RETURN_IF_ERROR(keys_.Extract(value, &key_));
      KAPPA_RETURN_IF_ERROR(stage_.Append(value, key_, batch.records[i].ts));
    }
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) override;
  absl::Status Close() override;

 private:
  KafkaSinkImpl* sink_;
  KeyExtractor keys_;
  StagingFile stage_;
  std::string key_;
};

class KafkaSinkImpl final : public RawSinkConnector {
 public:
  explicit KafkaSinkImpl(KafkaEndpoint endpoint) : endpoint_(std::move(endpoint)) {
    auto key = endpoint_.params.find("key");
    if (key != endpoint_.params.end()) {
      key_fields_ = absl::StrSplit(key->second, ',', absl::SkipEmpty());
    }
  }

  absl::Status EnableExactlyOnce(const ExactlyOnceContext& context) override {
    auto delivery = endpoint_.params.find("delivery");
    if (delivery != endpoint_.params.end() && delivery->second == "at-least-once") return absl::OkStatus();
    std::string safe;
    for (char c : endpoint_.topic) safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
    std::string dir = absl::StrCat(context.checkpoint_dir, "/kafka-sink/", safe);
    KAPPA_RETURN_IF_ERROR(CreateDirectories(dir));
    auto prefix = endpoint_.params.find("transactional.id");
    committer_ = std::make_unique<TransactionCommitter>(
        endpoint_, dir,
        prefix != endpoint_.params.end() ? prefix->second : absl::StrCat("kappa-", context.job_name, "-", safe));
    stage_dir_ = dir;
    return absl::OkStatus();
  }
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) override {
    return committer_ ? committer_->Recover(pending, restored) : absl::OkStatus();
  }
  absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending) override {
    return committer_ ? committer_->Commit(pending) : absl::OkStatus();
  }
  std::vector<checkpoint::PendingFile> TakeFinalPending() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(final_);
  }

  absl::StatusOr<std::unique_ptr<RawSinkWriter>> CreateWriter(int subtask, int parallelism) override {
    if (committer_) return std::unique_ptr<RawSinkWriter>(new StagingWriter(this, subtask));
    KAPPA_ASSIGN_OR_RETURN(auto producer, Producer::Open(endpoint_, ""));
    return std::unique_ptr<RawSinkWriter>(new DirectWriter(key_fields_, std::move(producer)));
  }
  std::string description() const override { return endpoint_.Describe(); }

 private:
  friend class StagingWriter;

  KafkaEndpoint endpoint_;
  std::vector<std::string> key_fields_;
  std::unique_ptr<TransactionCommitter> committer_;
  std::string stage_dir_;
  std::mutex mu_;
  std::vector<checkpoint::PendingFile> final_;
};

StagingWriter::StagingWriter(KafkaSinkImpl* sink, int subtask)
    : sink_(sink), keys_(sink->key_fields_), stage_(sink->stage_dir_, subtask) {}

absl::StatusOr<std::vector<checkpoint::PendingFile>> StagingWriter::PreCommit(int64_t id) {
  KAPPA_ASSIGN_OR_RETURN(std::string path, stage_.Seal(id));
  if (path.empty()) return std::vector<checkpoint::PendingFile>{};
  return std::vector<checkpoint::PendingFile>{{path, absl::StrCat(sink_->endpoint_.Describe(), "@", id)}};
}

absl::Status StagingWriter::Close() {
  KAPPA_ASSIGN_OR_RETURN(std::string path, stage_.Seal(kFinalId));
  if (path.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(sink_->mu_);
  sink_->final_.push_back({path, absl::StrCat(sink_->endpoint_.Describe(), "@final")});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<RawSinkConnector>> NewKafkaSink(KafkaEndpoint endpoint) {
  auto delivery = endpoint.params.find("delivery");
  if (delivery != endpoint.params.end() && delivery->second != "exactly-once" && delivery->second != "at-least-once") {
    return absl::InvalidArgumentError(
        absl::StrCat("'", endpoint.text, "': delivery must be exactly-once or at-least-once"));
  }
  {
    // Fail fast on unreachable brokers and missing topics, before the job starts.
    KAPPA_ASSIGN_OR_RETURN(auto client, NewClient(RD_KAFKA_PRODUCER, endpoint, {}));
    KAPPA_RETURN_IF_ERROR(PartitionCount(client.get(), endpoint, endpoint.timeout_ms).status());
  }
  return std::shared_ptr<RawSinkConnector>(std::make_shared<KafkaSinkImpl>(std::move(endpoint)));
}

}  // namespace kappa::connectors::kafka

namespace kappa::connectors::internal {

absl::StatusOr<OpenedSink> OpenKafkaSink(const Uri& uri, const SinkOptions& options) {
  KAPPA_ASSIGN_OR_RETURN(auto endpoint, kafka::ParseEndpoint(uri, options.kafka,
                                                             {"key", "header.", "delivery", "transactional.id"}));
  KAPPA_ASSIGN_OR_RETURN(auto raw, kafka::NewKafkaSink(std::move(endpoint)));
  return OpenedSink(std::move(raw));
}

}  // namespace kappa::connectors::internal
