// Plugin call latency through the engine library's plugin manager (what `plugin call` and
// every engine feature backed by a plugin do after the CLI has started): a cold first call
// (the instance stopped before each: start, address line, connect, call), a warm call (the
// instance running, connection reused), and the same call served by an in-process built-in.
// The C++ test plugin (built with the SDK) and the Python example (standard library) are
// measured in the same run. Run by bench/run_plugin_bench.sh.
//
// usage: plugin_bench ROOT ROUNDS   (ROOT/plugins holds basic-docker-plugin-tp and -py)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Report(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))]; };
  std::printf("%-52s n=%-5zu p50 %9.1f us   p90 %9.1f us\n", what, us.size(), at(0.5), at(0.9));
  return at(0.5);
}

int Die(const bd::Status& st) {
  std::fprintf(stderr, "plugin_bench: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: plugin_bench ROOT ROUNDS\n");
    return 2;
  }
  auto eng = bd::engine::Engine::Open(argv[1]);
  if (!eng.ok()) return Die(eng.status());
  auto m = (*eng)->plugins();
  if (!m.ok()) return Die(m.status());
  int rounds = std::max(1, std::atoi(argv[2]));
  bd::plugin::Capabilities caps;
  caps.types["test"] = {"echo"};
  (*m)->RegisterBuiltin("builtin-echo", caps, [](std::string_view, std::string_view, std::string_view body)
                                                  -> bd::Result<std::string> { return std::string(body); });
  const std::string body = R"({"hello":"plugin"})";
  struct Target {
    const char* name;
    const char* type;
    const char* capability;
    std::string body;
  };
  // The Python example answers a malformed fetch with an InvalidArgument error: a full
  // request and answer without a download.
  std::vector<Target> targets = {{"tp", "test", "echo", body},
                                 {"py", "capsule-source", "fetch-http", R"({"uri": "ftp://x"})"}};
  double cold_cpp = 0, warm_cpp = 0;
  for (const Target& t : targets) {
    std::vector<double> cold, warm;
    for (int i = 0; i < rounds; ++i) {
      if (bd::Status st = (*m)->Stop(t.name); !st.ok()) return Die(st);
      auto t0 = Clock::now();
      auto r = (*m)->Call(t.name, t.type, t.capability, t.body);
      cold.push_back(Micros(Clock::now() - t0));
      if (!r.ok() && r.status().code() != bd::Code::kInvalidArgument) return Die(r.status());
    }
    for (int i = 0; i < rounds * 10; ++i) {
      auto t0 = Clock::now();
      auto r = (*m)->Call(t.name, t.type, t.capability, t.body);
      warm.push_back(Micros(Clock::now() - t0));
      if (!r.ok() && r.status().code() != bd::Code::kInvalidArgument) return Die(r.status());
    }
    std::string label = std::string(t.name == std::string("tp") ? "C++ SDK plugin" : "Python example plugin");
    double c = Report((label + ": cold first call").c_str(), cold);
    double w = Report((label + ": warm call").c_str(), warm);
    if (t.name == std::string("tp")) cold_cpp = c, warm_cpp = w;
    (void)(*m)->Stop(t.name);
  }
  std::vector<double> builtin;
  for (int i = 0; i < rounds * 10; ++i) {
    auto t0 = Clock::now();
    auto r = (*m)->Call("builtin-echo", "test", "echo", body);
    builtin.push_back(Micros(Clock::now() - t0));
    if (!r.ok()) return Die(r.status());
  }
  double b = Report("in-process built-in: call", builtin);
  std::printf("\ncold first call (C++): %.2f ms (target < 10 ms)\n", cold_cpp / 1000);
  std::printf("warm call (C++): %.0f us (target < 200 us)\n", warm_cpp);
  std::printf("warm call / built-in: %.0fx\n", b > 0 ? warm_cpp / b : 0);
  return 0;
}
