#include "kappa/app/dashboard.h"

namespace kappa::app {

std::string_view DashboardHtml() {
  return R"(<!doctype html><html><head><meta charset="utf-8"><title>Kappa</title></head>
<body><pre id="job">loading…</pre><script>
async function tick() {
  const r = await fetch('/api/job');
  document.getElementById('job').textContent = JSON.stringify(await r.json(), null, 2);
}
tick(); setInterval(tick, 1000);
</script></body></html>
)";
}

}  // namespace kappa::app
