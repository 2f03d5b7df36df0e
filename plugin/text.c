#include "text.h"

#include <string.h>

void text_append(char *buf, size_t size, const char *sep, const char *text)
{
    if (size == 0)
        return;
    size_t used = strnlen(buf, size - 1);
    const char *parts[2] = {used ? sep : "", text};
    for (int i = 0; i < 2; i++) {
        size_t n = strnlen(parts[i], size - 1 - used);
        memcpy(buf + used, parts[i], n);
        used += n;
    }
    buf[used] = '\0';
}
