#include "kappa/operators/async.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/testing/harness.h"
#include "kappa/testing/status_matchers.h"

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Calls the operator started and not yet answered: the test completes them, in any order.
struct PendingCalls {
  struct Call {
    int64_t input;
    AsyncResult<std::string> result;
  };
  std::vector<Call> calls;

  auto Fn() {
    return [this](const int64_t& in, AsyncResult<std::string> result) { calls.push_back({in, std::move(result)}); };
  }
  // The most recent call for `input`.
  AsyncResult<std::string> For(int64_t input) const {
    for (size_t i = calls.size(); i-- > 0;) {
      if (calls[i].input == input) return calls[i].result;
    }
    ADD_FAILURE() << "no call for " << input;
    return {};
  }
  int CountFor(int64_t input) const {
    int n = 0;
    for (const Call& c : calls) n += c.input == input;
    return n;
  }
};

using Fn = decltype(std::declval<PendingCalls&>().Fn());
using Harness = kappa::testing::OperatorHarness<int64_t, std::string>;

std::unique_ptr<Harness> Make(PendingCalls* calls, AsyncOptions options) {
  auto h = std::make_unique<Harness>(std::make_unique<AsyncMapOperator<int64_t, std::string, Fn>>(calls->Fn(), options));
  h->context().name_ = "lookup";
  return h;
}

RetryPolicy NoJitter(int attempts, int64_t backoff_ms) {
  RetryPolicy p = RetryPolicy::Exponential(attempts, absl::Milliseconds(backoff_ms), absl::Seconds(10));
  p.jitter = 0;
  return p;
}

TEST(AsyncMapTest, OrderedModeEmitsInInputOrderWhateverOrderCallsComplete) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 8, .order = AsyncOrder::kOrdered});
  ASSERT_OK(h->Open());
  for (int64_t i = 1; i <= 3; ++i) h->Process(i, /*ts=*/i * 10);
  ASSERT_THAT(calls.calls, SizeIs(3));
  calls.For(3).Complete("c");
  calls.For(2).Complete("b");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), IsEmpty());  // 1 is still open: 2 and 3 wait behind it
  calls.For(1).Complete("a");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("a", "b", "c"));
  EXPECT_EQ(h->records()[2].ts, 30);
  EXPECT_FALSE(h->op()->HoldsRecords());
}

TEST(AsyncMapTest, UnorderedModeEmitsResultsAsTheyComplete) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 8, .order = AsyncOrder::kUnordered});
  ASSERT_OK(h->Open());
  for (int64_t i = 1; i <= 3; ++i) h->Process(i, i * 10);
  calls.For(3).Complete("c");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("c"));
  calls.For(1).Complete("a");
  calls.For(2).Complete("b");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("c", "a", "b"));
}

TEST(AsyncMapTest, CompletionFromAnotherThreadWakesTheTask) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 8});
  ASSERT_OK(h->Open());
  h->Process(7, 70);
  EXPECT_FALSE(h->context().waker_->pending());
  std::thread([r = calls.For(7)] { r.Complete("seven"); }).join();
  EXPECT_TRUE(h->context().waker_->pending());
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("seven"));
}

TEST(AsyncMapTest, AtCapacityItRefusesInputAndStartsWaitingRecordsAsCallsFinish) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 2, .order = AsyncOrder::kUnordered});
  ASSERT_OK(h->Open());
  EXPECT_FALSE(h->op()->InputBlocked());
  h->Process(1, 10);
  EXPECT_FALSE(h->op()->InputBlocked());
  // A batch of three arrives at once: two calls start, the third waits unstarted.
  runtime::Batch<int64_t> batch;
  for (int64_t i = 2; i <= 4; ++i) batch.records.push_back({i, i * 10});
  h->op()->ProcessBatch(0, &batch);
  EXPECT_THAT(calls.calls, SizeIs(2));
  EXPECT_TRUE(h->op()->InputBlocked());
  calls.For(1).Complete("1");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(calls.calls, SizeIs(3));  // 3 started in the slot 1 freed
  EXPECT_TRUE(h->op()->InputBlocked());
  calls.For(2).Complete("2");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(calls.calls, SizeIs(4));
  EXPECT_TRUE(h->op()->InputBlocked());  // 3 and 4 open: at capacity
  calls.For(3).Complete("3");
  ASSERT_TRUE(h->Wake());
  EXPECT_FALSE(h->op()->InputBlocked());
  EXPECT_THAT(h->output(), ElementsAre("1", "2", "3"));
}

