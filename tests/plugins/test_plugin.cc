// A plugin for the manager's tests, built with the SDK. What it does wrong, if anything, comes
// from its file name (the tests link it under several): ...-hang never prints its address,
// ...-badjson and ...-badversion print bad capabilities, ...-crashstart exits at once.
// Endpoints of type "test": echo (the body back), pid ({"pid": N}), sleep ({"ms": N}),
// crash (aborts mid-call), fail (an InvalidArgument error), env (its environment, a JSON
// array). Each `capabilities` run appends a line to BINARY.asked.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "plugin/sdk.h"

int main(int argc, char** argv) {
  std::string name = argc > 0 ? argv[0] : "";
  name = name.substr(name.rfind('/') + 1);
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  bool caps = argc == 2 && std::string(argv[1]) == "capabilities";
  if (caps && argc > 0) {  // each time it is asked, a line beside the binary
    if (FILE* f = std::fopen((std::string(argv[0]) + ".asked").c_str(), "a")) {
      std::fputs("asked\n", f);
      std::fclose(f);
    }
  }
  if (caps && has("badjson")) {
    std::puts("{\"contractVersion\": \"basic-docker.plugin/v1\", \"type\": ");
    return 0;
  }
  if (caps && has("badversion")) {
    std::puts(R"({"contractVersion": "basic-docker.plugin/v0", "type": {"test": ["echo"]}})");
    return 0;
  }
  if (!caps && has("crashstart")) {
    std::fputs("crashstart: giving up before listening\n", stderr);
    return 3;
  }
  if (!caps && has("hang")) {
    std::fputs("hang: never listening\n", stderr);
    for (;;) ::pause();
  }
  bd::plugin::Plugin p;
  p.Serve("test", "echo", [](std::string_view body) -> bd::Result<std::string> { return std::string(body); });
  p.Serve("test", "pid", [](std::string_view) -> bd::Result<std::string> {
    return "{\"pid\":" + std::to_string(::getpid()) + "}";
  });
  p.Serve("test", "sleep", [](std::string_view body) -> bd::Result<std::string> {
    auto ms = bd::ParseInt(bd::TrimSpace(body.substr(body.find(':') + 1, body.find('}') - body.find(':') - 1)));
    std::this_thread::sleep_for(std::chrono::milliseconds(ms.value_or(0)));
    return std::string("{}");
  });
  p.Serve("test", "crash", [](std::string_view) -> bd::Result<std::string> {
    std::fputs("crash: aborting mid-call\n", stderr);
    std::abort();
  });
  p.Serve("test", "env", [](std::string_view) -> bd::Result<std::string> {
    std::vector<std::string> quoted;
    for (char** e = environ; *e != nullptr; ++e) quoted.push_back("\"" + std::string(*e) + "\"");
    return "[" + bd::Join(quoted, ",") + "]";
  });
  p.Serve("test", "fail", [](std::string_view) -> bd::Result<std::string> {
    return bd::Status::InvalidArgument("this request is wrong on purpose");
  });
  return p.Main(argc, argv);
}
