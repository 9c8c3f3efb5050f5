// The coinbase payouts a share must carry: the PPLNS split of its window (docs/p2p.md).
#include <algorithm>
#include <map>

#include "p2p/p2p.h"

namespace otedama::p2p {

std::vector<chain::TxOut> window_payouts(std::span<const WindowShare> window, int64_t reward, const ShareInfo& info,
                                         const ChainParams& params) {
  if (reward < 0) throw std::invalid_argument("negative reward");
  // Weights by script; the account key is the raw script, so accounting::split's order is the
  // scripts' byte order.
  std::map<std::string, Work> by_script;
  for (const auto& s : window) by_script[std::string(s.script->begin(), s.script->end())] += s.work;

  std::vector<chain::TxOut> out;
  int64_t fee = params.fee_ppm ? accounting::fee_of(reward, accounting::FeeRate{params.fee_ppm}) : 0;
  if (fee > 0) out.push_back({fee, info.fee_script});
  const int64_t rest = reward - fee;

  std::vector<accounting::Weight> weights;
  weights.reserve(by_script.size());
  for (auto& [script, work] : by_script)
    if (work > 0) weights.push_back({script, work});

  // Drop payees below the dust threshold (or rounded to nothing) and split again among the
  // others; each pass only raises the remaining amounts, so it ends.
  accounting::Payout split;
  while (!weights.empty()) {
    split = accounting::split(weights, rest, accounting::FeeRate{0});
    std::map<std::string_view, int64_t> paid;
    for (const auto& c : split.credits) paid[c.account] = c.amount;
    std::vector<accounting::Weight> keep;
    for (auto& w : weights) {
      auto it = paid.find(w.account);
      if (it != paid.end() && it->second >= params.min_output) keep.push_back(w);
    }
    if (keep.size() == weights.size()) break;
    weights = std::move(keep);
  }
  if (weights.empty()) {  // nobody reaches the threshold: the finder takes it all
    out.push_back({rest, info.payout_script});
    return out;
  }
  // The rounding remainder to the payee with the most work (ties: the smallest script).
  const accounting::Weight* top = &weights.front();
  for (const auto& w : weights)
    if (w.work > top->work) top = &w;
  int64_t remainder = rest - split.total_credited();
  for (const auto& c : split.credits) {
    int64_t v = c.amount + (c.account == top->account ? remainder : 0);
    out.push_back({v, Bytes(c.account.begin(), c.account.end())});
  }
  return out;
}

}  // namespace otedama::p2p
