// SharedListing: one recursive listing of the Infisical secrets under a burst's rotations,
// serving each rotation's first look at its folder (DESIGN.md §3 step 1) instead of one
// list per rotation. Under Infisical Cloud's limits a burst is bound by the "secret"
// category, where a rotation's own list is one of its three requests.
//
// The listing is only a first look. The engine uses what it shows for a rotation only
// when it is fresh (younger than kMaxAge), shows the rotation's two secrets exactly once,
// and agrees with the rotation's local record and Salesforce's primary key (see
// RotationEngine::first_look); anything else, and every rotation when the listing failed,
// lists its own folder exactly as without it. It keeps no secret value: what a rotation
// needs (fingerprint, generation, rotation time, recipients) is read from the metadata and
// envelopes as soon as the answer arrives.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/logger.h"
#include "agent/rotation_engine.h"
#include "clients/infisical_api.h"
#include "common/clock.h"

namespace eca {

class SharedListing {
 public:
  // How old a listing may be and still serve a first look. A burst under Infisical's rate
  // limits lasts minutes and another agent may publish meanwhile; a minute keeps the window
  // in which a hand edit could go unseen about as short as a rotation's own steps take
  // under the limits (one rate-limit window), while a paced burst needs one listing a
  // minute instead of one per rotation. An older listing is taken again (one request) when
  // at least two rotations still wait for their first look and it could serve them.
  static constexpr std::chrono::seconds kMaxAge{60};

  // Rotations of one Infisical project and environment (an agent's client has one of
  // each), in the order of the burst. Nothing is sent yet.
  SharedListing(InfisicalApi& infisical, const Clock& clock, Logger& log,
                const std::vector<const RotationSettings*>& todo);

  // The first listing, before the workers start: one request when at least two rotations
  // share it, none otherwise.
  void take();

  // What the listing shows at `r`'s folder when it may serve `r`'s first look now: taken
  // less than kMaxAge ago, and both mapped secrets there exactly once. nullopt otherwise
  // (the rotation lists its own folder). Each rotation is served at most once.
  std::optional<HeldPair> first_look(const RotationSettings& r);
  // The engine used what first_look showed (it agreed with the local record).
  void used();

  // The folder listed ("" when there was nothing to share), requests made, looks used.
  const std::string& parent() const { return parent_; }
  int listings() const;
  int served() const;

 private:
  void list_locked();  // mu_ held

  InfisicalApi& infisical_;
  const Clock& clock_;
  Logger& log_;
  std::vector<const RotationSettings*> todo_;
  std::string parent_;
  mutable std::mutex mu_;
  bool failed_ = false;
  int listings_ = 0;
  int served_ = 0;
  TimePoint taken_at_{};
  std::set<std::string> waiting_;  // rotations that have not had their first look yet
  // By rotation name: what its folder shows, when it shows both mapped secrets once.
  std::map<std::string, HeldPair> held_;
};

}  // namespace eca
