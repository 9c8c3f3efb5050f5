#include <nlohmann/json.hpp>

#include "http/http.h"

namespace otedama::http {

std::string Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Response Response::json(unsigned status, std::string body) { return Response{status, "application/json", std::move(body), {}}; }

Response Response::text(unsigned status, std::string body, std::string content_type) {
  return Response{status, std::move(content_type), std::move(body), {}};
}

Response Response::error(unsigned status, const std::string& message) {
  nlohmann::json j = {{"error", {{"code", status}, {"message", message}}}};
  return json(status, j.dump());
}

void Router::add(const std::string& method, const std::string& path, Handler handler) {
  bool prefix = path.size() >= 2 && path.compare(path.size() - 2, 2, "/*") == 0;
  routes_.push_back({method, prefix ? path.substr(0, path.size() - 1) : path, prefix, std::move(handler)});
}

void Router::add_websocket(const std::string& path, WebSocketRoute route) {
  websockets_.emplace_back(path, std::move(route));
}

void Router::set_filter(std::function<std::optional<Response>(const Request&)> filter) { filter_ = std::move(filter); }

std::optional<Response> Router::filter(const Request& request) const {
  if (!filter_) return std::nullopt;
  try {
    return filter_(request);
  } catch (const std::exception& e) {
    return Response::error(500, std::string("internal error: ") + e.what());
  }
}

const WebSocketRoute* Router::websocket(const std::string& path) const {
  for (const auto& [p, r] : websockets_)
    if (p == path) return &r;
  return nullptr;
}

Response Router::dispatch(const Request& request) const {
  if (auto refused = filter(request)) return *refused;
  if (websocket(request.path)) {
    if (request.method != "GET" && request.method != "HEAD") {
      Response r = Response::error(405, "method " + request.method + " is not allowed on " + request.path);
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    Response r = Response::error(426, request.path + " is a WebSocket endpoint: send Upgrade: websocket");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  }
  std::string allow;
  const Route* match = nullptr;
  for (const auto& r : routes_) {
    bool path_ok = r.prefix ? request.path.rfind(r.path, 0) == 0 && request.path.size() > r.path.size()
                            : request.path == r.path;
    if (!path_ok) continue;
    bool method_ok = r.method == request.method || (r.method == "GET" && request.method == "HEAD");
    if (method_ok) {
      match = &r;
      break;
    }
    allow += (allow.empty() ? "" : ", ") + r.method;
  }
  if (match) {
    try {
      return match->handler(request);
    } catch (const std::exception& e) {
      return Response::error(500, std::string("internal error: ") + e.what());
    }
  }
  if (!allow.empty()) {
    Response r = Response::error(405, "method " + request.method + " is not allowed on " + request.path);
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  return Response::error(404, "no such endpoint: " + request.path);
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r.method, r.prefix ? r.path + "*" : r.path);
  for (const auto& w : websockets_) out.emplace_back("GET", w.first);
  return out;
}

}  // namespace otedama::http
