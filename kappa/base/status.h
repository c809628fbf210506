// Status helpers shared by every module.
//
// Abseil 20220623 ships absl::Status and absl::StatusOr but no propagation macros,
// so Kappa defines its own, once, here:
//
//   absl::StatusOr<int> ParsePort(std::string_view s);
//   absl::Status Listen(std::string_view s) {
//     KAPPA_ASSIGN_OR_RETURN(int port, ParsePort(s));
//     KAPPA_RETURN_IF_ERROR(Bind(port));
//     return absl::OkStatus();
//   }
#ifndef KAPPA_BASE_STATUS_H_
#define KAPPA_BASE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KAPPA_RETURN_IF_ERROR(expr)                      \
  do {                                                   \
    ::absl::Status kappa_status_ = (expr);               \
    if (!kappa_status_.ok()) return kappa_status_;       \
  } while (0)

#define KAPPA_STATUS_CONCAT_INNER_(a, b) a##b
#define KAPPA_STATUS_CONCAT_(a, b) KAPPA_STATUS_CONCAT_INNER_(a, b)

#define KAPPA_ASSIGN_OR_RETURN(lhs, expr) \
  KAPPA_ASSIGN_OR_RETURN_IMPL_(KAPPA_STATUS_CONCAT_(kappa_statusor_, __LINE__), lhs, expr)

#define KAPPA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

#endif  // KAPPA_BASE_STATUS_H_
