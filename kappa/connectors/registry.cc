#include "kappa/connectors/registry.h"

#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "kappa/connectors/internal/schemes.h"

namespace kappa::connectors {
namespace {

template <typename Factory>
struct Scheme {
  Factory factory;
  std::string usage;
};

class Registry {
 public:
  // The process's registry, with the built-in schemes registered the first time.
  static Registry& Get() {
    static Registry* const registry = [] {
      auto* r = new Registry();
      r->AddSource("file", internal::OpenFileSource, "file:PATH");
      r->AddSource("gen", internal::OpenNexmarkSource, "gen:nexmark?events=N&rate=R&seed=S");
      r->AddSource("kafka", internal::OpenKafkaSource, "kafka://BOOTSTRAP/TOPIC");
      r->AddSink("file", internal::OpenFileSink, "file:PATH, file:DIR/");
      r->AddSink("kafka", internal::OpenKafkaSink, "kafka://BOOTSTRAP/TOPIC");
      r->AddSink("stdout", internal::OpenStdoutSink, "stdout:");
      r->AddSink("discard", internal::OpenDiscardSink, "discard:");
      return r;
    }();
    return *registry;
  }

  void AddSource(std::string scheme, SourceFactory factory, std::string usage) {
    std::lock_guard<std::mutex> lock(mu_);
    Add(&sources_, std::move(scheme), std::move(factory), std::move(usage));
  }
  void AddSink(std::string scheme, SinkFactory factory, std::string usage) {
    std::lock_guard<std::mutex> lock(mu_);
    Add(&sinks_, std::move(scheme), std::move(factory), std::move(usage));
  }

  // The factory of `scheme`, or null; and the usages of all schemes.
  SourceFactory FindSource(const std::string& scheme, std::string* usages) const {
    std::lock_guard<std::mutex> lock(mu_);
    return Find(sources_, scheme, usages);
  }
  SinkFactory FindSink(const std::string& scheme, std::string* usages) const {
    std::lock_guard<std::mutex> lock(mu_);
    return Find(sinks_, scheme, usages);
  }

 private:
  template <typename Factory>
  static void Add(std::map<std::string, Scheme<Factory>>* schemes, std::string scheme, Factory factory,
                  std::string usage) {
    if (usage.empty()) usage = scheme + ":";
    (*schemes)[std::move(scheme)] = Scheme<Factory>{std::move(factory), std::move(usage)};
  }
  template <typename Factory>
  static Factory Find(const std::map<std::string, Scheme<Factory>>& schemes, const std::string& scheme,
                      std::string* usages) {
    if (usages != nullptr) {
      std::vector<std::string> all;
      for (const auto& [name, s] : schemes) all.push_back(s.usage);
      *usages = absl::StrJoin(all, ", ");
    }
    auto it = schemes.find(scheme);
    return it == schemes.end() ? nullptr : it->second.factory;
  }

  mutable std::mutex mu_;
  std::map<std::string, Scheme<SourceFactory>> sources_;
  std::map<std::string, Scheme<SinkFactory>> sinks_;
};

// False for text without a scheme ("out.jsonl"), which gets an error listing the
// registered schemes rather than ParseUri's fixed list.
bool HasScheme(std::string_view text) {
  size_t colon = text.find(':');
  return colon != std::string_view::npos && colon > 0;
}

}  // namespace

absl::StatusOr<SourceBounds> ParseSourceBounds(const Uri& uri, const SourceOptions& options) {
  auto param = [&](const char* key, const std::optional<std::string>& over) -> std::optional<std::string> {
    if (over) return over;
    auto it = uri.params.find(key);
    if (it == uri.params.end()) return std::nullopt;
    return it->second;
  };
  SourceBounds bounds;
  if (auto text = param("start", options.start)) {
    KAPPA_ASSIGN_OR_RETURN(bounds.start, ParsePosition(*text, absl::StrCat(uri.text, ": start")));
  }
  if (auto text = param("end", options.end)) {
    KAPPA_ASSIGN_OR_RETURN(Position e, ParsePosition(*text, absl::StrCat(uri.text, ": end")));
    bounds.end = e;
  }
  return bounds;
}

void RegisterSourceScheme(std::string scheme, SourceFactory factory, std::string usage) {
  Registry::Get().AddSource(std::move(scheme), std::move(factory), std::move(usage));
}

void RegisterSinkScheme(std::string scheme, SinkFactory factory, std::string usage) {
  Registry::Get().AddSink(std::move(scheme), std::move(factory), std::move(usage));
}

std::string SourceSchemes() {
  std::string usages;
  Registry::Get().FindSource("", &usages);
  return usages;
}

std::string SinkSchemes() {
  std::string usages;
  Registry::Get().FindSink("", &usages);
  return usages;
}

absl::StatusOr<OpenedSource> OpenSource(std::string_view text, const SourceOptions& options) {
  std::string usages;
  if (!HasScheme(text)) {
    Registry::Get().FindSource("", &usages);
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(text), "' is not a source URI; sources are ", usages));
  }
  KAPPA_ASSIGN_OR_RETURN(Uri uri, ParseUri(text));
  SourceFactory factory = Registry::Get().FindSource(uri.scheme, &usages);
  if (factory == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri.text, "': '", uri.scheme, ":' is not a source; sources are ", usages));
  }
  return factory(uri, options);
}

absl::StatusOr<OpenedSink> OpenSink(std::string_view text, const SinkOptions& options) {
  std::string usages;
  if (!HasScheme(text)) {
    Registry::Get().FindSink("", &usages);
    return absl::InvalidArgumentError(absl::StrCat("'", AbslView(text), "' is not a sink URI; sinks are ", usages));
  }
  KAPPA_ASSIGN_OR_RETURN(Uri uri, ParseUri(text));
  SinkFactory factory = Registry::Get().FindSink(uri.scheme, &usages);
  if (factory == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri.text, "': '", uri.scheme, ":' is not a sink; sinks are ", usages));
  }
  return factory(uri, options);
}

}  // namespace kappa::connectors
