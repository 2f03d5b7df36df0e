/*
 * json_rest.h — what yajl's complete parse does not see after a text's root value.
 *
 * yajl 2.1 takes a text whose root value is followed by an unterminated string ('{}"x') as
 * complete: its lexer reads the open string as more to come, and yajl_complete_parse reports
 * nothing (every other trailing byte is its "trailing garbage"). jansson refuses such a text,
 * so a scanner that promises to take what jansson takes records where its root value closed
 * (yajl_get_bytes_consumed in the callback that closes it, during the one yajl_parse call given
 * the whole text) and asks here whether only JSON whitespace follows.
 * Threads: any; no state.
 */
#ifndef SMART_HOST_JSON_REST_H
#define SMART_HOST_JSON_REST_H

#include <stdbool.h>
#include <stddef.h>

/* Whether `text[root_end..len)` (borrowed) is empty or JSON whitespace only. A `root_end`
 * past `len` (no root value closed) is false. */
bool json_rest_is_blank(const char *text, size_t len, size_t root_end);

#endif /* SMART_HOST_JSON_REST_H */
