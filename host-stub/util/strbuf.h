/*
 * strbuf.h — a growable byte buffer used to build ledger lines, output lines and input text.
 *
 * The host builds each batch's ledger and output text into one buffer so a batch costs one
 * write() and no per-line allocation. A strbuf owns its storage; the bytes are always followed
 * by a NUL (when storage exists) so the contents may be used as a C string.
 */
#ifndef SMART_HOST_STRBUF_H
#define SMART_HOST_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes in use, not counting the trailing NUL */
    size_t cap; /* bytes allocated */
} strbuf;

/* An empty buffer; owns nothing until the first append. */
#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Ensure room for `extra` more bytes plus a NUL. Returns 0 or -ENOMEM (buffer unchanged). */
int strbuf_reserve(strbuf *b, size_t extra);

/* Append `len` bytes from `bytes` (borrowed). Returns 0 or -ENOMEM (buffer unchanged). */
int strbuf_append(strbuf *b, const char *bytes, size_t len);

/* Append a NUL-terminated string (borrowed). Returns 0 or -ENOMEM (buffer unchanged). */
int strbuf_append_str(strbuf *b, const char *s);

/* Append one byte. Returns 0 or -ENOMEM (buffer unchanged). */
int strbuf_append_char(strbuf *b, char c);

/* Append printf-style formatted text. Returns 0, -ENOMEM or -EINVAL (bad format); on failure
 * the buffer is unchanged. */
int strbuf_appendf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drop the contents past `len` (which must be <= b->len); keeps the storage. */
void strbuf_truncate(strbuf *b, size_t len);

/* Free the storage and return the buffer to STRBUF_INIT. */
void strbuf_free(strbuf *b);

#endif /* SMART_HOST_STRBUF_H */
