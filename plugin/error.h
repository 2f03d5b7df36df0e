/* error.h — filling the caller-owned smart_error of the ABI. */
#ifndef SMART_MODULE_ERROR_H
#define SMART_MODULE_ERROR_H

#include "smart_plugin.h"

/* Writes the formatted message and `code` into err (which may be NULL) and returns `code`, so
 * a failing path reads `return error_set(err, SMART_EINVAL, "...", ...);`. */
int error_set(smart_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err->text with "prefix: " (e.g. a file name), keeping the code. Returns the code. */
int error_prefix(smart_error *err, const char *prefix);

#endif
