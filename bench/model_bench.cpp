// Training and sampling speed of the policy model on this machine's CPU (and
// GPU, when one is visible).
//
// Training: model (a) d=128 L=4 H=4 and (b) d=256 L=6 H=8 at context 128
// (--wide adds (c) d=512 L=8 H=8), batch 32x128, forward + backward + AdamW:
// tokens/s and GFLOP/s (FLOPs/token = 6N + 12·L·d·T, as ANCHORS.md counts
// them) with 1 and with 2 threads, each beside OpenBLAS sgemm at 1024³ with the
// same thread count, measured in alternation with the training in the same run
// (rounds); the ratio is the model-FLOPs utilisation (MFU). The best round of
// each gives the MFU column; "med" is the median of the per-round ratios (on a
// busy machine both drift with the load; the ratio less). PyTorch's figures
// (ANCHORS.md, 2 threads) stand beside the 2-thread rows.
// Sampling (--threads, default 2): decoding tokens/s with and without the KV
// cache at batch 1 and 64, every row to full length, and the target,
// cached vs uncached at 256 new tokens.
// With a GPU visible: cuBLAS sgemm on device memory, and the same training and
// cached sampling with the model on the device (Transformer::use_device).
// Prints the load average before and after: figures from a loaded machine are
// lower bounds.
//
//   build/bench/model_bench [--quick] [--train-only | --sample-only] [--wide] [--threads N]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda_runtime.hpp"
#include "kernels/matmul.hpp"
#include "model/optimizer.hpp"
#include "model/tokenizer.hpp"
#include "model/transformer.hpp"

namespace {

using namespace troupe;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Best of `reps` timed 1024³ sgemms, in GFLOP/s.
double sgemm_gflops(int threads, int reps) {
  const int n = 1024;
  std::vector<float> a(std::size_t(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size(), 0.0f);
  kernels::cpu::set_blas_threads(threads);
  kernels::cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());  // warm-up
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    kernels::cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
    best = std::max(best, 2.0 * n * n * n / seconds_since(t0) / 1e9);
  }
  return best;
}

struct Anchor {
  const char* name;
  model::ModelConfig cfg;
  double train_tok_s;            // PyTorch 1.13, 2 threads (ANCHORS.md)
  double train_gflops;
  double sample_cache[2];        // batch 1, 64
  double sample_nocache[2];
};

model::ModelConfig make_cfg(int d, int L, int H) {
  model::ModelConfig c;
  c.d_model = d;
  c.n_layers = L;
  c.n_heads = H;
  c.context = 128;
  return c;
}

// Training tokens/s over `steps` steps after one warm-up step, with `threads`
// CPU threads, or on the GPU when `device`.
double train_tokens_per_s(const model::ModelConfig& cfg, int steps, int threads, bool device = false) {
  kernels::cpu::set_cpu_threads(threads);
  auto m = model::Transformer::create(cfg, 1).value();
  if (device && !m.use_device(true).is_ok()) return 0.0;
  model::AdamW opt(m, model::AdamWConfig{});
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> byte(0, 255);
  const int B = 32, T = cfg.context;
  std::vector<std::vector<int>> seqs(B, std::vector<int>(T));
  for (auto& s : seqs) {
    for (int& t : s) t = byte(rng);
  }
  auto batch = model::TokenBatch::from_sequences(seqs, cfg.context, cfg.vocab_size).value();
  std::vector<float> logp, dlogp;
  auto step = [&] {
    (void)m.forward(batch, &logp);
    model::weighted_nll(batch, logp, &dlogp);
    m.zero_grad();
    (void)m.backward(dlogp);
    (void)opt.step(m, 1e-3f);
  };
  step();  // warm-up: allocates activations
  auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) step();
  return double(B) * T * steps / seconds_since(t0);
}

