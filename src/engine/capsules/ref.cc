#include "engine/capsules/ref.h"

#include <algorithm>

#include "base/strings.h"

namespace bd::engine {
namespace {

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsIdentChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

Result<uint64_t> Number(std::string_view s, std::string_view whole) {
  // No leading zeros (semver), and a sane size.
  if (!IsDigits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 18) {
    return Status::InvalidArgument("invalid version \"" + std::string(whole) +
                                   "\": want MAJOR.MINOR.PATCH, e.g. 1.2.3");
  }
  return static_cast<uint64_t>(*ParseInt(s));
}

// A version with 1 to 3 numeric parts (`parts` says how many were written); "x" and "*"
// parts count as absent.
struct Partial {
  Version v;
  int parts = 0;
};

// A pre-release may follow a short version (which then names a single version), never a wildcard.
Result<Partial> ParsePartial(std::string_view text) {
  Partial p;
  std::string_view core = text;
  size_t plus = core.find('+');
  if (plus != std::string_view::npos) core = core.substr(0, plus);
  size_t dash = core.find('-');
  std::string_view pre;
  if (dash != std::string_view::npos) {
    pre = core.substr(dash + 1);
    core = core.substr(0, dash);
  }
  auto nums = Split(core, '.');
  if (nums.empty() || nums.size() > 3) {
    return Status::InvalidArgument("invalid version \"" + std::string(text) + "\"");
  }
  uint64_t* fields[] = {&p.v.major, &p.v.minor, &p.v.patch};
  bool wildcard = false;
  for (size_t i = 0; i < nums.size(); ++i) {
    if (nums[i] == "x" || nums[i] == "X" || nums[i] == "*") {
      wildcard = true;
      continue;
    }
    if (wildcard) return Status::InvalidArgument("invalid version \"" + std::string(text) + "\"");
    BD_ASSIGN_OR_RETURN(*fields[i], Number(nums[i], text));
    p.parts = static_cast<int>(i) + 1;
  }
  if (dash != std::string_view::npos && pre.empty()) {
    return Status::InvalidArgument("invalid version \"" + std::string(text) + "\": empty pre-release");
  }
  if (!pre.empty()) {
    if (wildcard) {
      return Status::InvalidArgument("invalid version \"" + std::string(text) + "\"");
    }
    for (const std::string& id : Split(pre, '.')) {
      if (id.empty() || !std::all_of(id.begin(), id.end(), IsIdentChar) ||
          (IsDigits(id) && id.size() > 1 && id[0] == '0')) {
        return Status::InvalidArgument("invalid pre-release in version \"" + std::string(text) + "\"");
      }
      p.v.pre.push_back(id);
    }
  }
  p.v.text = std::string(text);
  return p;
}

}  // namespace

Status ValidateCapsuleName(std::string_view name) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 128 && lower_alnum(name.front());
  for (char c : name) ok = ok && (lower_alnum(c) || c == '.' || c == '_' || c == '-');
  if (!ok) {
    return Status::InvalidArgument("invalid capsule name \"" + std::string(name) +
                                   "\": use [a-z0-9][a-z0-9._-]*, at most 128 characters");
  }
  return {};
}

int Version::Compare(const Version& o) const {
  if (major != o.major) return major < o.major ? -1 : 1;
  if (minor != o.minor) return minor < o.minor ? -1 : 1;
  if (patch != o.patch) return patch < o.patch ? -1 : 1;
  if (pre.empty() != o.pre.empty()) return pre.empty() ? 1 : -1;  // a release is higher
  for (size_t i = 0; i < std::min(pre.size(), o.pre.size()); ++i) {
    const std::string& a = pre[i];
    const std::string& b = o.pre[i];
    if (a == b) continue;
    bool an = IsDigits(a), bn = IsDigits(b);
    if (an && bn) {
      if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
      return a < b ? -1 : 1;
    }
    if (an != bn) return an ? -1 : 1;  // numeric identifiers sort first
    return a < b ? -1 : 1;
  }
  if (pre.size() != o.pre.size()) return pre.size() < o.pre.size() ? -1 : 1;
  return 0;
}

Result<Version> ParseVersion(std::string_view text) {
  std::string_view core = text.substr(0, std::min(text.find('-'), text.find('+')));
  size_t plus = text.find('+');
  auto bad = [&] {
    return Status::InvalidArgument("invalid version \"" + std::string(text) +
                                   "\": want MAJOR[.MINOR[.PATCH]], e.g. 1.2.3 or 1.0");
  };
  // One to three numeric parts, the missing ones 0 in comparisons; kept as spelled.
  auto written = static_cast<int>(std::count(core.begin(), core.end(), '.')) + 1;
  if (core.empty() || written > 3 || text.size() > 128) return bad();
  BD_ASSIGN_OR_RETURN(Partial p, ParsePartial(text));
  if (p.parts != written) return bad();  // no wildcards in a version
  if (plus != std::string_view::npos) {
    std::string_view build = text.substr(plus + 1);
    for (const std::string& id : Split(build, '.')) {
      if (id.empty() || !std::all_of(id.begin(), id.end(), IsIdentChar)) {
        return Status::InvalidArgument("invalid build metadata in version \"" + std::string(text) + "\"");
      }
    }
    p.v.build = std::string(build);
  }
  return p.v;
}

