#include "kappa/connectors/kafka/kafka_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "kappa/base/log.h"
#include "kappa/base/status.h"
#include "kappa/connectors/internal/schemes.h"
#include "kappa/connectors/kafka/kafka_client.h"

namespace kappa::connectors::kafka {
namespace {

namespace fs = std::filesystem;

// Staged record: u32 key length, u32 value length, i64 timestamp, key, value. A sealed file
// ends with one trailer frame: key length kTrailer, the value the file's random token, the
// timestamp field the checkpoint it was sealed for (for the final epoch: the last barrier
// the instance passed, or the restored checkpoint).
constexpr uint32_t kTrailer = UINT32_MAX;

void AppendFrame(std::string* out, std::string_view value, std::string_view key, int64_t ts,
                 uint32_t key_length) {
  uint32_t vl = static_cast<uint32_t>(value.size());
  char head[16];
  std::memcpy(head, &key_length, 4);
  std::memcpy(head + 4, &vl, 4);
  std::memcpy(head + 8, &ts, 8);
  out->append(head, sizeof head);
  out->append(key);
  out->append(value);
}

// 32 hex digits from the OS's random source.
std::string RandomToken() {
  std::random_device rd;
  std::string token;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&token, absl::Hex(rd(), absl::kZeroPad8));
  return token;
}

std::string FormatProof(const TransactionCommitter::Proof& p) {
  std::string text = absl::StrCat("kappa-sink v1 lineage=", p.lineage, " checkpoint=", p.checkpoint);
  if (!p.final_token.empty()) absl::StrAppend(&text, " final=", p.final_token);
  return text;
}

// Metadata that is not a proof (another tool committed to the group) parses as none.
TransactionCommitter::Proof ParseProof(const std::string& text) {
  TransactionCommitter::Proof p;
  std::vector<std::string> parts = absl::StrSplit(text, ' ');
  if (parts.size() < 4 || parts[0] != "kappa-sink" || parts[1] != "v1") return {};
  for (size_t i = 2; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.starts_with("lineage=")) {
      p.lineage = part.substr(8);
    } else if (part.starts_with("checkpoint=")) {
      if (!absl::SimpleAtoi(part.substr(11), &p.checkpoint)) return {};
    } else if (part.starts_with("final=")) {
      p.final_token = part.substr(6);
    }
  }
  return p;
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
    if (check_owner_) KAPPA_RETURN_IF_ERROR(check_owner_());
    path_ = absl::StrFormat("%s/.inprogress-%03d-%d-%d", dir_, subtask_, getpid(), absl::ToUnixMicros(absl::Now()));
    KAPPA_ASSIGN_OR_RETURN(file_, FileWriter::Open(path_, FileWriter::Mode::kTruncate));
  }
  AppendFrame(&buf_, value, key, ts, static_cast<uint32_t>(key.size()));
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
  if (id != kFinalId) after_ = id;
  if (!file_) return std::string();
  if (check_owner_) KAPPA_RETURN_IF_ERROR(check_owner_());
  token_ = RandomToken();
  AppendFrame(&buf_, token_, "", after_, kTrailer);
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
    : endpoint_(std::move(endpoint)), stage_dir_(std::move(stage_dir)), prefix_(std::move(transactional_prefix)) {
  auto rewind = endpoint_.params.find("on-rewind");
  duplicate_on_rewind_ = rewind != endpoint_.params.end() && rewind->second == "duplicate";
}

TransactionCommitter::~TransactionCommitter() = default;

std::string TransactionCommitter::ProofGroup(int subtask) const { return absl::StrFormat("%s-%d", prefix_, subtask); }

