/* history.c — the equipment history: for one item (--equipment) or all, every calibration with
 * as-found / as-left per parameter against its tolerance, every check with its readings
 * against their limits, every status change, tag-out and send-out, and every job it was used
 * on (the gate's decisions naming it). Pure. */
#include <errno.h>
#include <string.h>

#include "report/report.h"

static bool wanted(const rep_ledger *l, const rep_query *q, const char *id, int64_t ms)
{
    return id && (q->equipment == NULL || strcmp(q->equipment, id) == 0) && rep_in_period(l, q, ms);
}

static bool inside(const rep_result *r, double v)
{
    return (!r->has_min || v >= r->min) && (!r->has_max || v <= r->max);
}

static int calibrations(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"date",
                                       "equipment_id",
                                       "certificate",
                                       "provider",
                                       "technician",
                                       "reference_standard",
                                       "parameter",
                                       "nominal",
                                       "unit",
                                       "as_found",
                                       "as_left",
                                       "tolerance_min",
                                       "tolerance_max",
                                       "as_found_in_tolerance",
                                       "as_left_in_tolerance",
                                       "suspect",
                                       NULL};
    rep_section *s = rep_section_add(d, "calibrations", "Calibrations", cols);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->calibrations.count; i++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, i);
        if (!wanted(l, q, c->equipment, c->time_ms))
            continue;
        for (size_t k = 0; k < (c->result_count ? c->result_count : 1); k++) {
            const rep_result *res = c->result_count ? &c->results[k] : NULL;
            rep_row *r = rep_row_add(d, s);
            if (r == NULL || rep_row_seq(r, c->seq) < 0)
                return -ENOMEM;
            rep_set_day(d, r, 0, c->date);
            rep_set_text(d, r, 1, c->equipment);
            rep_set_text(d, r, 2, c->certificate);
            rep_set_text(d, r, 3, c->provider);
            rep_set_text(d, r, 4, c->technician);
            rep_set_text(d, r, 5, c->reference);
            rep_set_bool(r, 15, c->suspect);
            if (res == NULL) {
                rep_set_bool(r, 13, c->found_in);
                rep_set_bool(r, 14, c->left_in);
                continue;
            }
            rep_set_text(d, r, 6, res->parameter);
            if (res->has_nominal)
                rep_set_real(r, 7, res->nominal, 4);
            rep_set_text(d, r, 8, res->unit);
            if (res->has_found)
                rep_set_real(r, 9, res->found, 4);
            if (res->has_left)
                rep_set_real(r, 10, res->left, 4);
            if (res->has_min)
                rep_set_real(r, 11, res->min, 4);
            if (res->has_max)
                rep_set_real(r, 12, res->max, 4);
            bool known = res->has_min || res->has_max;
            if (known && res->has_found)
                rep_set_bool(r, 13, inside(res, res->found));
            double left = res->has_left ? res->left : res->found;
            if (known && (res->has_left || res->has_found))
                rep_set_bool(r, 14, inside(res, left));
            if ((known && res->has_found && !inside(res, res->found)) || c->suspect)
                r->mark = REP_MARK_BAD;
        }
    }
    return 0;
}

static int checks(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"time",        "equipment_id", "procedure", "technician",
                                       "step",        "value",        "unit",      "limit",
                                       "step_passed", "check_passed", "suspect",   NULL};
    rep_section *s = rep_section_add(d, "checks", "Checks", cols);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->checks.count; i++) {
        const rep_check *c = REP_AT(l->checks, rep_check, i);
        if (!wanted(l, q, c->equipment, c->time_ms))
            continue;
        for (size_t k = 0; k < c->step_count; k++) {
            const rep_step *st = &c->steps[k];
            rep_row *r = rep_row_add(d, s);
            if (r == NULL || rep_row_seq(r, c->seq) < 0)
                return -ENOMEM;
            rep_set_time(d, r, 0, c->time_ms);
            rep_set_text(d, r, 1, c->equipment);
            rep_set_text(d, r, 2, c->procedure);
            rep_set_text(d, r, 3, c->technician);
            rep_set_text(d, r, 4, st->id);
            if (st->has_value)
                rep_set_real(r, 5, st->value, 3);
            else if (!st->reading)
                rep_set_text(d, r, 5, st->passed ? "attested" : "not attested");
            else if (!st->taken)
                rep_set_text(d, r, 5, "not taken");
            rep_set_text(d, r, 6, st->unit);
            rep_set_text(d, r, 7, st->limit);
            rep_set_bool(r, 8, st->passed);
            rep_set_bool(r, 9, c->passed);
            rep_set_bool(r, 10, c->suspect);
            r->mark = !st->passed ? REP_MARK_BAD : c->suspect ? REP_MARK_WARN : REP_MARK_NONE;
        }
    }
    return 0;
}

