#include "kappa/cli/new_project.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"

namespace kappa::cli {
namespace {

using ::kappa::testing::ReadFileToString;
using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::WriteStringToFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProjectNameForTest, UsesTheDirectorysNameMadeSafeForCMakeAndFiles) {
  EXPECT_EQ(ProjectNameFor("views"), "views");
  EXPECT_EQ(ProjectNameFor("/tmp/My Page Views/"), "my-page-views");
  EXPECT_EQ(ProjectNameFor("work/clicks.v2"), "clicks-v2");
  EXPECT_EQ(ProjectNameFor("2024_jobs"), "job-2024_jobs");
  EXPECT_EQ(ProjectNameFor("+++"), "kappa-jobs");
}

TEST(WriteNewProjectTest, WritesEveryFileWithTheNameFilledIn) {
  ScopedTempDir tmp;
  std::string dir = tmp.Path("clicks");
  absl::StatusOr<std::vector<std::string>> files = WriteNewProject(dir, "");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre("CMakeLists.txt", "src/page_views.h", "src/page_views.cc", "src/main.cc",
                                  "test/page_views_test.cc", "data/views.jsonl", "README.md", ".gitignore"));
  for (const std::string& f : *files) {
    std::string text = ReadFileToString(dir + "/" + f);
    EXPECT_FALSE(text.empty()) << f;
    EXPECT_THAT(text, Not(HasSubstr("@NAME@"))) << f;
    EXPECT_THAT(text, Not(HasSubstr("@WINDOW@"))) << f;
    EXPECT_THAT(text, Not(HasSubstr("@ASSERT_OK@"))) << f;
    EXPECT_THAT(text, Not(HasSubstr("_H@"))) << f;
  }
  std::string cmake = ReadFileToString(dir + "/CMakeLists.txt");
  EXPECT_THAT(cmake, HasSubstr("project(clicks LANGUAGES CXX)"));
  EXPECT_THAT(cmake, HasSubstr("find_package(Kappa CONFIG REQUIRED)"));
  EXPECT_THAT(cmake, HasSubstr("Kappa::kappa"));
  EXPECT_THAT(cmake, HasSubstr("gtest_discover_tests(clicks_test)"));
  EXPECT_THAT(ReadFileToString(dir + "/src/main.cc"), HasSubstr("kappa::cli::Main(argc, argv, registry)"));
  EXPECT_THAT(ReadFileToString(dir + "/src/page_views.h"), HasSubstr("#include \"kappa/kappa.h\""));
  EXPECT_THAT(ReadFileToString(dir + "/test/page_views_test.cc"), HasSubstr("#include \"kappa/testing.h\""));
  EXPECT_THAT(ReadFileToString(dir + "/test/page_views_test.cc"), HasSubstr("kappa::testing::JobTester"));
  EXPECT_THAT(ReadFileToString(dir + "/README.md"), HasSubstr("ctest --test-dir build"));
}

TEST(WriteNewProjectTest, NameOptionNamesTheProjectAndBinary) {
  ScopedTempDir tmp;
  ASSERT_TRUE(WriteNewProject(tmp.Path("p"), "page_stats").ok());
  std::string cmake = ReadFileToString(tmp.Path("p") + "/CMakeLists.txt");
  EXPECT_THAT(cmake, HasSubstr("project(page_stats LANGUAGES CXX)"));
  EXPECT_THAT(cmake, HasSubstr("add_executable(page_stats src/main.cc)"));
}

TEST(WriteNewProjectTest, AnEmptyDirectoryIsUsed) {
  ScopedTempDir tmp;
  std::filesystem::create_directories(tmp.Path("empty"));
  EXPECT_TRUE(WriteNewProject(tmp.Path("empty"), "").ok());
  EXPECT_TRUE(std::filesystem::exists(tmp.Path("empty") + "/src/page_views.cc"));
}

TEST(WriteNewProjectTest, RefusesANonEmptyDirectoryAndLeavesItAlone) {
  ScopedTempDir tmp;
  std::filesystem::create_directories(tmp.Path("mine"));
  WriteStringToFile(tmp.Path("mine") + "/CMakeLists.txt", "mine\n");
  absl::StatusOr<std::vector<std::string>> files = WriteNewProject(tmp.Path("mine"), "");
  EXPECT_EQ(files.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(files.status().message()),
              HasSubstr("exists and is not empty; choose a new or empty directory"));
  EXPECT_EQ(ReadFileToString(tmp.Path("mine") + "/CMakeLists.txt"), "mine\n");
  EXPECT_FALSE(std::filesystem::exists(tmp.Path("mine") + "/src"));
}

TEST(WriteNewProjectTest, RefusesANameCMakeCannotUse) {
  ScopedTempDir tmp;
  absl::StatusOr<std::vector<std::string>> files = WriteNewProject(tmp.Path("x"), "my jobs");
  EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(files.status().message()), HasSubstr("--name 'my jobs' must start with a letter"));
  EXPECT_FALSE(std::filesystem::exists(tmp.Path("x")));
}

}  // namespace
}  // namespace kappa::cli
