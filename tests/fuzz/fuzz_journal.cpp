// Fuzzes reading journal records (agent/file_journal.h) from
// <state_dir>/journal/x.rec, with a fixed journal key.
//
// Byte 0 selects what the rest of the input is:
//   even: the record file itself (header parsing, truncation, authentication);
//   odd:  the decrypted JSON content, which the harness seals into a valid record
//         (generation = byte 0 >> 1), so the decoder behind the AEAD is reached.
// A record that reads back is written again with FileJournal::write and must
// read back identical.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/file_journal.h"
#include "crypto/journal_seal.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const auto g_key = eca::fuzz::journal_key();

struct Harness {
  eca::fuzz::ScratchDir dir{"journal"};
  eca::FileJournal journal{dir.path() / "state"};

  Harness() {
    eca::fuzz::init_sodium();
    ::unsetenv("CREDENTIALS_DIRECTORY");  // the key must be the fixed one below
    std::filesystem::create_directories(dir.path() / "state");
    ::chmod((dir.path() / "state").c_str(), 0700);
    eca::fuzz::write_file(
        dir.path() / "state" / "journal.key",
        std::string_view(reinterpret_cast<const char*>(g_key.data()), g_key.size()), 0400);
    auto st = journal.open();
    ECA_FUZZ_CHECK(st.ok());
  }
  std::filesystem::path record() const { return dir.path() / "state" / "journal" / "x.rec"; }
};

// The record as the journal writes it: the harness only chooses the content.
std::string seal_record(std::string_view plain, long generation) {
  const eca::Secret key(
      std::string_view(reinterpret_cast<const char*>(g_key.data()), g_key.size()));
  return eca::journal_seal::seal(key, "x", generation, eca::Secret(plain));
}

bool same(const eca::JournalEntry& a, const eca::JournalEntry& b) {
  return a.rotation == b.rotation && a.generation == b.generation && a.app_id == b.app_id &&
         a.consumer_id == b.consumer_id && a.staged_id == b.staged_id && a.key == b.key &&
         a.secret == b.secret && a.phase == b.phase && a.written_at == b.written_at &&
         a.manual == b.manual && a.config_fingerprint == b.config_fingerprint;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  if (size == 0) return 0;
  const std::string_view rest = eca::fuzz::as_view(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    eca::fuzz::write_file(h.record(), rest);
  } else {
    eca::fuzz::write_file(h.record(), seal_record(rest, data[0] >> 1));
  }

  auto r = h.journal.read("x");
  if (!r) {
    ECA_FUZZ_CHECK(!r.error().message.empty());
    return 0;
  }
  ECA_FUZZ_CHECK(r->has_value());  // the file exists
  const eca::JournalEntry& e = **r;
  ECA_FUZZ_CHECK(e.rotation == "x");
  if (e.phase != eca::JournalPhase::Intent) ECA_FUZZ_CHECK(!e.key.empty() && !e.secret.empty());

  auto w = h.journal.write(e);
  ECA_FUZZ_CHECK(w.ok());
  auto again = h.journal.read("x");
  ECA_FUZZ_CHECK(again.ok() && again->has_value() && same(e, **again));
  return 0;
}