absl::Status TransactionCommitter::LoadLineage() {
  if (!lineage_.empty()) return absl::OkStatus();
  const std::string path = stage_dir_ + "/lineage";
  std::ifstream in(path);
  std::string text;
  if (in && std::getline(in, text)) {
    if (text.size() != 32) {
      return absl::DataLossError(absl::StrCat(path, " is corrupt ('", text, "'); it names the output this checkpoint "
                                              "directory committed to Kafka"));
    }
    lineage_ = text;
    return absl::OkStatus();
  }
  // Created once per staging directory, atomically: a token that changed under committed
  // output would make it look uncommitted.
  std::string token = RandomToken();
  std::string tmp = path + ".tmp";
  {
    KAPPA_ASSIGN_OR_RETURN(auto f, FileWriter::Open(tmp, FileWriter::Mode::kTruncate));
    KAPPA_RETURN_IF_ERROR(f->Append(absl::StrCat(token, "\n")));
    KAPPA_RETURN_IF_ERROR(f->Sync());
    KAPPA_RETURN_IF_ERROR(f->Close());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", tmp, ": ", ec.message()));
  KAPPA_RETURN_IF_ERROR(SyncDirectory(stage_dir_));
  lineage_ = std::move(token);
  return absl::OkStatus();
}

absl::StatusOr<TransactionCommitter::Instance*> TransactionCommitter::Open(int subtask) {
  KAPPA_RETURN_IF_ERROR(LoadLineage());
  Instance& inst = instances_[subtask];
  if (!inst.producer) {
    // First the producer: init_transactions fences an older one with this id and completes
    // or aborts its open transaction, so the proof read next cannot change behind us.
    inst.proof_read = false;
    KAPPA_ASSIGN_OR_RETURN(inst.producer, Producer::Open(endpoint_, ProofGroup(subtask)));
  }
  if (!inst.proof_read) {
    KAPPA_ASSIGN_OR_RETURN(CommittedOffset committed, ReadCommittedOffset(endpoint_, ProofGroup(subtask), 0,
                                                                          TransactionCallTimeoutMs(endpoint_, 60000)));
    inst.proof = committed.offset >= 0 ? ParseProof(committed.metadata) : Proof{};
    inst.proof_read = true;
  }
  return &inst;
}

std::string TransactionCommitter::LineageOf(const std::string& dir) {
  if (dir == stage_dir_) return lineage_;
  std::ifstream in(dir + "/lineage");
  std::string text;
  if (in && std::getline(in, text) && text.size() == 32) return text;
  return "";
}

TransactionCommitter::Committed TransactionCommitter::View(int subtask, const std::string& dir) {
  const Proof& proof = instances_[subtask].proof;
  const std::string lineage = LineageOf(dir);
  Committed c;
  if (!lineage.empty() && proof.lineage == lineage) {
    c.checkpoint = proof.checkpoint;
    c.final_token = proof.final_token;
  }
  // The local record is written only after Kafka committed, so it is a lower bound too
  // (and the only record of commits made before transactions carried proofs).
  std::ifstream local(absl::StrFormat("%s/committed-%03d", dir, subtask));
  std::string text;
  int64_t recorded;
  if (local && std::getline(local, text) && absl::SimpleAtoi(text, &recorded)) {
    c.checkpoint = std::max(c.checkpoint, recorded);
  }
  return c;
}

bool TransactionCommitter::IsCommitted(int subtask, const std::string& dir, int64_t id, const std::string& token) {
  // A savepoint's file may also have been committed by this directory's run (it restored
  // the savepoint before), in this lineage.
  std::vector<Committed> known = {View(subtask, dir)};
  if (dir != stage_dir_) known.push_back(View(subtask, stage_dir_));
  for (const Committed& c : known) {
    if (id != kFinalId ? id <= c.checkpoint : !token.empty() && token == c.final_token) return true;
  }
  // A final epoch staged before files had tokens: recorded by a marker.
  std::error_code ec;
  return id == kFinalId && token.empty() && fs::exists(absl::StrFormat("%s/committed-final-%03d", dir, subtask), ec);
}

absl::Status TransactionCommitter::RecordCommitted(int subtask, int64_t id) {
  std::string path = absl::StrFormat("%s/committed-%03d", stage_dir_, subtask);
  std::string tmp = path + ".tmp";
  {
    KAPPA_ASSIGN_OR_RETURN(auto f, FileWriter::Open(tmp, FileWriter::Mode::kTruncate));
    KAPPA_RETURN_IF_ERROR(f->Append(absl::StrCat(id, "\n")));
    KAPPA_RETURN_IF_ERROR(f->Close());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status TransactionCommitter::CommitFile(const std::string& path, const std::string& published) {
  int subtask;
  int64_t id;
  std::string name = fs::path(path).filename().string();
  if (!ParseStagedName(name, &subtask, &id)) {
    return absl::InternalError(absl::StrCat(path, " is not a staged Kafka sink file"));
  }
  // Before a producer is opened (init_transactions would fence a newer run's) and before
  // the transaction.
  KAPPA_RETURN_IF_ERROR(CheckOwner());
  const std::string what = absl::StrCat("the output instance ", subtask, " pre-committed for ",
                                        id == kFinalId ? std::string("the final epoch") : absl::StrCat("checkpoint ", id));
  // Staged here, or (a savepoint restored into a new checkpoint directory) in the
  // directory of the run that took it: that one's lineage says what Kafka has of it.
  const std::string dir = fs::path(path).parent_path().string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // Deleted after its commit (restoring a checkpoint whose output is committed)?
    KAPPA_RETURN_IF_ERROR(Open(subtask).status());
    size_t hash = published.rfind('#');
    if (IsCommitted(subtask, dir, id, hash == std::string::npos ? "" : published.substr(hash + 1))) {
      return absl::OkStatus();
    }
    return absl::DataLossError(absl::StrCat(what, " is missing (", path, "); it was never committed to ",
                                            endpoint_.Describe()));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Records up to the trailer.
  size_t end = data.size();
  std::string token;
  int64_t after = -1;
  for (size_t pos = 0; pos + 16 <= data.size();) {
    uint32_t kl, vl;
    int64_t ts;
    std::memcpy(&kl, data.data() + pos, 4);
    std::memcpy(&vl, data.data() + pos + 4, 4);
    std::memcpy(&ts, data.data() + pos + 8, 8);
    if (kl == kTrailer) {
      if (pos + 16 + vl != data.size()) return absl::DataLossError(absl::StrCat(path, " has a corrupt trailer"));
      token.assign(data.data() + pos + 16, vl);
      after = ts;
      end = pos;
      break;
    }
    if (pos + 16 + uint64_t{kl} + vl > data.size()) {
      return absl::DataLossError(absl::StrCat(path, " is truncated at byte ", pos, " of ", data.size()));
    }
    pos += 16 + size_t{kl} + vl;
  }
  KAPPA_ASSIGN_OR_RETURN(Instance * inst, Open(subtask));
  std::error_code ec;
  if (IsCommitted(subtask, dir, id, token)) {
    if (dir == stage_dir_) fs::remove(path, ec);  // Kafka committed it before; the file outlived a crash
    return absl::OkStatus();
  }
  const int64_t own = View(subtask, stage_dir_).checkpoint;
  Proof proof{lineage_, std::max(own, id == kFinalId ? after : id), id == kFinalId ? token : ""};
  Producer& producer = *inst->producer;
  absl::Status s = producer.Begin();
  for (size_t pos = 0; s.ok() && pos < end;) {
    uint32_t kl, vl;
    int64_t ts;
    std::memcpy(&kl, data.data() + pos, 4);
    std::memcpy(&vl, data.data() + pos + 4, 4);
    std::memcpy(&ts, data.data() + pos + 8, 8);
    s = producer.Produce(std::string_view(data.data() + pos + 16 + kl, vl), std::string_view(data.data() + pos + 16, kl),
                         ts);
    pos += 16 + size_t{kl} + vl;
  }
  if (s.ok()) {
    s = producer.SendOffsets(ProofGroup(subtask), 0, 0, FormatProof(proof), TransactionCallTimeoutMs(endpoint_, 60000));
  }
  if (s.ok()) s = producer.Commit(TransactionCallTimeoutMs(endpoint_, 120000));
  if (!s.ok()) {
    std::string reason;
    bool fenced = false;
    if (producer.Fatal(&reason, &fenced) || s.code() == absl::StatusCode::kFailedPrecondition) {
      // Fatal: the producer is unusable, and a new one with this id would fence the run
      // that fenced this one and commit this run's output again. This run stops here; the
      // staged file stays for the checkpoint directory's owner to judge.
      fenced |= std::string(s.message()).find("fenced") != std::string::npos;
      fenced_ = checkpoint::MarkFatal(absl::FailedPreconditionError(
          fenced ? absl::StrCat(endpoint_.Describe(), ": fenced: another process took over transactional id ",
                                ProofGroup(subtask), " (a newer run of this job); this run stops and commits nothing more")
                 : absl::StrCat(endpoint_.Describe(), ": transactional id ", ProofGroup(subtask), " failed fatally (",
                                reason.empty() ? std::string(s.message()) : reason,
                                "); this run stops and commits nothing more")));
      return fenced_;
    }
    (void)producer.Abort(TransactionCallTimeoutMs(endpoint_, 30000));
    // Whatever state the transaction is in, a new producer settles it (init_transactions)
    // and the proof says whether it committed.
    inst->producer.reset();
    return absl::Status(s.code(), absl::StrCat("committing ", what, " to ", endpoint_.Describe(), ": ", s.message(),
                                               " (retried with the next checkpoint)"));
  }
  inst->proof = proof;
  // An index of the instances that committed here (Recover checks their proofs), and a
  // lower bound of what Kafka has.
  KAPPA_RETURN_IF_ERROR(CheckOwner());
  KAPPA_RETURN_IF_ERROR(RecordCommitted(subtask, proof.checkpoint));
  if (dir == stage_dir_) fs::remove(path, ec);  // another run's directory is that run's
  return absl::OkStatus();
}

absl::Status TransactionCommitter::Commit(const std::vector<checkpoint::PendingFile>& pending) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fenced_.ok()) return fenced_;
  // Also commit what an earlier commit left behind (the broker was down): staged files of
  // completed checkpoints up to the newest pending one. Names sort by instance, then id
  // (a final epoch after every checkpoint).
  std::map<std::string, std::string> paths;  // staged file -> published name
  int64_t newest = -1;
  for (const auto& p : pending) {
    int subtask;
    int64_t id;
    if (ParseStagedName(fs::path(p.hidden).filename().string(), &subtask, &id)) newest = std::max(newest, id);
    paths[p.hidden] = p.published;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(stage_dir_, ec)) {
    int subtask;
    int64_t id;
    if (ParseStagedName(entry.path().filename().string(), &subtask, &id) && id <= newest) {
      paths.emplace(entry.path().string(), "");
    }
  }
  for (const auto& [path, published] : paths) KAPPA_RETURN_IF_ERROR(CommitFile(path, published));
  return absl::OkStatus();
}

absl::Status TransactionCommitter::Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fenced_.ok()) return fenced_;
    KAPPA_RETURN_IF_ERROR(CheckOwner());
    // Every instance that staged or committed output here: fence its zombie, read its proof.
    std::set<int> seen;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(stage_dir_, ec)) {
      std::string name = entry.path().filename().string();
      int subtask;
      int64_t id;
      if (ParseStagedName(name, &subtask, &id)) {
        seen.insert(subtask);
      } else if (name.starts_with("committed-") && !name.ends_with(".tmp") &&
                 absl::SimpleAtoi(name.substr(10), &subtask)) {
        seen.insert(subtask);
      }
    }
    for (const auto& p : pending) {
      int subtask;
      int64_t id;
      if (ParseStagedName(fs::path(p.hidden).filename().string(), &subtask, &id)) seen.insert(subtask);
    }
    // Output after `restored` is committed: a later checkpoint's, or a final epoch that came
    // after it. Checked in this directory's lineage and in that of the directory the
    // restored checkpoint staged its files in (a savepoint of another run).
    std::set<std::string> dirs = {stage_dir_};
    for (const auto& p : pending) dirs.insert(fs::path(p.hidden).parent_path().string());
    for (int subtask : seen) KAPPA_RETURN_IF_ERROR(Open(subtask).status());
    int worst = -1;
    Committed held;
    for (int subtask : seen) {
      for (const auto& dir : dirs) {
        const Committed c = View(subtask, dir);
        const bool later = c.checkpoint > restored || (!c.final_token.empty() && c.checkpoint >= restored);
        if (restored >= 0 && later && (worst < 0 || c.checkpoint > held.checkpoint)) {
          worst = subtask;
          held = c;
        }
      }
    }
    if (worst >= 0) {
      const std::string what =
          held.final_token.empty()
              ? absl::StrCat("the output of checkpoint ", held.checkpoint)
              : absl::StrCat("the final output of a finished run, after checkpoint ", held.checkpoint);
      const std::string newer = held.final_token.empty() ? absl::StrCat("restore checkpoint ", held.checkpoint, " or newer")
                                                         : std::string("restore the final checkpoint");
      if (!duplicate_on_rewind_) {
        return absl::FailedPreconditionError(absl::StrCat(
            endpoint_.Describe(), " already holds ", what, " (instance ", worst, ", committed in Kafka) and this run restores the older checkpoint ",
            restored, ": Kafka cannot withdraw committed records, so output after checkpoint ", restored,
            " would appear twice; ", newer, ", write to a new topic, or add on-rewind=duplicate to the sink URI to accept the duplicates"));
      }
      LogWarning(absl::StrCat(endpoint_.Describe(), " already holds ", what, "; restoring the older checkpoint ",
                              restored, " with on-rewind=duplicate: output after it will appear twice"));
    }
  }
  KAPPA_RETURN_IF_ERROR(Commit(pending));
  std::lock_guard<std::mutex> lock(mu_);
  KAPPA_RETURN_IF_ERROR(CheckOwner());
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(stage_dir_, ec)) {
    std::string name = entry.path().filename().string();
    int subtask;
    int64_t id;
    if (name.starts_with(".inprogress-") || name.starts_with("committed-final-")) {
      stale.push_back(entry.path());  // an unfinished epoch; a marker of an older version
    } else if (ParseStagedName(name, &subtask, &id)) {
      stale.push_back(entry.path());  // pre-committed for a checkpoint that never completed
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
    committer_->set_check_owner(context.check_owner);
    check_owner_ = context.check_owner;
    stage_dir_ = dir;
    return absl::OkStatus();
  }
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) override {
    restored_ = restored;
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
  std::function<absl::Status()> check_owner_;
  int64_t restored_ = -1;
  std::mutex mu_;
  std::vector<checkpoint::PendingFile> final_;
};

