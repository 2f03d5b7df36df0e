/* readiness.h — the pure core of the gate: is an item fit for a test now (and, when a job's
 * planned end is given, until then)? A function of the contract's terms, the item's record,
 * its checks, and the time; no I/O. */
#ifndef SMART_READINESS_H
#define SMART_READINESS_H

#include "core/calibration.h"
#include "core/limits.h"
#include "core/terms.h"
#include "core/zone_rules.h"

#include <stdbool.h>
#include <stdint.h>

#define READINESS_TEXT_MAX 640
#define CHECK_DETAIL_MAX   200

/* The last check of one procedure on one item that counts: a pass with a fit reference, or a
 * failure (a failed step fails the item whatever its reference). A pass made with a reference
 * that was not fit is history only: it counts as not done, so it never becomes the last. */
#define CHECK_STEPS_MAX 16

typedef struct check_state {
    char equipment_id[65];
    char procedure_id[65];
    int64_t performed_ms;
    bool passed;  /* every step taken and within its limit, when recorded */
    bool suspect; /* its reference was not fit then, or was found out of tolerance since */
    char detail[CHECK_DETAIL_MAX]; /* what failed, for the reason text ("uv_a ... < min") */
    /* The answers, when known (a check loaded from a row with no readings has none): a pass
     * counts only while every step of the procedure in force is answered within its limit. */
    bool steps_known;
    size_t step_count;
    check_step_answer steps[CHECK_STEPS_MAX];
} check_state;

typedef struct check_view {
    const procedure *procedure;
    const check_state *last; /* NULL when never done */
    int64_t valid_until_ms;  /* the last check's validity under the terms in force (0: none) */
    bool ok;                 /* done, passed, still valid now */
    bool lapses;             /* valid now but not through the job's planned end */
    char reason[CHECK_DETAIL_MAX + 96];
} check_view;

typedef struct readiness {
    cal_assessment calibration;
    bool ready;
    bool has_warning;
    char reason[READINESS_TEXT_MAX];  /* why not ready, or what makes it ready */
    char warning[READINESS_TEXT_MAX]; /* a lapse before the planned end under a "warn" policy */
    check_view checks[ITEM_MAX_PROCEDURES];
    size_t check_count;
} readiness;

/* Everything the station knows about one item, for the assessment. */
typedef struct readiness_input {
    const contract_item *terms; /* NULL: no contract in force names it */
    const cal_record *record;
    /* checks[i] is the last check of terms->procedures[i] (NULL: none). A procedure required
     * before a test must have a pass in its window; any procedure's failure blocks until the
     * same procedure passes again, required before a test or not. */
    const check_state *const *checks;
    int64_t now_ms;
    const station_zone *zone; /* the station's civil time: its days, midnights, shift starts */
    int64_t planned_end_ms;   /* 0 when the job's end is not known */
    const char *failure_note; /* why the last calibration failed, or NULL */
    const char *out_of_service_reason; /* why it was tagged out, or NULL */
} readiness_input;

void readiness_assess(const readiness_input *in, readiness *out);

/* The instant until which a check done at `performed_ms` stays valid (exclusive): hours after
 * it; through the end of its local day and the days after (the start of a later local day); or
 * until the next of the contract's shift starts, read on the station's wall clock. */
int64_t check_valid_until(const procedure *p, int64_t performed_ms, const station_zone *zone);

/* Whether the last check on record passes under the procedure in force: recorded as passed,
 * and (when its answers are known) every step of `p` answered and within its limit in force.
 * When it does not, `why` (size bytes, may be NULL) names the step, the value and the limit in
 * force and the contract version ("MT-UVA-DAILY: uv_a_irradiance 1100 uW/cm2 outside min 1200
 * uW/cm2 under contract MT-CAL-001 v3"); a check recorded as failed leaves `why` "". */
bool check_state_passes(const procedure *p, const check_state *last, char *why, size_t size);

/* The same for the last check on record: a failed check (as recorded, or under the terms in
 * force: check_state_passes), or one made with a reference that was not fit, is valid for no
 * time at all. Worked out from the procedure in force, so a redeployed contract's new
 * frequency and limits apply at once to checks done before it. */
int64_t check_state_valid_until(const procedure *p, const check_state *last,
                                const station_zone *zone);

#endif
