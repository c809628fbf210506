#include "kappa/checkpoint/checkpointing.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include <cstdio>
#include <filesystem>

namespace kappa::checkpoint {
namespace {
constexpr char kFatalPayload[] = "kappa/fatal";
}  // namespace

absl::Status MarkFatal(absl::Status status) {
  if (!status.ok()) status.SetPayload(kFatalPayload, absl::Cord("1"));
  return status;
}

bool IsFatal(const absl::Status& status) { return status.GetPayload(kFatalPayload).has_value(); }

std::string PublishedPartName(const std::string& dir, int64_t checkpoint, int subtask) {
  return absl::StrFormat("%s/part-%08d-%03d.jsonl", dir, checkpoint, subtask);
}

absl::Status PublishPending(const std::vector<PendingFile>& pending) {
  for (const PendingFile& f : pending) {
    std::error_code ec;
    if (!std::filesystem::exists(f.hidden, ec)) {
      if (std::filesystem::exists(f.published, ec)) continue;  // published before a crash
      return absl::DataLossError(absl::StrCat("pre-committed output ", f.hidden, " is missing and ", f.published,
                                              " was never published"));
    }
    // link + unlink instead of rename: never replace a file already published under that
    // name (a crash between the two leaves both names on one inode, handled below).
    if (link(f.hidden.c_str(), f.published.c_str()) != 0) {
      struct stat a, b;
      if (errno == EEXIST && stat(f.hidden.c_str(), &a) == 0 && stat(f.published.c_str(), &b) == 0 &&
          a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        unlink(f.hidden.c_str());
        continue;
      }
      return absl::DataLossError(absl::StrCat("cannot publish ", f.hidden, " as ", f.published, ": ",
                                              strerror(errno), " (refusing to replace published output)"));
    }
    if (unlink(f.hidden.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot remove ", f.hidden, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveAbandonedParts(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(".part-", 0) == 0 && name.size() > 11 && name.ends_with(".inprogress")) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  return absl::OkStatus();
}

absl::Status WithdrawPartsAfter(const std::string& dir, int64_t checkpoint) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("part-", 0) != 0) continue;
    bool withdraw = name.rfind("part-final-", 0) == 0;
    if (!withdraw) {
      // part-<checkpoint, 8 digits>-<subtask>.jsonl
      int64_t epoch = 0;
      size_t i = 5;
      for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) epoch = epoch * 10 + (name[i] - '0');
      withdraw = i > 5 && i < name.size() && name[i] == '-' && epoch > checkpoint;
    }
    if (withdraw && !std::filesystem::remove(entry.path(), ec)) {
      return absl::UnavailableError(absl::StrCat("cannot withdraw ", entry.path().string(), ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

std::vector<PartitionPosition> RestoredState::SourcePartitions(const std::string& operator_uid) const {
  std::vector<PartitionPosition> out;
  for (const SourcePositions& s : sources) {
    if (s.operator_uid == operator_uid) out.insert(out.end(), s.partitions.begin(), s.partitions.end());
  }
  return out;
}

std::optional<WatermarkPosition> RestoredState::WatermarkFor(const std::string& operator_uid, int subtask,
                                                         int parallelism, int key_group_first,
                                                         int key_group_last) const {
  std::optional<WatermarkPosition> out;
  for (const WatermarkPosition& w : watermarks) {
    if (w.operator_uid != operator_uid) continue;
    if (w.parallelism == parallelism) {
      if (w.subtask == subtask) return w;
      continue;
    }
    const bool keyed = key_group_first <= key_group_last && w.key_group_first <= w.key_group_last;
    if (keyed && (w.key_group_last < key_group_first || key_group_last < w.key_group_first)) continue;
    if (!out) {
      out = WatermarkPosition{.operator_uid = operator_uid, .subtask = subtask, .parallelism = parallelism,
                          .key_group_first = key_group_first, .key_group_last = key_group_last,
                          .watermark = w.watermark};
    } else {
      out->watermark = std::min(out->watermark, w.watermark);
    }
  }
  return out;
}

std::vector<std::string> RestoredState::OperatorEntriesFor(const std::string& operator_uid, int subtask,
                                                          int parallelism) const {
  std::vector<const OperatorStateEntries*> instances;
  bool same_parallelism = true;
  for (const OperatorStateEntries& s : operator_states) {
    if (s.operator_uid != operator_uid) continue;
    instances.push_back(&s);
    same_parallelism = same_parallelism && s.parallelism == parallelism;
  }
  if (same_parallelism) {
    for (const OperatorStateEntries* s : instances) {
      if (s->subtask == subtask) return s->entries;
    }
    return {};
  }
  std::sort(instances.begin(), instances.end(),
            [](const OperatorStateEntries* a, const OperatorStateEntries* b) { return a->subtask < b->subtask; });
  std::vector<std::string> out;
  int64_t i = 0;
  for (const OperatorStateEntries* s : instances) {
    for (const std::string& e : s->entries) {
      if (i++ % parallelism == subtask) out.push_back(e);
    }
  }
  return out;
}

}  // namespace kappa::checkpoint