static int status_changes(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"time",  "equipment_id", "from",     "to",
                                       "cause", "ready",        "due_date", NULL};
    rep_section *s = rep_section_add(d, "status_changes", "Status changes", cols);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->transitions.count; i++) {
        const rep_transition *t = REP_AT(l->transitions, rep_transition, i);
        if (!wanted(l, q, t->equipment, t->time_ms))
            continue;
        rep_row *r = rep_row_add(d, s);
        if (r == NULL || rep_row_seq(r, t->seq) < 0)
            return -ENOMEM;
        rep_set_time(d, r, 0, t->time_ms);
        rep_set_text(d, r, 1, t->equipment);
        rep_set_text(d, r, 2, t->from);
        rep_set_text(d, r, 3, t->to);
        rep_set_text(d, r, 4, t->cause);
        rep_set_bool(r, 5, t->ready);
        rep_set_day(d, r, 6, t->due);
        r->mark = t->ready ? REP_MARK_NONE : REP_MARK_WARN;
    }
    return 0;
}

static int tag_outs(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"time", "equipment_id", "event", "by", "details", NULL};
    static const char *const names[] = {"tagged out of service", "returned to service",
                                        "sent out for calibration"};
    rep_section *s = rep_section_add(d, "tag_outs", "Tag-outs, returns and send-outs", cols);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->tags.count; i++) {
        const rep_tag *t = REP_AT(l->tags, rep_tag, i);
        if (!wanted(l, q, t->equipment, t->time_ms))
            continue;
        rep_row *r = rep_row_add(d, s);
        if (r == NULL || rep_row_seq(r, t->seq) < 0)
            return -ENOMEM;
        rep_set_time(d, r, 0, t->time_ms);
        rep_set_text(d, r, 1, t->equipment);
        rep_set_text(d, r, 2, names[t->kind]);
        rep_set_text(d, r, 3, t->user);
        rep_set_text(d, r, 4, t->text);
        r->mark = t->kind == REP_TAG_OUT ? REP_MARK_BAD : REP_MARK_NONE;
    }
    return 0;
}

static int jobs(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {
        "time", "clientpo_id", "equipment_id", "test_allowed", "item_ready", "reason", NULL};
    rep_section *s = rep_section_add(d, "jobs", "Jobs it was used on (test starts)", cols);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->gates.count; i++) {
        const rep_gate *g = REP_AT(l->gates, rep_gate, i);
        if (!rep_in_period(l, q, g->time_ms))
            continue;
        for (size_t k = 0; k < g->equipment_count; k++) {
            if (!wanted(l, q, g->equipment[k], g->time_ms))
                continue;
            const rep_block *b = NULL;
            for (size_t j = 0; j < g->blocked_count; j++)
                if (g->blocked[j].equipment &&
                    strcmp(g->blocked[j].equipment, g->equipment[k]) == 0)
                    b = &g->blocked[j];
            rep_row *r = rep_row_add(d, s);
            if (r == NULL || rep_row_seq(r, g->seq) < 0)
                return -ENOMEM;
            rep_set_time(d, r, 0, g->time_ms);
            rep_set_text(d, r, 1, g->clientpo);
            rep_set_text(d, r, 2, g->equipment[k]);
            rep_set_bool(r, 3, g->allowed);
            rep_set_bool(r, 4, b == NULL);
            rep_set_text(d, r, 5, b ? b->reason : NULL);
            r->mark = b ? REP_MARK_BAD : REP_MARK_NONE;
        }
    }
    return 0;
}

int report_history(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    int rc;
    if ((rc = calibrations(l, q, d)) || (rc = checks(l, q, d)) || (rc = status_changes(l, q, d)) ||
        (rc = tag_outs(l, q, d)) || (rc = jobs(l, q, d)))
        return rc;
    return 0;
}