TEST(AsyncMapTest, ACallThatDoesNotCompleteInTimeFailsAndALateAnswerIsIgnored) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 4, .timeout = absl::Milliseconds(100), .retry = NoJitter(2, 50)});
  ASSERT_OK(h->Open());
  h->Process(5, 50);
  EXPECT_EQ(h->op()->NextProcessingTimer(), 100);
  AsyncResult<std::string> first = calls.For(5);
  h->AdvanceProcessingTime(99);
  EXPECT_THAT(calls.calls, SizeIs(1));
  h->AdvanceProcessingTime(100);  // attempt 1 times out; attempt 2 is due at 150
  EXPECT_EQ(h->op()->NextProcessingTimer(), 150);
  first.Complete("too late");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), IsEmpty());
  h->AdvanceProcessingTime(150);
  ASSERT_THAT(calls.calls, SizeIs(2));
  h->AdvanceProcessingTime(250);  // attempt 2 times out too: the last one
  ASSERT_THAT(h->dead_letters(), SizeIs(1));
  const DeadLetter& d = h->dead_letters()[0];
  EXPECT_EQ(d.kind, "timeout");
  EXPECT_EQ(d.attempts, 2);
  EXPECT_THAT(d.errors, ElementsAre("timeout after 100 ms", "timeout after 100 ms"));
  EXPECT_EQ(d.first_failure_ms, 100);
  EXPECT_EQ(d.last_failure_ms, 250);
  EXPECT_FALSE(h->op()->HoldsRecords());
}

TEST(AsyncMapTest, AFailedCallIsRetriedAfterItsBackoffWithoutHoldingUpOthers) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 4, .order = AsyncOrder::kUnordered, .retry = NoJitter(3, 100)});
  ASSERT_OK(h->Open());
  h->Process(1, 10);
  calls.For(1).Fail("503 Service Unavailable");
  ASSERT_TRUE(h->Wake());
  EXPECT_EQ(h->op()->NextProcessingTimer(), 100);  // backoff 100 ms
  h->Process(2, 20);  // a fresh record goes ahead meanwhile
  calls.For(2).Complete("two");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("two"));
  h->AdvanceProcessingTime(100);
  EXPECT_EQ(calls.CountFor(1), 2);
  calls.For(1).Fail("503 Service Unavailable");
  h->context().clock_.Set(150);
  ASSERT_TRUE(h->Wake());
  EXPECT_EQ(h->op()->NextProcessingTimer(), 350);  // 100 · 2
  h->AdvanceProcessingTime(350);
  EXPECT_EQ(calls.CountFor(1), 3);
  calls.For(1).Complete("one");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("two", "one"));
  EXPECT_THAT(h->dead_letters(), IsEmpty());
}

