// Restoring a backend's share of a snapshot, whichever backend wrote it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kappa/base/status.h"
#include "rocksdb/db.h"
#include "kappa/state/rocksdb_backend.h"
#include "kappa/state/serializer.h"
#include "kappa/state/internal/snapshot.h"

namespace kappa::state {
namespace {

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

absl::Status Corrupt(const std::string& path) {
  return absl::DataLossError(absl::StrCat(path, " is corrupt (truncated or not a Kappa state snapshot)"));
}

// A table kind as a snapshot stores it; false for a value no TableKind has.
bool ToTableKind(int value, TableKind* kind) {
  if (value != static_cast<int>(TableKind::kOrdered) && value != static_cast<int>(TableKind::kPoint) &&
      value != static_cast<int>(TableKind::kTimers)) {
    return false;
  }
  *kind = static_cast<TableKind>(value);
  return true;
}

absl::Status RestoreHeap(const std::string& dir, int first, int last, KeyedStateBackend* target) {
  const std::string path = dir + "/state.bin";
  KAPPA_ASSIGN_OR_RETURN(std::string data, ReadAll(path));
  std::string_view in(data);
  if (!in.starts_with(kHeapSnapshotMagic)) return Corrupt(path);
  in.remove_prefix(sizeof(kHeapSnapshotMagic) - 1);
  uint64_t ntables;
  if (!kappa::internal::ReadVarint(&in, &ntables)) return Corrupt(path);
  std::string name, key, value;
  absl::flat_hash_map<std::string, TableKind> seen;
  for (uint64_t t = 0; t < ntables; ++t) {
    uint64_t entries;
    if (!Serializer<std::string>::Read(&in, &name) || in.empty()) return Corrupt(path);
    // An unknown kind, or a table twice, would put keys where lookups of the table's
    // real kind never find them.
    TableKind kind;
    if (!ToTableKind(static_cast<uint8_t>(in.front()), &kind) || !seen.emplace(name, kind).second) {
      return Corrupt(path);
    }
    in.remove_prefix(1);
    if (!kappa::internal::ReadVarint(&in, &entries)) return Corrupt(path);
    KAPPA_ASSIGN_OR_RETURN(TableId id, target->RegisterTable(name, kind));
    for (uint64_t e = 0; e < entries; ++e) {
      if (!Serializer<std::string>::Read(&in, &key) || !Serializer<std::string>::Read(&in, &value)) {
        return Corrupt(path);
      }
      int kg = KeyGroupOfKey(kind, key);
      if (kg < first || kg > last) continue;
      KAPPA_RETURN_IF_ERROR(target->Put(id, key, value));
    }
  }
  if (!in.empty()) return Corrupt(path);
  return absl::OkStatus();
}

absl::Status RestoreRocksDb(const std::string& dir, int first, int last, KeyedStateBackend* target) {
  absl::flat_hash_map<std::string, TableKind> kinds;
  KAPPA_ASSIGN_OR_RETURN(std::string tables, ReadAll(dir + "/" + kTablesFile));
  std::string_view rest(tables);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    // "KIND<TAB>NAME", KIND one digit (EncodeTables).
    TableKind kind;
    if (line.size() < 2 || line[1] != '\t' || !ToTableKind(line[0] - '0', &kind) ||
        !kinds.emplace(std::string(line.substr(2)), kind).second) {
      return Corrupt(dir + "/" + kTablesFile);
    }
  }
  auto resources = RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 4 << 20});
  // Open a private copy: a checkpoint directory is never modified.
  std::string copy = absl::StrCat(dir, ".restore-", getpid(), "-", reinterpret_cast<uintptr_t>(target));
  std::error_code ec;
  std::filesystem::remove_all(copy, ec);
  std::filesystem::create_directories(copy, ec);
  if (ec) {
    // Read-only checkpoint storage (a savepoint on read-only media): copy elsewhere.
    copy = (std::filesystem::temp_directory_path() /
            absl::StrCat("kappa-restore-", getpid(), "-", reinterpret_cast<uintptr_t>(target)))
               .string();
    ec.clear();
    std::filesystem::remove_all(copy, ec);
    std::filesystem::create_directories(copy, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot create a directory to restore into: ", copy, ": ",
                                                       ec.message()));
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::filesystem::path to = std::filesystem::path(copy) / entry.path().filename();
    // SST files are immutable: link them. Everything else (MANIFEST, CURRENT, OPTIONS, logs)
    // RocksDB may rewrite in place when it opens the copy: copy those, so the checkpoint's own
    // files, and their checksums, never change.
    if (entry.path().extension() == ".sst") std::filesystem::create_hard_link(entry.path(), to, ec);
    if (entry.path().extension() != ".sst" || ec) {
      ec.clear();
      std::filesystem::copy_file(entry.path(), to, ec);
    }
    if (ec) return absl::UnavailableError(absl::StrCat("cannot copy ", entry.path().string(), ": ", ec.message()));
  }
  struct RemoveCopy {
    std::string dir;
    ~RemoveCopy() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_copy{copy};
  {
    KAPPA_ASSIGN_OR_RETURN(auto source, RocksDbBackend::Open(copy, resources));
    for (const TableInfo& t : source->Tables()) {
      auto k = kinds.find(t.name);
      TableKind kind = k == kinds.end() ? TableKind::kOrdered : k->second;
      KAPPA_ASSIGN_OR_RETURN(TableId from, source->RegisterTable(t.name, kind));
      KAPPA_ASSIGN_OR_RETURN(TableId to, target->RegisterTable(t.name, kind));
      auto it = source->Scan(from, {});
      for (; it->Valid(); it->Next()) {
        int kg = KeyGroupOfKey(kind, it->key());
        if (kg < first || kg > last) continue;
        KAPPA_RETURN_IF_ERROR(target->Put(to, it->key(), it->value()));
      }
      KAPPA_RETURN_IF_ERROR(it->status());
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSnapshotFile(const std::string& dir, const std::string& name, std::string_view data) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  std::string path = dir + "/" + name;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::Status(err == ENOSPC ? absl::StatusCode::kResourceExhausted : absl::StatusCode::kUnavailable,
                          absl::StrCat("cannot write ", path, ": ", strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot fsync ", path, ": ", strerror(err)));
  }
  close(fd);
  return absl::OkStatus();
}

std::string EncodeTables(const std::vector<TableInfo>& tables) {
  std::string out;
  for (const auto& t : tables) absl::StrAppend(&out, static_cast<int>(t.kind), "\t", t.name, "\n");
  return out;
}

namespace {

// The TTL watermark the snapshot recorded goes to the target (the largest, when several
// snapshots are restored into one backend): what a reclaim before the snapshot dropped
// stays expired after it.
absl::Status RestoreTtlWatermark(const std::string& dir, KeyedStateBackend* target) {
  const std::string path = dir + "/" + kTtlWatermarkFile;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();
  KAPPA_ASSIGN_OR_RETURN(std::string text, ReadAll(path));
  int64_t wm;
  if (!absl::SimpleAtoi(text, &wm)) return Corrupt(path);
  target->AdvanceTtlWatermark(wm);
  return absl::OkStatus();
}

}  // namespace

absl::Status RestoreSnapshot(const std::string& dir, std::string_view backend, int kg_first, int kg_last,
                             KeyedStateBackend* target) {
  if (backend == "heap") {
    KAPPA_RETURN_IF_ERROR(RestoreHeap(dir, kg_first, kg_last, target));
  } else if (backend == "rocksdb") {
    KAPPA_RETURN_IF_ERROR(RestoreRocksDb(dir, kg_first, kg_last, target));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown state backend '", std::string(backend), "' in snapshot ", dir));
  }
  return RestoreTtlWatermark(dir, target);
}

}  // namespace kappa::state
