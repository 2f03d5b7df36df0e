/* fitness_history.c — whether an item was fit for use at a past moment, from what the store
 * kept: its calibration history, its check history, and the periods it was out of service or
 * sent out. A reference instrument is judged by this at the time of the evidence it served. */
#include "error.h"
#include "maintenance.h"

#include <stdio.h>
#include <string.h>

typedef struct fitness_probe {
    maintenance *m;
    const equipment_state *e;
    bool whole_day; /* judged for a station day (a calibration dated by day alone) */
    bool fit;
    char *why;
    size_t why_size;
    smart_error *err;
} fitness_probe;

/* "at 2025-03-10T06:00:00Z", or, for a window of a whole day, "on 2025-03-10". */
static void when_text(const fitness_probe *p, int64_t at_ms, char *out, size_t size)
{
    char text[DATE_TEXT_MAX];
    if (p->whole_day)
        civil_format(maintenance_today(p->m, at_ms), text, sizeof text);
    else
        instant_format(at_ms, text, sizeof text);
    snprintf(out, size, "%s %s", p->whole_day ? "on" : "at", text);
}

/* Calibration: the latest dated on or before the day, in tolerance as left, and valid then
 * under the interval in force. */
static int calibration_at(fitness_probe *p, int64_t at_ms)
{
    civil_day day = maintenance_today(p->m, at_ms), cal_day;
    char day_text[16], cal_date[DATE_TEXT_MAX], due_text[16];
    bool good;
    int rc = store_calibration_on(p->m->store, p->e->equipment_id, day, &cal_day, cal_date,
                                  sizeof cal_date, &good, p->err);
    if (rc < 0)
        return rc;
    civil_format(day, day_text, sizeof day_text);
    if (rc == 1) {
        snprintf(p->why, p->why_size,
                 "was not in calibration on %s: it has no calibration on record dated on or "
                 "before that day",
                 day_text);
        return 0;
    }
    civil_day due = cal_day + p->e->terms->terms.interval_days;
    civil_format(due, due_text, sizeof due_text);
    if (!good)
        snprintf(p->why, p->why_size,
                 "was not in calibration on %s: its calibration of %s left it out of tolerance",
                 day_text, cal_date);
    else if (day > due)
        snprintf(p->why, p->why_size,
                 "was not in calibration on %s: its calibration of %s was valid through %s",
                 day_text, cal_date, due_text);
    else
        p->fit = true;
    return 0;
}

/* Out of service or sent out at that instant: the period under way (the item's state), or
 * one that has ended (the store). */
static int available_at(fitness_probe *p, int64_t at_ms)
{
    const equipment_state *e = p->e;
    unavailable_period period = {.kind = ""};
    if (e->record.out_of_service && at_ms >= e->out_of_service_since_ms) {
        snprintf(period.kind, sizeof period.kind, "%s", STORE_UNAVAILABLE_OUT_OF_SERVICE);
        period.since_ms = e->out_of_service_since_ms;
        snprintf(period.reason, sizeof period.reason, "%s", e->out_of_service_reason);
    } else if (e->record.sent_out && at_ms >= e->sent_out_since_ms) {
        snprintf(period.kind, sizeof period.kind, "%s", STORE_UNAVAILABLE_SENT_OUT);
        period.since_ms = e->sent_out_since_ms;
    } else {
        int rc = store_unavailable_at(p->m->store, e->equipment_id, at_ms, &period, p->err);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
    }
    char when[DATE_TEXT_MAX + 4], since[DATE_TEXT_MAX];
    when_text(p, at_ms, when, sizeof when);
    instant_format(period.since_ms, since, sizeof since);
    p->fit = false;
    if (strcmp(period.kind, STORE_UNAVAILABLE_SENT_OUT) == 0)
        snprintf(p->why, p->why_size, "was out for calibration %s (sent out at %s)", when, since);
    else
        snprintf(p->why, p->why_size, "was out of service %s (tagged out at %s%s%.*s)", when, since,
                 period.reason[0] ? ": " : "", 120, period.reason);
    return 0;
}

/* Its checks: each required one done, passed and within its window (under the terms in
 * force); and no check of any of its procedures failed and not yet passed again. */
static int checks_at(fitness_probe *p, int64_t at_ms)
{
    const contract_item *terms = p->e->terms;
    char when[DATE_TEXT_MAX + 4];
    when_text(p, at_ms, when, sizeof when);
    for (size_t i = 0; i < terms->procedure_count && p->fit; i++) {
        const procedure *pr = terms->procedures[i];
        check_state last;
        int rc =
            store_check_at(p->m->store, p->e->equipment_id, pr->procedure_id, at_ms, &last, p->err);
        if (rc < 0)
            return rc;
        char done[DATE_TEXT_MAX], until[DATE_TEXT_MAX];
        if (rc == 1) {
            if (pr->required_before_test) {
                p->fit = false;
                snprintf(p->why, p->why_size,
                         "was not fit for use %s: its required %s check %s had not been done", when,
                         pr->frequency_label, pr->procedure_id);
            }
            continue;
        }
        instant_format(last.performed_ms, done, sizeof done);
        if (!last.passed) {
            p->fit = false;
            snprintf(p->why, p->why_size,
                     "was not fit for use %s: its %s check %s failed at %s: %.*s", when,
                     pr->frequency_label, pr->procedure_id, done, 120, last.detail);
            continue;
        }
        if (last.suspect && pr->required_before_test) {
            p->fit = false;
            snprintf(p->why, p->why_size,
                     "was not fit for use %s: its required %s check %s had not been done (the "
                     "one at %s was made with a reference found out of tolerance since)",
                     when, pr->frequency_label, pr->procedure_id, done);
            continue;
        }
        int64_t valid_until = check_state_valid_until(pr, &last, p->m->config.zone);
        if (pr->required_before_test && at_ms >= valid_until) {
            instant_format(valid_until, until, sizeof until);
            p->fit = false;
            snprintf(p->why, p->why_size,
                     "was not fit for use %s: its required %s check %s had lapsed at %s (last "
                     "passed %s)",
                     when, pr->frequency_label, pr->procedure_id, until, done);
        }
    }
    return 0;
}

int maintenance_fit_at(maintenance *m, const equipment_state *e, int64_t at_ms, bool whole_day,
                       bool *fit, char *why, size_t why_size, smart_error *err)
{
    fitness_probe p = {
        .m = m, .e = e, .whole_day = whole_day, .why = why, .why_size = why_size, .err = err};
    why[0] = '\0';
    *fit = false;
    if (!e->terms) {
        snprintf(why, why_size, "is not named by any contract in force");
        return 0;
    }
    int rc = calibration_at(&p, at_ms);
    if (rc == 0 && p.fit)
        rc = available_at(&p, at_ms);
    if (rc == 0 && p.fit)
        rc = checks_at(&p, at_ms);
    *fit = rc == 0 && p.fit;
    return rc;
}
