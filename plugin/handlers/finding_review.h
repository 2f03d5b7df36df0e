/* finding_review.h — one record resting on a reference found out of tolerance as found, as
 * oot.impact's chain lists it: the jobs that rested on that record, and, where the finding's
 * size is known, its readings re-judged with it (core/finding_size.h).
 *
 * On the loop thread, with the module instance; every function returns 0, SMART_ENOMEM or
 * SMART_EIO (the store failed). */
#ifndef SMART_FINDING_REVIEW_H
#define SMART_FINDING_REVIEW_H

#include "maintenance.h"

/* The size of a finding: the as-found values of the calibration that found the reference out
 * of tolerance (its results as given, borrowed for the review). */
typedef struct reference_finding {
    const char *reference_id;
    const char *certificate;
    const json_t *results;            /* [{parameter, nominal?, unit?, as_found?, as_left?}] */
    const equipment_state *reference; /* for the unit of a result that gives none; may be NULL */
} reference_finding;

/* Room for the `why` of a record that would have failed. */
#define FINDING_WHY_MAX 400

/* A check of `procedure` on `item` performed at at_ms, made with the reference: writes into
 * `entry` (a chain entry's members, without braces) `clientpos`, the tests allowed with the item
 * from at_ms until its next check of that procedure ({clientpo_id, decided_at}, oldest first),
 * each ClientPO id also appended to `chain_ids` (an array of strings) unless listed, and the
 * re-judgement: with `finding` NULL (the size is not known for it: it rests on the reference
 * through another record) or no reading re-judgeable, "finding_size": null and
 * "would_have_failed": null with "not_rejudged" saying why; otherwise `rejudged` (each reading
 * with its correction, the limit in force and whether it would have failed) and
 * "would_have_failed". *failed is set when it would have failed, `why` (why_size bytes) then
 * saying so: "would have failed: uv_a_irradiance 1050 uW/cm2 corrected to 954.545, outside min
 * 1000 uW/cm2, by the finding of MT01-RAD-01 (certificate ...)". */
int finding_review_check(maintenance *m, const reference_finding *finding, const char *item,
                         const char *procedure_id, int64_t at_ms, jw *entry, json_t *chain_ids,
                         bool *failed, char *why, size_t why_size, smart_error *err);

/* The same for the calibration of `item` with `certificate`, counted from since_ms (the start
 * of its day) until the item's next calibration was recorded; its results (as left, or as
 * found where none is left) are re-judged against the value the reference really gave; `why`
 * names the first result that would have failed ("uv_a_irradiance 1000 uW/cm2 corrected to
 * 1090.91, outside 950 to 1050 uW/cm2"). *until_ms is when the item's next calibration was
 * recorded (INT64_MAX when none): the end of what rested on this one. */
int finding_review_calibration(maintenance *m, const reference_finding *finding, const char *item,
                               const char *certificate, int64_t since_ms, jw *entry,
                               json_t *chain_ids, bool *failed, char *why, size_t why_size,
                               int64_t *until_ms, smart_error *err);

#endif
