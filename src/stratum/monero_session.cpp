// Monero-style Stratum on a Connection: login, getjob, submit, keepalived and pushed jobs
// (docs/stratum-monero.md). Framing, flood limits, bans and TLS are the Connection's, shared
// with Stratum v1. Share checks are asynchronous: the handler hashes on its worker threads and
// the answer comes back to this loop, so no connection waits on another's RandomX hash.
#include "stratum/connection.h"

namespace otedama::stratum {

namespace {

constexpr int monero_error = -1;  // what nodejs-pool and p2pool send; miners show the message
constexpr size_t max_retired_jobs = 32;

bool parse_nonce_hex(std::string_view s, uint32_t& out) {  // 4 bytes as they sit in the blob
  std::array<uint8_t, 8> b{};
  if (!parse_hex_bytes(s, 4, b)) return false;
  out = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  return true;
}

const std::string* string_param(const json& params, const char* key) {
  auto it = params.find(key);
  return it != params.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

void check_job(const MoneroJob& job) {
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument("monero job '" + job.id.substr(0, 64) + "': " + what);
  };
  if (job.id.empty() || job.id.size() > 64) bad("the id must be 1..64 characters");
  if (job.blob_hex.size() % 2 || !is_hex(job.blob_hex)) bad("blob is not hex");
  if (job.blob_hex.size() < (job.nonce_offset + 4) * 2) bad("blob too short for its nonce");
  if ((job.target_hex.size() != 8 && job.target_hex.size() != 16) || !is_hex(job.target_hex))
    bad("target must be 8 or 16 hex digits");
  if (job.difficulty == 0) bad("difficulty must be positive");
  if (job.seed_hash_hex.size() != 64 || !is_hex(job.seed_hash_hex)) bad("seed_hash must be 64 hex digits");
  if (!job.next_seed_hash_hex.empty() && (job.next_seed_hash_hex.size() != 64 || !is_hex(job.next_seed_hash_hex)))
    bad("next_seed_hash must be 64 hex digits");
  if (job.algo.empty() || job.algo.size() > 32) bad("algo must be 1..32 characters");
}

}  // namespace

void Connection::handle_monero(const std::string& method, const json& req, Clock::time_point now) {
  static const json no_params = json::object();
  const json* params = &no_params;
  if (auto p = req.find("params"); p != req.end() && !p->is_null()) {
    if (!p->is_object()) return reply_error(error::invalid_params, "Invalid params: not an object");
    params = &*p;
  }
  if (method == "submit") return on_monero_submit(*params, now);
  if (method == "login") return on_login(*params);
  if (method == "getjob") return on_getjob(*params);
  if (method == "keepalived") {
    if (!check_session_token(*params)) return;
    return reply("{\"status\":\"KEEPALIVED\"}");
  }
  reply_error(error::method_not_found, "Method not found: " + method.substr(0, 64));
}

// Requests after login name the session by the id its login answer gave.
bool Connection::check_session_token(const json& params) {
  const std::string* id = string_param(params, "id");
  if (!authorized() || !id || *id != session_token) {
    reply_error(monero_error, "Unauthenticated");
    return false;
  }
  return true;
}

void Connection::on_login(const json& params) {
  const std::string* login = string_param(params, "login");
  if (!login || login->empty() || login->size() > 256)
    return reply_error(error::invalid_params, "Invalid params: login must be a wallet address (1..256 characters)");
  if (params.contains("pass") && !params["pass"].is_string() && !params["pass"].is_null())
    return reply_error(error::invalid_params, "Invalid params: pass must be a string");
  if (authorized()) return reply_error(monero_error, "Already logged in");
  if (const std::string* agent = string_param(params, "agent")) user_agent_ = agent->substr(0, 128);
  WorkerName name = parse_worker_name(*login);
  if (name.worker.empty()) {
    if (const std::string* rig = string_param(params, "rigid"); rig && !rig->empty()) {
      name.worker = rig->substr(0, 64);
      name.user = name.address + "." + name.worker;
    }
  }
  std::vector<std::string> algos;
  if (auto it = params.find("algo"); it != params.end() && !it->is_null()) {
    if (!it->is_array()) return reply_error(error::invalid_params, "Invalid params: algo must be a list");
    for (const auto& a : *it)
      if (a.is_string()) algos.push_back(a.get<std::string>());
  }
  const std::string* pass = string_param(params, "pass");
  std::string id = req_id;  // the handler may send things of its own
  AuthResult r = server->handler ? server->handler->authorize(*this, name, pass ? *pass : "")
                                 : AuthResult{false, "stopping"};
  if (closed || closing) return;
  req_id = id;
  req_v2 = true;
  if (!r.ok) return reply_error(monero_error, r.error.empty() ? "Unauthorized" : r.error);
  if (name.fixed_difficulty) set_fixed_difficulty(*name.fixed_difficulty);
  std::optional<MoneroJob> job = server->handler ? server->handler->monero_job(*this) : std::nullopt;
  if (closed || closing) return;
  req_id = id;
  req_v2 = true;
  if (!job) return reply_error(monero_error, "The pool has no work yet (no contact with its coin daemon); retry later");
  if (!algos.empty() && std::find(algos.begin(), algos.end(), job->algo) == algos.end())
    return reply_error(monero_error, "Unsupported algorithm: this pool mines " + job->algo);
  workers_.assign(1, name.user);
  login_address_ = name.address;
  subscribed_ = true;
  char token[17];
  std::snprintf(token, sizeof token, "%016llx",
                (unsigned long long)(server->fingerprint_seed ^ (id_ * 0x9e3779b97f4a7c15ull)));
  session_token = token;
  std::string job_json;
  try {
    job_json = accept_monero_job(std::move(*job));
  } catch (const std::invalid_argument& e) {
    spdlog::error("stratum {}: {}", cfg().name, e.what());
    workers_.clear();
    return reply_error(monero_error, "The pool could not make a job; retry later");
  }
  std::string result = "{\"id\":\"" + session_token + "\",\"job\":" + job_json + ",\"extensions\":[\"algo\"," +
                       (cfg().nicehash ? "\"nicehash\"," : "") + "\"keepalive\"],\"status\":\"OK\"}";
  reply(result);
}

void Connection::on_getjob(const json& params) {
  if (!check_session_token(params)) return;
  std::string id = req_id;
  std::optional<MoneroJob> job = server->handler ? server->handler->monero_job(*this) : std::nullopt;
  if (closed || closing) return;
  req_id = id;
  req_v2 = true;
  if (!job) return reply_error(monero_error, "The pool has no work right now; retry later");
  try {
    reply(accept_monero_job(std::move(*job)));
  } catch (const std::invalid_argument& e) {
    spdlog::error("stratum {}: {}", cfg().name, e.what());
    reply_error(monero_error, "The pool could not make a job; retry later");
  }
}

std::string Connection::accept_monero_job(MoneroJob job) {
  check_job(job);
  for (const auto& s : monero_jobs)
    if (s.job->id == job.id) throw std::invalid_argument("monero job '" + job.id + "': the id was used before");
  auto retire = [&](const std::string& id) {
    if (retired_jobs.size() >= max_retired_jobs) retired_jobs.erase(retired_jobs.begin());
    retired_jobs.push_back(id);
  };
  if (job.clean) {
    for (const auto& s : monero_jobs) retire(s.job->id);
    monero_jobs.clear();
  } else if (monero_jobs.size() >= cfg().max_jobs_per_session) {
    retire(monero_jobs.front().job->id);
    monero_jobs.erase(monero_jobs.begin());
  }
  difficulty_ = double(job.difficulty);  // what this session now mines at
  SentMoneroJob s;
  s.job = std::make_shared<const MoneroJob>(std::move(job));
  monero_jobs.push_back(std::move(s));
  has_job = true;
  return monero_job_json(*monero_jobs.back().job, session_token);
}

void Connection::push_monero_job(MoneroJob job) {
  std::string params = accept_monero_job(std::move(job));
  send("{\"jsonrpc\":\"2.0\",\"method\":\"job\",\"params\":" + params + "}\n");
}

void Connection::on_monero_submit(const json& params, Clock::time_point now) {
  // A rejection found here; stale shares do not count against the miner (ban window).
  auto refuse = [&](std::string_view message, int code) {
    Counter& counter = code == error::job_not_found ? server->m_stale
                       : code == error::duplicate   ? server->m_duplicate
                                                    : server->m_invalid;
    counter.inc();
    if (server->handler) server->handler->on_rejected(*this, code, message);
    if (closed || closing) return;
    if (code != error::unauthorized) reply_error(monero_error, message);  // else answered already
    if (code != error::job_not_found) record_share(now, false);
  };
  if (!check_session_token(params)) return refuse("Unauthenticated", error::unauthorized);
  const std::string* job_id = string_param(params, "job_id");
  const std::string* nonce_hex = string_param(params, "nonce");
  const std::string* result_hex = string_param(params, "result");
  if (!job_id || !nonce_hex || !result_hex)
    return refuse("Invalid params: job_id, nonce and result are strings", error::invalid_params);
  SentMoneroJob* sent = nullptr;
  for (auto it = monero_jobs.rbegin(); it != monero_jobs.rend(); ++it)
    if (it->job->id == *job_id) {
      sent = &*it;
      break;
    }
  if (!sent) {
    if (std::find(retired_jobs.begin(), retired_jobs.end(), *job_id) != retired_jobs.end())
      return refuse("Stale job", error::job_not_found);
    return refuse("Invalid job id", error::other);
  }
  uint32_t nonce = 0;
  if (!parse_nonce_hex(*nonce_hex, nonce)) return refuse("Invalid nonce", error::other);
  if (cfg().nicehash && uint8_t(nonce >> 24) != nonce_byte_)
    return refuse("Invalid nonce: outside this connection's NiceHash range", error::other);
  std::array<uint8_t, 8> chunk{};
  Hash256 claimed{};
  if (result_hex->size() != 64) return refuse("Invalid result", error::other);
  for (size_t i = 0; i < 4; ++i) {
    if (!parse_hex_bytes(std::string_view(*result_hex).substr(16 * i, 16), 8, chunk))
      return refuse("Invalid result", error::other);
    std::copy(chunk.begin(), chunk.end(), claimed.begin() + 8 * i);
  }
  uint64_t seed = server->fingerprint_seed ^ (id_ * 0x9e3779b97f4a7c15ull);
  if (!sent->seen.insert(ShareFingerprints::fingerprint(seed, 0, 0, nonce, 0)))
    return refuse("Duplicate share", error::duplicate);
  if (pending_checks >= cfg().max_pending_checks) {
    server->m_protocol_errors.inc();
    return reply_error(monero_error, "Too many pending shares");
  }
  if (!server->handler) return;
  MoneroShare share{sent->job, workers_.empty() ? std::string() : workers_.front(), nonce, claimed};
  ++pending_checks;
  auto t0 = Clock::now();
  auto self = shared_from_this();
  server->handler->check_monero_share(*this, std::move(share),
                                      [self, id = req_id, now, t0](ShareResult r) mutable {
                                        asio::post(self->server->io, [self, id = std::move(id), r = std::move(r), now,
                                                                      t0]() mutable {
                                          self->finish_monero_submit(std::move(id), r, now, t0);
                                        });
                                      });
}

void Connection::finish_monero_submit(std::string id, const ShareResult& r, Clock::time_point received,
                                      Clock::time_point t0) {
  if (pending_checks) --pending_checks;
  server->m_check_seconds.observe(std::chrono::duration<double>(Clock::now() - t0).count());
  if (closed || closing) return;
  req_id = std::move(id);
  req_v2 = true;
  if (r.valid) {
    server->m_accepted.inc();
    if (r.block_candidate) server->m_blocks.inc();
    reply("{\"status\":\"OK\"}");
    record_share(received, true);
  } else {
    (r.error_code == error::low_difficulty ? server->m_low_difficulty : server->m_invalid).inc();
    reply_error(monero_error, r.error_message.empty() ? std::string_view(error_text(r.error_code)) : r.error_message);
    record_share(received, false);
  }
}

bool Server::send_monero_job(SessionId id, MoneroJob job) {
  auto it = impl_->sessions.find(id);
  if (it == impl_->sessions.end() || !it->second->ready_for_jobs() || !it->second->monero()) return false;
  auto c = it->second;
  c->push_monero_job(std::move(job));
  return true;
}

}  // namespace otedama::stratum