TEST(AsyncMapTest, AfterTheLastAttemptTheRecordIsADeadLetterWithEveryError) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 4, .retry = NoJitter(3, 10)});
  ASSERT_OK(h->Open());
  h->context().clock_.Set(1000);
  h->context().origin_ = {3, 1234};  // the source is emitting partition 3's record at 1234
  h->Process(9, 90);
  h->context().origin_ = {};
  calls.For(9).Fail("503 one");
  ASSERT_TRUE(h->Wake());
  h->AdvanceProcessingTime(1010);
  calls.For(9).Fail(std::make_exception_ptr(std::runtime_error("connection refused")));
  ASSERT_TRUE(h->Wake());
  h->AdvanceProcessingTime(1030);
  h->context().clock_.Set(1040);
  calls.For(9).Fail("503 three");
  ASSERT_TRUE(h->Wake());
  EXPECT_EQ(calls.CountFor(9), 3);
  ASSERT_THAT(h->dead_letters(), SizeIs(1));
  const DeadLetter& d = h->dead_letters()[0];
  EXPECT_EQ(d.record, "9");
  EXPECT_THAT(d.errors, ElementsAre("503 one", "connection refused", "503 three"));
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(d.first_failure_ms, 1000);
  EXPECT_EQ(d.last_failure_ms, 1040);
  EXPECT_EQ(d.operator_name, "lookup");
  EXPECT_EQ(d.ts, 90);
  EXPECT_EQ(d.partition, 3);
  EXPECT_EQ(d.offset, 1234);
  EXPECT_EQ(d.kind, "user");
  EXPECT_THAT(h->output(), IsEmpty());
  EXPECT_FALSE(h->op()->HoldsRecords());
}

TEST(AsyncMapTest, APermanentErrorOrAThrowingFunctionIsNotRetried) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 4, .retry = NoJitter(5, 10)});
  ASSERT_OK(h->Open());
  h->Process(1, 10);
  calls.For(1).FailPermanently("404 no such person");
  ASSERT_TRUE(h->Wake());
  ASSERT_THAT(h->dead_letters(), SizeIs(1));
  EXPECT_EQ(h->dead_letters()[0].attempts, 1);
  EXPECT_THAT(h->dead_letters()[0].errors, ElementsAre("404 no such person"));

  auto throwing = [](const int64_t&, AsyncResult<std::string>) { throw PermanentError("bad id"); };
  kappa::testing::OperatorHarness<int64_t, std::string> t(
      std::make_unique<AsyncMapOperator<int64_t, std::string, decltype(throwing)>>(throwing, AsyncOptions{.retry = NoJitter(5, 10)}));
  ASSERT_OK(t.Open());
  t.Process(2, 20);
  ASSERT_THAT(t.dead_letters(), SizeIs(1));
  EXPECT_THAT(t.dead_letters()[0].errors, ElementsAre("bad id"));
}

TEST(AsyncMapTest, OrderedModeKeepsOrderAroundADeadLetter) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 4, .order = AsyncOrder::kOrdered});
  ASSERT_OK(h->Open());
  for (int64_t i = 1; i <= 3; ++i) h->Process(i, i);
  calls.For(3).Complete("c");
  calls.For(2).Fail("boom");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), IsEmpty());
  EXPECT_THAT(h->dead_letters(), SizeIs(1));
  calls.For(1).Complete("a");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("a", "c"));
}

TEST(AsyncMapTest, TheHoldIsTheEarliestEventTimeOfEveryRecordItHolds) {
  PendingCalls calls;
  auto h = Make(&calls, {.capacity = 2, .order = AsyncOrder::kUnordered});
  ASSERT_OK(h->Open());
  EXPECT_EQ(h->op()->WatermarkHold(), kMaxTimestamp);
  runtime::Batch<int64_t> batch;
  batch.records = {{1, 300}, {2, 100}, {3, 200}};  // 3 waits unstarted: it is held too
  h->op()->ProcessBatch(0, &batch);
  EXPECT_EQ(h->op()->WatermarkHold(), 100);
  calls.For(2).Complete("2");
  ASSERT_TRUE(h->Wake());
  EXPECT_EQ(h->op()->WatermarkHold(), 200);
  calls.For(3).Complete("3");
  calls.For(1).Complete("1");
  ASSERT_TRUE(h->Wake());
  EXPECT_EQ(h->op()->WatermarkHold(), kMaxTimestamp);
}

