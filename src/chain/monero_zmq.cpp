// monerod's ZMQ publisher: "json-minimal-chain_main:" followed by
// {"first_height":N,"first_prev_id":"..","ids":["..",..]} per main-chain extension.
#include <zmq.h>

#include <stdexcept>

#include "chain/monero.h"

namespace otedama::chain::monero {

namespace {
constexpr std::string_view kTopic = "json-minimal-chain_main";
}

ChainSubscriber::ChainSubscriber(const std::string& endpoint) {
  context_ = zmq_ctx_new();
  socket_ = zmq_socket(context_, ZMQ_SUB);
  int linger = 0;
  zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(socket_, ZMQ_SUBSCRIBE, kTopic.data(), kTopic.size());
  if (zmq_connect(socket_, endpoint.c_str()) != 0) {
    std::string why = zmq_strerror(zmq_errno());
    zmq_close(socket_);
    zmq_ctx_term(context_);
    throw std::invalid_argument("cannot subscribe to " + endpoint + ": " + why);
  }
}

ChainSubscriber::~ChainSubscriber() {
  zmq_close(socket_);
  zmq_ctx_term(context_);
}

std::optional<uint64_t> ChainSubscriber::wait(std::chrono::milliseconds timeout) {
  std::optional<uint64_t> newest;
  zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
  long wait_ms = long(timeout.count());
  while (zmq_poll(&item, 1, wait_ms) > 0 && (item.revents & ZMQ_POLLIN)) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket_, ZMQ_DONTWAIT) >= 0) {
      std::string_view text(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
      if (text.substr(0, kTopic.size()) == kTopic && text.size() > kTopic.size() + 1) {
        auto j = nlohmann::json::parse(text.substr(kTopic.size() + 1), nullptr, false);
        if (j.is_object() && j.contains("first_height") && j["first_height"].is_number_unsigned() &&
            j.contains("ids") && j["ids"].is_array() && !j["ids"].empty())
          newest = j["first_height"].get<uint64_t>() + j["ids"].size() - 1;
      }
    }
    zmq_msg_close(&msg);
    wait_ms = 0;  // drain what is queued, then return
  }
  return newest;
}

}  // namespace otedama::chain::monero
