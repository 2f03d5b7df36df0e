/* text.c — bounded string building for messages and reasons; see text.h. */
#include "core/text.h"

#include <string.h>

size_t text_utf8_trim(char *s)
{
    size_t len = strlen(s);
    /* Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character. */
    size_t lead = len;
    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80 && len - lead < 3)
        lead--;
    if (lead == 0)
        return len;
    unsigned char c = (unsigned char)s[lead - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (c >= 0x80 && len - (lead - 1) < need) {
        s[lead - 1] = '\0'; /* the last character was cut short */
        return lead - 1;
    }
    return len;
}

void text_append(char *buf, size_t size, const char *sep, const char *text)
{
    if (size == 0)
        return;
    size_t used = strnlen(buf, size - 1);
    const char *parts[2] = {used ? sep : "", text};
    for (int i = 0; i < 2; i++) {
        size_t n = strnlen(parts[i], size - 1 - used);
        memcpy(buf + used, parts[i], n);
        used += n;
    }
    buf[used] = '\0';
    text_utf8_trim(buf);
}

void text_put(char *buf, size_t size, size_t *used, const char *text, size_t len)
{
    if (size == 0)
        return;
    size_t room = *used < size - 1 ? size - 1 - *used : 0;
    size_t n = len < room ? len : room;
    memcpy(buf + *used, text, n);
    *used += n;
    buf[*used] = '\0';
}

void text_put_str(char *buf, size_t size, size_t *used, const char *text)
{
    text_put(buf, size, used, text, strlen(text));
}

void text_put_int(char *buf, size_t size, size_t *used, long long value)
{
    char digits[24];
    size_t n = sizeof digits;
    unsigned long long v = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (value < 0)
        digits[--n] = '-';
    text_put(buf, size, used, digits + n, sizeof digits - n);
}
