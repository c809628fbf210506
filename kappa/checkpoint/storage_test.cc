#include "kappa/checkpoint/storage.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/checkpoint/checkpointing.h"

namespace kappa::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_chk_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  // A checkpoint with one task file of `content`.
  std::string Write(CheckpointStorage& s, int64_t id, const std::string& content) {
    std::string path = *s.Begin(id);
    fs::create_directories(path + "/tasks/t0");
    std::ofstream(path + "/tasks/t0/state") << content;
    Manifest m;
    m.set_format_version(kFormatVersion);
    m.set_job_name("job");
    m.set_checkpoint_id(id);
    TaskState* t = m.add_tasks();
    t->set_operator_uid("window");
    *t->add_files() = *DescribeFile(path, "tasks/t0/state");
    EXPECT_TRUE(s.Commit(path, m).ok());
    return path;
  }
  std::string dir_;
};

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(Crc32c(0, "12345"), "6789"), 0xE3069283u) << "incremental";
}

TEST_F(StorageTest, CommittedCheckpointLoadsWithItsManifest) {
  CheckpointStorage s(dir_);
  Write(s, 3, "state bytes");
  auto loaded = s.Load(s.PathFor(3));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->id, 3);
  EXPECT_EQ(loaded->manifest.tasks(0).operator_uid(), "window");
  EXPECT_FALSE(fs::exists(s.PathFor(3) + "/MANIFEST.tmp"));
}

TEST_F(StorageTest, CheckpointWithoutManifestIsIncomplete) {
  CheckpointStorage s(dir_);
  ASSERT_TRUE(s.Begin(1).ok());
  auto loaded = s.Load(s.PathFor(1));
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("never completed"));
}

TEST_F(StorageTest, CorruptManifestIsDetected) {
  CheckpointStorage s(dir_);
  std::string path = Write(s, 1, "x");
  std::ofstream(path + "/MANIFEST", std::ios::trunc) << "\xff\xff\xff garbage";
  auto loaded = s.Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(absl::IsDataLoss(loaded.status()));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("MANIFEST is corrupt"));
}

TEST_F(StorageTest, TruncatedStateFileIsDetected) {
  CheckpointStorage s(dir_);
  std::string path = Write(s, 1, "0123456789");
  fs::resize_file(path + "/tasks/t0/state", 4);
  auto loaded = s.Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("truncated"));
}

TEST_F(StorageTest, FlippedByteInStateFileFailsTheChecksum) {
  CheckpointStorage s(dir_);
  std::string path = Write(s, 1, "0123456789");
  {
    std::fstream f(path + "/tasks/t0/state", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5);
    f.put('X');
  }
  auto loaded = s.Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("checksum"));
}

TEST_F(StorageTest, MissingStateFileIsDetected) {
  CheckpointStorage s(dir_);
  std::string path = Write(s, 1, "x");
  fs::remove(path + "/tasks/t0/state");
  EXPECT_FALSE(s.Load(path).ok());
}

// A manifest's paths stay inside its checkpoint: one naming ../../dev/zero made Load read
// forever, one naming ../other the state of another directory.
TEST_F(StorageTest, ManifestNamingPathsOutsideTheCheckpointIsCorrupt) {
  CheckpointStorage s(dir_);
  std::string path = Write(s, 4, "state bytes");
  std::ofstream(dir_ + "/elsewhere") << "state bytes";
  auto loaded = s.Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Manifest good = loaded->manifest;
  for (const char* file : {"../elsewhere", "/dev/zero", "tasks/../../elsewhere", "tasks//t0/state", ""}) {
    SCOPED_TRACE(file);
    Manifest m = good;
    m.mutable_tasks(0)->mutable_files(0)->set_path(file);
    ASSERT_TRUE(s.Commit(path, m).ok());
    auto bad = s.Load(path);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(bad.status().message(), HasSubstr("not a file inside the checkpoint"));
  }
  for (const char* task_dir : {"..", "../..", "/tmp", "tasks/./t0"}) {
    SCOPED_TRACE(task_dir);
    Manifest m = good;
    m.mutable_tasks(0)->set_dir(task_dir);
    ASSERT_TRUE(s.Commit(path, m).ok());
    auto bad = s.Load(path);
    ASSERT_FALSE(bad.ok());
    EXPECT_THAT(bad.status().message(), HasSubstr("not a directory inside the checkpoint"));
  }
  Manifest m = good;
  m.mutable_tasks(0)->set_dir("tasks/t0");
  ASSERT_TRUE(s.Commit(path, m).ok());
  EXPECT_TRUE(s.Load(path).ok());
}

