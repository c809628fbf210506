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
#ifndef KAPPA_RUNTIME_CHANNEL_H_
#define KAPPA_RUNTIME_CHANNEL_H_

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>

#include "kappa/runtime/record.h"
#include "kappa/runtime/scheduler.h"

namespace kappa::runtime {

class Channel {
 public:
  Channel(size_t capacity, Task* producer, Task* consumer)
      : capacity_(capacity < 1 ? 1 : capacity), producer_(producer), consumer_(consumer) {}

  // Enqueues m unless the channel is full; on success m is moved from.
  bool TryPush(Message& m) {
    bool notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.size() >= capacity_) {
        producer_waiting_ = true;
        return false;
      }
      queue_.push_back(std::move(m));
      queued_.store(queue_.size(), std::memory_order_relaxed);
      notify = consumer_waiting_ || queue_.size() == 1;
      consumer_waiting_ = false;
    }
    if (notify) consumer_->Notify();
    return true;
  }

  std::optional<Message> TryPop() {
    std::optional<Message> m;
    bool notify = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        consumer_waiting_ = true;
        return std::nullopt;
      }
      m.emplace(std::move(queue_.front()));
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_relaxed);
      if (producer_waiting_) {
        producer_waiting_ = false;
        notify = true;
      }
    }
    if (notify) producer_->Notify();
    return m;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }
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
