// JsonCodec for Nexmark events (DESIGN §7 format), so the generic file and Kafka
// connectors read and write them.
#ifndef KAPPA_CONNECTORS_NEXMARK_CODEC_H_
#define KAPPA_CONNECTORS_NEXMARK_CODEC_H_

#include <string>
#include <string_view>

#include "kappa/connectors/nexmark/event.h"
#include "kappa/connectors/nexmark/json.h"
#include "kappa/base/json_fwd.h"
#include "kappa/state/serializer.h"

template <>
struct kappa::JsonCodec<kappa::nexmark::Event> {
  void Encode(const kappa::nexmark::Event& e, std::string* out) const { kappa::nexmark::AppendJson(e, out); }
  absl::Status Decode(std::string_view line, size_t padded_capacity, kappa::nexmark::Event* out) {
    return decoder_.DecodeInto(line, padded_capacity, out);
  }

 private:
  kappa::nexmark::EventDecoder decoder_;
};

KAPPA_SERIALIZABLE(kappa::nexmark::Person, &kappa::nexmark::Person::id, &kappa::nexmark::Person::name,
                   &kappa::nexmark::Person::email_address, &kappa::nexmark::Person::credit_card,
                   &kappa::nexmark::Person::city, &kappa::nexmark::Person::state, &kappa::nexmark::Person::date_time,
                   &kappa::nexmark::Person::extra);
KAPPA_SERIALIZABLE(kappa::nexmark::Auction, &kappa::nexmark::Auction::id, &kappa::nexmark::Auction::item_name,
                   &kappa::nexmark::Auction::description, &kappa::nexmark::Auction::initial_bid,
                   &kappa::nexmark::Auction::reserve, &kappa::nexmark::Auction::date_time,
                   &kappa::nexmark::Auction::expires, &kappa::nexmark::Auction::seller,
                   &kappa::nexmark::Auction::category, &kappa::nexmark::Auction::extra);
KAPPA_SERIALIZABLE(kappa::nexmark::Bid, &kappa::nexmark::Bid::auction, &kappa::nexmark::Bid::bidder,
                   &kappa::nexmark::Bid::price, &kappa::nexmark::Bid::channel, &kappa::nexmark::Bid::url,
                   &kappa::nexmark::Bid::date_time, &kappa::nexmark::Bid::extra);

// Events serialize as a type tag followed by the alternative.
template <>
struct kappa::Serializer<kappa::nexmark::Event> {
  static void Write(const kappa::nexmark::Event& e, std::string* out) {
    out->push_back(static_cast<char>(e.data.index()));
    std::visit([out](const auto& v) { kappa::Serializer<std::decay_t<decltype(v)>>::Write(v, out); }, e.data);
  }
  static bool Read(std::string_view* in, kappa::nexmark::Event* e) {
    if (in->empty()) return false;
    char tag = in->front();
    in->remove_prefix(1);
    switch (tag) {
      case 0: return kappa::Serializer<kappa::nexmark::Person>::Read(in, &e->data.emplace<0>());
      case 1: return kappa::Serializer<kappa::nexmark::Auction>::Read(in, &e->data.emplace<1>());
      case 2: return kappa::Serializer<kappa::nexmark::Bid>::Read(in, &e->data.emplace<2>());
      default: return false;
    }
  }
};

#endif  // KAPPA_CONNECTORS_NEXMARK_CODEC_H_
