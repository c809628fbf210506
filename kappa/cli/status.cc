#include "kappa/cli/status.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kappa::cli {
namespace {

using app::JsonNode;

constexpr double kMaxTimestamp = 9e18;  // the final watermark of an ended input (int64 max)

bool IsFinal(const std::string& state) { return state == "finished" || state == "failed" || state == "stopped"; }

// 3 significant figures with k / M / G: 950, 12.3 k, 1.2 M.
std::string Count(double n) {
  if (!std::isfinite(n)) return "-";
  double a = std::fabs(n);
  for (auto [factor, unit] : {std::pair{1e9, " G"}, std::pair{1e6, " M"}, std::pair{1e3, " k"}}) {
    if (a < factor) continue;
    double v = n / factor;
    std::string s = absl::StrFormat("%.*f", std::fabs(v) >= 100 ? 0 : std::fabs(v) >= 10 ? 1 : 2, v);
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s + unit;
  }
  if (a > 0 && a < 10 && n != std::floor(n)) return absl::StrFormat("%.1f", n);
  return absl::StrFormat("%.0f", n);
}

std::string Rate(double n) { return Count(n) + "/s"; }

std::string Bytes(double b) {
  if (b < 0) return "-";
  if (b < 1000) return absl::StrFormat("%.0f B", b);
  const char* units[] = {"kB", "MB", "GB", "TB"};
  int i = -1;
  do {
    b /= 1000;
    ++i;
  } while (b >= 1000 && i < 3);
  return absl::StrFormat("%.*f %s", b >= 100 ? 0 : b >= 10 ? 1 : 2, b, units[i]);
}

// Seconds as 850 us, 340 ms, 2.4 s, 3 min 05 s, 2 h 07 min, 1116 d 11 h.
std::string Duration(double s) {
  if (!std::isfinite(s) || s < 0) return "-";
  if (s == 0) return "0";
  if (s < 1e-3) return absl::StrFormat("%.0f us", s * 1e6);
  if (s < 1) return absl::StrFormat("%.*f ms", s < 0.01 ? 1 : 0, s * 1e3);
  if (s < 60) return absl::StrFormat("%.*f s", s < 10 ? 1 : 0, s);
  if (s < 3600) return absl::StrFormat("%d min %02d s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  if (s < 2 * 86400) {
    return absl::StrFormat("%d h %02d min", static_cast<int>(s / 3600), static_cast<int>(s) % 3600 / 60);
  }
  return absl::StrFormat("%d d %d h", static_cast<int64_t>(s / 86400), static_cast<int64_t>(s) % 86400 / 3600);
}

// Epoch ms as UTC time of day, with the date when it is not the day of `now_ms`.
std::string Time(double ms, double now_ms) {
  if (ms >= kMaxTimestamp) return "end of input";
  auto secs = static_cast<time_t>(std::floor(ms / 1000));
  auto now_secs = static_cast<time_t>(std::floor(now_ms / 1000));
  std::tm t{}, now{};
  gmtime_r(&secs, &t);
  gmtime_r(&now_secs, &now);
  int millis = static_cast<int>(ms - secs * 1000.0);
  std::string time = absl::StrFormat("%02d:%02d:%02d.%03d", t.tm_hour, t.tm_min, t.tm_sec, millis);
  if (t.tm_year == now.tm_year && t.tm_yday == now.tm_yday) return time;
  return absl::StrFormat("%04d-%02d-%02d %s", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, time);
}

std::string Percent(const JsonNode& n, std::string_view key) {
  if (!n.Has(key)) return "-";
  return absl::StrFormat("%.0f%%", n.Number(key) * 100);
}

// `s` cut to `width` columns, from the left (keeping its end) or the right.
std::string Fit(const std::string& s, size_t width, bool keep_end = false) {
  if (s.size() <= width) return s;
  if (width <= 3) return s.substr(0, width);
  if (keep_end) return "..." + s.substr(s.size() - (width - 3));
  return s.substr(0, width - 3) + "...";
}

std::string Thousands(double v) {
  std::string digits = absl::StrFormat("%.0f", v);
  std::string out;
  size_t start = digits[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

struct Target {
  std::string host_port;  // "http://host:port"
  std::string path;       // "/.../api/job"
};

absl::StatusOr<Target> ParseUrl(const std::string& url) {
  std::string rest = url;
  if (absl::StartsWith(rest, "http://")) {
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(url, ": only http:// URLs (what the job printed after --http: kappa: dashboard at http://...)"));
  }
  size_t slash = rest.find('/');
  std::string host_port = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (host_port.empty() || host_port.find(':') == std::string::npos || host_port.back() == ':') {
    return absl::InvalidArgumentError(
        absl::StrCat(url, ": expected http://HOST:PORT/ (what the job printed after --http)"));
  }
  if (absl::EndsWith(path, "/api/job")) path = path.substr(0, path.size() - 7);
  if (path.back() != '/') path.push_back('/');
  return Target{"http://" + host_port, path + "api/job"};
}

std::string Explain(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "connection refused";
    case httplib::Error::ConnectionTimeout: return "timed out connecting";
    case httplib::Error::Read: return "no answer";
    case httplib::Error::Write: return "could not send the request";
    default: return httplib::to_string(e);
  }
}

// Table rows, each a list of cells; the columns are as wide as their widest cell, except
// column `flex`, whose cells are cut (keeping their end when `keep_end`) so that the table
// fits in `width`. Right-aligned columns are marked in `right`.
std::string Table(std::vector<std::vector<std::string>> rows, const std::vector<bool>& right, size_t flex,
                  bool keep_end, int width) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  size_t others = 0;
  for (size_t i = 0; i < widths.size(); ++i) others += i == flex ? 0 : widths[i] + 2;
  size_t flex_width = std::max<size_t>(12, static_cast<size_t>(std::max(0, width)) > others
                                               ? static_cast<size_t>(width) - others
                                               : 0);
  if (flex < widths.size() && widths[flex] > flex_width) {
    for (auto& row : rows) {
      if (flex < row.size()) row[flex] = Fit(row[flex], flex_width, keep_end);
    }
    widths[flex] = flex_width;
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line.append("  ");
      bool r = i < right.size() && right[i];
      std::string pad(widths[i] - row[i].size(), ' ');
      line += r ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : "");
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string StatusText(const JsonNode& job, const std::string& url, int width) {
  const std::string state = job.String("state");
  const bool final_state = IsFinal(state);
  const double now = job.Number("now_ms");
  const double uptime = std::max(0.0, (now - job.Number("started_ms")) / 1000);
  const bool rates = job.Has("interval_s") && !final_state;
  std::string out;

  absl::StrAppend(&out, job.String("job"), " | ", state, " | ", final_state ? "ran " : "up ", Duration(uptime),
                  " | ", url, " | ", Time(now, now).substr(0, 8), " UTC\n");
  double read = 0, read_rate = 0;
  for (const JsonNode& p : job.Items("sources")) {
    read += p.Number("records");
    read_rate += p.Number("records_per_s");
  }
  if (final_state) read_rate = uptime > 0 ? read / uptime : 0;
  absl::StrAppend(&out, "input ", rates || final_state ? Rate(read_rate) : "-", final_state ? " (average)" : "",
                  ", ", Count(read), " records read; errors: ", Count(job.Number("errors_decode")), " bad input, ",
                  Count(job.Number("errors_user")), " user function, ", Count(job.Number("errors_late")), " late\n\n");

  // Chains.
  std::vector<std::vector<std::string>> rows = {{"CHAIN", "PAR", "IN/S", "OUT/S", "RECORDS IN", "BUSY", "BACKPR"}};
  for (const JsonNode& c : job.Items("chains")) {
    rows.push_back({c.String("name"), Count(c.Number("parallelism")),
                    rates ? Rate(c.Number("records_in_per_s")) : "-", rates ? Rate(c.Number("records_out_per_s")) : "-",
                    Count(c.Number("records_in")), rates ? Percent(c, "busy") : "-",
                    rates ? Percent(c, "backpressured") : "-"});
  }
  if (rows.size() == 1) {
    out += "no tasks yet (the job is starting)\n";
  } else {
    out += Table(rows, {false, true, true, true, true, true, true}, 0, false, width);
  }
  for (const JsonNode& e : job.Items("edges")) {
    if (e.Number("fill") >= 0.5) {
      absl::StrAppend(&out, "  channel ", static_cast<int64_t>(e.Number("from")), " -> ", static_cast<int64_t>(e.Number("to")), " (", e.String("partitioning"),
                      ") ", Percent(e, "fill"), " full\n");
    }
  }
  out += "\n";

  // Source partitions: those furthest behind first when they do not all fit.
  std::vector<const JsonNode*> parts;
  for (const JsonNode& p : job.Items("sources")) parts.push_back(&p);
  std::stable_sort(parts.begin(), parts.end(), [](const JsonNode* a, const JsonNode* b) {
    std::string sa = a->String("source"), sb = b->String("source");
    return sa != sb ? sa < sb : a->Number("partition") < b->Number("partition");
  });
  constexpr size_t kMaxPartitions = 12;
  size_t hidden = 0;
  if (parts.size() > kMaxPartitions) {
    std::stable_sort(parts.begin(), parts.end(),
                     [](const JsonNode* a, const JsonNode* b) { return a->Number("lag", -1) > b->Number("lag", -1); });
    hidden = parts.size() - kMaxPartitions;
    parts.resize(kMaxPartitions);
  }
  rows = {{"SOURCE", "PART", "OFFSET", "END", "LAG", "WATERMARK (UTC)", "EVENT-TIME LAG"}};
  for (const JsonNode* p : parts) {
    double end = p->Number("high_water", -1) >= 0 ? p->Number("high_water") : p->Number("end", -1);
    std::string flags = p->Bool("finished") ? " finished" : p->Bool("idle") ? " idle" : "";
    rows.push_back({p->String("source"), Count(p->Number("partition")),
                    Thousands(p->Number("offset")), end >= 0 ? Thousands(end) : "unbounded",
                    p->IsNull("lag") ? "-" : Count(p->Number("lag")),
                    p->IsNull("watermark") ? "-" : Time(p->Number("watermark"), now),
                    (p->IsNull("event_time_lag_s") ? "-" : Duration(p->Number("event_time_lag_s"))) + flags});
  }
  if (rows.size() == 1) {
    out += "no source partitions yet\n";
  } else {
    out += Table(rows, {false, true, true, true, true, true, false}, 0, true, width);
  }
  if (hidden > 0) absl::StrAppend(&out, "... and ", hidden, " more partitions with less lag\n");
  out += "\n";

  // Checkpoints, latency, catch-up.
  const JsonNode* cp = job.Get("checkpoints");
  if (cp != nullptr) {
    absl::StrAppend(&out, "checkpoints: ", Count(cp->Number("completed")), " completed, ", Count(cp->Number("failed")),
                    " failed");
    const auto& history = cp->Items("history");
    if (!history.empty()) {
      const JsonNode& last = history.back();
      absl::StrAppend(&out, "; last #", static_cast<int64_t>(last.Number("id")), " ", last.Bool("completed") ? "ok" : "FAILED", " at ",
                      Time(last.Number("triggered_ms"), now), ", ", Duration(last.Number("duration_s")), ", ",
                      Bytes(last.Number("bytes")), ", alignment ", Duration(last.Number("alignment_s")));
      if (!last.Bool("completed") && !last.String("error").empty()) absl::StrAppend(&out, ": ", last.String("error"));
    }
    if (cp->Number("restored_id", -1) >= 0) {
      absl::StrAppend(&out, "; restored #", static_cast<int64_t>(cp->Number("restored_id")), " in ", Duration(cp->Number("restore_s")));
    }
    out += "\n";
  }
  if (job.Number("restarts") > 0) {
    std::string line = absl::StrCat("restarts: ", Count(job.Number("restarts")), ", last at ",
                                    Time(job.Number("last_restart_ms"), now), ": ", job.String("last_restart_cause"));
    std::replace(line.begin(), line.end(), '\n', ' ');
    absl::StrAppend(&out, Fit(line, static_cast<size_t>(width)), "\n");
  }
  const JsonNode* lat = job.Get("event_time_latency");
  const JsonNode* ing = job.Get("ingestion_latency");
  if (lat != nullptr && ing != nullptr && (lat->Number("count") > 0 || ing->Number("count") > 0)) {
    auto q = [](const JsonNode* h, std::string_view k) { return h->IsNull(k) ? std::string("-") : Duration(h->Number(k)); };
    absl::StrAppend(&out, "latency to sink: event time p50 ", q(lat, "p50_s"), ", p99 ", q(lat, "p99_s"),
                    "; ingestion p50 ", q(ing, "p50_s"), ", p99 ", q(ing, "p99_s"), "\n");
  }
  const JsonNode* cu = job.Get("catch_up");
  if (cu != nullptr && cu->Bool("tracking")) {
    if (cu->Bool("caught_up")) {
      absl::StrAppend(&out, "catch-up: caught up at ", Time(cu->Number("at_ms"), now),
                      " UTC; every partition reached its end at the start\n");
    } else {
      double done = 0, total = 0;
      for (const JsonNode& p : job.Items("sources")) {
        double end = p.Number("replay_end", -1);
        if (end < 0) continue;
        total += end - p.Number("start");
        done += std::min(p.Number("offset"), end) - p.Number("start");
      }
      absl::StrAppend(&out, "catch-up: replaying history, ",
                      absl::StrFormat("%.0f%%", total > 0 ? 100 * done / total : 0.0), " (", Count(done), " of ",
                      Count(total), " offsets)\n");
    }
  }

  // The newest errors, newest first.
  const auto& errors = job.Items("last_errors");
  if (!errors.empty()) {
    out += "last errors:\n";
    size_t shown = 0;
    for (auto it = errors.rbegin(); it != errors.rend() && shown < 5; ++it, ++shown) {
      std::string line = absl::StrCat("  ", Time(it->Number("time_ms"), now), " ", it->String("kind"), " ",
                                      it->String("operator_name"), ": ", it->String("error"));
      std::replace(line.begin(), line.end(), '\n', ' ');
      absl::StrAppend(&out, Fit(line, static_cast<size_t>(width)), "\n");
    }
  }
  return out;
}

int RunStatus(const std::string& url, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Target> target = ParseUrl(url);
  if (!target.ok()) {
    err << "kappa status: " << target.status().message() << "\n";
    return 2;
  }
  httplib::Client client(target->host_port);
  client.set_connection_timeout(3, 0);
  client.set_read_timeout(10, 0);
  httplib::Result res = client.Get(target->path.c_str());
  if (!res) {
    err << "kappa status: cannot reach " << url << ": " << Explain(res.error())
        << "; is the job running with --http?\n";
    return 1;
  }
  if (res->status != 200) {
    err << "kappa status: " << url << " answered HTTP " << res->status << " for " << target->path
        << "; is it the address a Kappa job printed for --http?\n";
    return 1;
  }
  absl::StatusOr<JsonNode> job = app::ParseJsonTree(res->body);
  if (!job.ok() || !job->Has("state") || !job->Has("chains")) {
    err << "kappa status: " << url << " did not answer with a Kappa job's JSON on " << target->path
        << "; is it the address a Kappa job printed for --http?\n";
    return 1;
  }
  out << StatusText(*job, url);
  return 0;
}

}  // namespace kappa::cli
