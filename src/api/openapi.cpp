// The OpenAPI 3.0 document of the API, and a readable HTML rendering of the same document.
#include "api/internal.h"

namespace otedama::api {

using json = nlohmann::json;

namespace {

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json query(const std::string& name, const std::string& description, const std::string& type = "string") {
  return {{"name", name}, {"in", "query"}, {"required", false}, {"description", description}, {"schema", {{"type", type}}}};
}

json answer(const std::string& description, const json& schema) {
  return {{"description", description}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

json error_answer(const std::string& description) { return answer(description, ref("Error")); }

json op(const std::string& summary, const std::string& description, const json& ok_schema, json extra = json::object()) {
  json o = {{"summary", summary},
            {"description", description},
            {"responses", {{"200", answer("OK", ok_schema)}, {"429", error_answer("Rate limited (Retry-After says when to retry)")}}}};
  for (auto& [k, v] : extra.items()) {
    if (k == "responses") {
      for (auto& [code, r] : v.items()) o["responses"][code] = r;
    } else {
      o[k] = v;
    }
  }
  return o;
}

json obj(json properties) { return {{"type", "object"}, {"properties", std::move(properties)}}; }
json num() { return {{"type", "number"}}; }
json integer() { return {{"type", "integer"}}; }
json str() { return {{"type", "string"}}; }
json boolean() { return {{"type", "boolean"}}; }
json array_of(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }

json build() {
  json coin = query("coin", "Only pools of this coin (bitcoin, litecoin, monero); 400 if no pool serves it");
  json pool = query("pool", "Only this pool (its name); 400 if there is none");
  json page = query("page", "Page number, from 1", "integer");
  json limit = query("limit", "Items per page, 1 to 100 (default 20)", "integer");
  json bad = error_answer("Bad parameter");
  json auth_needed = {{"security", json::array({{{"bearer", json::array()}}})},
                      {"responses",
                       {{"401", error_answer("No token, or an expired, revoked or unknown one")},
                        {"403", error_answer("The user's role may not do this")},
                        {"409", error_answer("The miner cannot do this now (none, or it failed)")}}}};
  json schemas = {
      {"Error", obj({{"error", obj({{"code", integer()}, {"message", str()}})}})},
      {"Hashrates", obj({{"1m", num()}, {"15m", num()}, {"1h", num()}, {"24h", num()}})},
      {"Shares", obj({{"valid", integer()}, {"stale", integer()}, {"duplicate", integer()}, {"invalid", integer()},
                      {"low_difficulty", integer()}, {"total", integer()}})},
      {"MinerState", obj({{"running", boolean()}, {"algorithm", str()}, {"pool", str()}, {"threads", integer()},
                          {"hashrate", num()}, {"accepted", integer()}, {"rejected", integer()}, {"detail", str()}})},
      {"PoolStats", obj({{"name", str()}, {"coin", str()}, {"algorithm", str()}, {"hashrate", ref("Hashrates")},
                         {"hashes_per_difficulty1", num()}, {"miners", integer()}, {"workers", integer()},
                         {"shares", ref("Shares")}, {"blocks_found", integer()}, {"effort", num()}, {"round_work", num()},
                         {"height", integer()}, {"network_difficulty", num()}, {"last_block_time", num()},
                         {"connections", integer()},
                         {"pps_operator_balance",
                          {{"nullable", true},
                           {"description", "PPS/FPPS pools only (else null): the operator's running balance in coins"},
                           {"allOf", json::array({ref("OperatorBalance")})}}}})},
      {"OperatorBalance",
       obj({{"reward_system", str()},
            {"confirmed", {{"type", "number"}, {"description", "matured block rewards minus share credits (negative: the pool is down)"}}},
            {"pending", {{"type", "number"}, {"description", "rewards of blocks not yet matured"}}},
            {"expected", {{"type", "number"}, {"description", "confirmed + pending"}}},
            {"rewards_confirmed", num()}, {"rewards_pending", num()},
            {"share_credits", {{"type", "number"}, {"description", "what the shares were credited, owed or paid"}}}})},
      {"Worker", obj({{"pool", str()}, {"coin", str()}, {"miner", str()}, {"worker", str()}, {"hashrate", ref("Hashrates")},
                      {"difficulty", num()}, {"last_share", num()}, {"first_share", num()}, {"shares", ref("Shares")}})},
      {"Block", obj({{"pool", str()}, {"coin", str()}, {"height", integer()}, {"hash", str()}, {"miner", str()},
                     {"worker", str()}, {"status", str()}, {"effort", num()}, {"network_difficulty", num()},
                     {"reward", num()}, {"time", num()}})},
      {"Payment", obj({{"pool", str()}, {"coin", str()}, {"address", str()}, {"amount", num()}, {"txid", str()},
                       {"time", num()}})},
  };
  json paths = {
      {"/api/status",
       {{"get", op("Node status", "Version, uptime, mode, readiness of each component, the built-in miner, coin heights, P2P peers.",
                   obj({{"name", str()}, {"version", str()}, {"uptime_seconds", num()}, {"ready", boolean()},
                        {"components", array_of(obj({{"name", str()}, {"ready", boolean()}, {"detail", str()}}))},
                        {"mining", obj({{"running", boolean()}, {"hashrate", num()}, {"algorithm", str()}})},
                        {"coins", array_of(obj({{"pool", str()}, {"coin", str()}, {"height", integer()}}))},
                        {"p2p", obj({{"enabled", boolean()}, {"peers", array_of(obj({{"address", str()}}))}})},
                        {"pools", array_of(obj({{"name", str()}, {"coin", str()}, {"running", boolean()}}))}}))}}},
      {"/api/stats",
       {{"get", op("Pool statistics", "Per pool: hashrate over 1m/15m/1h/24h (H/s), active miners and workers (a share in the last 15 min), shares by result, blocks found, the round's effort (1.0 = 100 %), network height and difficulty; and the built-in miner.",
                   obj({{"time", num()}, {"pools", array_of(ref("PoolStats"))}, {"miner", ref("MinerState")}}),
                   {{"parameters", {coin, pool}}, {"responses", {{"400", bad}}}})}}},
      {"/api/workers",
       {{"get", op("Workers", "Every worker seen in the last 24 h, most recent share first.",
                   obj({{"workers", array_of(ref("Worker"))}, {"total", integer()}}),
                   {{"parameters", {coin, pool}}, {"responses", {{"400", bad}}}})}}},
      {"/api/blocks",
       {{"get", op("Blocks found", "Blocks found by the pools, newest first.",
                   obj({{"blocks", array_of(ref("Block"))}, {"page", integer()}, {"limit", integer()}, {"total", integer()}}),
                   {{"parameters", {coin, page, limit}}, {"responses", {{"400", bad}}}})}}},
      {"/api/payments",
       {{"get", op("Payments", "Payments sent to miners, newest first.",
                   obj({{"payments", array_of(ref("Payment"))}, {"page", integer()}, {"limit", integer()}, {"total", integer()}}),
                   {{"parameters", {coin, page, limit, query("address", "Only payments to this address")}},
                    {"responses", {{"400", bad}}}})}}},
      {"/api/miners/{address}",
       {{"get", op("One miner", "Hashrate, shares, workers, balances (balance, pending, paid) and the 10 latest payments of an address.",
                   obj({{"address", str()}, {"hashrate", ref("Hashrates")}, {"shares", ref("Shares")}, {"last_share", num()},
                        {"workers", array_of(ref("Worker"))},
                        {"balances", array_of(obj({{"coin", str()}, {"balance", num()}, {"pending", num()}, {"paid", num()}}))},
                        {"balance", num()}, {"pending", num()}, {"paid", num()},
                        {"payments", array_of(ref("Payment"))}, {"payments_total", integer()}}),
                   {{"parameters",
                     {{{"name", "address"}, {"in", "path"}, {"required", true}, {"schema", str()}}, coin, pool}},
                    {"responses", {{"400", bad}, {"404", error_answer("Nothing known about this address")}}}})}}},
      {"/api/p2p",
       {{"get", op("P2P share chain", "The share chain (network, tip, height, next share difficulty, shares, orphans, blocks), its peers, the miners of the PPLNS window with their expected payout, and the blocks found. 404 when P2P is off.",
                   obj({{"network", str()}, {"height", integer()}, {"tip", str()}, {"peers", array_of(json::object())},
                        {"window", array_of(json::object())}, {"blocks", array_of(json::object())}}),
                   {{"responses", {{"404", error_answer("P2P is off")}}}})}}},
      {"/api/p2p/shares",
       {{"get", op("Share-chain shares", "The best chain's shares, newest first (height, hash, prev, payout script, bits, time, work, block, coin height, reward): enough to recompute every coinbase's PPLNS split.",
                   obj({{"shares", array_of(json::object())}}),
                   {{"parameters", {query("limit", "At most this many (1..100000, default 100)", "integer")}},
                    {"responses", {{"404", error_answer("P2P is off")}}}})}}},
      {"/api/p2p/bans",
       {{"post", op("Ban a P2P peer", "Admin only. Audited. Body {\"peer\": node id (hex) or IP, \"seconds\": N}.",
                    obj({{"ok", boolean()}, {"peer", str()}, {"seconds", integer()}}), auth_needed)}}},
      {"/api/p2p/bans/{peer}",
       {{"delete", op("Lift a P2P ban", "Admin only. Audited.", obj({{"ok", boolean()}, {"peer", str()}}),
                      auth_needed)}}},
      {"/api/mining/start",
       {{"post", op("Start the built-in miner", "Admin only. Audited.", obj({{"ok", boolean()}, {"miner", ref("MinerState")}}),
                    auth_needed)}}},
      {"/api/mining/stop",
       {{"post", op("Stop the built-in miner", "Admin only. Audited.", obj({{"ok", boolean()}, {"miner", ref("MinerState")}}),
                    auth_needed)}}},
      {"/api/auth/login",
       {{"post", op("Log in", "Exchanges a user's name and password for a bearer token that expires after api.auth.token_expiry. Failed logins are audited.",
                    obj({{"token", str()}, {"token_type", str()}, {"expires_at", num()}, {"expires_in", num()},
                         {"user", str()}, {"role", str()}}),
                    {{"requestBody",
                      {{"required", true},
                       {"content", {{"application/json", {{"schema", obj({{"username", str()}, {"password", str()}})}}}}}}},
                     {"responses", {{"400", error_answer("Body is not {username, password}")},
                                    {"401", error_answer("Wrong username or password")}}}})}}},
      {"/api/auth/logout",
       {{"post", op("Log out", "Revokes the bearer token sent with the request.", obj({{"revoked", boolean()}}),
                    {{"security", json::array({{{"bearer", json::array()}}})},
                     {"responses", {{"401", error_answer("No token, or not a live one")}}}})}}},
      {"/api/docs", {{"get", op("This document", "The OpenAPI 3.0 document (JSON).", {{"type", "object"}})}}},
      {"/api/docs.html",
       {{"get", {{"summary", "This document, to read"},
                 {"responses", {{"200", {{"description", "HTML"}, {"content", {{"text/html", {{"schema", str()}}}}}}}}}}}}},
      {"/api/ws",
       {{"get",
         {{"summary", "WebSocket of live events"},
          {"description",
           "Upgrade to a WebSocket. Send {\"op\":\"subscribe\",\"topics\":[...]} (or connect with ?topics=a,b) with topics "
           "hashrate (every few seconds: per-pool hashrate and the built-in miner), share (batches: {type:shares,count,shares}), "
           "block, payment, miner (built-in miner state). {\"op\":\"unsubscribe\"} and {\"op\":\"ping\"} also work. The server "
           "pings idle clients and drops those that do not answer or read too slowly; connections per IP are capped (429)."},
          {"parameters", {query("topics", "Comma-separated topics to subscribe at once")}},
          {"responses",
           {{"101", {{"description", "Switching protocols"}}},
            {"426", error_answer("Not a WebSocket upgrade")},
            {"429", error_answer("Too many connections from this IP, or rate limited")}}}}}}},
  };
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Otedama API"}, {"version", std::string(version())},
                    {"description", "REST and WebSocket API of an Otedama node. Hashrates are in hashes per second; times are Unix seconds. Errors are {\"error\":{\"code\",\"message\"}}."}}},
          {"servers", json::array({{{"url", "/"}}})},
          {"paths", paths},
          {"components",
           {{"schemas", schemas},
            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace

const std::string& openapi_json() {
  static const std::string doc = build().dump(2);
  return doc;
}

std::string openapi_html() {
  static const std::string page = [] {
    json doc = json::parse(openapi_json());
    std::string h =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width,initial-scale=1\"><title>Otedama API</title><style>"
        "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;color:#1d2330}"
        "h2{margin-top:2rem;font-size:1.05rem}code{background:#eef1f6;padding:.1rem .3rem;border-radius:3px}"
        ".m{display:inline-block;min-width:3.5rem;font-weight:700;color:#fff;border-radius:3px;text-align:center;"
        "margin-right:.5rem}.get{background:#2f7d4f}.post{background:#2d5fa8}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #dde;padding:.2rem .6rem;text-align:left;vertical-align:top}</style></head><body>";
    h += "<h1>" + escape(doc["info"]["title"]) + " " + escape(doc["info"]["version"]) + "</h1><p>" +
         escape(doc["info"]["description"]) + " The machine-readable document is <a href=\"/api/docs\">/api/docs</a>.</p>";
    for (auto& [path, item] : doc["paths"].items()) {
      for (auto& [method, o] : item.items()) {
        std::string m = method;
        std::string up = m;
        for (auto& c : up) c = char(toupper((unsigned char)c));
        h += "<h2><span class=\"m " + m + "\">" + up + "</span><code>" + escape(path) + "</code> " +
             escape(o.value("summary", "")) + "</h2>";
        if (o.contains("description")) h += "<p>" + escape(o["description"]) + "</p>";
        if (o.contains("security")) h += "<p><b>Needs</b> <code>Authorization: Bearer TOKEN</code>.</p>";
        if (o.contains("parameters")) {
          h += "<table><tr><th>parameter</th><th>in</th><th></th></tr>";
          for (auto& p : o["parameters"])
            h += "<tr><td><code>" + escape(p["name"]) + "</code></td><td>" + escape(p["in"]) + "</td><td>" +
                 escape(p.value("description", "")) + "</td></tr>";
          h += "</table>";
        }
        h += "<p>Answers: ";
        bool first = true;
        for (auto& [code, r] : o["responses"].items()) {
          h += (first ? "" : ", ") + std::string("<b>") + code + "</b> " + escape(r.value("description", ""));
          first = false;
        }
        h += "</p>";
      }
    }
    return h + "</body></html>";
  }();
  return page;
}

}  // namespace otedama::api
