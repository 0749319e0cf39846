// ExactAnswerTask: the base of our own tasks for small byte-level policies.
//
// The response is the answer alone (or a worked solution "steps#answer") on the
// first line; it scores 1 when it equals the answer recomputed from the identity,
// else 0 (format_score when something was extracted). Subclasses supply the
// identity, a compact prompt and the answer function; they stay stateless.
#pragma once

#include <string>

#include "envs/answer.hpp"
#include "envs/task.hpp"

namespace troupe::envs {

class ExactAnswerTask : public Task {
 protected:
  // The expected answer, recomputed from the identity. May throw on a malformed identity.
  virtual std::string expected(const Json& identity) const = 0;

  Verdict score(const Json& identity, std::string_view response, const VerifyOptions& options) const override {
    return score_exact(response, expected(identity), options);
  }
};


}  // namespace troupe::envs
