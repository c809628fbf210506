// Tests of the Kafka connectors against a real Apache Kafka broker (the kafka_broker
// fixture's, tests/kafka_cluster.h): offset lookups, the source's partitions, offsets and
// bounds, the sink's keys, timestamps and headers, and the transactional committer: its
// proof in Kafka, fencing, and the refusal to rewind. Only what is about librdkafka's mock
// cluster (the embedded one) runs on the mock.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/connectors.h"
#include "kappa/base/file_test_util.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/connectors/kafka/kafka_sink.h"
#include "kappa/connectors/kafka/kafka_source.h"
#include "kappa/api/job.h"
#include "kappa/base/json_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kafka_cluster.h"

namespace kappa::connectors::kafka::test {
struct Msg {
  int64_t id = 0;
  int64_t ts = 0;
  std::string tag;
  friend bool operator==(const Msg&, const Msg&) = default;
};
}  // namespace kappa::connectors::kafka::test
KAPPA_JSON(kappa::connectors::kafka::test::Msg, id, ts, tag);

namespace kappa::connectors::kafka::test {
namespace {

using ::kappa::testing::ScopedTempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// Tests that work with any cluster; KafkaTest runs them on the real broker.
class KafkaTestBase : public ::testing::Test {
 protected:
  KafkaEndpoint Endpoint(const std::string& topic, const std::string& query = "") {
    auto uri = ParseUri(absl::StrCat("kafka:", topic, query.empty() ? "" : "?", query));
    EXPECT_TRUE(uri.ok());
    auto e = ParseEndpoint(*uri, settings_, {"start", "end", "group", "key", "header.", "delivery", "on-rewind"});
    EXPECT_TRUE(e.ok()) << e.status();
    return *e;
  }

