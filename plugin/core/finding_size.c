/* finding_size.c — a reading re-judged with the size of its reference's finding; see
 * finding_size.h. */
#include "core/finding_size.h"

#define LIMIT 1000000000000000000LL /* 10^DECIMAL_DIGITS_MAX */

static const decimal ONE = {1, 0};

/* The exact a × b, false when it needs more than DECIMAL_DIGITS_MAX digits. */
static bool multiply(decimal a, decimal b, decimal *out)
{
    __int128 m = (__int128)a.mantissa * b.mantissa;
    int exponent = a.exponent + b.exponent;
    if (m == 0) {
        *out = (decimal){0, 0};
        return true;
    }
    while (m % 10 == 0) {
        m /= 10;
        exponent++;
    }
    if (m >= LIMIT || m <= -LIMIT)
        return false;
    *out = (decimal){(int64_t)m, exponent};
    return true;
}

static decimal negate(decimal d)
{
    return (decimal){-d.mantissa, d.exponent};
}

static int sign(decimal d)
{
    return (d.mantissa > 0) - (d.mantissa < 0);
}

/* |a − b|, or false when it cannot be had exactly. */
static bool distance(decimal a, decimal b, decimal *out)
{
    if (!decimal_sub(a, b, out))
        return false;
    if (out->mantissa < 0)
        *out = negate(*out);
    return true;
}

bool finding_size_pick(const finding_point *points, size_t count, decimal near, finding_size *out)
{
    if (count == 0)
        return false;
    size_t best = 0;
    bool have_best = false;
    decimal best_distance = {0, 0};
    for (size_t i = 0; i < count; i++) {
        decimal d;
        if (!distance(points[i].nominal, near, &d))
            continue; /* too far apart to say exactly: not the nearest */
        if (!have_best || decimal_compare(d, best_distance) < 0) {
            best = i;
            best_distance = d;
            have_best = true;
        }
    }
    /* One offset at every point, and not one ratio: the error is an offset. */
    bool same_offset = count >= 2, same_ratio = count >= 2;
    decimal offset0;
    if (!decimal_sub(points[0].as_found, points[0].nominal, &offset0))
        same_offset = false;
    for (size_t i = 1; i < count && (same_offset || same_ratio); i++) {
        decimal offset, left, right;
        if (same_offset && (!decimal_sub(points[i].as_found, points[i].nominal, &offset) ||
                            decimal_compare(offset, offset0) != 0))
            same_offset = false;
        /* as_found[i] / nominal[i] == as_found[0] / nominal[0], cross-multiplied */
        if (same_ratio && (!multiply(points[i].as_found, points[0].nominal, &left) ||
                           !multiply(points[0].as_found, points[i].nominal, &right) ||
                           decimal_compare(left, right) != 0))
            same_ratio = false;
    }
    const finding_point *p = &points[best];
    out->nominal = p->nominal;
    out->as_found = p->as_found;
    if (sign(p->nominal) == 0 || (same_offset && !same_ratio)) {
        out->rule = FINDING_OFFSET;
        return true;
    }
    out->rule = FINDING_PROPORTIONAL;
    return sign(p->as_found) == sign(p->nominal);
}

bool finding_correct_reading(const finding_size *f, decimal reading, corrected_value *out)
{
    if (f->rule == FINDING_OFFSET) {
        decimal offset;
        out->den = ONE;
        return decimal_sub(f->as_found, f->nominal, &offset) &&
               decimal_sub(reading, offset, &out->num);
    }
    /* reading × nominal ÷ as_found, with the sign carried by the numerator */
    if (!multiply(reading, f->nominal, &out->num))
        return false;
    out->den = f->as_found;
    if (sign(out->den) < 0) {
        out->num = negate(out->num);
        out->den = negate(out->den);
    }
    return true;
}

bool finding_correct_against_nominal(const finding_size *f, decimal value, decimal nominal,
                                     corrected_value *out)
{
    corrected_value truth; /* p ÷ q: what the reference really gave */
    decimal sum, scaled;
    if (!finding_correct_reading(f, nominal, &truth) || !decimal_add(value, nominal, &sum) ||
        !multiply(sum, truth.den, &scaled) || !decimal_sub(scaled, truth.num, &out->num))
        return false;
    out->den = truth.den; /* ((value + nominal) × q − p) ÷ q */
    return true;
}

/* c compared with limit: negative, 0, positive; or false when not exactly. */
static bool compare(const corrected_value *c, decimal limit, int *order)
{
    decimal scaled;
    if (!multiply(limit, c->den, &scaled))
        return false;
    *order = decimal_compare(c->num, scaled);
    return true;
}

int finding_within(const corrected_value *c, const finding_limits *limits)
{
    int order;
    if (limits->has_min) {
        if (!compare(c, limits->min, &order))
            return -1;
        if (order < 0)
            return 0;
    }
    if (limits->has_max) {
        if (!compare(c, limits->max, &order))
            return -1;
        if (order > 0)
            return 0;
    }
    return 1;
}

double corrected_value_to_double(const corrected_value *c)
{
    return decimal_to_double(c->num) / decimal_to_double(c->den);
}
