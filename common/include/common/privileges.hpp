#pragma once
// Least privilege for the capture agent and peer checks for every socket a flowguard process serves.
//
// drop_privileges(): once the agent has opened what needs root (capture device, nftables, sockets,
// files), it switches every thread of the process to an unprivileged user, keeps only the listed
// capabilities (CAP_NET_RAW; CAP_NET_ADMIN while enforcing with nftables) and sets no-new-privs. Kernel
// credentials are per thread and glibc does not broadcast capset(), so each thread applies the same
// raw system calls from a signal handler (what libcap's psx does), without a new dependency.
//
// Peer checks: SO_PEERCRED / SO_PEERGROUPS of an accepted Unix connection against a PeerPolicy
// (root, our own uid, and members of the allowed groups).

#include "common/result.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace flowguard::priv {

struct DropSpec {
  std::string user;  // for messages
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups of the user
  std::vector<int> keep_caps;  // CAP_* numbers kept permitted + effective; every other one is dropped
};

// The user's uid, primary gid and supplementary groups. Error not_found when there is no such user.
Result<DropSpec> user_spec(const std::string& name);

// Applies `spec` to every thread (see above). Needs root (CAP_SETUID, CAP_SETGID, CAP_SETPCAP).
// Errors name the step that failed; on error the process must not go on (threads may differ).
Status drop_privileges(const DropSpec& spec);

// What a process status file says about a thread (tests, and the check after the drop).
struct ThreadCreds {
  uid_t uid = 0;             // effective
  unsigned long long cap_eff = 0;
  unsigned long long cap_prm = 0;
  bool no_new_privs = false;
};
Result<ThreadCreds> read_creds(const std::string& status_path);

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary (SO_PEERGROUPS)
};
Result<PeerCred> peer_credentials(int fd);

struct PeerPolicy {
  bool enabled = false;  // false: everyone who can open the socket file
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;  // a peer whose primary or supplementary group is listed is allowed
  std::string describe() const;
};

// `groups`: names or numeric ids. Empty: the default, `default_gid` (the socket file's group). Root and
// our own effective uid are always allowed. Error not_found for an unknown group name.
Result<PeerPolicy> make_peer_policy(const std::vector<std::string>& groups, gid_t default_gid);

// "" when the peer on `fd` is allowed, else the reason (with its uid/gid/pid), for the log.
std::string check_peer(int fd, const PeerPolicy& policy);

}  // namespace flowguard::priv
