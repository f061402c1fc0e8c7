// Which sanitizer a build uses (GCC defines the __SANITIZE_* macros, clang
// answers __has_feature).
//
// ATTNLAB_ASAN: AddressSanitizer. ATTNLAB_SHADOW_MEMORY: AddressSanitizer
// or ThreadSanitizer, which reserve terabytes of address space for their
// shadow memory, so a limit on the address space (setrlimit, ulimit -v)
// cannot apply to such a build.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define ATTNLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNLAB_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define ATTNLAB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ATTNLAB_TSAN 1
#endif
#endif

#if defined(ATTNLAB_ASAN) || defined(ATTNLAB_TSAN)
#define ATTNLAB_SHADOW_MEMORY 1
#endif
