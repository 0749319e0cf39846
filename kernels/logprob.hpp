// Per-token log-probabilities of given tokens and softmax cross-entropy, from
// logits. log p = logit[target] - logsumexp(logits). The reference is serial in
// double; the fast version runs rows on both cores. Thread-safe: no state.
#pragma once

namespace troupe::kernels::cpu {

// logits (N,V), targets (N) -> logp (N) =, lse (N) = (logsumexp, saved for
// backward). A row whose target is negative has no target: logp = 0.
// REQUIRES: targets[i] < V.
void token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N, int V);
void token_logprobs_forward_fast(float* logp, float* lse, const float* logits, const int* targets, int N, int V);

// dlogits (N,V) = dlogp[i] · (onehot(targets[i]) - softmax(logits[i])); rows
// without a target get 0. Overwrites (=): the logits' only consumer.
void token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                             const int* targets, int N, int V);
void token_logprobs_backward_fast(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                                  const int* targets, int N, int V);

// Softmax cross-entropy: losses (N) = -log p(target) (0 without target), lse (N) =.
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N, int V);
// dlogits (N,V) = dlosses[i] · (softmax - onehot). Overwrites (=).
void cross_entropy_backward(float* dlogits, const float* dlosses, const float* logits, const float* lse,
                            const int* targets, int N, int V);

}  // namespace troupe::kernels::cpu
