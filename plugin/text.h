/* text.h — bounded string building for messages and reasons. A message cut short at its
 * buffer's end is still a message; these never overflow and never warn. */
#ifndef SMART_TEXT_H
#define SMART_TEXT_H

#include <stddef.h>

/* Appends `sep` (only when buf is not empty) and `text` to the NUL-terminated buf, truncating
 * at size - 1 bytes. */
void text_append(char *buf, size_t size, const char *sep, const char *text);

#endif
