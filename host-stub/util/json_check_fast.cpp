/* json_check_fast.cpp — simdjson's parse and a walk of its tree; see json_check_fast.h. */
#include "util/json_check_fast.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include <simdjson.h>

/* Up to this many keys an object's keys are compared one by one; above, sorted. */
static constexpr size_t LINEAR_KEYS = 24;

/* Deeper texts (simdjson's DEPTH_ERROR) go to the full check, so the walk's recursion stays
 * shallow on any thread's stack; what modules hand over nests four or five levels. */
static constexpr size_t MAX_DEPTH = 64;

struct json_fast {
    simdjson::dom::parser parser;
    std::vector<std::string_view> keys; /* a large object's keys, reused */
    /* The text holds "\u0000" somewhere. simdjson refuses a raw control byte in a string, so
     * a NUL in a parsed string or key can only come from that escape: without it, no string
     * needs looking into. */
    bool may_hold_nul;
};

static bool no_nul(const json_fast *f, std::string_view s)
{
    return !f->may_hold_nul || s.find('\0') == std::string_view::npos;
}

/* Whether a backslash is followed by "u0000" (an escaped backslash before it only costs the
 * strings' look). Backslashes are few: memchr from one to the next. */
static bool has_nul_escape(const char *text, size_t len)
{
    const char *end = text + len;
    for (const char *p = static_cast<const char *>(memchr(text, '\\', len)); p != nullptr;
         p = static_cast<const char *>(memchr(p + 1, '\\', static_cast<size_t>(end - p - 1))))
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return true;
    return false;
}

static bool walk(json_fast *f, simdjson::dom::element e);

static bool walk_object(json_fast *f, simdjson::dom::object o)
{
    size_t n = o.size(); /* an exact count below 0xFFFFFF, which a 1 MiB text stays under */
    if (n <= LINEAR_KEYS) {
        std::string_view seen[LINEAR_KEYS];
        size_t count = 0;
        for (simdjson::dom::key_value_pair kv : o) {
            if (!no_nul(f, kv.key))
                return false;
            for (size_t i = 0; i < count; i++)
                if (seen[i] == kv.key)
                    return false;
            if (count == LINEAR_KEYS)
                return false; /* more than counted: leave it to the full check */
            seen[count++] = kv.key;
            if (!walk(f, kv.value))
                return false;
        }
        return true;
    }
    /* A large object: its keys sorted, then neighbours compared. The vector is the parser's,
     * so a nested large object is walked after this one's keys are checked and released. */
    f->keys.clear();
    for (simdjson::dom::key_value_pair kv : o) {
        if (!no_nul(f, kv.key))
            return false;
        f->keys.push_back(kv.key);
    }
    std::sort(f->keys.begin(), f->keys.end());
    if (std::adjacent_find(f->keys.begin(), f->keys.end()) != f->keys.end())
        return false;
    for (simdjson::dom::key_value_pair kv : o)
        if (!walk(f, kv.value))
            return false;
    return true;
}

static bool walk(json_fast *f, simdjson::dom::element e)
{
    switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: return walk_object(f, simdjson::dom::object(e));
    case simdjson::dom::element_type::ARRAY:
        for (simdjson::dom::element v : simdjson::dom::array(e))
            if (!walk(f, v))
                return false;
        return true;
    case simdjson::dom::element_type::STRING: return no_nul(f, std::string_view(e));
    case simdjson::dom::element_type::INT64: return true;
    case simdjson::dom::element_type::UINT64:
        return false; /* above INT64_MAX: jansson refuses it (json_int_t is 64-bit signed) */
    case simdjson::dom::element_type::DOUBLE:
        return true; /* finite: simdjson refuses a real that overflows, as jansson does */
    case simdjson::dom::element_type::BOOL:
    case simdjson::dom::element_type::NULL_VALUE: return true;
    }
    return false;
}

extern "C" json_fast *json_fast_new(void)
{
    try {
        json_fast *f = new json_fast();
        if (f->parser.allocate(64 * 1024, MAX_DEPTH) != simdjson::SUCCESS) {
            delete f;
            return nullptr;
        }
        return f;
    } catch (...) {
        return nullptr;
    }
}

extern "C" void json_fast_free(json_fast *f)
{
    delete f;
}

extern "C" bool json_fast_accepts(json_fast *f, const char *text, size_t len)
{
    try {
        simdjson::dom::element root;
        f->may_hold_nul = has_nul_escape(text, len);
        if (f->parser.parse(text, len, true).get(root) != simdjson::SUCCESS)
            return false;
        if (root.type() != simdjson::dom::element_type::OBJECT)
            return false;
        return walk(f, root);
    } catch (...) {
        return false;
    }
}
