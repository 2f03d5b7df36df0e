/* limits.h — a value against a contract's limits: a check step's reading or attestation, and a
 * calibration result against the item's tolerances. Judged exactly on the decimals written
 * (decimal.h): a value on a limit meets it; a value that is not finite meets none. Pure
 * functions of plain values: no allocation, no I/O, thread-safe. */
#ifndef SMART_LIMITS_H
#define SMART_LIMITS_H

#include "core/terms.h"

#include <stdbool.h>
#include <stddef.h>

/* What one step of a check answered: kept so the check is judged again under the terms in
 * force (a limit raised, a step added by a redeploy). */
typedef struct check_step_answer {
    char step_id[49];
    bool taken;     /* an answer was given (a reading, or an attestation true or false) */
    bool has_value; /* a reading: value holds it */
    double value;
    bool attested; /* a checkbox attested true */
} check_step_answer;

/* Whether a reading meets a step's limits, exactly on the decimals written (a reading on a
 * limit meets it); and the limits as text ("min 1000 uW/cm2"), as written. */
bool check_step_within(const check_step *step, double value);
void check_step_limit_text(const check_step *step, char *out, size_t size);

/* Whether a value is within a tolerance, exactly on the decimals written (4.52 is within
 * 4.54 ± 0.02); and the limits as text ("4.52 to 4.56 kg"). */
bool tolerance_within(const tolerance *t, double value);
void tolerance_text(const tolerance *t, char *out, size_t size);

/* One step of a check judged on its answer: whether it passes (taken; a reading within the
 * step's limits; a checkbox attested true). `limit` (limit_size bytes) gets the step's limits
 * as text for a reading, "" for a checkbox; `failure` (failure_size bytes) what failed, as the
 * check's detail records it ("uv_a not taken", "uv_a 1100 uW/cm2 outside min 1200 uW/cm2",
 * "lid_closed not attested"), "" when it passes. */
bool check_step_judge(const check_step *step, const check_step_answer *answer, char *limit,
                      size_t limit_size, char *failure, size_t failure_size);

#define TOLERANCE_NOTE_MAX 200 /* a verdict's notes, as the item's record keeps them (NOTE_MAX) */

/* A calibration's results judged against the item's tolerances. Each tolerance entry of the
 * item (a parameter, or one calibration point of it) is a point the calibration must measure:
 * one it gives no value for is "not measured", which is never "in tolerance". */
typedef struct result_verdict {
    bool found_out;   /* a point measured as found was out of tolerance */
    bool left_out;    /* a point is out of tolerance as left */
    size_t not_found; /* points with no as-found value (as_left only, or none) */
    size_t not_left;  /* points with no value at all: their state as left is unknown */
    char found_note[TOLERANCE_NOTE_MAX]; /* "temperature as found 39.1 outside 37.5 to 38.5 degC" */
    char left_note[TOLERANCE_NOTE_MAX];
    char not_left_note[TOLERANCE_NOTE_MAX]; /* "magnetic_field at 30 G, ..." */
} result_verdict;

/* Judges one result of `parameter` against its tolerance point t into *v: a measured as-found
 * value out of tolerance is a finding (found_out, and a line in found_note); the value as left
 * (as found when no as-left value is given: the item was not adjusted) out of tolerance sets
 * left_out and a line in left_note. At least one of has_found, has_left is true. */
void tolerance_judge_result(const tolerance *t, const char *parameter, bool has_found, double found,
                            bool has_left, double left, result_verdict *v);

#endif