TEST(AsyncMapTest, OpenCallsAreCheckpointedAndMadeAgainAfterARestoreWithTheirAttempts) {
  PendingCalls calls;
  checkpoint::TaskSnapshot snapshot;
  {
    auto h = Make(&calls, {.capacity = 2, .order = AsyncOrder::kUnordered, .retry = NoJitter(3, 100)});
    ASSERT_OK(h->Open());
    runtime::Batch<int64_t> batch;
    batch.records = {{1, 10}, {2, 20}, {3, 30}, {4, 40}};
    h->context().origin_ = {0, 77};
    h->op()->ProcessBatch(0, &batch);
    calls.For(1).Fail("503");  // 1 waits for its retry, 2 is in flight, 3 and 4 are unstarted
    calls.For(2).Complete("done before the barrier");
    ASSERT_TRUE(h->Wake());
    EXPECT_THAT(h->output(), ElementsAre("done before the barrier"));
    calls.For(3).Complete("completed, not yet taken when the barrier came");
    ASSERT_OK(h->SnapshotState(1, &snapshot));
    EXPECT_THAT(h->output(), ElementsAre("done before the barrier", "completed, not yet taken when the barrier came"));
  }
  ASSERT_THAT(snapshot.operator_states, SizeIs(1));
  EXPECT_EQ(snapshot.operator_states[0].operator_uid, "lookup");
  EXPECT_THAT(snapshot.operator_states[0].entries, SizeIs(2));  // 1 and 4

  checkpoint::RestoredState restored;
  restored.operator_states = snapshot.operator_states;
  PendingCalls after;
  auto h = Make(&after, {.capacity = 2, .order = AsyncOrder::kUnordered, .retry = NoJitter(3, 100)});
  h->context().restored_ = &restored;
  ASSERT_OK(h->Open());
  EXPECT_EQ(h->op()->WatermarkHold(), 10);
  EXPECT_TRUE(h->op()->InputBlocked());  // restored calls go first
  ASSERT_TRUE(h->Wake());                 // the task's first step
  ASSERT_THAT(after.calls, SizeIs(2));
  EXPECT_EQ(after.calls[0].input, 1);
  EXPECT_EQ(after.calls[1].input, 4);
  // 1 failed once before the restore: two attempts are left.
  after.For(1).Fail("503");
  ASSERT_TRUE(h->Wake());
  h->AdvanceProcessingTime(1000);
  after.For(1).Fail("503 again");
  ASSERT_TRUE(h->Wake());
  ASSERT_THAT(h->dead_letters(), SizeIs(1));
  EXPECT_EQ(h->dead_letters()[0].attempts, 3);
  EXPECT_THAT(h->dead_letters()[0].errors, ElementsAre("503", "503", "503 again"));
  EXPECT_EQ(h->dead_letters()[0].offset, 77);  // the origin came back with the call
  after.For(4).Complete("four");
  ASSERT_TRUE(h->Wake());
  EXPECT_THAT(h->output(), ElementsAre("four"));
  EXPECT_EQ(h->records()[0].ts, 40);
}

TEST(AsyncMapTest, AnUnreadableCheckpointedCallFailsTheOpen) {
  checkpoint::RestoredState restored;
  restored.operator_states.push_back({"lookup", 0, 1, {"garbage"}});
  PendingCalls calls;
  auto h = Make(&calls, {});
  h->context().restored_ = &restored;
  absl::Status s = h->Open();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_EQ(s.message(), "a checkpointed async call of 'lookup' cannot be read");
}

TEST(AsyncMapTest, ACompletionAfterTheOperatorWentAwayIsIgnored) {
  PendingCalls calls;
  AsyncResult<std::string> kept;
  {
    auto h = Make(&calls, {});
    ASSERT_OK(h->Open());
    h->Process(1, 10);
    kept = calls.For(1);
  }
  kept.Complete("nobody listens");  // must not crash
  SUCCEED();
}

}  // namespace
}  // namespace kappa::operators
