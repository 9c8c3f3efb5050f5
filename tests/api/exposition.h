// A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws
// std::runtime_error naming the line on anything a scraper would reject or misread.
#pragma once

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace otedama::test {

struct Exposition {
  std::map<std::string, std::string> types;   // family -> counter|gauge|histogram|summary|untyped
  std::map<std::string, double> samples;      // name{labels as sent} -> value
  double value(const std::string& series) const {
    auto it = samples.find(series);
    if (it == samples.end()) throw std::runtime_error("no series " + series);
    return it->second;
  }
  // Sum over the series of `name` whose labels contain every `needle` (e.g. result="valid").
  double sum(const std::string& name, const std::vector<std::string>& needles = {}) const {
    double t = 0;
    for (const auto& [k, v] : samples) {
      if (k.compare(0, name.size(), name) != 0 || (k.size() > name.size() && k[name.size()] != '{')) continue;
      bool all = true;
      for (const auto& n : needles) all = all && k.find(n) != std::string::npos;
      if (all) t += v;
    }
    return t;
  }
};

inline double parse_sample_value(const std::string& s, int line) {
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  size_t used = 0;
  double v;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty()) throw std::runtime_error("line " + std::to_string(line) + ": bad value '" + s + "'");
  return v;
}

inline Exposition parse_exposition(const std::string& text) {
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_re("[a-zA-Z_][a-zA-Z0-9_]*");
  Exposition e;
  std::set<std::string> helped, sampled_families;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("the exposition must end with a newline");
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto fail = [&](const std::string& why) { throw std::runtime_error("line " + std::to_string(n) + ": " + why + ": " + line); };
  auto family_of = [&](const std::string& name) {
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        std::string base = name.substr(0, name.size() - s.size());
        if (e.types.count(base) && (e.types[base] == "histogram" || e.types[base] == "summary")) return base;
      }
    }
    return name;
  };
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line.substr(1));
      std::string kind, name;
      ls >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a comment
      if (!std::regex_match(name, name_re)) fail("bad metric name");
      if (kind == "TYPE") {
        std::string type, extra;
        ls >> type >> extra;
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped")
          fail("bad type");
        if (!extra.empty()) fail("trailing text");
        if (e.types.count(name)) fail("second TYPE for " + name);
        if (sampled_families.count(name)) fail("TYPE after samples of " + name);
        e.types[name] = type;
      } else if (!helped.insert(name).second) {
        fail("second HELP for " + name);
      }
      continue;
    }
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    std::string name = line.substr(0, i);
    if (!std::regex_match(name, name_re)) fail("bad metric name");
    std::string series = name;
    std::set<std::string> label_names;
    if (i < line.size() && line[i] == '{') {
      size_t start = i;
      ++i;
      while (true) {
        if (i >= line.size()) fail("unterminated labels");
        if (line[i] == '}') break;
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) fail("label without '='");
        std::string label = line.substr(i, eq - i);
        if (!std::regex_match(label, label_re)) fail("bad label name '" + label + "'");
        if (!label_names.insert(label).second) fail("repeated label " + label);
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') fail("label value not quoted");
        ++i;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size() || (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n'))
              fail("bad escape in label value");
            ++i;
          }
          ++i;
        }
        if (i >= line.size()) fail("unterminated label value");
        ++i;
        if (i < line.size() && line[i] == ',') ++i;
        else if (i < line.size() && line[i] != '}') fail("expected ',' or '}'");
      }
      series = name + line.substr(start, i - start + 1);
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') fail("no value");
    std::istringstream rest(line.substr(i + 1));
    std::string value, ts, extra;
    rest >> value >> ts >> extra;
    if (!extra.empty()) fail("trailing text");
    if (!ts.empty()) {
      for (char c : ts)
        if (!isdigit((unsigned char)c) && c != '-') fail("bad timestamp");
    }
    double v = parse_sample_value(value, n);
    std::string fam = family_of(name);
    auto t = e.types.find(fam);
    if (t != e.types.end() && t->second == "counter" && (v < 0 || std::isnan(v))) fail("negative counter");
    if (t != e.types.end() && t->second == "histogram" && name == fam) fail("histogram sample without suffix");
    sampled_families.insert(fam);
    if (!e.samples.emplace(series, v).second) fail("duplicate series");
  }
  // Histograms: cumulative buckets ending in +Inf == _count.
  for (const auto& [fam, type] : e.types) {
    if (type != "histogram") continue;
    std::map<std::string, std::vector<std::pair<double, double>>> by_labels;  // labels w/o le -> (le, count)
    for (const auto& [series, v] : e.samples) {
      if (series.rfind(fam + "_bucket{", 0) != 0) continue;
      auto le = series.find("le=\"");
      if (le == std::string::npos) throw std::runtime_error(series + ": bucket without le");
      auto end = series.find('"', le + 4);
      double bound = parse_sample_value(series.substr(le + 4, end - le - 4), 0);
      std::string rest = series.substr(fam.size() + 7);
      rest.erase(le - fam.size() - 7, end + 1 - le);
      by_labels[rest].emplace_back(bound, v);
    }
    for (auto& [labels, buckets] : by_labels) {
      std::sort(buckets.begin(), buckets.end());
      for (size_t k = 1; k < buckets.size(); ++k)
        if (buckets[k].second < buckets[k - 1].second) throw std::runtime_error(fam + ": buckets not cumulative");
      if (buckets.empty() || !std::isinf(buckets.back().first)) throw std::runtime_error(fam + ": no +Inf bucket");
    }
  }
  return e;
}

}  // namespace otedama::test
