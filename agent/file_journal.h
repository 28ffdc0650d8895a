// FileJournal: journal records sealed with XChaCha20-Poly1305 (crypto/journal_seal.h
// has the record format) under <state_dir>/journal/<rotation>.rec (0600, directory
// 0700). The key is
// $CREDENTIALS_DIRECTORY/journal-key when systemd provides one, else
// <state_dir>/journal.key (0400), created on first use.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agent/journal.h"

namespace eca {

class FileJournal final : public Journal {
 public:
  explicit FileJournal(std::filesystem::path state_dir);
  Status open();  // loads or creates the key; call before anything else
  Status write(const JournalEntry& entry) override;
  Result<std::optional<JournalEntry>> read(const std::string& rotation) override;
  Status clear(const std::string& rotation) override;
  std::vector<std::string> pending() const;  // rotations with a record on disk

 private:
  std::filesystem::path path_for(const std::string& rotation) const;
  std::filesystem::path dir_;
  std::filesystem::path state_dir_;
  Secret key_;
};

}  // namespace eca
