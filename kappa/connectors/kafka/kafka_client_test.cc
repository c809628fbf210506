// Tests of the Kafka connectors against librdkafka's mock cluster (real wire protocol, in
// this process): offset lookups, the source's partitions, offsets and bounds, the sink's
// keys, timestamps and headers, and the transactional committer's idempotence and fencing.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
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
using ::testing::UnorderedElementsAreArray;

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = EmbeddedCluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    settings_.bootstrap = cluster_->bootstrap();
  }

  KafkaEndpoint Endpoint(const std::string& topic, const std::string& query = "") {
    auto uri = ParseUri(absl::StrCat("kafka:", topic, query.empty() ? "" : "?", query));
    EXPECT_TRUE(uri.ok());
    auto e = ParseEndpoint(*uri, settings_, {"start", "end", "group", "key", "header.", "delivery"});
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

  std::unique_ptr<EmbeddedCluster> cluster_;
  KafkaSettings settings_;
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
  ASSERT_TRUE(cluster_->CreateTopic("in", 4).ok());
  auto data = Data(4, 50);
  ProduceTo("in", data);
  for (int p : {1, 2, 3}) {
    EXPECT_THAT(Run("kafka:in?end=end", p), UnorderedElementsAreArray(Flatten(data))) << "parallelism " << p;
  }
}

TEST_F(KafkaTest, StartAndEndOffsetsBoundEachPartition) {
  ASSERT_TRUE(cluster_->CreateTopic("in", 2).ok());
  auto data = Data(2, 20);
  ProduceTo("in", data);
  std::vector<Msg> want;
  for (int i = 5; i < 12; ++i) want.push_back(data[0][i]);
  for (int i = 3; i < 20; ++i) want.push_back(data[1][i]);
  EXPECT_THAT(Run("kafka:in?start=offsets:0=5,1=3&end=offsets:0=12,1=20", 1), UnorderedElementsAreArray(want));
}

TEST_F(KafkaTest, ReplayOverridesOfTheUriApply) {
  ASSERT_TRUE(cluster_->CreateTopic("in", 2).ok());
  auto data = Data(2, 20);
  ProduceTo("in", data);
  SourceOptions o;
  o.start = "offsets:0=10,1=10";
  o.end = "end";
  EXPECT_THAT(Run("kafka:in?start=earliest", 2, o), UnorderedElementsAreArray(Flatten(data, 10)));
}

TEST_F(KafkaTest, TimestampLookupFallsBackToSearchingWhenTheBrokerCannotAnswer) {
  ASSERT_TRUE(cluster_->CreateTopic("in", 1).ok());
  auto data = Data(1, 100);  // ts = 1000 + 10 i
  ProduceTo("in", data);
  auto rk = NewClient(RD_KAFKA_CONSUMER, Endpoint("in"), {{"group.id", "t"}, {"fetch.wait.max.ms", "10"}});
  ASSERT_TRUE(rk.ok());
  // The mock answers -1 for every real timestamp: this is the case the fallback is for.
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

TEST_F(KafkaTest, StartAtTimestampReadsFromTheFirstRecordAtOrAfterIt) {
  ASSERT_TRUE(cluster_->CreateTopic("in", 3).ok());
  auto data = Data(3, 40);
  ProduceTo("in", data);
  EXPECT_THAT(Run("kafka:in?start=ts:1200&end=end", 2), UnorderedElementsAreArray(Flatten(data, 20)));
}

TEST_F(KafkaTest, MissingTopicAndUnreachableBrokersAreClearErrors) {
  auto missing = MakeSource<Msg>("kafka:nosuch", {.kafka = settings_});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("topic 'nosuch' does not exist"));

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
}

TEST_F(KafkaTest, MalformedMessagesGoToTheErrorsOutputWithTheirOffset) {
  ASSERT_TRUE(cluster_->CreateTopic("in", 1).ok());
  auto rk = NewClient(RD_KAFKA_PRODUCER, Endpoint("in"), {});
  ASSERT_TRUE(rk.ok());
  for (std::string v : {R"({"id":1,"ts":5,"tag":"a"})", R"({"id":"two"})", R"(not json)", R"({"id":3,"ts":6,"tag":"c"})"}) {
    rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_VALUE(v.data(), v.size()), RD_KAFKA_V_END);
  }
  rd_kafka_flush(rk->get(), 10000);
  auto src = MakeSource<Msg>("kafka:in?end=end", {.kafka = settings_});
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
  ASSERT_TRUE(cluster_->CreateTopic("out", 2).ok());
  auto sink = MakeSink<Msg>("kafka:out?key=tag,id&header.source=kappa", {.kafka = settings_});
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto writer = sink->sink->CreateWriter(0, 1);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*writer)->Write(Record<Msg>{Msg{i, 5000 + i, "k"}, 7000 + i, 0}).ok());
  ASSERT_TRUE((*writer)->Close().ok());

  auto rk = NewClient(RD_KAFKA_CONSUMER, Endpoint("out"), {{"group.id", "t"}});
  ASSERT_TRUE(rk.ok());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(parts, "out", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_topic_partition_list_add(parts, "out", 1)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk->get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::map<std::string, int64_t> ts_by_key;
  int headers_seen = 0;
  for (int tries = 0; tries < 100 && ts_by_key.size() < 10; ++tries) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_timestamp_type_t type;
      ts_by_key[std::string(static_cast<const char*>(m->key), m->key_len)] = rd_kafka_message_timestamp(m, &type);
      rd_kafka_headers_t* h = nullptr;
      const void* v;
      size_t len;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(h, "source", &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          std::string(static_cast<const char*>(v), len) == "kappa") {
        ++headers_seen;
      }
    }
    rd_kafka_message_destroy(m);
  }
  ASSERT_EQ(ts_by_key.size(), 10u);
  EXPECT_EQ(ts_by_key["k|3"], 7003);  // the record's event time, not the wall clock
  EXPECT_EQ(headers_seen, 10);
}

