// Durable file writes for the state directory.
//
// A write goes to a temporary file in the same directory (0600), is fsynced,
// renamed over the target, and the directory is fsynced, so after a crash the
// file holds either the old or the new content, never a mix.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace eca {

// How much durability a write buys with fsyncs (each costs milliseconds on a real disk
// and sits on a rotation's critical path):
//   Full:     file and directory fsynced: the new content survives a power loss. For
//             the journal and keys, which protect credentials.
//   Content:  file fsynced, directory not: after a power loss the file holds the old or
//             the new content, complete either way. For the state records, a cache of
//             what Infisical's metadata records anyway.
//   None:     rename only: complete content on a crash of the agent, no promise on a
//             power loss. For files rewritten continually (the metrics textfile).
enum class Durability { Full, Content, None };

Status write_file_atomically(const std::filesystem::path& path, std::string_view content,
                             Durability durability = Durability::Full);

// Creates `dir` (and parents) with mode 0700 if missing; refuses a directory that is
// group- or world-writable.
Status ensure_private_dir(const std::filesystem::path& dir);

// Reads a whole file (capped at max_bytes) into a Secret. Missing file: Permanent error whose
// code is "ENOENT".
Result<Secret> read_file_secret(const std::filesystem::path& path, std::size_t max_bytes = 1 << 20);

// Full: the removal itself survives a power loss; otherwise it may be undone by one.
Status remove_file(const std::filesystem::path& path, Durability durability = Durability::Full);

}  // namespace eca
