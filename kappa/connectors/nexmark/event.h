// The Nexmark event model: people register, open auctions and bid on them.
//
// An Event is one of Person, Auction or Bid (DESIGN.md §7). Field names follow the
// Nexmark JSON contract; all times are epoch milliseconds (kappa::Timestamp).
//
//   Event e{Bid{.auction = 1000, .bidder = 1001, .price = 250, .date_time = t}};
//   if (e.is_bid()) Use(e.bid().price);
//   Timestamp ts = e.date_time();  // whatever the type
//
// Events are plain values: copyable, comparable, no hidden state.
#ifndef KAPPA_CONNECTORS_NEXMARK_EVENT_H_
#define KAPPA_CONNECTORS_NEXMARK_EVENT_H_

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "kappa/base/time.h"

namespace kappa::nexmark {

struct Person {
  int64_t id = 0;
  std::string name;
  std::string email_address;
  std::string credit_card;
  std::string city;
  std::string state;
  Timestamp date_time = 0;
  std::string extra;

  friend bool operator==(const Person&, const Person&) = default;
};

struct Auction {
  int64_t id = 0;
  std::string item_name;
  std::string description;
  int64_t initial_bid = 0;
  int64_t reserve = 0;
  Timestamp date_time = 0;
  Timestamp expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;

  friend bool operator==(const Auction&, const Auction&) = default;
};

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  Timestamp date_time = 0;
  std::string extra;

  friend bool operator==(const Bid&, const Bid&) = default;
};

// The discriminant equals the variant index of Event::data.
enum class EventType : uint8_t { kPerson = 0, kAuction = 1, kBid = 2 };

// "person", "auction" or "bid": the JSON `type` value.
constexpr std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kPerson:
      return "person";
    case EventType::kAuction:
      return "auction";
    case EventType::kBid:
      return "bid";
  }
  return "unknown";
}

struct Event {
  std::variant<Person, Auction, Bid> data;

  EventType type() const { return static_cast<EventType>(data.index()); }

  // The event's dateTime, whatever its type.
  Timestamp date_time() const {
    switch (data.index()) {
      case 0:
        return std::get_if<Person>(&data)->date_time;
      case 1:
        return std::get_if<Auction>(&data)->date_time;
      default:
        return std::get_if<Bid>(&data)->date_time;
    }
  }

  bool is_person() const { return data.index() == 0; }
  bool is_auction() const { return data.index() == 1; }
  bool is_bid() const { return data.index() == 2; }

  // Precondition: the event holds that type (checked by assert in debug builds).
  const Person& person() const { return Get<Person>(); }
  const Auction& auction() const { return Get<Auction>(); }
  const Bid& bid() const { return Get<Bid>(); }
  Person& person() { return Get<Person>(); }
  Auction& auction() { return Get<Auction>(); }
  Bid& bid() { return Get<Bid>(); }

  friend bool operator==(const Event&, const Event&) = default;

 private:
  template <typename T>
  const T& Get() const {
    const T* p = std::get_if<T>(&data);
    assert(p != nullptr);
    return *p;
  }
  template <typename T>
  T& Get() {
    T* p = std::get_if<T>(&data);
    assert(p != nullptr);
    return *p;
  }
};

// Switches an Event to another alternative without giving up string buffers.
//
// An Event that is refilled in a loop (a generator's or decoder's output slot) changes
// type every few records; plain `data.emplace<T>()` would free the old alternative's
// strings and allocate new ones each time. The recycler parks the outgoing
// alternative (its strings keep their capacity) and brings back the parked one of the
// wanted type, so a steady stream of refills allocates nothing.
//
// Not thread-safe; one per output slot owner (a Generator, an EventDecoder).
class EventRecycler {
 public:
  // Returns e's alternative of type T, switching to it if needed. Field values are
  // whatever was last stored there: callers overwrite every field.
  template <typename T>
  T& Switch(Event* e) {
    if (T* current = std::get_if<T>(&e->data)) return *current;
    // `this->` spelled out: clang does not see the implicit use inside a generic lambda
    // and warns that the capture is unused.
    std::visit(
        [this](auto& outgoing) {
          this->template Parked<std::decay_t<decltype(outgoing)>>() = std::move(outgoing);
        },
        e->data);
    return e->data.template emplace<T>(std::move(Parked<T>()));
  }

 private:
  template <typename T>
  T& Parked() {
    if constexpr (std::is_same_v<T, Person>) {
      return person_;
    } else if constexpr (std::is_same_v<T, Auction>) {
      return auction_;
    } else {
      return bid_;
    }
  }

  Person person_;
  Auction auction_;
  Bid bid_;
};

}  // namespace kappa::nexmark

#endif  // KAPPA_CONNECTORS_NEXMARK_EVENT_H_
