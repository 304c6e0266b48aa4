// A container's lifecycle as a state machine: the states, and the transitions between them in
// one table that every change of a container's recorded state is checked against (in memory
// and in the database's UPDATE ... WHERE state IN (...)). The names are Docker's.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace bd::engine {

enum class State : unsigned char {
  kCreated,     // made, never started
  kRunning,     // its process runs under its shim
  kPaused,      // running, every process frozen
  kRestarting,  // exited, its shim about to start it again under its restart policy
  kExited,      // its process ended (or never started: the error says why)
};

std::string_view StateName(State s);  // "created", "running", ...
Result<State> ParseState(std::string_view name);

// Whether a container in `from` may be recorded as `to`. Exited may be recorded again (a start
// that failed, or a removal that failed after the exit).
bool TransitionAllowed(State from, State to);
// The states `to` may be reached from, as an SQL list for a WHERE clause: "'running', 'paused'".
std::string StatesLeadingTo(State to);
// Whether a container in `s` has a live shim: running, paused, or between two runs under a
// restart policy. ActiveStates: those states as an SQL list.
bool IsActive(State s);
std::string ActiveStates();
// FailedPrecondition naming the container and both states when the transition is not allowed.
Status CheckTransition(std::string_view container, State from, State to);

}  // namespace bd::engine
