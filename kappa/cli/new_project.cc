#include "kappa/cli/new_project.h"

#include <cctype>
#include <filesystem>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/status.h"

namespace kappa::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kCMakeLists[] = R"kappa(# @NAME@: Kappa jobs, built against an installed Kappa (find_package(Kappa)).
cmake_minimum_required(VERSION 3.25)
project(@NAME@ LANGUAGES CXX)

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "" FORCE)
endif()
add_compile_options(-Wall -Wextra)

# Kappa installed elsewhere than /usr or /usr/local: cmake -DCMAKE_PREFIX_PATH=ITS_PREFIX
find_package(Kappa CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)

# The jobs, in a library that the binary and the tests share.
add_library(@NAME@_jobs src/page_views.cc)
target_include_directories(@NAME@_jobs PUBLIC src)
target_link_libraries(@NAME@_jobs PUBLIC Kappa::kappa)

# The job binary: the whole kappa command line (jobs, run, replay, savepoint, diff, ...)
# with these jobs registered.
add_executable(@NAME@ src/main.cc)
target_link_libraries(@NAME@ PRIVATE @NAME@_jobs)

enable_testing()
include(GoogleTest)
add_executable(@NAME@_test test/page_views_test.cc)
target_link_libraries(@NAME@_test PRIVATE @NAME@_jobs GTest::gtest GTest::gmock GTest::gtest_main)
gtest_discover_tests(@NAME@_test)
)kappa";

constexpr char kJobHeader[] = R"kappa(// page-views: how many times each page was viewed, per page and tumbling window of
// event time.
//
// Input, one JSON object per line (ts: event time, epoch milliseconds):
//   {"user":"ann","page":"/home","ts":1700000000000}
// Output, one row per page and window once the watermark passes the window's end:
//   {"page":"/home","window_start":1699999980000,"window_end":1700000040000,"views":3}
#ifndef PAGE_VIEWS_H_
#define PAGE_VIEWS_H_

#include <cstdint>
#include <string>

#include "@KAPPA_H@"

namespace jobs {

struct PageView {
  std::string user;
  std::string page;
  int64_t ts = 0;
};

struct PageViews {
  std::string page;
  int64_t window_start = 0;
  int64_t window_end = 0;
  int64_t views = 0;
};

// The pipeline alone, so that other jobs (and tests) can reuse it.
kappa::Stream<PageViews> CountViews(kappa::Stream<PageView> views, absl::Duration window);

// The job: source "views", sink "output".
void BuildPageViews(kappa::JobContext& ctx);

// Registers every job of this project.
void RegisterJobs(kappa::JobRegistry* registry);

}  // namespace jobs

KAPPA_JSON(jobs::PageView, user, page, ts);
KAPPA_JSON(jobs::PageViews, page, window_start, window_end, views);

#endif  // PAGE_VIEWS_H_
)kappa";

constexpr char kJobSource[] = R"kappa(#include "page_views.h"

#include <utility>

namespace jobs {

kappa::Stream<PageViews> CountViews(kappa::Stream<PageView> views, absl::Duration window) {
  return views.KeyBy([](const PageView& v) { return v.page; })
      .Window(kappa::Tumbling(window))
      .Aggregate(
          kappa::Count(),
          [](const std::string& page, const kappa::TimeWindow& w, int64_t n) {
            return PageViews{page, w.start, w.end, n};
          },
          "count-views");
}

void BuildPageViews(kappa::JobContext& ctx) {
  // --param window=30s changes it; the default is one minute.
  const absl::Duration window = ctx.params().GetDuration("window", absl::Minutes(1));
  // Views may arrive up to 5 s out of order (--out-of-orderness MS overrides it); a view
  // later than that is late and goes to the errors output.
  auto strategy = kappa::WatermarkStrategy<PageView>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(5000))
                      .WithTimestamp([](const PageView& v) { return v.ts; });
  kappa::Stream<PageView> views = ctx.Source<PageView>("views", std::move(strategy));
  ctx.Sink(CountViews(views, window), "output");
}

void RegisterJobs(kappa::JobRegistry* registry) {
  registry->Register({"page-views", "views per page per tumbling minute of event time", BuildPageViews});
}

}  // namespace jobs
)kappa";

constexpr char kMain[] = R"kappa(// @NAME@: the kappa command line with this project's jobs registered.
//   @NAME@ jobs
//   @NAME@ run page-views --source file:data/views.jsonl --sink stdout:
#include "page_views.h"

int main(int argc, char** argv) {
  kappa::JobRegistry registry;
  jobs::RegisterJobs(&registry);
  return kappa::cli::Main(argc, argv, registry);
}
)kappa";

