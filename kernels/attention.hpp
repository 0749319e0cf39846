// Causal multi-head self-attention with an optional key padding mask, as in
// GPT-2: scores are scaled by 1/sqrt(head size), masked, soft-maxed, and mix the
// values. The reference is serial with double accumulation; the fast version
// runs (batch, head) pairs on both cores, each with its keys (values, in the
// backward) packed transposed so that score rows are vector FMAs. Thread-safe: no state.
#pragma once

#include <cstdint>

namespace troupe::kernels::cpu {

// qkv (B,T,3C): per position, q then k then v, each C = NH·hs wide (head h at
// [h·hs, (h+1)·hs)). key_valid (B,T) may be null; a 0 marks a padding key that
// no query attends to. out (B,T,C) =; att (B,NH,T,T) = the attention
// probabilities (0 where masked), saved for backward. A query with no valid key
// (left padding) outputs zeros.
void attention_forward(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C,
                       int NH);
void attention_forward_fast(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C,
                            int NH);

// dqkv (B,T,3C) += from dout (B,T,C), given the forward's qkv and att.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                        int NH);
void attention_backward_fast(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T,
                             int C, int NH);

// One decode step with a KV cache. q (N,C): one query per row. kcache, vcache
// (N,maxT,C): row n holds keys/values of its positions 0..len[n]-1, the current
// token's included. out (N,C) =. Equals attention_forward's output at the last
// position of each row. REQUIRES: 1 <= len[n] <= maxT.
void attention_decode_forward(float* out, const float* q, const float* kcache, const float* vcache, const int* len,
                              int N, int maxT, int C, int NH);

}  // namespace troupe::kernels::cpu
