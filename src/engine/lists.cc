// Each component's List(filter), in the filter language of engine/filter.h, with Docker's
// meaning of each key.
#include <algorithm>
#include <charconv>
#include <regex>

#include "base/time.h"
#include "engine/capsules/store.h"
#include "engine/engine.h"
#include "engine/filter.h"
#include "engine/images/store.h"
#include "engine/volumes/store.h"

namespace bd::engine {
namespace {

// `name=` is a regular expression, as in Docker, searched in the name (also with Docker's
// leading '/', so that name=^/web$ works).
Result<std::vector<std::regex>> NamePatterns(const ListFilter& f) {
  std::vector<std::regex> out;
  for (const std::string& v : f.Values("name")) {
    try {
      out.emplace_back(v, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      return Status::InvalidArgument("invalid filter 'name=" + v + "': not a regular expression");
    }
  }
  return out;
}

bool NameMatches(const std::vector<std::regex>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  const std::string slashed = "/" + name;
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::regex& re) {
    return std::regex_search(name, re) || std::regex_search(slashed, re);
  });
}

// before= and since= name an element (its creation time from `created_of`): the bounds the
// listed ones' creation times must lie strictly within (0: none).
template <typename F>
Result<std::pair<int64_t, int64_t>> CreatedBounds(const ListFilter& f, F created_of) {
  std::pair<int64_t, int64_t> bounds;  // before, since
  for (const std::string& v : f.Values("before")) {
    BD_ASSIGN_OR_RETURN(bounds.first, created_of(v));
  }
  for (const std::string& v : f.Values("since")) {
    BD_ASSIGN_OR_RETURN(bounds.second, created_of(v));
  }
  return bounds;
}

int64_t ImageCreated(const Image& img) {
  int64_t t = ParseRfc3339Nano(img.created);
  return t > 0 ? t : img.stored_at;
}

}  // namespace

Result<std::vector<Container>> Engine::ListContainers(const ListFilter& filter, bool all) {
  ListFilter f = filter;
  if (all) f.SetShowHidden(true);  // ps -a: infrastructure containers too
  for (const std::string& v : f.Values("status")) {
    if (auto st = ParseState(v); !st.ok()) {
      return Status::InvalidArgument("invalid filter 'status=" + v + "': " + st.status().message());
    }
  }
  std::vector<int> exit_codes;
  for (const std::string& v : f.Values("exited")) {
    int code = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), code);
    if (ec != std::errc() || end != v.data() + v.size()) {
      return Status::InvalidArgument("invalid filter 'exited=" + v + "': want an exit code");
    }
    exit_codes.push_back(code);
  }
  BD_ASSIGN_OR_RETURN(std::vector<std::regex> names, NamePatterns(f));
  auto container_created = [&](const std::string& v) -> Result<int64_t> {
    BD_ASSIGN_OR_RETURN(Container ref, containers_.Find(v));
    return ref.created_at;
  };
  BD_ASSIGN_OR_RETURN(auto bounds, CreatedBounds(f, container_created));
  const int64_t before = bounds.first, since = bounds.second;  // plain names: lambdas capture them
  // ancestor= is an image: by any of its names or its id.
  std::vector<std::string> ancestors;
  for (const std::string& v : f.Values("ancestor")) {
    if (auto img = images_.Resolve(v); img.ok()) ancestors.push_back(img->id);
  }
  BD_ASSIGN_OR_RETURN(std::vector<Container> list, containers_.List());
  // Without -a, the running ones; a status or exited filter looks at every container, as in Docker.
  bool every = all || f.Has("status") || f.Has("exited");
  std::erase_if(list, [&](const Container& c) {
    if (!every && !c.Active()) return true;
    bool keep =
        f.Any("id", [&](const std::string& v) { return c.id.rfind(v, 0) == 0; }) && NameMatches(names, c.name) &&
        f.MatchesLabels(c.config.labels) &&
        f.Any("status", [&](const std::string& v) { return StateName(c.state) == v; }) &&
        f.Any("ancestor", [&](const std::string& v) {
          return c.image_ref == v || c.image_id == v ||
                 std::find(ancestors.begin(), ancestors.end(), c.image_id) != ancestors.end();
        }) &&
        (exit_codes.empty() || (c.state == State::kExited &&
                                std::find(exit_codes.begin(), exit_codes.end(), c.exit_code) != exit_codes.end())) &&
        (!before || c.created_at < before) && (!since || c.created_at > since) &&
        f.Any("volume", [&](const std::string& v) {
          return std::any_of(c.config.binds.begin(), c.config.binds.end(), [&](const std::string& text) {
            auto spec = ParseVolumeSpec(text);
            return spec.ok() && (spec->source == v || spec->destination == v);
          });
        });
    return !keep;
  });
  return list;
}

Result<std::vector<Image>> ImageStore::List(const ListFilter& f) {
  BD_RETURN_IF_ERROR(f.CheckBool("dangling"));
  auto image_created = [&](const std::string& v) -> Result<int64_t> {
    BD_ASSIGN_OR_RETURN(Image ref, Resolve(v));
    return ImageCreated(ref);
  };
  BD_ASSIGN_OR_RETURN(auto bounds, CreatedBounds(f, image_created));
  const int64_t before = bounds.first, since = bounds.second;  // plain names: lambdas capture them
  BD_ASSIGN_OR_RETURN(std::vector<Image> list, List());
  std::erase_if(list, [&](Image& img) {
    int64_t created = ImageCreated(img);
    if (!f.MatchesBool("dangling", img.tags.empty()) || !f.MatchesLabels(img.config.labels) ||
        (before && created >= before) || (since && created <= since)) {
      return true;
    }
    if (!f.Has("reference")) return false;
    // Docker's reference=: a glob over "repository" or "repository:tag"; only the names that
    // match are listed.
    std::erase_if(img.tags, [&](const std::string& tag) {
      std::string repo = tag.substr(0, tag.rfind(':'));
      return !f.Any("reference", [&](const std::string& p) { return GlobMatch(p, tag) || GlobMatch(p, repo); });
    });
    return img.tags.empty();
  });
  return list;
}

Result<std::vector<Volume>> VolumeStore::List(const ListFilter& f) {
  BD_RETURN_IF_ERROR(f.CheckBool("dangling"));
  BD_ASSIGN_OR_RETURN(std::vector<Volume> list, List());
  std::erase_if(list, [&](const Volume& v) {
    return !(f.Any("name", [&](const std::string& n) { return v.name.find(n) != std::string::npos; }) &&
             f.MatchesLabels(v.labels) && f.MatchesBool("dangling", v.used_by.empty()) &&
             f.Any("driver", [](const std::string& d) { return d == "local"; }));
  });
  return list;
}

Result<std::vector<Capsule>> CapsuleStore::List(const ListFilter& f) {
  BD_RETURN_IF_ERROR(f.CheckBool("secret"));
  BD_RETURN_IF_ERROR(f.CheckBool("dangling"));
  BD_ASSIGN_OR_RETURN(std::vector<Capsule> list, List());
  std::erase_if(list, [&](const Capsule& c) {
    return !(f.Any("name", [&](const std::string& n) { return c.name == n || c.Ref() == n; }) &&
             f.MatchesLabels(c.labels) && f.MatchesBool("secret", c.secret) &&
             f.MatchesBool("dangling", c.attached_to.empty()));
  });
  return list;
}

}  // namespace bd::engine
