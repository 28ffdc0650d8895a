// Delivery: the consumer side of the agent. Polls the Infisical folders that hold sealed
// pairs (one listing per place, however many deliveries read it), opens the envelopes
// with the delivery's private key, renders the pair in the configured format and writes
// it atomically, only when it changed, then runs the on_change hook (debounced, with a
// random splay). A value that does not open leaves the previous file in place.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "clients/infisical_api.h"
#include "common/clock.h"
#include "common/result.h"
#include "common/secret.h"

namespace eca {

class Logger;
class Metrics;
struct StoredSecret;

// One opened pair and what its metadata says about it.
struct OpenedPair {
  Secret key;
  Secret secret;
  long generation = 0;
  std::optional<TimePoint> rotated_at;
  std::string fingerprint;  // "b2:...", of the key
};

// Finds the delivery's two secrets in a folder listing and opens them. Errors name what
// is wrong (missing, plain vs sealed, wrong recipient with the key ids, a pair of two
// generations) and never carry a value.
Result<OpenedPair> open_pair(const DeliverySettings& d, const std::vector<StoredSecret>& folder);

// The file's content in the delivery's format.
Secret render_delivery(const DeliverySettings& d, const OpenedPair& pair);

// Writes `content` to d.path unless the file already holds exactly that (then only its
// owner, group and mode are corrected). Temporary file in the same directory, fsync,
// rename, fsync of the directory: a reader sees the old file or the new one, whole.
// Returns whether the content was written.
Result<bool> write_delivery_file(const DeliverySettings& d, const Secret& content);

// Reads the pair for one delivery once: the listing, then open_pair. For `exec`.
Result<OpenedPair> fetch_pair(InfisicalApi& infisical, const DeliverySettings& d);

class DeliveryService {
 public:
  // The Infisical client for a project and environment (the daemon's own for its
  // [infisical] place; others are made on demand).
  using ClientFor =
      std::function<InfisicalApi&(const std::string& project, const std::string& env)>;
  struct Options {
    std::chrono::seconds hook_timeout{30};
    // Random delay in [0, n) seconds; tests pass a fixed one.
    std::function<int(int)> splay = nullptr;
  };
  DeliveryService(const std::vector<DeliverySettings>& deliveries, ClientFor clients,
                  const Clock& clock, Logger& log, Metrics* metrics, Options options);
  ~DeliveryService();

  // Polls every delivery due at `now` (grouped by place: one listing each), writes what
  // changed, runs hooks whose time came. Returns the next instant anything is due.
  TimePoint tick();
  // Deliveries whose last attempt failed (`run --once` exits 1 then).
  int failing() const;
  // Runs tick() on a thread until stop(). on_change hooks then run on a second thread,
  // one after the other, so a slow hook (a service restart) never holds the polls.
  // Without start() (`run --once`), tick() runs them itself.
  void start();
  void stop();

 private:
  struct State {
    TimePoint next_poll{};
    bool rendered = false;  // delivered at least once by this process
    long generation = 0;
    std::string fingerprint;
    std::optional<TimePoint> source_changed;
    std::optional<TimePoint> hook_due;
    std::string last_error;
    std::string error_stage;
    std::optional<TimePoint> behind_since;
  };
  void poll_place(const std::vector<std::size_t>& group, TimePoint now);
  void deliver(std::size_t i, const std::vector<StoredSecret>& folder, TimePoint now);
  void fail(std::size_t i, const std::string& stage, const std::string& message);
  struct HookJob {
    std::string delivery;
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;
    long generation = 0;
  };
  void run_hook_if_due(std::size_t i, TimePoint now);
  void run_hook(const HookJob& job);
  void publish_metrics(std::size_t i);

  const std::vector<DeliverySettings>& deliveries_;
  ClientFor clients_;
  const Clock& clock_;
  Logger& log_;
  Metrics* metrics_;
  Options options_;
  std::vector<State> state_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  // Hooks waiting for the hook thread (guarded by mu_); empty when hooks run inline.
  std::deque<HookJob> hooks_;
  bool hooks_on_thread_ = false;
  std::condition_variable hooks_cv_;
  std::thread hook_thread_;
};

}  // namespace eca
