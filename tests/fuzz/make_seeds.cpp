// Writes the seeds that need the fixed keys of fuzz_keys.h: sealed envelopes for
// fuzz_envelope and encrypted records for fuzz_journal. Run by hand after a
// format change (it is not part of the default build):
//
//   cmake --build build --target fuzz_make_seeds && build/tests/fuzz/fuzz_make_seeds
//   tests/fuzz/corpus
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "agent/file_journal.h"
#include "crypto/envelope.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void put(const std::filesystem::path& p, std::string_view content) {
  std::filesystem::create_directories(p.parent_path());
  eca::fuzz::write_file(p, content, 0644);
  std::printf("wrote %s (%zu bytes)\n", p.c_str(), content.size());
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  eca::fuzz::init_sodium();
  const std::filesystem::path root = argv[1];

  auto keys = eca::fuzz::envelope_keys();
  auto sealer = eca::Sealer::from_public_key(keys.public_b64);
  if (!sealer) return 1;
  put(root / "fuzz_envelope" / "sealed-secret",
      sealer->seal("4A1C9F8E2B7D6C5A3E1F0B9D8C7A6E5F4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A"));
  put(root / "fuzz_envelope" / "sealed-key",
      sealer->seal(
          "3MVG9rZjd7MXFdLhBQjPSsm4MLDPZfCyC3x4VvZiVqEn2ldP6U7RkYOtdZzZMkYmQMsyiyrO0hT1iAJ5PGFCX"));
  put(root / "fuzz_envelope" / "sealed-empty", sealer->seal(""));
  auto both = eca::Sealer::from_public_keys({keys.second_public_b64, keys.public_b64});
  if (!both) return 1;
  put(root / "fuzz_envelope" / "sealed-two-recipients",
      both->seal("4A1C9F8E2B7D6C5A3E1F0B9D8C7A6E5F4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A"));

  ::unsetenv("CREDENTIALS_DIRECTORY");
  eca::fuzz::ScratchDir dir("seeds");
  const auto state = dir.path() / "state";
  std::filesystem::create_directories(state);
  ::chmod(state.c_str(), 0700);
  const auto jk = eca::fuzz::journal_key();
  eca::fuzz::write_file(state / "journal.key",
                        std::string_view(reinterpret_cast<const char*>(jk.data()), jk.size()),
                        0400);
  eca::FileJournal journal(state);
  if (!journal.open()) return 1;

  eca::JournalEntry e;
  e.rotation = "x";
  e.generation = 12;
  e.app_id = "0xIKj0000004CwxKAE";
  e.consumer_id = "888Kj0000004CwxKAE";
  e.staged_id = "0YvKj0000004CwxKAE";
  e.key = eca::Secret(
      "3MVG9rZjd7MXFdLhBQjPSsm4MLDPZfCyC3x4VvZiVqEn2ldP6U7RkYOtdZzZMkYmQMsyiyrO0hT1iAJ5PGFCX");
  e.secret = eca::Secret("4A1C9F8E2B7D6C5A3E1F0B9D8C7A6E5F4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A");
  e.phase = eca::JournalPhase::Staged;
  e.written_at = "2026-11-27T03:00:04Z";
  e.config_fingerprint = "9c1e55d0b3a2f4e1";
  // Byte 0 (even) tells fuzz_journal the rest is the record file itself.
  const std::string raw_mode(1, '\0');
  if (!journal.write(e)) return 1;
  put(root / "fuzz_journal" / "record-staged", raw_mode + slurp(state / "journal" / "x.rec"));

  e.phase = eca::JournalPhase::Promoted;
  e.manual = true;
  e.generation = 999999999999999999L;  // the longest header the reader accepts
  if (!journal.write(e)) return 1;
  put(root / "fuzz_journal" / "record-promoted-max-generation",
      raw_mode + slurp(state / "journal" / "x.rec"));

  eca::JournalEntry intent;
  intent.rotation = "x";
  intent.generation = 1;
  intent.phase = eca::JournalPhase::Intent;
  intent.app_id = e.app_id;
  intent.consumer_id = e.consumer_id;
  intent.written_at = e.written_at;
  if (!journal.write(intent)) return 1;
  put(root / "fuzz_journal" / "record-intent", raw_mode + slurp(state / "journal" / "x.rec"));
  return 0;
}
