// `troupe replay stats|ls|show|export|tail|verify DB`: read a replay store, live or
// not. One class per verb, each with name(), help(), its options and run(); the
// command mounts every verb the same way, so adding one is adding a class.
// Every verb opens the store as a RocksDB secondary instance: it never takes the
// writer's lock or slows it, and sees what was committed when it opened (tail
// keeps catching up). Human tables by default; --json (export: JSON lines) for
// machines. Exit status: 0 ok, 1 the store could not be read or verify found
// damage, 2 bad command line (CLI11).
#include "cli/replay_cmd.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <array>
#include <fstream>
#include <iostream>
#include <optional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/command.hpp"
#include "storage/replay_store.hpp"

namespace troupe::cli {
namespace {

using nlohmann::json;
using storage::ReplayStore;
using storage::RolloutSummary;

// A plain-text table: columns sized to their widest cell, numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out, const std::string& indent = "") const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (auto& r : rows_)
      for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
    for (size_t r = 0; r < rows_.size(); ++r) {
      std::string line = indent;
      for (size_t i = 0; i < rows_[r].size() && i < width.size(); ++i) {
        const std::string& cell = rows_[r][i];
        const bool numeric = r > 0 && !cell.empty() && (std::isdigit(uint8_t(cell[0])) || cell[0] == '-');
        line += numeric ? fmt::format("{:>{}}", cell, width[i]) : fmt::format("{:<{}}", cell, width[i]);
        if (i + 1 < rows_[r].size()) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string fixed(double v, int digits = 3) { return fmt::format("{:.{}f}", v, digits); }

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

const char* finish_name(uint8_t f) {
  return wire::EnumNameFinishReason(static_cast<wire::FinishReason>(f));
}

std::string source_cell(const storage::SourceScore& s) {
  if (!s.present) return "-";
  return s.ok ? fixed(s.raw, 2) : fixed(s.raw, 2) + "!";  // "!": the source failed and a fallback was used
}

// Options every verb has.
class ReplayVerb {
 public:
  virtual ~ReplayVerb() = default;
  virtual const char* name() const = 0;
  virtual const char* help() const = 0;
  // Examples and how to read the output, printed after the options by --help.
  virtual const char* footer() const = 0;
  virtual const char* json_help() const { return "machine-readable JSON instead of a table"; }
  virtual void add_options(CLI::App& cmd) = 0;
  virtual int run(std::ostream& out, std::ostream& err) = 0;

  // Adds the verb under `parent`; the App's callback owns the verb, whose members the options bind.
  static void mount(std::shared_ptr<ReplayVerb> verb, CLI::App& parent, int& exit_code, std::ostream& out,
                    std::ostream& err) {
    CLI::App* cmd = parent.add_subcommand(verb->name(), verb->help());
    cmd->footer(verb->footer());
    cmd->add_option("DB", verb->db_,
                    "replay store directory (storage.path in the experiment config, e.g. runs/local/replay)")
        ->required();
    cmd->add_flag("--json", verb->json_, verb->json_help());
    verb->add_options(*cmd);
    cmd->callback([verb, &exit_code, &out, &err] { exit_code = verb->run(out, err); });
  }

 protected:
  // Opens the store as a secondary instance, or says why not.
  std::unique_ptr<ReplayStore> open(std::ostream& err) const {
    auto store = ReplayStore::open(db_, storage::ReplayOptions{}, storage::OpenMode::kSecondary);
    if (!store) {
      err << "troupe replay " << name() << ": " << store.status().message() << "\n";
      return nullptr;
    }
    return std::move(*store);
  }
  // Names the damaged rollouts a read skipped (the verb still succeeds; verify fails on them).
  static int report_corrupt(const storage::ScanReport& rep, std::ostream& err) {
    for (auto& c : rep.corrupt_examples) err << "corrupt: id " << c.id << " key " << c.key_hex << ": " << c.what << "\n";
    if (rep.corrupt > rep.corrupt_examples.size()) {
      err << "corrupt: ... and " << rep.corrupt - rep.corrupt_examples.size() << " more\n";
    }
    if (rep.corrupt > 0) err << rep.corrupt << " corrupt rollouts skipped; run `troupe replay verify` for all\n";
    return 0;
  }

  std::string db_;
  bool json_ = false;
};

// The --task/--min-version/... filters of ls and export.
struct FilterOptions {
  std::string task;
  uint64_t min_version = 0;
  uint64_t max_version = std::numeric_limits<uint64_t>::max();
  std::optional<float> reward_min, reward_max;
  bool source_disagree = false;
  uint64_t limit = 0;
  bool newest = false;

  void add_to(CLI::App& cmd, uint64_t default_limit) {
    limit = default_limit;
    cmd.add_option("--task", task, "only this task");
    cmd.add_option("--min-version", min_version, "only policy_version >= V");
    cmd.add_option("--max-version", max_version, "only policy_version <= V");
    cmd.add_option("--reward-min", reward_min, "only total reward >= X");
    cmd.add_option("--reward-max", reward_max, "only total reward <= X");
    cmd.add_flag("--source-disagree", source_disagree,
                 "only rollouts whose reward sources disagree (one passes it at raw >= 0.5, another fails it)");
    cmd.add_option("--limit", limit, "at most N rollouts (0 = all)")->default_val(default_limit);
    cmd.add_flag("--newest", newest, "newest first (default: oldest first)");
  }
  storage::ScanFilter filter() const {
    storage::ScanFilter f;
    if (!task.empty()) f.task = task;
    f.min_version = min_version;
    f.max_version = max_version;
    f.reward_min = reward_min;
    f.reward_max = reward_max;
    f.source_disagree = source_disagree;
    f.limit = limit;
    f.newest_first = newest;
    return f;
  }
};

json summary_json(const RolloutSummary& s) {
  json sources = json::object();
  for (int i = 0; i < RolloutSummary::kNumSources; ++i) {
    if (s.sources[i].present) {
      sources[storage::source_name(i)] = {{"raw", s.sources[i].raw}, {"normalised", s.sources[i].normalised},
                                           {"ok", s.sources[i].ok}};
    }
  }
  return {{"id", s.id},
          {"rollout_id", s.rollout_id},
          {"prompt_id", s.prompt_id},
          {"group_index", s.group_index},
          {"task", s.task},
          {"policy_version", s.policy_version},
          {"response_tokens", s.response_tokens},
          {"reward", s.total},
          {"sources", sources},
          {"passed", s.passed()},
          {"finish", finish_name(s.finish)},
          {"value_bytes", s.value_bytes}};
}

std::vector<std::string> ls_header() {
  return {"id", "rollout", "task", "version", "prompt/idx", "tokens", "reward", "rule", "verifier", "pref", "finish"};
}
std::vector<std::string> ls_row(const RolloutSummary& s) {
  return {std::to_string(s.id),
          std::to_string(s.rollout_id),
          s.task,
          std::to_string(s.policy_version),
          fmt::format("{}/{}", s.prompt_id, s.group_index),
          std::to_string(s.response_tokens),
          fixed(s.total),
          source_cell(s.sources[RolloutSummary::kRule]),
          source_cell(s.sources[RolloutSummary::kVerifier]),
          source_cell(s.sources[RolloutSummary::kPreference]),
          finish_name(s.finish)};
}

// A streamed row (tail cannot size columns ahead): fixed widths fitting typical values.
std::string fixed_width_row(const std::vector<std::string>& cells) {
  static const int kWidths[] = {8, 8, 14, 7, 12, 7, 7, 5, 8, 5, 6};
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += fmt::format("{:<{}}", cells[i], i < std::size(kWidths) ? kWidths[i] : 0);
    if (i + 1 < cells.size()) line += "  ";
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

// Summary of a verified value (what ls/tail print), computed from the value itself.
RolloutSummary summarise(const storage::StoredRollout& r) {
  RolloutSummary s = RolloutSummary::from(*r.root, uint32_t(r.bytes.size()));
  s.id = r.id;
  return s;
}

// Every reward component of a rollout as stored: what show and export print.
// latency_ms is how long the source took to answer (0 for the rule verifier).
json components_json(const wire::ScoredRollout& sr) {
  json comps = json::array();
  if (!sr.rewards()->components()) return comps;
  for (const wire::RewardComponent* c : *sr.rewards()->components()) {
    comps.push_back({{"source", wire::EnumNameRewardSource(c->source())},
                     {"raw", c->raw()},
                     {"normalised", c->normalised()},
                     {"weight", c->weight()},
                     {"ok", c->ok()},
                     {"latency_ms", c->latency_ms()},
                     {"detail", c->detail() ? c->detail()->str() : ""}});
  }
  return comps;
}

// ---- stats -----------------------------------------------------------------

class StatsVerb final : public ReplayVerb {
 public:
  const char* name() const override { return "stats"; }
  const char* help() const override {
    return "Rollouts by task and by policy version, reward histograms per source, pass rate per task, disk size "
           "and retention (reads the summaries, not the values)";
  }
  const char* footer() const override {
    return "Pass rate counts a rollout as passed when its rule score is >= 0.5 (the mixed total when it has no rule\n"
           "score). \"sources disagree\": one source passes it and another fails it (see ls --source-disagree).\n"
           "Histograms bin each source's raw score. Fast on large stores: a million rollouts in a few seconds.\n\n"
           "Examples:\n"
           "  troupe replay stats runs/local/replay\n"
           "  troupe replay stats runs/local/replay --json | jq '.tasks'";
  }
  void add_options(CLI::App& cmd) override {
    cmd.add_option("--versions", max_versions_, "show at most the newest N policy versions in the table")
        ->default_val(20);
  }
  int run(std::ostream& out, std::ostream& err) override {
    auto store = open(err);
    if (!store) return 1;
    // Histogram of raw scores per source: 10 bins over [0, 1] plus below/above.
    constexpr int kBins = 12;
    struct TaskAgg {
      uint64_t n = 0, passed = 0, disagree = 0;
      double reward = 0;
    };
    std::map<std::string, TaskAgg> tasks;
    std::map<uint64_t, uint64_t> versions;
    std::array<std::array<uint64_t, kBins>, RolloutSummary::kNumSources> hist{};
    uint64_t n = 0, first = 0, last = 0;
    auto bin = [](float raw) { return raw < 0 ? 0 : raw > 1 ? kBins - 1 : 1 + std::min(9, int(raw * 10)); };
    auto st = store->scan_summaries(storage::ScanFilter{}, [&](const RolloutSummary& s) {
      if (n++ == 0) first = s.id;
      last = s.id;
      TaskAgg& t = tasks[s.task];
      ++t.n;
      t.passed += s.passed();
      t.disagree += s.sources_disagree();
      t.reward += s.total;
      ++versions[s.policy_version];
      for (int i = 0; i < RolloutSummary::kNumSources; ++i) {
        if (s.sources[i].present) ++hist[i][bin(s.sources[i].raw)];
      }
      return true;
    });
    if (!st) {
      err << "troupe replay stats: " << st.message() << "\n";
      return 1;
    }
    const storage::StoreCounters c = store->counters();
    const uint64_t disk = store->disk_bytes();
    auto cps = store->checkpoints();
    const char* bin_names[kBins] = {"<0",      "[0,.1)",  "[.1,.2)", "[.2,.3)", "[.3,.4)", "[.4,.5)",
                                    "[.5,.6)", "[.6,.7)", "[.7,.8)", "[.8,.9)", "[.9,1]",  ">1"};
    if (json_) {
      json j;
      j["path"] = db_;
      j["schema_version"] = storage::kStoreSchemaVersion;
      j["rollouts"] = n;
      j["first_id"] = first;
      j["last_id"] = last;
      j["value_bytes"] = c.value_bytes;
      j["disk_bytes"] = disk;
      j["deleted_by_retention"] = c.deleted;
      j["newest_version"] = c.newest_version;
      j["retention"] = store->recorded_retention();
      for (auto& [task, t] : tasks) {
        j["tasks"][task] = {{"rollouts", t.n},
                            {"pass_rate", double(t.passed) / double(t.n)},
                            {"mean_reward", t.reward / double(t.n)},
                            {"sources_disagree", t.disagree}};
      }
      for (auto& [v, count] : versions) j["versions"][std::to_string(v)] = count;
      for (int i = 0; i < RolloutSummary::kNumSources; ++i) {
        for (int b = 0; b < kBins; ++b) j["reward_histograms"][storage::source_name(i)][bin_names[b]] = hist[i][b];
      }
      if (cps) {
        for (auto& e : *cps) j["checkpoints"].push_back({{"version", e.version}, {"path", e.path}, {"eval", e.eval_json}});
      }
      out << j.dump(2) << "\n";
      return 0;
    }
    out << fmt::format("store       {} (schema {})\n", db_, storage::kStoreSchemaVersion);
    out << fmt::format("rollouts    {}", n);
    if (n) out << fmt::format(" (ids {}..{})", first, last);
    out << fmt::format(", {} deleted by retention\n", c.deleted);
    out << fmt::format("size        {} of values, {} on disk\n", human_bytes(c.value_bytes), human_bytes(disk));
    const std::string retention = store->recorded_retention();
    out << fmt::format("retention   {}\n", retention.empty() ? "(not recorded)" : retention);
    out << fmt::format("newest policy version {}\n\n", c.newest_version);

    Table by_task({"task", "rollouts", "pass rate", "mean reward", "sources disagree"});
    for (auto& [task, t] : tasks) {
      by_task.add({task, std::to_string(t.n), fixed(double(t.passed) / double(t.n)), fixed(t.reward / double(t.n)),
                   std::to_string(t.disagree)});
    }
    out << "by task (pass: rule score >= 0.5):\n";
    by_task.print(out, "  ");

    out << fmt::format("\nby policy version ({} versions{}):\n", versions.size(),
                       versions.size() > max_versions_ ? fmt::format(", newest {} shown", max_versions_) : "");
    Table by_version({"version", "rollouts"});
    size_t skip = versions.size() > max_versions_ ? versions.size() - max_versions_ : 0;
    for (auto& [v, count] : versions) {
      if (skip) {
        --skip;
        continue;
      }
      by_version.add({std::to_string(v), std::to_string(count)});
    }
    by_version.print(out, "  ");

    out << "\nreward histograms (raw score per source):\n";
    std::vector<std::string> header{"source"};
    header.insert(header.end(), bin_names, bin_names + kBins);
    Table h(header);
    for (int i = 0; i < RolloutSummary::kNumSources; ++i) {
      std::vector<std::string> row{storage::source_name(i)};
      for (int b = 0; b < kBins; ++b) row.push_back(std::to_string(hist[i][b]));
      h.add(row);
    }
    h.print(out, "  ");
    if (cps && !cps->empty()) {
      out << fmt::format("\ncheckpoints ({}):\n", cps->size());
      Table t({"version", "path", "eval"});
      for (auto& e : *cps) t.add({std::to_string(e.version), e.path, e.eval_json});
      t.print(out, "  ");
    }
    return 0;
  }

 private:
  size_t max_versions_ = 20;
};

// ---- ls ----------------------------------------------------------------------

class LsVerb final : public ReplayVerb {
 public:
  const char* name() const override { return "ls"; }
  const char* help() const override { return "One line per rollout, filtered (values are read and verified)"; }
  const char* footer() const override {
    return "Columns: id (the store's, for show), rollout id, task, policy version that sampled it, prompt id/index\n"
           "in its group, response tokens, mixed reward, each source's raw score (rule, verifier, preference; '-'\n"
           "absent, '!' the source failed and its fallback was used), why generation stopped.\n\n"
           "Examples:\n"
           "  troupe replay ls runs/local/replay --newest --limit 20\n"
           "  troupe replay ls runs/local/replay --task addition --min-version 40 --reward-max 0.5\n"
           "  troupe replay ls runs/mor/replay --source-disagree --json";
  }
  void add_options(CLI::App& cmd) override { filters_.add_to(cmd, 50); }
  int run(std::ostream& out, std::ostream& err) override {
    auto store = open(err);
    if (!store) return 1;
    Table t(ls_header());
    json rows = json::array();
    storage::ScanReport rep;
    auto st = store->scan(filters_.filter(), [&](const storage::StoredRollout& r) {
      const RolloutSummary s = summarise(r);
      if (json_) {
        rows.push_back(summary_json(s));
      } else {
        t.add(ls_row(s));
      }
      return true;
    }, &rep);
    if (!st) {
      err << "troupe replay ls: " << st.message() << "\n";
      return 1;
    }
    if (json_) {
      out << rows.dump() << "\n";
    } else {
      t.print(out);
    }
    return report_corrupt(rep, err);
  }

 private:
  FilterOptions filters_;
};

// ---- show --------------------------------------------------------------------

class ShowVerb final : public ReplayVerb {
 public:
  const char* name() const override { return "show"; }
  const char* help() const override {
    return "One rollout in full: prompt, response, tokens, every reward component, behaviour log-probs, policy "
           "version, staleness at training time";
  }
  const char* footer() const override {
    return "Reward components: raw score as the source gave it, after the task's normaliser, its weight in the\n"
           "mixture, whether the source answered (else its fallback was used) and how long it took (ms).\n"
           "Staleness at training time: the learner's policy version when it last took this rollout minus the\n"
           "version that sampled it. The behaviour log-probs are what importance correction starts from.\n\n"
           "Examples:\n"
           "  troupe replay show runs/local/replay 1234\n"
           "  troupe replay show runs/local/replay 1234 --json | jq '.rewards'";
  }
  void add_options(CLI::App& cmd) override { cmd.add_option("ID", id_, "rollout id (the first column of ls)")->required(); }
  int run(std::ostream& out, std::ostream& err) override {
    auto store = open(err);
    if (!store) return 1;
    auto r = store->get(id_);
    if (!r) {
      err << "troupe replay show: " << r.status().message() << "\n";
      return 1;
    }
    const wire::ScoredRollout& sr = *r->root;
    const wire::Rollout& ro = *sr.rollout();
    auto usage = store->usage(id_);
    const storage::Usage u = usage ? *usage : storage::Usage{};
    // Behaviour log-prob summary: what importance correction will work from.
    double sum = 0, lo = 0, hi = 0;
    size_t n = ro.behaviour_logprobs() ? ro.behaviour_logprobs()->size() : 0;
    for (size_t i = 0; i < n; ++i) {
      const double lp = ro.behaviour_logprobs()->Get(i);
      sum += lp;
      lo = i == 0 ? lp : std::min(lo, lp);
      hi = i == 0 ? lp : std::max(hi, lp);
    }
    const double mean = n ? sum / double(n) : 0;
    const json comps = components_json(sr);
    json staleness = u.uses ? json(int64_t(u.last_learner_version) - int64_t(ro.policy_version())) : json(nullptr);
    if (json_) {
      json j = {{"id", id_},
                {"rollout_id", ro.rollout_id()},
                {"prompt_id", ro.prompt_id()},
                {"group_index", ro.group_index()},
                {"task", ro.task()->str()},
                {"difficulty", ro.difficulty()},
                {"worker", ro.worker() ? ro.worker()->str() : ""},
                {"policy_version", ro.policy_version()},
                {"prompt", sr.prompt_text() ? sr.prompt_text()->str() : ""},
                {"response", ro.response_text() ? ro.response_text()->str() : ""},
                {"prompt_tokens", ro.prompt_tokens() ? ro.prompt_tokens()->size() : 0},
                {"response_tokens", ro.response_tokens() ? ro.response_tokens()->size() : 0},
                {"finish", wire::EnumNameFinishReason(ro.finish())},
                {"answer_found", sr.answer_found()},
                {"extracted_answer", sr.extracted_answer() ? sr.extracted_answer()->str() : ""},
                {"rewards", {{"total", sr.rewards()->total()}, {"components", comps}}},
                {"behaviour_logprob", {{"tokens", n}, {"sum", sum}, {"mean", mean}, {"min", lo}, {"max", hi}}},
                {"uses", u.uses},
                {"last_learner_version", u.uses ? json(u.last_learner_version) : json(nullptr)},
                {"staleness_at_training", staleness}};
      out << j.dump(2) << "\n";
      return 0;
    }
    out << fmt::format("rollout {}  (rollout_id {}, prompt {} #{}, task {}, difficulty {}, worker {})\n", id_,
                       ro.rollout_id(), ro.prompt_id(), ro.group_index(), ro.task()->str(), ro.difficulty(),
                       ro.worker() ? ro.worker()->str() : "-");
    out << fmt::format("policy version {}; ", ro.policy_version());
    if (u.uses) {
      out << fmt::format("trained on {} time(s), last by learner version {} (staleness {})\n", u.uses,
                         u.last_learner_version, int64_t(u.last_learner_version) - int64_t(ro.policy_version()));
    } else {
      out << "not yet trained on\n";
    }
    out << "\nprompt:\n" << (sr.prompt_text() ? sr.prompt_text()->str() : "") << "\n";
    out << fmt::format("\nresponse ({} tokens, finish {}):\n", ro.response_tokens() ? ro.response_tokens()->size() : 0,
                       wire::EnumNameFinishReason(ro.finish()));
    out << (ro.response_text() ? ro.response_text()->str() : "") << "\n";
    out << fmt::format("\nanswer: {} ({})\n", sr.extracted_answer() ? sr.extracted_answer()->str() : "",
                       sr.answer_found() ? "found" : "not found");
    out << "\nrewards:\n";
    Table t({"source", "raw", "normalised", "weight", "ok", "latency ms", "detail"});
    for (auto& c : comps) {
      t.add({c["source"].get<std::string>(), fixed(c["raw"].get<double>()), fixed(c["normalised"].get<double>()),
             fixed(c["weight"].get<double>()), c["ok"].get<bool>() ? "yes" : "no (fallback)",
             fixed(c["latency_ms"].get<double>(), 1), c["detail"].get<std::string>()});
    }
    t.add({"total", fixed(sr.rewards()->total()), "", "", "", "", ""});
    t.print(out, "  ");
    out << fmt::format("\nbehaviour log-prob over {} tokens: sum {:.2f}, mean {:.3f} (perplexity {:.2f}), min {:.2f}, "
                       "max {:.2f}\n",
                       n, sum, mean, std::exp(-mean), lo, hi);
    return 0;
  }

 private:
  uint64_t id_ = 0;
};

// ---- export ------------------------------------------------------------------

class ExportVerb final : public ReplayVerb {
 public:
  const char* name() const override { return "export"; }
  const char* help() const override {
    return "Rollouts as JSON lines (pandas.read_json(lines=True), datasets.load_dataset('json'))";
  }
  const char* json_help() const override { return "JSON lines (the output is JSON lines either way)"; }
  const char* footer() const override {
    return "One object per line: ids, task, versions, prompt, response, identity (the case's data), answer,\n"
           "reward and reward_components (source, raw, normalised, weight, ok, latency_ms, detail), finish,\n"
           "token count, times; --tokens adds prompt/response token ids and behaviour log-probs. The count\n"
           "goes to stderr, so stdout stays valid JSON lines.\n\n"
           "Examples:\n"
           "  troupe replay export runs/local/replay --task addition --out addition.jsonl\n"
           "  python3 -c \"import pandas; print(pandas.read_json('addition.jsonl', lines=True).reward.mean())\"\n"
           "  troupe replay export runs/local/replay --min-version 100 --tokens | gzip > late.jsonl.gz";
  }
  void add_options(CLI::App& cmd) override {
    cmd.add_option("--format", format_, "output format")->check(CLI::IsMember({"jsonl"}))->default_val("jsonl");
    cmd.add_option("--out", out_path_, "write to FILE instead of stdout");
    cmd.add_flag("--tokens", tokens_, "include token ids and behaviour log-probs");
    filters_.add_to(cmd, 0);
  }
  int run(std::ostream& out, std::ostream& err) override {
    auto store = open(err);
    if (!store) return 1;
    std::ofstream file;
    if (!out_path_.empty()) {
      file.open(out_path_);
      if (!file) {
        err << "troupe replay export: cannot write " << out_path_ << "\n";
        return 1;
      }
    }
    std::ostream& sink = out_path_.empty() ? out : file;
    storage::ScanReport rep;
    auto st = store->scan(filters_.filter(), [&](const storage::StoredRollout& r) {
      const wire::ScoredRollout& sr = *r.root;
      const wire::Rollout& ro = *sr.rollout();
      json j = {{"id", r.id},
                {"rollout_id", ro.rollout_id()},
                {"prompt_id", ro.prompt_id()},
                {"group_index", ro.group_index()},
                {"task", ro.task()->str()},
                {"difficulty", ro.difficulty()},
                {"policy_version", ro.policy_version()},
                {"worker", ro.worker() ? ro.worker()->str() : ""},
                {"prompt", sr.prompt_text() ? sr.prompt_text()->str() : ""},
                {"response", ro.response_text() ? ro.response_text()->str() : ""},
                {"identity", sr.identity_json() ? sr.identity_json()->str() : ""},
                {"answer_found", sr.answer_found()},
                {"extracted_answer", sr.extracted_answer() ? sr.extracted_answer()->str() : ""},
                {"reward", sr.rewards()->total()},
                {"reward_components", components_json(sr)},
                {"finish", wire::EnumNameFinishReason(ro.finish())},
                {"response_token_count", ro.response_tokens() ? ro.response_tokens()->size() : 0},
                {"created_unix_ms", ro.created_unix_ms()},
                {"scored_unix_ms", sr.scored_unix_ms()}};
      if (tokens_) {
        j["prompt_tokens"] = ro.prompt_tokens() ? std::vector<int>(ro.prompt_tokens()->begin(), ro.prompt_tokens()->end())
                                                : std::vector<int>{};
        j["response_tokens"] = ro.response_tokens()
                                   ? std::vector<int>(ro.response_tokens()->begin(), ro.response_tokens()->end())
                                   : std::vector<int>{};
        j["behaviour_logprobs"] =
            ro.behaviour_logprobs()
                ? std::vector<float>(ro.behaviour_logprobs()->begin(), ro.behaviour_logprobs()->end())
                : std::vector<float>{};
      }
      sink << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      return bool(sink);
    }, &rep);
    if (!st) {
      err << "troupe replay export: " << st.message() << "\n";
      return 1;
    }
    if (!sink) {
      err << "troupe replay export: write failed" << (out_path_.empty() ? "" : " to " + out_path_) << "\n";
      return 1;
    }
    err << "exported " << rep.matched << " rollouts" << (out_path_.empty() ? "" : " to " + out_path_) << "\n";
    return report_corrupt(rep, err);
  }

 private:
  std::string format_ = "jsonl";
  std::string out_path_;
  bool tokens_ = false;
  FilterOptions filters_;
};

// ---- tail --------------------------------------------------------------------

class TailVerb final : public ReplayVerb {
 public:
  const char* name() const override { return "tail"; }
  const char* help() const override {
    return "Follow new rollouts as a writer appends them (a secondary instance: the writer is never blocked)";
  }
  const char* json_help() const override { return "one JSON object per line instead of table rows"; }
  const char* footer() const override {
    return "Prints the newest rollouts already stored, then each new one as the writer commits it (columns as\n"
           "in ls). Runs until --count or --for is reached, or Ctrl-C.\n\n"
           "Examples:\n"
           "  troupe replay tail runs/local/replay\n"
           "  troupe replay tail runs/local/replay --last 0 --count 100 --json";
  }
  void add_options(CLI::App& cmd) override {
    cmd.add_option("--count", count_, "stop after N rollouts (0 = never)")->default_val(0);
    cmd.add_option("--for", seconds_, "stop after S seconds (0 = never)")->default_val(0);
    cmd.add_option("--poll-ms", poll_ms_, "how often to catch up with the writer")->default_val(200)
        ->check(CLI::Range(1, 60000));
    cmd.add_option("--last", last_, "start with the N newest rollouts already stored")->default_val(10);
    cmd.add_option("--after", after_, "start after rollout ID instead (overrides --last)");
  }
  int run(std::ostream& out, std::ostream& err) override {
    auto store = open(err);
    if (!store) return 1;
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds_);
    uint64_t after = store->counters().next_id - 1;
    after = after_ ? *after_ : after > last_ ? after - last_ : 0;
    uint64_t shown = 0;
    bool header = false;
    for (;;) {
      storage::ScanReport rep;
      storage::ScanFilter f;
      f.after_id = after;
      auto st = store->scan(f, [&](const storage::StoredRollout& r) {
        after = r.id;
        const RolloutSummary s = summarise(r);
        if (json_) {
          out << summary_json(s).dump() << "\n";
        } else {
          if (!header) {
            out << fixed_width_row(ls_header());
            header = true;
          }
          out << fixed_width_row(ls_row(s));
        }
        ++shown;
        return count_ == 0 || shown < count_;
      }, &rep);
      out.flush();
      if (!st) {
        err << "troupe replay tail: " << st.message() << "\n";
        return 1;
      }
      for (auto& c : rep.corrupt_examples) {
        err << "corrupt: id " << c.id << " key " << c.key_hex << ": " << c.what << "\n";
        after = std::max(after, c.id);
      }
      if (count_ && shown >= count_) return 0;
      if (seconds_ > 0 && std::chrono::steady_clock::now() >= until) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms_));
      if (auto c = store->catch_up(); !c) {
        err << "troupe replay tail: " << c.message() << "\n";
        return 1;
      }
    }
  }

 private:
  uint64_t count_ = 0;
  double seconds_ = 0;
  int poll_ms_ = 200;
  uint64_t last_ = 10;
  std::optional<uint64_t> after_;
};

// ---- verify ------------------------------------------------------------------

class VerifyVerb final : public ReplayVerb {
 public:
  const char* name() const override { return "verify"; }
  const char* help() const override {
    return "Read and verify every stored rollout; list damaged ones by key; exit 1 if any";
  }
  const char* footer() const override {
    return "Each value is read (RocksDB checks its block checksum), decompressed and checked by the FlatBuffers\n"
           "verifier, and compared with its summary. Damaged rollouts are named by id and key (hex); other verbs\n"
           "skip them the same way and say so on stderr.\n\n"
           "Example:\n"
           "  troupe replay verify runs/local/replay || echo damaged";
  }
  void add_options(CLI::App&) override {}
  int run(std::ostream& out, std::ostream& err) override {
    auto store = open(err);
    if (!store) return 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto rep = store->verify();
    if (!rep) {
      err << "troupe replay verify: " << rep.status().message() << "\n";
      return 1;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t counted = store->counters().count;
    if (json_) {
      json bad = json::array();
      for (auto& c : rep->corrupt_examples) bad.push_back({{"id", c.id}, {"key", c.key_hex}, {"what", c.what}});
      out << json{{"path", db_}, {"scanned", rep->scanned}, {"verified", rep->matched}, {"corrupt", rep->corrupt},
                  {"counted", counted}, {"corrupt_examples", bad}, {"seconds", secs}}
                 .dump(2)
          << "\n";
    } else {
      out << fmt::format("{}: {} rollouts scanned, {} verified, {} corrupt ({:.2f} s)\n", db_, rep->scanned,
                         rep->matched, rep->corrupt, secs);
      if (rep->scanned != counted) {
        out << fmt::format("note: the store's counter says {} rollouts\n", counted);
      }
      for (auto& c : rep->corrupt_examples) out << "  corrupt: id " << c.id << " key " << c.key_hex << ": " << c.what << "\n";
    }
    if (rep->corrupt > 0) {
      err << "troupe replay verify: " << rep->corrupt << " corrupt rollouts in " << db_ << "\n";
      return 1;
    }
    return 0;
  }
};

}  // namespace

void add_replay_command(CLI::App& root, int& exit_code, std::ostream& out, std::ostream& err) {
  auto* replay = root.add_subcommand("replay", "Inspect a replay store (live or not): stats, ls, show, export, tail, "
                                               "verify");
  replay->require_subcommand(1);
  const std::shared_ptr<ReplayVerb> verbs[] = {std::make_shared<StatsVerb>(),  std::make_shared<LsVerb>(),
                                               std::make_shared<ShowVerb>(),   std::make_shared<ExportVerb>(),
                                               std::make_shared<TailVerb>(),   std::make_shared<VerifyVerb>()};
  for (const auto& v : verbs) ReplayVerb::mount(v, *replay, exit_code, out, err);
  replay->footer(
      "Every verb opens the store read-only as a RocksDB secondary instance, so it is safe while `troupe run`\n"
      "writes to it, and never slows the writer. Human-readable tables by default; --json for machines.\n"
      "Exit status: 0 ok; 1 the store could not be read (or verify found damage); 2 bad command line.\n"
      "`troupe replay VERB --help` explains each verb's output, with examples.");
}

namespace {
void setup(CLI::App& root, int& exit_code) { add_replay_command(root, exit_code, std::cout, std::cerr); }
TROUPE_REGISTER_COMMAND("replay", 50, setup);
}  // namespace

}  // namespace troupe::cli
