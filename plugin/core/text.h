/* text.h — bounded string building for messages and reasons. A message cut short at its
 * buffer's end is still a message; these never overflow and never warn. */
#ifndef SMART_TEXT_H
#define SMART_TEXT_H

#include <stddef.h>

/* Cuts a last UTF-8 character that a bounded copy cut short, so a message never ends in half a
 * character (which JSON would refuse). Returns the new length. */
size_t text_utf8_trim(char *s);

/* Appends `sep` (only when buf is not empty) and `text` to the NUL-terminated buf, truncating
 * at size - 1 bytes and never in the middle of a UTF-8 character. */
void text_append(char *buf, size_t size, const char *sep, const char *text);

/* A message built piece by piece into buf (size bytes) as snprintf would write the pieces one
 * after another: *used bytes are written so far; a piece goes in while there is room, the rest
 * of the message is cut at size - 1 bytes, and buf stays NUL-terminated (size > 0). What a
 * format of "%s" and "%d" pieces costs glibc's snprintf was 4 % of the module's instructions on
 * the adverse station (2026-12-03), for messages of a few pieces. */
void text_put(char *buf, size_t size, size_t *used, const char *text, size_t len);
void text_put_str(char *buf, size_t size, size_t *used, const char *text);
/* As "%lld" writes it. */
void text_put_int(char *buf, size_t size, size_t *used, long long value);

#endif
