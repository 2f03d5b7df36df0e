/* json_text.c — single-line JSON text helpers on top of jansson; see json_text.h. */
#include "util/json_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* U+2028 and U+2029 are allowed raw inside JSON strings, but JavaScript and many line readers
 * take them for line ends, so no JSON line the host writes holds them raw. Raw, they can only
 * be inside a string, where \u2028 means the same. */
static const char *find_separator(const char *s, size_t len)
{
    const char *end = s + len;
    for (const char *p = s; (p = memchr(p, 0xE2, (size_t)(end - p))) != NULL; p++)
        if (end - p >= 3 && (unsigned char)p[1] == 0x80 &&
            ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9))
            return p;
    return NULL;
}

bool json_text_has_separator(const char *text, size_t len)
{
    return find_separator(text, len) != NULL;
}

int json_text_append_escaped(strbuf *b, const char *text, size_t len)
{
    size_t mark = b->len;
    int rc = 0;
    const char *sep;
    while (rc == 0 && (sep = find_separator(text, len)) != NULL) {
        size_t before = (size_t)(sep - text);
        rc = strbuf_append(b, text, before);
        if (rc == 0)
            rc = strbuf_append(b, (unsigned char)sep[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
        text = sep + 3;
        len -= before + 3;
    }
    if (rc == 0)
        rc = strbuf_append(b, text, len);
    if (rc < 0)
        strbuf_truncate(b, mark);
    return rc;
}

static int append_callback(const char *buffer, size_t size, void *data)
{
    return strbuf_append((strbuf *)data, buffer, size) == 0 ? 0 : -1;
}

int json_text_append_value(strbuf *b, const json_t *value)
{
    size_t mark = b->len;
    if (json_dump_callback(value, append_callback, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        strbuf_truncate(b, mark);
        return -ENOMEM;
    }
    /* jansson writes U+2028/2029 raw (JSON_ESCAPE_SLASH is about '/'): escaped here. */
    if (find_separator(b->data + mark, b->len - mark) == NULL)
        return 0;
    size_t len = b->len - mark;
    char *copy = malloc(len);
    if (copy == NULL) {
        strbuf_truncate(b, mark);
        return -ENOMEM;
    }
    memcpy(copy, b->data + mark, len);
    strbuf_truncate(b, mark);
    int rc = json_text_append_escaped(b, copy, len);
    free(copy);
    return rc;
}

/* Printable ASCII without '"' and '\\' needs no escaping, which covers nearly every field the
 * host writes (ids, topics, actions); only other strings go through jansson. */
bool json_text_is_plain(const char *s, size_t len)
{
    /* Eight bytes at a time (every ledger record's strings pass here): a word is plain when no
     * byte is below 0x20, above 0x7e, '"' or '\\' (the bit tricks find a byte below a bound,
     * or equal to one, in each byte at once; a byte at 0x80 or above fails the last test). */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
#if defined(__SSE2__)
    /* Sixteen at a time where there is SSE2 (every x86-64): a byte is plain when, signed, it
     * is above 0x1f and below 0x7f (0x80 and up are negative), and neither '"' nor '\\'. This
     * was 1.4 % of the host's instructions on the adverse station eight at a time (2026-12-03). */
    const __m128i space_less = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
    const __m128i quote_bytes = _mm_set1_epi8('"'), backslash_bytes = _mm_set1_epi8('\\');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i printable = _mm_and_si128(_mm_cmpgt_epi8(v, space_less), _mm_cmplt_epi8(v, del));
        __m128i special =
            _mm_or_si128(_mm_cmpeq_epi8(v, quote_bytes), _mm_cmpeq_epi8(v, backslash_bytes));
        if (_mm_movemask_epi8(_mm_andnot_si128(special, printable)) != 0xFFFF)
            return false;
    }
#endif
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        uint64_t below_space = (w - ones * 0x20) & ~w;
        uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
        uint64_t is_quote = (quote - ones) & ~quote, is_backslash = (backslash - ones) & ~backslash;
        uint64_t above_tilde = (w + ones * (0x80 - 0x7f)) | w; /* 0x7f and up set the high bit */
        if ((below_space | is_quote | is_backslash | above_tilde) & highs)
            break;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return true;
}

int json_text_append_string(strbuf *b, const char *s, size_t len)
{
    if (json_text_is_plain(s, len)) {
        int rc = strbuf_reserve(b, len + 2);
        if (rc < 0)
            return rc;
        b->data[b->len++] = '"';
        memcpy(b->data + b->len, s, len);
        b->len += len;
        b->data[b->len++] = '"';
        b->data[b->len] = '\0';
        return 0;
    }
    if (memchr(s, '\0', len) != NULL)
        return -EINVAL;
    json_t *str = json_stringn(s, len);
    if (str == NULL)
        return -EINVAL; /* jansson refuses invalid UTF-8 */
    int rc = json_text_append_value(b, str);
    json_decref(str);
    return rc;
}

int json_text_append_object_text(strbuf *b, const char *text, size_t len, char *why,
                                 size_t why_size)
{
    json_error_t jerr;
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        if (why != NULL)
            snprintf(why, why_size, "not valid JSON (column %d: %s)", jerr.column, jerr.text);
        return -EINVAL;
    }
    int rc = 0;
    if (!json_is_object(value)) {
        if (why != NULL)
            snprintf(why, why_size, "not a JSON object");
        rc = -EINVAL;
    } else if (memchr(text, '\n', len) == NULL && memchr(text, '\r', len) == NULL) {
        rc = json_text_append_escaped(b, text, len);
    } else {
        rc = json_text_append_value(b, value);
    }
    json_decref(value);
    return rc;
}
