// Helpers shared by the fuzz targets: a scratch directory per process and a small
// archive format that carries a whole directory (a checkpoint, a state snapshot) in one
// fuzz input.
//
// Archive: a sequence of entries, each
//   u8 name length, name, u16 little-endian content length, content
// A truncated last entry keeps what is there. Names are relative paths made of plain
// components ([A-Za-z0-9._-], no "." or ".." component); other entries are skipped so
// that unpacking never writes outside the directory. fuzz/pack.py makes archives from
// real directories for the seed corpora.
#ifndef KAPPA_FUZZ_FUZZ_UTIL_H_
#define KAPPA_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kappa::fuzz {

// A directory of this process's own under $TMPDIR (or /tmp), created on first use and
// removed at exit.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/kappa-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    static std::string remove_at_exit;
    remove_at_exit = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(remove_at_exit, ec);
    });
    return pattern;
  }();
  return dir;
}

inline void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Empties `dir` (creating it if needed).
inline void ResetDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
}

inline bool SafeRelativePath(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                c == '_' || c == '-';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

// The entries of an archive, in order (see the file comment).
inline std::vector<std::pair<std::string, std::string>> ParseArchive(std::string_view in) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!in.empty()) {
    size_t name_len = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (in.size() < name_len) break;
    std::string name(in.substr(0, name_len));
    in.remove_prefix(name_len);
    size_t len = 0;
    if (in.size() >= 2) {
      len = static_cast<uint8_t>(in[0]) | (static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8);
      in.remove_prefix(2);
    } else {
      in.remove_prefix(in.size());
    }
    std::string content(in.substr(0, len));
    in.remove_prefix(content.size());
    out.emplace_back(std::move(name), std::move(content));
  }
  return out;
}

// Unpacks an archive into `dir` (emptied first). Returns the names written.
inline std::vector<std::string> UnpackArchive(std::string_view archive, const std::string& dir) {
  ResetDir(dir);
  std::vector<std::string> names;
  for (auto& [name, content] : ParseArchive(archive)) {
    if (!SafeRelativePath(name)) continue;
    std::filesystem::path path = std::filesystem::path(dir) / name;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (std::filesystem::is_directory(path, ec)) continue;
    WriteFile(path.string(), content);
    names.push_back(name);
  }
  return names;
}

}  // namespace kappa::fuzz

#endif  // KAPPA_FUZZ_FUZZ_UTIL_H_
