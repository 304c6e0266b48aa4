// The wire format between the engine (the CLI, later a server) and a container's shim.
//
// The engine starts the shim with the container's id in kShimIdEnv and the write end of a
// pipe as descriptor 3 (the sync pipe). The shim writes one '\n'-terminated line per message:
//   started PID              the container's process runs (its pid as the host sees it)
//   failed EXITCODE MESSAGE  it never ran: 125 (engine), 126 (cannot run), 127 (not found)
//   exited EXITCODE          it ended (after --rm cleanup, if any)
//   detached                 the attached client used its detach keys
// An attach client connects to the shim's attach socket and sends its stdio descriptors with
// the payload kDetachKeysPayload + Docker's --detach-keys spelling; it then reads `exited` or
// `detached` lines as above.
// A resize is a connection of its own that sends kResizePayload + "ROWS,COLS" and no
// descriptors: the shim sets the container's terminal to that size and closes the connection
// (so the client knows it is done). The attached client, if any, is untouched.
#pragma once

#include <unistd.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "os/error.h"

namespace bd::shim {

// The environment variable that names the shim's container.
inline constexpr std::string_view kShimIdEnv = "BASIC_DOCKER_SHIM_ID";
inline constexpr std::string_view kMsgStarted = "started";
inline constexpr std::string_view kMsgFailed = "failed";
inline constexpr std::string_view kMsgExited = "exited";
inline constexpr std::string_view kMsgDetached = "detached";
inline constexpr std::string_view kDetachKeysPayload = "detach-keys=";
inline constexpr std::string_view kResizePayload = "resize=";

// Reads one '\n'-terminated line from `fd` byte by byte (the pipe carries few, short lines and
// nothing after the line may be consumed). Empty result: EOF.
inline Result<std::string> ReadLine(int fd) {
  std::string line;
  char c;
  while (true) {
    ssize_t n = os::RetryEintr([&] { return ::read(fd, &c, 1); });
    if (n < 0) return os::ErrnoStatus("read shim channel");
    if (n == 0 || c == '\n') return line;
    line.push_back(c);
  }
}

}  // namespace bd::shim
