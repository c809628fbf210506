// What the `replay --then-follow` tests share: polling, the caught-up line's check.
#ifndef KAPPA_TESTS_REPLAY_FOLLOW_H_
#define KAPPA_TESTS_REPLAY_FOLLOW_H_

#include <chrono>
#include <cstdint>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "tests/kappa_process.h"

namespace kappa::testing {

inline std::string Describe(const RunResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\n--- stderr:\n", r.err.substr(0, 3000));
}

// Polls `done` every 50 ms for up to a minute; true once it holds.
template <typename Fn>
inline bool PollUntil(Fn done) {
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < deadline;) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

inline int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

// The lines of `text` that contain `what`.
inline std::vector<std::string> LinesWith(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(what) != std::string::npos) out.push_back(line);
  }
  return out;
}

// Checks the one caught-up line of a replay's log: the history's ends, its records.
inline void ExpectCaughtUpLine(const std::string& log, const std::string& ends, int64_t history_records) {
  std::vector<std::string> lines = LinesWith(log, "caught up");
  ASSERT_EQ(lines.size(), 1u) << log;
  static const std::regex kLine(
      R"(kappa: caught up at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z: (.*) \(history: (\d+) records in \d+\.\d s\); now following live)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kLine)) << lines[0];
  EXPECT_EQ(m[1].str(), ends) << lines[0];
  EXPECT_EQ(m[2].str(), std::to_string(history_records)) << lines[0];
}

class ReplayFollowTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return tmp_.Path(name); }
  ScopedTempDir tmp_;
};

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_REPLAY_FOLLOW_H_
