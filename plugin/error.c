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
    int n = snprintf(err->text, sizeof err->text, "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof err->text)
        snprintf(err->text + n, sizeof err->text - (size_t)n, "%s", copy);
    return err->code;
}
