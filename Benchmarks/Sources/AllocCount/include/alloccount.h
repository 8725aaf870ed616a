// Counts the process's heap allocations (issue 12: "0 allocations per 1,000 commands").
// Linked into a benchmark executable, its malloc, calloc, realloc, posix_memalign and
// aligned_alloc stand in for glibc's (the executable's symbols come first) and count each
// call before they hand it to glibc's own.
#ifndef ALLOCCOUNT_H
#define ALLOCCOUNT_H

#include <stdint.h>

/// Allocations made by the process so far (every thread).
uint64_t ac_allocations(void);

#endif
