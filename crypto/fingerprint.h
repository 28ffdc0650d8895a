// Fingerprint: how the agent names a consumer key without revealing it.
//
// Stored as Infisical secret metadata next to sealed values (which the agent
// cannot read back), so a later run, another VM or an operator can tell which
// pair Infisical holds. The consumer key is ~80 random characters, so an
// unkeyed hash reveals nothing usable.
#pragma once

#include <string>
#include <string_view>

namespace eca {

// "b2:" + 32 hex chars (BLAKE2b-128 of the key).
std::string fingerprint(std::string_view consumer_key);

// The first 12 characters after the prefix: enough for a status table.
std::string short_fingerprint(std::string_view fp);

}  // namespace eca
