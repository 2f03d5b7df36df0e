/* json_check_fast.cpp — simdjson's parse and a walk of its tree; see json_check_fast.h. */
#include "util/json_check_fast.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include <simdjson.h>

/* Up to this many keys an object's keys go to a small hash set; above, they are sorted. */
static constexpr size_t SMALL_KEYS = 24;
static constexpr size_t SLOTS = 64; /* a power of two, well above SMALL_KEYS */

/* Deeper texts (simdjson's DEPTH_ERROR) go to the full check. */
static constexpr size_t MAX_DEPTH = 64;

/* A key as the walk compares it: its length, its first and its last eight bytes (zero-filled
 * when shorter; they overlap below 16), so that two keys of up to 16 bytes are equal exactly
 * when these are, with no memcmp, and most unequal longer ones differ in them too. */
struct key_ref {
    uint64_t len, head, tail;
    const char *text;
    bool operator==(const key_ref &o) const
    {
        return len == o.len && head == o.head && tail == o.tail &&
               (len <= 16 || memcmp(text, o.text, len) == 0);
    }
    bool operator<(const key_ref &o) const
    {
        int c = memcmp(text, o.text, std::min(len, o.len));
        return c != 0 ? c < 0 : len < o.len;
    }
    size_t slot() const
    {
        return static_cast<size_t>(
                   ((head ^ tail * 0x9E3779B97F4A7C15ULL) + len) * 0xC2B2AE3D27D4EB4FULL >> 58) &
               (SLOTS - 1);
    }
};

struct json_fast {
    simdjson::dom::parser parser;
    std::vector<key_ref> keys; /* a large object's keys, reused */
    /* The small set: a slot is in use when its stamp is the current object's. */
    uint32_t stamp[SLOTS];
    uint8_t slot_key[SLOTS]; /* an index into the object's keys */
    uint32_t object;         /* the current object's stamp */
};

/* Whether a backslash is followed by "u0000" (an escaped backslash before it only sends the
 * text to the full check). Backslashes are few: memchr from one to the next. */
static bool has_nul_escape(const char *text, size_t len)
{
    const char *end = text + len;
    for (const char *p = static_cast<const char *>(memchr(text, '\\', len)); p != nullptr;
         p = static_cast<const char *>(memchr(p + 1, '\\', static_cast<size_t>(end - p - 1))))
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return true;
    return false;
}

/* simdjson's tape (its doc/tape.md; dom::document's public members): one 64-bit word a value,
 * the type in the top byte; an object or array start holds the index just past its end, a
 * string the offset in string_buf of its 32-bit length and bytes, and a number takes a second
 * word. Walked in one pass, it is several times cheaper than the dom::element API's recursion
 * (2026-12-02, callgrind on the adverse station: the walk was a third of the fast half). */
static uint8_t tape_type(uint64_t word)
{
    return static_cast<uint8_t>(word >> 56);
}

__attribute__((always_inline)) static inline size_t after_value(const uint64_t *tape, size_t i)
{
    switch (tape_type(tape[i])) {
    case '{':
    case '[': return static_cast<uint32_t>(tape[i]);
    case 'l':
    case 'u':
    case 'd': return i + 2;
    default: return i + 1;
    }
}

/* Up to eight bytes at `p` as a word (the first at the lowest byte), zero-filled: read with
 * fixed-size loads only, none past the `n` bytes. */
__attribute__((always_inline)) static inline uint64_t load_upto8(const char *p, size_t n)
{
    uint64_t v = 0;
    if (n >= 8) {
        memcpy(&v, p, 8);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        v = lo | static_cast<uint64_t>(hi) << (8 * (n - 4));
    } else if (n > 0) {
        const auto *u = reinterpret_cast<const unsigned char *>(p);
        v = u[0] | static_cast<uint64_t>(u[n / 2]) << (8 * (n / 2)) |
            static_cast<uint64_t>(u[n - 1]) << (8 * (n - 1));
    }
    return v;
}

/* Inlined: it runs for every key of every text. */
__attribute__((always_inline)) static inline key_ref key_at(const uint8_t *strings, uint64_t word)
{
    const uint8_t *at = strings + (word & simdjson::internal::JSON_VALUE_MASK);
    uint32_t len;
    memcpy(&len, at, sizeof len);
    const char *text = reinterpret_cast<const char *>(at + sizeof len);
    uint64_t tail = 0;
    if (len > 8)
        memcpy(&tail, text + len - 8, 8);
    return key_ref{len, load_upto8(text, len), tail, text};
}

