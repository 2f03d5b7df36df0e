/*
 * json_check_fast.h — the fast half of json_check_object (json_check.h): simdjson's DOM parser
 * (the syntax, and UTF-8 as jansson holds it: overlong forms, encoded surrogates and code
 * points past U+10FFFF refused, a surrogate escape only in a pair) and one pass over its tape
 * for the rules simdjson does not hold (the root an object, no key twice, integers within
 * int64; a text with a \u0000 escape is left to the full check). It only ever says "taken": a
 * text it does not show to pass every rule goes to the full check, whose verdict and message
 * are then the answer. So what this file gets wrong can cost time, never let through a text
 * the full check refuses — as long as "taken" here implies taken there, which the walk's rules
 * and tests/host/test_json_check_fast.c keep (json_fast_envelope likewise for event_parse.c's
 * scan: tests/host/test_event_parse.c and fuzz-event-line).
 *
 * Why: the full check (yajl's scan) of what modules hand the host was 39 % of the host's
 * instructions on the adverse station (2026-12-02, callgrind of smart-host on smart-bench
 * --floor adverse's events: 1.88 of 4.80 billion), some 30 instructions a byte; simdjson's
 * parse is about 7. The tape pass instead of dom::element's recursion: 0.23 -> 0.09 billion.
 *
 * Threads: none shared; a json_fast belongs to one thread (one per json_checker).
 */
#ifndef SMART_HOST_JSON_CHECK_FAST_H
#define SMART_HOST_JSON_CHECK_FAST_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct json_fast json_fast;

/* A parser with its buffers (grown to the largest text seen, kept). NULL when out of memory.
 * Free with json_fast_free (NULL is fine). */
json_fast *json_fast_new(void);
void json_fast_free(json_fast *f);

/* True when `text` (`len` bytes, borrowed) is shown to be one JSON object by every rule of
 * json_check.h; false when not shown (invalid, or a rule the walk leaves to the full check, or
 * out of memory): the caller then runs the full check. Never throws. */
bool json_fast_accepts(json_fast *f, const char *text, size_t len);

/* What json_fast_envelope found of an input line's envelope {"topic", "time"?, "data"?}. */
typedef struct json_fast_envelope_found {
    const char *topic; /* unescaped, in the parser's buffers: valid until its next use */
    size_t topic_len;
    bool has_time;
    const char *time; /* likewise */
    size_t time_len;
    bool has_data;
    size_t data_start, data_end; /* the data object's bytes in the line: '{' to past its '}' */
} json_fast_envelope_found;

/* True when the line `text` (`len` bytes, borrowed) is shown to be a well-formed event envelope
 * as event_parse.c's yajl scan takes one: one JSON object (simdjson's full check: syntax, UTF-8,
 * a surrogate escape only in a pair), nothing after it but blanks, keys topic, time and data
 * only and each at most once, topic a string of 1 to `topic_max` bytes, time a string of up
 * to `time_max` bytes, data an object, no \u0000 escape anywhere; *out then says what it holds.
 * False when not shown (any other line, or out of memory): the caller's scan then decides, and
 * its message stands. Never throws. */
bool json_fast_envelope(json_fast *f, const char *text, size_t len, size_t topic_max,
                        size_t time_max, json_fast_envelope_found *out);

/* What json_fast_record found of a record's fields: the first member's integer, and the
 * string values of three members (unescaped, in the parser's buffers: valid until its next
 * use). */
typedef struct json_fast_record_found {
    long long first;
    const char *text[3];
    size_t text_len[3];
} json_fast_record_found;

/* True when `text` (`len` bytes, borrowed) is shown to be one JSON object by every rule of
 * json_check.h whose members are exactly `names[0..count)` in that order (borrowed, NUL-ended),
 * the first an integer of at least 1, member `object_at` an object and every other a string;
 * *out then holds the first member's value and the strings of members `texts[0..3)`. False when
 * not shown (any other text, a leading byte above 0x7f, a \u0000 escape anywhere, or out of
 * memory): the caller's scan then decides, and its message stands. For the ledger's records
 * (ledger.c), whose scan with yajl reads some 30 instructions a byte. Never throws. */
bool json_fast_record(json_fast *f, const char *text, size_t len, const char *const *names,
                      size_t count, size_t object_at, const size_t texts[3],
                      json_fast_record_found *out);

#ifdef __cplusplus
}
#endif

#endif /* SMART_HOST_JSON_CHECK_FAST_H */
