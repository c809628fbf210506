#include "kappa/operators/retry.h"

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/json_codec.h"
#include "kappa/operators/process.h"
#include "kappa/state/key_groups.h"
#include "kappa/testing/harness.h"

namespace kappa::operators {

// A record with a JSON codec only: waiting copies are checkpointed as JSON.
struct Call {
  std::string id;
  int64_t n = 0;
};
// A record with a Serializer: waiting copies are checkpointed with it.
struct Visit {
  std::string user;
  int64_t n = 0;
};

}  // namespace kappa::operators

KAPPA_JSON(kappa::operators::Call, id, n);
KAPPA_SERIALIZABLE(kappa::operators::Visit, &kappa::operators::Visit::user, &kappa::operators::Visit::n);

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using kappa::testing::OperatorHarness;

constexpr char kUid[] = "enrich";

// A policy without jitter, so due times are exact: 100 ms, 200 ms, 400 ms, ...
RetryPolicy Exact(int attempts) {
  RetryPolicy p = RetryPolicy::Exponential(attempts, absl::Milliseconds(100), absl::Seconds(10));
  p.jitter = 0;
  return p;
}

// A service that fails a given number of times per id before it answers, and counts calls.
struct FlakyService {
  std::map<std::string, int> failures_left;
  std::map<std::string, int> calls;
  std::string Get(const Call& c) {
    ++calls[c.id];
    int& left = failures_left[c.id];
    if (left < 0) throw PermanentError(absl::StrCat("no such id ", c.id));
    if (left > 0) {
      --left;
      throw std::runtime_error(absl::StrCat("503 for ", c.id, " (call ", calls[c.id], ")"));
    }
    return absl::StrCat(c.id, ":", c.n);
  }
};

using CallHarness = OperatorHarness<Call, std::string>;

std::unique_ptr<runtime::OperatorBase> RetryingMap(FlakyService* service, RetryPolicy policy) {
  auto fn = [service](const Call& c, Collector<std::string>& out) { out.Collect(service->Get(c)); };
  return std::make_unique<RetryingOperator<Call, std::string, decltype(fn)>>(fn, std::move(policy));
}

void Open(CallHarness& h) {
  h.context().name_ = kUid;
  ASSERT_TRUE(h.Open().ok());
}

// Fires processing time at `now` until every due retry ran (the task calls it again
// between its input batches).
void RunDue(CallHarness& h, Timestamp now) {
  h.AdvanceProcessingTime(now);
  while (h.op()->NextProcessingTimer() <= now) h.AdvanceProcessingTime(now);
}

TEST(RetryTest, ARecordThatFailsTwiceSucceedsOnItsThirdAttempt) {
  FlakyService service;
  service.failures_left["a"] = 2;
  CallHarness h(RetryingMap(&service, Exact(3)));
  Open(h);
  h.Process(Call{"a", 1}, 1000);
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_EQ(h.op()->NextProcessingTimer(), 100);  // the first backoff
  RunDue(h, 99);
  EXPECT_EQ(service.calls["a"], 1);
  RunDue(h, 100);
  EXPECT_EQ(service.calls["a"], 2);
  EXPECT_EQ(h.op()->NextProcessingTimer(), 300);  // 100 + 200: exponential
  RunDue(h, 300);
  EXPECT_THAT(h.output(), ElementsAre("a:1"));
  ASSERT_EQ(h.records().size(), 1u);
  EXPECT_EQ(h.records()[0].ts, 1000);  // the result keeps the record's event time
  EXPECT_FALSE(h.op()->HoldsRecords());
  EXPECT_EQ(h.op()->NextProcessingTimer(), kMaxTimestamp);
  EXPECT_THAT(h.dead_letters(), IsEmpty());
  EXPECT_EQ(h.errors().user_errors(), 0);
}

