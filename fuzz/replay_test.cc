// Replays a fuzz target's seed corpus and regression inputs as a unit test: each file is
// fed once to the target's LLVMFuzzerTestOneInput (linked into this binary), which aborts
// on any failed check. KAPPA_FUZZ_INPUTS lists the directories, ':'-separated.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> Inputs() {
  std::vector<std::filesystem::path> files;
  for (const auto& dir : absl::StrSplit(KAPPA_FUZZ_INPUTS, ':')) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(dir), ec)) {
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// KAPPA_FUZZ_REPLAY_SUITE names the suite after the target (fuzz/CMakeLists.txt).
TEST(KAPPA_FUZZ_REPLAY_SUITE, SeedsAndRegressionsPassTheTargetsChecks) {
  std::vector<std::filesystem::path> files = Inputs();
  ASSERT_FALSE(files.empty()) << "no inputs in " << KAPPA_FUZZ_INPUTS;
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Copied so that ASan sees the exact extent of the input, as under the fuzzer.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    EXPECT_EQ(LLVMFuzzerTestOneInput(data.data(), data.size()), 0);
  }
}

}  // namespace