StagingWriter::StagingWriter(KafkaSinkImpl* sink, int subtask)
    : sink_(sink), keys_(sink->key_fields_), stage_(sink->stage_dir_, subtask) {
  stage_.StartAfter(sink->restored_);
  stage_.set_check_owner(sink->check_owner_);
}

absl::StatusOr<std::vector<checkpoint::PendingFile>> StagingWriter::PreCommit(int64_t id) {
  KAPPA_ASSIGN_OR_RETURN(std::string path, stage_.Seal(id));
  if (path.empty()) return std::vector<checkpoint::PendingFile>{};
  return std::vector<checkpoint::PendingFile>{{path, absl::StrCat(sink_->endpoint_.Describe(), "@", id)}};
}

absl::Status StagingWriter::Close() {
  KAPPA_ASSIGN_OR_RETURN(std::string path, stage_.Seal(kFinalId));
  if (path.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(sink_->mu_);
  sink_->final_.push_back({path, absl::StrCat(sink_->endpoint_.Describe(), "@final#", stage_.token())});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<RawSinkConnector>> NewKafkaSink(KafkaEndpoint endpoint) {
  auto delivery = endpoint.params.find("delivery");
  if (delivery != endpoint.params.end() && delivery->second != "exactly-once" && delivery->second != "at-least-once") {
    return absl::InvalidArgumentError(
        absl::StrCat("'", endpoint.text, "': delivery must be exactly-once or at-least-once"));
  }
  auto rewind = endpoint.params.find("on-rewind");
  if (rewind != endpoint.params.end() && rewind->second != "refuse" && rewind->second != "duplicate") {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", endpoint.text, "': on-rewind must be refuse (the default) or duplicate, not '", rewind->second, "'"));
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
                                                             {"key", "header.", "delivery", "transactional.id", "on-rewind"}));
  KAPPA_ASSIGN_OR_RETURN(auto raw, kafka::NewKafkaSink(std::move(endpoint)));
  return OpenedSink(std::move(raw));
}

}  // namespace kappa::connectors::internal
