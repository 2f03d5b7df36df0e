#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int error_set(smart_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int error_prefix(smart_error *err, const char *prefix)
{
    if (!err)
        return SMART_EINVAL;
    char copy[sizeof err->text];
    memcpy(copy, err->text, sizeof copy);
    size_t used = 0, room = sizeof err->text - 1;
    const char *parts[] = {prefix, ": ", copy};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strnlen(parts[i], room - used);
        memcpy(err->text + used, parts[i], n);
        used += n;
    }
    err->text[used] = '\0';
    return err->code;
}