TEST_F(StorageTest, LatestValidSkipsBrokenNewerCheckpointsAndSaysWhy) {
  CheckpointStorage s(dir_);
  Write(s, 1, "one");
  Write(s, 2, "two");
  std::string broken = Write(s, 3, "three");
  fs::resize_file(broken + "/tasks/t0/state", 1);
  ASSERT_TRUE(s.Begin(4).ok());  // never completed
  std::vector<std::string> skipped;
  auto latest = s.LatestValid(&skipped);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->id, 2);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_THAT(skipped[0], HasSubstr("chk-00000004"));
  EXPECT_THAT(skipped[1], HasSubstr("chk-00000003"));
}

TEST_F(StorageTest, NoCheckpointIsNotFound) {
  CheckpointStorage s(dir_);
  EXPECT_TRUE(absl::IsNotFound(s.LatestValid(nullptr).status()));
}

TEST_F(StorageTest, RetainKeepsTheNewestKAndDropsAbandonedOnes) {
  CheckpointStorage s(dir_);
  for (int id = 1; id <= 5; ++id) Write(s, id, "s");
  ASSERT_TRUE(s.Begin(6).ok());  // in progress: newer than every complete one, kept
  ASSERT_TRUE(s.Retain(2).ok());
  EXPECT_THAT(s.ListIds(), ::testing::ElementsAre(4, 5, 6));
}

// A run claims its directory; a newer run's claim takes it over, and from then on every
// write of the older run's storage fails with one fatal line naming the newer run, and
// leaves the directory as the newer run made it.
TEST_F(StorageTest, ANewerClaimStopsEveryWriteOfTheOlderRun) {
  CheckpointStorage older(dir_);
  auto first = DirectoryClaim::Take(dir_);
  ASSERT_TRUE(first.ok()) << first.status();
  older.set_claim(*first);
  ASSERT_TRUE(older.CheckOwner().ok());
  Write(older, 1, "older");
  Write(older, 2, "older");

  CheckpointStorage newer(dir_);
  auto second = DirectoryClaim::Take(dir_);
  ASSERT_TRUE(second.ok()) << second.status();
  newer.set_claim(*second);
  EXPECT_NE((*first)->token(), (*second)->token());
  Write(newer, 3, "newer");

  absl::Status lost = older.CheckOwner();
  EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsFatal(lost)) << lost;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_THAT(std::string(lost.message()),
              HasSubstr(absl::StrCat(dir_, " was taken over by another run (pid ", getpid(), " on ", host, ", started ")));
  EXPECT_THAT(std::string(lost.message()), HasSubstr("); this run stops without writing to it"));
  EXPECT_THAT(std::string(lost.message()), ::testing::Not(HasSubstr("\n")));

  // Begin of the newer run's id would have removed its complete checkpoint.
  auto begun = older.Begin(3);
  EXPECT_TRUE(IsFatal(begun.status())) << begun.status();
  EXPECT_TRUE(older.Begin(4).status().code() == absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(older.PathFor(4)));
  Manifest m;
  m.set_format_version(kFormatVersion);
  m.set_job_name("job");
  m.set_checkpoint_id(3);
  EXPECT_TRUE(IsFatal(older.Commit(older.PathFor(3), m)));
  EXPECT_TRUE(IsFatal(older.Retain(1)));
  EXPECT_TRUE(IsFatal(older.CreateSavepoint("sp").status()));
  EXPECT_FALSE(fs::exists(dir_ + "/savepoints/sp"));
  EXPECT_THAT(older.ListIds(), ::testing::ElementsAre(1, 2, 3));
  auto latest = newer.LatestValid(nullptr);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->id, 3);

  // The newer run goes on writing.
  EXPECT_TRUE(newer.Retain(1).ok());
  EXPECT_THAT(newer.ListIds(), ::testing::ElementsAre(3));
  EXPECT_TRUE(newer.CreateSavepoint("sp").ok());
}

TEST_F(StorageTest, ARemovedClaimIsLostToo) {
  auto claim = DirectoryClaim::Take(dir_);
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_TRUE((*claim)->Check().ok());
  fs::remove(dir_ + "/OWNER");
  absl::Status lost = (*claim)->Check();
  EXPECT_TRUE(IsFatal(lost)) << lost;
  EXPECT_THAT(std::string(lost.message()), HasSubstr("this run stops without writing to it"));
}

// Storage without a claim (tools, tests) checks nothing, and a plain error is not fatal.
TEST_F(StorageTest, WithoutAClaimNothingIsChecked) {
  CheckpointStorage s(dir_);
  EXPECT_TRUE(s.CheckOwner().ok());
  Write(s, 1, "x");
  EXPECT_FALSE(IsFatal(absl::UnavailableError("disk full")));
  EXPECT_TRUE(IsFatal(MarkFatal(absl::UnavailableError("x"))));
  EXPECT_TRUE(MarkFatal(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace kappa::checkpoint