  // Produces msgs[p] to partition p with message timestamp = Msg::ts.
  void ProduceTo(const std::string& topic, const std::vector<std::vector<Msg>>& msgs) {
    auto rk = NewClient(RD_KAFKA_PRODUCER, Endpoint(topic), {});
    ASSERT_TRUE(rk.ok());
    for (size_t p = 0; p < msgs.size(); ++p) {
      for (const Msg& m : msgs[p]) {
        std::string v;
        JsonCodec<Msg>().Encode(m, &v);
        ASSERT_EQ(rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(v.data(), v.size()),
                                    RD_KAFKA_V_TIMESTAMP(m.ts), RD_KAFKA_V_END),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
      }
    }
    ASSERT_EQ(rd_kafka_flush(rk->get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  std::vector<Msg> Run(const std::string& uri, int parallelism, SourceOptions options = {}) {
    options.kafka = settings_;
    auto src = MakeSource<Msg>(uri, options);
    EXPECT_TRUE(src.ok()) << src.status();
    if (!src.ok()) return {};
    auto out = std::make_shared<CollectSink<Msg>>();
    auto job = Job::Create("kafka-test");
    job->Source<Msg>("in", *src,
                     WatermarkStrategy<Msg>::BoundedOutOfOrderness(0).WithTimestamp([](const Msg& m) { return m.ts; }))
        .SinkTo(out);
    ExecutionOptions opt;
    opt.parallelism = parallelism;
    auto result = job->Execute(opt);
    EXPECT_TRUE(result.ok()) << result.status();
    return out->values();
  }

  KafkaSettings settings_;
};

class KafkaTest : public KafkaTestBase {
 protected:
  void SetUp() override {
    bootstrap_ = testing::TestKafkaBootstrap();
    ASSERT_FALSE(bootstrap_.empty());
    settings_.bootstrap = bootstrap_;
  }

  // A new topic of this test (the cluster is shared).
  std::string Topic(const std::string& prefix, int partitions) {
    std::string topic = testing::UniqueTopicName(prefix);
    absl::Status s = testing::CreateTopic(bootstrap_, topic, partitions);
    EXPECT_TRUE(s.ok()) << s;
    return topic;
  }

  // read_committed values of `topic`.
  std::vector<std::string> Committed(const std::string& topic) {
    auto values = testing::ReadTopicValues(bootstrap_, topic);
    EXPECT_TRUE(values.ok()) << values.status();
    return values.ok() ? *values : std::vector<std::string>{};
  }

  std::string bootstrap_;
};

// librdkafka's mock cluster, for what is about it.
class MockKafkaTest : public KafkaTestBase {
 protected:
  void SetUp() override {
    auto c = EmbeddedCluster::Start(1);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    settings_.bootstrap = cluster_->bootstrap();
  }
  std::unique_ptr<EmbeddedCluster> cluster_;
};

std::vector<std::vector<Msg>> Data(int partitions, int per_partition) {
  std::vector<std::vector<Msg>> data(partitions);
  for (int p = 0; p < partitions; ++p) {
    for (int i = 0; i < per_partition; ++i) data[p].push_back(Msg{p * 1000 + i, 1000 + i * 10, "p"});
  }
  return data;
}

std::vector<Msg> Flatten(const std::vector<std::vector<Msg>>& data, size_t from = 0, size_t to = SIZE_MAX) {
  std::vector<Msg> all;
  for (const auto& part : data) {
    for (size_t i = from; i < std::min(to, part.size()); ++i) all.push_back(part[i]);
  }
  return all;
}

TEST_F(KafkaTest, BoundedSourceReadsEveryPartitionOnceAtAnyParallelism) {
  const std::string in = Topic("in", 4);
  auto data = Data(4, 50);
  ProduceTo(in, data);
  for (int p : {1, 2, 3}) {
    EXPECT_THAT(Run(absl::StrCat("kafka:", in, "?end=end"), p), UnorderedElementsAreArray(Flatten(data)))
        << "parallelism " << p;
  }
}

TEST_F(KafkaTest, StartAndEndOffsetsBoundEachPartition) {
  const std::string in = Topic("in", 2);
  auto data = Data(2, 20);
  ProduceTo(in, data);
  std::vector<Msg> want;
  for (int i = 5; i < 12; ++i) want.push_back(data[0][i]);
  for (int i = 3; i < 20; ++i) want.push_back(data[1][i]);
  EXPECT_THAT(Run(absl::StrCat("kafka:", in, "?start=offsets:0=5,1=3&end=offsets:0=12,1=20"), 1),
              UnorderedElementsAreArray(want));
}

TEST_F(KafkaTest, ReplayOverridesOfTheUriApply) {
  const std::string in = Topic("in", 2);
  auto data = Data(2, 20);
  ProduceTo(in, data);
  SourceOptions o;
  o.start = "offsets:0=10,1=10";
  o.end = "end";
  EXPECT_THAT(Run(absl::StrCat("kafka:", in, "?start=earliest"), 2, o), UnorderedElementsAreArray(Flatten(data, 10)));
}

// The fallback is for brokers without a time index; the mock cluster is one (it answers -1
// for every real timestamp).
TEST_F(MockKafkaTest, TimestampLookupFallsBackToSearchingWhenTheBrokerCannotAnswer) {
  ASSERT_TRUE(cluster_->CreateTopic("in", 1).ok());
  auto data = Data(1, 100);  // ts = 1000 + 10 i
  ProduceTo("in", data);
  auto rk = NewClient(RD_KAFKA_CONSUMER, Endpoint("in"), {{"group.id", "t"}, {"fetch.wait.max.ms", "10"}});
  ASSERT_TRUE(rk.ok());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, "in", 0)->offset = 1500;
  rd_kafka_offsets_for_times(rk->get(), parts, 5000);
  int64_t broker_answer = parts->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(parts);
  EXPECT_EQ(broker_answer, -1);

  for (int64_t ts : {0, 1000, 1001, 1500, 1505, 1990, 1991, 5000}) {
    int64_t want = 0;
    while (want < 100 && data[0][want].ts < ts) ++want;
    auto got = OffsetForTime(rk->get(), "in", 0, ts);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want) << "ts " << ts;
  }
}

// A real broker answers from its time index: offsets_for_times itself gives the offset
// that OffsetForTime returns, and the search agrees.
TEST_F(KafkaTest, TimestampLookupIsTheBrokersAnswer) {
  const std::string in = Topic("in", 1);
  auto data = Data(1, 100);  // ts = 1000 + 10 i
  ProduceTo(in, data);
  auto rk = NewClient(RD_KAFKA_CONSUMER, Endpoint(in), {{"group.id", "t"}, {"fetch.wait.max.ms", "10"}});
  ASSERT_TRUE(rk.ok());
  for (int64_t ts : {0, 1000, 1001, 1500, 1505, 1990}) {
    int64_t want = 0;
    while (want < 100 && data[0][want].ts < ts) ++want;
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, in.c_str(), 0)->offset = ts;
    ASSERT_EQ(rd_kafka_offsets_for_times(rk->get(), parts, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t broker_answer = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    EXPECT_EQ(broker_answer, want) << "ts " << ts;
    auto got = OffsetForTime(rk->get(), in, 0, ts);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want) << "ts " << ts;
    auto searched = OffsetForTimeBySearch(rk->get(), in, 0, ts);
    ASSERT_TRUE(searched.ok()) << searched.status();
    EXPECT_EQ(*searched, want) << "ts " << ts;
  }
  // After the newest message: the broker says "none" (-1), which is the end of the log.
  auto after = OffsetForTime(rk->get(), in, 0, 5000);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, 100);
}

TEST_F(KafkaTest, StartAtTimestampReadsFromTheFirstRecordAtOrAfterIt) {
  const std::string in = Topic("in", 3);
  auto data = Data(3, 40);
  ProduceTo(in, data);
  EXPECT_THAT(Run(absl::StrCat("kafka:", in, "?start=ts:1200&end=end"), 2), UnorderedElementsAreArray(Flatten(data, 20)));
}

TEST_F(KafkaTest, MissingTopicAndUnreachableBrokersAreClearErrors) {
  const std::string nosuch = testing::UniqueTopicName("nosuch");
  auto missing = MakeSource<Msg>(absl::StrCat("kafka:", nosuch), {.kafka = settings_});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(absl::StrCat("topic '", nosuch, "' does not exist")));

