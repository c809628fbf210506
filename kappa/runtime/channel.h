// A bounded FIFO of messages between one producer task and one consumer task.
//
// Capacity counts messages (a batch is one message), so memory per channel is bounded by
// capacity × batch size. A full channel refuses TryPush and remembers that the producer
// waits; the next TryPop that frees a slot notifies it. An empty channel remembers that the
// consumer waits; the next TryPush notifies it. Nothing is ever dropped and a channel never
// grows past its capacity: that is the engine's backpressure.
//
// Thread-safety: TryPush from the producer's thread, TryPop from the consumer's thread,
// concurrently. The lock is taken once per batch, not per record. queued() may be read by
// any thread without the lock (the monitor's channel fill).
//
// Work stealing (Partitioning::kSteal): the channels from one producer instance to every
// consumer instance of an edge form a steal group. A consumer whose own channel is empty
// takes a batch queued in a sibling channel instead: the first one that follows exactly as
// many control messages (watermarks, barriers, idleness, end) as the thief has received,
// counting those the sibling's consumer received and those queued before the batch. The
// producer sends every control message to every channel in the same order, so the batch
// lies between the same two control messages for the thief as for its owner: no record
// crosses a barrier (aligned checkpoints stay exactly once) or a watermark. Batches from
// before a control message the thief has passed stay for their owner, so before a consumer
// takes a control message from its own channel it first takes the batches its siblings
// still hold from before it: the siblings reach the barrier (or watermark) sooner. A
// producer blocked on a full channel wakes the idle siblings so they can steal from it.
// Stealing locks one sibling at a time, after releasing the thief's own lock.
#ifndef KAPPA_RUNTIME_CHANNEL_H_
#define KAPPA_RUNTIME_CHANNEL_H_

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "kappa/runtime/record.h"
#include "kappa/runtime/scheduler.h"

namespace kappa::runtime {

class Channel {
 public:
  Channel(size_t capacity, Task* producer, Task* consumer)
      : capacity_(capacity < 1 ? 1 : capacity), producer_(producer), consumer_(consumer) {}

  // Enqueues m unless the channel is full; on success m is moved from.
  bool TryPush(Message& m) {
    bool notify = false, full = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.size() >= capacity_) {
        producer_waiting_ = true;
        full = true;
      } else {
        queue_.push_back(std::move(m));
        queued_.store(queue_.size(), std::memory_order_relaxed);
        notify = consumer_waiting_ || queue_.size() == 1;
        consumer_waiting_ = false;
      }
    }
    if (full) {
      if (steal_group_ != nullptr) WakeIdleSiblings();
      return false;
    }
    if (notify) consumer_->Notify();
    return true;
  }

  std::optional<Message> TryPop() {
    std::optional<Message> m;
    bool notify = false;
    uint64_t controls = 0;
    if (steal_group_ != nullptr) {
      // Before passing a control message (a barrier, a watermark), help siblings finish
      // the batches that lie before it: a slow sibling then does not hold back the barrier
      // or the watermark with a queue of batches only it could take.
      bool control_next;
      {
        std::lock_guard<std::mutex> lock(mu_);
        control_next = !queue_.empty() && queue_.front().kind != MessageKind::kBatch;
        controls = controls_popped_;
      }
      if (control_next) {
        if (std::optional<Message> stolen = Steal(controls)) return stolen;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        consumer_waiting_ = true;
        if (steal_group_ == nullptr) return std::nullopt;
        controls = controls_popped_;
      } else {
        m.emplace(std::move(queue_.front()));
        queue_.pop_front();
        queued_.store(queue_.size(), std::memory_order_relaxed);
        if (m->kind != MessageKind::kBatch) ++controls_popped_;
        if (producer_waiting_) {
          producer_waiting_ = false;
          notify = true;
        }
      }
    }
    if (notify) producer_->Notify();
    if (m) return m;
    return Steal(controls);
  }

  // Joins the steal group `group` (this producer instance's channels of one kSteal edge,
  // this one among them). Before the run starts; the group outlives the channel's use.
  void JoinStealGroup(const std::vector<Channel*>* group) { steal_group_ = group; }
  // Batches this channel's consumer took from siblings.
  int64_t stolen() const { return stolen_.load(std::memory_order_relaxed); }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  // The consumer's own channel is empty and it has received `controls` control messages:
  // the front batch of a sibling whose consumer has received as many, if any.
  std::optional<Message> Steal(uint64_t controls) {
    const std::vector<Channel*>& group = *steal_group_;
    const size_t n = group.size();
    for (size_t k = 0; k < n; ++k) {
      Channel* victim = group[(steal_next_ + k) % n];
      if (victim == this) continue;
      std::optional<Message> m;
      bool notify = false;
      {
        std::lock_guard<std::mutex> lock(victim->mu_);
        // The first batch that follows exactly `controls` control messages: those the
        // victim's consumer received, then those still queued before it.
        uint64_t epoch = victim->controls_popped_;
        for (auto it = victim->queue_.begin(); it != victim->queue_.end() && epoch <= controls; ++it) {
          if (it->kind != MessageKind::kBatch) {
            ++epoch;
            continue;
          }
          if (epoch != controls) continue;
          m.emplace(std::move(*it));
          victim->queue_.erase(it);
          break;
        }
        if (!m) continue;
        victim->queued_.store(victim->queue_.size(), std::memory_order_relaxed);
        if (victim->producer_waiting_) {
          victim->producer_waiting_ = false;
          notify = true;
        }
      }
      steal_next_ = (steal_next_ + k + 1) % n;
      stolen_.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(mu_);
        consumer_waiting_ = false;
      }
      if (notify) victim->producer_->Notify();
      return m;
    }
    return std::nullopt;
  }

  // This channel is full: siblings whose consumers wait for input may take from it.
  void WakeIdleSiblings() {
    for (Channel* sibling : *steal_group_) {
      if (sibling == this) continue;
      bool wake;
      {
        std::lock_guard<std::mutex> lock(sibling->mu_);
        wake = sibling->consumer_waiting_;
        sibling->consumer_waiting_ = false;
      }
      if (wake) sibling->consumer_->Notify();
    }
  }

 public:
  size_t capacity() const { return capacity_; }
  // Messages queued, as of the last push or pop; lock-free.
  size_t queued() const { return queued_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  Task* const producer_;
  Task* const consumer_;
  mutable std::mutex mu_;
  std::deque<Message> queue_;
  std::atomic<size_t> queued_{0};
  bool producer_waiting_ = false;
  bool consumer_waiting_ = false;
  uint64_t controls_popped_ = 0;                       // under mu_; written by the consumer
  const std::vector<Channel*>* steal_group_ = nullptr;  // kSteal edges only
  size_t steal_next_ = 0;                              // the consumer's thread only
  std::atomic<int64_t> stolen_{0};
};

// The producer's end of a channel: messages that did not fit wait here, in order, and
// the task stops taking input until they are flushed. Owned by the producing task.
class OutputChannel {
 public:
  explicit OutputChannel(Channel* channel) : channel_(channel) {}

  void Send(Message&& m) {
    if (pending_.empty() && channel_->TryPush(m)) return;
    pending_.push_back(std::move(m));
  }
  // Pushes pending messages until the channel is full; true when none is left.
  bool Flush() {
    while (!pending_.empty()) {
      if (!channel_->TryPush(pending_.front())) return false;
      pending_.pop_front();
    }
    return true;
  }
  bool has_pending() const { return !pending_.empty(); }
  size_t pending() const { return pending_.size(); }

 private:
  Channel* channel_;
  std::deque<Message> pending_;
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_CHANNEL_H_
