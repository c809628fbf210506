// Tests of the scheme registry and of the typed adapters over connectors of bytes:
// schemes a program registers, unknown schemes, replacing a built-in, the typed fast
// path, JsonSource's decoding and error reports, JsonSink's batches, and the discard
// sink's per-sink statistics.
#include "kappa/connectors/registry.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/connectors/discard_sink.h"
#include "kappa/connectors/internal/schemes.h"
#include "kappa/connectors/nexmark/codec.h"
#include "kappa/connectors/nexmark_source.h"
#include "kappa/connectors/raw.h"

namespace kappa::connectors::test {
struct Num {
  int64_t n = 0;
  friend bool operator==(const Num&, const Num&) = default;
};
}  // namespace kappa::connectors::test
KAPPA_JSON(kappa::connectors::test::Num, n);

namespace kappa::connectors::test {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Lines given to the constructor, one partition, offsets = line numbers. Line "!" is a
// read error.
class LinesSource final : public RawSourceConnector {
 public:
  explicit LinesSource(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  absl::StatusOr<int> NumPartitions() override { return 1; }
  absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int, int64_t offset) override {
    return std::unique_ptr<RawPartitionReader>(new Reader(&lines_, offset));
  }
  std::string description() const override { return "lines:"; }

 private:
  class Reader final : public RawPartitionReader {
   public:
    Reader(const std::vector<std::string>* lines, int64_t at) : lines_(lines), at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) override {
      if (at_ >= static_cast<int64_t>(lines_->size())) return ReadStatus::kEnd;
      for (size_t i = 0; i < max_records && at_ < static_cast<int64_t>(lines_->size()); ++i, ++at_) {
        const std::string& line = (*lines_)[at_];
        out->push_back(RawRecord{.bytes = line, .offset = at_, .next_offset = at_ + 1, .padded_capacity = line.size()});
      }
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    const std::vector<std::string>* lines_;
    int64_t at_;
  };
  std::vector<std::string> lines_;
};

// Keeps every batch it is given, and the calls made, in order.
class RecordingSink final : public RawSinkConnector {
 public:
  explicit RecordingSink(bool values = true) : values_(values) {}
  absl::StatusOr<std::unique_ptr<RawSinkWriter>> CreateWriter(int, int) override {
    return std::unique_ptr<RawSinkWriter>(new Writer(this));
  }
  std::string description() const override { return "recording:"; }
  bool wants_values() const override { return values_; }

  std::vector<std::string> calls;
  std::vector<RawSinkBatch> batches;

 private:
  class Writer final : public RawSinkWriter {
   public:
    explicit Writer(RecordingSink* sink) : sink_(sink) {}
    absl::Status Write(const RawSinkBatch& batch) override {
      sink_->calls.push_back(absl::StrCat("write ", batch.size()));
      sink_->batches.push_back(batch);
      return absl::OkStatus();
    }
    absl::Status Flush() override {
      sink_->calls.push_back("flush");
      return absl::OkStatus();
    }
    absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) override {
      sink_->calls.push_back(absl::StrCat("precommit ", id));
      return std::vector<checkpoint::PendingFile>{};
    }
    absl::Status Close() override {
      sink_->calls.push_back("close");
      return absl::OkStatus();
    }

   private:
    RecordingSink* sink_;
  };
  bool values_;
};

// A SourceContext that keeps what a reader emits and reports.
class Recording final : public SourceContext<Num> {
 public:
  void Emit(Num&& value) override { emitted.push_back(value); }
  void ReportBadRecord(int64_t offset, std::string_view error, std::string_view raw) override {
    bad.push_back(absl::StrCat(offset, " ", std::string(raw), ": ", std::string(error)));
  }
  std::vector<Num> emitted;
  std::vector<std::string> bad;
};

TEST(RegistryTest, RegisteredSourceSchemeResolvesWithItsUriAndOptions) {
  std::string seen;
  RegisterSourceScheme(
      "test-lines",
      [&seen](const Uri& uri, const SourceOptions& options) -> absl::StatusOr<OpenedSource> {
        seen = absl::StrCat(uri.path, " n=", uri.params.at("n"), " follow=", options.follow);
        return OpenedSource(std::make_shared<LinesSource>(std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));
      },
      "test-lines:NAME?n=N");
  auto src = MakeSource<Num>("test-lines:x?n=2", {.follow = true});
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ(seen, "x n=2 follow=1");
  EXPECT_EQ((*src)->description(), "lines:");
  auto reader = (*src)->Open(0, 0);
  ASSERT_TRUE(reader.ok());
  Recording ctx;
  EXPECT_EQ(*(*reader)->Read(10, ctx), ReadStatus::kRecords);
  EXPECT_THAT(ctx.emitted, ElementsAre(Num{1}, Num{2}));
  EXPECT_THAT(SourceSchemes(), HasSubstr("test-lines:NAME?n=N"));
}