  SourceOptions far;
  far.kafka.bootstrap = "127.0.0.1:1";  // nothing listens there
  far.kafka.timeout_ms = 1500;
  auto down = MakeSource<Msg>("kafka:in", far);
  ASSERT_FALSE(down.ok());
  EXPECT_THAT(std::string(down.status().message()), HasSubstr("cannot reach Kafka at 127.0.0.1:1"));

  auto no_cluster = MakeSource<Msg>("kafka:in", {});
  ASSERT_FALSE(no_cluster.ok());
  EXPECT_THAT(std::string(no_cluster.status().message()), HasSubstr("--kafka"));

  auto bad_param = MakeSource<Msg>("kafka:in?strat=earliest", {.kafka = settings_});
  ASSERT_FALSE(bad_param.ok());
  EXPECT_THAT(std::string(bad_param.status().message()), HasSubstr("unknown parameter 'strat'"));

  auto bad_start = MakeSource<Msg>("kafka:in?start=yesterday", {.kafka = settings_});
  ASSERT_FALSE(bad_start.ok());
  EXPECT_THAT(std::string(bad_start.status().message()), HasSubstr("unknown position"));

  const std::string out = Topic("out", 1);
  auto bad_rewind = MakeSink<Msg>(absl::StrCat("kafka:", out, "?on-rewind=ignore"), {.kafka = settings_});
  ASSERT_FALSE(bad_rewind.ok());
  EXPECT_THAT(std::string(bad_rewind.status().message()),
              HasSubstr("on-rewind must be refuse (the default) or duplicate, not 'ignore'"));
}

TEST_F(KafkaTest, MalformedMessagesGoToTheErrorsOutputWithTheirOffset) {
  const std::string in = Topic("in", 1);
  auto rk = NewClient(RD_KAFKA_PRODUCER, Endpoint(in), {});
  ASSERT_TRUE(rk.ok());
  for (std::string v : {R"({"id":1,"ts":5,"tag":"a"})", R"({"id":"two"})", R"(not json)", R"({"id":3,"ts":6,"tag":"c"})"}) {
    rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(in.c_str()), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(v.data(), v.size()), RD_KAFKA_V_END);
  }
  ASSERT_EQ(rd_kafka_flush(rk->get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto src = MakeSource<Msg>(absl::StrCat("kafka:", in, "?end=end"), {.kafka = settings_});
  ASSERT_TRUE(src.ok());
  auto out = std::make_shared<CollectSink<Msg>>();
  auto job = Job::Create("bad");
  job->Source<Msg>("in", *src, WatermarkStrategy<Msg>::BoundedOutOfOrderness(0).WithTimestamp([](const Msg& m) {
                     return m.ts;
                   })).SinkTo(out);
  ScopedTempDir dir;
  auto w = FileWriter::Open(dir.path() + "/errors", FileWriter::Mode::kTruncate);
  ASSERT_TRUE(w.ok());
  ErrorSink errors(std::move(*w));
  ExecutionOptions opt;
  opt.errors = &errors;
  ASSERT_TRUE(job->Execute(opt).ok());
  ASSERT_TRUE(errors.Flush().ok());
  EXPECT_THAT(out->values(), UnorderedElementsAreArray({Msg{1, 5, "a"}, Msg{3, 6, "c"}}));
  EXPECT_EQ(errors.decode_errors(), 2);
  std::string text = testing::ReadFileToString(dir.path() + "/errors");
  EXPECT_THAT(text, HasSubstr(R"("offset":1)"));
  EXPECT_THAT(text, HasSubstr(R"("offset":2)"));
}

TEST_F(KafkaTest, SinkWritesKeysEventTimestampsAndHeaders) {
  const std::string out = Topic("out", 2);
  auto sink = MakeSink<Msg>(absl::StrCat("kafka:", out, "?key=tag,id&header.source=kappa"), {.kafka = settings_});
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto writer = sink->sink->CreateWriter(0, 1);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*writer)->Write(Record<Msg>{Msg{i, 5000 + i, "k"}, 7000 + i, 0}).ok());
  ASSERT_TRUE((*writer)->Close().ok());

  auto records = testing::ReadTopicRecords(bootstrap_, out);
  ASSERT_TRUE(records.ok()) << records.status();
  std::map<std::string, int64_t> ts_by_key;
  int headers_seen = 0;
  for (const auto& r : *records) {
    ts_by_key[r.key] = r.timestamp;
    for (const auto& [name, value] : r.headers) headers_seen += name == "source" && value == "kappa";
  }
  ASSERT_EQ(ts_by_key.size(), 10u);
  EXPECT_EQ(ts_by_key["k|3"], 7003);  // the record's event time, not the wall clock
  EXPECT_EQ(headers_seen, 10);
}

