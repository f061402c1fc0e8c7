// Reads a fuzz input as a stream of small decisions. Past the end every read
// returns zero, so any input, even an empty one, is a valid program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace attnlab::fuzz {

class Bytes {
 public:
  Bytes(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  template <typename T>
  T raw() {  // the next sizeof(T) bytes as a T (zero-filled past the end)
    unsigned char buf[sizeof(T)] = {};
    for (std::size_t i = 0; i < sizeof(T); ++i) buf[i] = byte();
    T value;
    std::memcpy(&value, buf, sizeof(T));
    return value;
  }
  // Up to `max` bytes, length chosen by the input.
  std::string string(std::size_t max) {
    const std::size_t n = std::min<std::size_t>(byte() % (max + 1), size_ - std::min(pos_, size_));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  // Everything not read yet.
  std::string_view rest() {
    const std::size_t start = std::min(pos_, size_);
    pos_ = size_;
    return {reinterpret_cast<const char*>(data_ + start), size_ - start};
  }

 private:
  const uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace attnlab::fuzz
