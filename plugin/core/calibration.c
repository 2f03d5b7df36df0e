/* calibration.c — an item's calibration status from its record, its terms and the day (the
 * rules of README "Events", "The rules"), nothing else. */
#include "core/calibration.h"

#include "core/text.h"

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

/* "<head><due> (<n> day<s> remaining)" and the like, piece by piece (text_put: snprintf's
 * text without its cost; this runs for every item judged). */
static void put_days(char *out, size_t size, size_t *used, const char *head, const char *due,
                     const char *middle, long long days, const char *tail)
{
    text_put_str(out, size, used, head);
    text_put_str(out, size, used, due);
    text_put_str(out, size, used, middle);
    text_put_int(out, size, used, days);
    text_put_str(out, size, used, days == 1 ? " day" : " days");
    text_put_str(out, size, used, tail);
}

void cal_reason(const cal_assessment *a, char *out, size_t size)
{
    char due[16];
    civil_format(a->due, due, sizeof due);
    size_t used = 0;
    if (size)
        out[0] = '\0';
    switch (a->status) {
    case CAL_CURRENT:
        put_days(out, size, &used, "calibration current until ", due, " (", a->days_remaining,
                 " remaining)");
        break;
    case CAL_EXPIRING_SOON:
        put_days(out, size, &used, "calibration expiring soon: valid until ", due, " (",
                 a->days_remaining, " remaining)");
        break;
    case CAL_EXPIRED:
        put_days(out, size, &used, "calibration expired: was due ", due, ", ",
                 -(long long)a->days_remaining, " overdue");
        break;
    case CAL_PENDING:
        text_put_str(out, size, &used,
                     a->has_due ? "pending calibration: sent out for calibration"
                                : "pending calibration: no calibration on record");
        break;
    case CAL_FAILED:
        text_put_str(out, size, &used, "calibration failed: out of tolerance as left");
        break;
    case CAL_OUT_OF_SERVICE: text_put_str(out, size, &used, "out of service"); break;
    default:
        text_put_str(out, size, &used, "not named by any contract in force for this station");
        break;
    }
}
