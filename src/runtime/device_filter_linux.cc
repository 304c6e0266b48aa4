#include "runtime/device_filter.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "os/error.h"

namespace bd::runtime {
namespace {

struct ParsedRule {
  bool allow = false;
  bool all = false;           // "a": every device, every access
  int type = 0;               // BPF_DEVCG_DEV_CHAR / _BLOCK; 0: either
  std::optional<uint32_t> major, minor;
  uint32_t access = 0;        // BPF_DEVCG_ACC_* bits
};

Result<ParsedRule> ParseRule(bool allow, const std::string& text) {
  ParsedRule r;
  r.allow = allow;
  auto bad = [&] { return Status::InvalidArgument("malformed device rule \"" + text + "\""); };
  std::vector<std::string> parts;
  for (const std::string& p : Split(text, ' ')) {
    if (!p.empty()) parts.push_back(p);
  }
  if (parts.empty()) return bad();
  if (parts[0] == "a") {
    r.all = true;
    return r;
  }
  if (parts.size() != 3 || (parts[0] != "c" && parts[0] != "b")) return bad();
  r.type = parts[0] == "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
  auto numbers = Split(parts[1], ':');
  if (numbers.size() != 2) return bad();
  auto number = [&](const std::string& n, std::optional<uint32_t>* out) {
    if (n == "*") return true;
    auto v = ParseInt(n);
    if (!v || *v < 0 || *v > 0xffffffffLL) return false;
    *out = static_cast<uint32_t>(*v);
    return true;
  };
  if (!number(numbers[0], &r.major) || !number(numbers[1], &r.minor)) return bad();
  for (char c : parts[2]) {
    if (c == 'r') r.access |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') r.access |= BPF_DEVCG_ACC_WRITE;
    else if (c == 'm') r.access |= BPF_DEVCG_ACC_MKNOD;
    else return bad();
  }
  if (r.access == 0) return bad();
  return r;
}

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// Registers: r1 the context; r2 device type, r3 access, r4 major, r5 minor; r6 scratch.
std::vector<bpf_insn> RuleBlock(const ParsedRule& r) {
  const uint32_t kRwm = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  std::vector<bpf_insn> tests;  // each jumps past the block when the rule does not match
  if (r.type) tests.push_back(Insn(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, r.type));
  if (r.access != kRwm) {
    tests.push_back(Insn(BPF_ALU | BPF_MOV | BPF_X, 6, 3, 0, 0));
    if (r.allow) {  // the request must ask for nothing beyond the rule's access
      tests.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, static_cast<int32_t>(~r.access & kRwm)));
      tests.push_back(Insn(BPF_JMP | BPF_JNE | BPF_K, 6, 0, 0, 0));
    } else {  // the request must ask for some of the rule's access
      tests.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, static_cast<int32_t>(r.access)));
      tests.push_back(Insn(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 0, 0));
    }
  }
  if (r.major) tests.push_back(Insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, static_cast<int32_t>(*r.major)));
  if (r.minor) tests.push_back(Insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, static_cast<int32_t>(*r.minor)));
  std::vector<bpf_insn> out = tests;
  out.push_back(Insn(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, r.allow ? 1 : 0));
  out.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  // Each jump lands just after the block's exit.
  for (size_t i = 0; i < out.size(); ++i) {
    uint8_t op = BPF_OP(out[i].code);
    if (BPF_CLASS(out[i].code) == BPF_JMP && (op == BPF_JNE || op == BPF_JEQ)) {
      out[i].off = static_cast<int16_t>(out.size() - i - 1);
    }
  }
  return out;
}

}  // namespace

Result<std::string> CompileDeviceFilter(const DeviceRules& rules) {
  std::vector<ParsedRule> parsed;
  for (const auto& [allow, text] : rules) {
    BD_ASSIGN_OR_RETURN(ParsedRule r, ParseRule(allow, text));
    parsed.push_back(r);
  }
  // Only what follows the last "a" matters; that "a" is the answer for the rest.
  bool fallback = true;  // the kernel's own default: every device allowed
  size_t first = 0;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (parsed[i].all) {
      fallback = parsed[i].allow;
      first = i + 1;
    }
  }
  std::vector<bpf_insn> prog = {
      Insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, offsetof(bpf_cgroup_dev_ctx, access_type), 0),
      Insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),
      Insn(BPF_LDX | BPF_MEM | BPF_W, 3, 1, offsetof(bpf_cgroup_dev_ctx, access_type), 0),
      Insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),
      Insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, offsetof(bpf_cgroup_dev_ctx, major), 0),
      Insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, offsetof(bpf_cgroup_dev_ctx, minor), 0),
  };
  for (size_t i = parsed.size(); i > first; --i) {  // the last match decides: test it first
    auto block = RuleBlock(parsed[i - 1]);
    prog.insert(prog.end(), block.begin(), block.end());
  }
  prog.push_back(Insn(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, fallback ? 1 : 0));
  prog.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return std::string(reinterpret_cast<const char*>(prog.data()), prog.size() * sizeof(bpf_insn));
}

Status AttachDeviceFilter(const std::string& dir, const DeviceRules& rules) {
  BD_ASSIGN_OR_RETURN(std::string insns, CompileDeviceFilter(rules));
  char log[4096] = {};
  static const char kLicense[] = "Apache-2.0";
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(insns.data());
  load.insn_cnt = static_cast<uint32_t>(insns.size() / sizeof(bpf_insn));
  load.license = reinterpret_cast<uint64_t>(kLicense);
  load.log_buf = reinterpret_cast<uint64_t>(log);
  load.log_size = sizeof log;
  load.log_level = 1;
  UniqueFd prog(static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load)));
  if (!prog) {
    int err = errno;
    std::string why = log[0] ? std::string(": ") + log : "";
    return os::ErrnoStatus(err, "load the device filter program" + why.substr(0, 300));
  }
  UniqueFd cgroup(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) return os::ErrnoStatus("open cgroup `" + dir + "`");
  bpf_attr attach{};
  attach.target_fd = static_cast<uint32_t>(cgroup.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) < 0) {
    return os::ErrnoStatus("attach the device filter to `" + dir + "`");
  }
  return {};  // the attachment holds the program for as long as the cgroup lives
}

}  // namespace bd::runtime
