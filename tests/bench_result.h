// The JSON lines `kappa bench ... --json` prints, for the bench tests: Lines splits the
// output, Result reads one line's fields (a missing or mistyped field fails the test).
#ifndef KAPPA_TESTS_BENCH_RESULT_H_
#define KAPPA_TESTS_BENCH_RESULT_H_

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "simdjson.h"

namespace kappa::testing {

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One result line, parsed; fields are read with Int/Double/Bool/Str.
class Result {
 public:
  explicit Result(const std::string& line) : json_(line) {
    auto doc = parser_.parse(json_);
    ok_ = doc.error() == simdjson::SUCCESS && doc.value().is_object();
    if (ok_) object_ = doc.value().get_object().value();
  }
  bool ok() const { return ok_; }
  bool Has(const char* key) const { return ok_ && object_[key].error() == simdjson::SUCCESS; }
  int64_t Int(const char* key) const {
    int64_t v = -1;
    EXPECT_EQ(object_[key].get_int64().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  double Double(const char* key) const {
    double v = -1;
    EXPECT_EQ(object_[key].get_double().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  bool Bool(const char* key) const {
    bool v = false;
    EXPECT_EQ(object_[key].get_bool().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  std::string Str(const char* key) const {
    std::string_view v;
    EXPECT_EQ(object_[key].get_string().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return std::string(v);
  }
  const std::string& text() const { return json_; }

 private:
  std::string json_;
  simdjson::dom::parser parser_;
  simdjson::dom::object object_;
  bool ok_ = false;
};

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_BENCH_RESULT_H_
