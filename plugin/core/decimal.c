/* decimal.c — exact decimal numbers parsed from text, compared and added without binary
 * floating point, for tolerance and limit judgements; see decimal.h. */
#include "core/decimal.h"

#include <float.h>
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

/* 10^0 .. 10^22: the powers of ten a double holds exactly. */
static const double exact_tens[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define EXACT_TENS_MAX 22
#define SHORT_DIGITS   15 /* the digits up to which shortest_by_scaling decides */

/* |value| × 10^scale, rounded once (the power of ten is exact). */
static double scaled(double magnitude, int scale)
{
    return scale >= 0 ? magnitude * exact_tens[scale] : magnitude / exact_tens[-scale];
}

/* The shortest decimal of at most SHORT_DIGITS significant digits that reads back as `value`
 * (finite, not 0), found without formatting: the loop of decimal_from_double (snprintf and strtod
 * per precision) was most of the time of reading a station's contracts. Scales 10^s from coarse
 * to fine; at each, the one candidate m × 10^-s is m = round(|value| × 10^s), and it reads back as
 * `value` when m / 10^s (or m × 10^-s) is `value`:
 * - that one division or multiplication of exact doubles (m < 10^15 < 2^53, 10^|s| with
 *   |s| <= 22) is rounded once, to nearest, so it is the double strtod reads m × 10^-s as
 *   (Clinger's exact case of decimal-to-binary conversion);
 * - a decimal that reads back lies within half an ulp of `value` (2^-53 of it), and |value| ×
 *   10^s is off by at most as much, so for m < 10^15 the one that reads back, if any, is within
 *   0.23 of the computed product: the rounded product is it, and no other m at that scale reads
 *   back (they are 1 apart, more than the interval's width);
 * - the first scale with one that reads back gives the fewest significant digits, and at up to
 *   15 digits the decimals of one precision are farther apart than an ulp, so the one that reads
 *   back is also the nearest, which is what snprintf's rounding to that precision gives.
 * Returns true with *out set; or false with *first_precision 16 when no decimal of up to 15
 * digits reads back, or left as it was when `value` is outside the scales this covers (about
 * 1e-8 to 1e21). Needs doubles evaluated as doubles and rounding to nearest, as strtod's
 * result does. */
static bool shortest_by_scaling(double value, decimal *out, int *first_precision)
{
#if FLT_EVAL_METHOD == 0
    double magnitude = fabs(value);
    /* From a scale where the magnitude is below 0.5 (no decimal but 0 there or coarser). */
    int scale = -(int)floor(log10(magnitude)) - 1;
    for (;; scale--) {
        if (scale < -EXACT_TENS_MAX || scale > EXACT_TENS_MAX)
            return false;
        if (scaled(magnitude, scale) < 0.5)
            break;
    }
    for (scale++; scale <= EXACT_TENS_MAX; scale++) {
        double x = scaled(magnitude, scale);
        if (x >= 1e15) {
            *first_precision = SHORT_DIGITS + 1;
            return false;
        }
        int64_t m = (int64_t)(x + 0.5); /* x + 0.5 is exact below 2^52 */
        double back = scale >= 0 ? (double)m / exact_tens[scale] : (double)m * exact_tens[-scale];
        if (m > 0 && back == magnitude) {
            *out = normalised(value < 0 ? -m : m, -scale);
            return true;
        }
    }
#else
    (void)value, (void)out, (void)first_precision;
#endif
    return false;
}

bool decimal_from_double(double value, decimal *out)
{
    *out = (decimal){0, 0};
    if (!isfinite(value))
        return false;
    if (value == 0)
        return true;
    int first = 1;
    if (shortest_by_scaling(value, out, &first))
        return true;
    char text[40];
    for (int precision = first; precision <= 17; precision++) {
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
#if FLT_EVAL_METHOD == 0
    /* Both exact doubles, one rounding: what strtod gives (see shortest_by_scaling). */
    if (d.mantissa > -(1LL << 53) && d.mantissa < (1LL << 53) && d.exponent >= -EXACT_TENS_MAX &&
        d.exponent <= EXACT_TENS_MAX)
        return d.exponent >= 0 ? (double)d.mantissa * exact_tens[d.exponent]
                               : (double)d.mantissa / exact_tens[-d.exponent];
#endif
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
