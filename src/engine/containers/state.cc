#include "engine/containers/state.h"

#include <array>

namespace bd::engine {
namespace {

constexpr std::array<State, 5> kStates = {State::kCreated, State::kRunning, State::kPaused,
                                          State::kRestarting, State::kExited};

// kTransitions[from][to]. Columns and rows in kStates' order.
constexpr bool kTransitions[5][5] = {
    //            created running paused restarting exited
    /* created */    {false, true,  false, false,     true},
    /* running */    {false, false, true,  true,      true},
    /* paused */     {false, true,  false, true,      true},
    /* restarting */ {false, true,  false, false,     true},
    /* exited */     {false, true,  false, false,     true},
};

}  // namespace

std::string_view StateName(State s) {
  switch (s) {
    case State::kCreated: return "created";
    case State::kRunning: return "running";
    case State::kPaused: return "paused";
    case State::kRestarting: return "restarting";
    case State::kExited: return "exited";
  }
  return "unknown";
}

Result<State> ParseState(std::string_view name) {
  for (State s : kStates) {
    if (StateName(s) == name) return s;
  }
  return Status::InvalidArgument("unknown container state \"" + std::string(name) +
                                 "\": want created, running, paused, restarting or exited");
}

bool TransitionAllowed(State from, State to) {
  return kTransitions[static_cast<int>(from)][static_cast<int>(to)];
}

namespace {

// The states `keep` holds for, as an SQL list.
template <typename Pred>
std::string StatesWhere(Pred keep) {
  std::string out;
  for (State s : kStates) {
    if (!keep(s)) continue;
    if (!out.empty()) out += ", ";
    out += "'" + std::string(StateName(s)) + "'";
  }
  return out;
}

}  // namespace

std::string StatesLeadingTo(State to) {
  return StatesWhere([to](State from) { return TransitionAllowed(from, to); });
}

bool IsActive(State s) { return s == State::kRunning || s == State::kPaused || s == State::kRestarting; }

std::string ActiveStates() { return StatesWhere(IsActive); }

Status CheckTransition(std::string_view container, State from, State to) {
  if (TransitionAllowed(from, to)) return {};
  return Status::FailedPrecondition("container " + std::string(container) + " is " +
                                    std::string(StateName(from)) + ": it cannot become " +
                                    std::string(StateName(to)));
}

}  // namespace bd::engine
