#include "ops/user_access.h"

#include <acl/libacl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "storage/io_error.h"

namespace ballast::ops {
namespace {

struct AclRule {
  acl_tag_t tag;
  id_t qualifier;  // for ACL_USER and ACL_GROUP
  unsigned perms;  // rwx as 4 2 1
};

std::vector<AclRule> mode_rules(const struct stat& info) {
  return {{ACL_USER_OBJ, 0, (info.st_mode >> 6) & 7u},
          {ACL_GROUP_OBJ, 0, (info.st_mode >> 3) & 7u},
          {ACL_OTHER, 0, info.st_mode & 7u}};
}

AclRule rule_of(acl_entry_t entry) {
  AclRule rule{ACL_UNDEFINED_TAG, 0, 0};
  ::acl_get_tag_type(entry, &rule.tag);
  if (rule.tag == ACL_USER || rule.tag == ACL_GROUP) {
    void* qualifier = ::acl_get_qualifier(entry);
    if (qualifier != nullptr) {
      rule.qualifier = *static_cast<id_t*>(qualifier);
      ::acl_free(qualifier);
    }
  }
  acl_permset_t permset = nullptr;
  if (::acl_get_permset(entry, &permset) == 0) {
    rule.perms = (::acl_get_perm(permset, ACL_READ) == 1 ? 4u : 0u) |
                 (::acl_get_perm(permset, ACL_WRITE) == 1 ? 2u : 0u) |
                 (::acl_get_perm(permset, ACL_EXECUTE) == 1 ? 1u : 0u);
  }
  return rule;
}

// The access ACL of `path`; its mode bits where the file system has no ACLs.
std::vector<AclRule> access_rules(const std::filesystem::path& path, const struct stat& info) {
  acl_t acl = ::acl_get_file(path.c_str(), ACL_TYPE_ACCESS);
  if (acl == nullptr) return mode_rules(info);
  std::vector<AclRule> rules;
  acl_entry_t entry = nullptr;
  for (int which = ACL_FIRST_ENTRY; ::acl_get_entry(acl, which, &entry) == 1; which = ACL_NEXT_ENTRY) {
    rules.push_back(rule_of(entry));
  }
  ::acl_free(acl);
  return rules;
}

bool in_groups(const UserIdentity& user, gid_t gid) {
  return user.gid == gid || std::find(user.groups.begin(), user.groups.end(), gid) != user.groups.end();
}

// acl(5) "ACCESS CHECK ALGORITHM", for a non-root user.
bool rules_allow(const std::vector<AclRule>& rules, const struct stat& info, unsigned wanted,
                 const UserIdentity& user) {
  unsigned mask = 7;
  for (const AclRule& rule : rules) {
    if (rule.tag == ACL_MASK) mask = rule.perms;
  }
  const auto grants = [wanted](unsigned perms) { return (perms & wanted) == wanted; };
  for (const AclRule& rule : rules) {
    if (rule.tag == ACL_USER_OBJ && user.uid == info.st_uid) return grants(rule.perms);
  }
  for (const AclRule& rule : rules) {
    if (rule.tag == ACL_USER && rule.qualifier == user.uid) return grants(rule.perms & mask);
  }
  bool group_matched = false;
  for (const AclRule& rule : rules) {
    const bool owning = rule.tag == ACL_GROUP_OBJ && in_groups(user, info.st_gid);
    const bool named = rule.tag == ACL_GROUP && in_groups(user, rule.qualifier);
    if (!owning && !named) continue;
    group_matched = true;
    if (grants(rule.perms & mask)) return true;
  }
  if (group_matched) return false;
  for (const AclRule& rule : rules) {
    if (rule.tag == ACL_OTHER) return grants(rule.perms);
  }
  return false;
}

std::string name_of(uid_t uid) {
  struct passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

}  // namespace

UserIdentity current_identity() {
  UserIdentity user;
  user.uid = ::geteuid();
  user.gid = ::getegid();
  const int count = ::getgroups(0, nullptr);
  if (count > 0) {
    user.groups.resize(static_cast<size_t>(count));
    const int got = ::getgroups(count, user.groups.data());
    user.groups.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  user.groups.push_back(user.gid);
  user.name = name_of(user.uid);
  return user;
}

Result<UserIdentity> identity_for_user(const std::string& name) {
  struct passwd* entry = ::getpwnam(name.c_str());
  uid_t numeric = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), numeric);
  if (entry == nullptr && error == std::errc() && end == name.data() + name.size())
    entry = ::getpwuid(numeric);
  if (entry == nullptr) {
    return Error(ErrorCode::kConfigInvalid, fmt::format("server.user = \"{}\": no such user", name),
                 "create the user or correct server.user (a user name or uid)");
  }
  UserIdentity user;
  user.uid = entry->pw_uid;
  user.gid = entry->pw_gid;
  user.name = entry->pw_name;
  int count = 64;
  user.groups.resize(static_cast<size_t>(count));
  if (::getgrouplist(entry->pw_name, entry->pw_gid, user.groups.data(), &count) < 0) {
    user.groups.resize(static_cast<size_t>(count));
    ::getgrouplist(user.name.c_str(), user.gid, user.groups.data(), &count);
  }
  user.groups.resize(static_cast<size_t>(std::max(count, 0)));
  return user;
}

Result<bool> user_may(const std::filesystem::path& path, unsigned wanted, const UserIdentity& user) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return storage::io_error(errno, "examine", path, user.uid);
  if (user.uid == 0) {
    // Root reads and writes anything; it may execute a file only if some x bit is set.
    return S_ISDIR(info.st_mode) || (wanted & 1u) == 0 || (info.st_mode & 0111) != 0;
  }
  return rules_allow(access_rules(path, info), info, wanted, user);
}

Status check_user_access(const std::filesystem::path& path, unsigned wanted, std::string_view operation,
                         const UserIdentity& user) {
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  std::vector<std::filesystem::path> ancestors;
  for (auto parent = absolute.parent_path(); !parent.empty(); parent = parent.parent_path()) {
    ancestors.push_back(parent);
    if (parent == parent.parent_path()) break;
  }
  for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) {
    auto may_enter = user_may(*it, static_cast<unsigned>(Access::kSearch), user);
    if (!may_enter) return std::move(may_enter).error();
    if (!*may_enter) {
      return storage::io_error(EACCES, "enter the directory", *it, user.uid)
          .with_context(fmt::format("reaching {}", absolute.string()));
    }
  }
  auto allowed = user_may(absolute, wanted, user);
  if (!allowed) return std::move(allowed).error();
  if (!*allowed) return storage::io_error(EACCES, operation, absolute, user.uid);
  return ok_status();
}

}  // namespace ballast::ops
