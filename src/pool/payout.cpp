#include "pool/payout.h"

#include <spdlog/spdlog.h>

#include <cmath>

#include "chain/chain.h"
#include "chain/monero.h"

namespace otedama::pool {

std::string format_coins(store::Amount satoshis) {
  if (satoshis < 0) throw std::invalid_argument("a negative amount cannot be paid");
  char b[40];
  std::snprintf(b, sizeof b, "%lld.%08lld", (long long)(satoshis / 100'000'000), (long long)(satoshis % 100'000'000));
  return b;
}

store::Amount parse_coins(double coins) { return store::Amount(std::llround(coins * 1e8)); }

namespace {

// What the wallet's failure means to an operator reading the payment's reason.
WalletError why(const std::string& step, const std::exception& e) {
  if (auto* r = dynamic_cast<const chain::RpcError*>(&e)) {
    std::string what = step + ": " + r->message + " (code " + std::to_string(r->code) + ")";
    if (r->code == -6 || r->message.find("nsufficient funds") != std::string::npos ||
        r->message.find("not enough") != std::string::npos)
      return WalletError("insufficient funds in the wallet: " + what);
    if (r->code == -13) return WalletError("the wallet is locked: " + what);
    if (r->code == -18) return WalletError("no such wallet loaded: " + what);
    if (r->code == -19) return WalletError("several wallets are loaded, set pool.payouts.wallet: " + what);
    return WalletError(what);
  }
  if (dynamic_cast<const chain::AuthError*>(&e))
    return WalletError("the wallet refused our credentials: " + step + ": " + e.what());
  if (dynamic_cast<const chain::TransportError*>(&e))
    return WalletError("the wallet is unreachable: " + step + ": " + e.what());
  return WalletError(step + ": " + e.what());
}

template <class F>
auto step(const char* name, F f) {
  try {
    return f();
  } catch (const WalletError&) {
    throw;
  } catch (const std::exception& e) {
    throw why(name, e);
  }
}

class BitcoinWallet final : public PayoutWallet {
 public:
  explicit BitcoinWallet(std::shared_ptr<chain::RpcClient> rpc) : rpc_(std::move(rpc)) {}

  void ping() override {
    step("getwalletinfo", [&] { return rpc_->call("getwalletinfo"); });
  }
  bool valid_address(const std::string& address) override {
    return step("validateaddress", [&] { return rpc_->validate_address(address).valid; });
  }
  Signed sign(const std::vector<store::PaymentOutput>& outputs) override {
    nlohmann::json to = nlohmann::json::object();
    for (const auto& o : outputs) to[o.address] = format_coins(o.amount);
    Signed s;
    std::string hex = step("createrawtransaction", [&] {
      return rpc_->call("createrawtransaction", {nlohmann::json::array(), to}).get<std::string>();
    });
    auto funded = step("fundrawtransaction", [&] { return rpc_->call("fundrawtransaction", {hex}); });
    auto signed_tx = step("signrawtransactionwithwallet", [&] {
      return rpc_->call("signrawtransactionwithwallet", {funded.at("hex").get<std::string>()});
    });
    if (!signed_tx.value("complete", false))
      throw WalletError("signrawtransactionwithwallet: the wallet could not sign every input: " +
                        signed_tx.value("errors", nlohmann::json::array()).dump());
    s.raw = signed_tx.at("hex").get<std::string>();
    s.fee = parse_coins(funded.at("fee").get<double>());
    s.txid = step("decoderawtransaction", [&] {
      return rpc_->call("decoderawtransaction", {s.raw}).at("txid").get<std::string>();
    });
    return s;
  }
  std::optional<int64_t> confirmations(const std::string& txid) override {
    try {
      return rpc_->call("gettransaction", {txid}).value("confirmations", int64_t(0));
    } catch (const chain::RpcError& e) {
      if (e.code == -5) return std::nullopt;  // "Invalid or non-wallet transaction id"
      throw why("gettransaction", e);
    } catch (const std::exception& e) {
      throw why("gettransaction", e);
    }
  }
  void broadcast(const std::string&, const std::string& raw) override {
    try {
      rpc_->call("sendrawtransaction", {raw});
    } catch (const chain::RpcError& e) {
      if (e.code != -27) throw why("sendrawtransaction", e);  // -27: already in the chain
    } catch (const std::exception& e) {
      throw why("sendrawtransaction", e);
    }
  }

