/* calibration.h — the pure core: an item's calibration status as a function of its record,
 * the contract's terms and today's date. No I/O, no clock, no allocation; thread-safe. */
#ifndef SMART_CALIBRATION_H
#define SMART_CALIBRATION_H

#include "core/dates.h"

#include <stdbool.h>
#include <stddef.h>

/* In order of precedence: when several hold, the first one listed wins. */
typedef enum cal_status {
    CAL_OUT_OF_SERVICE,
    CAL_FAILED,  /* calibration_failed: the last calibration left it out of tolerance */
    CAL_PENDING, /* pending_calibration: none on record, or sent out */
    CAL_EXPIRED,
    CAL_EXPIRING_SOON,
    CAL_CURRENT,
    CAL_UNKNOWN, /* no contract in force names the item */
    CAL_STATUS_COUNT
} cal_status;

/* What the contract says about the item. */
typedef struct cal_terms {
    int interval_days; /* > 0 */
    int warning_days;  /* >= 0 */
} cal_terms;

/* What the station knows about the item. */
typedef struct cal_record {
    bool has_calibration;
    civil_day calibrated_on; /* valid when has_calibration */
    bool calibration_failed;
    bool sent_out;
    bool out_of_service;
} cal_record;

typedef struct cal_assessment {
    cal_status status;
    bool ready;         /* fit for a test today, as far as calibration goes */
    bool has_due;       /* a calibration is on record, so due and days_remaining mean something */
    civil_day due;      /* last day the calibration is valid (inclusive) */
    int days_remaining; /* due - today; negative when overdue */
} cal_assessment;

/* A calibration made on day D with interval N is valid through D + N inclusive. */
cal_assessment cal_assess(const cal_terms *terms, const cal_record *record, civil_day today);

/* "current", "expiring_soon", ... as used on the wire; never NULL. */
const char *cal_status_name(cal_status status);

/* The status named by `name`, or -1. */
int cal_status_from_name(const char *name);

/* One line saying why the item is or is not ready ("calibration expired 2025-02-03, 10 days
 * overdue"), written into out (caller-owned). */
void cal_reason(const cal_assessment *a, char *out, size_t size);

#endif
