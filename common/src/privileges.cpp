#include "common/privileges.hpp"

#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace flowguard::priv {
namespace {

// Raw system calls only: this runs in signal handlers (async-signal-safe) and must change the calling
// thread alone (glibc's setresuid() would broadcast to every thread).
int apply_to_this_thread(const DropSpec& s) {
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return errno;
  if (::syscall(SYS_setgroups, s.groups.size(), s.groups.data()) != 0) return errno;
  if (::syscall(SYS_setresgid, s.gid, s.gid, s.gid) != 0) return errno;
  if (::syscall(SYS_setresuid, s.uid, s.uid, s.uid) != 0) return errno;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int cap : s.keep_caps) {
    data[cap / 32].effective |= 1u << (cap % 32);
    data[cap / 32].permitted |= 1u << (cap % 32);
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) return errno;
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}

const DropSpec* g_spec = nullptr;
std::atomic<int> g_done{0}, g_error{0};

void drop_handler(int) {
  const int saved = errno;
  if (const int e = apply_to_this_thread(*g_spec); e != 0) g_error.store(e);
  g_done.fetch_add(1);
  errno = saved;
}

std::vector<pid_t> other_threads() {
  std::vector<pid_t> tids;
  const pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d)) {
      const pid_t t = static_cast<pid_t>(std::atoi(e->d_name));
      if (t > 0 && t != self) tids.push_back(t);
    }
    ::closedir(d);
  }
  return tids;
}

}  // namespace

Result<DropSpec> user_spec(const std::string& name) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return Error{ErrorCode::not_found, "no user '" + name + "' on this host"};
  DropSpec s;
  s.user = name;
  s.uid = pw.pw_uid;
  s.gid = pw.pw_gid;
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    ::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &n);
  }
  groups.resize(static_cast<std::size_t>(std::max(n, 0)));
  s.groups = std::move(groups);
  return s;
}

Result<ThreadCreds> read_creds(const std::string& status_path) {
  std::ifstream in(status_path);
  if (!in) return Error{ErrorCode::not_found, "cannot read " + status_path};
  ThreadCreds c;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string key;
    f >> key;
    if (key == "Uid:") {
      unsigned long real = 0, eff = 0;
      f >> real >> eff;
      c.uid = static_cast<uid_t>(eff);
    } else if (key == "CapEff:") {
      f >> std::hex >> c.cap_eff;
    } else if (key == "CapPrm:") {
      f >> std::hex >> c.cap_prm;
    } else if (key == "NoNewPrivs:") {
      int v = 0;
      f >> v;
      c.no_new_privs = v != 0;
    }
  }
  return c;
}

Status drop_privileges(const DropSpec& spec) {
  for (int cap : spec.keep_caps)
    if (cap < 0 || cap >= 64) return Error{ErrorCode::invalid_argument, "capability number out of range"};
  // Every thread, including ones a not-yet-switched thread creates meanwhile: repeat until a scan of
  // /proc/self/task finds none left with another uid (bounded).
  struct sigaction sa {}, old{};
  sa.sa_handler = drop_handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  const int sig = SIGRTMIN + 4;
  if (::sigaction(sig, &sa, &old) != 0) return Error::from_errno("privilege drop: sigaction()", errno);
  g_spec = &spec;
  g_error.store(0);
  const pid_t pid = ::getpid();
  Status result;
  for (int round = 0; round < 5 && result.ok(); ++round) {
    std::vector<pid_t> pending;
    for (pid_t t : other_threads()) {
      auto c = read_creds("/proc/self/task/" + std::to_string(t) + "/status");
      if (c && c->uid == spec.uid && c->no_new_privs) continue;  // done (or exited: read fails below)
      if (!c) continue;
      pending.push_back(t);
    }
    if (pending.empty()) break;
    g_done.store(0);
    int sent = 0;
    for (pid_t t : pending)
      if (::syscall(SYS_tgkill, pid, t, sig) == 0) ++sent;  // ESRCH: the thread ended meanwhile
    // Wait for the handlers (bounded: 5 s; a thread cannot block a signal it never masked).
    for (int i = 0; i < 5000 && g_done.load() < sent; ++i) {
      const timespec ms{0, 1000000};
      ::nanosleep(&ms, nullptr);
    }
    if (g_done.load() < sent)
      result = Error{ErrorCode::timeout, "privilege drop: a thread did not switch within 5 s"};
    if (const int e = g_error.load(); e != 0)
      result = Error::from_errno("privilege drop: switching a thread to user '" + spec.user + "'", e);
  }
  if (result.ok()) {
    if (const int e = apply_to_this_thread(spec); e != 0)
      result = Error::from_errno("privilege drop: switching to user '" + spec.user + "'", e);
  }
  ::sigaction(sig, &old, nullptr);
  if (!result.ok()) return result;
  for (pid_t t : other_threads()) {
    auto c = read_creds("/proc/self/task/" + std::to_string(t) + "/status");
    if (c && (c->uid != spec.uid || !c->no_new_privs))
      return Error{ErrorCode::io_error, "privilege drop: thread " + std::to_string(t) + " still runs as uid " +
                                            std::to_string(c->uid)};
  }
  return {};
}

