// The share chain on disk: an append-only log. Record = length (4, LE) | flags (1) |
// check (4: the first bytes of sha256d over flags and share) | share bytes. A record torn by a
// killed process fails its length or check and is cut off when the file is opened again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/sha256.h"
#include "p2p/p2p.h"

namespace otedama::p2p {

namespace {

constexpr uint32_t kMaxRecord = 16u << 20;

std::runtime_error file_error(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

uint32_t check_of(uint8_t flags, ByteSpan body) {
  Bytes b;
  b.reserve(body.size() + 1);
  b.push_back(flags);
  b.insert(b.end(), body.begin(), body.end());
  Hash256 h = crypto::sha256d(b);
  return uint32_t(h[0]) | uint32_t(h[1]) << 8 | uint32_t(h[2]) << 16 | uint32_t(h[3]) << 24;
}

}  // namespace

ShareFile::ShareFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw file_error("cannot open the share chain file", path_);
}

ShareFile::~ShareFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<std::pair<Share, bool>> ShareFile::load() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) throw file_error("cannot stat", path_);
  Bytes data(size_t(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd_, data.data() + got, data.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw file_error("cannot read", path_);
    got += size_t(n);
  }
  std::vector<std::pair<Share, bool>> out;
  size_t pos = 0;
  while (data.size() - pos >= 9) {
    uint32_t len = uint32_t(data[pos]) | uint32_t(data[pos + 1]) << 8 | uint32_t(data[pos + 2]) << 16 |
                   uint32_t(data[pos + 3]) << 24;
    uint8_t flags = data[pos + 4];
    uint32_t check = uint32_t(data[pos + 5]) | uint32_t(data[pos + 6]) << 8 | uint32_t(data[pos + 7]) << 16 |
                     uint32_t(data[pos + 8]) << 24;
    if (len > kMaxRecord || data.size() - pos - 9 < len) break;
    ByteSpan body(data.data() + pos + 9, len);
    if (check_of(flags, body) != check) break;
    try {
      out.emplace_back(parse_share(body), (flags & 1) != 0);
    } catch (const std::invalid_argument&) {
      break;
    }
    pos += 9 + len;
  }
  if (pos != data.size()) {
    if (::ftruncate(fd_, off_t(pos)) != 0) throw file_error("cannot truncate the torn tail of", path_);
  }
  if (::lseek(fd_, 0, SEEK_END) < 0) throw file_error("cannot seek", path_);
  return out;
}

void ShareFile::sync() {
  if (::fdatasync(fd_) != 0) throw file_error("cannot sync", path_);
}

void ShareFile::append(const Share& share, bool block, bool sync_now) {
  Bytes body = serialize_share(share);
  uint8_t flags = block ? 1 : 0;
  uint32_t check = check_of(flags, body);
  Bytes rec;
  rec.reserve(body.size() + 9);
  chain::append_le32(rec, uint32_t(body.size()));
  rec.push_back(flags);
  chain::append_le32(rec, check);
  rec.insert(rec.end(), body.begin(), body.end());
  off_t end = ::lseek(fd_, 0, SEEK_END);
  size_t put = 0;
  while (put < rec.size()) {
    ssize_t n = ::write(fd_, rec.data() + put, rec.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      if (end >= 0 && ::ftruncate(fd_, end) != 0) {}  // keep the file a sequence of whole records
      errno = saved;
      throw file_error("cannot write", path_);
    }
    put += size_t(n);
  }
  if (sync_now) sync();
}

}  // namespace otedama::p2p