/* Whether the object starting at tape[at] has no key twice (its own keys: nested objects are
 * met later in the pass). */
static bool keys_distinct(json_fast *f, const uint64_t *tape, const uint8_t *strings, size_t at)
{
    size_t end = static_cast<uint32_t>(tape[at]) - 1; /* its '}' */
    if (++f->object == 0) { /* the stamps wrapped: none may look current */
        memset(f->stamp, 0, sizeof f->stamp);
        f->object = 1;
    }
    const uint32_t object = f->object;
    key_ref seen[SMALL_KEYS];
    size_t count = 0;
    size_t i = at + 1;
    for (; i < end && count < SMALL_KEYS; i = after_value(tape, i + 1)) {
        key_ref k = key_at(strings, tape[i]);
        size_t s = k.slot();
        for (; f->stamp[s] == object; s = (s + 1) & (SLOTS - 1))
            if (seen[f->slot_key[s]] == k)
                return false;
        f->stamp[s] = object;
        f->slot_key[s] = static_cast<uint8_t>(count);
        seen[count++] = k;
    }
    if (i >= end)
        return true;
    /* A large object: its keys sorted, then neighbours compared. */
    f->keys.assign(seen, seen + count);
    for (; i < end; i = after_value(tape, i + 1))
        f->keys.push_back(key_at(strings, tape[i]));
    std::sort(f->keys.begin(), f->keys.end());
    return std::adjacent_find(f->keys.begin(), f->keys.end()) == f->keys.end();
}

/* The rules simdjson does not hold, over the whole tape: the root an object, no key twice, no
 * integer above INT64_MAX (jansson's json_int_t is 64-bit signed). A real is finite (simdjson
 * refuses one that overflows, as jansson does); a NUL in a string can only come from a \u0000
 * escape (simdjson refuses a raw control byte), which the caller looked for. */
static bool walk_tape(json_fast *f)
{
    const uint64_t *tape = f->parser.doc.tape.get();
    const uint8_t *strings = f->parser.doc.string_buf.get();
    /* tape[0] and the last word are the root's; the one value between them is the text's. */
    if (tape_type(tape[1]) != '{')
        return false;
    size_t end = after_value(tape, 1);
    for (size_t i = 1; i < end;) {
        switch (tape_type(tape[i])) {
        case '{':
            if (!keys_distinct(f, tape, strings, i))
                return false;
            i++;
            break;
        case 'l':
        case 'd': i += 2; break;
        case 'u': return false;
        case '[':
        case '}':
        case ']':
        case '"':
        case 't':
        case 'f':
        case 'n': i++; break;
        default: return false;
        }
    }
    return true;
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
        /* A text with a \u0000 escape (refused, unless the backslash is itself escaped) is
         * left to the full check: none of what modules hand over has one. */
        if (has_nul_escape(text, len))
            return false;
        simdjson::dom::element root;
        if (f->parser.parse(text, len, true).get(root) != simdjson::SUCCESS)
            return false;
        return walk_tape(f);
    } catch (...) {
        return false;
    }
}

/* The index of the quote closing the string whose opening quote is at text[at]. */
static size_t string_end(const char *text, size_t len, size_t at)
{
    size_t i = at + 1;
    for (; i < len && text[i] != '"'; i++)
        if (text[i] == '\\')
            i++;
    return i;
}

/* In `text`, a valid JSON object: with `nth` set, where the value of the root's nth member
 * (from 0) starts (after the nth colon outside strings at depth 1, past blanks); else past the
 * end of the object or array starting at text[from]. */
