// The two date formats the fakes print, each as its service prints it.
#pragma once

#include <chrono>
#include <string>

namespace eca::sandbox {

// Salesforce REST: "2026-11-27T15:24:19.000+0000".
std::string salesforce_date(std::chrono::system_clock::time_point t);

// Infisical (JavaScript Date.toISOString): "2026-11-27T15:24:19.439Z".
std::string iso8601_utc(std::chrono::system_clock::time_point t);

}  // namespace eca::sandbox
