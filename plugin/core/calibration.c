/* calibration.c — an item's calibration status from its record, its terms and the day (the
 * rules of README "Events", "The rules"), nothing else. */
#include "core/calibration.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[CAL_STATUS_COUNT] = {
    [CAL_OUT_OF_SERVICE] = "out_of_service",
    [CAL_FAILED] = "calibration_failed",
    [CAL_PENDING] = "pending_calibration",
    [CAL_EXPIRED] = "expired",
    [CAL_EXPIRING_SOON] = "expiring_soon",
    [CAL_CURRENT] = "current",
    [CAL_UNKNOWN] = "unknown",
};

const char *cal_status_name(cal_status status)
{
    return (unsigned)status < CAL_STATUS_COUNT ? status_names[status] : "unknown";
}

int cal_status_from_name(const char *name)
{
    for (int i = 0; i < CAL_STATUS_COUNT; i++)
        if (strcmp(status_names[i], name) == 0)
            return i;
    return -1;
}

cal_assessment cal_assess(const cal_terms *terms, const cal_record *record, civil_day today)
{
    cal_assessment a = {.status = CAL_PENDING};
    if (record->has_calibration) {
        a.has_due = true;
        a.due = record->calibrated_on + terms->interval_days;
        a.days_remaining = a.due - today;
        if (a.days_remaining < 0)
            a.status = CAL_EXPIRED;
        else if (a.days_remaining <= terms->warning_days)
            a.status = CAL_EXPIRING_SOON;
        else
            a.status = CAL_CURRENT;
    }
    if (record->sent_out)
        a.status = CAL_PENDING;
    if (record->calibration_failed)
        a.status = CAL_FAILED;
    if (record->out_of_service)
        a.status = CAL_OUT_OF_SERVICE;
    a.ready = a.status == CAL_CURRENT || a.status == CAL_EXPIRING_SOON;
    return a;
}

void cal_reason(const cal_assessment *a, char *out, size_t size)
{
    char due[16];
    civil_format(a->due, due, sizeof due);
    switch (a->status) {
    case CAL_CURRENT:
        snprintf(out, size, "calibration current until %s (%d day%s remaining)", due,
                 a->days_remaining, a->days_remaining == 1 ? "" : "s");
        break;
    case CAL_EXPIRING_SOON:
        snprintf(out, size, "calibration expiring soon: valid until %s (%d day%s remaining)", due,
                 a->days_remaining, a->days_remaining == 1 ? "" : "s");
        break;
    case CAL_EXPIRED:
        snprintf(out, size, "calibration expired: was due %s, %d day%s overdue", due,
                 -a->days_remaining, a->days_remaining == -1 ? "" : "s");
        break;
    case CAL_PENDING:
        snprintf(out, size,
                 a->has_due ? "pending calibration: sent out for calibration"
                            : "pending calibration: no calibration on record");
        break;
    case CAL_FAILED: snprintf(out, size, "calibration failed: out of tolerance as left"); break;
    case CAL_OUT_OF_SERVICE: snprintf(out, size, "out of service"); break;
    default: snprintf(out, size, "not named by any contract in force for this station"); break;
    }
}
