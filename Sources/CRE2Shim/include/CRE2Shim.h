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

/// Whether `text` matches `pattern` as a whole (RE2::FullMatch), as Envoy's safe_regex route and
/// header matchers match. Returns 1 on a match, 0 on none, -1 when the pattern does not compile.
int meshd_re2_full_match(const char *pattern, size_t pattern_length, const char *text, size_t text_length);

#ifdef __cplusplus
}
#endif

#endif