TEST(RetryTest, ExhaustedAttemptsMakeOneDeadLetterWithTheErrorOfEveryAttempt) {
  FlakyService service;
  service.failures_left["a"] = 100;
  CallHarness h(RetryingMap(&service, Exact(3)));
  Open(h);
  h.context().clock_.Set(5000);
  h.Process(Call{"a", 7}, 1000);
  RunDue(h, 5100);
  RunDue(h, 5300);
  EXPECT_EQ(service.calls["a"], 3);
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_FALSE(h.op()->HoldsRecords());
  ASSERT_EQ(h.dead_letters().size(), 1u);
  const DeadLetter& d = h.dead_letters()[0];
  EXPECT_EQ(d.attempts, 3);
  EXPECT_THAT(d.errors, ElementsAre("503 for a (call 1)", "503 for a (call 2)", "503 for a (call 3)"));
  EXPECT_EQ(d.first_failure_ms, 5000);
  EXPECT_EQ(d.last_failure_ms, 5300);
  EXPECT_EQ(d.operator_name, kUid);
  EXPECT_EQ(d.ts, 1000);
  EXPECT_EQ(d.record, R"({"id":"a","n":7})");
  EXPECT_TRUE(d.record_is_json);
  EXPECT_EQ(h.errors().user_errors(), 0);  // a dead letter, not an error line
}

TEST(RetryTest, APermanentErrorIsADeadLetterAtOnce) {
  FlakyService service;
  service.failures_left["poison"] = -1;
  CallHarness h(RetryingMap(&service, Exact(5)));
  Open(h);
  h.Process(Call{"poison", 1}, 1000);
  EXPECT_FALSE(h.op()->HoldsRecords());
  ASSERT_EQ(h.dead_letters().size(), 1u);
  EXPECT_EQ(h.dead_letters()[0].attempts, 1);
  EXPECT_THAT(h.dead_letters()[0].errors, ElementsAre("no such id poison"));
  EXPECT_EQ(service.calls["poison"], 1);
}

TEST(RetryTest, TheRetriablePredicateDecidesWhichFailuresAreTriedAgain) {
  RetryPolicy policy = Exact(5);
  policy.retriable = [](const std::exception& e) { return dynamic_cast<const std::invalid_argument*>(&e) == nullptr; };
  int calls = 0;
  auto fn = [&calls](const Call& c, Collector<std::string>& out) {
    ++calls;
    if (c.id == "bad") throw std::invalid_argument("malformed id");
    if (calls == 2) throw std::runtime_error("timeout");
    out.Collect(c.id);
  };
  CallHarness h(std::make_unique<RetryingOperator<Call, std::string, decltype(fn)>>(fn, policy));
  Open(h);
  h.Process(Call{"bad", 1}, 1);
  h.Process(Call{"good", 1}, 2);
  ASSERT_EQ(h.dead_letters().size(), 1u);
  EXPECT_EQ(h.dead_letters()[0].attempts, 1);
  EXPECT_TRUE(h.op()->HoldsRecords());
  RunDue(h, 100);
  EXPECT_THAT(h.output(), ElementsAre("good"));
}

TEST(RetryTest, FreshRecordsOvertakeAWaitingOne) {
  FlakyService service;
  service.failures_left["a"] = 1;
  CallHarness h(RetryingMap(&service, Exact(3)));
  Open(h);
  h.Process(Call{"a", 1}, 1000);
  h.Process(Call{"b", 2}, 1001);
  h.Process(Call{"c", 3}, 1002);
  EXPECT_THAT(h.output(), ElementsAre("b:2", "c:3"));  // not held behind "a"
  RunDue(h, 100);
  EXPECT_THAT(h.output(), ElementsAre("b:2", "c:3", "a:1"));
}

