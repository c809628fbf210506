#include "kappa/checkpoint/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <array>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kappa/checkpoint/checkpointing.h"

namespace kappa::checkpoint {
namespace fs = std::filesystem;
namespace {

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // Castagnoli
    t[i] = c;
  }
  return t;
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", strerror(errno)));
}

absl::Status FsyncPath(const std::string& path, bool directory) {
  int fd = open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Errno("cannot fsync", path);
  return absl::OkStatus();
}

bool ParseId(const std::string& name, int64_t* id) {
  if (name.size() <= 4 || name.rfind("chk-", 0) != 0) return false;
  int64_t v = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + (name[i] - '0');
  }
  *id = v;
  return true;
}

constexpr char kOwnerFile[] = "OWNER";

// Whether a path a manifest names (a file, a task's snapshot directory) stays inside the
// checkpoint directory: relative, with no empty, "." or ".." component. Anything else
// would make loading read elsewhere: ../../dev/zero never ends, ../other-job is another
// directory's state.
bool InsideCheckpoint(const std::string& rel) {
  if (rel.empty() || rel.front() == '/') return false;
  for (absl::string_view part : absl::StrSplit(rel, '/')) {
    if (part.empty() || part == "." || part == ".." || part.find('\0') != absl::string_view::npos) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const DirectoryClaim>> DirectoryClaim::Take(const std::string& dir) {
  std::random_device rd;
  std::string token;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&token, absl::Hex(rd(), absl::kZeroPad8));
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "unknown");
  const std::string started = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  absl::Status s = WriteFileAtomically(absl::StrCat(dir, "/", kOwnerFile),
                                       absl::StrCat("token=", token, " pid=", getpid(), " host=", host,
                                                    " started=", started, "\n"));
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("cannot claim checkpoint directory ", dir, ": ", s.message()));
  return std::shared_ptr<const DirectoryClaim>(new DirectoryClaim(dir, std::move(token)));
}

absl::Status DirectoryClaim::Check() const {
  const std::string path = absl::StrCat(dir_, "/", kOwnerFile);
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return MarkFatal(absl::FailedPreconditionError(
        absl::StrCat(dir_, " was taken over or reset: ", path,
                     " is gone (another process removed it); this run stops without writing to it")));
  }
  std::string token, pid = "?", host = "?", started = "?";
  for (const std::string& field : std::vector<std::string>(absl::StrSplit(line, ' ', absl::SkipEmpty()))) {
    if (field.starts_with("token=")) token = field.substr(6);
    if (field.starts_with("pid=")) pid = field.substr(4);
    if (field.starts_with("host=")) host = field.substr(5);
    if (field.starts_with("started=")) started = field.substr(8);
  }
  if (token == token_) return absl::OkStatus();
  return MarkFatal(absl::FailedPreconditionError(absl::StrCat(dir_, " was taken over by another run (pid ", pid, " on ",
                                                              host, ", started ", started,
                                                              "); this run stops without writing to it")));
}

uint32_t Crc32c(uint32_t crc, std::string_view data) {
  static const std::array<uint32_t, 256> table = MakeTable();
  crc = ~crc;
  for (unsigned char c : data) crc = table[(crc ^ c) & 0xff] ^ (crc >> 8);
  return ~crc;
}

absl::StatusOr<FileEntry> DescribeFile(const std::string& root, const std::string& rel) {
  std::string path = absl::StrCat(root, "/", rel);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot read", path);
  FileEntry e;
  e.set_path(rel);
  uint32_t crc = 0;
  uint64_t size = 0;
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return Errno("cannot read", path);
    }
    if (n == 0) break;
    crc = Crc32c(crc, std::string_view(buf.data(), static_cast<size_t>(n)));
    size += static_cast<uint64_t>(n);
  }
  close(fd);
  e.set_size(size);
  e.set_crc32c(crc);
  return e;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("cannot write", tmp);
      close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    absl::Status s = Errno("cannot fsync", tmp);
    close(fd);
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename to", path);
  return FsyncPath(fs::path(path).parent_path().string(), true);
}

absl::StatusOr<std::string> CheckpointStorage::CreateSavepoint(const std::string& name) const {
  if (absl::Status owned = CheckOwner(); !owned.ok()) return owned;
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("savepoint name '", name, "' must be a plain file name"));
  }
  std::vector<std::string> skipped;
  auto latest = LatestValid(&skipped);
  if (!latest.ok()) return latest.status();
  if (latest->manifest.final()) {
    return absl::FailedPreconditionError(absl::StrCat("the newest checkpoint in ", dir_,
                                                      " is the final one of a finished run: it holds no state"));
  }
  std::string target = absl::StrCat(dir_, "/savepoints/", name);
  std::error_code ec;
  if (fs::exists(target, ec)) return absl::AlreadyExistsError(absl::StrCat("savepoint ", target, " already exists"));
  fs::create_directories(target, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", target, ": ", ec.message()));
  for (const auto& entry : fs::recursive_directory_iterator(latest->path, ec)) {
    fs::path rel = fs::relative(entry.path(), latest->path);
    if (rel == "MANIFEST") continue;
    fs::path to = fs::path(target) / rel;
    if (entry.is_directory()) {
      fs::create_directories(to, ec);
      continue;
    }
    fs::create_hard_link(entry.path(), to, ec);
    if (ec) fs::copy_file(entry.path(), to, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot copy ", entry.path().string(), ": ", ec.message()));
  }
  Manifest m = latest->manifest;
  m.set_savepoint(true);
  m.set_savepoint_name(name);
  std::string bytes;
  m.SerializeToString(&bytes);
  absl::Status s = WriteFileAtomically(target + "/MANIFEST", bytes);
  if (!s.ok()) return s;
  return target;
}

absl::Status CheckpointStorage::RequestSavepoint(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("savepoint name '", name, "' must be a plain file name"));
  }
  std::error_code ec;
  fs::create_directories(dir_ + "/requests", ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir_, "/requests: ", ec.message()));
  return WriteFileAtomically(absl::StrCat(dir_, "/requests/savepoint-", name), name);
}

