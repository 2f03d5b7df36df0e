/* decimal.c — exact decimal numbers parsed from text, compared and added without binary
 * floating point, for tolerance and limit judgements; see decimal.h. */
#include "core/decimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 1000000000000000000LL /* 10^DECIMAL_DIGITS_MAX */

static decimal normalised(int64_t mantissa, int exponent)
{
    if (mantissa == 0)
        return (decimal){0, 0};
    while (mantissa % 10 == 0) {
        mantissa /= 10;
        exponent++;
    }
    return (decimal){mantissa, exponent};
}

static int digit_count(int64_t m)
{
    int n = 1;
    for (m = m < 0 ? -m : m; m >= 10; m /= 10)
        n++;
    return n;
}

/* "%.*e" gives d[.ddd]e±XX; the radix character is whatever the locale says, so any one
 * non-digit after the first digit is skipped rather than expected to be '.'. */
static bool parse_e_form(const char *text, decimal *out)
{
    const char *p = text;
    bool negative = *p == '-';
    if (negative)
        p++;
    int64_t mantissa = 0;
    int digits = 0;
    for (; *p && *p != 'e'; p++) {
        if (*p < '0' || *p > '9') {
            if (digits != 1)
                return false;
            continue;
        }
        mantissa = mantissa * 10 + (*p - '0');
        digits++;
    }
    if (*p != 'e' || digits == 0 || digits > 17)
        return false;
    int exponent = (int)strtol(p + 1, NULL, 10);
    *out = normalised(negative ? -mantissa : mantissa, exponent - (digits - 1));
    return true;
}

bool decimal_from_double(double value, decimal *out)
{
    *out = (decimal){0, 0};
    if (!isfinite(value))
        return false;
    if (value == 0)
        return true;
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, value);
        if (strtod(text, NULL) == value)
            return parse_e_form(text, out);
    }
    return false; /* not reached: 17 significant digits always read back */
}

/* m × 10^shift, or false when it would reach 10^DECIMAL_DIGITS_MAX. */
static bool scale_up(int64_t m, int shift, int64_t *out)
{
    for (; shift > 0; shift--) {
        if (m >= LIMIT / 10 || m <= -LIMIT / 10)
            return false;
        m *= 10;
    }
    *out = m;
    return true;
}

bool decimal_add(decimal a, decimal b, decimal *out)
{
    if (a.mantissa == 0) {
        *out = b;
        return true;
    }
    if (b.mantissa == 0) {
        *out = a;
        return true;
    }
    int exponent = a.exponent < b.exponent ? a.exponent : b.exponent;
    int64_t ma, mb;
    /* Differences of exponent beyond the digits an int64 holds cannot be aligned. */
    if (a.exponent - exponent > 36 || b.exponent - exponent > 36 ||
        !scale_up(a.mantissa, a.exponent - exponent, &ma) ||
        !scale_up(b.mantissa, b.exponent - exponent, &mb))
        return false;
    int64_t sum = ma + mb; /* each below 10^18 in size: no overflow */
    if (sum >= LIMIT || sum <= -LIMIT)
        return false;
    *out = normalised(sum, exponent);
    return true;
}

bool decimal_sub(decimal a, decimal b, decimal *out)
{
    b.mantissa = -b.mantissa;
    return decimal_add(a, b, out);
}

int decimal_compare(decimal a, decimal b)
{
    int sa = (a.mantissa > 0) - (a.mantissa < 0), sb = (b.mantissa > 0) - (b.mantissa < 0);
    if (sa != sb || sa == 0)
        return sa - sb;
    /* Same sign: compare magnitudes by order first (both normalised), then aligned digits. */
    int order_a = digit_count(a.mantissa) + a.exponent,
        order_b = digit_count(b.mantissa) + b.exponent;
    int magnitude;
    if (order_a != order_b) {
        magnitude = order_a < order_b ? -1 : 1;
    } else {
        /* Same order: aligning to the smaller exponent keeps each below 10^18. */
        int exponent = a.exponent < b.exponent ? a.exponent : b.exponent;
        int64_t ma = a.mantissa < 0 ? -a.mantissa : a.mantissa;
        int64_t mb = b.mantissa < 0 ? -b.mantissa : b.mantissa;
        for (int i = a.exponent; i > exponent; i--)
            ma *= 10;
        for (int i = b.exponent; i > exponent; i--)
            mb *= 10;
        magnitude = (ma > mb) - (ma < mb);
    }
    return sa > 0 ? magnitude : -magnitude;
}

double decimal_to_double(decimal d)
{
    char text[40];
    /* No radix character, so the locale cannot change how it reads. */
    snprintf(text, sizeof text, "%lldE%d", (long long)d.mantissa, d.exponent);
    return strtod(text, NULL);
}

void decimal_format(decimal d, char *out, size_t size)
{
    char digits[24];
    int64_t m = d.mantissa < 0 ? -d.mantissa : d.mantissa;
    int n = snprintf(digits, sizeof digits, "%lld", (long long)m);
    const char *sign = d.mantissa < 0 ? "-" : "";
    int e = d.exponent;
    if (e >= 0 && n + e <= 21) {
        snprintf(out, size, "%s%s%.*s", sign, digits, e, "000000000000000000000");
    } else if (e < 0 && -e < n) {
        snprintf(out, size, "%s%.*s.%s", sign, n + e, digits, digits + n + e);
    } else if (e < 0 && -e - n <= 6) {
        snprintf(out, size, "%s0.%.*s%s", sign, -e - n, "000000", digits);
    } else {
        snprintf(out, size, "%s%c%s%se%+d", sign, digits[0], n > 1 ? "." : "", digits + 1,
                 e + n - 1);
    }
}

void decimal_format_double(double value, char *out, size_t size)
{
    decimal d;
    if (decimal_from_double(value, &d))
        decimal_format(d, out, size);
    else
        snprintf(out, size, "%g", value);
}
