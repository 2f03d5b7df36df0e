/* strbuf.c — growable byte buffer; see strbuf.h. */
#include "util/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int strbuf_reserve(strbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return -ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return -ENOMEM;
    b->data = data;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int strbuf_append(strbuf *b, const char *bytes, size_t len)
{
    int rc = strbuf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(b->data + b->len, bytes, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int strbuf_append_str(strbuf *b, const char *s)
{
    return strbuf_append(b, s, strlen(s));
}

int strbuf_append_char(strbuf *b, char c)
{
    return strbuf_append(b, &c, 1);
}

int strbuf_appendf(strbuf *b, const char *fmt, ...)
{
    /* Format straight into the spare capacity; only a result that does not fit costs a
     * second pass. */
    if (strbuf_reserve(b, 64) < 0)
        return -ENOMEM;
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return -EINVAL;
    }
    if ((size_t)n >= room) {
        int rc = strbuf_reserve(b, (size_t)n);
        if (rc < 0) {
            b->data[b->len] = '\0';
            return rc;
        }
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

void strbuf_truncate(strbuf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

void strbuf_free(strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
