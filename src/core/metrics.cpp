#include <cmath>
#include <sstream>

#include "core/core.h"

namespace otedama {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

namespace {
enum Type { kCounter, kGauge, kHistogram };
const char* type_name(int t) { return t == kCounter ? "counter" : t == kGauge ? "gauge" : "histogram"; }

std::string escape_label(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}
std::string escape_help(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}
std::string label_text(const Labels& labels, const char* extra_key = nullptr, const std::string& extra_val = "") {
  if (labels.empty() && !extra_key) return "";
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    s += (first ? "" : ",") + k + "=\"" + escape_label(v) + "\"";
    first = false;
  }
  if (extra_key) s += std::string(first ? "" : ",") + extra_key + "=\"" + extra_val + "\"";
  return s + "}";
}
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::ostringstream o;
    o << (long long)v;
    return o.str();
  }
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}
}  // namespace

struct Metrics::Family {
  std::string name, help;
  int type;
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<std::string, Series> series;  // key: rendered labels
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::Family& Metrics::family(const std::string& name, const std::string& help, int type) {
  auto& f = families_[name];
  if (!f) {
    f = std::make_unique<Family>();
    f->name = name;
    f->help = help;
    f->type = type;
  } else if (f->type != type) {
    throw std::logic_error("metric " + name + " registered as " + type_name(f->type) + " and " + type_name(type));
  }
  return *f;
}

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = family(name, help, kCounter).series[label_text(labels)];
  if (!s.counter) s.labels = labels, s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = family(name, help, kGauge).series[label_text(labels)];
  if (!s.gauge) s.labels = labels, s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                              const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = family(name, help, kHistogram).series[label_text(labels)];
  if (!s.histogram) s.labels = labels, s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

void Metrics::add_collector(std::function<void(Metrics&)> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collect));
}

std::string Metrics::render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + escape_help(f->help) + "\n";
    out += "# TYPE " + name + " " + type_name(f->type) + "\n";
    for (const auto& [key, s] : f->series) {
      if (s.counter) out += name + key + " " + number(s.counter->value()) + "\n";
      if (s.gauge) out += name + key + " " + number(s.gauge->value()) + "\n";
      if (s.histogram) {
        const auto& h = *s.histogram;
        uint64_t cumulative = 0;
        for (size_t i = 0; i < h.bounds().size(); ++i) {
          cumulative += h.bucket_count(i);
          out += name + "_bucket" + label_text(s.labels, "le", number(h.bounds()[i])) + " " + std::to_string(cumulative) + "\n";
        }
        cumulative += h.bucket_count(h.bounds().size());
        out += name + "_bucket" + label_text(s.labels, "le", "+Inf") + " " + std::to_string(cumulative) + "\n";
        out += name + "_sum" + key + " " + number(h.sum()) + "\n";
        out += name + "_count" + key + " " + std::to_string(h.count()) + "\n";
      }
    }
  }
  return out;
}

Metrics& metrics() {
  static Metrics registry;
  return registry;
}

}  // namespace otedama