Result<PeerCred> peer_credentials(int fd) {
  ucred uc{};
  socklen_t len = sizeof uc;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
    return Error::from_errno("getsockopt(SO_PEERCRED)", errno);
  PeerCred p;
  p.pid = uc.pid;
  p.uid = uc.uid;
  p.gid = uc.gid;
#ifdef SO_PEERGROUPS
  std::vector<gid_t> groups(64);
  socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0 && errno == ERANGE) {
    groups.resize(glen / sizeof(gid_t));
    glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0) glen = 0;
  }
  groups.resize(glen / sizeof(gid_t));
  p.groups = std::move(groups);
#endif
  return p;
}

std::string PeerPolicy::describe() const {
  if (!enabled) return "any peer that can open the socket file";
  std::string s = "uid";
  for (auto u : uids) s += " " + std::to_string(u);
  s += ", gid";
  for (auto g : gids) s += " " + std::to_string(g);
  return s;
}

Result<PeerPolicy> make_peer_policy(const std::vector<std::string>& groups, gid_t default_gid) {
  PeerPolicy p;
  p.enabled = true;
  p.uids = {0};
  if (::geteuid() != 0) p.uids.push_back(::geteuid());
  if (groups.empty()) {
    p.gids.push_back(default_gid);
    return p;
  }
  for (const auto& g : groups) {
    if (!g.empty() && std::all_of(g.begin(), g.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      p.gids.push_back(static_cast<gid_t>(std::strtoul(g.c_str(), nullptr, 10)));
      continue;
    }
    group gr{};
    group* found = nullptr;
    std::vector<char> buf(16384);
    if (::getgrnam_r(g.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr)
      return Error{ErrorCode::not_found, "--allow-group: no group '" + g + "' on this host"};
    p.gids.push_back(gr.gr_gid);
  }
  return p;
}

std::string check_peer(int fd, const PeerPolicy& policy) {
  if (!policy.enabled) return {};
  auto c = peer_credentials(fd);
  if (!c) return c.error().message;
  if (std::find(policy.uids.begin(), policy.uids.end(), c->uid) != policy.uids.end()) return {};
  auto listed = [&](gid_t g) { return std::find(policy.gids.begin(), policy.gids.end(), g) != policy.gids.end(); };
  if (listed(c->gid) || std::any_of(c->groups.begin(), c->groups.end(), listed)) return {};
  return "peer uid " + std::to_string(c->uid) + " gid " + std::to_string(c->gid) + " (pid " +
         std::to_string(c->pid) + ") is not root, not this process's user and in no allowed group (" +
         policy.describe() + "; see --allow-group)";
}

}  // namespace flowguard::priv
