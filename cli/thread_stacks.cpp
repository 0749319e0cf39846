// A floor under thread stack sizes that libraries choose for their own threads.
//
// civetweb (behind `troupe serve`) creates its threads with a fixed stack of
// about 100 KiB. glibc places every thread's static TLS on its stack, and the
// CUDA libraries troupe links (cuBLAS alone holds 92 KiB of TLS) leave such a
// thread too little stack to start: pthread_create fails with EINVAL and the
// server cannot listen, in any build with CUDA. This definition, in the troupe
// executable, interposes on libc's pthread_attr_setstacksize for every library
// the process loads and raises requests below kMinStack to kMinStack; larger
// requests pass through unchanged. Threads troupe starts itself use the default
// (8 MiB) and never come here.
#include <dlfcn.h>
#include <pthread.h>

#include <cstddef>

namespace {
constexpr size_t kMinStack = size_t{1} << 20;  // 1 MiB: the TLS above plus ample room for handlers
}

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) noexcept {
  using Fn = int (*)(pthread_attr_t*, size_t);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  if (real == nullptr) return 22;  // EINVAL: cannot happen with glibc
  return real(attr, size < kMinStack ? kMinStack : size);
}
