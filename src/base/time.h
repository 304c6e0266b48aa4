// Wall-clock times as the engine stores and shows them. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bd {

// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
int64_t NowNanos();

// RFC 3339 with nanoseconds in UTC, e.g. "2026-11-22T10:00:00.123456789Z"; 0 gives "".
std::string FormatRfc3339Nano(int64_t unix_nanos);
// Parses what FormatRfc3339Nano writes (fraction optional). Returns -1 on malformed input.
int64_t ParseRfc3339Nano(std::string_view s);

// "3 seconds", "About a minute", "2 hours", as `docker ps` prints durations.
std::string HumanDuration(int64_t nanos);

}  // namespace bd