// Stages `values` for checkpoint `id` (kFinalId: the final epoch) in `stage`.
std::string Stage(StagingFile& stage, const std::vector<std::string>& values, int64_t id) {
  for (const auto& v : values) EXPECT_TRUE(stage.Append(v, "", 100).ok());
  auto sealed = stage.Seal(id);
  EXPECT_TRUE(sealed.ok()) << sealed.status();
  return sealed.ok() ? *sealed : "";
}

std::vector<std::string> Values(const std::string& prefix, int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(absl::StrCat("{\"", prefix, "\":", i, "}"));
  return v;
}

TEST_F(KafkaTest, CommitterCommitsEachStagedFileOnce) {
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  std::string sealed7 = Stage(stage, Values("n", 0, 5), 7);
  EXPECT_EQ(sealed7, StagedName(dir.path(), 0, 7));
  std::string sealed8 = Stage(stage, Values("n", 5, 8), 8);
  const std::string prefix = testing::UniqueTopicName("tx");
  {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Commit({{sealed7, "out@7"}}).ok());
    ASSERT_TRUE(committer.Commit({{sealed7, "out@7"}}).ok());  // again: nothing more
  }
  EXPECT_EQ(Committed(out).size(), 5u);

  // A new committer (a restarted run) recovers checkpoint 8's pending file and skips 7.
  {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Recover({{sealed7, "out@7"}, {sealed8, "out@8"}}, 8).ok());
  }
  EXPECT_THAT(Committed(out), UnorderedElementsAreArray(Values("n", 0, 8)));
}

// The group the proof is committed to: its metadata names the lineage and the checkpoint.
TEST_F(KafkaTest, EachTransactionCarriesItsProofAsTheGroupsCommittedOffset) {
  const std::string out = Topic("out", 2);
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 1);
  std::string sealed = Stage(stage, Values("n", 0, 3), 4);
  const std::string prefix = testing::UniqueTopicName("tx");
  TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
  EXPECT_EQ(committer.ProofGroup(1), prefix + "-1");
  ASSERT_TRUE(committer.Commit({{sealed, "out@4"}}).ok());
  auto proof = ReadCommittedOffset(Endpoint(out), prefix + "-1", 0);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->offset, 0);
  std::string lineage = testing::ReadFileToString(dir.path() + "/lineage");
  ASSERT_EQ(lineage.size(), 33u);
  EXPECT_EQ(proof->metadata, absl::StrCat("kappa-sink v1 lineage=", lineage.substr(0, 32), " checkpoint=4"));
}

// The crash window: Kafka committed the transaction, the process died before it recorded
// anything locally (the staged file is still there, committed-SSS missing or stale).
TEST_F(KafkaTest, OutputKafkaCommittedIsNotProducedAgainAfterTheLocalRecordIsLost) {
  namespace fs = std::filesystem;
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  std::string sealed3 = Stage(stage, Values("n", 0, 4), 3);
  std::string sealed5 = Stage(stage, Values("n", 4, 10), 5);
  const std::string prefix = testing::UniqueTopicName("tx");
  const std::string backup = dir.path() + "/backup";
  fs::copy_file(sealed5, backup);
  {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Commit({{sealed3, "out@3"}}).ok());
    ASSERT_TRUE(committer.Commit({{sealed5, "out@5"}}).ok());
  }
  ASSERT_EQ(Committed(out).size(), 10u);
  for (const std::string record : {"", "3\n"}) {  // the local record missing, then stale
    // As if the process died right after Kafka's commit of checkpoint 5.
    fs::copy_file(backup, sealed5, fs::copy_options::overwrite_existing);
    fs::remove(dir.path() + "/committed-000");
    if (!record.empty()) {
      auto f = FileWriter::Open(dir.path() + "/committed-000", FileWriter::Mode::kTruncate);
      ASSERT_TRUE(f.ok());
      ASSERT_TRUE((*f)->Append(record).ok());
      ASSERT_TRUE((*f)->Close().ok());
    }
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Recover({{sealed5, "out@5"}}, 5).ok());
    EXPECT_FALSE(fs::exists(sealed5));
    EXPECT_THAT(Committed(out), UnorderedElementsAreArray(Values("n", 0, 10))) << "record '" << record << "'";
  }
}

