#include "kappa/runtime/internal/restore.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "kappa/runtime/sink.h"

namespace kappa::runtime::internal {
namespace {

using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::WriteStringToFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A job of a source and a keyed operator "count", as far as restore looks at it.
JobGraph Graph(const std::string& name = "job") {
  JobGraph g{.name = name};
  NodeSpec src;
  src.name = src.uid = "src";
  src.source = true;
  NodeSpec count;
  count.id = 1;
  count.name = count.uid = "count";
  count.keyed = true;
  g.nodes = {src, count};
  return g;
}

class RestoreTest : public ::testing::Test {
 protected:
  RestoreTest() { options_.checkpoint_dir = dir_.path(); }

  // Writes complete checkpoint `id` of job `job`, with state of operator `state_uid`.
  void Complete(int64_t id, const std::string& job = "job", int max_parallelism = 128,
                const std::string& state_uid = "count", bool final = false) {
    auto path = storage_.Begin(id);
    ASSERT_TRUE(path.ok()) << path.status();
    checkpoint::Manifest m;
    m.set_format_version(checkpoint::kFormatVersion);
    m.set_job_name(job);
    m.set_checkpoint_id(id);
    m.set_max_parallelism(max_parallelism);
    m.set_final(final);
    m.add_tasks()->set_operator_uid(state_uid);
    m.add_sources()->set_operator_uid(source_uid_);
    checkpoint::SinkPending* sink = m.add_sinks();
    sink->set_operator_uid("out");
    sink->add_files(absl::StrCat("/o/.part-", id));
    sink->add_published_names(absl::StrCat("/o/part-", id));
    ASSERT_TRUE(storage_.Commit(*path, m).ok());
  }

  ScopedTempDir dir_;
  std::string source_uid_ = "src";  // the source whose offsets Complete() records
  checkpoint::CheckpointStorage storage_{dir_.path()};
  ExecutionOptions options_;
};

TEST_F(RestoreTest, LatestRestoresTheNewestCompleteCheckpoint) {
  Complete(1);
  Complete(2);
  ASSERT_TRUE(storage_.Begin(3).ok());  // begun, never completed
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  ASSERT_TRUE(from->checkpoint.has_value());
  EXPECT_EQ(from->checkpoint->id, 2);
  ASSERT_EQ(from->skipped.size(), 1u);
  EXPECT_THAT(from->skipped[0], HasSubstr("never completed"));
  EXPECT_FALSE(from->already_finished());
}

TEST_F(RestoreTest, BrokenNewerCheckpointIsSkippedWithItsReason) {
  Complete(1);
  Complete(2);
  WriteStringToFile(storage_.PathFor(2) + "/MANIFEST", "not a manifest");
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(from->checkpoint->id, 1);
  ASSERT_EQ(from->skipped.size(), 1u);
  EXPECT_THAT(from->skipped[0], HasSubstr("chk-00000002"));
}

TEST_F(RestoreTest, OnlyBrokenCheckpointsFailTheStartRatherThanStartingOver) {
  Complete(1);
  WriteStringToFile(storage_.PathFor(1) + "/MANIFEST", "not a manifest");
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  EXPECT_EQ(from.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("use --fresh to start over"));
}

TEST_F(RestoreTest, OnlyUnfinishedCheckpointsStartFresh) {
  ASSERT_TRUE(storage_.Begin(1).ok());
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_FALSE(from->checkpoint.has_value());
}

TEST_F(RestoreTest, FreshIgnoresEveryCheckpoint) {
  Complete(1);
  options_.restore = ExecutionOptions::Restore::kFresh;
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_FALSE(from->checkpoint.has_value());
}

TEST_F(RestoreTest, NamedCheckpointIsRestoredOrTheStartFailsNamingIt) {
  Complete(1);
  Complete(2);
  options_.restore = ExecutionOptions::Restore::kPath;
  options_.restore_path = storage_.PathFor(1);
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(from->checkpoint->id, 1);

  options_.restore_path = dir_.path() + "/nope";
  from = ChooseCheckpoint(Graph(), options_, storage_);
  EXPECT_FALSE(from.ok());
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("cannot restore " + dir_.path() + "/nope: "));
}

TEST_F(RestoreTest, CheckpointOfAnotherJobOrKeyGroupCountOrOperatorIsRefused) {
  Complete(1, "other-job");
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  EXPECT_EQ(from.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("belongs to job 'other-job', not 'job'"));

  Complete(2, "job", 64);
  from = ChooseCheckpoint(Graph(), options_, storage_);
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("has 64 key groups, this run 128"));

