// Training and sampling speed of the policy model on this machine's CPU.
//
// Prints, for model (a) d=128 L=4 H=4 and (b) d=256 L=6 H=8 at context 128:
// training tokens/s (batch 32x128, forward + backward + AdamW) and GFLOP/s
// (FLOPs/token = 6N + 12·L·d·T, as ANCHORS.md counts them) beside OpenBLAS
// sgemm GFLOP/s at 1024³ with 2 threads measured in the same run (the ratio is
// the model-FLOPs utilisation), and PyTorch's figures from ANCHORS.md; then
// sampling tokens/s with and without the KV cache at batch 1 and 64, and
// cached vs uncached at 256 new tokens; then peak RSS. With a GPU visible, the
// same sgemm through cuBLAS.
//
//   build/bench/model_bench [--quick] [--train-only | --sample-only]   (--quick: fewer steps and tokens)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda_runtime.hpp"
#include "kernels/matmul.hpp"
#include "model/optimizer.hpp"
#include "model/sampler.hpp"
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
  kernels::cpu::set_blas_threads(2);
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

double train_tokens_per_s(const model::ModelConfig& cfg, int steps) {
  auto m = model::Transformer::create(cfg, 1).value();
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

// New tokens per second sampling `rows` responses of `new_tokens` from a 2-token prompt.
double sample_tokens_per_s(const model::ModelConfig& cfg, int rows, int new_tokens, bool cache) {
  model::Sampler s(model::Transformer::create(cfg, 3).value());
  model::SamplingParams p;
  p.max_new_tokens = new_tokens;
  p.use_kv_cache = cache;
  p.seed = 4;
  std::vector<std::vector<int>> prompts(rows, std::vector<int>{model::kBos, model::kSep});
  auto t0 = Clock::now();
  auto r = s.sample(prompts, p);
  const double dt = seconds_since(t0);
  long n = 0;
  for (const auto& x : r.value()) n += long(x.tokens.size());
  return double(n) / dt;
}

long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, train = true, sample = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--train-only") == 0) sample = false;
    if (std::strcmp(argv[i], "--sample-only") == 0) train = false;
  }
  const double g1 = sgemm_gflops(1, 3), g2 = sgemm_gflops(2, 5);
  std::printf("OpenBLAS sgemm 1024^3: 1 thread %.0f GFLOP/s, 2 threads %.0f GFLOP/s (PLATFORM.md: ~100-110 / ~190-210)\n",
              g1, g2);
  if (kernels::cuda_device_count() > 0) {
    const int n = 4096;
    std::vector<float> a(std::size_t(n) * n, 0.5f), c(a.size());
    (void)kernels::cuda_sgemm_host(false, false, n, n, n, 1.0f, a.data(), a.data(), 0.0f, c.data());
    auto t0 = Clock::now();
    auto st = kernels::cuda_sgemm_host(false, false, n, n, n, 1.0f, a.data(), a.data(), 0.0f, c.data());
    std::printf("cuBLAS sgemm 4096^3 incl. copies: %.0f GFLOP/s (%s)\n", 2.0 * n * n * n / seconds_since(t0) / 1e9,
                st.to_string().c_str());
  } else {
    std::printf("cuBLAS: skipped (%s)\n", kernels::cuda_unavailable_reason().c_str());
  }

  const Anchor anchors[] = {
      {"(a) d=128 L=4 H=4", make_cfg(128, 4, 4), 8018, 46, {802, 3154}, {145, 508}},
      {"(b) d=256 L=6 H=8", make_cfg(256, 6, 8), 2371, 74, {429, 740}, {24, 146}},
  };
  if (train) {
  std::printf("\nTraining, batch 32x128, fwd+bwd+AdamW (anchor: PyTorch 1.13 CPU, 2 threads, ANCHORS.md)\n");
  std::printf("%-20s %10s %9s %6s | %12s %9s | %s\n", "model", "tokens/s", "GFLOP/s", "MFU", "anchor tok/s",
              "anchor GF", "ratio tok/s");
  for (const Anchor& a : anchors) {
    const double tps = train_tokens_per_s(a.cfg, quick ? 3 : (a.cfg.d_model > 128 ? 8 : 15));
    const double gf = tps * a.cfg.flops_per_token(a.cfg.context) / 1e9;
    std::printf("%-20s %10.0f %9.1f %5.0f%% | %12.0f %9.0f | %.2fx\n", a.name, tps, gf, 100.0 * gf / g2,
                a.train_tok_s, a.train_gflops, tps / a.train_tok_s);
  }

  }
  if (sample) {
  const int new_tokens = 126;  // fills the 128-token context after a 2-token prompt
  std::printf("\nSampling %d new tokens from a 2-token prompt, tokens/s (anchor: PyTorch, ANCHORS.md)\n", new_tokens);
  std::printf("%-20s %-9s %10s %10s %8s\n", "model", "mode", "batch 1", "batch 64", "anchors");
  for (const Anchor& a : anchors) {
    for (bool cache : {true, false}) {
      // Uncached decoding is quadratic; fewer tokens keep the run short (tokens/s then flatters it).
      const int n = cache ? new_tokens : (quick ? 16 : 64);
      const double b1 = sample_tokens_per_s(a.cfg, 1, n, cache);
      const double b64 = sample_tokens_per_s(a.cfg, 64, n, cache);
      const double* anc = cache ? a.sample_cache : a.sample_nocache;
      std::printf("%-20s %-9s %10.0f %10.0f   %.0f / %.0f  (ratio %.2fx / %.2fx)%s\n", a.name,
                  cache ? "KV cache" : "no cache", b1, b64, anc[0], anc[1], b1 / anc[0], b64 / anc[1],
                  cache ? "" : (" [" + std::to_string(n) + " tokens]").c_str());
    }
  }

  // The target: cached >= 10x uncached at 256 new tokens (model (a) with a 258-token context).
  model::ModelConfig long_ctx = make_cfg(128, 4, 4);
  long_ctx.context = 258;
  const int n256 = quick ? 64 : 256;
  const double c = sample_tokens_per_s(long_ctx, 1, n256, true), u = sample_tokens_per_s(long_ctx, 1, n256, false);
  std::printf("\n(a) batch 1, %d new tokens: KV cache %.0f tokens/s, no cache %.0f tokens/s, speed-up %.1fx (target >= 10x)\n",
              n256, c, u, c / u);
  }
  std::printf("\npeak RSS %ld MiB\n", peak_rss_mib());
  return 0;
}