// The same window for the final epoch, whose proof is its file's token.
TEST_F(KafkaTest, FinalEpochKafkaCommittedIsNotProducedAgainAfterACrash) {
  namespace fs = std::filesystem;
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  std::string sealed2 = Stage(stage, Values("n", 0, 2), 2);
  std::string final_file = Stage(stage, Values("f", 0, 3), kFinalId);
  EXPECT_EQ(final_file, StagedName(dir.path(), 0, kFinalId));
  const std::string prefix = testing::UniqueTopicName("tx");
  const std::string backup = dir.path() + "/backup";
  fs::copy_file(final_file, backup);
  {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Commit({{sealed2, "out@2"}}).ok());
    ASSERT_TRUE(committer.Commit({{final_file, "out@final"}}).ok());
  }
  fs::copy_file(backup, final_file);
  fs::remove(dir.path() + "/committed-000");
  {
    // Restoring the final checkpoint (the run had finished): nothing to withdraw.
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Recover({{final_file, "out@final"}}, -1).ok());
  }
  std::vector<std::string> want = Values("n", 0, 2);
  for (auto& v : Values("f", 0, 3)) want.push_back(v);
  EXPECT_THAT(Committed(out), UnorderedElementsAreArray(want));
}

// A deleted checkpoint directory writing to a reused topic is a new lineage: its
// checkpoint 1 is not "already committed" because the old directory's checkpoint 9 was.
TEST_F(KafkaTest, ANewCheckpointDirectoryIsANewLineage) {
  const std::string out = Topic("out", 1);
  const std::string prefix = testing::UniqueTopicName("tx");
  for (int run = 0; run < 2; ++run) {
    ScopedTempDir dir;
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Recover({}, -1).ok());
    StagingFile stage(dir.path(), 0);
    std::string sealed = Stage(stage, Values(absl::StrCat("run", run), 0, 3), run == 0 ? 9 : 1);
    absl::Status s = committer.Commit({{sealed, "out@n"}});
    ASSERT_TRUE(s.ok()) << s;
  }
  std::vector<std::string> want = Values("run0", 0, 3);
  for (auto& v : Values("run1", 0, 3)) want.push_back(v);
  EXPECT_THAT(Committed(out), UnorderedElementsAreArray(want));
}

// Fencing on the broker: a second producer with the same transactional id takes over; the
// first one's open transaction is aborted and its commit fails with one clear line.
TEST_F(KafkaTest, AnOlderProducerIsFencedByANewerOneWithTheSameTransactionalId) {
  const std::string out = Topic("out", 1);
  const std::string id = testing::UniqueTopicName("tx");
  auto older = Producer::Open(Endpoint(out), id);
  ASSERT_TRUE(older.ok()) << older.status();
  ASSERT_TRUE((*older)->Begin().ok());
  ASSERT_TRUE((*older)->Produce("{\"by\":\"older\"}", "", 1).ok());
  ASSERT_TRUE((*older)->Flush(10000).ok());

  auto newer = Producer::Open(Endpoint(out), id);
  ASSERT_TRUE(newer.ok()) << newer.status();
  ASSERT_TRUE((*newer)->Begin().ok());
  ASSERT_TRUE((*newer)->Produce("{\"by\":\"newer\"}", "", 2).ok());
  ASSERT_TRUE((*newer)->Commit(30000).ok());

  absl::Status fenced = (*older)->Produce("{\"by\":\"older\"}", "", 3);
  if (fenced.ok()) fenced = (*older)->Commit(30000);
  ASSERT_FALSE(fenced.ok());
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  EXPECT_THAT(std::string(fenced.message()), Not(HasSubstr("\n")));
  EXPECT_THAT(Committed(out), UnorderedElementsAreArray({"{\"by\":\"newer\"}"}));
}

// A fenced committer stops for good: its commit fails with one fatal line naming the
// transactional id, the staged file stays, and no later Commit or Recover opens a new
// producer with the id (that would fence the newer one and commit this output again).
TEST_F(KafkaTest, AFencedCommitterIsFatalAndNeverTakesItsIdBack) {
  namespace fs = std::filesystem;
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  std::string first = Stage(stage, Values("n", 0, 1), 3);
  std::string second = Stage(stage, Values("n", 1, 2), 4);
  std::string third = Stage(stage, Values("n", 2, 3), 5);
  const std::string prefix = testing::UniqueTopicName("tx");
  TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
  ASSERT_TRUE(committer.Commit({{first, "out@3"}}).ok());

  auto usurper = Producer::Open(Endpoint(out), committer.ProofGroup(0));
  ASSERT_TRUE(usurper.ok()) << usurper.status();
  absl::Status fenced = committer.Commit({{second, "out@4"}});
  ASSERT_FALSE(fenced.ok());
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  EXPECT_TRUE(checkpoint::IsFatal(fenced)) << fenced;
  EXPECT_EQ(std::string(fenced.message()),
            absl::StrCat(Endpoint(out).Describe(), ": fenced: another process took over transactional id ", prefix,
                         "-0 (a newer run of this job); this run stops and commits nothing more"));
  EXPECT_TRUE(fs::exists(second));

  absl::Status again = committer.Commit({{third, "out@5"}});
  EXPECT_EQ(again.message(), fenced.message());
  EXPECT_TRUE(checkpoint::IsFatal(again));
  EXPECT_EQ(committer.Recover({{third, "out@5"}}, 5).message(), fenced.message());
  EXPECT_TRUE(fs::exists(second));
  EXPECT_TRUE(fs::exists(third));
  // The usurper still holds the id: the committer did not fence it back.
  ASSERT_TRUE((*usurper)->Begin().ok());
  ASSERT_TRUE((*usurper)->Produce("{\"by\":\"usurper\"}", "", 9).ok());
  ASSERT_TRUE((*usurper)->Commit(30000).ok());
  std::vector<std::string> want = Values("n", 0, 1);
  want.push_back("{\"by\":\"usurper\"}");
  EXPECT_THAT(Committed(out), UnorderedElementsAreArray(want));
}

