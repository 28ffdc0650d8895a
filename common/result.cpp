#include "common/result.h"

namespace eca {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Transient:
      return "transient";
    case ErrorKind::Auth:
      return "auth";
    case ErrorKind::Permanent:
      return "permanent";
    case ErrorKind::Unknown:
      return "unknown-outcome";
  }
  return "?";
}

std::string Error::describe() const {
  std::string out = message;
  std::string detail;
  if (http_status != 0) detail += "HTTP " + std::to_string(http_status);
  if (!code.empty()) detail += (detail.empty() ? "" : " ") + code;
  if (!request_id.empty())
    detail += (detail.empty() ? "" : ", ") + std::string("reqId ") + request_id;
  if (!detail.empty()) out += " (" + detail + ")";
  return out;
}

}  // namespace eca
