// Where an actor name lives: hosted here, or on which peer node. No CAF: the gateway consults it
// for every message, and it is unit-testable on its own.
//
// Names look like "policy/3" or "env/gsm8k_like/0". A route is either an exact name or a prefix
// ending in '*' ("policy/*"); an exact route beats a prefix, a longer prefix beats a shorter one,
// and a local registration beats any route. Thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace troupe::actors {

struct Location {
  bool local = false;
  std::string node;  // the peer node hosting it, when not local
};

class NameDirectory {
 public:
  // REQUIRES: name non-empty, without '*'.
  Status add_local(const std::string& name);
  void remove_local(const std::string& name);
  // pattern: an exact name or a prefix followed by '*'; node: a transport peer name.
  Status add_route(const std::string& pattern, const std::string& node);
  // not_found names the actor and lists what is known.
  Result<Location> lookup(const std::string& name) const;
  std::vector<std::string> local_names() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, bool> local_;
  std::map<std::string, std::string> exact_;
  std::map<std::string, std::string> prefix_;  // prefix without the '*'
};

}  // namespace troupe::actors
