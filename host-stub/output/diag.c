/* diag.c — messages on standard error, control characters escaped; see diag.h. */
#include "output/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t host_diag_escape(const char *text, size_t len, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (out_size == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        char esc[8];
        size_t esc_len = 0;
        if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            esc_len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\x", 2);
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 0xf];
            esc_len = 4;
        } else if (c == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] >= 0x80 &&
                   (unsigned char)text[i + 1] <= 0x9f) {
            unsigned char c1 = (unsigned char)text[++i];
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c1 >> 4];
            esc[5] = hex[c1 & 0xf];
            esc_len = 6;
        } else {
            esc[0] = (char)c;
            esc_len = 1;
        }
        if (n + esc_len >= out_size)
            break;
        memcpy(out + n, esc, esc_len);
        n += esc_len;
    }
    out[n] = '\0';
    return n;
}

void host_diag(const char *fmt, ...)
{
    char stack[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    char *message = stack;
    if ((size_t)len >= sizeof stack) {
        if ((message = malloc((size_t)len + 1)) == NULL) {
            message = stack; /* out of memory: the message, truncated */
            len = (int)sizeof stack - 1;
        } else {
            va_start(ap, fmt);
            vsnprintf(message, (size_t)len + 1, fmt, ap);
            va_end(ap);
        }
    }
    static const char prefix[] = "smart-host: ";
    size_t size = sizeof prefix + 6 * (size_t)len + 2; /* an escape is at most 6 bytes */
    char *line = malloc(size);
    if (line != NULL) {
        memcpy(line, prefix, sizeof prefix - 1);
        size_t n = sizeof prefix - 1;
        n += host_diag_escape(message, (size_t)len, line + n, size - n - 1);
        line[n++] = '\n';
        /* One write: the line is never interleaved with another thread's. */
        ssize_t written = write(STDERR_FILENO, line, n);
        (void)written;
        free(line);
    }
    if (message != stack)
        free(message);
}