TEST(RegistryTest, UnknownSchemeErrorsListTheRegisteredSchemes) {
  RegisterSourceScheme("test-listed", [](const Uri&, const SourceOptions&) -> absl::StatusOr<OpenedSource> {
    return absl::InternalError("unused");
  });
  auto src = OpenSource("nope:thing");
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(src.status()), AllOf(HasSubstr("'nope:thing'"), HasSubstr("not a source"), HasSubstr("file:PATH"),
                                       HasSubstr("gen:nexmark"), HasSubstr("kafka://"), HasSubstr("test-listed:")));
  EXPECT_THAT(Msg(src.status()), Not(HasSubstr("\n")));

  auto no_scheme = OpenSource("clicks.jsonl");
  ASSERT_FALSE(no_scheme.ok());
  EXPECT_THAT(Msg(no_scheme.status()), AllOf(HasSubstr("'clicks.jsonl'"), HasSubstr("test-listed:")));

  auto sink = OpenSink("nope:thing");
  ASSERT_FALSE(sink.ok());
  EXPECT_THAT(Msg(sink.status()), AllOf(HasSubstr("not a sink"), HasSubstr("file:DIR/"), HasSubstr("stdout:"),
                                        HasSubstr("discard:"), HasSubstr("kafka://"), Not(HasSubstr("test-listed"))));
}

TEST(RegistryTest, RegisteringABuiltInSchemeReplacesIt) {
  auto mine = std::make_shared<RecordingSink>();
  RegisterSinkScheme("discard", [mine](const Uri&, const SinkOptions&) -> absl::StatusOr<OpenedSink> {
    return OpenedSink(mine);
  });
  auto replaced = OpenSink("discard:");
  RegisterSinkScheme("discard", internal::OpenDiscardSink, "discard:");  // the built-in again
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->raw, mine);
  auto builtin = OpenSink("discard:");
  ASSERT_TRUE(builtin.ok());
  EXPECT_NE(DiscardStatsOf(builtin->raw.get()), nullptr);
}

TEST(RegistryTest, FactoryErrorsReachTheCaller) {
  RegisterSinkScheme("test-broken", [](const Uri& uri, const SinkOptions&) -> absl::StatusOr<OpenedSink> {
    return absl::UnavailableError(absl::StrCat("'", uri.text, "': the service is down"));
  });
  auto sink = MakeSink<Num>("test-broken:x");
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Msg(sink.status()), "'test-broken:x': the service is down");
}

TEST(RegistryTest, SchemesRegisteredFromManyThreadsWhileOthersResolveAllArrive) {
  std::vector<std::thread> threads;
  std::atomic<int> resolved{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &resolved] {
      for (int i = 0; i < 50; ++i) {
        RegisterSinkScheme(absl::StrCat("test-thread-", t, "-", i),
                           [](const Uri&, const SinkOptions&) -> absl::StatusOr<OpenedSink> {
                             return OpenedSink(std::make_shared<RecordingSink>());
                           });
        if (OpenSink("discard:").ok()) resolved.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(resolved.load(), 200);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 50; ++i) EXPECT_TRUE(OpenSink(absl::StrCat("test-thread-", t, "-", i, ":")).ok());
  }
}

// gen:nexmark offers nexmark::Event itself: a job of that type skips JSON; other types
// get the same events as JSON lines.
TEST(RegistryTest, TypedConnectorServesItsTypeAndBytesServeTheOthers) {
  auto events = MakeSource<nexmark::Event>("gen:nexmark?events=10", {});
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_NE(dynamic_cast<NexmarkSource<nexmark::Event>*>(events->get()), nullptr);
  auto nums = MakeSource<Num>("gen:nexmark?events=10", {});
  ASSERT_TRUE(nums.ok()) << nums.status();
  EXPECT_NE(dynamic_cast<JsonSource<Num>*>(nums->get()), nullptr);
}

TEST(RegistryTest, SchemeWithOnlyATypedConnectorRejectsOtherTypes) {
  RegisterSourceScheme("test-typed", [](const Uri&, const SourceOptions&) -> absl::StatusOr<OpenedSource> {
    OpenedSource opened;
    opened.SetTyped<nexmark::Event>(std::make_shared<NexmarkSource<nexmark::Event>>(nexmark::GeneratorConfig{}, 1));
    return opened;
  });
  EXPECT_TRUE(MakeSource<nexmark::Event>("test-typed:", {}).ok());
  auto other = MakeSource<Num>("test-typed:", {});
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(Msg(other.status()), AllOf(HasSubstr("'test-typed:'"), HasSubstr("its own type")));
}

