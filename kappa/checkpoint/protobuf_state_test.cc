// Protobuf messages as keyed state values (state/protobuf_serializer.h).
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/keyed_state.h"
#include "kappa/state/protobuf_serializer.h"

namespace kappa {
namespace {

TEST(ProtobufStateTest, MessagesRoundTripAsStateValues) {
  auto backend = state::HeapBackend::Create();
  state::KeyContext key;
  key.Set("k", 3);
  ValueState<google::protobuf::StringValue> v(backend.get(), *backend->RegisterTable("msg"), &key);
  google::protobuf::StringValue m;
  m.set_value(std::string("hello\0world", 11));
  v.Update(m);
  auto back = v.Value();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->value(), m.value());

  ListState<google::protobuf::Int64Value> list(backend.get(), *backend->RegisterTable("list"), &key);
  for (int64_t i : {1, 2, 3}) {
    google::protobuf::Int64Value x;
    x.set_value(i);
    list.Add(x);
  }
  std::vector<int64_t> got;
  list.ForEach([&](google::protobuf::Int64Value&& x) { got.push_back(x.value()); });
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3}));
}

TEST(ProtobufStateTest, TruncatedMessageIsDataLoss) {
  google::protobuf::StringValue m;
  m.set_value("abcdef");
  std::string bytes = SerializeToString(m);
  google::protobuf::StringValue back;
  EXPECT_FALSE(ParseFromString(std::string_view(bytes).substr(0, bytes.size() - 2), &back));
}

}  // namespace
}  // namespace kappa
