// KorCipherCustomInverseShiftSubstitutionCipherbootcamp: a fixed three-step letter
// cipher (mirror the alphabet, shift by 4, substitute from a keyed alphabet); the
// case asks to encrypt or decrypt a short word.
// Identity (upstream's shape): {"type": "encrypt"|"decrypt", "question": str, "answer": str}.
// The answer is the LAST [[LETTERS]] (uppercase A-Z only), compared with "answer".
#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view kSubstitution = "RFDJUHABCEGIKLMNOPQSTVWXYZ";
constexpr size_t kShift = 4;

char encrypt(char c) {
  const size_t mirrored = 25 - kStandard.find(c);  // index of the mirrored letter
  return kSubstitution[(mirrored + kShift) % 26];
}

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

class KorCipherInverseShiftSubstitution final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"KorCipherCustomInverseShiftSubstitutionCipherbootcamp", "cipher",
                                "encrypt or decrypt a word with a mirror-shift-substitution cipher",
                                {{"min_length", 1, 64, "shortest word"}, {"max_length", 1, 64, "longest word"}},
                                "KorCipherCustomInverseShiftSubstitutionCipherbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"min_length", 2 + level / 2}, {"max_length", 3 + level}};  // level 6 is upstream's 3..8
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t lo = d.at("min_length"), hi = std::max(lo, d.at("max_length"));
    std::string plain, cipher;
    for (int64_t i = rng.uniform(lo, hi); i > 0; --i) {
      plain.push_back(kStandard[static_cast<size_t>(rng.uniform(0, 25))]);
      cipher.push_back(encrypt(plain.back()));
    }
    const bool enc = rng.chance(1, 2);
    Case c;
    c.identity = {{"type", enc ? "encrypt" : "decrypt"}, {"question", enc ? plain : cipher},
                  {"answer", enc ? cipher : plain}};
    c.prompt = std::string("A cipher maps each uppercase letter in three steps: (1) replace it by its mirror in the "
                           "alphabet (A<->Z, B<->Y, ...); (2) shift that letter 4 places forward, wrapping Z to A; "
                           "(3) take the letter at that position (A=0) in the alphabet ") +
               std::string(kSubstitution) + ". Decryption runs the steps backwards.\n" +
               (enc ? "Encrypt: " : "Decrypt: ") + c.identity["question"].get<std::string>() +
               "\nGive the result in double brackets, e.g. [[ABC]].";
    c.answer = reference_response("[[" + c.identity["answer"].get<std::string>() + "]]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto runs = find_runs(response, "[[", "]]", is_upper);
    if (runs.empty()) return std::nullopt;
    return std::string(runs.back());
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    return extracted == identity_fields<1>(identity, {"answer"})[0]->get_ref<const std::string&>() ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(KorCipherInverseShiftSubstitution);

}  // namespace
}  // namespace troupe::envs
