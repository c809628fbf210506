#include "kappa/app/params.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kappa {
namespace {

constexpr char kInteger[] = "an integer";
constexpr char kNumber[] = "a number";
constexpr char kBool[] = "true or false";
constexpr char kDuration[] = "a duration such as 10s, 500ms or 1m";

bool ParseInt64(const std::string& text, int64_t* out) { return absl::SimpleAtoi(text, out); }

bool ParseDouble(const std::string& text, double* out) { return absl::SimpleAtod(text, out); }

bool ParseBool(const std::string& text, bool* out) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") {
    *out = true;
    return true;
  }
  if (t == "false" || t == "no" || t == "off" || t == "0") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseDurationValue(const std::string& text, absl::Duration* out) {
  // "inf" parses too, but a job parameter means a finite span.
  return absl::ParseDuration(text, out) && *out != absl::InfiniteDuration() && *out != -absl::InfiniteDuration();
}

bool ParseStringValue(const std::string& text, std::string* out) {
  *out = text;
  return true;
}

}  // namespace

absl::StatusOr<Params> Params::Parse(const std::vector<std::string>& key_values) {
  std::map<std::string, std::string> values;
  for (const std::string& kv : key_values) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--param '", kv, "': use key=value"));
    }
    std::string key = kv.substr(0, eq);
    auto [it, inserted] = values.emplace(key, kv.substr(eq + 1));
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", key, " is given twice (", it->second, " and ", kv.substr(eq + 1), "); give it once"));
    }
  }
  return Params(std::move(values));
}

const std::string* Params::Find(const std::string& name) {
  read_.insert(name);
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

void Params::Record(absl::Status status) {
  if (on_error_) on_error_(status);
  if (status_.ok()) status_ = std::move(status);
}

void Params::Malformed(const std::string& name, const std::string& value, const char* what) {
  Record(absl::InvalidArgumentError(absl::StrCat("--param ", name, "=", value, ": expected ", what)));
}

void Params::Missing(const std::string& name, const char* what) {
  Record(absl::InvalidArgumentError(absl::StrCat("--param ", name, " is missing: expected ", what)));
}

template <typename T, typename ParseFn>
T Params::Get(const std::string& name, T fallback, const char* what, ParseFn parse) {
  const std::string* text = Find(name);
  if (text == nullptr) return fallback;
  T value;
  if (!parse(*text, &value)) {
    Malformed(name, *text, what);
    return fallback;
  }
  return value;
}

template <typename T, typename ParseFn>
T Params::Require(const std::string& name, const char* what, ParseFn parse) {
  if (values_.find(name) == values_.end()) {
    read_.insert(name);
    Missing(name, what);
    return T{};
  }
  return Get<T>(name, T{}, what, parse);
}

bool Params::Has(const std::string& name) { return Find(name) != nullptr; }

std::string Params::GetString(const std::string& name, const std::string& fallback) {
  return Get<std::string>(name, fallback, "a string", ParseStringValue);
}
int64_t Params::GetInt64(const std::string& name, int64_t fallback) {
  return Get<int64_t>(name, fallback, kInteger, ParseInt64);
}
double Params::GetDouble(const std::string& name, double fallback) {
  return Get<double>(name, fallback, kNumber, ParseDouble);
}
bool Params::GetBool(const std::string& name, bool fallback) { return Get<bool>(name, fallback, kBool, ParseBool); }
absl::Duration Params::GetDuration(const std::string& name, absl::Duration fallback) {
  return Get<absl::Duration>(name, fallback, kDuration, ParseDurationValue);
}

std::string Params::RequireString(const std::string& name) {
  return Require<std::string>(name, "a string", ParseStringValue);
}
int64_t Params::RequireInt64(const std::string& name) { return Require<int64_t>(name, kInteger, ParseInt64); }
double Params::RequireDouble(const std::string& name) { return Require<double>(name, kNumber, ParseDouble); }
bool Params::RequireBool(const std::string& name) { return Require<bool>(name, kBool, ParseBool); }
absl::Duration Params::RequireDuration(const std::string& name) {
  return Require<absl::Duration>(name, kDuration, ParseDurationValue);
}

absl::Status Params::CheckAllRead(const std::string& job) const {
  for (const auto& [name, value] : values_) {
    if (read_.count(name) > 0) continue;
    if (read_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", name, "=", value, ": job '", job, "' takes no parameters"));
    }
    return absl::InvalidArgumentError(absl::StrCat("--param ", name, "=", value, ": job '", job,
                                                   "' has no parameter '", name, "'; its parameters: ",
                                                   absl::StrJoin(read_, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace kappa
