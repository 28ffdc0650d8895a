// Journal sealing: the on-disk form of one journal record, XChaCha20-Poly1305 under the
// journal key (agent/file_journal.h keeps the files, this keeps the bytes).
//
// Record: "ECRJ1\n" <generation as decimal> "\n" <24-byte nonce> <ciphertext>. The
// rotation name and generation are the associated data, so a record cannot be renamed
// onto another rotation or replayed as another generation.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace eca::journal_seal {

inline constexpr std::size_t kKeyBytes = 32;

// A fresh random journal key.
Secret new_key();

// The whole record for `plain` (the record's content) of `rotation` at `generation`.
// `key` must be kKeyBytes long.
std::string seal(const Secret& key, const std::string& rotation, long generation,
                 const Secret& plain);

struct Opened {
  long generation = 0;
  Secret plain;
};

// Reads a record of `rotation`; `what` names it in errors ("journal record <path>").
// Every error is permanent and says that nothing was promoted from the record.
Result<Opened> open(const Secret& key, const std::string& rotation, std::string_view record,
                    const std::string& what);

}  // namespace eca::journal_seal