Result<CapsuleRef> ParseCapsuleRef(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("invalid capsule reference \"" + std::string(text) +
                                   "\": want NAME:VERSION, e.g. libssl:1.1.1");
  }
  CapsuleRef ref{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  BD_RETURN_IF_ERROR(ValidateCapsuleName(ref.name));
  BD_RETURN_IF_ERROR(ParseVersion(ref.version).status());
  return ref;
}

Result<Constraint> Constraint::Parse(std::string_view text) {
  Constraint c;
  c.text_ = std::string(TrimSpace(text));
  if (c.text_.empty()) return Status::InvalidArgument("empty version constraint");
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid version constraint \"" + c.text_ + "\": " + why);
  };
  std::string_view rest = c.text_;
  while (true) {
    size_t bar = rest.find("||");
    std::string_view alt = TrimSpace(rest.substr(0, bar));
    if (alt.empty()) return bad("empty alternative");
    std::vector<Comparator> all;
    std::string_view s = alt;
    while (!s.empty()) {
      size_t end = s.find(' ');
      std::string_view tok = s.substr(0, end);
      s = end == std::string_view::npos ? "" : TrimSpace(s.substr(end));
      std::string op;
      while (!tok.empty() && (tok[0] == '>' || tok[0] == '<' || tok[0] == '=' || tok[0] == '^' ||
                              tok[0] == '~')) {
        op.push_back(tok[0]);
        tok.remove_prefix(1);
      }
      if (op.empty() && (tok == "*" || tok == "x")) continue;  // anything
      if (tok.empty()) {  // ">= 1.0": the version follows after a space
        size_t e2 = s.find(' ');
        tok = s.substr(0, e2);
        s = e2 == std::string_view::npos ? "" : TrimSpace(s.substr(e2));
        if (tok.empty()) return bad("an operator without a version");
      }
      auto partial = ParsePartial(tok);
      if (!partial.ok()) return bad(partial.status().message());
      Version lo = partial->v;
      // With a pre-release, a short version names one version ("1.0-rc.1" is 1.0.0-rc.1).
      int parts = lo.pre.empty() ? partial->parts : 3;
      // The version just above a partial one: 1.2 -> 1.3.0, 1 -> 2.0.0.
      auto bump = [](Version v, int level) {
        v.pre.clear();
        if (level <= 0) {
          ++v.major;
          v.minor = v.patch = 0;
        } else if (level == 1) {
          ++v.minor;
          v.patch = 0;
        } else {
          ++v.patch;
        }
        return v;
      };
      Version upper;
      if (op.empty() || op == "=") {
        if (parts == 3) {
          all.push_back({Comparator::kEq, lo});
        } else {
          all.push_back({Comparator::kGe, lo});
          if (parts > 0) all.push_back({Comparator::kLt, bump(lo, parts - 1)});
        }
      } else if (op == "^") {
        if (parts == 0) continue;
        // The leftmost non-zero part (among those written) may not change.
        int level = lo.major > 0 || parts == 1 ? 0 : (lo.minor > 0 || parts == 2 ? 1 : 2);
        all.push_back({Comparator::kGe, lo});
        all.push_back({Comparator::kLt, bump(lo, level)});
      } else if (op == "~") {
        if (parts == 0) continue;
        all.push_back({Comparator::kGe, lo});
        all.push_back({Comparator::kLt, bump(lo, parts == 1 ? 0 : 1)});
      } else if (op == ">=") {
        all.push_back({Comparator::kGe, lo});
      } else if (op == ">") {
        all.push_back(parts == 3 ? Comparator{Comparator::kGt, lo}
                                 : Comparator{Comparator::kGe, bump(lo, parts - 1)});
      } else if (op == "<=") {
        all.push_back(parts == 3 ? Comparator{Comparator::kLe, lo}
                                 : Comparator{Comparator::kLt, bump(lo, parts - 1)});
      } else if (op == "<") {
        all.push_back({Comparator::kLt, lo});
      } else {
        return bad("unknown operator \"" + op + "\"");
      }
    }
    c.alternatives_.push_back(std::move(all));
    if (bar == std::string_view::npos) break;
    rest = rest.substr(bar + 2);
  }
  return c;
}

bool Constraint::Matches(const Version& v) const {
  for (const auto& all : alternatives_) {
    bool ok = true;
    bool pre_allowed = v.pre.empty();
    for (const Comparator& c : all) {
      int cmp = v.Compare(c.v);
      switch (c.op) {
        case Comparator::kEq: ok = ok && cmp == 0; break;
        case Comparator::kLt: ok = ok && cmp < 0; break;
        case Comparator::kLe: ok = ok && cmp <= 0; break;
        case Comparator::kGt: ok = ok && cmp > 0; break;
        case Comparator::kGe: ok = ok && cmp >= 0; break;
      }
      if (!c.v.pre.empty() && c.v.major == v.major && c.v.minor == v.minor && c.v.patch == v.patch) {
        pre_allowed = true;
      }
    }
    if (ok && pre_allowed) return true;
  }
  return false;
}

Result<Dependency> ParseDependency(std::string_view text, bool optional) {
  size_t at = text.find('@');
  if (at == std::string_view::npos) {
    return Status::InvalidArgument("invalid dependency \"" + std::string(text) +
                                   "\": want NAME@CONSTRAINT, e.g. libssl@^1.1");
  }
  Dependency d{std::string(text.substr(0, at)), std::string(TrimSpace(text.substr(at + 1))), optional};
  BD_RETURN_IF_ERROR(ValidateCapsuleName(d.name));
  BD_RETURN_IF_ERROR(Constraint::Parse(d.constraint).status());
  return d;
}

}  // namespace bd::engine
