// A C entry point over RE2 so Swift modules can validate regexes without C++ interop (which would
// have to be enabled on every module that imports MeshModel).
#include "CRE2Shim.h"

#include <re2/re2.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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

namespace {
// Compiled patterns by text: validation matches the same few dozen schema patterns (the Gateway
// API CRDs') over and over, and compiling costs far more than matching. Bounded: when full it is
// emptied, so patterns from input cannot grow it without limit. RE2 objects are safe to match
// from several threads at once.
std::mutex cache_lock;
std::unordered_map<std::string, std::shared_ptr<const RE2>> cache;
constexpr size_t cache_limit = 256;

std::shared_ptr<const RE2> compiled(const char *pattern, size_t length) {
    std::string key(pattern, length);
    {
        std::lock_guard<std::mutex> guard(cache_lock);
        auto found = cache.find(key);
        if (found != cache.end()) return found->second;
    }
    RE2::Options options;
    options.set_log_errors(false);
    auto made = std::make_shared<const RE2>(re2::StringPiece(pattern, length), options);
    std::lock_guard<std::mutex> guard(cache_lock);
    if (cache.size() >= cache_limit) cache.clear();
    cache.emplace(std::move(key), made);
    return made;
}
}  // namespace

extern "C" int meshd_re2_full_match(const char *pattern, size_t pattern_length, const char *text, size_t text_length) {
    auto regex = compiled(pattern, pattern_length);
    if (!regex->ok()) return -1;
    return RE2::FullMatch(re2::StringPiece(text, text_length), *regex) ? 1 : 0;
}
