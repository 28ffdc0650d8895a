#include "agent/runtime.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "agent/atomic_file.h"

namespace eca {

Runtime::Runtime(const Config& config, Logger& log)
    : config_(config), log_(log), state_(config.agent.state_dir), journal_(config.agent.state_dir) {
  if (const char* f = std::getenv("ECA_ROTATOR_TEST_CLOCK_FILE"); f != nullptr && *f != '\0') {
    clock_ = std::make_unique<OffsetFileClock>(f);
    test_clock_ = true;
  } else {
    clock_ = std::make_unique<SystemClock>();
  }
}

Runtime::~Runtime() = default;

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status StateDirLock::acquire(const std::filesystem::path& state_dir) {
  if (auto st = ensure_private_dir(state_dir); !st) return st;
  auto lock_path = state_dir / "lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return Error::permanent("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    return Error::permanent("another eca-rotator (pid " + holder + ") is using state directory " +
                            state_dir.string() +
                            "; only one agent may use a state directory at a time");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
  }
  return ok_status();
}

Status Runtime::open_state(bool take_lock) {
  if (take_lock) {
    if (auto st = lock_.acquire(config_.agent.state_dir); !st) return st;
  }
  if (auto st = state_.init(); !st) return st;
  return journal_.open();
}

Status Runtime::build_clients() {
  InfisicalEndpoint ie;
  ie.url = config_.infisical.url;
  ie.project_id = config_.infisical.project_id;
  ie.environment = config_.infisical.environment;
  ie.client_id = config_.infisical.client_id;
  ie.client_secret = config_.infisical.client_secret.clone();
  ie.ca_file = config_.infisical.ca_file;
  const Clock* clock = clock_.get();
  infisical_ = std::make_unique<InfisicalClient>(transport_, std::move(ie),
                                                 [clock] { return clock->now(); });
  for (const auto& [name, c] : config_.connections) {
    SalesforceEndpoint se;
    se.name = name;
    se.my_domain_url = c.my_domain_url;
    se.api_version = c.api_version;
    se.client_id = c.client_id;
    se.client_secret = c.client_secret.clone();
    se.ca_file = c.ca_file;
    salesforce_[name] = std::make_unique<SalesforceClient>(transport_, std::move(se));
  }
  if (config_.encryption.mode == EncryptionMode::SealedBox) {
    auto s = Sealer::from_public_key(config_.encryption.recipient_public_key);
    if (!s) return s.error();
    sealer_ = std::move(s.value());
  }
  return ok_status();
}

SalesforceClient* Runtime::salesforce(const std::string& connection) {
  auto it = salesforce_.find(connection);
  return it == salesforce_.end() ? nullptr : it->second.get();
}

RotationEngine Runtime::engine() {
  EngineDeps d;
  d.config = &config_;
  d.infisical = infisical_.get();
  for (auto& [name, c] : salesforce_) d.salesforce[name] = c.get();
  d.sealer = sealer_ ? &*sealer_ : nullptr;
  d.journal = &journal_;
  d.state = &state_;
  d.clock = clock_.get();
  d.log = &log_;
  d.sleep = [](std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); };
  return RotationEngine(std::move(d));
}

}  // namespace eca
