// basic-runtime's seccomp: SCMP_ACT_NOTIFY rules answered by an agent on linux.seccomp.listenerPath
// (for a container's first process and for exec), and the errors of a notify setup that
// cannot work.
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "integration/oci_runtime_fixture.h"
#include "base/unique_fd.h"

namespace bd::testing {
namespace {

// A seccomp agent: takes each connection's state and notify descriptor, and answers every
// notified mkdir/mkdirat with a success it does not perform (so a container sees "made" and
// then finds no directory: only the agent can have answered).
class Agent {
 public:
  explicit Agent(const std::string& path) : path_(path) {
    listener_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ok_ = listener_ && ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(listener_.get(), 4) == 0;
    if (ok_) thread_ = std::thread([this] { Serve(); });
  }
  ~Agent() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return ok_; }
  std::vector<json> states() {
    std::lock_guard<std::mutex> lock(mu_);
    return states_;
  }
  int answered() const { return answered_; }

 private:
  void Serve() {
    std::vector<UniqueFd> notify;
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_.get(), POLLIN, 0}};
      for (const UniqueFd& n : notify) fds.push_back({n.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) Accept(&notify);
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents & POLLIN) Answer(fds[i].fd);
        if (fds[i].revents & (POLLHUP | POLLERR)) notify[i - 1].Reset();  // every user gone
      }
      std::erase_if(notify, [](const UniqueFd& n) { return !n; });
    }
  }
  void Accept(std::vector<UniqueFd>* notify) {
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    std::string text(65536, '\0');
    iovec iov{text.data(), text.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(conn.get(), &m, MSG_CMSG_CLOEXEC);
    if (n <= 0) return;
    text.resize(static_cast<size_t>(n));
    for (char c; ::recv(conn.get(), &c, 1, 0) == 1;) text.push_back(c);  // the rest, to EOF
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (c && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      notify->emplace_back(fd);
    }
    std::lock_guard<std::mutex> lock(mu_);
    states_.push_back(json::parse(text, nullptr, false));
  }
  void Answer(int fd) {
    seccomp_notif req{};
    if (::ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    if (req.data.nr == SYS_mkdir || req.data.nr == SYS_mkdirat) {
      resp.val = 0;
      resp.error = 0;
      ++answered_;
    } else {
      resp.error = -EPERM;
    }
    (void)::ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }

  std::string path_;
  UniqueFd listener_;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::mutex mu_;
  std::vector<json> states_;
  std::thread thread_;
};

class OciSeccompTest : public OciRuntimeTest {
 protected:
  void Notify(const std::string& listener) {
    config_["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
        {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
        {"listenerPath", listener},
        {"listenerMetadata", "agent-args=1"},
        {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  }
};

TEST_F(OciSeccompTest, NotifiedCallsAreAnsweredByTheAgentForRunAndExec) {
  std::string sock = dir_->path() + "/agent.sock";
  Agent agent(sock);
  ASSERT_TRUE(agent.ok());
  Notify(sock);
  // The root is read-only: without the agent, mkdir fails with EROFS.
  SetArgs({"sh", "-c", "mkdir /made && echo made; test -d /made || echo absent"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "made\nabsent\n");
  EXPECT_GE(agent.answered(), 1);
  auto states = agent.states();
  ASSERT_EQ(states.size(), 1u);
  const json& s = states[0];
  EXPECT_EQ(s.value("fds", json::array()), json({"seccompFd"}));
  EXPECT_EQ(s.value("metadata", ""), "agent-args=1");
  EXPECT_GT(s.value("pid", 0), 0);
  EXPECT_EQ(s["state"].value("id", ""), "c1");
  EXPECT_EQ(s["state"].value("status", ""), "creating");
  EXPECT_EQ(s["state"].value("bundle", ""), bundle_);

  // create / start, then an exec: each process hands its own descriptor over.
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"create", "--bundle", bundle_, "c2"}).code, 0);
  ASSERT_EQ(Rt({"start", "c2"}).code, 0);
  r = Rt({"exec", "c2", "sh", "-c", "mkdir /x && echo made"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "made\n");
  states = agent.states();
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[2]["state"].value("status", ""), "running");
  EXPECT_EQ(states[2]["state"].value("id", ""), "c2");
  EXPECT_NE(states[2].value("pid", 0), State("c2").value("pid", 0));  // the exec'd process
}

TEST_F(OciSeccompTest, AnAgentThatIsNotThereFailsTheContainerAndLeavesNothing) {
  Notify(dir_->path() + "/nobody.sock");
  SetArgs({"true"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("listenerPath"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  // Notify rules without a listener, and a notified sendmsg: refused before anything starts.
  config_["linux"]["seccomp"].erase("listenerPath");
  SetArgs({"true"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.err.find("needs a listenerPath"), std::string::npos) << r.err;
  Notify(dir_->path() + "/nobody.sock");
  config_["linux"]["seccomp"]["syscalls"] = {{{"names", {"sendmsg"}}, {"action", "SCMP_ACT_NOTIFY"}}};
  SetArgs({"true"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.err.find("sendmsg"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
}

}  // namespace
}  // namespace bd::testing