TEST(JsonSourceTest, ReportsRecordsThatDoNotDecodeWithTheirOffsetsAndResumesAfterTheBatch) {
  JsonSource<Num> src(std::make_shared<LinesSource>(
      std::vector<std::string>{R"({"n":1})", R"({"n":"two"})", R"({"n":3})", "oops", R"({"n":5})"}));
  auto reader = src.Open(0, 0);
  ASSERT_TRUE(reader.ok());
  Recording ctx;
  EXPECT_EQ(*(*reader)->Read(4, ctx), ReadStatus::kRecords);
  EXPECT_THAT(ctx.emitted, ElementsAre(Num{1}, Num{3}));
  ASSERT_EQ(ctx.bad.size(), 2u);
  EXPECT_THAT(ctx.bad[0], HasSubstr(R"(1 {"n":"two"}: field 'n')"));
  EXPECT_THAT(ctx.bad[1], HasSubstr("3 oops: "));
  EXPECT_EQ((*reader)->offset(), 4);

  auto rest = src.Open(0, (*reader)->offset());
  ASSERT_TRUE(rest.ok());
  Recording tail;
  EXPECT_EQ(*(*rest)->Read(10, tail), ReadStatus::kRecords);
  EXPECT_THAT(tail.emitted, ElementsAre(Num{5}));
}

TEST(JsonSinkTest, BatchesEncodedLinesWithTimestampsAndHandsThemOverBeforeFlushAndPreCommit) {
  auto raw = std::make_shared<RecordingSink>();
  JsonSink<Num> sink(raw);
  auto w = sink.CreateWriter(0, 1);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(Record<Num>{Num{1}, 100}).ok());
  ASSERT_TRUE((*w)->Write(Record<Num>{Num{22}, 200}).ok());
  EXPECT_TRUE(raw->calls.empty());  // batched
  ASSERT_TRUE((*w)->Flush().ok());
  ASSERT_TRUE((*w)->Write(Record<Num>{Num{3}, 300}).ok());
  ASSERT_TRUE((*w)->PreCommit(7).ok());
  ASSERT_TRUE((*w)->Flush().ok());  // nothing new: no empty batch
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_THAT(raw->calls, ElementsAre("write 2", "flush", "write 1", "precommit 7", "flush", "close"));
  ASSERT_EQ(raw->batches.size(), 2u);
  const RawSinkBatch& b = raw->batches[0];
  EXPECT_EQ(b.lines, "{\"n\":1}\n{\"n\":22}\n");
  EXPECT_EQ(b.bytes(1), R"({"n":22})");
  EXPECT_EQ(b.records[0].ts, 100);
  EXPECT_EQ(b.records[1].ts, 200);
}

TEST(JsonSinkTest, ASinkThatWantsNoValuesGetsTimestampsAlone) {
  auto raw = std::make_shared<RecordingSink>(/*values=*/false);
  JsonSink<Num> sink(raw);
  auto w = sink.CreateWriter(0, 1);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE((*w)->Write(Record<Num>{Num{i}, i}).ok());
  ASSERT_TRUE((*w)->Close().ok());
  size_t records = 0;
  for (const RawSinkBatch& b : raw->batches) {
    EXPECT_TRUE(b.lines.empty());
    for (size_t i = 0; i < b.size(); ++i) {
      EXPECT_EQ(b.records[i].size, 0u);
      EXPECT_EQ(b.records[i].ts, static_cast<Timestamp>(records + i));
    }
    records += b.size();
  }
  EXPECT_EQ(records, 5000u);
  EXPECT_GE(raw->batches.size(), 2u);  // a batch holds at most 4096 records
}

TEST(DiscardSinkTest, EachSinkCountsItsOwnRecords) {
  auto first = MakeSink<Num>("discard:");
  auto second = MakeSink<Num>("discard:?latency=true");
  ASSERT_TRUE(first.ok() && second.ok());
  for (auto* handle : {&*first, &*second}) {
    for (int subtask = 0; subtask < 2; ++subtask) {
      auto w = handle->sink->CreateWriter(subtask, 2);
      ASSERT_TRUE(w.ok());
      const int n = handle == &*first ? 3 : 10;
      for (int i = 0; i < n; ++i) ASSERT_TRUE((*w)->Write(Record<Num>{Num{i}, 1000}).ok());
      ASSERT_TRUE((*w)->Close().ok());
    }
  }
  auto a = DiscardStatsOf(first->raw.get());
  auto b = DiscardStatsOf(second->raw.get());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->rows(), 6);
  EXPECT_EQ(a->latency_us().count(), 0);
  EXPECT_EQ(b->rows(), 20);
  EXPECT_EQ(b->latency_us().count(), 20);  // ts 1000 ms is long past
  EXPECT_EQ(DiscardStatsOf(std::make_shared<RecordingSink>().get()), nullptr);
}

TEST(DiscardSinkTest, UnknownParameterIsAnErrorNamingIt) {
  auto sink = OpenSink("discard:?latncy=true");
  ASSERT_FALSE(sink.ok());
  EXPECT_THAT(Msg(sink.status()), AllOf(HasSubstr("latncy"), HasSubstr("latency")));
}

}  // namespace
}  // namespace kappa::connectors::test
