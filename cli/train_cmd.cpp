// `troupe train verifier|preference`: trains the reward models of
// Mixture-of-Rewards on the transformer trunk and reports held-out figures.
//
//   verifier    three-way verifier (correct / incorrect / invalid) on data built
//               from the env tasks (rewards/verifier_data.hpp). It trains on the
//               task families named by --train-families and reports accuracy
//               and per-class precision/recall/F1 on held-out cases of those
//               families and, per family and per task, on families it never saw.
//               Its defaults are the recipe of the README's figures: 3 layers,
//               batch 32 at lr 3e-3, the pooled readout, generic answers, half
//               the rows bare, the auxiliary next-byte loss on right answers, and
//               the alignment channel (rewards::verifier_features: how each
//               response byte lines up with the reference, as a model input).
//   preference  Bradley-Terry reward model on JSON lines {prompt, chosen,
//               rejected} (--data), or on pairs generated from the open-ended
//               "describe" task; reports held-out pairwise accuracy.
// Both write a checkpoint (config.json + model.safetensors) that `troupe serve`
// serves, and a JSON report beside it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "cli/progress_line.hpp"
#include "envs/registry.hpp"
#include "kernels/adamw.hpp"
#include "kernels/matmul.hpp"
#include "model/checkpoint.hpp"
#include "rewards/preference_data.hpp"
#include "rewards/reward_model.hpp"
#include "rewards/verifier_data.hpp"

namespace troupe::cli {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct CommonArgs {
  std::string out;
  double max_minutes = 10;  // Default: 10
  long steps = 0;           // Default: 0 = until --max-minutes
  int batch = 64;           // Default: 64 examples (verifier) or pairs (preference) per step
  float lr = 1e-3f;         // Default: 1e-3
  int warmup = 50;          // Default: 50 steps
  int d_model = 64;         // Default: 64 (a small trunk trains in minutes on two cores)
  int layers = 2;           // Default: 2
  int heads = 4;            // Default: 4
  int context = 128;        // Default: 128 (the verifier's input is at most ~125 bytes)
  uint64_t seed = 1;
  int threads = 1;          // Default: 1 (the machine is shared)
  std::string init;         // Default: none; a checkpoint of this kind to continue training
  std::string readout;           // Default: default_readout for a new model; with --init, the checkpoint's
  std::string default_readout = "last";
};

void add_common(CLI::App* cmd, CommonArgs& a) {
  cmd->add_option("--out", a.out, "checkpoint directory (config.json, model.safetensors, report JSON)")->required();
  cmd->add_option("--max-minutes", a.max_minutes, fmt::format("wall-clock budget in minutes (default {})", a.max_minutes));
  cmd->add_option("--steps", a.steps, "stop after this many steps (default 0: until --max-minutes)");
  cmd->add_option("--batch", a.batch, fmt::format("examples (verifier) or pairs (preference) per step (default {})", a.batch));
  cmd->add_option("--lr", a.lr, fmt::format("peak learning rate (default {:g}, cosine decay to 10%)", a.lr));
  cmd->add_option("--warmup", a.warmup, "linear warm-up steps (default 50)");
  cmd->add_option("--d-model", a.d_model, "trunk width (default 64)");
  cmd->add_option("--layers", a.layers, fmt::format("trunk depth (default {})", a.layers));
  cmd->add_option("--heads", a.heads, "attention heads (default 4)");
  cmd->add_option("--context", a.context, "context in bytes (default 128)");
  cmd->add_option("--seed", a.seed, "seed for initialisation and data (default 1)");
  cmd->add_option("--threads", a.threads, "CPU threads (default 1)");
  cmd->add_option("--init", a.init, "continue from this checkpoint (its shape wins over the size options)");
  cmd->add_option("--readout", a.readout,
                  "what the score head reads: last (the last token's state) or pool (that and an attention-pooled "
                  "mean over all tokens); default: pool for the verifier, last for the preference model, or with "
                  "--init the checkpoint's own (a different one carries the trunk and head over)")
      ->check(CLI::IsMember({"last", "pool"}));
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<model::Transformer> make_model(const CommonArgs& a, int head_outputs) {
  if (!a.init.empty()) {
    auto m = model::load_checkpoint(a.init);
    if (m && (!m->config().scalar_head || m->config().head_outputs != head_outputs)) {
      return Status::invalid_argument(a.init + ": not a checkpoint of this kind of reward model");
    }
    if (m && !a.readout.empty() && a.readout != m->config().score_readout) {
      std::fprintf(stderr, "train: %s reads \"%s\"; continuing with the readout \"%s\" (trunk and head carried over)\n",
                   a.init.c_str(), m->config().score_readout.c_str(), a.readout.c_str());
      return model::with_score_readout(*m, a.readout);
    }
    return m;
  }
  model::ModelConfig mc;
  mc.d_model = a.d_model;
  mc.n_layers = a.layers;
  mc.n_heads = a.heads;
  mc.context = a.context;
  mc.scalar_head = true;
  mc.head_outputs = head_outputs;
  mc.score_readout = a.readout.empty() ? a.default_readout : a.readout;
  return model::Transformer::create(mc, a.seed);
}

// Step budget for the cosine schedule: --steps, or a guess from the time budget
// refined as steps are timed (the schedule's total is only used for its decay).
struct Budget {
  const CommonArgs& a;
  Clock::time_point t0 = Clock::now();
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0).count(); }
  bool more(long step) const { return elapsed() < a.max_minutes * 60 && (a.steps == 0 || step < a.steps); }
  int total(long step) const {
    if (a.steps > 0) return int(a.steps);
    const double per_step = step > 0 ? elapsed() / double(step) : 0.1;  // 0.1 s: a first guess, replaced after step 1
    return std::max(int(step) + 1, int(a.max_minutes * 60 / per_step));
  }
};

