// ATTNLAB_ASAN is defined when the build uses AddressSanitizer (GCC defines
// the first macro, clang answers the second). ASan reserves terabytes of
// address space for its shadow memory, so limits on the address space
// (setrlimit, ulimit -v) cannot apply to such a build.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define ATTNLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNLAB_ASAN 1
#endif
#endif
