// basic-docker-shim: the one process that supervises one container. It launches the
// container, records it running, copies its stdout and stderr into the container log (and to
// an attached CLI), reaps it, records the exit code and finish time in the state database,
// cleans up --rm containers and reports each step to the CLI on the sync pipe (fd 3).
// Single-threaded by design: the container is cloned from it.
#pragma once

namespace bd::shim {

int Main(int argc, char** argv);

}  // namespace bd::shim
