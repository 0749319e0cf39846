// The schema of an experiment config, declared once: each field binds a YAML key
// to a struct member with its type, bounds and meaning. Reading, writing back
// (`config show`) and describing (`config schema`) all walk the same declaration,
// so they cannot drift apart. Every problem is collected with its YAML mark; the
// reader never stops at the first one.
#include "configs/schema.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace troupe::configs {
namespace {

// ---- problems and where they are -------------------------------------------

struct Issue {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string path;
  std::string message;
};

struct Ctx {
  std::string file;
  std::vector<Issue> issues;
  std::map<std::string, YAML::Mark> marks;  // every path read, for checks across fields

  void fail(const YAML::Mark& m, const std::string& path, std::string message) {
    issues.push_back({m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0, path, std::move(message)});
  }
  // The mark of `path`, or of its nearest parent that was read.
  YAML::Mark mark_of(std::string path) const {
    while (true) {
      if (auto it = marks.find(path); it != marks.end()) return it->second;
      auto cut = path.find_last_of(".[");
      if (cut == std::string::npos) return YAML::Mark();
      path.resize(cut);
    }
  }
  void fail_at(const std::string& path, std::string message) { fail(mark_of(path), path, std::move(message)); }
};

std::string child(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string describe_node(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return (n.Tag() == "!" ? "the quoted string \"" : "\"") + s + "\"";
    }
    default: return "an undefined node";
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string format_double(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eE") == std::string::npos && s.find("inf") == std::string::npos) s += ".0";
  return s;
}

// ---- scalar codecs ---------------------------------------------------------

template <class T> struct Codec;

template <> struct Codec<int64_t> {
  static const char* type() { return "integer"; }
  static bool decode(const YAML::Node& n, int64_t& out) {
    if (!n.IsScalar() || n.Tag() == "!") return false;  // a quoted "5" is a string, not a number
    const std::string& s = n.Scalar();
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
  static void emit(YAML::Emitter& e, int64_t v) { e << v; }
  static std::string text(int64_t v) { return std::to_string(v); }
};

template <> struct Codec<double> {
  static const char* type() { return "number"; }
  static bool decode(const YAML::Node& n, double& out) {
    if (!n.IsScalar() || n.Tag() == "!") return false;
    const std::string& s = n.Scalar();
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
  }
  static void emit(YAML::Emitter& e, double v) { e << format_double(v); }
  static std::string text(double v) { return format_double(v); }
};

template <> struct Codec<bool> {
  static const char* type() { return "boolean (true or false)"; }
  static bool decode(const YAML::Node& n, bool& out) {
    if (!n.IsScalar() || n.Tag() == "!") return false;
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return out = true, true;
    if (s == "false" || s == "False" || s == "FALSE") return out = false, true;
    return false;
  }
  static void emit(YAML::Emitter& e, bool v) { e << (v ? "true" : "false"); }
  static std::string text(bool v) { return v ? "true" : "false"; }
};

template <> struct Codec<std::string> {
  static const char* type() { return "string"; }
  static bool decode(const YAML::Node& n, std::string& out) {
    if (n.IsNull()) return out.clear(), true;
    if (!n.IsScalar()) return false;
    out = n.Scalar();
    return true;
  }
  static void emit(YAML::Emitter& e, const std::string& v) {
    if (v.empty()) e << YAML::DoubleQuoted << "";
    else e << v;
  }
  static std::string text(const std::string& v) { return "\"" + v + "\""; }
};

template <class E> struct Codec<std::vector<E>> {
  static std::string type() { return std::string("list of ") + Codec<E>::type(); }
  static bool decode(const YAML::Node& n, std::vector<E>& out) {
    if (n.IsNull()) return out.clear(), true;
    if (!n.IsSequence()) return false;
    std::vector<E> v;
    for (const auto& item : n) {
      E e{};
      if (!Codec<E>::decode(item, e)) return false;
      v.push_back(std::move(e));
    }
    out = std::move(v);
    return true;
  }
  static void emit(YAML::Emitter& e, const std::vector<E>& v) {
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : v) Codec<E>::emit(e, x);
    e << YAML::EndSeq;
  }
  static std::string text(const std::vector<E>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + Codec<E>::text(v[i]);
    return s + "]";
  }
};

// ---- field rules -------------------------------------------------------------

struct Rule {
  std::string doc;
  bool required = false;
  std::optional<double> min;          // inclusive
  std::optional<double> max;          // inclusive
  bool min_exclusive = false;         // (min, ...] instead of [min, ...]
  std::vector<std::string> one_of;    // allowed values of a string
};

std::string expectation(const std::string& type, const Rule& r) {
  std::string s = "a " + type;
  if (!r.one_of.empty()) {
    s = "one of";
    for (size_t i = 0; i < r.one_of.size(); ++i) s += (i ? ", " : " ") + r.one_of[i];
    return s;
  }
  if (r.min && r.max) {
    s += std::string(r.min_exclusive ? " in (" : " in [") + format_double(*r.min) + ", " + format_double(*r.max) + "]";
  } else if (r.min) {
    s += std::string(r.min_exclusive ? " > " : " >= ") + format_double(*r.min);
  } else if (r.max) {
    s += " <= " + format_double(*r.max);
  }
  return s;
}

template <class T>
std::optional<std::string> check(const T& v, const Rule& r) {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    double d = static_cast<double>(v);
    bool low = r.min && (r.min_exclusive ? d <= *r.min : d < *r.min);
    bool high = r.max && d > *r.max;
    if (low || high) return "out of range";
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!r.one_of.empty() && std::find(r.one_of.begin(), r.one_of.end(), v) == r.one_of.end()) {
      return "not an allowed value";
    }
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    for (const auto& x : v) {
      if (check<std::string>(x, r)) return "\"" + x + "\" is not an allowed value";
    }
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    for (auto x : v) {
      if (check<int64_t>(x, r)) return "an element is out of range";
    }
  }
  return std::nullopt;
}