// New tokens per second of decoding `rows` sequences for `new_tokens` steps
// after a 2-token prompt, every row to the full length: with the KV cache
// (Transformer::decode, one position per step) or without (last_logits: a full
// forward over each row's whole prefix per step), as the sampler runs them. Fixed
// tokens stand in for sampled ones, so no row stops early at a sampled end token
// (a random model samples one within a few dozen steps, and short runs would
// flatter the uncached mode). The better of two runs.
double decode_tokens_per_s(const model::ModelConfig& cfg, int rows, int new_tokens, bool cache, bool device = false) {
  auto m = model::Transformer::create(cfg, 3).value();
  if (device && !m.use_device(true).is_ok()) return 0.0;
  const int len = 2 + new_tokens;  // REQUIRES: len <= cfg.context
  std::vector<std::vector<int>> seqs(rows, std::vector<int>(len));
  for (int r = 0; r < rows; ++r) {
    seqs[r][0] = model::kBos;
    for (int t = 1; t < len; ++t) seqs[r][t] = 'a' + (r + t) % 26;
  }
  std::vector<float> logits(std::size_t(rows) * cfg.vocab_size);
  std::vector<int> feed(rows);
  double best = 0.0;
  for (int run = 0; run < 2; ++run) {
    auto t0 = Clock::now();
    if (cache) {
      model::KvCache c = m.make_cache(rows, len);
      for (int t = 0; t + 1 < len; ++t) {
        for (int r = 0; r < rows; ++r) feed[r] = seqs[r][t];
        (void)m.decode(c, feed.data(), logits.data());
      }
    } else {
      for (int t = 2; t < len; ++t) {  // the prefix that predicts token t
        std::vector<std::vector<int>> prefix(rows);
        for (int r = 0; r < rows; ++r) prefix[r].assign(seqs[r].begin(), seqs[r].begin() + t);
        auto b = model::TokenBatch::from_sequences(prefix, cfg.context, cfg.vocab_size).value();
        (void)m.last_logits(b, &logits);
      }
    }
    best = std::max(best, double(rows) * new_tokens / seconds_since(t0));
  }
  return best;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one, five;
  f >> one >> five;
  return one.empty() ? "unknown" : one + " (1 min), " + five + " (5 min)";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// cuBLAS sgemm at 4096³ on device memory, GFLOP/s (best of 3); 0 on an error.
double cublas_gflops() {
  const int n = 4096;
  auto a = kernels::DeviceBuffer::from_host(std::vector<float>(std::size_t(n) * n, 0.5f));
  auto c = kernels::DeviceBuffer::create(std::size_t(n) * n);
  if (!a || !c) return 0.0;
  double best = 0.0;
  for (int r = 0; r < 4; ++r) {
    auto t0 = Clock::now();
    if (!kernels::cuda_sgemm(false, false, n, n, n, 1.0f, a->data(), a->data(), 0.0f, c->data()).is_ok()) return 0.0;
    if (!kernels::cuda_synchronize().is_ok()) return 0.0;
    if (r > 0) best = std::max(best, 2.0 * n * n * n / seconds_since(t0) / 1e9);  // r = 0 warms up
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, train = true, sample = true, wide = false;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--train-only") == 0) sample = false;
    if (std::strcmp(argv[i], "--sample-only") == 0) train = false;
    if (std::strcmp(argv[i], "--wide") == 0) wide = true;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
  }
  std::printf("load average at start: %s (2 cores; figures under load are lower bounds)\n", load_average().c_str());
  const bool gpu = kernels::cuda_device_count() > 0;
  const double cublas = gpu ? cublas_gflops() : 0.0;
  if (gpu) {
    std::printf("cuBLAS sgemm 4096^3 on device memory: %.0f GFLOP/s\n", cublas);
  } else {
    std::printf("GPU: none (%s); CPU figures only\n", kernels::cuda_unavailable_reason().c_str());
  }

  std::vector<Anchor> anchors = {
      {"(a) d=128 L=4 H=4", make_cfg(128, 4, 4), 8018, 46, {802, 3154}, {145, 508}},
      {"(b) d=256 L=6 H=8", make_cfg(256, 6, 8), 2371, 74, {429, 740}, {24, 146}},
  };
  if (wide) anchors.push_back({"(c) d=512 L=8 H=8", make_cfg(512, 8, 8), 0, 0, {0, 0}, {0, 0}});
  if (train) {
    const int rounds = quick ? 1 : 3;
    std::printf("\nTraining, batch 32x128, fwd+bwd+AdamW; sgemm 1024^3 with the same threads, alternating (%d rounds)\n",
                rounds);
    std::printf("%-18s %3s %9s %8s %8s %5s %5s | %s\n", "model", "thr", "tokens/s", "GFLOP/s", "sgemm", "MFU", "med",
                "PyTorch 2 threads (ANCHORS.md): tok/s, GFLOP/s, ours/theirs");
    for (const Anchor& a : anchors) {
      const int steps = quick ? 2 : (a.cfg.d_model >= 512 ? 2 : a.cfg.d_model > 128 ? 4 : 10);
      for (int th : {1, 2}) {
        double best_tps = 0.0, best_sgemm = 0.0;
        std::vector<double> ratios;
        for (int r = 0; r < rounds; ++r) {
          const double g = sgemm_gflops(th, 3);
          const double tps = train_tokens_per_s(a.cfg, steps, th);
          ratios.push_back(tps * a.cfg.flops_per_token(a.cfg.context) / 1e9 / g);
          best_tps = std::max(best_tps, tps);
          best_sgemm = std::max(best_sgemm, g);
        }
        const double gf = best_tps * a.cfg.flops_per_token(a.cfg.context) / 1e9;
        std::printf("%-18s %3d %9.0f %8.1f %8.0f %4.0f%% %4.0f%%", a.name, th, best_tps, gf, best_sgemm,
                    100.0 * gf / best_sgemm, 100.0 * median(ratios));
        if (th == 2 && a.train_tok_s > 0) {
          std::printf(" | %6.0f %5.0f  %.2fx", a.train_tok_s, a.train_gflops, best_tps / a.train_tok_s);
        }
        std::printf("\n");
      }
    }
    if (gpu) {
      std::printf("\nTraining on the GPU (same batches), beside cuBLAS sgemm %.0f GFLOP/s\n", cublas);
      for (const Anchor& a : anchors) {
        const double tps = train_tokens_per_s(a.cfg, quick ? 3 : 20, threads, true);
        const double gf = tps * a.cfg.flops_per_token(a.cfg.context) / 1e9;
        std::printf("%-18s %9.0f tokens/s %8.1f GFLOP/s  %5.1f%% of cuBLAS\n", a.name, tps, gf, 100.0 * gf / cublas);
      }
    }
  }
  if (sample) {
    kernels::cpu::set_cpu_threads(threads);
    const int new_tokens = 126;  // fills the 128-token context after a 2-token prompt
    std::printf("\nDecoding %d new tokens after a 2-token prompt, every row to full length, %d thread(s), tokens/s\n"
                "(anchor: PyTorch sampling, ANCHORS.md)\n",
                new_tokens, threads);
    std::printf("%-18s %-9s %10s %10s %8s\n", "model", "mode", "batch 1", "batch 64", "anchors");
    for (const Anchor& a : anchors) {
      if (a.sample_cache[0] == 0) continue;
      for (bool cache : {true, false}) {
        // Uncached decoding is quadratic; fewer tokens keep the run short (tokens/s then flatters it).
        const int n = cache ? new_tokens : (quick ? 16 : 64);
        const double b1 = decode_tokens_per_s(a.cfg, 1, n, cache);
        const double b64 = decode_tokens_per_s(a.cfg, 64, n, cache);
        const double* anc = cache ? a.sample_cache : a.sample_nocache;
        std::printf("%-18s %-9s %10.0f %10.0f   %.0f / %.0f  (ratio %.2fx / %.2fx)%s\n", a.name,
                    cache ? "KV cache" : "no cache", b1, b64, anc[0], anc[1], b1 / anc[0], b64 / anc[1],
                    cache ? "" : (" [" + std::to_string(n) + " tokens]").c_str());
      }
      if (gpu) {
        std::printf("%-18s %-9s %10.0f %10.0f\n", a.name, "GPU cache", decode_tokens_per_s(a.cfg, 1, new_tokens, true, true),
                    decode_tokens_per_s(a.cfg, 64, new_tokens, true, true));
      }
    }

    // The target: cached >= 10x uncached at 256 new tokens (model (a) with a 258-token context).
    model::ModelConfig long_ctx = make_cfg(128, 4, 4);
    long_ctx.context = 258;
    const int n256 = quick ? 64 : 256;
    const double c = decode_tokens_per_s(long_ctx, 1, n256, true), u = decode_tokens_per_s(long_ctx, 1, n256, false);
    std::printf("\n(a) batch 1, %d new tokens: KV cache %.0f tokens/s, no cache %.0f tokens/s, speed-up %.1fx (target >= 10x)\n",
                n256, c, u, c / u);
  }
  std::printf("\nload average at end: %s; peak RSS %ld MiB\n", load_average().c_str(), peak_rss_mib());
  return 0;
}
