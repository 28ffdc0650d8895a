// eca-sandbox: the fake Salesforce org and fake Infisical as a standalone program,
// for the README demo, scripts and benchmarks. Prints "ready" once both serve, and
// runs until SIGTERM or SIGINT; then prints the request counts to stderr.
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/rsa_signer.h"
#include "tests/sandbox/request_log.h"
#include "tests/sandbox/sandbox.h"

namespace {

using eca::sandbox::Sandbox;
using eca::sandbox::SandboxOptions;

constexpr const char* kUsage = R"(usage: eca-sandbox [options]

Serves a fake Salesforce org, a fake Infisical and the fake clouds' metadata services
(AWS IMDSv2, GCP, Azure IMDS; SANDBOX_METADATA_URL) on 127.0.0.1 until SIGTERM/SIGINT.

  --apps N               target ECAs to seed (default 3), plus "Connection_App"
  --https                serve TLS with the test certificates (see --tls-dir)
  --infisical-legacy     Infisical without the current routes (/api/v4/secrets,
                         /api/v2/folders), like a mid-2025 self-hosted build
  --infisical-rate-limits free | GLOBAL,READ,WRITE,SECRET
                         Infisical enforces per-window request limits per category
                         (free: Infisical Cloud's free plan, 600,200,90,120; 0 = none)
  --rate-window-ms N     length of the limits' fixed window (default 60000; shorter
                         scales time down for benchmarks)
  --tls-dir DIR          server.pem, server.key, ca.pem (default: tests/data/tls)
  --latency-ms N         added to every request (default 0)
  --stage-hang-ms N      how long a body-less R5 POST hangs (default 30000)
  --daily-api-max N      the org's DailyApiRequests.Max (default 15000); every REST
                         call counts, POST /__sandbox/limits sets what is left
  --port-salesforce P    0 = ephemeral (default)
  --port-infisical P     0 = ephemeral (default)
  --env-file FILE        write SANDBOX_* variables (shell-sourceable, mode 0600)
  --jwt-key-file FILE    enable the JWT bearer flow on "Connection_App": write a new
                         RSA test key to FILE (mode 0600; the fake holds a certificate
                         for it) and pre-authorize SANDBOX_JWT_USERNAME
  --ready-fd FD          also write "ready\n" to FD, then close it
  --help

Prints "ready" on stdout once both servers accept connections.
Admin routes: Salesforce GET /__sandbox/credentials, Infisical GET /__sandbox/secrets,
both POST /__sandbox/clock {"advance_seconds": N}.
)";

struct Args {
  SandboxOptions options;
  std::string env_file;
  std::string jwt_key_file;
  int ready_fd = -1;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "eca-sandbox: " << message << "\n\n" << kUsage;
  std::exit(2);
}

int to_int(const std::string& flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 1000000000) {
    usage_error(flag + " needs a non-negative number, got '" + text + "'");
  }
  return static_cast<int>(value);
}

// "free" or four comma-separated numbers; keeps a window set by an earlier flag.
eca::sandbox::InfisicalRateLimits parse_limits(const std::string& flag, const std::string& text) {
  auto limits = eca::sandbox::InfisicalRateLimits::infisical_cloud_free();
  if (text == "free") return limits;
  std::vector<int> numbers;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    numbers.push_back(to_int(flag, text.substr(start, comma - start).c_str()));
    start = comma + 1;
  }
  if (numbers.size() != 4) {
    usage_error(flag + " needs 'free' or GLOBAL,READ,WRITE,SECRET, got '" + text + "'");
  }
  limits.global = numbers[0];
  limits.read = numbers[1];
  limits.write = numbers[2];
  limits.secret = numbers[3];
  return limits;
}

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (flag == "--apps") {
      args.options.target_apps = to_int(flag, value());
    } else if (flag == "--infisical-legacy") {
      args.options.infisical_legacy_routes_only = true;
    } else if (flag == "--infisical-rate-limits") {
      args.options.infisical_rate_limits = parse_limits(flag, value());
    } else if (flag == "--rate-window-ms") {
      args.options.infisical_rate_limits.window =
          std::chrono::milliseconds(std::max(1, to_int(flag, value())));
    } else if (flag == "--https") {
      args.options.https = true;
    } else if (flag == "--tls-dir") {
      args.options.tls_dir = value();
    } else if (flag == "--latency-ms") {
      args.options.latency = std::chrono::milliseconds(to_int(flag, value()));
    } else if (flag == "--stage-hang-ms") {
      args.options.stage_hang = std::chrono::milliseconds(to_int(flag, value()));
    } else if (flag == "--daily-api-max") {
      args.options.salesforce_daily_api_max = to_int(flag, value());
    } else if (flag == "--port-salesforce") {
      args.options.salesforce_port = to_int(flag, value());
    } else if (flag == "--port-infisical") {
      args.options.infisical_port = to_int(flag, value());
    } else if (flag == "--env-file") {
      args.env_file = value();
    } else if (flag == "--jwt-key-file") {
      args.jwt_key_file = value();
    } else if (flag == "--ready-fd") {
      args.ready_fd = to_int(flag, value());
    } else {
      usage_error("unknown option " + flag);
    }
  }
  return args;
}

