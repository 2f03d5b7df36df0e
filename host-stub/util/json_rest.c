/* json_rest.c — see json_rest.h. */
#include "util/json_rest.h"

bool json_rest_is_blank(const char *text, size_t len, size_t root_end)
{
    if (root_end > len)
        return false;
    for (size_t i = root_end; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
            return false;
    return true;
}
