#pragma once

#include <cstdio>
#include <cstdlib>

// HAREMQ_ASSERT: a broken invariant is a bug, not an expected failure: log it and abort,
// in every build type (the checks guarded by it are cheap and never on a per-byte loop).
#define HAREMQ_ASSERT(cond)                                                                     \
  do {                                                                                          \
    if (!(cond)) [[unlikely]] {                                                                 \
      std::fprintf(stderr, "haremq: assertion failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)