// Single-quoted for sh (and systemd's EnvironmentFile=).
std::string shell_quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string env_text(const Sandbox& sb, const std::string& jwt_key_file) {
  std::vector<std::pair<std::string, std::string>> vars;
  std::string ids;
  std::string names;
  for (const auto& app : sb.target_apps()) {
    ids += (ids.empty() ? "" : " ") + app.id;
    names += (names.empty() ? "" : " ") + app.developer_name;
  }
  vars.emplace_back("SANDBOX_SALESFORCE_URL", sb.salesforce().base_url());
  vars.emplace_back("SANDBOX_INFISICAL_URL", sb.infisical().base_url());
  vars.emplace_back("SANDBOX_CONNECTION_APP_ID", sb.connection_app().id);
  vars.emplace_back("SANDBOX_CONNECTION_CLIENT_ID", sb.connection_app().primary().key);
  vars.emplace_back("SANDBOX_CONNECTION_CLIENT_SECRET", sb.connection_app().primary().secret);
  vars.emplace_back("SANDBOX_INFISICAL_CLIENT_ID", sb.infisical_client_id());
  vars.emplace_back("SANDBOX_INFISICAL_CLIENT_SECRET", sb.infisical_client_secret());
  vars.emplace_back("SANDBOX_INFISICAL_IDENTITY_ID", sb.infisical_identity_id());
  vars.emplace_back("SANDBOX_METADATA_URL", sb.metadata().base_url());
  vars.emplace_back("SANDBOX_AWS_REGION", sb.cloud_keys().aws_region);
  vars.emplace_back("SANDBOX_PROJECT_ID", sb.project_id());
  vars.emplace_back("SANDBOX_PROJECT_SLUG", Sandbox::kProjectSlug);
  vars.emplace_back("SANDBOX_ENVIRONMENTS", "dev prod");
  vars.emplace_back("SANDBOX_APP_IDS", ids);
  vars.emplace_back("SANDBOX_APP_NAMES", names);
  if (!sb.ca_file().empty()) vars.emplace_back("SANDBOX_CA_FILE", sb.ca_file());
  if (!jwt_key_file.empty()) {
    vars.emplace_back("SANDBOX_JWT_KEY_FILE", jwt_key_file);
    vars.emplace_back("SANDBOX_JWT_USERNAME", Sandbox::kJwtUsername);
  }
  std::string text = "# Written by eca-sandbox; valid while it runs. Contains credentials.\n";
  for (const auto& [name, value] : vars) text += name + "=" + shell_quote(value) + "\n";
  return text;
}

// Written to a temporary file beside the target (mode 0600 from the start), fsynced
// and renamed over it: a reader never sees half a file or a readable-by-all one.
bool write_atomically(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  std::string tmp =
      (target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path()).string() +
      "/." + target.filename().string() + ".XXXXXX";
  const int fd = mkstemp(tmp.data());  // creates with mode 0600
  if (fd < 0) return false;
  bool ok = fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  ok = ok && std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) unlink(tmp.c_str());
  return ok;
}

void print_summary(const char* service, const eca::sandbox::RequestLog& log) {
  std::map<std::string, std::map<int, int>> counts;
  for (const auto& entry : log.entries()) ++counts[entry.endpoint][entry.status];
  std::cerr << "eca-sandbox: " << service << " requests: " << log.entries().size() << "\n";
  for (const auto& [endpoint, statuses] : counts) {
    int total = 0;
    std::string detail;
    for (const auto& [status, n] : statuses) {
      total += n;
      detail += (detail.empty() ? "" : ", ") +
                (status == 0 ? std::string("no answer") : std::to_string(status)) + " x" +
                std::to_string(n);
    }
    std::cerr << "  " << endpoint << " " << total << " (" << detail << ")\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  if (sodium_init() < 0) {
    std::cerr << "eca-sandbox: libsodium cannot initialise\n";
    return 1;
  }
  // Blocked before any thread starts, so every server thread inherits the mask and
  // only sigwait() below sees these signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::optional<Sandbox> sandbox;
  try {
    sandbox.emplace(args.options);
  } catch (const std::exception& e) {
    std::cerr << "eca-sandbox: " << e.what() << "\n";
    return 1;
  }
  if (!args.jwt_key_file.empty()) {
    const eca::Secret key = eca::generate_rsa_private_key_pem(2048);
    if (key.empty() || !write_atomically(args.jwt_key_file, std::string(key.view()))) {
      std::cerr << "eca-sandbox: cannot write " << args.jwt_key_file << "\n";
      return 1;
    }
    sandbox->enable_connection_jwt(key);
  }
  if (!args.env_file.empty() &&
      !write_atomically(args.env_file, env_text(*sandbox, args.jwt_key_file))) {
    std::cerr << "eca-sandbox: cannot write " << args.env_file << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  std::cerr << "eca-sandbox: Salesforce " << sandbox->salesforce().base_url() << ", Infisical "
            << sandbox->infisical().base_url() << ", " << sandbox->target_apps().size()
            << " target ECAs\n";
  std::cout << "ready" << std::endl;
  if (args.ready_fd >= 0) {
    (void)!write(args.ready_fd, "ready\n", 6);
    close(args.ready_fd);
  }

  int signal_number = 0;
  do {
    sigwait(&stop_signals, &signal_number);
  } while (signal_number == SIGPIPE);
  sandbox->stop();
  print_summary("Salesforce", sandbox->salesforce().log());
  print_summary("Infisical", sandbox->infisical().log());
  if (args.options.infisical_rate_limits.any()) {
    std::cerr << "Infisical answered " << sandbox->infisical().rate_limited_count()
              << " requests with 429 (rate limits)\n";
  }
  return 0;
}
