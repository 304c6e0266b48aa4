// Capsule identities and version constraints: names, semantic versions, "NAME:VERSION"
// references and "NAME@CONSTRAINT" dependencies. Pure functions over strings; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::engine {

// Names: [a-z0-9][a-z0-9._-]*, at most 128 characters (they become path components and OCI
// annotations, so no case games and nothing a shell or a path would read differently).
Status ValidateCapsuleName(std::string_view name);

// A semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (semver.org 2.0.0), or with fewer
// numeric parts ("1.0", "2"): ordered and matched as if the missing ones were 0, and kept as
// spelled in references and paths.
struct Version {
  uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> pre;  // dot-separated pre-release identifiers
  std::string build;             // ignored in comparisons
  std::string text;              // as written

  // Semver precedence: -1, 0, 1.
  int Compare(const Version& o) const;
  bool operator<(const Version& o) const { return Compare(o) < 0; }
  bool operator==(const Version& o) const { return Compare(o) == 0; }
};
Result<Version> ParseVersion(std::string_view text);

struct CapsuleRef {
  std::string name;
  std::string version;
};
// "NAME:VERSION", both validated.
Result<CapsuleRef> ParseCapsuleRef(std::string_view text);

// A version constraint: "=1.2.3", "1.2.3", "^1.2", "~1.2.3", ">=1.0 <2.0", "*", and
// alternatives joined by "||". Partial versions fill with zeros and widen the range as in npm
// ("=1.2" is 1.2.x). Pre-release versions match only a comparator naming the same
// MAJOR.MINOR.PATCH with a pre-release.
class Constraint {
 public:
  static Result<Constraint> Parse(std::string_view text);
  bool Matches(const Version& v) const;
  const std::string& text() const { return text_; }

 private:
  struct Comparator {
    enum Op { kEq, kLt, kLe, kGt, kGe } op;
    Version v;
  };
  std::vector<std::vector<Comparator>> alternatives_;  // OR of ANDs
  std::string text_;
};

// "NAME@CONSTRAINT" as `capsule create --requires/--optional` take it.
struct Dependency {
  std::string name;
  std::string constraint;  // as written, parsed by Constraint::Parse
  bool optional = false;
};
Result<Dependency> ParseDependency(std::string_view text, bool optional);

}  // namespace bd::engine
