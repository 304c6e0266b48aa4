// A small leveled logger on stderr. The level comes from SetLogLevel (the CLI's --log-level)
// or BASIC_DOCKER_LOG_LEVEL. Thread-safe: each message is one write(2).
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace bd::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void SetLevel(Level level);
bool ParseLevel(std::string_view name, Level* out);
bool Enabled(Level level);
void Write(Level level, std::string_view msg);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace bd::log
