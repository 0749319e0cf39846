// InternBootcampTask: the base of tasks that mirror an InternBootcamp bootcamp class.
//
// score() follows Basebootcamp.verify_score step by step: a response shorter than
// short_threshold code points scores 0 (short_penalty); one without "</think>"
// scores 0 (format_penalty); then the task's extract() runs on the whole response
// and nothing extracted scores 0; otherwise the score is format_score unless the
// task's judge() says the extracted answer is right (1) or returns a partial score.
// A judge that throws (a malformed identity, an unparsable answer) leaves
// format_score, as upstream's try/except does. Subclasses are stateless.
#pragma once

#include <optional>
#include <string>

#include "envs/answer.hpp"
#include "envs/task.hpp"

namespace troupe::envs {

class InternBootcampTask : public Task {
 protected:
  // The answer text as upstream's extract_output finds it; nullopt where it returns None or raises.
  virtual std::optional<std::string> extract(std::string_view response) const = 0;
  // 1.0 for right, 0.0 for wrong (format_score stands), or a partial score in (0, 1); may
  // throw (format_score stands).
  virtual double judge(const std::string& extracted, const Json& identity) const = 0;

  Verdict score(const Json& identity, std::string_view response, const VerifyOptions& options) const override {
    Verdict v;
    if (!passes_gate(response, options)) return v;
    std::optional<std::string> got = extract(response);
    if (!got) return v;
    v.extracted = true;
    v.score = options.format_score;
    try {
      // Upstream: a True judgement scores 1; False fails its type assert and leaves format_score.
      const double j = judge(*got, identity);
      if (j > 0.0) v.score = j;
    } catch (const std::exception&) {
      v.score = options.format_score;
    }
    if (got->size() > 256) got->resize(256);  // never echo a 1 MiB block back whole
    v.extracted_answer = std::move(*got);
    return v;
  }

  // A complete reference response: reasoning inside <think>, then `final` (the answer block).
  // Long enough to pass the short-response gate on its own.
  static std::string reference_response(const std::string& final_text) {
    return "<think>\nI restate the rules, work through the problem one step at a time, and check the result "
           "against every condition before I commit to an answer.\n</think>\n" +
           final_text;
  }
};

}  // namespace troupe::envs
