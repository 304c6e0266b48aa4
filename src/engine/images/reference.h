// Names users type: image references ("busybox", "busybox:1.36", "registry:5000/team/app:v1",
// "app@sha256:..."), container names ("web-1"), and generated container names. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace bd::engine {

struct ImageRef {
  std::string repository;  // "busybox", "registry:5000/team/app"
  std::string tag;         // "latest" when neither tag nor digest was given
  std::string digest;      // "sha256:..." when given as repo@digest

  // "repository:tag" (or "repository@digest"): the key image tags are stored under.
  std::string Canonical() const;
  // The registry it names: "docker.io" when none is given, else "host[:port]".
  std::string Domain() const;
  // The repository's path on that registry: "library/busybox", "team/app".
  std::string RemotePath() const;
};

// Parses and validates a reference with the rules of the distribution spec: lowercase path
// components of [a-z0-9] joined by '.', '_', '__' or '-'; an optional host[:port] first;
// tags of [A-Za-z0-9_.-] up to 128 characters. Docker Hub's names are kept short, as Docker
// shows them: "docker.io/library/x" and "library/x" are "x", "docker.io/team/x" is "team/x".
// "repo:tag@digest" keeps both: the digest pins, the tag is what it is stored under.
Result<ImageRef> ParseImageRef(std::string_view ref);

// Container names as Docker takes them: [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters.
Status ValidateContainerName(std::string_view name);

// A readable random name such as "brave_lovelace".
std::string GenerateContainerName();

}  // namespace bd::engine
