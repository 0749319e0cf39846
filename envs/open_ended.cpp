// Open-ended "describe" cases, their form check and styled responses (see open_ended.hpp).
#include "envs/open_ended.hpp"

#include <algorithm>
#include <map>

#include "envs/answer.hpp"

namespace troupe::envs {
namespace {

struct Topic {
  const char* noun;
  std::vector<std::string> words;  // adjectives that fit it
};

const std::vector<Topic>& topics() {
  static const std::vector<Topic> kTopics = {
      {"apple", {"red", "sweet", "round", "crisp", "fresh"}},     {"river", {"long", "cold", "wide", "clear", "quiet"}},
      {"cat", {"small", "soft", "quiet", "curious", "warm"}},      {"mountain", {"tall", "steep", "cold", "rocky", "old"}},
      {"city", {"busy", "loud", "bright", "crowded", "large"}},    {"forest", {"green", "dark", "quiet", "dense", "old"}},
      {"desert", {"dry", "hot", "vast", "sandy", "empty"}},       {"ocean", {"deep", "blue", "vast", "salty", "cold"}},
      {"book", {"thick", "old", "worn", "heavy", "dusty"}},        {"storm", {"loud", "dark", "wild", "wet", "sudden"}},
      {"garden", {"green", "fresh", "small", "bright", "calm"}},  {"train", {"long", "fast", "loud", "crowded", "late"}},
  };
  return kTopics;
}

const Topic* find_topic(const std::string& noun) {
  for (const auto& t : topics()) {
    if (noun == t.noun) return &t;
  }
  return nullptr;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

// Lower-case words of letters only.
std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) {
      cur.push_back(c);
    } else if (!cur.empty()) {
      out.push_back(lower(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(lower(cur));
  return out;
}

std::string list_words(const std::vector<std::string>& w) {
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) {
    s += w[i];
    if (i + 2 < w.size()) s += ", ";
    else if (i + 2 == w.size()) s += " and ";
  }
  return s;
}

std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = char(s[0] - 'a' + 'A');
  return s;
}

}  // namespace

Case describe_case(Rng& rng, int word_count) {
  const Topic& t = rng.pick(topics());
  std::vector<std::string> pool = t.words;
  std::vector<std::string> chosen;
  const int n = std::clamp(word_count, 1, int(pool.size()));
  for (int i = 0; i < n; ++i) {
    const size_t k = size_t(rng.uniform(0, int64_t(pool.size()) - 1));
    chosen.push_back(pool[k]);
    pool.erase(pool.begin() + long(k));
  }
  const int max_words = 6 + 3 * n;  // room for a plain sentence with every word, not for rambling
  Case c;
  c.identity = {{"topic", t.noun}, {"words", chosen}, {"max_words", max_words}};
  std::string listed;
  for (size_t i = 0; i < chosen.size(); ++i) listed += (i ? ", " : "") + chosen[i];
  c.prompt = std::string("Describe the ") + t.noun + " in one sentence using the words: " + listed + ".";
  Rng style(rng.next_u64());
  c.answer = describe_response(c.identity, DescribeStyle::kGood, style);
  return c;
}

Verdict describe_score(const Json& identity, std::string_view response) {
  Verdict v;
  const auto required = identity.at("words").get<std::vector<std::string>>();
  const int64_t max_words = identity_int(identity.at("max_words"));
  std::string_view s = trim(response);
  // A sentence is short: anything longer than this many bytes per allowed word is not one.
  if (s.empty() || s.size() > size_t(max_words) * 16 || s.back() != '.') return v;
  if (s.find('\n') != std::string_view::npos) return v;
  v.extracted = true;
  v.extracted_answer = std::string(s);
  const auto words = words_of(s);
  if (words.size() < 3 || int64_t(words.size()) > max_words) return v;
  std::map<std::string, int> counts;
  for (const auto& w : words) {
    if (++counts[w] > kMaxRepeats) return v;
  }
  for (const auto& r : required) {
    if (!counts.count(lower(r))) return v;
  }
  v.score = 1.0;
  return v;
}

std::string describe_response(const Json& identity, DescribeStyle style, Rng& rng) {
  const std::string noun = identity.at("topic").get<std::string>();
  auto words = identity.at("words").get<std::vector<std::string>>();
  static const std::vector<std::string> kOpen = {"The ", "This ", "A ", "That "};
  static const std::vector<std::string> kVerb = {" is ", " looks ", " seems ", " feels "};
  auto sentence = [&](const std::string& subject, const std::vector<std::string>& w) {
    return capitalised(rng.pick(kOpen) + subject + rng.pick(kVerb) + list_words(w) + ".");
  };
  switch (style) {
    case DescribeStyle::kGood: return sentence(noun, words);
    case DescribeStyle::kGeneric: return capitalised("it" + rng.pick(kVerb) + list_words(words) + ".");
    case DescribeStyle::kMissingWord: {
      if (words.size() == 1) return sentence(noun, {"nice"});
      words.erase(words.begin() + long(rng.uniform(0, int64_t(words.size()) - 1)));
      return sentence(noun, words);
    }
    case DescribeStyle::kOffTopic: {
      const Topic* self = find_topic(noun);
      const Topic* other = self;
      while (other == self) other = &rng.pick(topics());
      // Only words the case does not require: an off-topic sentence must not pass by luck.
      std::vector<std::string> theirs;
      for (const auto& w : other->words) {
        if (std::find(words.begin(), words.end(), w) == words.end() && theirs.size() < 2) theirs.push_back(w);
      }
      return sentence(other->noun, theirs);
    }
    case DescribeStyle::kRepetitive: {
      std::string s = capitalised(rng.pick(kOpen) + noun + " is");
      for (int i = 0; i < 6; ++i) s += " " + words[0];
      return s + ".";
    }
    case DescribeStyle::kRambling: {
      std::string s = sentence(noun, words);
      s.pop_back();
      return s + " and also very nice and so on and more and more things to say about it.";
    }
    case DescribeStyle::kTruncated: {
      std::string s = sentence(noun, words);
      return s.substr(0, s.size() / 2);
    }
  }
  return "";
}

}  // namespace troupe::envs
