/* jsonw.h — JSON written straight as text into a growable, reusable buffer: the module's
 * answers, ledger metadata and alerts are built here instead of as jansson trees that are
 * then serialised. The text is byte for byte what json_dumps(..., JSON_COMPACT) writes for
 * the same keys in the same order.
 *
 * A failed allocation is sticky: every later write is a no-op and jw_text returns NULL, so a
 * builder checks once, at the end. Strings are escaped like jansson's (", \, control
 * characters); they are expected to be valid UTF-8 (parsed input, contracts, the module's own
 * ASCII, buffers cut with text_utf8_trim), and each byte that is not is written as U+FFFD, so
 * the text is always valid JSON. */
#ifndef SMART_JSONW_H
#define SMART_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jw {
    char *text; /* NUL-terminated while !failed; owned */
    size_t len, cap;
    bool failed; /* an allocation failed: the text is incomplete */
} jw;

/* Empties the buffer (keeping its memory) and clears a failure. */
void jw_reset(jw *w);

/* Frees the memory; the buffer is empty and usable again. */
void jw_release(jw *w);

/* The text, or NULL when an allocation failed since the last reset. */
const char *jw_text(const jw *w);

/* Appends n bytes as they are (JSON text, or characters that need no escaping). */
void jw_raw(jw *w, const char *s, size_t n);

/* Appends the text of another buffer (a failed one fails this one too). */
void jw_append(jw *w, const jw *other);

/* Appends a NUL-terminated string as it is. */
void jw_lit(jw *w, const char *s);

/* Appends ',' unless the text is empty or ends in '{' or '[' (the first member or element). */
void jw_sep(jw *w);

/* Appends a JSON string: quoted and escaped. */
void jw_string(jw *w, const char *s);

/* Appends a JSON string of an identifier or a timestamp, which needs no escaping. */
void jw_string_raw(jw *w, const char *s);

void jw_int(jw *w, int64_t value);
void jw_bool(jw *w, bool value);

/* Appends a finite double as json_dumps writes a real: %.17g, ".0" when it reads as an
 * integer, the exponent without '+' or leading zeros. */
void jw_real(jw *w, double value);

/* `,"key":` (see jw_sep); keys are the module's own ASCII and are not escaped. */
void jw_key(jw *w, const char *key);

/* A member: `,"key":` and the value. */
void jw_member_string(jw *w, const char *key, const char *value);
void jw_member_raw(jw *w, const char *key, const char *id_or_time);
void jw_member_int(jw *w, const char *key, int64_t value);
void jw_member_bool(jw *w, const char *key, bool value);
void jw_member_real(jw *w, const char *key, double value);

/* A member whose value is a JSON string, or null when value is NULL. */
void jw_member_string_or_null(jw *w, const char *key, const char *value);

#endif
