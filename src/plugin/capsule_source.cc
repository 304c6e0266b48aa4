#include "plugin/capsule_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"

namespace bd::plugin {

using nlohmann::json;

Result<FetchRequest> ParseFetchRequest(std::string_view body, std::string_view prefix, std::string_view shape) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("the request is not a JSON object");
  auto text = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  FetchRequest r{text("uri"), text("sha256"), text("destination"), 0};
  if (r.uri.rfind(prefix, 0) != 0) return Status::InvalidArgument("uri must be " + std::string(shape));
  if (!ValidateDigest("sha256:" + r.sha256).ok()) return Status::InvalidArgument("sha256 must be 64 lowercase hex digits");
  if (r.destination.empty() || r.destination[0] != '/' || !os::IsDir(r.destination)) {
    return Status::InvalidArgument("destination must be an existing directory (absolute path)");
  }
  if (auto it = j.find("maxBytes"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) return Status::InvalidArgument("maxBytes must be a non-negative integer");
    r.max_bytes = it->get<int64_t>();
  }
  return r;
}

Result<std::unique_ptr<PinnedFile>> PinnedFile::Create(const FetchRequest& req, const std::string& name) {
  std::unique_ptr<PinnedFile> f(new PinnedFile());
  f->req_ = req;
  f->final_path_ = req.destination + "/" + name;
  f->part_path_ = f->final_path_ + ".part-" + RandomHexId().substr(0, 12);
  f->fd_.Reset(::open(f->part_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!f->fd_) return os::ErrnoStatus("create " + f->part_path_);
  return f;
}

PinnedFile::~PinnedFile() {
  if (!committed_ && !part_path_.empty()) ::unlink(part_path_.c_str());
}

Status PinnedFile::Write(std::string_view chunk) {
  size_ += static_cast<int64_t>(chunk.size());
  if (req_.max_bytes > 0 && size_ > req_.max_bytes) {
    return Status::InvalidArgument(req_.uri + " is larger than maxBytes (" + std::to_string(req_.max_bytes) + ")");
  }
  hasher_.Update(chunk);
  return os::WriteAll(fd_.get(), chunk);
}

Result<std::string> PinnedFile::Commit() {
  std::string got = hasher_.Finish().substr(7);
  if (got != req_.sha256) return Status::InvalidArgument(req_.uri + " has sha256 " + got + ", not the pinned " + req_.sha256);
  if (::fsync(fd_.get()) < 0) return os::ErrnoStatus("fsync " + part_path_);
  fd_.Reset();
  if (::rename(part_path_.c_str(), final_path_.c_str()) < 0) return os::ErrnoStatus("rename into " + final_path_);
  committed_ = true;
  return json{{"path", final_path_}, {"size", size_}, {"sha256", got}}.dump();
}

}  // namespace bd::plugin
