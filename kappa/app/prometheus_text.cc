#include "kappa/app/prometheus_text.h"

#include "absl/strings/str_cat.h"

namespace kappa::app {
namespace {

// A label value, escaped as the text format requires.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string PrometheusText(const runtime::JobSnapshot& s) {
  std::string out;
  out.append("# HELP kappa_task_records_in_total Records a task instance received.\n");
  out.append("# TYPE kappa_task_records_in_total counter\n");
  for (const runtime::TaskView& t : s.tasks) {
    absl::StrAppend(&out, "kappa_task_records_in_total{job=\"", Label(s.job), "\",task=\"",
                    Label(s.chains[t.node].name), "\",instance=\"", t.subtask, "\"} ", t.records_in, "\n");
  }
  out.append("# HELP kappa_task_records_out_total Records a task instance emitted.\n");
  out.append("# TYPE kappa_task_records_out_total counter\n");
  for (const runtime::TaskView& t : s.tasks) {
    absl::StrAppend(&out, "kappa_task_records_out_total{job=\"", Label(s.job), "\",task=\"",
                    Label(s.chains[t.node].name), "\",instance=\"", t.subtask, "\"} ", t.records_out, "\n");
  }
  return out;
}

}  // namespace kappa::app
