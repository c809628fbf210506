// Work stealing between the channels of one producer instance (channel.h): a consumer
// with an empty channel takes a sibling's batch only when the batch lies after exactly as
// many control messages as the consumer has received.
#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "kappa/runtime/channel.h"
#include "kappa/runtime/scheduler.h"

namespace kappa::runtime {
namespace {

class InertTask : public Task {
 public:
  InertTask() : Task("inert") {}
  StepResult Step() override { return StepResult::kFinished; }
};

// Batch number `n` (the channel moves messages; it never looks into a batch).
Message BatchNumber(int64_t n) { return Message{MessageKind::kBatch, n, nullptr}; }

class ChannelStealTest : public ::testing::Test {
 protected:
  ChannelStealTest() {
    scheduler_.Add(&producer_);
    scheduler_.Add(&thief_task_);
    scheduler_.Add(&owner_task_);
    group_ = {&thief_, &owner_};
    thief_.JoinStealGroup(&group_);
    owner_.JoinStealGroup(&group_);
  }
  void Push(Channel& c, Message m) { ASSERT_TRUE(c.TryPush(m)); }
  // What the next TryPop gives: a batch's number, -1 for a watermark, nullopt for nothing.
  std::optional<int64_t> Pop(Channel& c) {
    std::optional<Message> m = c.TryPop();
    if (!m) return std::nullopt;
    return m->kind == MessageKind::kBatch ? m->value : -1;
  }

  Scheduler scheduler_{1};
  InertTask producer_, thief_task_, owner_task_;
  Channel thief_{8, &producer_, &thief_task_};
  Channel owner_{8, &producer_, &owner_task_};
  std::vector<Channel*> group_;
};

TEST_F(ChannelStealTest, TakesOnlyBatchesBetweenTheSameControlMessages) {
  // The producer sent batch 1 to the owner, a watermark to both (the thief's is still on
  // its way), then batch 2 to the owner.
  Push(owner_, BatchNumber(1));
  Push(owner_, Message::Watermark(100));
  Push(owner_, BatchNumber(2));

  // The thief has received no control message: batch 1 (before the watermark) is its to take.
  EXPECT_EQ(Pop(thief_), 1);
  // Batch 2 lies after the watermark, which the thief has not received yet.
  EXPECT_EQ(Pop(thief_), std::nullopt);
  Push(thief_, Message::Watermark(100));
  EXPECT_EQ(Pop(thief_), -1);
  // Now batch 2 lies between the same two control messages for both.
  EXPECT_EQ(Pop(thief_), 2);
  EXPECT_EQ(Pop(thief_), std::nullopt);
  // The owner gets what is left, in order.
  EXPECT_EQ(Pop(owner_), -1);
  EXPECT_EQ(Pop(owner_), std::nullopt);
  EXPECT_EQ(thief_.stolen(), 2);
}

TEST_F(ChannelStealTest, BeforePassingABarrierAThiefTakesTheBatchesStillBeforeIt) {
  Push(owner_, BatchNumber(1));
  Push(owner_, Message::Control(MessageKind::kBarrier, 7));
  Push(thief_, Message::Control(MessageKind::kBarrier, 7));
  // The thief's own channel holds barrier 7; batch 1 of its sibling lies before it.
  EXPECT_EQ(Pop(thief_), 1);
  EXPECT_EQ(Pop(thief_), -1);  // then the barrier
  EXPECT_EQ(Pop(owner_), -1);  // the owner reaches the barrier at once
  EXPECT_EQ(Pop(owner_), std::nullopt);
}

TEST_F(ChannelStealTest, BatchesFromBeforeAControlTheThiefPassedStayWithTheirOwner) {
  // The owner's channel was full: batch 1 and the barrier reach it after the thief has
  // already taken the barrier from its own.
  Push(thief_, Message::Control(MessageKind::kBarrier, 7));
  EXPECT_EQ(Pop(thief_), -1);
  Push(owner_, BatchNumber(1));
  Push(owner_, Message::Control(MessageKind::kBarrier, 7));
  // Batch 1 is from before barrier 7, which the thief has passed: not stealable.
  EXPECT_EQ(Pop(thief_), std::nullopt);
  EXPECT_EQ(Pop(owner_), 1);
  EXPECT_EQ(Pop(owner_), -1);
  EXPECT_EQ(thief_.stolen(), 0);
}

TEST_F(ChannelStealTest, AChannelOutsideAGroupNeverSteals) {
  Channel alone(8, &producer_, &thief_task_);
  Push(owner_, BatchNumber(1));
  EXPECT_EQ(Pop(alone), std::nullopt);
  EXPECT_EQ(Pop(owner_), 1);
}

}  // namespace
}  // namespace kappa::runtime