 private:
  std::shared_ptr<chain::RpcClient> rpc_;
};

class MoneroWallet final : public PayoutWallet {
 public:
  explicit MoneroWallet(std::shared_ptr<chain::monero::RpcClient> rpc) : rpc_(std::move(rpc)) {}

  void ping() override {
    step("get_height", [&] { return rpc_->call("get_height"); });
  }
  bool valid_address(const std::string& address) override {
    return step("validate_address", [&] {
      return rpc_->call("validate_address", {{"address", address}}).value("valid", false);
    });
  }
  Signed sign(const std::vector<store::PaymentOutput>& outputs) override {
    nlohmann::json dest = nlohmann::json::array();
    for (const auto& o : outputs) dest.push_back({{"amount", uint64_t(o.amount)}, {"address", o.address}});
    auto r = step("transfer", [&] {
      return rpc_->call("transfer",
                        {{"destinations", dest}, {"priority", 0}, {"do_not_relay", true}, {"get_tx_metadata", true}});
    });
    Signed s;
    s.txid = r.at("tx_hash").get<std::string>();
    s.raw = r.at("tx_metadata").get<std::string>();
    s.fee = r.at("fee").get<int64_t>();
    if (s.txid.empty() || s.raw.empty()) throw WalletError("transfer: no tx_hash or tx_metadata in the answer");
    return s;
  }
  std::optional<int64_t> confirmations(const std::string& txid) override {
    nlohmann::json r;
    try {
      r = rpc_->call("get_transfer_by_txid", {{"txid", txid}});
    } catch (const chain::RpcError& e) {
      if (e.message.find("not found") != std::string::npos || e.code == -8) return std::nullopt;
      throw why("get_transfer_by_txid", e);
    } catch (const std::exception& e) {
      throw why("get_transfer_by_txid", e);
    }
    const auto& t = r.at("transfer");
    if (t.value("type", "") == "failed") return -1;
    return t.value("confirmations", int64_t(0));
  }
  void broadcast(const std::string&, const std::string& raw) override {
    step("relay_tx", [&] { return rpc_->call("relay_tx", {{"hex", raw}}); });
  }

