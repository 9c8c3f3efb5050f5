// Internal to the pool module: the payout processor, over the coin's own wallet
// (litecoind/bitcoind's wallet, or monero-wallet-rpc).
//
// No double payment: each payout is recorded as intended (amounts reserved) before anything is
// built; the wallet builds and signs the transaction without sending it, its txid and raw form
// are recorded (signed), and only then is it broadcast. A processor that starts reconciles what
// it finds unfinished before it sends anything new:
//   intended (no txid)      -> failed, amounts back to payable (nothing was ever signed)
//   signed, wallet knows it -> broadcast        signed, wallet does not -> broadcast the recorded tx
//   broadcast               -> confirmed once the wallet sees a confirmation
// Insufficient funds, a locked wallet, a daemon down: the payment stays where it is with the
// reason (payment_note) and is retried at the next interval; nothing is marked paid.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/store.h"

namespace otedama::chain {
class RpcClient;
namespace monero {
class RpcClient;
}
}  // namespace otedama::chain

namespace otedama::pool {

// A wallet that could not do what was asked; what() is the reason an operator reads.
class WalletError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PayoutWallet {
 public:
  struct Signed {
    std::string txid, raw;  // raw: what broadcast() takes (Bitcoin: the signed tx; Monero: tx_metadata)
    store::Amount fee = 0;  // the network fee the wallet pays on top of the outputs
  };
  virtual ~PayoutWallet() = default;
  virtual void ping() = 0;  // WalletError unless the wallet answers
  virtual bool valid_address(const std::string& address) = 0;
  // Builds, funds and signs one transaction paying every output; does not send it.
  virtual Signed sign(const std::vector<store::PaymentOutput>& outputs) = 0;
  // nullopt: the wallet does not know the transaction; else its confirmations (< 0: it lost
  // to a conflicting transaction).
  virtual std::optional<int64_t> confirmations(const std::string& txid) = 0;
  // Sends a signed transaction; one the network already has counts as sent.
  virtual void broadcast(const std::string& txid, const std::string& raw) = 0;
};

// litecoind/bitcoind: createrawtransaction + fundrawtransaction + signrawtransactionwithwallet,
// gettransaction, sendrawtransaction. `rpc` talks to the wallet's endpoint (/wallet/NAME).
std::unique_ptr<PayoutWallet> bitcoin_wallet(std::shared_ptr<chain::RpcClient> rpc);
// monero-wallet-rpc: transfer (do_not_relay, get_tx_metadata), get_transfer_by_txid, relay_tx.
std::unique_ptr<PayoutWallet> monero_wallet(std::shared_ptr<chain::monero::RpcClient> rpc);

struct PayoutOptions {
  std::string coin;
  store::Amount minimum = 1'000'000;  // atomic units: smaller payable balances wait
};

// Atomic units as the exact decimal string wallet RPCs take: 8 decimals ("1.23456789").
std::string format_coins(store::Amount satoshis);
// A wallet amount in coins (a JSON number with at most 8 decimals) as satoshis, rounded.
store::Amount parse_coins(double coins);

class PayoutProcessor {
 public:
  PayoutProcessor(store::Store& store, std::unique_ptr<PayoutWallet> wallet, PayoutOptions options);

  // Brings unfinished payments up to date with the wallet (see above); does nothing while the
  // wallet does not answer (reconciled() stays false and run_once() tries again).
  void reconcile();
  // One interval: reconcile once after start, advance unfinished payments, retry an intended
  // one, then pay every payable balance >= minimum in one transaction. Returns the id of the
  // payment it created, if any. Throws only store::StoreError.
  std::optional<int64_t> run_once();
  bool reconciled() const { return reconciled_; }

 private:
  void advance(const store::Payment& p, bool after_restart);
  void send(const store::Payment& p);
  void note(const store::Payment& p, const std::string& reason);

  store::Store& store_;
  std::unique_ptr<PayoutWallet> wallet_;
  PayoutOptions options_;
  bool reconciled_ = false;
};

}  // namespace otedama::pool
