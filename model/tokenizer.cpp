// Byte tokenizer (model/tokenizer.hpp).
#include "model/tokenizer.hpp"

namespace troupe::model {

std::vector<int> encode_bytes(std::string_view text) {
  std::vector<int> ids;
  ids.reserve(text.size());
  for (unsigned char c : text) ids.push_back(int(c));
  return ids;
}

std::vector<int> encode_prompt(std::string_view prompt) {
  std::vector<int> ids;
  ids.reserve(prompt.size() + 2);
  ids.push_back(kBos);
  for (unsigned char c : prompt) ids.push_back(int(c));
  ids.push_back(kSep);
  return ids;
}

std::string decode(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) {
    if (id == kEos) break;
    if (id >= 0 && id < 256) s.push_back(char(id));
  }
  return s;
}

std::string token_name(int id) {
  switch (id) {
    case kBos: return "<|bos|>";
    case kEos: return "<|eos|>";
    case kPad: return "<|pad|>";
    case kSep: return "<|sep|>";
    default: break;
  }
  if (id >= 0 && id < 256) return std::string(1, char(id));
  return "<|" + std::to_string(id) + "|>";
}

}  // namespace troupe::model