static size_t find_in(const char *text, size_t len, size_t from, bool member, size_t nth)
{
    size_t depth = 0, colons = 0;
    for (size_t i = from; i < len; i++) {
        switch (text[i]) {
        case '"': i = string_end(text, len, i); break;
        case '{':
        case '[': depth++; break;
        case '}':
        case ']':
            if (--depth == 0 && !member)
                return i + 1;
            break;
        case ':':
            if (member && depth == 1 && colons++ == nth) {
                for (i++; i < len &&
                          (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n');
                     i++)
                    ;
                return i;
            }
            break;
        default: break;
        }
    }
    return len;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* In `text`, a valid JSON object whose last member's value is an object: past that object's
 * '}', found from the end (blanks, the root's '}', blanks): the line's data is nearly always
 * its last member, and its bytes are then not scanned (find_in was 1.2 % of the host's
 * instructions on the adverse station, 2026-12-03). */
static size_t last_object_end(const char *text, size_t len)
{
    size_t i = len;
    while (i > 0 && is_blank(text[i - 1]))
        i--;
    if (i > 0) /* the root's '}' */
        i--;
    while (i > 0 && is_blank(text[i - 1]))
        i--;
    return i;
}

extern "C" bool json_fast_envelope(json_fast *f, const char *text, size_t len, size_t topic_max,
                                   size_t time_max, json_fast_envelope_found *out)
{
    try {
        /* A byte order mark, which a scan refuses, is not taken whatever simdjson thinks. */
        if (has_nul_escape(text, len) || (len > 0 && static_cast<unsigned char>(text[0]) >= 0x80))
            return false;
        simdjson::dom::element root;
        if (f->parser.parse(text, len, true).get(root) != simdjson::SUCCESS)
            return false;
        const uint64_t *tape = f->parser.doc.tape.get();
        const uint8_t *strings = f->parser.doc.string_buf.get();
        if (tape_type(tape[1]) != '{')
            return false;
        *out = json_fast_envelope_found{};
        size_t end = static_cast<uint32_t>(tape[1]) - 1; /* the root's '}' */
        unsigned seen = 0;
        size_t data_nth = 0;
        size_t nth = 0;
        for (size_t i = 2; i < end; i = after_value(tape, i + 1), nth++) {
            key_ref k = key_at(strings, tape[i]);
            uint64_t v = tape[i + 1];
            std::string_view key(k.text, k.len);
            unsigned bit = key == "topic" ? 1 : key == "time" ? 2 : key == "data" ? 4 : 0;
            if (bit == 0 || (seen & bit) != 0)
                return false;
            seen |= bit;
            if (bit == 4) {
                if (tape_type(v) != '{')
                    return false;
                out->has_data = true;
                data_nth = nth;
                continue;
            }
            if (tape_type(v) != '"')
                return false;
            key_ref s = key_at(strings, v);
            if (bit == 1 && (s.len == 0 || s.len > topic_max))
                return false;
            if (bit == 2 && s.len > time_max)
                return false;
            (bit == 1 ? out->topic : out->time) = s.text;
            (bit == 1 ? out->topic_len : out->time_len) = s.len;
            out->has_time |= bit == 2;
        }
        if ((seen & 1) == 0)
            return false;
        if (out->has_data) {
            out->data_start = find_in(text, len, 0, true, data_nth);
            out->data_end = data_nth + 1 == nth ? last_object_end(text, len)
                                                : find_in(text, len, out->data_start, false, 0);
            if (out->data_start >= len || text[out->data_start] != '{' || out->data_end > len ||
                out->data_end <= out->data_start || text[out->data_end - 1] != '}')
                return false;
        }
        return true;
    } catch (...) {
        return false;
    }
}

extern "C" bool json_fast_record(json_fast *f, const char *text, size_t len,
                                 const char *const *names, size_t count, size_t object_at,
                                 const size_t texts[3], json_fast_record_found *out)
{
    try {
        if (count == 0 || has_nul_escape(text, len) ||
            (len > 0 && static_cast<unsigned char>(text[0]) >= 0x80))
            return false;
        simdjson::dom::element root;
        if (f->parser.parse(text, len, true).get(root) != simdjson::SUCCESS || !walk_tape(f))
            return false;
        const uint64_t *tape = f->parser.doc.tape.get();
        const uint8_t *strings = f->parser.doc.string_buf.get();
        size_t end = static_cast<uint32_t>(tape[1]) - 1; /* the root's '}' */
        *out = json_fast_record_found{};
        size_t nth = 0;
        for (size_t i = 2; i < end; i = after_value(tape, i + 1), nth++) {
            key_ref k = key_at(strings, tape[i]);
            /* strncmp stops at the name's NUL; the key holds none (no \u0000 escape) */
            if (nth == count || strncmp(names[nth], k.text, k.len) != 0 ||
                names[nth][k.len] != '\0')
                return false;
            uint64_t v = tape[i + 1];
            if (nth == 0) {
                if (tape_type(v) != 'l')
                    return false;
                int64_t first;
                memcpy(&first, &tape[i + 2], sizeof first);
                if (first < 1)
                    return false;
                out->first = first;
            } else if (tape_type(v) != (nth == object_at ? '{' : '"')) {
                return false;
            }
            for (int t = 0; t < 3; t++)
                if (texts[t] == nth) {
                    key_ref value = key_at(strings, v);
                    out->text[t] = value.text;
                    out->text_len[t] = value.len;
                }
        }
        return nth == count;
    } catch (...) {
        return false;
    }
}