// ---- object schemas ------------------------------------------------------------

template <class S>
class Schema {
 public:
  struct Field {
    std::string key;
    std::string type;
    Rule rule;
    std::function<void(const YAML::Node&, S&, Ctx&, const std::string&)> read;
    std::function<void(YAML::Emitter&, const S&)> write;
    std::function<void(std::ostream&, const std::string&, const S&)> describe;
  };

  template <class M>
  Schema& scalar(std::string key, M S::*member, Rule rule) {
    Field f;
    f.key = key;
    f.type = Codec<M>::type();
    f.rule = rule;
    f.read = [member, rule](const YAML::Node& n, S& s, Ctx& ctx, const std::string& path) {
      M v{};
      if (!Codec<M>::decode(n, v)) {
        ctx.fail(n.Mark(), path, "expected " + expectation(Codec<M>::type(), rule) + ", got " + describe_node(n));
        return;
      }
      if (auto why = check(v, rule)) {
        ctx.fail(n.Mark(), path,
                 "expected " + expectation(Codec<M>::type(), rule) + ", got " + describe_node(n) + " (" + *why + ")");
        return;
      }
      s.*member = std::move(v);
    };
    f.write = [member](YAML::Emitter& e, const S& s) { Codec<M>::emit(e, s.*member); };
    f.describe = [member, rule, key](std::ostream& o, const std::string& path, const S& d) {
      o << child(path, key) << "  (" << expectation(Codec<M>::type(), rule).substr(0) << ")"
        << (rule.required ? "  required" : "  default " + Codec<M>::text(d.*member)) << "\n      " << rule.doc
        << "\n";
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  template <class M>
  Schema& object(std::string key, M S::*member, const Schema<M>& sub, std::string doc) {
    Field f;
    f.key = key;
    f.type = "mapping";
    f.rule.doc = doc;
    f.read = [member, &sub](const YAML::Node& n, S& s, Ctx& ctx, const std::string& path) {
      sub.read(n, s.*member, ctx, path);
    };
    f.write = [member, &sub](YAML::Emitter& e, const S& s) { sub.write(e, s.*member); };
    f.describe = [member, &sub, key, doc](std::ostream& o, const std::string& path, const S& d) {
      o << child(path, key) << "  (mapping)\n      " << doc << "\n";
      sub.describe(o, child(path, key), d.*member);
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  template <class M>
  Schema& list(std::string key, std::vector<M> S::*member, const Schema<M>& sub, Rule rule) {
    Field f;
    f.key = key;
    f.type = "list";
    f.rule = rule;
    f.read = [member, &sub, rule](const YAML::Node& n, S& s, Ctx& ctx, const std::string& path) {
      if (n.IsNull()) {
        (s.*member).clear();
      } else if (!n.IsSequence()) {
        ctx.fail(n.Mark(), path, "expected a list of mappings, got " + describe_node(n));
        return;
      } else {
        std::vector<M> out;
        for (size_t i = 0; i < n.size(); ++i) {
          M item{};
          std::string p = path + "[" + std::to_string(i) + "]";
          ctx.marks[p] = n[i].Mark();
          sub.read(n[i], item, ctx, p);
          out.push_back(std::move(item));
        }
        s.*member = std::move(out);
      }
      if (rule.min && static_cast<double>((s.*member).size()) < *rule.min) {
        ctx.fail(n.Mark(), path,
                 "expected at least " + format_double(*rule.min).substr(0, format_double(*rule.min).find('.')) +
                     " entries, got " + std::to_string((s.*member).size()));
      }
    };
    f.write = [member, &sub](YAML::Emitter& e, const S& s) {
      e << YAML::BeginSeq;
      for (const auto& item : s.*member) sub.write(e, item);
      e << YAML::EndSeq;
    };
    f.describe = [&sub, key, rule](std::ostream& o, const std::string& path, const S&) {
      o << child(path, key) << "  (list of mappings)" << (rule.required ? "  required" : "") << "\n      "
        << rule.doc << "\n";
      sub.describe(o, child(path, key) + "[]", M{});
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  template <class M>
  Schema& map(std::string key, std::map<std::string, M> S::*member, const Schema<M>& sub, std::string doc) {
    Field f;
    f.key = key;
    f.type = "mapping of name to mapping";
    f.rule.doc = doc;
    f.read = [member, &sub](const YAML::Node& n, S& s, Ctx& ctx, const std::string& path) {
      if (n.IsNull()) return (s.*member).clear();
      if (!n.IsMap()) return ctx.fail(n.Mark(), path, "expected a mapping of names to mappings, got " + describe_node(n));
      std::map<std::string, M> out;
      for (auto it = n.begin(); it != n.end(); ++it) {
        std::string name = it->first.Scalar();
        std::string p = path + "." + name;
        ctx.marks[p] = it->first.Mark();
        if (out.count(name)) {
          ctx.fail(it->first.Mark(), p, "duplicate key");
          continue;
        }
        M item{};
        sub.read(it->second, item, ctx, p);
        out.emplace(name, std::move(item));
      }
      s.*member = std::move(out);
    };
    f.write = [member, &sub](YAML::Emitter& e, const S& s) {
      e << YAML::BeginMap;
      for (const auto& [name, item] : s.*member) {
        e << YAML::Key << name << YAML::Value;
        sub.write(e, item);
      }
      e << YAML::EndMap;
    };
    f.describe = [&sub, key, doc](std::ostream& o, const std::string& path, const S&) {
      o << child(path, key) << "  (mapping of name to mapping)\n      " << doc << "\n";
      sub.describe(o, child(path, key) + ".<name>", M{});
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  void read(const YAML::Node& n, S& out, Ctx& ctx, const std::string& path) const {
    if (!path.empty() && !ctx.marks.count(path)) ctx.marks[path] = n.Mark();
    if (n.IsNull()) {
      for (const auto& f : fields_) {
        if (f.rule.required) ctx.fail(n.Mark(), child(path, f.key), "missing required field: " + f.rule.doc);
      }
      return;
    }
    if (!n.IsMap()) {
      ctx.fail(n.Mark(), path.empty() ? "(top level)" : path, "expected a mapping with keys " + key_list() +
                                                                  ", got " + describe_node(n));
      return;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node k = it->first;  // a copy: the iterator yields a temporary pair
      std::string key = k.IsScalar() ? k.Scalar() : "?";
      std::string p = child(path, key);
      if (!seen.insert(key).second) {
        ctx.fail(k.Mark(), p, "duplicate key (the earlier value would be silently replaced)");
        continue;
      }
      const Field* f = find(key);
      if (!f) {
        ctx.fail(k.Mark(), p, "unknown key" + suggestion(key) + "; known keys here: " + key_list());
        continue;
      }
      ctx.marks[p] = it->second.Mark();
      f->read(it->second, out, ctx, p);
    }
    for (const auto& f : fields_) {
      if (f.rule.required && !seen.count(f.key)) {
        ctx.fail(n.Mark(), child(path, f.key), "missing required field: " + f.rule.doc);
      }
    }
  }

  void write(YAML::Emitter& e, const S& s) const {
    e << YAML::BeginMap;
    for (const auto& f : fields_) {
      e << YAML::Key << f.key << YAML::Value;
      f.write(e, s);
    }
    e << YAML::EndMap;
  }

  void describe(std::ostream& o, const std::string& path, const S& defaults) const {
    for (const auto& f : fields_) f.describe(o, path, defaults);
  }

 private:
  const Field* find(const std::string& key) const {
    for (const auto& f : fields_) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }
  std::string key_list() const {
    std::string s;
    for (const auto& f : fields_) s += (s.empty() ? "" : ", ") + f.key;
    return s;
  }
  std::string suggestion(const std::string& key) const {
    const Field* best = nullptr;
    size_t best_d = std::numeric_limits<size_t>::max();
    for (const auto& f : fields_) {
      size_t d = edit_distance(key, f.key);
      if (d < best_d) best_d = d, best = &f;
    }
    // A suggestion further than half the key's length away is noise, not help.
    if (best && best_d <= std::max<size_t>(2, key.size() / 2)) return "; did you mean \"" + best->key + "\"?";
    return "";
  }

  std::vector<Field> fields_;
};

// ---- the experiment schema -----------------------------------------------------

const Schema<RunConfig>& run_schema() {
  static const Schema<RunConfig> s = Schema<RunConfig>()
      .scalar("name", &RunConfig::name, {.doc = "run name; the `run` label on every metric"})
      .scalar("seed", &RunConfig::seed, {.doc = "seed for case generation and sampling", .min = 0})
      .scalar("output_dir", &RunConfig::output_dir, {.doc = "where checkpoints and logs go"})
      .scalar("max_steps", &RunConfig::max_steps, {.doc = "stop after this many learner steps; 0 = no limit", .min = 0})
      .scalar("max_seconds", &RunConfig::max_seconds,
              {.doc = "stop after this much wall-clock time; 0 = no limit", .min = 0});
  return s;
}

const Schema<ModelConfig>& model_schema() {
  static const Schema<ModelConfig> s = Schema<ModelConfig>()
      .scalar("d_model", &ModelConfig::d_model, {.doc = "width of the residual stream", .min = 8, .max = 16384})
      .scalar("n_layers", &ModelConfig::n_layers, {.doc = "transformer blocks", .min = 1, .max = 256})
      .scalar("n_heads", &ModelConfig::n_heads, {.doc = "attention heads; must divide d_model", .min = 1, .max = 256})
      .scalar("context", &ModelConfig::context, {.doc = "maximum tokens per sequence", .min = 8, .max = 1 << 20})
      .scalar("init_checkpoint", &ModelConfig::init_checkpoint,
              {.doc = "warm-start checkpoint directory; empty = random initialisation"})
      .scalar("device", &ModelConfig::device,
              {.doc = "where learners and policy workers run the model: auto (the GPU when one is visible), cpu, cuda",
               .one_of = {"auto", "cpu", "cuda"}});
  return s;
}

const Schema<WarmStartConfig>& warm_start_schema() {
  using W = WarmStartConfig;
  static const Schema<W> s = Schema<W>()
      .scalar("max_minutes", &W::max_minutes, {.doc = "wall-clock bound of supervised warm-up", .min = 0, .max = 1e4})
      .scalar("max_steps", &W::max_steps,
              {.doc = "bound on supervised steps (0 = only the time bound); reproducible where time is not",
               .min = 0})
      .scalar("batch", &W::batch, {.doc = "sequences per supervised step", .min = 1, .max = 1 << 20})
      .scalar("lr", &W::lr, {.doc = "peak learning rate", .min = 0, .max = 1, .min_exclusive = true})
      .scalar("warmup_steps", &W::warmup_steps, {.doc = "linear warm-up steps", .min = 0})
      .scalar("corrupt_fraction", &W::corrupt_fraction,
              {.doc = "share of demonstrations whose answer is made wrong (imperfect demonstrations)",
               .min = 0, .max = 1})
      .scalar("worked_solutions", &W::worked_solutions,
              {.doc = "train on worked solutions instead of answers alone"})
      .scalar("eval_every", &W::eval_every, {.doc = "steps between held-out evaluations", .min = 1})
      .scalar("eval_cases", &W::eval_cases, {.doc = "held-out cases per task per evaluation", .min = 1})
      .scalar("patience", &W::patience,
              {.doc = "evaluations without a new best held-out pass rate before stopping (counted once the pass rate is above zero)", .min = 1});
  return s;
}

const Schema<DifficultyRange>& difficulty_schema() {
  static const Schema<DifficultyRange> s = Schema<DifficultyRange>()
      .scalar("min", &DifficultyRange::min, {.doc = "easiest level sampled", .min = 1, .max = 10})
      .scalar("max", &DifficultyRange::max, {.doc = "hardest level sampled", .min = 1, .max = 10});
  return s;
}

const Schema<TaskEntry>& task_schema() {
  static const Schema<TaskEntry> s = Schema<TaskEntry>()
      .scalar("name", &TaskEntry::name, {.doc = "task registry name, e.g. Game24bootcamp", .required = true})
      .scalar("weight", &TaskEntry::weight,
              {.doc = "share of prompts drawn from this task", .min = 0, .max = 1e6, .min_exclusive = true})
      .object("difficulty", &TaskEntry::difficulty, difficulty_schema(), "difficulty levels to sample (1..10)");
  return s;
}

const Schema<CurriculumConfig>& curriculum_schema() {
  static const Schema<CurriculumConfig> s = Schema<CurriculumConfig>()
      .scalar("enabled", &CurriculumConfig::enabled, {.doc = "adapt difficulty to the moving pass rate"})
      .scalar("window", &CurriculumConfig::window, {.doc = "rollouts in the moving pass rate", .min = 1, .max = 1e6})
      .scalar("raise_above", &CurriculumConfig::raise_above,
              {.doc = "raise a task's difficulty when its pass rate exceeds this", .min = 0, .max = 1})
      .scalar("drop_above", &CurriculumConfig::drop_above,
              {.doc = "stop sampling a level solved more often than this", .min = 0, .max = 1})
      .scalar("drop_below", &CurriculumConfig::drop_below,
              {.doc = "stop sampling a level solved less often than this (after a full window)", .min = 0, .max = 1});
  return s;
}

const std::vector<std::string> kSourceKinds = {"rule", "verifier", "preference"};

const Schema<RewardSourceConfig>& reward_source_schema() {
  static const Schema<RewardSourceConfig> s = Schema<RewardSourceConfig>()
      .scalar("kind", &RewardSourceConfig::kind, {.doc = "where the score comes from", .one_of = kSourceKinds})
      .scalar("weight", &RewardSourceConfig::weight, {.doc = "weight in the mixture", .min = 0, .max = 1e6})
      .scalar("endpoint", &RewardSourceConfig::endpoint,
              {.doc = "OpenAI-compatible base URL of a model source (verifier, preference)"})
      .scalar("recipe", &RewardSourceConfig::recipe,
              {.doc = "how a model source is called: troupe (POST /v1/score, the default) or compass_verifier "
                      "(chat completions with the CompassVerifier prompt, A/B/C)",
               .one_of = {"", "troupe", "compass_verifier"}})
      .scalar("timeout_ms", &RewardSourceConfig::timeout_ms,
              {.doc = "per-call timeout of a model source", .min = 1, .max = 3600000})
      .scalar("model", &RewardSourceConfig::model, {.doc = "the model name sent in requests (empty: the server's one)"})
      .scalar("max_batch", &RewardSourceConfig::max_batch,
              {.doc = "items per scoring request of a model source", .min = 1, .max = 4096})
      .scalar("concurrency", &RewardSourceConfig::concurrency,
              {.doc = "requests in flight to a model source", .min = 1, .max = 256})
      .scalar("retries", &RewardSourceConfig::retries,
              {.doc = "retries of a failed call (connection, timeout, 429, 5xx), with backoff", .min = 0, .max = 20})
      .scalar("backoff_ms", &RewardSourceConfig::backoff_ms,
              {.doc = "wait before the first retry; doubles each retry", .min = 0, .max = 600000})
      .scalar("relative", &RewardSourceConfig::relative,
              {.doc = "preference: score relative to the task's reference response (POLAR-style)"});
  return s;
}

const Schema<RewardRecipe>& recipe_schema() {
  static const Schema<RewardRecipe> s = Schema<RewardRecipe>()
      .list("sources", &RewardRecipe::sources, reward_source_schema(),
            {.doc = "the reward sources mixed for this task", .min = 1})
      .scalar("fallback", &RewardRecipe::fallback,
              {.doc = "source kinds tried in order when a source fails", .one_of = kSourceKinds})
      .scalar("normalise", &RewardRecipe::normalise,
              {.doc = "how each component is normalised", .one_of = {"none", "group", "running"}})
      .scalar("rule_fails_without_answer", &RewardRecipe::rule_fails_without_answer,
              {.doc = "a response whose answer the rule verifier cannot extract counts as a rule failure, so the "
                      "fallback (e.g. verifier) decides; a source of weight 0 is consulted only as a fallback"});
  return s;
}

const Schema<RewardsConfig>& rewards_schema() {
  static const Schema<RewardsConfig> s = Schema<RewardsConfig>()
      .object("default", &RewardsConfig::default_recipe, recipe_schema(), "the recipe of tasks without their own")
      .map("per_task", &RewardsConfig::per_task, recipe_schema(), "recipes by task name")
      .scalar("running_window", &RewardsConfig::running_window,
              {.doc = "effective length (rollouts) of the running mean and variance of normalise: running",
               .min = 1, .max = 1e9});
  return s;
}

const Schema<AlgorithmConfig>& algorithm_schema() {
  using A = AlgorithmConfig;
  static const Schema<A> s = Schema<A>()
      .scalar("objective", &A::objective, {.doc = "policy objective", .one_of = {"grpo", "ppo", "oreal"}})
      .scalar("advantage", &A::advantage, {.doc = "advantage estimator", .one_of = {"group", "leave_one_out"}})
      .scalar("group_size", &A::group_size, {.doc = "responses sampled per prompt", .min = 1, .max = 4096})
      .scalar("prompts_per_step", &A::prompts_per_step, {.doc = "prompts per learner step", .min = 1, .max = 1e6})
      .scalar("lr", &A::lr, {.doc = "peak learning rate (AdamW)", .min = 0, .max = 1, .min_exclusive = true})
      .scalar("warmup_steps", &A::warmup_steps, {.doc = "linear warm-up steps", .min = 0})
      .scalar("weight_decay", &A::weight_decay, {.doc = "AdamW weight decay on matrices", .min = 0, .max = 1})
      .scalar("max_grad_norm", &A::max_grad_norm, {.doc = "global gradient-norm clip; 0 = off", .min = 0})
      .scalar("passes", &A::passes, {.doc = "optimiser passes over each batch", .min = 1, .max = 64})
      .scalar("clip", &A::clip, {.doc = "PPO ratio clip epsilon", .min = 0, .max = 10})
      .scalar("importance_cap", &A::importance_cap,
              {.doc = "truncation of the behaviour-to-proximal importance weight", .min = 1})
      .scalar("kl_coef", &A::kl_coef, {.doc = "weight of KL to the reference policy (k3)", .min = 0})
      .scalar("entropy_coef", &A::entropy_coef, {.doc = "weight of the entropy bonus", .min = 0})
      .scalar("drop_equal_groups", &A::drop_equal_groups, {.doc = "skip groups whose rewards are all equal"})
      .scalar("temperature", &A::temperature,
              {.doc = "sampling temperature of rollouts", .min = 0, .max = 10, .min_exclusive = true})
      .scalar("top_p", &A::top_p, {.doc = "nucleus sampling mass", .min = 0, .max = 1, .min_exclusive = true})
      .scalar("max_new_tokens", &A::max_new_tokens, {.doc = "longest response", .min = 1, .max = 1 << 20})
      .scalar("learners", &A::learners,
              {.doc = "data-parallel learners: each trains on a share of every batch's groups, and their "
                      "gradients are summed (all-reduce) before each step",
               .min = 1, .max = 64});
  return s;
}

const Schema<AsyncConfig>& async_schema() {
  static const Schema<AsyncConfig> s =
      Schema<AsyncConfig>()
          .scalar("max_staleness", &AsyncConfig::max_staleness,
                  {.doc = "oldest policy version trained on, behind the learner; 0 = synchronous",
                   .min = 0, .max = 1000000})
          .scalar("prompt_timeout_s", &AsyncConfig::prompt_timeout_s,
                  {.doc = "seconds a prompt handed to a policy worker may go unanswered before it counts as "
                          "lost and is re-issued once (a message lost with a node, a worker that died unseen)",
                   .min = 1, .max = 86400});
  return s;
}

const Schema<StorageConfig>& storage_schema() {
  using S = StorageConfig;
  static const Schema<S> s = Schema<S>()
      .scalar("path", &S::path, {.doc = "RocksDB directory of the replay store"})
      .scalar("durability", &S::durability,
              {.doc = "when an append is acknowledged", .one_of = {"sync", "group_commit"}})
      .scalar("group_commit_ms", &S::group_commit_ms, {.doc = "longest wait before a group commit", .min = 0})
      .scalar("group_commit_rollouts", &S::group_commit_rollouts,
              {.doc = "rollouts that force a group commit", .min = 1})
      .scalar("max_rollouts", &S::max_rollouts, {.doc = "retention by count; 0 = no limit", .min = 0})
      .scalar("max_bytes", &S::max_bytes, {.doc = "retention by bytes; 0 = no limit", .min = 0})
      .scalar("max_version_age", &S::max_version_age, {.doc = "retention by policy-version age; 0 = keep", .min = 0})
      .scalar("reuse", &S::reuse, {.doc = "times a rollout may be trained on", .min = 1, .max = 1000});
  return s;
}

const Schema<MonitoringConfig>& monitoring_schema() {
  static const Schema<MonitoringConfig> s = Schema<MonitoringConfig>()
      .scalar("enabled", &MonitoringConfig::enabled, {.doc = "serve /metrics"})
      .scalar("listen", &MonitoringConfig::listen, {.doc = "HOST:PORT of the Prometheus exposer"})
      .scalar("targets_dir", &MonitoringConfig::targets_dir,
              {.doc = "Prometheus file_sd directory: RUN.json naming this run's /metrics is written there while "
                      "the run lives, if the directory exists (empty = never)"});
  return s;
}

const Schema<LimitsConfig>& limits_schema() {
  using L = LimitsConfig;
  static const Schema<L> s = Schema<L>()
      .scalar("mailbox", &L::mailbox, {.doc = "messages queued per actor before senders wait", .min = 1})
      .scalar("prompt_queue", &L::prompt_queue, {.doc = "prompts waiting for a policy worker", .min = 1})
      .scalar("rollout_queue", &L::rollout_queue, {.doc = "rollouts waiting for scoring or storage", .min = 1})
      .scalar("weight_chunk_bytes", &L::weight_chunk_bytes,
              {.doc = "bytes per weight-broadcast chunk", .min = 4096, .max = 1 << 30});
  return s;
}

const Schema<HostConfig>& host_schema() {
  using H = HostConfig;
  static const Schema<H> s = Schema<H>()
      .scalar("name", &H::name, {.doc = "host name used by roles", .required = true})
      .scalar("address", &H::address, {.doc = "IP address other nodes reach it on"})
      .scalar("via", &H::via, {.doc = "how the launcher starts its node", .one_of = {"local", "ssh"}})
      .scalar("ssh_target", &H::ssh_target, {.doc = "user@host for via: ssh"})
      .scalar("gpus", &H::gpus, {.doc = "GPU ids available on the host", .min = 0, .max = 1023})
      .scalar("port", &H::port, {.doc = "the node's UCX listener port", .min = 1, .max = 65535})
      .scalar("metrics_port", &H::metrics_port, {.doc = "the node's /metrics port", .min = 1, .max = 65535});
  return s;
}

const std::vector<std::string> kRoles = {"controller", "env", "policy_worker", "reward", "replay", "learner"};

const Schema<RolePlacement>& role_schema() {
  using R = RolePlacement;
  static const Schema<R> s = Schema<R>()
      .scalar("role", &R::role, {.doc = "which actor", .required = true, .one_of = kRoles})
      .scalar("host", &R::host, {.doc = "host name from placement.hosts", .required = true})
      .scalar("count", &R::count, {.doc = "how many such actors on the host", .min = 1, .max = 4096})
      .scalar("gpus", &R::gpus, {.doc = "GPU ids the actors use (learners, policy workers)", .min = 0, .max = 1023})
      .scalar("tasks", &R::tasks, {.doc = "env actors: tasks hosted here; empty = every task"});
  return s;
}

const Schema<PlacementConfig>& placement_schema() {
  using P = PlacementConfig;
  static const Schema<P> s = Schema<P>()
      .scalar("token_env", &P::token_env, {.doc = "environment variable holding the cluster's shared secret"})
      .scalar("weight_broadcast", &P::weight_broadcast,
              {.doc = "how weights reach worker nodes: shm (shared memory, the head's machine only), ucx "
                      "(chunked chain), nccl (GPU to GPU; the learner and every node's policy workers need gpus), "
                      "auto (shm where possible, else ucx)",
               .one_of = {"auto", "shm", "ucx", "nccl"}})
      .scalar("weight_shm_slots", &P::weight_shm_slots,
              {.doc = "shared-memory weight segments kept (each one version; 3 x the model's bytes at most)",
               .min = 2,
               .max = 8})
      .list("hosts", &P::hosts, host_schema(), {.doc = "machines or processes; empty = everything in one process"})
      .list("roles", &P::roles, role_schema(), {.doc = "which actors run where"});
  return s;
}

const Schema<ExperimentConfig>& experiment_schema() {
  using E = ExperimentConfig;
  static const Schema<E> s = Schema<E>()
      .object("run", &E::run, run_schema(), "name, seed, limits of the run")
      .object("model", &E::model, model_schema(), "the policy transformer's shape")
      .object("warm_start", &E::warm_start, warm_start_schema(), "supervised warm-up before RL")
      .list("tasks", &E::tasks, task_schema(), {.doc = "the task mixture", .required = true, .min = 1})
      .object("curriculum", &E::curriculum, curriculum_schema(), "difficulty adaptation")
      .object("rewards", &E::rewards, rewards_schema(), "Mixture-of-Rewards recipes")
      .object("algorithm", &E::algorithm, algorithm_schema(), "the learner's objective and sampling")
      .object("async", &E::async, async_schema(), "the staleness bound")
      .object("storage", &E::storage, storage_schema(), "the replay store")
      .object("monitoring", &E::monitoring, monitoring_schema(), "Prometheus metrics")
      .object("limits", &E::limits, limits_schema(), "bounds on mailboxes, queues and buffers")
      .object("placement", &E::placement, placement_schema(), "which actors run on which hosts");
  return s;
}

// ---- checks across fields ------------------------------------------------------

bool parse_host_port(const std::string& s, std::string& host, int64_t& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  std::string p = s.substr(colon + 1);
  auto r = std::from_chars(p.data(), p.data() + p.size(), port);
  return r.ec == std::errc() && r.ptr == p.data() + p.size() && port >= 0 && port <= 65535;
}

void check_config(const ExperimentConfig& c, Ctx& ctx) {
  if (c.model.d_model % c.model.n_heads != 0) {
    ctx.fail_at("model.n_heads", "expected a divisor of model.d_model (" + std::to_string(c.model.d_model) +
                                     "), got " + std::to_string(c.model.n_heads));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < c.tasks.size(); ++i) {
    const auto& t = c.tasks[i];
    std::string p = "tasks[" + std::to_string(i) + "]";
    if (!t.name.empty() && !names.insert(t.name).second) {
      ctx.fail_at(p + ".name", "task \"" + t.name + "\" appears twice in the mixture");
    }
    if (t.difficulty.min > t.difficulty.max) {
      ctx.fail_at(p + ".difficulty.min", "expected difficulty.min <= difficulty.max, got " +
                                             std::to_string(t.difficulty.min) + " > " +
                                             std::to_string(t.difficulty.max));
    }
  }
  auto check_recipe = [&](const RewardRecipe& r, const std::string& path) {
    double total = 0;
    for (const auto& src : r.sources) total += src.weight;
    if (!r.sources.empty() && total <= 0) ctx.fail_at(path + ".sources", "expected source weights summing above 0");
    for (const auto& fb : r.fallback) {
      bool present = std::any_of(r.sources.begin(), r.sources.end(), [&](auto& s) { return s.kind == fb; });
      if (!present) ctx.fail_at(path + ".fallback", "fallback \"" + fb + "\" is not one of this recipe's sources");
    }
    for (size_t i = 0; i < r.sources.size(); ++i) {
      const auto& src = r.sources[i];
      if (src.kind != "rule" && src.endpoint.empty()) {
        ctx.fail_at(path + ".sources[" + std::to_string(i) + "].endpoint",
                    "a " + src.kind + " source needs an endpoint (e.g. http://127.0.0.1:8000 of `troupe serve`)");
      }
      if (src.kind == "preference" && src.recipe == "compass_verifier") {
        ctx.fail_at(path + ".sources[" + std::to_string(i) + "].recipe", "compass_verifier is a verifier recipe");
      }
    }
  };
  check_recipe(c.rewards.default_recipe, "rewards.default");
  for (const auto& [task, recipe] : c.rewards.per_task) {
    std::string p = "rewards.per_task." + task;
    if (!names.count(task)) ctx.fail_at(p, "task \"" + task + "\" has a recipe but is not in the tasks mixture");
    check_recipe(recipe, p);
  }
  if (c.algorithm.group_size < 2 && c.algorithm.advantage == "leave_one_out") {
    ctx.fail_at("algorithm.group_size", "leave_one_out advantages need group_size >= 2");
  }
  if (c.algorithm.objective != "oreal" && c.algorithm.group_size < 2) {
    ctx.fail_at("algorithm.group_size", "group-normalised advantages need group_size >= 2 (a group of one has "
                                        "advantage 0 and teaches nothing)");
  }
  std::string host;
  int64_t port = 0;
  if (!parse_host_port(c.monitoring.listen, host, port)) {
    ctx.fail_at("monitoring.listen", "expected HOST:PORT with a port in 0..65535, got \"" + c.monitoring.listen + "\"");
  }

  // Placement: hosts named once, roles on known hosts and GPUs, no port clashes.
  std::map<std::string, const HostConfig*> hosts;
  std::map<std::pair<std::string, int64_t>, std::string> ports;
  for (size_t i = 0; i < c.placement.hosts.size(); ++i) {
    const auto& h = c.placement.hosts[i];
    std::string p = "placement.hosts[" + std::to_string(i) + "]";
    if (!hosts.emplace(h.name, &h).second) ctx.fail_at(p + ".name", "host \"" + h.name + "\" is named twice");
    if (h.via == "ssh" && h.ssh_target.empty()) ctx.fail_at(p + ".ssh_target", "via: ssh needs an ssh_target");
    for (auto [what, port_value] : {std::pair{"port", h.port}, std::pair{"metrics_port", h.metrics_port}}) {
      auto key = std::pair{h.address, port_value};
      auto [it, fresh] = ports.emplace(key, p + "." + what);
      if (!fresh) {
        ctx.fail_at(p + "." + what, "port " + std::to_string(port_value) + " on " + h.address +
                                        " is already used by " + it->second);
      }
    }
  }
  std::set<std::string> placed;
  for (size_t i = 0; i < c.placement.roles.size(); ++i) {
    const auto& r = c.placement.roles[i];
    std::string p = "placement.roles[" + std::to_string(i) + "]";
    placed.insert(r.role);
    auto h = hosts.find(r.host);
    if (h == hosts.end()) {
      std::string known;
      for (const auto& [n, _] : hosts) known += (known.empty() ? "" : ", ") + n;
      ctx.fail_at(p + ".host", "unknown host \"" + r.host + "\"; hosts: " + (known.empty() ? "(none)" : known));
      continue;
    }
    for (auto g : r.gpus) {
      const auto& avail = h->second->gpus;
      if (std::find(avail.begin(), avail.end(), g) == avail.end()) {
        ctx.fail_at(p + ".gpus", "GPU " + std::to_string(g) + " is not among host \"" + r.host + "\"'s gpus");
      }
    }
    for (const auto& t : r.tasks) {
      if (!names.count(t)) ctx.fail_at(p + ".tasks", "task \"" + t + "\" is not in the tasks mixture");
    }
  }
  if (!c.placement.hosts.empty()) {
    for (const auto& role : kRoles) {
      if (!placed.count(role)) ctx.fail_at("placement.roles", "role \"" + role + "\" is placed on no host");
    }
  }
}

Result<ExperimentConfig> finish(Ctx& ctx, ExperimentConfig config) {
  if (ctx.issues.empty()) check_config(config, ctx);
  if (ctx.issues.empty()) return config;
  std::stable_sort(ctx.issues.begin(), ctx.issues.end(), [](const Issue& a, const Issue& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  std::string msg;
  for (const auto& i : ctx.issues) {
    if (!msg.empty()) msg += "\n";
    msg += ctx.file + ":" + std::to_string(std::max(i.line, 1)) + ":" + std::to_string(std::max(i.column, 1)) + ": " +
           i.path + ": " + i.message;
  }
  return Status::invalid_argument(msg);
}

}  // namespace

const RewardRecipe& ExperimentConfig::recipe_for(const std::string& task) const {
  auto it = rewards.per_task.find(task);
  return it == rewards.per_task.end() ? rewards.default_recipe : it->second;
}

Result<ExperimentConfig> parse_config(std::string_view yaml, const std::string& name) {
  Ctx ctx;
  ctx.file = name;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                    std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  ExperimentConfig config;
  try {
    experiment_schema().read(root, config, ctx, "");
  } catch (const YAML::Exception& e) {  // yaml-cpp throws on some malformed nodes; never let it escape
    ctx.fail(e.mark, "(document)", e.msg);
  }
  return finish(ctx, std::move(config));
}

Result<ExperimentConfig> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read config file \"" + path + "\": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::string to_yaml(const ExperimentConfig& config) {
  YAML::Emitter e;
  e.SetIndent(2);
  experiment_schema().write(e, config);
  return std::string(e.c_str()) + "\n";
}

std::string describe_schema() {
  std::ostringstream o;
  experiment_schema().describe(o, "", ExperimentConfig{});
  return o.str();
}

}  // namespace troupe::configs
