// Legacy Keccak (the original submission's 0x01 padding, as used by Ethereum, Ethash,
// KawPow and Monero; NOT FIPS-202 SHA-3, which pads with 0x06) and the raw permutations.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/core.h"

namespace otedama::crypto {

// Keccak-f[1600]: 25 lanes of 64 bits, lane index x + 5*y, 24 rounds.
void keccakf1600(uint64_t st[25]);
// Keccak-f[800]: 25 words of 32 bits, 22 rounds (the ProgPoW/KawPow permutation).
void keccakf800(uint32_t st[25]);

// Keccak-256 (rate 136 bytes) and Keccak-512 (rate 72 bytes) with 0x01 padding.
Hash256 keccak256(ByteSpan data);
std::array<uint8_t, 64> keccak512(ByteSpan data);

// Keccak-512 of exactly 64 bytes, in place: the Ethash cache and DAG node hash, which runs
// millions of times per epoch and so skips the general sponge's buffering.
void keccak512_64(uint8_t data[64]);

}  // namespace otedama::crypto
