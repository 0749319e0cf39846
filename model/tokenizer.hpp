// The byte-level tokenizer: token ids 0..255 are bytes, then four specials.
// Stateless; every function is thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace troupe::model {

inline constexpr int kBos = 256;  // begins every sequence
inline constexpr int kEos = 257;  // ends a response; sampling stops on it
inline constexpr int kPad = 258;  // fills batches of unequal length; never a target
inline constexpr int kSep = 259;  // marks the end of a prompt, where the response starts
inline constexpr int kNumSpecialTokens = 4;

// One id per byte.
std::vector<int> encode_bytes(std::string_view text);

// BOS + prompt bytes + SEP: what the policy conditions on.
std::vector<int> encode_prompt(std::string_view prompt);

// Bytes of the ids below 256; specials are dropped (EOS ends the text).
std::string decode(const std::vector<int>& ids);

// "<|bos|>", "<|eos|>", "<|pad|>", "<|sep|>", or the byte as text.
std::string token_name(int id);

}  // namespace troupe::model
