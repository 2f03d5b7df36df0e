/* decimal.h — exact decimal numbers for tolerance and limit judgements.
 *
 * A contract writes its limits and a certificate its readings in decimal ("4.54 ± 0.02 kg",
 * "4.52"); binary floating point cannot hold most of them, and nominal − plus_minus computed in
 * doubles can land a hair inside the limit written (4.54 − 0.02 = 4.5200000000000005), judging
 * a value exactly on it out. Here a number read from JSON as a double is taken back to the
 * shortest decimal that reads as that double (what was written, for up to 17 significant
 * digits), sums are exact, and comparisons are exact on those decimals.
 *
 * Pure functions on values: no allocation, no global state, safe on any thread. */
#ifndef SMART_DECIMAL_H
#define SMART_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* mantissa × 10^exponent, normalised: no trailing zero digit in the mantissa (0 is 0 × 10^0),
 * and |mantissa| < 10^18 (DECIMAL_DIGITS_MAX significant digits). */
typedef struct decimal {
    int64_t mantissa;
    int exponent;
} decimal;

#define DECIMAL_DIGITS_MAX 18
#define DECIMAL_TEXT_MAX   48 /* decimal_format's output, sign and NUL included */

/* The shortest decimal (1 to 17 significant digits) that strtod reads back as `value`. Returns
 * false, leaving *out 0, when `value` is not finite. -0.0 gives 0. */
bool decimal_from_double(double value, decimal *out);

/* The exact a + b and a − b. Return false, leaving *out untouched, when the exact result needs
 * more than DECIMAL_DIGITS_MAX significant digits (terms of very different magnitudes, such as
 * 1e20 + 1e-20), so a caller can refuse what it cannot judge exactly. */
bool decimal_add(decimal a, decimal b, decimal *out);
bool decimal_sub(decimal a, decimal b, decimal *out);

/* Exact comparison: negative, 0 or positive as a < b, a == b, a > b. */
int decimal_compare(decimal a, decimal b);

/* The nearest double (as strtod rounds the decimal's text). */
double decimal_to_double(decimal d);

/* The decimal as people write it: "4.52", "1000", "-0.001"; exponent form ("1.5e+25") only
 * when the plain form would be long. Always NUL-terminated; size DECIMAL_TEXT_MAX suffices. */
void decimal_format(decimal d, char *out, size_t size);

/* The shortest text of a double read from JSON, by the same rule ("%g" would round 123456.7
 * to 123457). Non-finite values print as "nan"/"inf". */
void decimal_format_double(double value, char *out, size_t size);

#endif
