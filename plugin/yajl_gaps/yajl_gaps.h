/*
 * yajl_gaps.h — what yajl 2.1 takes that JSON (RFC 8259) and jansson do not.
 *
 * The host's scanners (the input scan, the check of what modules hand over, ledger
 * verification) and the module's contract reader (plugin/json/json_read.c) use yajl for
 * speed and promise to take exactly what jansson takes. Two gaps of yajl's break that promise
 * unless the scanner closes them here:
 *  - a root value followed by an unterminated string ('{}"x') is complete to yajl: its lexer
 *    reads the open string as more to come and yajl_complete_parse reports nothing (every
 *    other trailing byte is its "trailing garbage"). The scanner records where its root value
 *    closed (yajl_get_bytes_consumed in the callback that closes it, during the one yajl_parse
 *    call given the whole text) and asks yajl_gaps_rest_is_blank;
 *  - yajl's whitespace includes vertical tab and form feed; JSON's (RFC 8259) is space, tab,
 *    LF and CR only, and neither byte may appear raw in a string, so a text holding one is not
 *    JSON at all (yajl_gaps_foreign_byte_at). Nor is one with a raw NUL byte, which the scanners
 *    refuse with these two (jansson itself takes a NUL after a number, so here the scanners are
 *    stricter than jansson, never laxer).
 * Found by tests/fuzz/fuzz_json_check.c and fuzz_contract_json.c, which compare the readers
 * with jansson.
 * Threads: any; no state.
 */
#ifndef SMART_HOST_YAJL_GAPS_H
#define SMART_HOST_YAJL_GAPS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether `text[root_end..len)` (borrowed) is empty or JSON whitespace only. A `root_end`
 * past `len` is false. */
bool yajl_gaps_rest_is_blank(const char *text, size_t len, size_t root_end);

/* The offset of the first vertical tab, form feed or NUL byte in `text` (`len` bytes,
 * borrowed), or `len` when it holds none. */
size_t yajl_gaps_foreign_byte_at(const char *text, size_t len);

#endif /* SMART_HOST_YAJL_GAPS_H */
