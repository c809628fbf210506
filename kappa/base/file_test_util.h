// Test helpers for the file log: a temporary directory per test and whole-file I/O.
#ifndef KAPPA_BASE_FILE_TEST_UTIL_H_
#define KAPPA_BASE_FILE_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kappa::testing {

// A fresh directory under ::testing::TempDir(), named after the running test and removed
// with its contents on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    static std::atomic<int> counter{0};
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info == nullptr ? std::string("kappa_file_test")
                                       : absl::StrCat(info->test_suite_name(), ".", info->name());
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    std::string root = ::testing::TempDir();  // usually ends in '/'
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    path_ = absl::StrCat(root, "/", name, ".", ::getpid(), ".", counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteStringToFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline void AppendStringToFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace kappa::testing

#endif  // KAPPA_BASE_FILE_TEST_UTIL_H_