std::vector<std::string> CheckpointStorage::TakeSavepointRequests() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/requests", ec)) {
    std::string file = entry.path().filename().string();
    if (file.rfind("savepoint-", 0) != 0 || file.ends_with(".tmp")) continue;
    names.push_back(file.substr(10));
    fs::remove(entry.path(), ec);
  }
  return names;
}

void CheckpointStorage::CancelSavepointRequest(const std::string& name) const {
  std::error_code ec;
  fs::remove(absl::StrCat(dir_, "/requests/savepoint-", name), ec);
}

std::string CheckpointStorage::PathFor(int64_t id) const { return absl::StrFormat("%s/chk-%08d", dir_, id); }

absl::StatusOr<std::string> CheckpointStorage::Begin(int64_t id) {
  if (absl::Status owned = CheckOwner(); !owned.ok()) return owned;
  std::string path = PathFor(id);
  std::error_code ec;
  fs::remove_all(path, ec);
  fs::create_directories(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create checkpoint directory ", path, ": ", ec.message()));
  return path;
}

absl::Status CheckpointStorage::Commit(const std::string& path, const Manifest& manifest) {
  if (absl::Status owned = CheckOwner(); !owned.ok()) return owned;
  std::string bytes;
  if (!manifest.SerializeToString(&bytes)) return absl::InternalError("cannot serialize the manifest");
  return WriteFileAtomically(path + "/MANIFEST", bytes);
}

absl::StatusOr<LoadedCheckpoint> CheckpointStorage::Load(const std::string& path) const {
  std::string name = fs::path(path).filename().string();
  std::ifstream in(path + "/MANIFEST", std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(name, ": no MANIFEST (the checkpoint never completed)"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LoadedCheckpoint out;
  out.path = path;
  if (!out.manifest.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(name, ": MANIFEST is corrupt (does not parse)"));
  }
  if (out.manifest.format_version() != kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": format version ", out.manifest.format_version(),
                                                      ", this kappa reads ", kFormatVersion));
  }
  out.id = out.manifest.checkpoint_id();
  for (const TaskState& t : out.manifest.tasks()) {
    if (!t.dir().empty() && !InsideCheckpoint(t.dir())) {
      return absl::DataLossError(absl::StrCat(name, ": MANIFEST is corrupt: the state of ", t.operator_uid(), "[",
                                              t.subtask(), "] is in '", absl::CHexEscape(t.dir()),
                                              "', not a directory inside the checkpoint"));
    }
    for (const FileEntry& f : t.files()) {
      if (!InsideCheckpoint(f.path())) {
        return absl::DataLossError(absl::StrCat(name, ": MANIFEST is corrupt: it lists '", absl::CHexEscape(f.path()),
                                                "', not a file inside the checkpoint"));
      }
      auto got = DescribeFile(path, f.path());
      if (!got.ok()) return absl::DataLossError(absl::StrCat(name, ": missing ", f.path()));
      if (got->size() != f.size()) {
        return absl::DataLossError(absl::StrCat(name, ": ", f.path(), " has ", got->size(), " bytes, the manifest says ",
                                                f.size(), " (truncated?)"));
      }
      if (got->crc32c() != f.crc32c()) {
        return absl::DataLossError(absl::StrCat(name, ": ", f.path(), " fails its checksum (corrupt)"));
      }
    }
  }
  return out;
}

std::vector<int64_t> CheckpointStorage::ListIds() const {
  std::vector<int64_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    int64_t id;
    if (entry.is_directory() && ParseId(entry.path().filename().string(), &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<LoadedCheckpoint> CheckpointStorage::LatestValid(std::vector<std::string>* skipped) const {
  std::vector<int64_t> ids = ListIds();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto loaded = Load(PathFor(*it));
    if (loaded.ok()) return loaded;
    if (skipped != nullptr) skipped->emplace_back(loaded.status().message());
  }
  return absl::NotFoundError(absl::StrCat("no complete checkpoint in ", dir_));
}

absl::Status CheckpointStorage::Retain(int keep) {
  if (absl::Status owned = CheckOwner(); !owned.ok()) return owned;
  std::vector<int64_t> ids = ListIds();
  std::vector<int64_t> complete;
  for (int64_t id : ids) {
    if (fs::exists(PathFor(id) + "/MANIFEST")) complete.push_back(id);
  }
  if (complete.empty()) return absl::OkStatus();
  int64_t newest = complete.back();
  size_t first_kept = complete.size() > static_cast<size_t>(keep) ? complete.size() - keep : 0;
  int64_t oldest_kept = complete[first_kept];
  std::error_code ec;
  for (int64_t id : ids) {
    if (id >= oldest_kept) continue;
    if (id < newest) fs::remove_all(PathFor(id), ec);
  }
  return absl::OkStatus();
}

}  // namespace kappa::checkpoint
