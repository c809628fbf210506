#include "kappa/app/job_tester.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_format.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/line_reader.h"
#include "kappa/base/status.h"

namespace kappa::testing {
namespace {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with everything in it when this goes away.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create() {
    std::error_code ec;
    fs::path base = fs::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string pattern = (base / "kappa-job-tester-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a temporary directory under ", base.string(),
                                              ": set TMPDIR to a writable directory"));
    }
    return std::unique_ptr<TempDir>(new TempDir(pattern));
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::Status WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> out, FileWriter::Open(path, FileWriter::Mode::kTruncate));
  for (const std::string& line : lines) {
    KAPPA_RETURN_IF_ERROR(out->Append(line));
    KAPPA_RETURN_IF_ERROR(out->Append("\n"));
  }
  return out->Close();
}

// The lines of a sink's output file; a sink that never wrote leaves no file: no rows.
absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::vector<std::string> rows;
  if (!fs::exists(path)) return rows;
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<LineReader> reader, LineReader::Open(path, /*offset=*/0, /*follow=*/false));
  LineBatch batch;
  while (true) {
    KAPPA_ASSIGN_OR_RETURN(LineReader::Result result, reader->Read(1024, &batch));
    if (result != LineReader::Result::kLines) break;
    for (size_t i = 0; i < batch.size(); ++i) rows.emplace_back(batch.line(i));
  }
  return rows;
}

}  // namespace

const std::vector<std::string>& JobOutput::Rows(const std::string& sink) const {
  static const std::vector<std::string>* const kNone = new std::vector<std::string>();
  auto it = rows_.find(sink);
  return it == rows_.end() ? *kNone : it->second;
}

JobTester::JobTester(std::function<void(JobContext&)> build, std::string job_name)
    : build_(std::move(build)), job_name_(std::move(job_name)) {}

JobTester::JobTester(const JobDefinition& definition) : JobTester(definition.build, definition.name) {}

JobTester& JobTester::Input(const std::string& source, std::vector<std::string> json_lines) {
  inputs_[source].push_back(std::move(json_lines));
  return *this;
}

JobTester& JobTester::Parallelism(int parallelism) {
  parallelism_ = parallelism;
  return *this;
}

JobTester& JobTester::OutOfOrderness(Timestamp ms) {
  out_of_orderness_ms_ = ms;
  return *this;
}

JobTester& JobTester::Param(const std::string& key, std::string value) {
  params_[key] = std::move(value);
  return *this;
}

JobTester& JobTester::State(StateBackendKind backend) {
  state_backend_ = backend;
  return *this;
}

absl::StatusOr<JobOutput> JobTester::Run() const {
  if (!build_) return absl::InvalidArgumentError("JobTester needs the job's build function");
  if (parallelism_ < 1 || parallelism_ > 128) {
    return absl::InvalidArgumentError("JobTester: parallelism must be between 1 and 128");
  }
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<TempDir> tmp, TempDir::Create());
  const std::string& dir = tmp->path();

  // Sources: each input is a directory with one file per partition (a file log, read in
  // name order); sources without input read one empty file.
  JobBindings bindings;
  bindings.out_of_orderness_ms = out_of_orderness_ms_;
  bindings.params = params_;
  std::string empty = dir + "/empty.jsonl";
  KAPPA_RETURN_IF_ERROR(WriteLines(empty, {}));
  bindings.default_source = "file:" + empty;
  int n = 0;
  for (const auto& [source, partitions] : inputs_) {
    std::string in = absl::StrCat(dir, "/in-", n++);
    std::error_code ec;
    if (!fs::create_directories(in, ec) || ec) {
      return absl::InternalError(absl::StrCat("cannot create ", in, ": ", ec.message()));
    }
    for (size_t p = 0; p < partitions.size(); ++p) {
      KAPPA_RETURN_IF_ERROR(WriteLines(absl::StrFormat("%s/part-%06d.jsonl", in, p), partitions[p]));
    }
    bindings.sources[source] = absl::StrCat("file:", in, "/");
  }

  // Builds the job on `b` and checks it as `kappa run` does before running.
  auto build = [this](const JobBindings& b, std::unique_ptr<Job>* job) -> absl::StatusOr<std::unique_ptr<JobContext>> {
    *job = Job::Create(job_name_);
    auto ctx = std::make_unique<JobContext>(job->get(), b);
    build_(*ctx);
    KAPPA_RETURN_IF_ERROR((*job)->status());
    KAPPA_RETURN_IF_ERROR(ctx->CheckBindings());
    KAPPA_RETURN_IF_ERROR(ctx->CheckParams());
    return ctx;
  };

  // The job's sinks are known once it is built: build it once with every sink discarding,
  // then again with each sink bound to a file of its own.
  std::vector<std::string> sink_names;
  {
    JobBindings dry = bindings;
    dry.default_sink = "discard:";
    std::unique_ptr<Job> job;
    KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<JobContext> ctx, build(dry, &job));
    sink_names = ctx->sink_names();
  }
  std::map<std::string, std::string> sink_files;
  for (size_t i = 0; i < sink_names.size(); ++i) {
    sink_files[sink_names[i]] = absl::StrCat(dir, "/out-", i, ".jsonl");
    bindings.sinks[sink_names[i]] = "file:" + sink_files[sink_names[i]];
  }
  std::unique_ptr<Job> job;
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<JobContext> ctx, build(bindings, &job));

  ErrorSink errors(nullptr, /*keep_in_memory=*/true);
  ExecutionOptions options;
  options.parallelism = parallelism_;
  options.errors = &errors;
  options.state_backend = state_backend_;
  if (state_backend_ == StateBackendKind::kRocksDb) options.state_dir = dir + "/state";
  absl::StatusOr<ExecutionResult> result = job->Execute(options);
  absl::Status finished = ctx->Finish();
  if (!result.ok()) {
    return absl::Status(result.status().code(), absl::StrCat(job_name_, " failed: ", result.status().message()));
  }
  if (!finished.ok()) {
    return absl::Status(finished.code(), absl::StrCat(job_name_, ": could not finish output: ", finished.message()));
  }

  JobOutput out;
  out.sink_order_ = sink_names;
  for (const auto& [sink, file] : sink_files) {
    KAPPA_ASSIGN_OR_RETURN(out.rows_[sink], ReadLines(file));
  }
  out.errors_ = errors.events();
  out.decode_errors_ = errors.decode_errors();
  out.user_errors_ = errors.user_errors();
  out.late_records_ = errors.late_records();
  return out;
}

}  // namespace kappa::testing
