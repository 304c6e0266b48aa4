#include "engine/images/reference.h"

#include <sys/random.h>

#include "base/digest.h"
#include "base/strings.h"

namespace bd::engine {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// One path component: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    if (c[i] == '.') {
      ++j;
    } else if (c[i] == '_') {
      j += (j + 1 < c.size() && c[j + 1] == '_') ? 2 : 1;
    } else if (c[i] == '-') {
      while (j < c.size() && c[j] == '-') ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !IsLowerAlnum(c[j])) return false;
    i = j;
  }
  return true;
}

bool ValidDomain(std::string_view d) {
  std::string_view host = d;
  if (auto colon = d.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  for (const std::string& label : Split(host, '.')) {
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
  }
  return true;
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  if (!(IsAlnum(t.front()) || t.front() == '_')) return false;
  for (char c : t) {
    if (!(IsAlnum(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

}  // namespace

namespace {
// The first component names a registry when it has a '.' or ':', is "localhost", or has
// capitals (which no repository path may have).
bool NamesRegistry(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
         first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
}
}  // namespace

std::string ImageRef::Domain() const {
  size_t slash = repository.find('/');
  if (slash != std::string::npos && NamesRegistry(std::string_view(repository).substr(0, slash))) {
    return repository.substr(0, slash);
  }
  return "docker.io";
}

std::string ImageRef::RemotePath() const {
  size_t slash = repository.find('/');
  if (slash != std::string::npos && NamesRegistry(std::string_view(repository).substr(0, slash))) {
    return repository.substr(slash + 1);
  }
  return slash == std::string::npos ? "library/" + repository : repository;
}

std::string ImageRef::Canonical() const {
  return digest.empty() ? repository + ":" + tag : repository + "@" + digest;
}

Result<ImageRef> ParseImageRef(std::string_view ref) {
  auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument("invalid reference format \"" + std::string(ref) + "\": " +
                                   std::string(why));
  };
  if (ref.empty()) return invalid("empty");
  if (ref.size() > 255 + 130) return invalid("too long");
  ImageRef out;
  std::string_view rest = ref;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    out.digest = std::string(rest.substr(at + 1));
    if (!ValidateDigest(out.digest).ok()) return invalid("bad digest");
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/'.
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!ValidTag(tag)) return invalid("bad tag");
    out.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  std::vector<std::string> parts = Split(rest, '/');
  size_t first = 0;
  if (parts.size() > 1) {
    const std::string& p0 = parts[0];
    if (NamesRegistry(p0)) {
      if (!ValidDomain(p0)) return invalid("bad registry host");
      first = 1;
    }
  }
  for (size_t i = first; i < parts.size(); ++i) {
    if (!ValidPathComponent(parts[i])) {
      return invalid("repository name must be lowercase letters, digits and separators");
    }
  }
  // Docker Hub's names are kept as Docker shows them: "docker.io/library/x" and "library/x"
  // are "x", "docker.io/team/x" is "team/x".
  std::string repo(rest);
  for (std::string_view prefix : {"docker.io/", "index.docker.io/"}) {
    if (repo.rfind(prefix, 0) == 0) {
      repo = repo.substr(prefix.size());
      break;
    }
  }
  if (repo.rfind("library/", 0) == 0 && repo.find('/', 8) == std::string::npos) repo = repo.substr(8);
  if (repo.size() > 255) return invalid("repository name longer than 255 characters");
  out.repository = repo;
  if (out.tag.empty() && out.digest.empty()) out.tag = "latest";
  return out;
}

Status ValidateContainerName(std::string_view name) {
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  bool ok = name.size() >= 2 && name.size() <= 128 && IsAlnum(name.front());
  for (char c : name) {
    if (!(IsAlnum(c) || c == '_' || c == '.' || c == '-')) ok = false;
  }
  if (!ok) {
    return Status::InvalidArgument("invalid container name \"" + std::string(name) +
                                   "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, 2 to 128 "
                                   "characters");
  }
  return {};
}

std::string GenerateContainerName() {
  static constexpr const char* kAdjectives[] = {
      "agile",  "amber",   "bold",    "brave",  "bright", "calm",   "clever", "cosmic",
      "crisp",  "daring",  "eager",   "gentle", "golden", "happy",  "keen",   "lively",
      "lucid",  "mellow",  "nimble",  "noble",  "quiet",  "rapid",  "serene", "sharp",
      "silent", "steady",  "swift",   "tidy",   "vivid",  "warm",   "wise",   "zesty"};
  static constexpr const char* kNouns[] = {
      "lovelace", "turing",  "hopper",  "noether", "curie",    "euler",   "gauss",  "ritchie",
      "thompson", "knuth",   "dijkstra", "liskov", "hamilton", "shannon", "backus", "kernighan",
      "torvalds", "babbage", "pascal",  "boole",   "fermat",   "riemann", "cantor", "hilbert",
      "lamport",  "hoare",   "milner",  "wirth",   "mccarthy", "perlman", "cerf",   "kahn"};
  unsigned char r[2] = {0, 0};
  (void)!getrandom(r, sizeof r, 0);
  return std::string(kAdjectives[r[0] % 32]) + "_" + kNouns[r[1] % 32];
}

}  // namespace bd::engine
