// Internal to the pool module: found blocks follow the daemon. A pending block is confirmed
// (its credits become payable) once it has the coin's coinbase maturity in confirmations, and
// orphaned (its credits reversed) when it leaves the main chain or the daemon never knew it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "store/store.h"

namespace otedama::chain {
class RpcClient;
namespace monero {
class RpcClient;
}
}  // namespace otedama::chain

namespace otedama::pool {

// What the daemon says of one block.
struct ChainBlockState {
  bool known = false;          // false: the daemon has no such block
  bool in_main_chain = false;  // known and on the best chain
  int64_t confirmations = 0;   // 1 for the tip
};
// Looks a block up by the hash the pool stored. Throws chain::ChainError when the daemon
// cannot answer (down, refused): the block is then left as it is.
using BlockLookup = std::function<ChainBlockState(const std::string& hash)>;

// litecoind/bitcoind: getblock <hash> -> confirmations (-1: not on the main chain), error -5: unknown.
BlockLookup bitcoin_block_lookup(std::shared_ptr<chain::RpcClient> rpc);
// monerod: get_block_header_by_hash -> orphan_status, depth (confirmations = depth + 1).
BlockLookup monero_block_lookup(std::shared_ptr<chain::monero::RpcClient> rpc);

struct BlockStatusPass {
  int checked = 0, confirmed = 0, orphaned = 0;
  std::string error;  // the daemon's failure, when the pass stopped early
};
// One pass over the coin's pending blocks. A block the daemon does not know is orphaned only
// once it is older than `unknown_grace_ms` (a submission may still be on its way).
BlockStatusPass update_block_status(store::Store& store, const std::string& coin, const BlockLookup& lookup,
                                    int64_t now_ms, int64_t unknown_grace_ms = 120'000);

}  // namespace otedama::pool
