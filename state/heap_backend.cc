#include "state/heap_backend.h"

#include "absl/strings/str_cat.h"

namespace kappa::state {
namespace {

class HeapIterator : public StateIterator {
 public:
  using Table = absl::btree_map<std::string, std::string, std::less<>>;
  HeapIterator(const Table& table, std::string_view prefix)
      : it_(table.lower_bound(prefix)), end_(table.end()), prefix_(prefix) {}
  bool Valid() const override {
    return it_ != end_ && std::string_view(it_->first).starts_with(prefix_);
  }
  void Next() override { ++it_; }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  Table::const_iterator it_;
  Table::const_iterator end_;
  std::string prefix_;
};

}  // namespace

std::unique_ptr<HeapBackend> HeapBackend::Create() { return std::unique_ptr<HeapBackend>(new HeapBackend()); }

absl::StatusOr<TableId> HeapBackend::RegisterTable(const std::string& name) {
  auto [it, inserted] = ids_.try_emplace(name, static_cast<TableId>(tables_.size()));
  if (inserted) tables_.push_back(std::make_unique<Table>());
  return it->second;
}

absl::Status HeapBackend::Get(TableId table, std::string_view key, std::string* value) {
  const Table& t = *tables_[table];
  auto it = t.find(key);
  if (it == t.end()) return absl::NotFoundError("");
  value->assign(it->second);
  return absl::OkStatus();
}

absl::Status HeapBackend::Put(TableId table, std::string_view key, std::string_view value) {
  Table& t = *tables_[table];
  auto it = t.find(key);
  if (it == t.end()) {
    t.emplace(std::string(key), std::string(value));
  } else {
    it->second.assign(value);
  }
  return absl::OkStatus();
}

absl::Status HeapBackend::Append(TableId table, std::string_view key, std::string_view element) {
  Table& t = *tables_[table];
  auto it = t.find(key);
  if (it == t.end()) it = t.emplace(std::string(key), std::string()).first;
  kappa::internal::WriteVarint(element.size(), &it->second);
  it->second.append(element);
  return absl::OkStatus();
}

absl::Status HeapBackend::Delete(TableId table, std::string_view key) {
  Table& t = *tables_[table];
  auto it = t.find(key);
  if (it != t.end()) t.erase(it);
  return absl::OkStatus();
}

std::unique_ptr<StateIterator> HeapBackend::Scan(TableId table, std::string_view prefix) {
  return std::make_unique<HeapIterator>(*tables_[table], prefix);
}

int64_t HeapBackend::ApproximateKeys(TableId table) { return static_cast<int64_t>(tables_[table]->size()); }

}  // namespace kappa::state
