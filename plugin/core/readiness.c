/* readiness.c — the gate's pure rules: whether an item is fit for a test now and through a
 * job's planned end, and the reasons when not; see readiness.h. */
#include "core/readiness.h"

#include "core/text.h"

#include <stdio.h>
#include <string.h>

int64_t check_valid_until(const procedure *p, int64_t performed_ms, const station_zone *zone)
{
    civil_day day = station_zone_day(zone, performed_ms);
    switch (p->frequency) {
    case FREQ_HOURS: return performed_ms + (int64_t)p->every * MS_PER_HOUR;
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
    return last->passed && !last->suspect && check_state_passes(p, last, NULL, 0)
               ? check_valid_until(p, last->performed_ms, zone)
               : last->performed_ms;
}

bool check_state_passes(const procedure *p, const check_state *last, char *why, size_t size)
{
    if (why && size)
        why[0] = '\0';
    if (!last->passed)
        return false;
    if (!last->steps_known)
        return true; /* nothing to judge again: as recorded */
    for (size_t i = 0; i < p->step_count; i++) {
        const check_step *s = &p->steps[i];
        const check_step_answer *a = NULL;
        for (size_t k = 0; k < last->step_count && !a; k++)
            if (strcmp(last->steps[k].step_id, s->step_id) == 0)
                a = &last->steps[k];
        char limit[96], value[DECIMAL_TEXT_MAX], line[CHECK_DETAIL_MAX];
        if (!a || !a->taken || (s->is_reading && !a->has_value)) {
            snprintf(line, sizeof line, "%s not taken", s->step_id);
        } else if (s->is_reading && !check_step_within(s, a->value)) {
            check_step_limit_text(s, limit, sizeof limit);
            decimal_format_double(a->value, value, sizeof value);
            snprintf(line, sizeof line, "%s %s %s outside %s", s->step_id, value,
                     s->unit ? s->unit : "", limit);
        } else if (!s->is_reading && !a->attested) {
            snprintf(line, sizeof line, "%s not attested", s->step_id);
        } else {
            continue;
        }
        if (why && size)
            snprintf(why, size, "%s: %s under contract %s v%lld", p->procedure_id, line,
                     p->owner->contract_id, (long long)p->owner->version);
        return false;
    }
    return true;
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
    char why[CHECK_DETAIL_MAX];
    if (!last->suspect && !check_state_passes(p, last, why, sizeof why)) {
        snprintf(v->reason, sizeof v->reason,
                 "%s check %s at %s does not pass under the terms in force: ", p->frequency_label,
                 p->procedure_id, when);
        text_append(v->reason, sizeof v->reason, "", why);
        return;
    }
    /* Suspect when recorded (kept as the last only when nothing counted after it) or made
     * suspect since, by its reference found out of tolerance: not done until it passes again.
     * A passed check's detail is empty but for its re-judgement with the size of its
     * reference's finding (handlers/finding_review.c): "would have failed: ...". */
    if (last->suspect && last->detail[0]) {
        snprintf(v->reason, sizeof v->reason,
                 "required %s check %s not done: the one at %s, made with a reference found out "
                 "of tolerance since, ",
                 p->frequency_label, p->procedure_id, when);
        text_append(v->reason, sizeof v->reason, "", last->detail);
        return;
    }
    if (last->suspect) {
        snprintf(v->reason, sizeof v->reason,
                 "required %s check %s not done: the one at %s used a reference that was not fit "
                 "or was found out of tolerance since",
                 p->frequency_label, p->procedure_id, when);
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
    if (in->terms->station_checklist) { /* a station procedure: nothing to calibrate */
        out->calibration =
            (cal_assessment){.status = CAL_CURRENT, .ready = !in->record->out_of_service};
        ready = out->calibration.ready;
        snprintf(text, sizeof text, "%s", "station checklist (no calibration)");
    }
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
        const check_state *last = in->checks ? in->checks[i] : NULL;
        /* Not required before a test: never done or lapsed does not block, but a failure is
         * evidence the item is not fit (ISO/IEC 17025 §6.4.10) until the procedure passes. */
        if (!p->required_before_test && (!last || check_state_passes(p, last, NULL, 0)))
            continue;
        check_view *v = &out->checks[out->check_count++];
        assess_check(in, p, last, v);
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
