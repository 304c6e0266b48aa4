#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace bd::log {
namespace {

Level InitialLevel() {
  Level level = Level::kWarn;
  if (const char* env = std::getenv("BASIC_DOCKER_LOG_LEVEL")) ParseLevel(env, &level);
  return level;
}

std::atomic<Level>& CurrentLevel() {
  static std::atomic<Level> level{InitialLevel()};
  return level;
}

}  // namespace

void SetLevel(Level level) { CurrentLevel().store(level); }

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug") *out = Level::kDebug;
  else if (name == "info") *out = Level::kInfo;
  else if (name == "warn" || name == "warning") *out = Level::kWarn;
  else if (name == "error") *out = Level::kError;
  else return false;
  return true;
}

bool Enabled(Level level) { return level >= CurrentLevel().load(std::memory_order_relaxed); }

void Write(Level level, std::string_view msg) {
  static constexpr std::string_view kNames[] = {"DEBU", "INFO", "WARN", "ERRO"};
  std::string line;
  line.reserve(msg.size() + 8);
  line.append(kNames[static_cast<int>(level)]).append("[").append(std::to_string(getpid()));
  line.append("] ").append(msg).push_back('\n');
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace bd::log
