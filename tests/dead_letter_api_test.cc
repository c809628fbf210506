// Dead letters through the library API (ExecutionOptions::dead_letters): what a letter
// holds, where it came from in a source's chain and behind an exchange, that records which
// do not decode become letters too, and that without an output they stay on `errors`. The
// JSON of a letter and the reading back of its record (redrive) as functions.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/file_source.h"
#include "kappa/kappa.h"
#include "kappa/runtime/dead_letters.h"

namespace kappa {
namespace {

struct Order {
  int64_t id = 0;
  Timestamp ts = 0;
  std::string item;
};

}  // namespace
}  // namespace kappa

KAPPA_JSON(kappa::Order, id, ts, item);

namespace kappa {
namespace {

using connectors::CollectSink;
using ::testing::HasSubstr;

// Orders as a file log of two partitions (two files in a directory), with `bad` lines
// that do not decode at the start of partition 1.
std::string WriteOrders(const std::string& dir, int per_partition, const std::vector<std::string>& bad = {}) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (int p = 0; p < 2; ++p) {
    std::ofstream out(dir + "/p" + std::to_string(p) + ".jsonl");
    if (p == 1) {
      for (const std::string& b : bad) out << b << "\n";
    }
    for (int i = 0; i < per_partition; ++i) {
      const int64_t id = p * 1000 + i;
      out << "{\"id\":" << id << ",\"ts\":" << 1000 + i << ",\"item\":\"" << (id % 5 == 0 ? "poison" : "book")
          << "\"}\n";
    }
  }
  return dir + "/";
}

WatermarkStrategy<Order> Strategy() {
  return WatermarkStrategy<Order>::BoundedOutOfOrderness(0).WithTimestamp([](const Order& o) { return o.ts; });
}

// Takes the order by const reference: a function that takes it by value or T&& gets it
// moved out of the record, and the dead letter would show what the move left.
Order Check(const Order& o) {
  if (o.item == "poison") throw PermanentError("poison order " + std::to_string(o.id));
  return o;
}

class DeadLetterApiTest : public ::testing::Test {
 protected:
  std::string dir_ = ::testing::TempDir() + "/kappa_dead_letter_api_" + std::to_string(getpid());
  void TearDown() override { std::filesystem::remove_all(dir_); }
};

TEST_F(DeadLetterApiTest, APermanentErrorInAChainedMapIsADeadLetterWithItsSourcePosition) {
  const std::string path = WriteOrders(dir_, 20);
  auto job = Job::Create("orders");
  auto out = std::make_shared<CollectSink<Order>>();
  job->Source<Order>("orders", std::make_shared<connectors::FileSource<Order>>(path, false), Strategy())
      .Map(Check, "check")
      .SinkTo(out);
  auto letters = std::make_shared<CollectSink<DeadLetterLine>>();
  ExecutionOptions options;
  options.parallelism = 2;
  options.state_backend = StateBackendKind::kHeap;
  options.dead_letters = letters;
  ErrorSink errors(nullptr, /*keep_in_memory=*/true);
  options.errors = &errors;
  absl::StatusOr<ExecutionResult> result = job->Execute(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(out->values().size(), 32u);
  EXPECT_EQ(result->dead_letters, 8);
  EXPECT_TRUE(errors.events().empty());

  std::vector<std::string> lines;
  for (const Record<DeadLetterLine>& r : letters->records()) {
    lines.push_back(r.value.json);
    // The letter's event time is the record's.
    EXPECT_THAT(r.value.json, HasSubstr("\"ts\":" + std::to_string(r.ts) + ","));
  }
  ASSERT_EQ(lines.size(), 8u);
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    EXPECT_THAT(line, HasSubstr("\"attempts\":1,"));
    EXPECT_THAT(line, HasSubstr("\"operator\":\"check\""));
    EXPECT_THAT(line, HasSubstr("\"kind\":\"user\""));
    EXPECT_THAT(line, HasSubstr("\"errors\":[\"poison order "));
    absl::StatusOr<std::string> record = runtime::DeadLetterRecord(line);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_THAT(*record, HasSubstr("\"item\":\"poison\""));
  }
  // Order 1005 is the 6th line of partition 1: its offset is where that line starts.
  const std::string line_1005 = "{\"id\":1005,\"ts\":1005,\"item\":\"poison\"}";
  const size_t offset_1005 = (line_1005.size() + 1) + 4 * (line_1005.size() - 2 + 1);  // 1000: poison, 1001-4: book
  const std::string wanted = "{\"record\":" + line_1005 + ",\"errors\":[\"poison order 1005\"]";
  bool found = false;
  for (const std::string& line : lines) {
    if (line.rfind(wanted, 0) != 0) continue;
    found = true;
    EXPECT_THAT(line, HasSubstr("\"partition\":1,\"offset\":" + std::to_string(offset_1005) + ","));
  }
  EXPECT_TRUE(found) << "no dead letter for order 1005";
}

TEST_F(DeadLetterApiTest, BehindAnExchangeTheSourcePositionIsUnknown) {
  const std::string path = WriteOrders(dir_, 10);
  auto job = Job::Create("orders");
  auto out = std::make_shared<CollectSink<Order>>();
  job->Source<Order>("orders", std::make_shared<connectors::FileSource<Order>>(path, false), Strategy())
      .Rebalance(1)
      .Map(Check, "check")
      .SinkTo(out);
  auto letters = std::make_shared<CollectSink<DeadLetterLine>>();
  ExecutionOptions options;
  options.parallelism = 2;
  options.state_backend = StateBackendKind::kHeap;
  options.dead_letters = letters;
  ASSERT_TRUE(job->Execute(options).ok());
  ASSERT_EQ(letters->values().size(), 4u);
  for (const DeadLetterLine& l : letters->values()) {
    EXPECT_THAT(l.json, HasSubstr("\"partition\":null,\"offset\":null")) << l.json;
  }
}

TEST_F(DeadLetterApiTest, RecordsThatDoNotDecodeAreDeadLettersAndWithoutAnOutputErrors) {
  const std::string path = WriteOrders(dir_, 5, {"{\"id\":\"x\"}", "garbage"});
  for (bool with_output : {true, false}) {
    SCOPED_TRACE(with_output ? "with a dead-letter output" : "without");
    auto job = Job::Create("orders");
    auto out = std::make_shared<CollectSink<Order>>();
    job->Source<Order>("orders", std::make_shared<connectors::FileSource<Order>>(path, false), Strategy())
        .Map(Check, "check")
        .SinkTo(out);
    auto letters = std::make_shared<CollectSink<DeadLetterLine>>();
    ExecutionOptions options;
    options.state_backend = StateBackendKind::kHeap;
    if (with_output) options.dead_letters = letters;
    ErrorSink errors(nullptr, /*keep_in_memory=*/true);
    options.errors = &errors;
    ASSERT_TRUE(job->Execute(options).ok());
    EXPECT_EQ(out->values().size(), 8u);
    if (with_output) {
      EXPECT_TRUE(errors.events().empty());
      std::vector<std::string> decode;
      for (const DeadLetterLine& l : letters->values()) {
        if (l.json.find("\"kind\":\"decode\"") != std::string::npos) decode.push_back(l.json);
      }
      ASSERT_EQ(decode.size(), 2u);
      std::sort(decode.begin(), decode.end());
      EXPECT_THAT(decode[0], HasSubstr("{\"record\":\"garbage\",\"errors\":[\""));
      EXPECT_THAT(decode[0], HasSubstr("\"operator\":\"orders\",\"partition\":1,\"offset\":11,\"ts\":null"));
      EXPECT_THAT(decode[1], HasSubstr("{\"record\":\"{\\\"id\\\":\\\"x\\\"}\",\"errors\":[\"field 'id'"));
      EXPECT_THAT(decode[1], HasSubstr("\"partition\":1,\"offset\":0,"));
      // A redrive gives the raw input back.
      EXPECT_EQ(*runtime::DeadLetterRecord(decode[1]), "{\"id\":\"x\"}");
      EXPECT_EQ(letters->values().size(), 4u);  // and orders 0 and 1000
    } else {
      EXPECT_TRUE(letters->values().empty());
      EXPECT_EQ(errors.decode_errors(), 2);
      EXPECT_EQ(errors.user_errors(), 2);
      for (const ErrorEvent& e : errors.events()) {
        if (e.kind == "user") {
          EXPECT_GE(e.partition, 0) << e.record;
        }
      }
    }
  }
}

TEST(DeadLetterFormatTest, EncodesEveryFieldAndReadsTheRecordBack) {
  DeadLetter d{.record = R"({"id":7,"note":"a, {b} \"c\""})",
               .errors = {"503 Service Unavailable", "timeout after 2000 ms"},
               .attempts = 2,
               .first_failure_ms = 1764930000000,
               .last_failure_ms = 1764930000400,
               .operator_name = "enrich",
               .partition = 3,
               .offset = 1234,
               .ts = 1700000001000};
  const std::string json = runtime::EncodeDeadLetter(d);
  EXPECT_EQ(json,
            R"({"record":{"id":7,"note":"a, {b} \"c\""},"errors":["503 Service Unavailable","timeout after 2000 ms"],)"
            R"("attempts":2,"first_failure":1764930000000,"last_failure":1764930000400,"operator":"enrich",)"
            R"("partition":3,"offset":1234,"ts":1700000001000,"kind":"user"})");
  EXPECT_EQ(*runtime::DeadLetterRecord(json), d.record);
  // The record need not come first.
  EXPECT_EQ(*runtime::DeadLetterRecord(R"({"kind":"user","record":[1,{"a":"]"}],"attempts":1})"), R"([1,{"a":"]"}])");

  DeadLetter raw{.record = "not \"json\"\n", .record_is_json = false, .attempts = 1, .ts = kMinTimestamp,
                 .kind = "decode"};
  const std::string raw_json = runtime::EncodeDeadLetter(raw);
  EXPECT_THAT(raw_json, HasSubstr(R"({"record":"not \"json\"\n","errors":[],)"));
  EXPECT_THAT(raw_json, HasSubstr(R"("partition":null,"offset":null,"ts":null,"kind":"decode"})"));
  EXPECT_EQ(*runtime::DeadLetterRecord(raw_json), raw.record);

  EXPECT_FALSE(runtime::DeadLetterRecord(R"({"kind":"user"})").ok());
  EXPECT_FALSE(runtime::DeadLetterRecord("not json").ok());
  EXPECT_FALSE(runtime::DeadLetterRecord(R"({"record":{"a":1})").ok());
}

}  // namespace
}  // namespace kappa