TEST(RetryTest, DueRetriesRunInSlicesSoInputGetsItsTurn) {
  FlakyService service;
  const int n = 2 * kRetrySlice + 5;
  for (int i = 0; i < n; ++i) service.failures_left[absl::StrCat("r", i)] = 1;
  CallHarness h(RetryingMap(&service, Exact(3)));
  Open(h);
  for (int i = 0; i < n; ++i) h.Process(Call{absl::StrCat("r", i), i}, i);
  h.AdvanceProcessingTime(100);
  EXPECT_EQ(h.output().size(), static_cast<size_t>(kRetrySlice));  // one slice, then input again
  h.Process(Call{"fresh", 0}, 0);
  EXPECT_EQ(h.output().back(), "fresh:0");
  RunDue(h, 100);
  EXPECT_EQ(h.output().size(), static_cast<size_t>(n + 1));
}

TEST(RetryTest, FlatMapOutputIsAllOrNothingPerAttempt) {
  int calls = 0;
  auto fn = [&calls](const Call& c, Collector<std::string>& out) {
    ++calls;
    out.Collect(c.id + "-1");
    if (calls == 1) throw std::runtime_error("failed after one output");
    out.Collect(c.id + "-2");
  };
  CallHarness h(std::make_unique<RetryingOperator<Call, std::string, decltype(fn)>>(fn, Exact(3)));
  Open(h);
  h.Process(Call{"x", 1}, 10);
  EXPECT_THAT(h.output(), IsEmpty());  // the failed attempt's "x-1" is dropped
  RunDue(h, 100);
  EXPECT_THAT(h.output(), ElementsAre("x-1", "x-2"));
}

TEST(RetryTest, AnAttemptThatReturnsAfterTheTimeoutCountsAsFailed) {
  RetryPolicy policy = Exact(3);
  policy.attempt_timeout = absl::Milliseconds(50);
  kappa::testing::HarnessContext* ctx = nullptr;
  int calls = 0;
  auto fn = [&](const Call& c, Collector<std::string>& out) {
    if (++calls == 1) ctx->clock_.Advance(80);  // a slow first call
    out.Collect(c.id);
  };
  CallHarness h(std::make_unique<RetryingOperator<Call, std::string, decltype(fn)>>(fn, policy));
  ctx = &h.context();
  Open(h);
  h.Process(Call{"slow", 1}, 10);
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_TRUE(h.op()->HoldsRecords());
  RunDue(h, 180);  // failed at 80, due 100 ms later
  EXPECT_THAT(h.output(), ElementsAre("slow"));
  EXPECT_EQ(calls, 2);
}

TEST(RetryTest, MaxWaitingBlocksInputUntilRetriesDrain) {
  FlakyService service;
  RetryPolicy policy = Exact(3);
  policy.max_waiting = 3;
  for (const char* id : {"a", "b", "c", "d"}) service.failures_left[id] = 1;
  CallHarness h(RetryingMap(&service, policy));
  Open(h);
  h.Process(Call{"a", 1}, 1);
  h.Process(Call{"b", 2}, 2);
  EXPECT_FALSE(h.op()->InputBlocked());
  h.Process(Call{"c", 3}, 3);
  EXPECT_TRUE(h.op()->InputBlocked());  // the task takes no input now
  RunDue(h, 100);
  EXPECT_FALSE(h.op()->InputBlocked());
  EXPECT_THAT(h.output(), ElementsAre("a:1", "b:2", "c:3"));
}

TEST(RetryTest, TheWatermarkHoldIsTheEarliestEventTimeOfAWaitingRecord) {
  FlakyService service;
  service.failures_left["late"] = 1;
  service.failures_left["early"] = 2;
  CallHarness h(RetryingMap(&service, Exact(5)));
  Open(h);
  EXPECT_EQ(h.op()->WatermarkHold(), kMaxTimestamp);
  h.Process(Call{"late", 1}, 5000);
  h.Process(Call{"early", 2}, 2000);
  h.Process(Call{"ok", 3}, 1000);
  EXPECT_EQ(h.op()->WatermarkHold(), 2000);
  RunDue(h, 100);  // "late" succeeds, "early" fails again
  EXPECT_EQ(h.op()->WatermarkHold(), 2000);
  RunDue(h, 300);
  EXPECT_EQ(h.op()->WatermarkHold(), kMaxTimestamp);
}

