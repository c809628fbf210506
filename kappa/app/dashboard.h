// The dashboard: one self-contained HTML page (no external scripts, styles or fonts) that
// reads /api/job every second and draws the job.
#ifndef KAPPA_APP_DASHBOARD_H_
#define KAPPA_APP_DASHBOARD_H_

#include <string_view>

namespace kappa::app {

std::string_view DashboardHtml();

}  // namespace kappa::app

#endif  // KAPPA_APP_DASHBOARD_H_