 private:
  std::shared_ptr<chain::monero::RpcClient> rpc_;
};

}  // namespace

std::unique_ptr<PayoutWallet> bitcoin_wallet(std::shared_ptr<chain::RpcClient> rpc) {
  if (!rpc) throw std::invalid_argument("bitcoin_wallet needs an RPC client");
  return std::make_unique<BitcoinWallet>(std::move(rpc));
}
std::unique_ptr<PayoutWallet> monero_wallet(std::shared_ptr<chain::monero::RpcClient> rpc) {
  if (!rpc) throw std::invalid_argument("monero_wallet needs an RPC client");
  return std::make_unique<MoneroWallet>(std::move(rpc));
}

PayoutProcessor::PayoutProcessor(store::Store& store, std::unique_ptr<PayoutWallet> wallet, PayoutOptions options)
    : store_(store), wallet_(std::move(wallet)), options_(std::move(options)) {
  if (!wallet_) throw std::invalid_argument("the payout processor needs a wallet");
  if (options_.minimum <= 0) throw std::invalid_argument("the payout minimum must be positive");
}

void PayoutProcessor::note(const store::Payment& p, const std::string& reason) {
  if (p.reason != reason) store_.payment_note(p.id, reason);
  spdlog::warn("payouts {}: payment {} ({}) waits: {}", options_.coin, p.id, store::to_string(p.state), reason);
}

void PayoutProcessor::reconcile() {
  try {
    wallet_->ping();  // nothing is reconciled (or sent) until the wallet answers
  } catch (const WalletError& e) {
    spdlog::warn("payouts {}: reconciliation waits: {}", options_.coin, e.what());
    return;
  }
  for (const auto& p : store_.payments(options_.coin, std::nullopt)) {
    if (p.state == store::PaymentState::confirmed || p.state == store::PaymentState::failed) continue;
    advance(p, true);
  }
  reconciled_ = true;
}

void PayoutProcessor::advance(const store::Payment& p, bool after_restart) {
  try {
    switch (p.state) {
      case store::PaymentState::intended:
        if (after_restart) {
          // Nothing was signed for it, so nothing can have been sent: give the amounts back.
          store_.payment_failed(p.id, "not signed before the payout processor stopped; nothing was sent");
          spdlog::info("payouts {}: payment {} was never signed: failed, amounts payable again", options_.coin, p.id);
        }
        return;
      case store::PaymentState::signed_tx: {
        if (!wallet_->confirmations(p.txid)) {
          wallet_->broadcast(p.txid, p.raw_tx);
          spdlog::info("payouts {}: payment {} sent from its recorded transaction {}", options_.coin, p.id, p.txid);
        }
        store_.payment_broadcast(p.id);
        spdlog::info("payouts {}: payment {} ({}) broadcast", options_.coin, p.id, p.txid);
        if (auto again = store_.payment(p.id)) advance(*again, after_restart);
        return;
      }
      case store::PaymentState::broadcast: {
        auto c = wallet_->confirmations(p.txid);
        if (c && *c >= 1) {
          store_.payment_confirmed(p.id);
          spdlog::info("payouts {}: payment {} ({}) confirmed", options_.coin, p.id, p.txid);
        } else if (c && *c < 0) {
          note(p, "the transaction lost to a conflicting one; check the wallet before anything else");
        } else if (!c) {
          note(p, "the wallet does not know the broadcast transaction " + p.txid);
        }
        return;
      }
      default:
        return;
    }
  } catch (const WalletError& e) {
    note(p, e.what());
  }
}

void PayoutProcessor::send(const store::Payment& p) {
  PayoutWallet::Signed s;
  try {
    s = wallet_->sign(p.outputs);
  } catch (const WalletError& e) {
    return note(p, e.what());
  }
  // Recorded before the broadcast: a processor stopped right here sends this very transaction
  // at its next start, so the payment can only ever go out once.
  store_.payment_signed(p.id, s.txid, s.raw, s.fee);
  spdlog::info("payouts {}: payment {} signed as {} ({} outputs, {} total, fee {})", options_.coin, p.id, s.txid,
               p.outputs.size(), p.total(), s.fee);
  try {
    wallet_->broadcast(s.txid, s.raw);
  } catch (const WalletError& e) {
    auto now = store_.payment(p.id);
    return note(now ? *now : p, e.what());
  }
  store_.payment_broadcast(p.id);
  spdlog::info("payouts {}: payment {} broadcast ({})", options_.coin, p.id, s.txid);
}

std::optional<int64_t> PayoutProcessor::run_once() {
  if (!reconciled_) {
    reconcile();
    if (!reconciled_) return std::nullopt;
  }
  bool waiting = false;  // an intended payment not sent yet: no new one until it is
  for (const auto& p : store_.payments(options_.coin, std::nullopt)) {
    if (p.state == store::PaymentState::intended) {
      send(p);
      auto now = store_.payment(p.id);
      if (now && now->state == store::PaymentState::intended) waiting = true;
    } else if (p.state == store::PaymentState::signed_tx || p.state == store::PaymentState::broadcast) {
      advance(p, false);
    }
  }
  if (waiting) return std::nullopt;

  std::vector<store::PaymentOutput> outputs;
  for (const auto& b : store_.balances(options_.coin)) {
    if (b.payable < options_.minimum) continue;
    try {
      if (!wallet_->valid_address(b.account)) {
        spdlog::warn("payouts {}: account '{}' is not a valid address for this wallet; its balance waits",
                     options_.coin, b.account);
        continue;
      }
    } catch (const WalletError& e) {
      spdlog::warn("payouts {}: payouts wait: {}", options_.coin, e.what());
      return std::nullopt;
    }
    outputs.push_back({b.account, b.account, b.payable});
  }
  if (outputs.empty()) return std::nullopt;
  int64_t id = store_.create_payment(options_.coin, outputs);
  spdlog::info("payouts {}: payment {} intended: {} outputs", options_.coin, id, outputs.size());
  if (auto p = store_.payment(id)) send(*p);
  return id;
}

}  // namespace otedama::pool
