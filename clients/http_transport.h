// HttpTransport: the seam between the API clients and the network.
//
// Production uses CurlTransport; tests use the same clients against the
// in-process sandbox (over real loopback sockets) or a scripted fake.
// Request and response bodies are Secrets: token requests carry client
// secrets and several Salesforce answers carry consumer secrets.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/secret.h"

namespace eca {

// How a request's server is authenticated, per service. All empty: the system trust store.
struct TlsSettings {
  std::string ca_file;                // PEM bundle to trust instead of the system bundle (CAINFO)
  std::string ca_dir;                 // directory of hashed PEM CA certificates (CAPATH)
  std::string pinned_public_key;      // "sha256//BASE64[;sha256//BASE64...]": the key must match
  bool insecure_skip_verify = false;  // no certificate checks; refused unless the URL is loopback
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;                                           // absolute; never contains a secret
  std::vector<std::pair<std::string, std::string>> headers;  // non-secret headers
  Secret bearer;  // sent as "Authorization: Bearer ..." when set
  Secret body;
  std::string content_type;  // set when body is sent
  bool is_write = false;     // a timeout after sending is then ErrorKind::Unknown
  std::string endpoint;      // short name for logs and metrics ("sf.token", "inf.upsert")
  TlsSettings tls;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  Secret body;

  const std::string* header(std::string_view name) const;
};

struct TransportStats {
  long requests = 0;
  long new_connections = 0;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // An HTTP answer of any status is a success here; only transport failures
  // (DNS, connect, TLS, timeout, reset, oversized body) are errors.
  virtual Result<HttpResponse> send(HttpRequest& request) = 0;
  virtual TransportStats stats() const { return {}; }
};

}  // namespace eca
