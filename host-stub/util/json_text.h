/*
 * json_text.h — small helpers that turn values into single-line JSON text with jansson.
 *
 * Ledger and output lines are assembled by appending pieces of JSON text to a strbuf rather
 * than building a json_t tree per line: it keeps the fixed field order of ledger.h explicit
 * and costs no tree per record. Every piece is produced or checked by jansson.
 */
#ifndef SMART_HOST_JSON_TEXT_H
#define SMART_HOST_JSON_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

/* Append JSON text `text` (`len` bytes, borrowed) with every raw U+2028 and U+2029 written as
 * \u2028 and \u2029 (the same value: raw, they can only be inside a string), so that no line
 * the host writes holds a character a JSON-lines reader in JavaScript takes for a line end.
 * Every function below escapes them the same way. Returns 0 or -ENOMEM; `b` unchanged on
 * failure. */
int json_text_append_escaped(strbuf *b, const char *text, size_t len);

/* Whether `text` (`len` bytes, borrowed) holds a raw U+2028 or U+2029, which
 * json_text_append_escaped would rewrite: without one, the text can be used as it is. */
bool json_text_has_separator(const char *text, size_t len);

/* Append `s` (`len` bytes, borrowed, UTF-8) as a quoted JSON string. Returns 0, -ENOMEM, or
 * -EINVAL when `s` is not valid UTF-8 or holds a NUL byte; on failure `b` is unchanged. */
int json_text_append_string(strbuf *b, const char *s, size_t len);

/* Whether `s` (`len` bytes) is printable ASCII without '"' and '\\': json_text_append_string
 * writes such a string as it is between two quotes. */
bool json_text_is_plain(const char *s, size_t len);

/* Append `value` (borrowed) as compact JSON text. Returns 0 or -ENOMEM; `b` unchanged on
 * failure. */
int json_text_append_value(strbuf *b, const json_t *value);

/* Check that `text` (`len` bytes, borrowed) is exactly one JSON object, parsed in full by jansson
 * (valid UTF-8, no NUL byte, duplicate keys refused, nothing after it), and append it to `b` as
 * one line: verbatim when it holds no line break, re-serialised compactly otherwise. Returns 0,
 * -ENOMEM, or -EINVAL with the reason written to `why` (`why_size` bytes, caller-owned; may be
 * NULL). `b` is unchanged on failure. */
int json_text_append_object_text(strbuf *b, const char *text, size_t len, char *why,
                                 size_t why_size);

#endif /* SMART_HOST_JSON_TEXT_H */
