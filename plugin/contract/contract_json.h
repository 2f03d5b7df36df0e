/* contract_json.h — the JSON reader of contract files: the bytes of a file into the tree the
 * contract validator reads (contract.c), built from yajl's stream of tokens.
 *
 * jansson's json_loadb over a station's contracts (60 MB at 100,000 items) was most of a
 * start-up: its lexer and the hash of every object it fills. yajl scans the same bytes about ten
 * times faster, and the tree is built from its tokens with jansson's own constructors, so the
 * validator, and every value and error it gives, stay as they were.
 *
 * What the reader accepts is exactly what json_loadb(text, len, JSON_REJECT_DUPLICATES) accepts,
 * and a refusal has json_loadb's message (line, column, text): on any refusal, and on the few
 * inputs yajl and jansson might read differently (a surrogate escape, a form feed or vertical
 * tab, a nesting deeper than jansson's limit, a root that is not an object or array), jansson
 * judges the same bytes and its word is the one given; its tree is never used. The fuzz target
 * tests/fuzz/fuzz_contract_json.c checks that agreement. */
#ifndef SMART_CONTRACT_JSON_H
#define SMART_CONTRACT_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Reads the `len` bytes at `text` (not NUL-terminated) as one JSON document. Returns a new
 * reference (the caller decrefs it), or NULL with *error filled as json_loadb fills it (with
 * "out of memory" as its text when memory ran out). Pure: safe on any thread. */
json_t *contract_json_read(const char *text, size_t len, json_error_t *error);

#endif
