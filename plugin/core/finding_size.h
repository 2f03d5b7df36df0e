/* finding_size.h — a reading re-judged with the size of its reference's finding.
 *
 * When a reference is found out of tolerance as found, its certificate says by how much at
 * each calibration point (as found against nominal). A reading it vouched for is corrected by
 * that error and judged again against the limits in force, so the review can say which results
 * would have failed (ISO/IEC 17025 §7.10).
 *
 * The rule. The error used is the one found at the reference's point (in the reading's unit)
 * whose nominal is nearest the value corrected (of two as near, the first given). It is taken
 * as proportional (read 10 % high: true = reading × nominal ÷ as found), except as an offset
 * (true = reading − (as found − nominal)) where that point's nominal is 0, or where two or more
 * points show one and the same offset but not one and the same ratio.
 *
 * A reading taken with the reference (a check's reading) is corrected directly. A calibration
 * result compares the item with the value the reference gave, its nominal: the nominal is
 * corrected (what the reference really gave) and the result's deviation from it kept, so the
 * corrected value is value + nominal − true nominal.
 *
 * Everything is exact: a corrected value is a fraction of two decimals (decimal.h), compared
 * with a limit by cross-multiplication. Pure functions on values: no allocation, no global
 * state, safe on any thread. */
#ifndef SMART_FINDING_SIZE_H
#define SMART_FINDING_SIZE_H

#include "core/decimal.h"

#include <stdbool.h>
#include <stddef.h>

/* One calibration point of the reference's finding: its nominal and the value found there. */
typedef struct finding_point {
    decimal nominal;
    decimal as_found;
} finding_point;

typedef enum finding_rule {
    FINDING_PROPORTIONAL, /* true = value × nominal ÷ as_found */
    FINDING_OFFSET        /* true = value − (as_found − nominal) */
} finding_rule;

/* The error a value is corrected by: the point chosen and how its error is applied. */
typedef struct finding_size {
    finding_rule rule;
    decimal nominal, as_found;
} finding_size;

/* An exact value num ÷ den, den > 0. */
typedef struct corrected_value {
    decimal num, den;
} corrected_value;

/* The limits in force: a minimum and/or a maximum, as written (a step's or a tolerance's). */
typedef struct finding_limits {
    bool has_min, has_max;
    decimal min, max;
} finding_limits;

/* The error to correct a value near `near` by, chosen from the `count` points by the rule
 * above. False when there is none to use: no point, or the chosen point, to be applied as
 * proportional, found at 0 or on the other side of 0 from its nominal. */
bool finding_size_pick(const finding_point *points, size_t count, decimal near, finding_size *out);

/* A reading taken with the reference, corrected. False when the exact result needs more than
 * DECIMAL_DIGITS_MAX digits (then it cannot be judged exactly, and is not). */
bool finding_correct_reading(const finding_size *f, decimal reading, corrected_value *out);

/* A calibration result `value` given against the reference's `nominal`, corrected: value +
 * nominal − the nominal corrected. False as above. */
bool finding_correct_against_nominal(const finding_size *f, decimal value, decimal nominal,
                                     corrected_value *out);

/* 1 when the corrected value meets the limits (on a limit meets it), 0 when it does not, -1
 * when it cannot be compared exactly (too many digits). Limits with neither bound are met. */
int finding_within(const corrected_value *c, const finding_limits *limits);

/* The nearest double, for display. */
double corrected_value_to_double(const corrected_value *c);

#endif
