// Rng: the one random source every task generator draws from.
//
// SplitMix64 (Steele, Lea, Flood 2014) with our own integer-range helpers, so a
// (seed, difficulty) pair yields byte-identical cases on every machine and every
// standard library (std::uniform_int_distribution's output is implementation-defined).
// An Rng is a small value; it is not shared between threads (each generate() call
// builds its own from the seed).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace troupe::envs {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next_u64() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);  // golden-ratio increment (SplitMix64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform integer in [lo, hi], both inclusive, by rejection (no modulo bias).
  // REQUIRES: lo <= hi
  int64_t uniform(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<int64_t>(next_u64());
    const uint64_t n = span + 1;
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);  // largest multiple of n, exclusive
    uint64_t x;
    do {
      x = next_u64();
    } while (x >= limit);
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % n);
  }

  // True with probability num/den.
  // REQUIRES: 0 < den
  bool chance(int64_t num, int64_t den) { return uniform(0, den - 1) < num; }

  // A decimal number with exactly `digits` digits (no leading zero unless digits == 1).
  std::string digits(int digits) {
    std::string s;
    for (int i = 0; i < digits; ++i) {
      s.push_back(static_cast<char>('0' + uniform(i == 0 && digits > 1 ? 1 : 0, 9)));
    }
    return s;
  }

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(uniform(0, static_cast<int64_t>(v.size()) - 1))];
  }

  // Fisher-Yates with our own uniform(), so the order is the same everywhere.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      std::swap(v[i - 1], v[static_cast<size_t>(uniform(0, static_cast<int64_t>(i) - 1))]);
    }
  }

 private:
  uint64_t state_;
};

}  // namespace troupe::envs
