/* reference_value.h — reading a limit out of the free text a MaintenanceHub checklist step
 * carries in `reference_value` ("Must greater than 1000 µW/cm²", "must be less than 2
 * foot-candles", "139–159"), so that a number step can be machine-checked.
 *
 * A limit is read only where the text states one unambiguously:
 *   at least / no less than / not less than / ≥ / >= N           minimum, N included
 *   greater than / more than / above / > N                        minimum, N excluded
 *   at most / no more than / not more than / no greater than /
 *     not greater than / ≤ / <= N                                 maximum, N included
 *   less than / below / < N                                       maximum, N excluded
 *   between A and B, A–B, A-B (A ≤ B)                             both, included
 * with exactly one such phrase, its number right after it (a number standing alone: the 16 of
 * "E1417-16" is not one). A unit written after the number must agree with the step's unit:
 * ftc, fc, foot-candle(s) are one unit; µW/cm² is also written μW/cm², uW/cm2; °F is also F,
 * degF; °C, degC; lx, lux; psi. A text that names another unit, or states no limit, or two, is
 * not machine-checked: the reading is recorded and needs an attestation that it meets the text.
 *
 * Pure: no allocation, no global state, safe on any thread. */
#ifndef SMART_REFERENCE_VALUE_H
#define SMART_REFERENCE_VALUE_H

#include "core/decimal.h"

#include <stdbool.h>
#include <stddef.h>

#define REFERENCE_READING_MAX 160

typedef struct reference_limit {
    bool machine_checked; /* a limit was read, and its unit (if named) agrees */
    bool has_min, has_max;
    bool min_excluded, max_excluded;     /* "greater than N": N itself does not meet it */
    decimal low, high;                   /* valid with has_min / has_max */
    char unit[24];                       /* the unit the text names, canonical ("uW/cm2"), or "" */
    char reading[REFERENCE_READING_MAX]; /* how the text was read, for people and the record:
                                          * "> 1000 uW/cm2", "139 to 159 (both included)",
                                          * "no limit stated: the reading is recorded and
                                          * needs an attestation", "unit ... differs ..." */
} reference_limit;

/* Reads `text` (UTF-8, NUL-terminated; NULL reads as no limit) for the step whose unit is
 * `step_unit` (may be NULL) into *out. Returns out->machine_checked. */
bool reference_value_read(const char *text, const char *step_unit, reference_limit *out);

/* The canonical spelling of a unit ("fc" for ftc, foot-candles; "uW/cm2" for µW/cm²; "degF"
 * for °F), written into out (size bytes); an unknown unit is copied as written. */
void reference_unit_canonical(const char *unit, char *out, size_t size);

#endif
