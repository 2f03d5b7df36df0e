/*
 * json_check.h — a full check, without building a tree, that a text is exactly one JSON object
 * a jansson reader (JSON_REJECT_DUPLICATES, as `ledger verify` reads) would take: scanned by
 * yajl's streaming parser, which validates the syntax; here the rest: the root an object, no key
 * twice in any object, no \u0000, integers within 64 bits, reals finite, nesting within jansson's
 * JSON_PARSER_MAX_DEPTH.
 *
 * Why not jansson itself: what modules hand the host (outputs, alerts) is most of what it
 * writes, and building a jansson tree of each was 48 % of the host's time on the benchmark
 * (2026-12-01, `perf record smart-host run` on smart-bench --station adverse --keep's node:
 * 2,700 against 9,000 events/s); a scan costs a fraction of it.
 *
 * yajl checks only the shape of UTF-8 sequences and decodes a lone surrogate escape that
 * jansson refuses, so a text with a byte above 0x7f or a \uD800-\uDFFF escape is parsed by
 * jansson instead: either way the answer is jansson's.
 *
 * Before both, simdjson's parse and a walk of its tree (json_check_fast.h) may take the text
 * at a quarter of the scan's cost; whatever it does not take goes to jansson or the scan as
 * above, so every refusal and its message are theirs.
 * Threads: none shared; a json_checker belongs to one thread.
 */
#ifndef SMART_HOST_JSON_CHECK_H
#define SMART_HOST_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

/* Reusable state (a yajl handle is made per call; the key set's storage is kept). Zero it to
 * start; free with json_checker_free. */
typedef struct json_checker {
    /* The keys of the objects still open, innermost last: an object's own are compared one by
     * one while it has few (most objects), and dropped when it closes, so the set stays small
     * however large the text. */
    strbuf open_bytes;
    struct json_check_open_key *open_keys;
    size_t open_count, open_cap;
    /* A large object's keys (JSON_CHECK_LINEAR_MAX or more) go to a hash set instead. */
    strbuf keys;     /* the bytes of the hashed keys */
    size_t *slots;   /* open-addressing set: 1 + index into `entries`, 0 when empty */
    size_t slot_cap; /* a power of two */
    struct json_check_key *entries;
    size_t entry_count, entry_cap;
    struct json_check_level *levels; /* JSON_PARSER_MAX_DEPTH + 1: each open value */
    struct json_fast *fast;          /* the fast half, made at the first check */
    bool fast_failed;                /* no memory for it: the scan alone */
} json_checker;

/* Whether `text` (`len` bytes, borrowed) is one JSON object as above. Returns 0, -ENOMEM, or
 * -EINVAL with the reason (column and why) in `why` (`why_size` bytes, caller-owned). */
int json_check_object(json_checker *c, const char *text, size_t len, char *why, size_t why_size);

void json_checker_free(json_checker *c);

#endif /* SMART_HOST_JSON_CHECK_H */
