/* json_read.h — the module's JSON reader: bytes into a jansson tree, built from yajl's stream
 * of tokens. It reads contract files (contract.c) and every event's data (module.c).
 *
 * jansson's json_loadb over a station's contracts (60 MB at 100,000 items) was most of a
 * start-up, and its lexer, which reads byte by byte through a stream, was the larger part of
 * decoding each event's data. yajl scans the same bytes about ten times faster, and the tree is
 * built from its tokens with jansson's own constructors, so the validator and the handlers, and
 * every value and error they give, stay as they were.
 *
 * What the reader accepts is exactly what json_loadb(text, len, JSON_REJECT_DUPLICATES) accepts,
 * and a refusal has json_loadb's message (line, column, text): on any refusal, and on the few
 * inputs yajl and jansson might read differently (a surrogate escape, a form feed or vertical
 * tab, a nesting deeper than jansson's limit, a root that is not an object or array), jansson
 * judges the same bytes and its word is the one given; its tree is never used. The fuzz target
 * tests/fuzz/fuzz_contract_json.c checks that agreement. */
#ifndef SMART_JSON_READ_H
#define SMART_JSON_READ_H

#include <jansson.h>
#include <stddef.h>

/* Reads the `len` bytes at `text` (not NUL-terminated) as one JSON document. Returns a new
 * reference (the caller decrefs it), or NULL with *error filled as json_loadb fills it (with
 * "out of memory" as its text when memory ran out). Pure: safe on any thread. */
json_t *jr_read(const char *text, size_t len, json_error_t *error);

/* Called with each element of the root object's array `array_key` as soon as it is read
 * (`element` borrowed for the call; its index in the array): 0 to go on, anything else to stop
 * (read as out of memory). */
typedef int (*jr_element_fn)(void *ctx, size_t index, json_t *element);

/* As jr_read, handing each element of the root object's member `array_key` (when
 * it is an array) to `each` as it is read, then putting null in its place: the tree returned
 * holds that array with a null for each element, so that a list of 100,000 items is never held
 * whole (freed while it is read, its memory is reused for the next, where freeing the whole
 * tree at the end was 40 % of a start-up's time). The elements are handed over before the
 * document is known to be valid: a NULL return means whatever `each` made of them is to be
 * dropped. */
json_t *jr_read_streaming(const char *text, size_t len, const char *array_key, jr_element_fn each,
                          void *ctx, json_error_t *error);

#endif
