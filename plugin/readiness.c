#include "readiness.h"

#include "text.h"

#include <stdio.h>
#include <string.h>

int64_t check_valid_until(const procedure *p, int64_t performed_ms, const station_zone *zone)
{
    civil_day day = station_zone_day(zone, performed_ms);
    switch (p->frequency) {
    case FREQ_HOURS: return performed_ms + (int64_t)p->every * 3600000;
    case FREQ_DAYS: return station_zone_day_start_ms(zone, day + p->every);
    case FREQ_PER_SHIFT:
    default: {
        const contract *c = p->owner;
        for (size_t i = 0; i < c->shift_count; i++) {
            int64_t start = station_zone_local_ms(zone, day, c->shift_starts[i]);
            if (start > performed_ms)
                return start;
        }
        return station_zone_local_ms(zone, day + 1, c->shift_starts[0]);
    }
    }
}

int64_t check_state_valid_until(const procedure *p, const check_state *last,
                                const station_zone *zone)
{
    return last->passed ? check_valid_until(p, last->performed_ms, zone) : last->performed_ms;
}

bool check_step_within(const check_step *s, double v)
{
    return (!s->has_min || v >= s->min) && (!s->has_max || v <= s->max);
}

void check_step_limit_text(const check_step *s, char *out, size_t size)
{
    const char *unit = s->unit ? s->unit : "";
    if (s->has_min && s->has_max)
        snprintf(out, size, "%g to %g %s", s->min, s->max, unit);
    else if (s->has_min)
        snprintf(out, size, "min %g %s", s->min, unit);
    else if (s->has_max)
        snprintf(out, size, "max %g %s", s->max, unit);
    else
        snprintf(out, size, "recorded, no limit");
}

bool tolerance_within(const tolerance *t, double v)
{
    return (!t->has_min || v >= t->min) && (!t->has_max || v <= t->max);
}

void tolerance_text(const tolerance *t, char *out, size_t size)
{
    if (t->has_min && t->has_max)
        snprintf(out, size, "%g to %g %s", t->min, t->max, t->unit);
    else if (t->has_min)
        snprintf(out, size, "min %g %s", t->min, t->unit);
    else
        snprintf(out, size, "max %g %s", t->max, t->unit);
}

static void format_instant(int64_t ms, char *out, size_t size)
{
    instant_format(ms, out, size);
}

static void append(char *buf, size_t size, const char *text)
{
    text_append(buf, size, "; ", text);
}

static void assess_check_text(const readiness_input *in, const procedure *p,
                              const check_state *last, check_view *v);

static void assess_check(const readiness_input *in, const procedure *p, const check_state *last,
                         check_view *v)
{
    assess_check_text(in, p, last, v);
    text_utf8_trim(v->reason);
}

static void assess_check_text(const readiness_input *in, const procedure *p,
                              const check_state *last, check_view *v)
{
    char when[32], until[32];
    v->procedure = p;
    v->last = last;
    if (!last) {
        snprintf(v->reason, sizeof v->reason, "required %s check %s not done", p->frequency_label,
                 p->procedure_id);
        return;
    }
    v->valid_until_ms = check_state_valid_until(p, last, in->zone);
    format_instant(last->performed_ms, when, sizeof when);
    format_instant(v->valid_until_ms, until, sizeof until);
    if (!last->passed) {
        snprintf(v->reason, sizeof v->reason, "%s check %s failed at %s: %s", p->frequency_label,
                 p->procedure_id, when, last->detail);
        return;
    }
    if (in->now_ms >= v->valid_until_ms) {
        snprintf(v->reason, sizeof v->reason, "required %s check %s lapsed at %s (last passed %s)",
                 p->frequency_label, p->procedure_id, until, when);
        return;
    }
    v->ok = true;
    if (in->planned_end_ms && in->planned_end_ms > v->valid_until_ms) {
        v->lapses = true;
        snprintf(v->reason, sizeof v->reason,
                 "%s check %s is valid until %s, before the job's planned end", p->frequency_label,
                 p->procedure_id, until);
    } else {
        snprintf(v->reason, sizeof v->reason, "%s check %s passed at %s, valid until %s",
                 p->frequency_label, p->procedure_id, when, until);
    }
}

void readiness_assess(const readiness_input *in, readiness *out)
{
    memset(out, 0, sizeof *out);
    if (!in->terms) {
        out->calibration.status = CAL_UNKNOWN;
        cal_reason(&out->calibration, out->reason, sizeof out->reason);
        return;
    }
    civil_day today = station_zone_day(in->zone, in->now_ms);
    out->calibration = cal_assess(&in->terms->terms, in->record, today);
    bool ready = out->calibration.ready;
    char text[READINESS_TEXT_MAX];
    cal_reason(&out->calibration, text, sizeof text);
    if (out->calibration.status == CAL_FAILED && in->failure_note && *in->failure_note) {
        text[0] = '\0';
        text_append(text, sizeof text, "", "calibration failed: ");
        text_append(text, sizeof text, "", in->failure_note);
    }
    if (out->calibration.status == CAL_OUT_OF_SERVICE && in->out_of_service_reason &&
        *in->out_of_service_reason) {
        text[0] = '\0';
        text_append(text, sizeof text, "", "out of service: ");
        text_append(text, sizeof text, "", in->out_of_service_reason);
    }
    if (!out->calibration.ready)
        append(out->reason, sizeof out->reason, text);

    char lapses[READINESS_TEXT_MAX] = "";
    if (out->calibration.ready && in->planned_end_ms) {
        /* Valid through the due day: until the next local day begins. */
        int64_t valid_until = station_zone_day_start_ms(in->zone, out->calibration.due + 1);
        if (in->planned_end_ms > valid_until) {
            char due[16], line[128];
            civil_format(out->calibration.due, due, sizeof due);
            snprintf(line, sizeof line,
                     "calibration valid through %s, before the job's planned end", due);
            append(lapses, sizeof lapses, line);
        }
    }
    for (size_t i = 0; i < in->terms->procedure_count; i++) {
        const procedure *p = in->terms->procedures[i];
        if (!p->required_before_test)
            continue;
        check_view *v = &out->checks[out->check_count++];
        assess_check(in, p, in->checks ? in->checks[i] : NULL, v);
        if (!v->ok) {
            ready = false;
            append(out->reason, sizeof out->reason, v->reason);
        } else if (v->lapses) {
            append(lapses, sizeof lapses, v->reason);
        }
    }
    if (lapses[0]) {
        if (in->terms->owner->job_window_warns) {
            out->has_warning = true;
            append(out->warning, sizeof out->warning, lapses);
        } else {
            ready = false;
            append(out->reason, sizeof out->reason, lapses);
        }
    }
    out->ready = ready;
    if (ready) {
        out->reason[0] = '\0';
        append(out->reason, sizeof out->reason, text);
        for (size_t i = 0; i < out->check_count; i++)
            append(out->reason, sizeof out->reason, out->checks[i].reason);
    }
}