Json class_json(const rewards::VerifierReport& r) {
  Json classes = Json::object();
  for (int k = 0; k < 3; ++k) {
    const auto& c = r.classes[size_t(k)];
    classes[rewards::label_name(rewards::VerifierLabel(k))] = {
        {"precision", c.precision()}, {"recall", c.recall()}, {"f1", c.f1()}, {"support", c.support}};
  }
  return {{"n", r.n}, {"accuracy", r.accuracy()}, {"equivalence_accuracy", r.equivalence_accuracy()},
          {"equivalence_n", r.equivalence_n}, {"classes", classes}, {"confusion", r.confusion}};
}

std::string class_line(const rewards::VerifierReport& r) {
  return fmt::format("acc {:.3f}  equiv-acc {:.3f} (n={})  F1 correct {:.3f} incorrect {:.3f} invalid {:.3f}",
                     r.accuracy(), r.equivalence_accuracy(), r.equivalence_n, r.classes[0].f1(), r.classes[1].f1(),
                     r.classes[2].f1());
}

// ---- verifier -----------------------------------------------------------------

// One epoch of batches of similar length: a step costs as much as its longest
// row, and the verifier's inputs run from a few bytes to ~120, so batching by
// length nearly halves the time per example. The examples are shuffled, sorted
// by length within windows of 16 batches, cut into batches, and the batches
// shuffled, so each batch is still a random draw of examples of its length.
std::vector<std::vector<size_t>> length_batches(const std::vector<std::string>& texts, size_t batch,
                                                std::mt19937_64& rng) {
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  const size_t window = batch * 16;
  std::vector<std::vector<size_t>> out;
  for (size_t w = 0; w < order.size(); w += window) {
    const auto first = order.begin() + long(w), last = order.begin() + long(std::min(order.size(), w + window));
    std::stable_sort(first, last, [&](size_t x, size_t y) { return texts[x].size() < texts[y].size(); });
    for (auto it = first; it < last; it += long(std::min(batch, size_t(last - it)))) {
      out.emplace_back(it, it + long(std::min(batch, size_t(last - it))));
    }
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

struct VerifierArgs {
  CommonArgs common;
  std::string train_families = "arithmetic,sequence";
  std::string heldout_families;  // Default: every other family with usable answers
  int cases = 400;               // Default: 400 training cases per task
  int eval_cases = 100;          // Default: 100 held-out cases per task
  int generic_cases = 3000;      // Default: 3000 generic-answer cases added to the training data
  double bare_fraction = 0.5;    // Default: 0.5; share of training rows shown without question or dress
  float lm_weight = 1;           // Default: 1; weight of the auxiliary next-byte loss on right responses
  bool match_features = true;    // Default: on; the alignment channel (rewards::verifier_features)
  std::string dump;              // Default: none; write the examples as JSON lines here and stop
};

int run_verifier(const VerifierArgs& va) {
  const CommonArgs& a = va.common;
  kernels::cpu::set_cpu_threads(std::max(1, a.threads));
  const auto train_fams = split_csv(va.train_families);
  const auto held_fams_arg = split_csv(va.heldout_families);
  std::map<std::string, std::string> family_of;
  std::vector<std::string> train_tasks, held_tasks;
  for (const auto& name : envs::task_names()) {
    auto t = envs::find_task(name);
    const std::string fam = (*t)->info().category;
    family_of[name] = fam;
    if (fam == "open_ended") continue;  // no reference answer to compare with
    const bool train = std::count(train_fams.begin(), train_fams.end(), fam) > 0;
    const bool held = held_fams_arg.empty() ? !train : std::count(held_fams_arg.begin(), held_fams_arg.end(), fam) > 0;
    if (train) train_tasks.push_back(name);
    else if (held) held_tasks.push_back(name);
  }
  if (train_tasks.empty()) {
    std::cerr << "train verifier: no task in families \"" << va.train_families << "\"\n";
    return 1;
  }
  rewards::VerifierDataOptions o;
  o.cases_per_task = va.cases;
  o.seed = a.seed;
  o.generic_cases = va.generic_cases;
  auto train = rewards::build_verifier_examples(train_tasks, o);
  o.generic_cases = 0;  // held-out figures are on task cases only
  rewards::VerifierDataOptions eo = o;
  eo.cases_per_task = va.eval_cases;
  eo.seed = a.seed + 1000003;  // other seeds: held-out cases of the training families
  auto val = rewards::build_verifier_examples(train_tasks, eo);
  auto held = rewards::build_verifier_examples(held_tasks, eo);
  if (!train || !val || !held) {
    std::cerr << "train verifier: building data failed\n";
    return 1;
  }
  if (!va.dump.empty()) {
    // The data as the model sees it, for reading: one JSON object per example.
    std::ofstream f(va.dump);
    auto write = [&](const std::vector<rewards::VerifierExample>& ex, const char* split) {
      for (const auto& e : ex) {
        f << Json{{"split", split}, {"task", e.task}, {"family", family_of[e.task]},
                  {"label", rewards::label_name(e.label)}, {"form", e.form}, {"reference", e.reference},
                  {"candidate", e.candidate}, {"response", e.response},
                  {"text", rewards::verifier_text(e.question, e.reference, e.response)}}
                 .dump(-1, ' ', false, Json::error_handler_t::replace)
          << "\n";
      }
    };
    write(*train, "train");
    write(*val, "in_family_heldout");
    write(*held, "other_families");
    if (!f) {
      std::cerr << "train verifier: cannot write " << va.dump << "\n";
      return 1;
    }
    std::fprintf(stderr, "train verifier: wrote %zu examples to %s\n", train->size() + val->size() + held->size(),
                 va.dump.c_str());
    return 0;
  }
  auto m = make_model(a, rewards::kVerifierClasses);
  if (m && va.match_features && m->config().feature_vocab == 0) {
    // A new model, or a checkpoint from before the channel: its embedding starts at zero, so a
    // continued model scores as before until training puts the channel to use.
    if (!a.init.empty()) std::fprintf(stderr, "train verifier: adding the alignment channel to %s\n", a.init.c_str());
    m = model::with_feature_vocab(*m, rewards::kVerifierFeatureVocab);
  }
  if (!m) {
    std::cerr << m.status().message() << "\n";
    return 1;
  }
  std::fprintf(stderr, "train verifier: %ld parameters; %zu training examples from %zu task(s) [%s]; held out: %zu "
               "examples from %zu task(s) of other families\n",
               m->config().num_parameters(), train->size(), train_tasks.size(), va.train_families.c_str(),
               held->size(), held_tasks.size());
  model::AdamW opt(*m, model::AdamWConfig{});
  // new_tensors_ok: the alignment channel added above starts with zero moments, the rest keep theirs.
  if (!a.init.empty() && !model::load_optimizer_state(a.init, *m, &opt, true).is_ok()) {
    std::fprintf(stderr, "train verifier: no optimizer state in %s; fresh moments\n", a.init.c_str());
  }
  Budget budget{a};
  std::mt19937_64 rng(a.seed + uint64_t(opt.steps()));  // a continued run sees the data in another order
  std::vector<std::string> texts;
  for (const auto& e : *train) texts.push_back(rewards::verifier_text(e.question, e.reference, e.response));
  // Curriculum: a share of the rows (drawn again each epoch) is the same example stripped to
  // "Q:\nR:<reference>\nC:<answer>", without question or dress around the answer: short, and holding
  // nothing but the comparison that has to be learnt; the rest are the full inputs the model will judge.
  std::vector<std::string> bare;
  for (const auto& e : *train) {
    bare.push_back(rewards::verifier_text("", e.reference, e.candidate.empty() ? e.response : e.candidate));
  }
  std::vector<std::string> source;
  auto new_epoch = [&] {
    std::bernoulli_distribution coin(std::clamp(va.bare_fraction, 0.0, 1.0));
    source.clear();
    for (size_t k = 0; k < texts.size(); ++k) source.push_back(coin(rng) ? bare[k] : texts[k]);
    return length_batches(source, size_t(std::max(1, a.batch)), rng);
  };
  std::vector<std::vector<size_t>> batches = new_epoch();
  size_t cursor = 0;
  long step = 0;
  double loss_ema = 0, last_print = -1;
  ProgressLine progress(stderr);
  while (budget.more(step)) {
    if (cursor == batches.size()) {
      batches = new_epoch();
      cursor = 0;
    }
    std::vector<std::string> bt;
    std::vector<rewards::VerifierLabel> bl;
    for (size_t k : batches[cursor++]) {
      bt.push_back(source[k]);
      bl.push_back((*train)[k].label);
    }
    kernels::LrSchedule sched{.base_lr = a.lr, .warmup_steps = a.warmup, .total_steps = budget.total(step),
                              .kind = kernels::LrSchedule::Kind::kCosine};
    auto loss = rewards::verifier_train_step(*m, opt, sched.at(int(step) + 1), bt, bl, va.lm_weight);
    if (!loss) {
      std::cerr << loss.status().message() << "\n";
      return 1;
    }
    ++step;
    loss_ema = step == 1 ? *loss : 0.98 * loss_ema + 0.02 * *loss;  // smooths per-batch noise
    if (budget.elapsed() - last_print >= 2.0) {
      last_print = budget.elapsed();
      progress.update(fmt::format("step {:6}  loss {:.4f}  epoch {:.2f}  elapsed {:.0f}s", step, loss_ema,
                                  double(step) * a.batch / double(texts.size()), budget.elapsed()));
    }
  }
  progress.end();
  auto status = model::save_checkpoint(a.out, *m, &opt);
  if (!status) {
    std::cerr << status.message() << "\n";
    return 1;
  }
  auto rv = rewards::evaluate_verifier(*m, *val);
  auto predicted = rewards::predict_verifier(*m, *held);  // once; the reports below group it
  if (!rv || !predicted) {
    std::cerr << "evaluation failed\n";
    return 1;
  }
  std::map<std::string, rewards::VerifierReport> by_family, by_task, by_form;
  rewards::VerifierReport rh;
  for (size_t i = 0; i < held->size(); ++i) {
    const auto& e = (*held)[i];
    const auto p = (*predicted)[i];
    rh.add(e.label, p);
    by_family[family_of[e.task]].add(e.label, p);
    by_task[e.task].add(e.label, p);
    by_form[std::string(rewards::label_name(e.label)) + "/" + e.form].add(e.label, p);
  }
  Json report{{"steps", step}, {"seconds", budget.elapsed()}, {"final_loss", loss_ema},
              {"parameters", m->config().num_parameters()}, {"train_families", train_fams},
              {"train_tasks", train_tasks}, {"train_examples", train->size()},
              {"generic_cases", va.generic_cases}, {"in_family_heldout", class_json(*rv)},
              {"other_families", class_json(rh)}};
  std::printf("in-family held-out cases:   %s\n", class_line(*rv).c_str());
  std::printf("families never trained on:  %s\n", class_line(rh).c_str());
  // Per family, per task and per form of the held-out families.
  Json fams = Json::object(), tasks = Json::object(), forms = Json::object();
  for (const auto& [fam, r] : by_family) {
    fams[fam] = class_json(r);
    std::printf("  family %-12s %s\n", fam.c_str(), class_line(r).c_str());
  }
  for (const auto& [task, r] : by_task) {
    tasks[task] = class_json(r);
    std::printf("    %-46s equiv-acc %.3f  acc %.3f\n", task.c_str(), r.equivalence_accuracy(), r.accuracy());
  }
  for (const auto& [form, r] : by_form) {
    forms[form] = {{"n", r.n}, {"accuracy", r.accuracy()}};
    std::printf("    form %-30s acc %.3f (n=%ld)\n", form.c_str(), r.accuracy(), long(r.n));
  }
  report["by_form"] = forms;
  report["by_family"] = fams;
  report["by_task"] = tasks;
  std::ofstream(a.out + "/verifier_report.json") << report.dump(2) << "\n";
  std::printf("verifier: %ld steps in %.0f s; checkpoint and verifier_report.json in %s\n", step, budget.elapsed(),
              a.out.c_str());
  return 0;
}

// ---- preference ---------------------------------------------------------------

struct PreferenceArgs {
  CommonArgs common;
  std::string data;            // JSON lines; empty = generate
  int pairs = 3000;            // Default: 3000 generated pairs
  double heldout = 0.2;        // Default: the last 20% of the pairs are held out
  bool write_only = false;
};

int run_preference(const PreferenceArgs& pa) {
  const CommonArgs& a = pa.common;
  kernels::cpu::set_cpu_threads(std::max(1, a.threads));
  std::vector<rewards::PreferencePair> pairs;
  if (pa.data.empty() || pa.write_only) {
    pairs = rewards::generate_preference_pairs(pa.pairs, a.seed);
    std::filesystem::create_directories(a.out);
    const std::string path = pa.data.empty() ? a.out + "/preference_pairs.jsonl" : pa.data;
    auto s = rewards::write_preference_jsonl(path, pairs);
    if (!s) {
      std::cerr << s.message() << "\n";
      return 1;
    }
    std::fprintf(stderr, "train preference: wrote %zu generated pairs to %s\n", pairs.size(), path.c_str());
    if (pa.write_only) return 0;
  } else {
    auto r = rewards::read_preference_jsonl(pa.data);
    if (!r) {
      std::cerr << r.status().message() << "\n";
      return 1;
    }
    pairs = std::move(*r);
  }
  const size_t n_held = size_t(double(pairs.size()) * std::clamp(pa.heldout, 0.0, 0.9));
  if (pairs.size() < 2 || n_held == 0 || n_held >= pairs.size()) {
    std::cerr << "train preference: need enough pairs for a held-out split (have " << pairs.size() << ")\n";
    return 1;
  }
  const size_t n_train = pairs.size() - n_held;
  auto m = make_model(a, 1);
  if (!m) {
    std::cerr << m.status().message() << "\n";
    return 1;
  }
  const int ctx = m->config().context;
  std::vector<std::vector<int>> chosen, rejected;
  for (const auto& p : pairs) {
    chosen.push_back(rewards::encode_preference(p.prompt, p.chosen, ctx));
    rejected.push_back(rewards::encode_preference(p.prompt, p.rejected, ctx));
  }
  std::fprintf(stderr, "train preference: %ld parameters; %zu training pairs, %zu held out\n",
               m->config().num_parameters(), n_train, n_held);
  auto pairwise_accuracy = [&](size_t from, size_t to) -> Result<double> {
    std::vector<std::vector<int>> c(chosen.begin() + long(from), chosen.begin() + long(to));
    std::vector<std::vector<int>> r(rejected.begin() + long(from), rejected.begin() + long(to));
    auto sc = rewards::score_sequences(*m, c), sr = rewards::score_sequences(*m, r);
    if (!sc) return sc.status();
    if (!sr) return sr.status();
    size_t right = 0;
    for (size_t i = 0; i < sc->size(); ++i) right += (*sc)[i] > (*sr)[i];
    return double(right) / double(sc->size());
  };
  auto before = pairwise_accuracy(n_train, pairs.size());
  model::AdamW opt(*m, model::AdamWConfig{});
  Budget budget{a};
  std::mt19937_64 rng(a.seed);
  long step = 0;
  double loss_ema = 0, last_print = -1;
  ProgressLine progress(stderr);
  while (budget.more(step)) {
    std::vector<std::vector<int>> bc, br;
    for (int i = 0; i < a.batch; ++i) {
      const size_t k = std::uniform_int_distribution<size_t>(0, n_train - 1)(rng);
      bc.push_back(chosen[k]);
      br.push_back(rejected[k]);
    }
    kernels::LrSchedule sched{.base_lr = a.lr, .warmup_steps = a.warmup, .total_steps = budget.total(step),
                              .kind = kernels::LrSchedule::Kind::kCosine};
    auto loss = rewards::preference_train_step(*m, opt, sched.at(int(step) + 1), bc, br);
    if (!loss) {
      std::cerr << loss.status().message() << "\n";
      return 1;
    }
    ++step;
    loss_ema = step == 1 ? *loss : 0.98 * loss_ema + 0.02 * *loss;
    if (budget.elapsed() - last_print >= 2.0) {
      last_print = budget.elapsed();
      progress.update(fmt::format("step {:6}  loss {:.4f}  elapsed {:.0f}s", step, loss_ema, budget.elapsed()));
    }
  }
  progress.end();
  auto status = model::save_checkpoint(a.out, *m, &opt);
  if (!status) {
    std::cerr << status.message() << "\n";
    return 1;
  }
  auto train_acc = pairwise_accuracy(0, std::min(n_train, n_held * 4));
  auto held_acc = pairwise_accuracy(n_train, pairs.size());
  if (!held_acc || !train_acc || !before) {
    std::cerr << "evaluation failed\n";
    return 1;
  }
  Json report{{"steps", step}, {"seconds", budget.elapsed()}, {"final_loss", loss_ema},
              {"parameters", m->config().num_parameters()}, {"train_pairs", n_train}, {"heldout_pairs", n_held},
              {"heldout_pairwise_accuracy", *held_acc}, {"heldout_pairwise_accuracy_at_init", *before},
              {"train_pairwise_accuracy", *train_acc}};
  std::ofstream(a.out + "/preference_report.json") << report.dump(2) << "\n";
  std::printf("held-out pairwise accuracy %.3f (%zu pairs; %.3f before training), training pairs %.3f\n", *held_acc,
              n_held, *before, *train_acc);
  std::printf("preference: %ld steps in %.0f s; checkpoint and preference_report.json in %s\n", step,
              budget.elapsed(), a.out.c_str());
  return 0;
}

void setup(CLI::App& root, int& exit_code) {
  auto* train = root.add_subcommand("train", "Train reward models: the verifier and the preference model");
  train->require_subcommand(1);
  auto va = std::make_shared<VerifierArgs>();
  // The verifier's defaults are the recipe measured best (README, Mixture-of-Rewards): a deeper trunk,
  // small batches at a higher rate (more steps per minute on a shared CPU), the pooled readout.
  va->common.layers = 3;
  va->common.lr = 3e-3f;
  va->common.batch = 32;
  va->common.default_readout = "pool";
  auto* v = train->add_subcommand("verifier",
                                  "Three-way verifier (correct/incorrect/invalid) on data built from the env tasks; "
                                  "reports accuracy and per-class F1 on task families it did not train on");
  add_common(v, va->common);
  v->add_option("--train-families", va->train_families,
                "comma-separated task families (categories) to train on (default arithmetic,sequence)");
  v->add_option("--heldout-families", va->heldout_families,
                "families to report on (default: every other family with reference answers)");
  v->add_option("--cases", va->cases, "training cases generated per task (default 400; ~5 examples each)");
  v->add_option("--eval-cases", va->eval_cases, "held-out cases per task (default 100)");
  v->add_option("--generic-cases", va->generic_cases,
                "cases of generic answers (random numbers, lists, words, symbol strings; no task) added to the "
                "training data (default 3000)");
  v->add_option("--bare-fraction", va->bare_fraction,
                "curriculum: share of training rows shown as the answer alone, without question or dress "
                "(default 0.5)");
  v->add_option("--lm-weight", va->lm_weight,
                "weight of an auxiliary loss: predict each byte of the responses labelled correct (their answer "
                "copies the reference before it; default 1, 0 = off)");
  v->add_option("--match-features", va->match_features,
                "feed the model, beside each response byte, how it lines up with the reference (runs shared "
                "with it, a whole copy ending there); added to a checkpoint without it (default true)");
  v->add_option("--dump", va->dump,
                "write the training and held-out examples as JSON lines to this file and stop (no training)");
  v->callback([va, &exit_code] { exit_code = run_verifier(*va); });
  auto pa = std::make_shared<PreferenceArgs>();
  auto* p = train->add_subcommand("preference",
                                  "Bradley-Terry preference model on JSON lines {prompt, chosen, rejected}; reports "
                                  "held-out pairwise accuracy");
  add_common(p, pa->common);
  p->add_option("--data", pa->data,
                "JSON lines of {prompt, chosen, rejected} (default: generate pairs from the open-ended describe task)");
  p->add_option("--pairs", pa->pairs, "pairs to generate when --data is not given (default 3000)");
  p->add_option("--heldout", pa->heldout, "fraction of pairs held out, taken from the end (default 0.2)");
  p->add_flag("--write-only", pa->write_only,
              "only generate pairs and write them (to --data, or OUT/preference_pairs.jsonl), no training");
  p->callback([pa, &exit_code] { exit_code = run_preference(*pa); });
}

TROUPE_REGISTER_COMMAND("train", 45, setup);

}  // namespace
}  // namespace troupe::cli
