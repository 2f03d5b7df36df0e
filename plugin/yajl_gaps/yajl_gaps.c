/* yajl_gaps.c — see yajl_gaps.h. */
#include "yajl_gaps.h"

#include <string.h>

bool yajl_gaps_rest_is_blank(const char *text, size_t len, size_t root_end)
{
    if (root_end > len)
        return false;
    for (size_t i = root_end; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
            return false;
    return true;
}

size_t yajl_gaps_foreign_byte_at(const char *text, size_t len)
{
    size_t first = len;
    const char bytes[] = {'\v', '\f', '\0'};
    for (size_t i = 0; i < sizeof bytes; i++) {
        const char *at = memchr(text, bytes[i], first);
        if (at != NULL)
            first = (size_t)(at - text);
    }
    return first;
}
