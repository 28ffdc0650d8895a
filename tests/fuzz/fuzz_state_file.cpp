// Fuzzes loading the per-rotation state file (agent/state_store.h) from
// <state_dir>/rotations/x.json. A record that loads is saved again and must
// load back identical.
#include <cstdint>
#include <string>

#include "agent/state_store.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

struct Harness {
  eca::fuzz::ScratchDir dir{"state"};
  eca::StateStore store{dir.path() / "state"};

  Harness() {
    eca::fuzz::init_sodium();
    auto st = store.init();
    ECA_FUZZ_CHECK(st.ok());
  }
  std::filesystem::path file() const { return dir.path() / "state" / "rotations" / "x.json"; }
};

bool same(const eca::RotationRecord& a, const eca::RotationRecord& b) {
  return a.name == b.name && a.last_rotated == b.last_rotated && a.last_manual == b.last_manual &&
         a.generation == b.generation && a.fingerprint == b.fingerprint && a.app_id == b.app_id &&
         a.consumer_id == b.consumer_id && a.last_attempt == b.last_attempt &&
         a.last_error == b.last_error && a.consecutive_failures == b.consecutive_failures;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  eca::fuzz::write_file(h.file(), eca::fuzz::as_view(data, size));

  auto r = h.store.load("x");
  if (!r) {
    ECA_FUZZ_CHECK(!r.error().message.empty());
    return 0;
  }
  ECA_FUZZ_CHECK(r->has_value());
  const eca::RotationRecord& rec = **r;
  ECA_FUZZ_CHECK(rec.name == "x");

  auto saved = h.store.save(rec);
  ECA_FUZZ_CHECK(saved.ok());
  auto again = h.store.load("x");
  ECA_FUZZ_CHECK(again.ok() && again->has_value() && same(rec, **again));
  return 0;
}
