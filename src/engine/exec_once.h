// At-most-once exec (`exec --once KEY`), as sessions of the engine. The first call for a key
// of a container instance claims its record (engine/containers/exec_records.h) and hands the
// run to an exec monitor: a process of its own (basic-docker-shim --exec-once, in a session
// of its own) that starts the command, copies its output to the caller live and into the
// record, and finishes the record when the command ends, whether or not the caller is still
// there. Every later call replays the record; a call that comes while the command runs waits
// for the monitor and then replays. A monitor that dies leaves the record interrupted (its
// command dies with it): nothing runs again until the record is reset or removed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "engine/containers/exec_records.h"
#include "engine/session.h"

namespace bd::engine {

class Engine;

// An exec monitor started ahead of the call that may hand it a run (ExecOnceOptions::monitor),
// so that its start (a process, the state database opened, the container's spec read)
// overlaps the caller's own. Destroyed without having been handed a run, it is killed and
// reaped: before the go it has changed nothing.
class ExecMonitor {
 public:
  // `container_ref` as the caller will name it; `io` and `interactive` as it will pass them.
  static Result<std::shared_ptr<ExecMonitor>> Spawn(const std::string& root, const std::string& container_ref,
                                                    const SessionIo& io, bool interactive);
  ~ExecMonitor() { Stop(); }
  ExecMonitor(const ExecMonitor&) = delete;
  ExecMonitor& operator=(const ExecMonitor&) = delete;

 private:
  friend class Engine;
  ExecMonitor() = default;
  void Stop();
  pid_t pid_ = 0;
  bool interactive_ = false;
  UniqueFd report_, go_;  // our ends: its reports, its go
};

struct ExecOnceOptions {
  std::string key;
  bool reset = false;          // a finished or interrupted record is dropped and the command runs anew
  int64_t output_limit = -1;   // bytes kept of each stream; -1: daemon.json's exec-record-limit (1 MiB)
  bool interactive = false;    // the caller's stdin goes to the command
  std::shared_ptr<ExecMonitor> monitor;  // started ahead with the same io; none: one is started
};

// One call of exec --once. Belongs to the Engine that made it.
class ExecOnceSession {
 public:
  ~ExecOnceSession();
  ExecOnceSession(const ExecOnceSession&) = delete;
  ExecOnceSession& operator=(const ExecOnceSession&) = delete;

  // True when this call started the command: its output reaches the caller's descriptors as
  // it comes. False when it replays a record (at once, or after another call's run).
  bool runs_here() const { return runs_here_; }
  const std::string& key() const { return key_; }
  // Blocks until the record is done. Unless runs_here(), then writes its stdout and stderr to
  // the caller's descriptors and records exec_once_replay. FailedPrecondition when the run was
  // interrupted (its supervisor died); the status of the engine's failure when the command
  // could not be started at all (nothing was recorded then). When runs_here(), the record
  // returned has its id, key, state and exit code only (the output went to the caller as it
  // came); exec_records().Find reads all of it.
  Result<ExecRecord> Wait();

 private:
  friend class Engine;
  ExecOnceSession() = default;
  Result<ExecRecord> Replay(ExecRecord r);
  Engine* eng_ = nullptr;
  std::string container_id_, container_name_, key_;
  int64_t record_id_ = 0;
  bool runs_here_ = false;
  bool waited_ = false;
  UniqueFd sync_;        // the monitor's reports; EOF when it has exited
  pid_t monitor_ = 0;    // our child, reaped by Wait
  int stdout_fd_ = -1, stderr_fd_ = -1;
  Operation op_;
};

// The message of an interrupted record, naming what to do about it.
std::string InterruptedMessage(const ExecRecord& r, std::string_view container_name);

}  // namespace bd::engine
