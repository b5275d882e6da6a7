// A C entry point over RE2 so Swift modules can validate regexes without C++ interop (which would
// have to be enabled on every module that imports MeshModel).
#include "CRE2Shim.h"

#include <re2/re2.h>

#include <cstring>
#include <string>

extern "C" int meshd_re2_check(const char *pattern, size_t length, char *error, size_t error_capacity,
                               int *program_size) {
    RE2::Options options;
    options.set_log_errors(false);  // the caller reports the error; RE2 must not write to stderr
    RE2 compiled(re2::StringPiece(pattern, length), options);
    if (compiled.ok()) {
        if (program_size != nullptr) *program_size = compiled.ProgramSize();
        return 1;
    }
    if (error != nullptr && error_capacity > 0) {
        const std::string &text = compiled.error();
        size_t count = text.size() < error_capacity - 1 ? text.size() : error_capacity - 1;
        std::memcpy(error, text.data(), count);
        error[count] = '\0';
    }
    return 0;
}

extern "C" int meshd_re2_full_match(const char *pattern, size_t pattern_length, const char *text, size_t text_length) {
    RE2::Options options;
    options.set_log_errors(false);
    RE2 compiled(re2::StringPiece(pattern, pattern_length), options);
    if (!compiled.ok()) return -1;
    return RE2::FullMatch(re2::StringPiece(text, text_length), compiled) ? 1 : 0;
}
