// The dashboard's files: exact content types, an ETag per file (304 on If-None-Match), and
// Cache-Control: the page itself is revalidated every time, its scripts and styles after 5
// minutes, the pinned charting library after a day.
#include <cstdio>

#include "api/internal.h"

namespace otedama::api {

void add_web_routes(http::Router& router) {
  for (const WebAsset& a : web_assets()) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a: a content tag, not a security measure
    for (size_t i = 0; i < a.size; ++i) h = (h ^ a.data[i]) * 1099511628211ull;
    char etag[24];
    snprintf(etag, sizeof etag, "\"%016llx\"", (unsigned long long)h);
    std::string path = a.path;
    bool page = path == "/" || path.ends_with(".html");
    std::string cache = page ? "no-cache" : path.rfind("/vendor/", 0) == 0 ? "public, max-age=86400" : "public, max-age=300";
    std::string body(reinterpret_cast<const char*>(a.data), a.size);
    std::string type = a.content_type;
    router.add("GET", path, [body, type, cache, page, tag = std::string(etag)](const http::Request& r) {
      http::Response resp = http::Response::text(200, body, type);
      if (r.header("if-none-match") == tag) {
        resp.status = 304;
        resp.body.clear();
      }
      resp.headers.emplace_back("ETag", tag);
      resp.headers.emplace_back("Cache-Control", cache);
      resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
      if (page) {
        resp.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                                  "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
        resp.headers.emplace_back("Referrer-Policy", "no-referrer");
      }
      return resp;
    });
  }
}

}  // namespace otedama::api
