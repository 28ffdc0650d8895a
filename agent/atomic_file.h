// Durable file writes for the state directory.
//
// A write goes to a temporary file in the same directory (0600), is fsynced,
// renamed over the target, and the directory is fsynced, so after a crash the
// file holds either the old or the new content, never a mix.
#pragma once

#include <filesystem>
#include <string_view>

#include "clients/result.h"
#include "crypto/secret.h"

namespace eca {

Status write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Creates `dir` (and parents) with mode 0700 if missing; refuses a directory that is
// group- or world-writable.
Status ensure_private_dir(const std::filesystem::path& dir);

// Reads a whole file (capped at max_bytes) into a Secret. Missing file: Permanent error whose
// code is "ENOENT".
Result<Secret> read_file_secret(const std::filesystem::path& path, std::size_t max_bytes = 1 << 20);

Status remove_file_durably(const std::filesystem::path& path);

}  // namespace eca
