// Test-side HTTP helpers for the sandbox tests: a real httplib client (what an
// agent would see on the wire) and a raw socket for requests httplib cannot send.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

namespace eca::sandbox::testing {

struct Reply {
  int status = 0;  // 0 = no HTTP answer (see error)
  std::string body;
  httplib::Headers headers;
  httplib::Error error = httplib::Error::Success;

  rapidjson::Document json() const {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    return doc;
  }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class TestHttp {
 public:
  explicit TestHttp(const std::string& base_url, const std::string& ca_file = "")
      : client_(base_url) {
    // A test process must survive writing to a connection a fake just reset.
    signal(SIGPIPE, SIG_IGN);
    if (!ca_file.empty()) {
      client_.set_ca_cert_path(ca_file);
      client_.enable_server_certificate_verification(true);
    }
    client_.set_connection_timeout(std::chrono::seconds(5));
    client_.set_read_timeout(std::chrono::seconds(10));
  }

  void set_read_timeout(std::chrono::milliseconds timeout) { client_.set_read_timeout(timeout); }
  void set_bearer(const std::string& token) { bearer_ = token; }
  const std::string& bearer() const { return bearer_; }

  Reply get(const std::string& path) { return wrap(client_.Get(path.c_str(), headers())); }
  Reply post(const std::string& path, const std::string& body,
             const std::string& type = "application/json") {
    return wrap(client_.Post(path.c_str(), headers(), body, type.c_str()));
  }
  Reply patch(const std::string& path, const std::string& body,
              const std::string& type = "application/json") {
    return wrap(client_.Patch(path.c_str(), headers(), body, type.c_str()));
  }
  Reply del(const std::string& path, const std::string& body = "",
            const std::string& type = "application/json") {
    if (body.empty()) return wrap(client_.Delete(path.c_str(), headers()));
    return wrap(client_.Delete(path.c_str(), headers(), body, type.c_str()));
  }
  // Form-encoded POST, values URL-encoded by httplib.
  Reply post_form(const std::string& path, const httplib::Params& form) {
    return wrap(client_.Post(path.c_str(), headers(), form));
  }

 private:
  httplib::Headers headers() const {
    httplib::Headers h{{"Accept", "application/json"}};
    if (!bearer_.empty()) h.emplace("Authorization", "Bearer " + bearer_);
    return h;
  }
  static Reply wrap(const httplib::Result& result) {
    Reply reply;
    reply.error = result.error();
    if (result) {
      reply.status = result->status;
      reply.body = result->body;
      reply.headers = result->headers;
    }
    return reply;
  }

  httplib::Client client_;
  std::string bearer_;
};

// What a raw request over plain HTTP got back.
struct RawReply {
  std::string received;    // bytes the server sent
  bool reset = false;      // the connection ended with ECONNRESET
  bool closed = false;     // the connection ended (FIN or reset)
  bool timed_out = false;  // nothing ended it within the timeout
};

inline RawReply raw_exchange(int port, const std::string& request,
                             std::chrono::milliseconds timeout) {
  RawReply reply;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    reply.closed = true;
    return reply;
  }
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      reply.timed_out = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.received.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    reply.closed = true;
    reply.reset = n < 0 && errno == ECONNRESET;
    break;
  }
  close(fd);
  return reply;
}

}  // namespace eca::sandbox::testing