// A committer whose run lost its checkpoint directory commits nothing and opens no
// producer: the newer run's producer, mid-transaction, is not fenced.
TEST_F(KafkaTest, ACommitterThatLostItsDirectoryOpensNoProducer) {
  namespace fs = std::filesystem;
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  std::string staged = Stage(stage, Values("n", 0, 2), 3);
  const std::string prefix = testing::UniqueTopicName("tx");
  TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
  const absl::Status lost = checkpoint::MarkFatal(absl::FailedPreconditionError("DIR was taken over"));
  committer.set_check_owner([lost] { return lost; });

  auto newer = Producer::Open(Endpoint(out), committer.ProofGroup(0));
  ASSERT_TRUE(newer.ok()) << newer.status();
  ASSERT_TRUE((*newer)->Begin().ok());
  ASSERT_TRUE((*newer)->Produce("{\"by\":\"newer\"}", "", 1).ok());
  absl::Status s = committer.Commit({{staged, "out@3"}});
  EXPECT_EQ(s.message(), "DIR was taken over");
  EXPECT_TRUE(checkpoint::IsFatal(s));
  EXPECT_EQ(committer.Recover({{staged, "out@3"}}, 3).message(), "DIR was taken over");
  EXPECT_TRUE(fs::exists(staged));
  ASSERT_TRUE((*newer)->Commit(30000).ok());
  EXPECT_THAT(Committed(out), UnorderedElementsAreArray({"{\"by\":\"newer\"}"}));

  // A staging file checks too: nothing new is created or sealed.
  StagingFile zombie(dir.path(), 1);
  zombie.set_check_owner([lost] { return lost; });
  EXPECT_TRUE(checkpoint::IsFatal(zombie.Append("{}", "", 1)));
  EXPECT_FALSE(fs::exists(StagedName(dir.path(), 1, 4)));
}

// A run's final epoch is committed once; a later run in the same checkpoint directory (a
// fresh start) commits its own final epoch rather than finding it "already committed".
TEST_F(KafkaTest, EachRunCommitsItsOwnFinalEpoch) {
  const std::string out = Topic("out", 1);
  const std::string prefix = testing::UniqueTopicName("tx");
  ScopedTempDir dir;
  for (int run = 0; run < 2; ++run) {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Recover({}, -1).ok());
    StagingFile stage(dir.path(), 0);
    std::string checkpointed = Stage(stage, {absl::StrCat("{\"run\":", run, "}")}, 10 + run);
    ASSERT_TRUE(committer.Commit({{checkpointed, "out@n"}}).ok());
    std::string final_file = Stage(stage, {absl::StrCat("{\"final\":", run, "}")}, kFinalId);
    const std::string published = absl::StrCat("out@final#", stage.token());
    ASSERT_TRUE(committer.Commit({{final_file, published}}).ok());
    EXPECT_FALSE(std::filesystem::exists(final_file));
    ASSERT_TRUE(committer.Commit({{final_file, published}}).ok());  // restoring the final checkpoint
  }
  EXPECT_THAT(Committed(out),
              UnorderedElementsAreArray({"{\"run\":0}", "{\"final\":0}", "{\"run\":1}", "{\"final\":1}"}));
}

