/* jsonw.c — the JSON text writer: values appended as compact JSON text into a reusable
 * buffer; see jsonw.h. */
#include "json/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Makes room for n more bytes and the NUL; false (and failed) when out of memory. */
static bool reserve(jw *w, size_t n)
{
    if (w->failed)
        return false;
    if (w->len + n + 1 <= w->cap)
        return true;
    /* A first 4 KiB: most texts (an answer, a record's metadata) then never grow; growing from
     * 256 bytes was 6 reallocs an event, their copies 1.7 % of the adverse station's
     * instructions (2026-12-03). Every jw is released when its event is done. */
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n + 1) {
        if (cap > SIZE_MAX / 2) {
            w->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *grown = realloc(w->text, cap);
    if (!grown) {
        w->failed = true;
        return false;
    }
    w->text = grown;
    w->cap = cap;
    return true;
}

void jw_reset(jw *w)
{
    w->len = 0;
    w->failed = false;
    if (w->text)
        w->text[0] = '\0';
}

void jw_release(jw *w)
{
    free(w->text);
    *w = (jw){0};
}

const char *jw_text(const jw *w)
{
    if (w->failed)
        return NULL;
    return w->text ? w->text : "";
}

void jw_raw(jw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->text + w->len, s, n);
    w->len += n;
    w->text[w->len] = '\0';
}

void jw_append(jw *w, const jw *other)
{
    if (other->failed)
        w->failed = true;
    else if (other->len)
        jw_raw(w, other->text, other->len);
}

void jw_lit(jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

static void put_char(jw *w, char c)
{
    if (!reserve(w, 1))
        return;
    w->text[w->len++] = c;
    w->text[w->len] = '\0';
}

void jw_sep(jw *w)
{
    if (w->len && w->text[w->len - 1] != '{' && w->text[w->len - 1] != '[')
        put_char(w, ',');
}

/* The length of the valid UTF-8 character at s (at most `left` bytes), or 0 when it is not
 * one (a stray continuation byte, a cut or overlong sequence, a surrogate, beyond U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 4, cp = c & 0x07;
    else
        return 0;
    if (left < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

/* How many bytes from p (before end) need no escaping: 0x20 to 0x7f but '"' and '\\'. Sixteen
 * at a time where there is SSE2 (every x86-64): the byte loop was 1 % of the adverse station's
 * instructions (2026-12-03). */
static size_t plain_run(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *at = p;
#if defined(__SSE2__)
    const __m128i space_less = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    for (; end - at >= 16; at += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)at);
        __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
        unsigned plain = (unsigned)_mm_movemask_epi8(
            _mm_andnot_si128(special, _mm_cmpgt_epi8(v, space_less))); /* signed: 0x80 up < 0 */
        if (plain != 0xFFFF)
            return (size_t)(at - p) + (size_t)__builtin_ctz(~plain);
    }
#endif
    for (; at < end && *at >= 0x20 && *at != '"' && *at != '\\' && *at < 0x80; at++)
        ;
    return (size_t)(at - p);
}

void jw_string(jw *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *run = p;
    const unsigned char *end = p + strlen(s); /* its NUL */
    put_char(w, '"');
    for (;;) {
        p += plain_run(p, end);
        unsigned char c = *p;
        jw_raw(w, (const char *)run, (size_t)(p - run));
        if (c == '\0')
            break;
        if (c >= 0x80) {
            size_t n = utf8_char(p, strnlen((const char *)p, 4));
            /* U+2028/2029: valid raw in JSON, but a line end to JavaScript and some line
             * readers; escaped so that an output line stays one line everywhere. */
            if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
                jw_raw(w, p[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            else if (n)
                jw_raw(w, (const char *)p, n);
            else
                jw_raw(w, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that is not UTF-8 */
            p += n ? n : 1;
            run = p;
            continue;
        }
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            n = 6;
        }
        jw_raw(w, esc, n);
        run = ++p;
    }
    put_char(w, '"');
}

void jw_string_raw(jw *w, const char *s)
{
    size_t n = strlen(s);
    if (!reserve(w, n + 2))
        return;
    w->text[w->len++] = '"';
    memcpy(w->text + w->len, s, n);
    w->len += n;
    w->text[w->len++] = '"';
    w->text[w->len] = '\0';
}

void jw_int(jw *w, int64_t value)
{
    char digits[24];
    size_t n = 0;
    uint64_t v = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (value < 0)
        digits[sizeof digits - 1 - n++] = '-';
    jw_raw(w, digits + sizeof digits - n, n);
}

void jw_bool(jw *w, bool value)
{
    if (value)
        jw_raw(w, "true", 4);
    else
        jw_raw(w, "false", 5);
}

void jw_key(jw *w, const char *key)
{
    size_t n = strlen(key);
    jw_sep(w);
    if (!reserve(w, n + 3))
        return;
    w->text[w->len++] = '"';
    memcpy(w->text + w->len, key, n);
    w->len += n;
    w->text[w->len++] = '"';
    w->text[w->len++] = ':';
    w->text[w->len] = '\0';
}

void jw_member_string(jw *w, const char *key, const char *value)
{
    jw_key(w, key);
    jw_string(w, value);
}

void jw_member_raw(jw *w, const char *key, const char *id_or_time)
{
    jw_key(w, key);
    jw_string_raw(w, id_or_time);
}

void jw_member_int(jw *w, const char *key, int64_t value)
{
    jw_key(w, key);
    jw_int(w, value);
}

void jw_member_bool(jw *w, const char *key, bool value)
{
    jw_key(w, key);
    jw_bool(w, value);
}

void jw_real(jw *w, double value)
{
    char buf[40];
    int n = snprintf(buf, sizeof buf, "%.17g", value);
    if (n < 0 || (size_t)n >= sizeof buf - 2) {
        jw_raw(w, "null", 4); /* not reached for a finite double */
        return;
    }
    char *e = strchr(buf, 'e');
    if (e) { /* 1e+07 -> 1e7, 1e-07 -> 1e-7, as jansson's dtostr */
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, strlen(end) + 1);
            n = (int)strlen(buf);
        }
    } else if (!strchr(buf, '.')) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    jw_raw(w, buf, (size_t)n);
}

void jw_member_real(jw *w, const char *key, double value)
{
    jw_key(w, key);
    jw_real(w, value);
}

void jw_member_string_or_null(jw *w, const char *key, const char *value)
{
    jw_key(w, key);
    if (value)
        jw_string(w, value);
    else
        jw_raw(w, "null", 4);
}
