#include "tests/sandbox/fake_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace eca::sandbox {
namespace {

int port_of(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return -1;
}

// The server side of this process's TCP connections on `local_port` (and from
// `remote_port` unless it is -1). httplib hides a request's socket from handlers;
// the (local port, peer port) pair identifies it, and the client ends of loopback
// connections inside this same process have the two ports the other way round.
std::vector<int> server_sockets(int local_port, int remote_port) {
  std::vector<int> found;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return found;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t len = sizeof local;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      continue;
    }
    if (port_of(local) != local_port) continue;
    len = sizeof peer;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      continue;  // the listening socket, or not connected
    }
    if (remote_port != -1 && port_of(peer) != remote_port) continue;
    found.push_back(static_cast<int>(fd));
  }
  closedir(dir);
  return found;
}

// Closes the request's connection abortively (RST) without answering. The fd
// number stays owned by httplib, which will still write to it and close it, so
// it is atomically swapped for an unconnected socket instead of being closed:
// httplib's writes then fail harmlessly and its close() closes the stand-in.
void drop_connection(const httplib::Request& req) {
  for (int fd : server_sockets(req.local_port, req.remote_port)) {
    const linger abortive{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    const int stand_in = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (stand_in < 0) {
      shutdown(fd, SHUT_RDWR);  // still no answer, just a FIN instead of a RST
      continue;
    }
    dup2(stand_in, fd);
    close(stand_in);
  }
}

bool is_chunked(const httplib::Request& req) {
  return req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
}

std::size_t content_length(const httplib::Request& req) {
  const std::string value = req.get_header_value("Content-Length");
  return value.empty() ? 0 : std::strtoull(value.c_str(), nullptr, 10);
}

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> HttpRequest::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

void HttpResponse::set_json(int code, std::string json) {
  status = code;
  body = std::move(json);
  content_type = "application/json";
}

FakeServer::FakeServer(ServerOptions options, std::shared_ptr<FakeClock> clock,
                       std::shared_ptr<std::recursive_mutex> state_mutex,
                       std::string json_content_type)
    : options_(std::move(options)),
      json_content_type_(std::move(json_content_type)),
      clock_(clock ? std::move(clock) : std::make_shared<FakeClock>()),
      state_mutex_(state_mutex ? std::move(state_mutex)
                               : std::make_shared<std::recursive_mutex>()) {}

FakeServer::~FakeServer() {
  stop();
}

std::string FakeServer::base_url() const {
  return std::string(https() ? "https://" : "http://") + options_.host + ":" +
         std::to_string(port_);
}

void FakeServer::set_latency(std::chrono::milliseconds latency) {
  latency_ms_ = latency.count();
}

bool FakeServer::running() const {
  return server_ && server_->is_running();
}

void FakeServer::start() {
  if (server_) return;
  if (https()) {
    auto ssl =
        std::make_unique<httplib::SSLServer>(options_.cert_file.c_str(), options_.key_file.c_str());
    if (!ssl->is_valid()) {
      throw std::runtime_error("cannot load TLS certificate/key " + options_.cert_file + " / " +
                               options_.key_file);
    }
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = false;
  }
  // httplib's default sets SO_REUSEPORT, which would let two sandboxes share a
  // fixed port silently; plain SO_REUSEADDR only allows quick restarts.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Idle keep-alive connections are closed by stop() itself; this only bounds how
  // long a silent client holds a worker thread.
  server_->set_keep_alive_timeout(5);
  // Real services answer without Nagle delays; without this, httplib's separate header
  // and body writes meet the client's delayed ACK and add ~40 ms to every request.
  server_->set_tcp_nodelay(true);
  // Servers do close busy keep-alive connections after a number of requests; 1000 is
  // nginx's default (keepalive_requests), the usual front of a self-hosted Infisical.
  server_->set_keep_alive_max_count(1000);
  const auto threads = static_cast<std::size_t>(std::max(2, options_.threads));
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  auto plain = [this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, nullptr);
  };
  // Body-carrying methods use content readers so that this class, not httplib,
  // decides what a request without Content-Length means (no body, per HTTP/1.1;
  // httplib would wait for the connection to close).
  auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) { serve(req, res, &reader); };
  server_->Get(".*", plain);
  server_->Post(".*", with_body);
  server_->Put(".*", with_body);
  server_->Patch(".*", with_body);
  server_->Delete(".*", with_body);

  // A restart (stop(), start()) keeps the port, so clients see an outage, not a move.
  const int wanted = port_ > 0 ? port_ : options_.port;
  if (wanted == 0) {
    port_ = server_->bind_to_any_port(options_.host);
  } else if (server_->bind_to_port(options_.host, wanted)) {
    port_ = wanted;
  } else {
    port_ = -1;
  }
  if (port_ <= 0) {
    server_.reset();
    port_ = wanted;
    throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(wanted));
  }
  // The socket is listening already (bind_* calls listen()), so clients can
  // connect before the thread runs. Worker threads inherit this thread's signal
  // mask: with SIGPIPE blocked, writing to a client that went away fails with
  // EPIPE instead of killing the process.
  thread_ = std::thread([this] {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    server_->listen_after_bind();
  });
  // httplib's stop() is a no-op until the accept loop runs: wait for it, so that
  // a stop() right after start() cannot be lost.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void FakeServer::stop() {
  if (!server_) return;
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->stop();
  // Worker threads idle in keep-alive waits do not watch the listening socket:
  // shutting their connections down wakes them now instead of after the timeout.
  for (int fd : server_sockets(port_, -1)) shutdown(fd, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

bool FakeServer::pause(std::chrono::milliseconds duration) {
  if (duration.count() <= 0) return true;
  std::unique_lock lock(stop_mu_);
  return !stop_cv_.wait_for(lock, duration, [this] { return stopping_; });
}

void FakeServer::serve(const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader* reader) {
  HttpRequest in;
  in.method = req.method;
  in.path = req.path;
  in.target = req.target;
  in.query = req.params;
  in.headers = req.headers;
  if (reader != nullptr && (is_chunked(req) || content_length(req) > 0)) {
    in.has_body = true;
    (*reader)([&in](const char* data, std::size_t size) {
      in.body.append(data, size);
      return true;
    });
  }

  const std::string endpoint = classify(in);
  const bool admin = endpoint.rfind("sandbox.", 0) == 0;
  std::optional<Fault> fault;
  if (!admin) fault = faults_.take(endpoint);

  RequestRecord record{clock_->now(), in.method, in.path, endpoint, 0};
  auto finish = [&](int status) {
    record.status = status;
    if (!admin) log_.record(record);
  };

  const auto delay =
      std::chrono::milliseconds(latency_ms_.load() + (fault ? fault->latency_ms : 0));
  if (!admin && !pause(delay)) {
    finish(0);  // logged first: a client that sees the drop also sees the entry
    return drop_connection(req);
  }

  HttpResponse out;
  if (!fault || fault->applies_operation()) handle(in, out);
  if (fault && fault->kill_pid > 0) kill(fault->kill_pid, SIGKILL);

  if (fault && fault->reset) {
    finish(0);  // logged first: a client that sees the drop also sees the entry
    return drop_connection(req);
  }
  if (fault && fault->status > 0) {
    out = HttpResponse{};
    out.status = fault->status;
    out.body = fault->body;
    out.content_type = fault->content_type;
    out.headers = fault->headers;
  }
  if (out.hang_then_drop.count() > 0) {
    pause(out.hang_then_drop);
    finish(0);
    return drop_connection(req);
  }

  if (out.content_type == "application/json") out.content_type = json_content_type_;
  res.status = out.status;
  for (const auto& [name, value] : out.headers) res.set_header(name.c_str(), value);
  if (out.status != 204 && out.status != 304) res.set_content(out.body, out.content_type.c_str());
  finish(out.status);
}

}  // namespace eca::sandbox