constexpr char kTest[] = R"kappa(// The page-views job, run whole in this process over in-memory input (kappa/testing.h).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "@KAPPA_TESTING_H@"
#include "page_views.h"

namespace jobs {
namespace {

using ::testing::UnorderedElementsAre;

TEST(PageViewsTest, CountsViewsPerPageAndMinute) {
  kappa::testing::JobTester tester(BuildPageViews, "page-views");
  tester.Input("views", {R"({"user":"ann","page":"/home","ts":1000})",
                         R"({"user":"bob","page":"/home","ts":30000})",
                         R"({"user":"ann","page":"/cart","ts":45000})",
                         R"({"user":"cid","page":"/home","ts":61000})"});
  absl::StatusOr<kappa::testing::JobOutput> out = tester.Run();
  ASSERT_THAT(out, kappa::testing::IsOk());
  EXPECT_THAT(out->Rows("output"),
              UnorderedElementsAre(R"({"page":"/home","window_start":0,"window_end":60000,"views":2})",
                                   R"({"page":"/cart","window_start":0,"window_end":60000,"views":1})",
                                   R"({"page":"/home","window_start":60000,"window_end":120000,"views":1})"));
}

TEST(PageViewsTest, AViewOutOfOrderWithinFiveSecondsStillCounts) {
  kappa::testing::JobTester tester(BuildPageViews, "page-views");
  // The view at 63 s holds the watermark at 58 s, before the first minute's end.
  tester.InputRecords<PageView>("views", {{"ann", "/home", 63000}, {"bob", "/home", 59000}});
  absl::StatusOr<kappa::testing::JobOutput> out = tester.Run();
  ASSERT_THAT(out, kappa::testing::IsOk());
  absl::StatusOr<std::vector<PageViews>> counts = out->Values<PageViews>("output");
  ASSERT_TRUE(counts.ok()) << counts.status();
  std::vector<std::string> rows;
  for (const PageViews& c : *counts) {
    rows.push_back(c.page + "@" + std::to_string(c.window_start) + "=" + std::to_string(c.views));
  }
  EXPECT_THAT(rows, UnorderedElementsAre("/home@0=1", "/home@60000=1"));
  EXPECT_EQ(out->late_records(), 0);
}

TEST(PageViewsTest, AViewBehindTheWatermarkIsLate) {
  kappa::testing::JobTester tester(BuildPageViews, "page-views");
  tester.InputRecords<PageView>("views", {{"ann", "/home", 63000}, {"bob", "/home", 59000}}).OutOfOrderness(0);
  absl::StatusOr<kappa::testing::JobOutput> out = tester.Run();
  ASSERT_THAT(out, kappa::testing::IsOk());
  EXPECT_THAT(out->Rows("output"),
              UnorderedElementsAre(R"({"page":"/home","window_start":60000,"window_end":120000,"views":1})"));
  EXPECT_EQ(out->late_records(), 1);
}

}  // namespace
}  // namespace jobs
)kappa";

constexpr char kSampleInput[] = R"kappa({"user":"ann","page":"/home","ts":1700000000000}
{"user":"bob","page":"/home","ts":1700000005000}
{"user":"ann","page":"/cart","ts":1700000012000}
{"user":"cid","page":"/home","ts":1700000003000}
{"user":"bob","page":"/cart","ts":1700000061000}
{"user":"ann","page":"/home","ts":1700000075000}
{"user":"dan","page":"/home","ts":1700000130000}
)kappa";

constexpr char kReadme[] = R"kappa(# @NAME@

Stream processing jobs on Kappa: `page-views` counts page views per page and tumbling
minute of event time, from JSON lines.

```sh
cmake -S . -B build && cmake --build build      # build (Kappa elsewhere than /usr: -DCMAKE_PREFIX_PATH=ITS_PREFIX)
ctest --test-dir build --output-on-failure       # test
```

`build/@NAME@` is the whole `kappa` command line with these jobs registered:

```sh
build/@NAME@ jobs
build/@NAME@ run page-views --source file:data/views.jsonl --sink stdout:
build/@NAME@ run page-views --source file:data/views.jsonl --sink file:out.jsonl
build/@NAME@ run page-views --source file:data/views.jsonl --sink stdout: --param window=30s
build/@NAME@ replay page-views --source file:data/views.jsonl --from earliest --sink file:replay.jsonl
build/@NAME@ diff file:out.jsonl file:replay.jsonl      # a replay gives what the run gave
build/@NAME@ run --help
```

- `src/page_views.cc` is the job; add jobs beside it and register them in `RegisterJobs`.
- `test/page_views_test.cc` runs the job whole, in-process, over in-memory input
  (`kappa::testing::JobTester`, from `kappa/testing.h`).
- `data/views.jsonl` is sample input: one JSON object per line, `ts` in epoch milliseconds.
)kappa";