TEST_F(KafkaTest, MissingStagedFileIsDataLossNamingIt) {
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  TransactionCommitter committer(Endpoint(out), dir.path(), testing::UniqueTopicName("tx"));
  absl::Status s = committer.Commit({{StagedName(dir.path(), 2, 5), "out@5"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("checkpoint 5"));
}

// The embedded cluster (the demo, `kappa broker`, --kafka embedded) runs the same
// committer. librdkafka's mock keeps no offsets committed in transactions, so there is no
// proof to read: the local record decides, as it did before transactions carried proofs.
TEST_F(MockKafkaTest, CommitterWorksOnTheEmbeddedClusterWhichKeepsNoProof) {
  ASSERT_TRUE(cluster_->CreateTopic("out", 2).ok());
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  std::string sealed = Stage(stage, Values("n", 0, 3), 1);
  std::filesystem::copy_file(sealed, dir.path() + "/backup");
  {
    TransactionCommitter committer(Endpoint("out"), dir.path(), "mock-tx");
    ASSERT_TRUE(committer.Commit({{sealed, "out@1"}}).ok());
  }
  auto proof = ReadCommittedOffset(Endpoint("out"), "mock-tx-0", 0);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_LT(proof->offset, 0);
  // The staged file outlived the commit; the local record says checkpoint 1 is committed.
  std::filesystem::rename(dir.path() + "/backup", sealed);
  {
    TransactionCommitter committer(Endpoint("out"), dir.path(), "mock-tx");
    absl::Status s = committer.Recover({{sealed, "out@1"}}, 1);
    ASSERT_TRUE(s.ok()) << s;
  }
  auto read = ReadTopic(Endpoint("out"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, UnorderedElementsAreArray(Values("n", 0, 3)));
}

// Restoring checkpoint 2 after Kafka committed checkpoint 3's output: refused with one line
// unless the sink says on-rewind=duplicate.
TEST_F(KafkaTest, RecoveryRefusesToRewindBehindCommittedOutput) {
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  const std::string prefix = testing::UniqueTopicName("tx");
  {
    StagingFile stage(dir.path(), 0);
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    for (int id = 1; id <= 3; ++id) {
      ASSERT_TRUE(committer.Commit({{Stage(stage, Values("n", id * 10, id * 10 + 2), id), "out@n"}}).ok());
    }
  }
  {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    absl::Status s = committer.Recover({}, 2);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\n")));
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(absl::StrCat("kafka://", bootstrap_, "/", out, " already holds the output of checkpoint 3")));
    EXPECT_THAT(std::string(s.message()), HasSubstr("restores the older checkpoint 2"));
    EXPECT_THAT(std::string(s.message()), HasSubstr("restore checkpoint 3 or newer, write to a new topic, or add "
                                                    "on-rewind=duplicate"));
  }
  {
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    EXPECT_TRUE(committer.Recover({}, 3).ok());
  }
  {
    TransactionCommitter committer(Endpoint(out, "on-rewind=duplicate"), dir.path(), prefix);
    EXPECT_TRUE(committer.Recover({}, 2).ok());
  }
  EXPECT_EQ(Committed(out).size(), 6u);
}

// A finished run's final epoch came after its last checkpoint: restoring that checkpoint
// would write the final output again.
TEST_F(KafkaTest, RecoveryRefusesToRewindBehindAFinishedRunsFinalOutput) {
  const std::string out = Topic("out", 1);
  ScopedTempDir dir;
  const std::string prefix = testing::UniqueTopicName("tx");
  {
    StagingFile stage(dir.path(), 0);
    TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
    ASSERT_TRUE(committer.Commit({{Stage(stage, Values("n", 0, 2), 4), "out@4"}}).ok());
    ASSERT_TRUE(stage.Seal(5).ok());  // checkpoint 5: nothing new from this instance
    std::string final_file = Stage(stage, Values("f", 0, 2), kFinalId);
    ASSERT_TRUE(committer.Commit({{final_file, absl::StrCat("out@final#", stage.token())}}).ok());
  }
  TransactionCommitter committer(Endpoint(out), dir.path(), prefix);
  absl::Status s = committer.Recover({}, 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("already holds the final output of a finished run, after checkpoint 5"));
  EXPECT_EQ(Committed(out).size(), 4u);
}

// A savepoint restored into a new checkpoint directory lists files staged in the old one:
// that directory's lineage says what Kafka has (not "missing"), and a rewind behind output
// the old run committed after the savepoint is refused there too.
TEST_F(KafkaTest, ASavepointInANewCheckpointDirectoryKnowsWhatItsRunCommitted) {
  const std::string out = Topic("out", 1);
  const std::string prefix = testing::UniqueTopicName("tx");
  ScopedTempDir old_dir, new_dir, newer_dir;
  StagingFile stage(old_dir.path(), 0);
  std::string sealed2;
  {
    TransactionCommitter committer(Endpoint(out), old_dir.path(), prefix);
    ASSERT_TRUE(committer.Commit({{Stage(stage, Values("n", 0, 2), 1), "out@1"}}).ok());
    sealed2 = Stage(stage, Values("n", 2, 4), 2);
    ASSERT_TRUE(committer.Commit({{sealed2, "out@2"}}).ok());  // the savepoint is checkpoint 2
  }
  {
    TransactionCommitter committer(Endpoint(out), new_dir.path(), prefix);
    absl::Status s = committer.Recover({{sealed2, "out@2"}}, 2);
    EXPECT_TRUE(s.ok()) << s;
  }
  EXPECT_EQ(Committed(out).size(), 4u);
  {
    TransactionCommitter committer(Endpoint(out), old_dir.path(), prefix);  // the old run goes on
    ASSERT_TRUE(committer.Commit({{Stage(stage, Values("n", 4, 6), 3), "out@3"}}).ok());
  }
  TransactionCommitter committer(Endpoint(out), newer_dir.path(), prefix);
  absl::Status s = committer.Recover({{sealed2, "out@2"}}, 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("already holds the output of checkpoint 3"));
  EXPECT_EQ(Committed(out).size(), 6u);
}

// The two rewind tests run a job three times over one checkpoint directory: input A, its
// output committed, input B, its output committed, stop. Then they restore the checkpoint
// taken between A and B.
class KafkaRewindTest : public KafkaTest {
 protected:
  void SetUp() override {
    KafkaTest::SetUp();
    if (HasFatalFailure()) return;
    in_ = Topic("in", 1);
    out_ = Topic("out", 1);
  }

  // Runs the job with checkpoints until `until` read_committed messages are in the output
  // topic, then stops it. Returns the run's status.
  absl::Status RunUntil(size_t until, const std::string& sink_query = "", const std::string& restore = "") {
    auto src = MakeSource<Msg>(absl::StrCat("kafka:", in_), {.kafka = settings_});
    if (!src.ok()) return src.status();
    auto sink = MakeSink<Msg>(absl::StrCat("kafka:", out_, sink_query.empty() ? "" : "?", sink_query),
                              {.kafka = settings_});
    if (!sink.ok()) return sink.status();
    auto job = Job::Create("rewind");
    job->Source<Msg>("in", *src, WatermarkStrategy<Msg>::BoundedOutOfOrderness(0).WithTimestamp([](const Msg& m) {
                       return m.ts;
                     })).SinkTo(sink->sink);
    ExecutionOptions opt;
    opt.parallelism = 1;
    opt.checkpoint_dir = dir_.path();
    opt.checkpoint_interval_ms = 100;
    opt.checkpoints_retained = 1000;
    if (!restore.empty()) {
      opt.restore = ExecutionOptions::Restore::kPath;
      opt.restore_path = restore;
    }
    std::atomic<bool> stop{false};
    opt.stop_requested = &stop;
    absl::StatusOr<ExecutionResult> result;
    std::atomic<bool> done{false};
    std::thread run([&] {
      result = job->Execute(opt);
      done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      if (Committed(out_).size() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
    run.join();
    return result.status();
  }

  // The newest complete checkpoint's directory.
  std::string NewestCheckpoint() {
    std::string newest;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      std::string name = e.path().filename().string();
      if (name.starts_with("chk-") && std::filesystem::exists(e.path() / "MANIFEST") && e.path().string() > newest) {
        newest = e.path().string();
      }
    }
    return newest;
  }

  void RunAThenB() {
    ProduceTo(in_, {batch_a_});
    ASSERT_TRUE(RunUntil(batch_a_.size()).ok());
    between_ = NewestCheckpoint();
    ASSERT_FALSE(between_.empty());
    ProduceTo(in_, {batch_b_});
    ASSERT_TRUE(RunUntil(batch_a_.size() + batch_b_.size()).ok());
    ASSERT_EQ(Committed(out_).size(), batch_a_.size() + batch_b_.size());
  }

  std::vector<Msg> batch_a_ = {{1, 1000, "a"}, {2, 1001, "a"}, {3, 1002, "a"}};
  std::vector<Msg> batch_b_ = {{4, 2000, "b"}, {5, 2001, "b"}};
  std::string in_, out_;
  ScopedTempDir dir_;
  std::string between_;
};

std::vector<std::string> Encoded(const std::vector<Msg>& msgs) {
  std::vector<std::string> out;
  for (const Msg& m : msgs) {
    std::string v;
    JsonCodec<Msg>().Encode(m, &v);
    out.push_back(v);
  }
  return out;
}

TEST_F(KafkaRewindTest, RestoringAnOlderCheckpointFailsWithOneLineAndWritesNothing) {
  RunAThenB();
  if (HasFatalFailure()) return;
  absl::Status s = RunUntil(SIZE_MAX, "", between_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\n")));
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("kafka://", bootstrap_, "/", out_, " already holds")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("on-rewind=duplicate"));
  std::vector<Msg> all = batch_a_;
  all.insert(all.end(), batch_b_.begin(), batch_b_.end());
  EXPECT_THAT(Committed(out_), UnorderedElementsAreArray(Encoded(all)));
}

// Why the refusal: Kafka cannot withdraw B's committed output, so a rewound run writes it
// again.
TEST_F(KafkaRewindTest, RestoringAnOlderCheckpointWithOnRewindDuplicateWritesTheRowsAgain) {
  RunAThenB();
  if (HasFatalFailure()) return;
  const size_t want = batch_a_.size() + 2 * batch_b_.size();
  ASSERT_TRUE(RunUntil(want, "on-rewind=duplicate", between_).ok());
  std::vector<Msg> all = batch_a_;
  all.insert(all.end(), batch_b_.begin(), batch_b_.end());
  all.insert(all.end(), batch_b_.begin(), batch_b_.end());
  EXPECT_THAT(Committed(out_), UnorderedElementsAreArray(Encoded(all)));
}

}  // namespace
}  // namespace kappa::connectors::kafka::test