// Snapshots a harness's operator state and returns it as a restore would see it.
checkpoint::RestoredState Snapshot(CallHarness& h) {
  checkpoint::TaskSnapshot snap;
  EXPECT_TRUE(h.SnapshotState(1, &snap).ok());
  checkpoint::RestoredState restored;
  restored.checkpoint_id = 1;
  restored.operator_states = snap.operator_states;
  return restored;
}

TEST(RetryTest, WaitingRetriesComeBackAfterARestoreWithTheirAttemptsAndDueTimes) {
  FlakyService service;
  service.failures_left["a"] = 1;
  service.failures_left["b"] = 5;
  CallHarness h(RetryingMap(&service, Exact(3)));
  Open(h);
  h.context().clock_.Set(1000);
  h.Process(Call{"a", 1}, 10);  // due at 1100
  h.context().origin_ = {.partition = 3, .offset = 1234};
  h.Process(Call{"b", 2}, 20);
  h.context().origin_ = {};
  RunDue(h, 1100);              // "a" succeeds; "b" failed twice, due at 1300
  EXPECT_THAT(h.output(), ElementsAre("a:1"));
  const checkpoint::RestoredState restored = Snapshot(h);

  CallHarness after(RetryingMap(&service, Exact(3)));
  after.context().restored_ = &restored;
  after.context().clock_.Set(1200);
  Open(after);
  EXPECT_TRUE(after.op()->HoldsRecords());
  EXPECT_EQ(after.op()->NextProcessingTimer(), 1300);  // the remaining backoff
  EXPECT_EQ(after.op()->WatermarkHold(), 20);
  RunDue(after, 1300);
  ASSERT_EQ(after.dead_letters().size(), 1u);  // its third attempt was its last
  EXPECT_EQ(after.dead_letters()[0].attempts, 3);
  EXPECT_EQ(after.dead_letters()[0].errors.size(), 3u);
  EXPECT_EQ(after.dead_letters()[0].first_failure_ms, 1000);
  EXPECT_EQ(after.dead_letters()[0].partition, 3);  // where it was read, not where it ended
  EXPECT_EQ(after.dead_letters()[0].offset, 1234);
}

TEST(RetryTest, AtAnotherParallelismEveryWaitingRecordGoesToExactlyOneInstance) {
  FlakyService service;
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(absl::StrCat("r", i));
    service.failures_left[ids.back()] = 1;
  }
  CallHarness h(RetryingMap(&service, Exact(3)));
  Open(h);
  for (int i = 0; i < 7; ++i) h.Process(Call{ids[i], i}, i);
  const checkpoint::RestoredState restored = Snapshot(h);

  std::vector<std::string> outputs;
  for (int subtask = 0; subtask < 3; ++subtask) {
    CallHarness after(RetryingMap(&service, Exact(3)));
    after.context().restored_ = &restored;
    after.context().subtask_ = subtask;
    after.context().parallelism_ = 3;
    Open(after);
    RunDue(after, 100);
    EXPECT_FALSE(after.output().empty());
    for (const std::string& s : after.output()) outputs.push_back(s);
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) expected.push_back(absl::StrCat(ids[i], ":", i));
  EXPECT_THAT(outputs, UnorderedElementsAreArray(expected));
}

// Counts visits per user in keyed state; the first attempt of every visit with n == 2
// fails (after reading the state), so its retry runs after other users' visits. The
// failures made are shared by every copy (instance) of the function.
class CountVisits : public KeyedProcessFunction<std::string, Visit, std::string> {
 public:
  explicit CountVisits(std::shared_ptr<std::set<std::string>> failed) : failed_(std::move(failed)) {}
  void Open(RuntimeContext& ctx) override { count_ = ctx.GetValueState<int64_t>("count"); }
  void ProcessElement(const Visit& v, Context& ctx, Collector<std::string>& out) override {
    if (ctx.current_key() != v.user) throw PermanentError("wrong key");
    const int64_t count = count_.Value().value_or(0) + 1;
    if (v.n == 2 && failed_->insert(v.user + "/" + std::to_string(v.n)).second) throw std::runtime_error("503");
    count_.Update(count);
    out.Collect(absl::StrCat(v.user, "#", count, "@", ctx.timestamp()));
  }

