#include "kappa/connectors/kafka/kafka_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

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
