#include "kappa/runtime/channel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/runtime/scheduler.h"

namespace kappa::runtime {
namespace {

using ::testing::ElementsAreArray;

// A task that is only ever notified (its scheduler never starts): enough for a channel.
class InertTask : public Task {
 public:
  InertTask() : Task("inert") {}
  StepResult Step() override { return StepResult::kFinished; }
};

class ChannelTest : public ::testing::Test {
 protected:
  ChannelTest() {
    scheduler_.Add(&producer_);
    scheduler_.Add(&consumer_);
  }
  Scheduler scheduler_{1};
  InertTask producer_, consumer_;
};

TEST_F(ChannelTest, FullChannelRefusesPushUntilAPopFreesASlot) {
  Channel ch(2, &producer_, &consumer_);
  Message a = Message::Watermark(1), b = Message::Watermark(2), c = Message::Watermark(3);
  EXPECT_TRUE(ch.TryPush(a));
  EXPECT_TRUE(ch.TryPush(b));
  EXPECT_FALSE(ch.TryPush(c));
  EXPECT_EQ(ch.size(), 2u);
  EXPECT_EQ(c.value, 3) << "a refused message stays with the producer";
  ASSERT_TRUE(ch.TryPop().has_value());
  EXPECT_TRUE(ch.TryPush(c));
  EXPECT_EQ(ch.size(), 2u);
}

TEST_F(ChannelTest, DeliversDataAndControlMessagesInTheOrderSent) {
  Channel ch(8, &producer_, &consumer_);
  std::vector<Message> sent;
  sent.push_back(Message::Watermark(10));
  sent.push_back(Message::Control(MessageKind::kBarrier, 7));
  sent.push_back(Message::Control(MessageKind::kIdle));
  sent.push_back(Message::Watermark(20));
  sent.push_back(Message::Control(MessageKind::kEndOfStream));
  for (Message& m : sent) ASSERT_TRUE(ch.TryPush(m));
  std::vector<std::pair<MessageKind, int64_t>> got;
  while (auto m = ch.TryPop()) got.emplace_back(m->kind, m->value);
  EXPECT_THAT(got, ElementsAreArray(std::vector<std::pair<MessageKind, int64_t>>{
                       {MessageKind::kWatermark, 10},
                       {MessageKind::kBarrier, 7},
                       {MessageKind::kIdle, 0},
                       {MessageKind::kWatermark, 20},
                       {MessageKind::kEndOfStream, 0}}));
}

TEST_F(ChannelTest, EmptyChannelPopsNothing) {
  Channel ch(1, &producer_, &consumer_);
  EXPECT_FALSE(ch.TryPop().has_value());
}

TEST_F(ChannelTest, CapacityBelowOneMeansOne) {
  Channel ch(0, &producer_, &consumer_);
  EXPECT_EQ(ch.capacity(), 1u);
  Message a = Message::Watermark(1), b = Message::Watermark(2);
  EXPECT_TRUE(ch.TryPush(a));
  EXPECT_FALSE(ch.TryPush(b));
}

TEST_F(ChannelTest, OutputChannelHoldsWhatDidNotFitInOrderAndFlushesAsSpaceFrees) {
  Channel ch(1, &producer_, &consumer_);
  OutputChannel out(&ch);
  for (int i = 1; i <= 3; ++i) out.Send(Message::Watermark(i));
  EXPECT_EQ(out.pending(), 2u);
  EXPECT_FALSE(out.Flush());
  std::vector<int64_t> got;
  while (true) {
    auto m = ch.TryPop();
    if (!m) break;
    got.push_back(m->value);
    out.Flush();
  }
  EXPECT_THAT(got, ElementsAreArray({1, 2, 3}));
  EXPECT_FALSE(out.has_pending());
}

// A producer and a consumer task on a real scheduler, through a channel of capacity 2.
// The producer sends until refused and then blocks; only the consumer's pop can wake it,
// and only the producer's push can wake the idle consumer. A missed wake-up hangs the
// run, which the watchdog turns into a failure.
class PipeTest : public ::testing::TestWithParam<int> {};

constexpr int kMessages = 5000;

class Producer : public Task {
 public:
  Producer() : Task("producer") {}
  void Connect(Channel* ch) { ch_ = ch; }
  StepResult Step() override {
    while (next_ <= kMessages) {
      Message m = next_ == kMessages ? Message::Control(MessageKind::kEndOfStream) : Message::Watermark(next_);
      if (!ch_->TryPush(m)) {
        ++refused;
        return StepResult::kBlocked;
      }
      ++next_;
    }
    return StepResult::kFinished;
  }
  int refused = 0;

 private:
  Channel* ch_ = nullptr;
  int next_ = 0;
};

class Consumer : public Task {
 public:
  Consumer() : Task("consumer") {}
  void Connect(Channel* ch) { ch_ = ch; }
  StepResult Step() override {
    while (true) {
      max_size = std::max(max_size, ch_->size());
      auto m = ch_->TryPop();
      if (!m) return StepResult::kIdle;
      if (m->kind == MessageKind::kEndOfStream) return StepResult::kFinished;
      received.push_back(m->value);
    }
  }
  std::vector<int64_t> received;
  size_t max_size = 0;

 private:
  Channel* ch_ = nullptr;
};

TEST_P(PipeTest, BackpressureBlocksTheProducerAndTheConsumerWakesIt) {
  Producer producer;
  Consumer consumer;
  Channel ch(2, &producer, &consumer);
  producer.Connect(&ch);
  consumer.Connect(&ch);
  Scheduler scheduler(GetParam());
  scheduler.Add(&producer);
  scheduler.Add(&consumer);
  scheduler.Start();
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::minutes(1), [&] { return done; })) {
      scheduler.Fail(absl::DeadlineExceededError("a wake-up was lost: the pipe hung"));
    }
  });
  absl::Status status = scheduler.Wait();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  ASSERT_TRUE(status.ok()) << status;
  std::vector<int64_t> expected(kMessages);
  for (int i = 0; i < kMessages; ++i) expected[i] = i;
  EXPECT_EQ(consumer.received, expected);
  EXPECT_LE(consumer.max_size, 2u);
  if (GetParam() == 1) {
    EXPECT_GT(producer.refused, 0) << "one worker: the producer fills the channel first";
  }
}

INSTANTIATE_TEST_SUITE_P(Workers, PipeTest, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace kappa::runtime
