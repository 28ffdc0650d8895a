// An in-memory world for rotation engine tests: a fake Salesforce consumer (primary, one
// staged slot, which credentials are valid at each instant), a fake Infisical (folders,
// secrets with metadata), and an in-memory journal and record store.
//
// Everything in a World is durable: it is what survives when the agent process dies. The
// adapters (SfFake, InfisicalFake, JournalFake, RecordsFake) are what an engine talks to;
// a test makes new ones for every simulated process. Every call that changes or reads
// durable state is an "operation" the world counts, and the world can kill the process at
// the k-th operation, either before its effect lands or after it landed with the answer
// lost, by throwing Crash through the engine (which is then abandoned, as a dead process).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/journal.h"
#include "agent/rotation_records.h"
#include "clients/infisical_api.h"
#include "clients/infisical_client.h"
#include "clients/salesforce_api.h"
#include "common/clock.h"

namespace eca::enginetest {

// The simulated death of the agent process.
struct Crash {};

enum class CrashMode {
  BeforeEffect,  // the process dies before the request reaches the server (or the disk)
  AnswerLost,    // the effect lands, the process dies before it sees the answer
};

struct Pair {
  std::string key;
  std::string secret;
};

struct SlotCredential {
  std::string id;
  Pair pair;
  StagedState state = StagedState::Active;
  TimePoint created;
  TimePoint expires;  // Rotated only
};

struct StoredValue {
  std::string value;
  std::map<std::string, std::string> metadata;
};

class World {
 public:
  World();

  // --- crash control ---
  // Operation k (0-based, counted from the world's creation) kills the process.
  void crash_at(int k, CrashMode mode) {
    crash_at_ = k;
    mode_ = mode;
  }
  // The first operation named `name` from now on kills the process before its effect.
  void crash_before(std::string name) { crash_before_ = std::move(name); }
  void no_crash() {
    crash_at_ = -1;
    crash_before_.clear();
  }
  int operations() const { return static_cast<int>(log_.size()); }
  const std::vector<std::string>& log() const { return log_; }

  // Runs one operation: counts it and applies `effect`, dying around it when told to.
  template <class F>
  auto operation(const char* name, F&& effect) {
    const int k = operations();
    log_.push_back(name);
    if (crash_before_ == name) {
      crash_before_.clear();
      throw Crash{};
    }
    if (k == crash_at_ && mode_ == CrashMode::BeforeEffect) throw Crash{};
    auto result = effect();
    if (k == crash_at_) throw Crash{};
    return result;
  }

  // --- time ---
  TimePoint now;

  // --- Salesforce: one app, one consumer, and the connection's own app ---
  std::string app_id = "0xI000000000001AAA";
  std::string consumer_id = "888000000000001AAA";
  Pair connection;
  Pair primary;
  std::optional<SlotCredential> slot;
  int promotes = 0;
  std::vector<std::string> violations;  // invariant breaches seen as they happened

  Pair new_pair();
  std::string new_id(const char* prefix);
  // Whether Salesforce accepts this pair right now.
  bool authenticates(const Pair& p) const;
  // Keys of every credential valid right now (primary and a live slot credential).
  std::set<std::string> valid_keys() const;

  // --- Infisical ---
  std::set<std::string> folders{"/"};
  std::map<std::string, std::map<std::string, StoredValue>> secrets;  // by folder, then name
  std::string secret_path = "/salesforce/billing";
  // How Infisical answers writes (the check secret and the publish alike): ok, or the
  // identity's role does not allow them, or an approval policy holds them.
  enum class Writes { Taken, Forbidden, NeedApproval } writes = Writes::Taken;
  std::optional<Pair> held() const;  // the pair in the mapped secrets, when both exist
  std::map<std::string, std::string> held_metadata() const;

  // --- local disk ---
  std::map<std::string, JournalEntry> journal;
  std::map<std::string, RotationRecord> records;

 private:
  int crash_at_ = -1;
  std::string crash_before_;
  CrashMode mode_ = CrashMode::BeforeEffect;
  std::vector<std::string> log_;
  int counter_ = 0;
};

JournalEntry copy_entry(const JournalEntry& e);

class WorldClock final : public Clock {
 public:
  explicit WorldClock(const World& w) : w_(w) {}
  TimePoint now() const override { return w_.now; }

 private:
  const World& w_;
};

class SfFake final : public SalesforceApi {
 public:
  explicit SfFake(World& w);
  const SalesforceEndpoint& endpoint() const override { return ep_; }
  Result<std::vector<SfConsumer>> consumers(const std::string& app_id) override;
  Result<SfPair> read_primary(const std::string& app_id, const std::string& consumer_id) override;
  Result<std::vector<SfStaged>> staged(const std::string& app_id,
                                       const std::string& consumer_id) override;
  Result<SfStaged> stage(const std::string& app_id, const std::string& consumer_id) override;
  Status promote(const std::string& app_id, const std::string& consumer_id,
                 const std::string& staged_id) override;
  Status revoke(const std::string& app_id, const std::string& consumer_id,
                const std::string& staged_id) override;
  Status verify(const Secret& key, const Secret& secret) override;

 private:
  World& w_;
  SalesforceEndpoint ep_;
};

class InfisicalFake final : public InfisicalApi {
 public:
  explicit InfisicalFake(World& w) : w_(w) {}
  Status login() override { return ok_status(); }
  Status renew() override { return ok_status(); }
  Result<std::vector<StoredSecret>> list(const std::string& path) override;
  Status upsert(const std::string& path, std::vector<SecretWrite>& writes,
                std::vector<StoredSecret>* echoed = nullptr) override;
  Status create_folder(const std::string& path) override;
  Status probe_environment() override;

 private:
  World& w_;
};

class JournalFake final : public Journal {
 public:
  explicit JournalFake(World& w) : w_(w) {}
  Status write(const JournalEntry& entry) override;
  Result<std::optional<JournalEntry>> read(const std::string& rotation) override;
  Status clear(const std::string& rotation) override;

 private:
  World& w_;
};

class RecordsFake final : public RotationRecords {
 public:
  explicit RecordsFake(World& w) : w_(w) {}
  Result<std::optional<RotationRecord>> load(const std::string& name) const override;
  Status save(const RotationRecord& record) override;

 private:
  World& w_;
};

}  // namespace eca::enginetest