constexpr char kGitignore[] = R"kappa(/build/
*.jsonl
!/data/*.jsonl
)kappa";

absl::Status WriteFile(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("kappa new: cannot create ", path.parent_path().string(), ": ", ec.message()));
  }
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> out, FileWriter::Open(path.string(), FileWriter::Mode::kTruncate));
  KAPPA_RETURN_IF_ERROR(out->Append(text));
  return out->Close();
}

bool ValidName(const std::string& name) {
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// The install prefix of the running binary (PREFIX/bin/kappa) if a Kappa CMake package
// lies under it, else "".
std::string OwnInstallPrefix() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  fs::path prefix = exe.parent_path().parent_path();
  for (const char* libdir : {"lib", "lib64"}) {
    if (fs::exists(prefix / libdir / "cmake/Kappa/KappaConfig.cmake", ec)) return prefix.string();
    for (const auto& entry : fs::directory_iterator(prefix / libdir, ec)) {  // lib/<multiarch>
      if (fs::exists(entry.path() / "cmake/Kappa/KappaConfig.cmake", ec)) return prefix.string();
    }
  }
  return "";
}

// `text` as one shell word: as is when it is made of safe characters, else single-quoted.
std::string ShellWord(const std::string& text) {
  constexpr std::string_view kPlain = "_./-+=:@%";
  bool safe = !text.empty();
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && kPlain.find(c) == std::string_view::npos) safe = false;
  }
  return safe ? text : absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

}  // namespace

std::string NewProjectNextSteps(const std::string& dir, const std::string& name) {
  std::string prefix = OwnInstallPrefix();
  std::string configure = "cmake -S . -B build";
  if (!prefix.empty() && prefix != "/usr" && prefix != "/usr/local") {
    absl::StrAppend(&configure, " -DCMAKE_PREFIX_PATH=", ShellWord(prefix));
  }
  return absl::StrCat("  cd ", ShellWord(dir), "\n  ", configure, " && cmake --build build   # build\n",
                      "  ctest --test-dir build --output-on-failure   # test\n", "  build/", name,
                      " run page-views --source file:data/views.jsonl --sink stdout:\n");
}

std::string ProjectNameFor(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();  // "views/"
  std::string base = p.filename().string();
  if (base.empty() || base == "." || base == "..") {
    std::error_code ec;
    base = fs::weakly_canonical(fs::absolute(p, ec), ec).filename().string();
  }
  std::string name;
  for (char c : base) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_' || c == '-') {
      name.push_back(static_cast<char>(std::tolower(u)));
    } else if (!name.empty() && name.back() != '-') {
      name.push_back('-');
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.empty()) return "kappa-jobs";
  if (!std::isalpha(static_cast<unsigned char>(name[0]))) name = "job-" + name;
  return name;
}

absl::StatusOr<std::vector<std::string>> WriteNewProject(const std::string& dir, const std::string& name_arg) {
  if (dir.empty()) return absl::InvalidArgumentError("kappa new: give the directory to create, e.g. kappa new views");
  std::string name = name_arg.empty() ? ProjectNameFor(dir) : name_arg;
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("kappa new: --name '", name,
                                                   "' must start with a letter and hold only letters, digits, "
                                                   "'-' and '_'"));
  }
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      return absl::AlreadyExistsError(
          absl::StrCat("kappa new: ", dir, " exists and is not a directory; choose another path"));
    }
    if (!fs::is_empty(dir, ec) || ec) {
      return absl::AlreadyExistsError(
          absl::StrCat("kappa new: ", dir, " exists and is not empty; choose a new or empty directory"));
    }
  }

  const std::vector<std::pair<std::string, std::string>> vars = {
      {"@NAME@", name},
      // Spelled out here, not in the templates: tests/layering_test.py reads every
      // #include line of kappa/, and the templates' lines are the user's, not this layer's.
      {"@KAPPA_H@", "kappa/kappa.h"},
      {"@KAPPA_TESTING_H@", "kappa/testing.h"},
  };
  const std::vector<std::pair<std::string, const char*>> files = {
      {"CMakeLists.txt", kCMakeLists},      {"src/page_views.h", kJobHeader},
      {"src/page_views.cc", kJobSource},     {"src/main.cc", kMain},
      {"test/page_views_test.cc", kTest},    {"data/views.jsonl", kSampleInput},
      {"README.md", kReadme},                {".gitignore", kGitignore},
  };
  std::vector<std::string> written;
  for (const auto& [rel, text] : files) {
    KAPPA_RETURN_IF_ERROR(WriteFile(fs::path(dir) / rel, absl::StrReplaceAll(text, vars)));
    written.push_back(rel);
  }
  return written;
}

}  // namespace kappa::cli
