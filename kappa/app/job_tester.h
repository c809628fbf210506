// Testing a whole job, as Flink users do with a MiniCluster and collect sinks: run a job
// definition in this process over in-memory input and read back what every sink wrote.
//
//   TEST(PageViewsTest, CountsViewsPerPageAndWindow) {
//     kappa::testing::JobTester tester(BuildPageViews);
//     tester.Input("events", {R"({"user":"ann","page":"/a","ts":1000})",
//                             R"({"user":"bob","page":"/a","ts":2000})"});
//     absl::StatusOr<kappa::testing::JobOutput> out = tester.Run();
//     ASSERT_TRUE(out.ok()) << out.status();
//     EXPECT_THAT(out->Rows("output"), ElementsAre(R"({"page":"/a","window_start":0,"views":2})"));
//   }
//
// The job is built exactly as `kappa run` builds it (its JobContext, the same source and
// sink bindings, the same checks), so what passes here runs the same from the command
// line. Each source's input becomes a JSON-lines file log in a temporary directory (one
// file per partition) and each sink writes a JSON-lines file there; nothing else is
// touched, and the directory is removed when Run() returns. A source given no input reads
// nothing. Bounded input ends the run: every window fires (the final watermark) before
// Run() returns.
//
// Not thread-safe; Run() may be called more than once (each run starts afresh).
#ifndef KAPPA_APP_JOB_TESTER_H_
#define KAPPA_APP_JOB_TESTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kappa/app/job_registry.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/executor.h"

namespace kappa::testing {

// What one JobTester::Run() produced.
class JobOutput {
 public:
  // The rows sink `sink` wrote, one JSON object per line, in the order written (across
  // parallel instances that order is not defined: compare as a multiset). Empty for a sink
  // the job does not have: sinks() lists those it has.
  const std::vector<std::string>& Rows(const std::string& sink = "output") const;

  // The same rows decoded into T (a KAPPA_JSON type); an error names the sink and the row.
  template <typename T>
  absl::StatusOr<std::vector<T>> Values(const std::string& sink = "output") const {
    auto it = rows_.find(sink);
    if (it == rows_.end()) {
      return absl::NotFoundError(absl::StrCat("the job has no sink named '", sink, "'; its sinks: ",
                                              absl::StrJoin(sinks(), ", ")));
    }
    JsonCodec<T> codec;
    std::vector<T> values(it->second.size());
    for (size_t i = 0; i < it->second.size(); ++i) {
      if (absl::Status s = codec.Decode(it->second[i], 0, &values[i]); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("sink '", sink, "' row ", i + 1, " (", it->second[i], "): ", s.message()));
      }
    }
    return values;
  }

  // The names of the job's sinks, in the order the job declared them.
  std::vector<std::string> sinks() const { return sink_order_; }

  // The job's `errors` output: undecodable input lines, user functions that threw, late
  // records nobody consumed (see kappa/runtime/errors.h).
  const std::vector<ErrorEvent>& errors() const { return errors_; }
  int64_t decode_errors() const { return decode_errors_; }
  int64_t user_errors() const { return user_errors_; }
  int64_t late_records() const { return late_records_; }

 private:
  friend class JobTester;
  std::map<std::string, std::vector<std::string>> rows_;
  std::vector<std::string> sink_order_;
  std::vector<ErrorEvent> errors_;
  int64_t decode_errors_ = 0, user_errors_ = 0, late_records_ = 0;
};

// Runs one job definition over in-memory input. Build it with the job's build function
// (the one registered in the JobRegistry), add input per source, Run(), read the rows.
class JobTester {
 public:
  explicit JobTester(std::function<void(JobContext&)> build, std::string job_name = "job-under-test");
  explicit JobTester(const JobDefinition& definition);

  // Adds one partition to source `source`: these lines, in this order (a call per
  // partition; lines that do not decode go to the errors output, as in a real run).
  JobTester& Input(const std::string& source, std::vector<std::string> json_lines);

  // The same from typed records, encoded with their KAPPA_JSON codec.
  template <typename T>
  JobTester& InputRecords(const std::string& source, const std::vector<T>& records) {
    JsonCodec<T> codec;
    std::vector<std::string> lines(records.size());
    for (size_t i = 0; i < records.size(); ++i) codec.Encode(records[i], &lines[i]);
    return Input(source, std::move(lines));
  }

  // Parallel instances per operator (`kappa run -p`); default 1, where each sink's rows
  // come in the order the job emitted them.
  JobTester& Parallelism(int parallelism);
  // Overrides the job's watermark bound (`--out-of-orderness MS`).
  JobTester& OutOfOrderness(Timestamp ms);
  // Keyed state on the heap (the default here: fast, nothing on disk) or in RocksDB, as
  // `kappa run` does by default.
  JobTester& State(StateBackendKind backend);
  // A job parameter, as `--param key=value` gives it (JobContext::params()).
  JobTester& Param(const std::string& key, std::string value);

  // Builds and runs the job. Fails with the same one-line message `kappa run` prints for
  // a job that does not build, an input for a source the job does not have, or a failed
  // run.
  absl::StatusOr<JobOutput> Run() const;

 private:
  std::function<void(JobContext&)> build_;
  std::string job_name_;
  std::map<std::string, std::vector<std::vector<std::string>>> inputs_;  // source -> partitions
  int parallelism_ = 1;
  std::optional<Timestamp> out_of_orderness_ms_;
  StateBackendKind state_backend_ = StateBackendKind::kHeap;
  std::map<std::string, std::string> params_;
};

}  // namespace kappa::testing

#endif  // KAPPA_APP_JOB_TESTER_H_
