/* error.c — filling the caller-owned smart_error of the ABI; see error.h. */
#include "error.h"

#include "core/text.h"

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
    err->text[0] = '\0';
    text_append(err->text, sizeof err->text, "", prefix);
    text_append(err->text, sizeof err->text, ": ", copy);
    return err->code;
}
