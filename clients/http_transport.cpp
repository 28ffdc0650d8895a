#include "clients/http_transport.h"

namespace eca {

const std::string* HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

}  // namespace eca