 private:
  ValueState<int64_t> count_;
  std::shared_ptr<std::set<std::string>> failed_;
};

using VisitHarness = OperatorHarness<Visit, std::string>;

std::unique_ptr<runtime::OperatorBase> CountingOperator(std::shared_ptr<std::set<std::string>> failed) {
  return std::make_unique<KeyedProcessOperator<std::string, Visit, std::string>>(
      [](const Visit& v) { return v.user; }, std::make_unique<CountVisits>(std::move(failed)), "visits", Exact(3));
}

TEST(RetryTest, AKeyedProcessFunctionRetriesWithItsKeysState) {
  VisitHarness h(CountingOperator(std::make_shared<std::set<std::string>>()));
  ASSERT_TRUE(h.Open().ok());
  h.Process(Visit{"ann", 1}, 100);
  h.Process(Visit{"ann", 2}, 200);  // fails once
  h.Process(Visit{"bob", 1}, 300);
  h.Process(Visit{"bob", 2}, 400);  // fails once
  h.Process(Visit{"cy", 1}, 500);
  EXPECT_THAT(h.output(), ElementsAre("ann#1@100", "bob#1@300", "cy#1@500"));
  h.AdvanceProcessingTime(100);
  EXPECT_THAT(h.output(), ElementsAre("ann#1@100", "bob#1@300", "cy#1@500", "ann#2@200", "bob#2@400"));
  EXPECT_THAT(h.dead_letters(), IsEmpty());
}

TEST(RetryTest, AKeyedOperatorTakesOverTheWaitingRecordsOfItsOwnKeyGroups) {
  auto failed = std::make_shared<std::set<std::string>>();
  VisitHarness h(CountingOperator(failed));
  h.context().name_ = "visits";
  ASSERT_TRUE(h.Open().ok());
  std::vector<std::string> expected;
  for (int i = 0; i < 12; ++i) {
    h.Process(Visit{absl::StrCat("u", i), 2}, i);  // every one fails its first attempt
    expected.push_back(absl::StrCat("u", i, "#1@", i));
  }
  checkpoint::TaskSnapshot snap;
  ASSERT_TRUE(h.SnapshotState(1, &snap).ok());
  checkpoint::RestoredState restored;
  restored.operator_states = snap.operator_states;

  std::vector<std::string> outputs;
  for (int subtask = 0; subtask < 2; ++subtask) {
    VisitHarness after(CountingOperator(failed));
    after.context().restored_ = &restored;
    after.context().subtask_ = subtask;
    after.context().parallelism_ = 2;
    after.context().name_ = "visits";
    ASSERT_TRUE(after.Open().ok());
    after.AdvanceProcessingTime(100);
    const state::KeyGroupRange mine = state::KeyGroupRange::ForOperator(128, 2, subtask);
    for (const std::string& s : after.output()) {
      std::string user = s.substr(0, s.find('#'));
      std::string bytes;
      Serializer<std::string>::Write(user, &bytes);
      EXPECT_TRUE(mine.Contains(state::KeyGroupFor(bytes, 128))) << user << " restored in instance " << subtask;
      outputs.push_back(s);
    }
  }
  EXPECT_THAT(outputs, UnorderedElementsAreArray(expected));
}

// A call for a user is answered only after the user's visit arrived (keyed state): a call
// that comes first fails and is retried.
class CallsAfterVisits : public KeyedCoProcessFunction<std::string, Visit, Call, std::string> {
 public:
  void Open(RuntimeContext& ctx) override { seen_ = ctx.GetValueState<bool>("seen"); }
  void ProcessElement1(const Visit& v, Context& ctx, Collector<std::string>& out) override {
    seen_.Update(true);
    out.Collect("visit:" + v.user);
  }
  void ProcessElement2(const Call& c, Context& ctx, Collector<std::string>& out) override {
    if (ctx.current_key() != c.id) throw PermanentError("wrong key");
    if (!seen_.Value().value_or(false)) throw std::runtime_error("no visit yet");
    out.Collect("call:" + c.id);
  }