  Complete(3, "job", 128, "count-v0");
  from = ChooseCheckpoint(Graph(), options_, storage_);
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("holds state of operator 'count-v0'"));
}

TEST_F(RestoreTest, SourceWithoutOffsetsInTheCheckpointIsRefusedUnlessAllowed) {
  source_uid_ = "src-v0";
  Complete(1);
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(Graph(), options_, storage_);
  EXPECT_EQ(from.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("no offsets for source 'src'"));
  EXPECT_THAT(std::string(from.status().message()), HasSubstr("--allow-new-sources"));

  options_.allow_new_sources = true;
  from = ChooseCheckpoint(Graph(), options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(from->checkpoint->id, 1);
}

// A sink node that records what RecoverSinks tells it.
struct RecordingSink {
  std::string checkpoint_dir;
  std::vector<std::string> pending;
  int64_t withdraw_after = -100;
};

JobGraph GraphWithSink(RecordingSink* rec) {
  JobGraph g = Graph();
  NodeSpec out;
  out.id = 2;
  out.name = out.uid = "out";
  out.enable_exactly_once = [rec](const ExactlyOnceContext& context) {
    rec->checkpoint_dir = context.checkpoint_dir;
    return absl::OkStatus();
  };
  out.recover = [rec](const std::vector<checkpoint::PendingFile>& files, int64_t restored) {
    for (const auto& f : files) rec->pending.push_back(f.published);
    rec->withdraw_after = restored;
    return absl::OkStatus();
  };
  g.nodes.push_back(out);
  return g;
}

TEST_F(RestoreTest, SinksRecoverTheirPendingFilesAndWithdrawLaterOutput) {
  Complete(4);
  RecordingSink rec;
  JobGraph g = GraphWithSink(&rec);
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(g, options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  ASSERT_TRUE(RecoverSinks(g, checkpoint::CheckpointStorage(dir_.path()), *from).ok());
  EXPECT_EQ(rec.checkpoint_dir, dir_.path());
  EXPECT_THAT(rec.pending, ElementsAre("/o/part-4"));
  EXPECT_EQ(rec.withdraw_after, 4);
}

TEST_F(RestoreTest, AfterAFinalCheckpointNothingIsWithdrawnAndTheRunIsFinished) {
  Complete(5, "job", 128, "count", /*final=*/true);
  RecordingSink rec;
  JobGraph g = GraphWithSink(&rec);
  absl::StatusOr<RestorePoint> from = ChooseCheckpoint(g, options_, storage_);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_TRUE(from->already_finished());
  ASSERT_TRUE(RecoverSinks(g, checkpoint::CheckpointStorage(dir_.path()), *from).ok());
  EXPECT_EQ(rec.withdraw_after, -1);
}

TEST_F(RestoreTest, FreshStartRecoversSinksWithNothingPending) {
  RecordingSink rec;
  JobGraph g = GraphWithSink(&rec);
  ASSERT_TRUE(RecoverSinks(g, checkpoint::CheckpointStorage(dir_.path()), RestorePoint()).ok());
  EXPECT_TRUE(rec.pending.empty());
  EXPECT_EQ(rec.withdraw_after, -1);
}

TEST_F(RestoreTest, CheckpointDirectoryIsCreatedAndProbedForWriting) {
  const std::string nested = dir_.path() + "/a/b/chk";
  auto storage = OpenCheckpointStorage(nested);
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ((*storage)->dir(), nested);
  EXPECT_TRUE(std::filesystem::is_directory(nested));
  // The write probe is removed; what remains is the run's claim on the directory.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(nested)) names.push_back(e.path().filename().string());
  EXPECT_THAT(names, ::testing::ElementsAre("OWNER"));
  ASSERT_NE((*storage)->claim(), nullptr);
  EXPECT_TRUE((*storage)->CheckOwner().ok());
  // A second open (a newer run) takes the directory over from the first.
  auto newer = OpenCheckpointStorage(nested);
  ASSERT_TRUE(newer.ok()) << newer.status();
  EXPECT_TRUE(checkpoint::IsFatal((*storage)->CheckOwner()));
  EXPECT_TRUE((*newer)->CheckOwner().ok());
}

}  // namespace
}  // namespace kappa::runtime::internal
