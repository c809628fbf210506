#include "kappa/app/job_json.h"

#include "absl/strings/str_cat.h"
#include "kappa/base/json_util.h"

namespace kappa::app {

std::string JobJson(const runtime::JobSnapshot& s, const runtime::JobSnapshot* /*previous*/) {
  std::string out = "{\"job\":";
  json::AppendString(s.job, &out);
  out.append(",\"state\":");
  json::AppendString(s.state, &out);
  absl::StrAppend(&out, ",\"now_ms\":", s.now_ms, ",\"started_ms\":", s.started_ms, ",\"tasks\":[");
  for (size_t i = 0; i < s.tasks.size(); ++i) {
    const runtime::TaskView& t = s.tasks[i];
    if (i > 0) out.push_back(',');
    absl::StrAppend(&out, "{\"node\":", t.node, ",\"subtask\":", t.subtask, ",\"records_in\":", t.records_in,
                    ",\"records_out\":", t.records_out, "}");
  }
  out.append("]}");
  return out;
}

}  // namespace kappa::app