TEST_F(KafkaTest, CommitterCommitsEachStagedFileOnce) {
  ASSERT_TRUE(cluster_->CreateTopic("out", 1).ok());
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(stage.Append(absl::StrCat("{\"n\":", i, "}"), "", 100 + i).ok());
  auto sealed = stage.Seal(7);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*sealed, StagedName(dir.path(), 0, 7));
  for (int i = 5; i < 8; ++i) ASSERT_TRUE(stage.Append(absl::StrCat("{\"n\":", i, "}"), "", 100 + i).ok());
  auto sealed8 = stage.Seal(8);
  ASSERT_TRUE(sealed8.ok());

  {
    TransactionCommitter committer(Endpoint("out"), dir.path(), "test-tx");
    ASSERT_TRUE(committer.Commit({{*sealed, "out@7"}}).ok());
    ASSERT_TRUE(committer.Commit({{*sealed, "out@7"}}).ok());  // again: nothing more
  }
  auto read = ReadTopic(Endpoint("out"));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 5u);

  // A new committer (a restarted run) recovers checkpoint 8's pending file and skips 7.
  {
    TransactionCommitter committer(Endpoint("out"), dir.path(), "test-tx");
    ASSERT_TRUE(committer.Recover({{*sealed, "out@7"}, {*sealed8, "out@8"}}, 8).ok());
  }
  read = ReadTopic(Endpoint("out"));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 8u);

}

// librdkafka's mock cluster does not fence (a producer whose transactional.id was taken
// over still commits), so the broker's answer to a zombie is injected: the commit fails
// with PRODUCER_FENCED, nothing is recorded as committed, the staged file stays, and the
// next commit (a new producer: init_transactions) commits it.
TEST_F(KafkaTest, FencedCommitKeepsTheStagedFileAndTheNextCommitRetriesIt) {
  ASSERT_TRUE(cluster_->CreateTopic("out", 1).ok());
  ScopedTempDir dir;
  StagingFile stage(dir.path(), 0);
  ASSERT_TRUE(stage.Append("{\"n\":1}", "", 100).ok());
  auto first = stage.Seal(3);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(stage.Append("{\"n\":2}", "", 101).ok());
  auto second = stage.Seal(4);
  ASSERT_TRUE(second.ok());

  TransactionCommitter committer(Endpoint("out"), dir.path(), "fence-tx");
  constexpr int16_t kEndTxn = 26;  // Kafka protocol ApiKey
  rd_kafka_mock_push_request_errors(cluster_->mock(), kEndTxn, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
  absl::Status fenced = committer.Commit({{*first, "out@3"}});
  ASSERT_FALSE(fenced.ok());
  EXPECT_THAT(std::string(fenced.message()), HasSubstr("retried with the next checkpoint"));
  EXPECT_TRUE(std::filesystem::exists(*first));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/committed-000"));

  ASSERT_TRUE(committer.Commit({{*second, "out@4"}}).ok());  // commits 3, then 4
  EXPECT_FALSE(std::filesystem::exists(*first));
  EXPECT_FALSE(std::filesystem::exists(*second));
  EXPECT_EQ(testing::ReadFileToString(dir.path() + "/committed-000"), "4\n");
}

// A run's final epoch is committed once; a later run in the same checkpoint directory (a
// fresh start) commits its own final epoch rather than finding it "already committed".
TEST_F(KafkaTest, EachRunCommitsItsOwnFinalEpoch) {
  ASSERT_TRUE(cluster_->CreateTopic("out", 1).ok());
  ScopedTempDir dir;
  for (int run = 0; run < 2; ++run) {
    TransactionCommitter committer(Endpoint("out"), dir.path(), "final-tx");
    ASSERT_TRUE(committer.Recover({}, -1).ok());
    StagingFile stage(dir.path(), 0);
    ASSERT_TRUE(stage.Append(absl::StrCat("{\"run\":", run, "}"), "", 1).ok());
    auto checkpointed = stage.Seal(10 + run);
    ASSERT_TRUE(checkpointed.ok());
    ASSERT_TRUE(committer.Commit({{*checkpointed, "out@n"}}).ok());
    ASSERT_TRUE(stage.Append(absl::StrCat("{\"final\":", run, "}"), "", 2).ok());
    auto final_file = stage.Seal(kFinalId);
    ASSERT_TRUE(final_file.ok());
    ASSERT_TRUE(committer.Commit({{*final_file, "out@final"}}).ok());
    ASSERT_TRUE(committer.Commit({{*final_file, "out@final"}}).ok());  // restoring the final checkpoint
  }
  auto read = ReadTopic(Endpoint("out"));
  ASSERT_TRUE(read.ok());
  EXPECT_THAT(*read, UnorderedElementsAreArray(
                         {"{\"run\":0}", "{\"final\":0}", "{\"run\":1}", "{\"final\":1}"}));
}

TEST_F(KafkaTest, MissingStagedFileIsDataLossNamingIt) {
  ASSERT_TRUE(cluster_->CreateTopic("out", 1).ok());
  ScopedTempDir dir;
  TransactionCommitter committer(Endpoint("out"), dir.path(), "test-tx");
  absl::Status s = committer.Commit({{StagedName(dir.path(), 2, 5), "out@5"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("checkpoint 5"));
}

}  // namespace
}  // namespace kappa::connectors::kafka::test
