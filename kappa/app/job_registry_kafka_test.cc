// JobContext's bindings of Kafka sinks, against the suite's real Kafka broker (CTest's
// kafka_broker fixture): the sinks connect while the job is built, before the bindings
// are checked.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/app/job_registry.h"
#include "kappa/base/file_test_util.h"
#include "kappa/testing/status_matchers.h"
#include "tests/kafka_cluster.h"

namespace kappa {
namespace {

using ::kappa::testing::StatusIs;
using ::testing::HasSubstr;

struct View {
  std::string user;
  std::string page;
  int64_t ts = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_JSON(kappa::View, user, page, ts);

namespace kappa {
namespace {

// Two sinks, as a job with a side output has: "output" and "late".
void BuildTwoSinks(JobContext& ctx) {
  Stream<View> views =
      ctx.Source<View>("views", WatermarkStrategy<View>::BoundedOutOfOrderness(0).WithTimestamp(&View::ts));
  ctx.Sink(views.Filter([](const View& v) { return !v.user.empty(); }, "signed-in"), "output");
  ctx.Sink(views.Filter([](const View& v) { return v.user.empty(); }, "anonymous"), "late");
}

// Exactly once, both sinks would stage into CHECKPOINT_DIR/kafka-sink/TOPIC/ and commit
// with the same transactional ids, fencing each other.
TEST(JobContextKafkaTest, KafkaTopicSharedByTwoSinksIsRefused) {
  const std::string bootstrap = kappa::testing::TestKafkaBootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = kappa::testing::UniqueTopicName("views");
  ASSERT_OK(kappa::testing::CreateTopic(bootstrap, topic, 1));
  ::kappa::testing::ScopedTempDir dir;
  ::kappa::testing::WriteStringToFile(dir.Path("views.jsonl"), R"({"user":"ann","page":"/a","ts":1000})" "\n");
  JobBindings bindings;
  bindings.default_source = "file:" + dir.Path("views.jsonl");
  bindings.kafka.bootstrap = bootstrap;
  bindings.sinks["output"] = "kafka:" + topic;
  bindings.sinks["late"] = absl::StrCat("kafka://", bootstrap, "/", topic, "?delivery=at-least-once");
  auto job = Job::Create("views");
  JobContext ctx(job.get(), bindings);
  BuildTwoSinks(ctx);
  ASSERT_OK(job->status());
  EXPECT_THAT(ctx.CheckBindings(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("bind each its own: --sink late=kafka://", bootstrap, "/", topic,
                                              "-late?delivery=at-least-once"))));
}

}  // namespace
}  // namespace kappa
