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

#endif
