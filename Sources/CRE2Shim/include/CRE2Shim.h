#ifndef MESHD_CRE2SHIM_H
#define MESHD_CRE2SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Compiles `pattern` (UTF-8, `length` bytes) with RE2's default options, the way Envoy's
/// safe_regex and gRPC's xDS client do. Returns 1 when RE2 accepts it and stores the compiled
/// program size in `*program_size`; returns 0 when it does not and writes RE2's error text,
/// NUL-terminated and truncated to `error_capacity` bytes, into `error`.
/// Thread-safe: nothing is shared between calls.
int meshd_re2_check(const char *pattern, size_t length, char *error, size_t error_capacity, int *program_size);

#ifdef __cplusplus
}
#endif

#endif
