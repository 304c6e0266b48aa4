#include "base/time.h"

#include <time.h>

#include <cstdio>

namespace bd {

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string FormatRfc3339Nano(int64_t unix_nanos) {
  if (unix_nanos <= 0) return "";
  time_t secs = static_cast<time_t>(unix_nanos / 1'000'000'000);
  long nanos = static_cast<long>(unix_nanos % 1'000'000'000);
  tm t;
  gmtime_r(&secs, &t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, nanos);
  return buf;
}

int64_t ParseRfc3339Nano(std::string_view s) {
  int y, mo, d, h, mi, sec, consumed = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &consumed) != 6) {
    return -1;
  }
  int64_t nanos = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < str.size() && str[i] == '.') {
    int digits = 0;
    for (++i; i < str.size() && str[i] >= '0' && str[i] <= '9'; ++i, ++digits) {
      if (digits < 9) nanos = nanos * 10 + (str[i] - '0');
    }
    for (; digits < 9; ++digits) nanos *= 10;
  }
  if (i != str.size() - 1 || str[i] != 'Z') return -1;
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  return static_cast<int64_t>(timegm(&t)) * 1'000'000'000 + nanos;
}

std::string HumanDuration(int64_t nanos) {
  int64_t s = nanos / 1'000'000'000;
  auto plural = [](int64_t n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  if (s < 1) return "Less than a second";
  if (s < 60) return plural(s, "second");
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return plural(m, "minute");
  int64_t h = m / 60;
  if (h == 1) return "About an hour";
  if (h < 48) return plural(h, "hour");
  int64_t days = h / 24;
  if (days < 14) return plural(days, "day");
  if (days < 60) return plural(days / 7, "week");
  if (days < 730) return plural(days / 30, "month");
  return plural(days / 365, "year");
}

}  // namespace bd
