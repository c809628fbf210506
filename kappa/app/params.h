// A job's user parameters: `--param key=value` on `kappa run` and `kappa replay`
// (repeatable), read by the job with typed getters, the way Flink's ParameterTool works.
//
//   void BuildClicks(kappa::JobContext& ctx) {
//     absl::Duration window = ctx.params().GetDuration("window", absl::Minutes(1));
//     int64_t top = ctx.params().GetInt64("top", 10);
//     std::string region = ctx.params().RequireString("region");
//     ...
//   }
//
// A value that does not parse, or a Require* parameter that was not given, is an error of
// one line naming the parameter and what was expected
// ("--param window=abc: expected a duration such as 10s, 500ms or 1m"). The getter then
// returns its default (or a zero value), and the first error is recorded: JobContext
// records it on the job, so the run fails before it starts (the `kappa` command exits 2).
// Every getter and Has() marks the parameter as one the job reads; CheckAllRead() after
// the build turns a parameter given but never read (a typo) into an error listing the
// ones the job reads.
//
// Not thread-safe: a job is built on one thread.
#ifndef KAPPA_APP_PARAMS_H_
#define KAPPA_APP_PARAMS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kappa {

class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  // Parses "key=value" arguments (the values of repeated --param flags). A missing '=',
  // an empty key or a key given twice is an InvalidArgument error naming the argument.
  static absl::StatusOr<Params> Parse(const std::vector<std::string>& key_values);

  // Called with every error as it is recorded (JobContext records them on the job).
  void OnError(std::function<void(const absl::Status&)> on_error) { on_error_ = std::move(on_error); }
  // The first error, or OK.
  const absl::Status& status() const { return status_; }

  bool Has(const std::string& name);

  // The value if given, else `fallback`; a value that does not parse records an error.
  std::string GetString(const std::string& name, const std::string& fallback);
  int64_t GetInt64(const std::string& name, int64_t fallback);
  double GetDouble(const std::string& name, double fallback);
  // true/false, yes/no, on/off or 1/0.
  bool GetBool(const std::string& name, bool fallback);
  // absl::ParseDuration's form: 10s, 500ms, 1m30s, 2h.
  absl::Duration GetDuration(const std::string& name, absl::Duration fallback);

  // The value; a parameter not given records an error (and a zero value is returned).
  std::string RequireString(const std::string& name);
  int64_t RequireInt64(const std::string& name);
  double RequireDouble(const std::string& name);
  bool RequireBool(const std::string& name);
  absl::Duration RequireDuration(const std::string& name);

  // Every given parameter was read by a getter or Has(); else an InvalidArgument error
  // for the first unread one, naming the parameters `job` reads.
  absl::Status CheckAllRead(const std::string& job) const;

  // The given parameters, by name.
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  // Looks `name` up and marks it read; null when not given.
  const std::string* Find(const std::string& name);
  // Records "--param name=value: expected <what>"; the first one wins.
  void Malformed(const std::string& name, const std::string& value, const char* what);
  void Missing(const std::string& name, const char* what);
  void Record(absl::Status status);

  template <typename T, typename ParseFn>
  T Get(const std::string& name, T fallback, const char* what, ParseFn parse);
  template <typename T, typename ParseFn>
  T Require(const std::string& name, const char* what, ParseFn parse);

  std::map<std::string, std::string> values_;
  std::set<std::string> read_;
  absl::Status status_;
  std::function<void(const absl::Status&)> on_error_;
};

}  // namespace kappa

#endif  // KAPPA_APP_PARAMS_H_