 private:
  ValueState<bool> seen_;
};

using CoOperator = KeyedCoProcessOperator<std::string, Visit, Call, std::string>;

std::unique_ptr<CoOperator> CallsAfterVisitsOperator() {
  return std::make_unique<CoOperator>([](const Visit& v) { return v.user; }, [](const Call& c) { return c.id; },
                                      std::make_unique<CallsAfterVisits>(), "co", Exact(3));
}

TEST(RetryTest, AKeyedCoProcessFunctionRetriesEachInputWithItsKeysState) {
  auto owned = CallsAfterVisitsOperator();
  CoOperator* op = owned.get();
  kappa::testing::TwoInputHarness<Visit, Call, std::string> h(std::move(owned));
  h.context().name_ = "co";
  ASSERT_TRUE(h.Open().ok());
  h.ProcessRight(Call{"ann", 1}, 10);  // before ann's visit: waits
  h.ProcessLeft(Visit{"bob", 1}, 20);
  h.ProcessLeft(Visit{"ann", 1}, 30);
  EXPECT_THAT(h.output(), ElementsAre("visit:bob", "visit:ann"));
  EXPECT_EQ(op->WatermarkHold(), 10);
  EXPECT_EQ(op->NextProcessingTimer(), 100);

  // A checkpoint now: the waiting call is the second input's entry.
  checkpoint::TaskSnapshot snap;
  ASSERT_TRUE(op->SnapshotState(1, &snap).ok());
  checkpoint::RestoredState restored;
  restored.operator_states = snap.operator_states;
  EXPECT_EQ(restored.OperatorEntriesFor("co/2", 0, 1).size(), 1u);
  EXPECT_TRUE(restored.OperatorEntriesFor("co/1", 0, 1).empty());

  h.context().clock_.Set(100);
  ASSERT_TRUE(op->AdvanceProcessingTime(100));
  EXPECT_THAT(h.output(), ElementsAre("visit:bob", "visit:ann", "call:ann"));
  EXPECT_FALSE(op->HoldsRecords());

  // Restored without ann's visit in state, the call waits again and ends as a dead letter.
  auto again = CallsAfterVisitsOperator();
  CoOperator* restored_op = again.get();
  kappa::testing::TwoInputHarness<Visit, Call, std::string> after(std::move(again));
  after.context().name_ = "co";
  after.context().restored_ = &restored;
  ASSERT_TRUE(after.Open().ok());
  EXPECT_TRUE(restored_op->HoldsRecords());
  for (Timestamp now : {100, 300}) {
    after.context().clock_.Set(now);
    ASSERT_TRUE(restored_op->AdvanceProcessingTime(now));
  }
  ASSERT_EQ(after.context().dead_letters_.size(), 1u);
  EXPECT_EQ(after.context().dead_letters_[0].attempts, 3);
  EXPECT_EQ(after.context().dead_letters_[0].operator_name, "co");
}

TEST(RetryTest, BadPoliciesAreNamed) {
  RetryPolicy p = Exact(0);
  EXPECT_EQ(ValidateRetryPolicy(p), "retry policy: max_attempts must be at least 1");
  p = Exact(3);
  p.jitter = 2;
  EXPECT_EQ(ValidateRetryPolicy(p), "retry policy: jitter must be within [0, 1]");
  p = Exact(3);
  p.max_waiting = 0;
  EXPECT_EQ(ValidateRetryPolicy(p), "retry policy: max_waiting must be at least 1");
  EXPECT_EQ(ValidateRetryPolicy(Exact(3)), "");
}

}  // namespace
}  // namespace kappa::operators
