/* trend.c — accuracy trend and interval analysis. Pure.
 *
 * Trend: per item, parameter and calibration point, the as-found error (as found − nominal;
 * the value itself where the point has no nominal) over successive calibrations, charted with
 * the tolerance band moved by the nominal; and per item, procedure and step, the check
 * readings over time against the step's limits.
 *
 * Interval analysis: per item and per equipment type, the share of calibrations found in
 * tolerance as found; and per item an interval suggested by a simple response method (the
 * "automatic adjustment or staircase" method, ILAC-G24:2022 / OIML D 10 §6.2, method 1; NCSLI
 * RP-1's simple response methods): starting from the interval in force, each calibration found in
 * tolerance as found lengthens it by STEP_UP, each found out shortens it by STEP_DOWN. The factors
 * are this report's choice, stated in the reasoning; the suggestion is never applied. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"

#define STEP_UP   0.10
#define STEP_DOWN 0.30

static bool inside(const rep_result *r, double v)
{
    return (!r->has_min || v >= r->min) && (!r->has_max || v <= r->max);
}

static bool wanted(const rep_query *q, const char *id)
{
    return id && (q->equipment == NULL || strcmp(q->equipment, id) == 0);
}

typedef struct series {
    rep_chart *chart;
    const char *key;
    double first_found, last_found;
    bool has_last;
    int count;
    uint64_t first_seq, last_seq;
    rep_result terms; /* the tolerance of the newest */
} series;

#define HORIZON 20 /* calibrations looked ahead by the projection */

/* The drift of one series, for the reasoning under the table: the as-found value's geometric
 * mean change per calibration, and when, at that rate, it would leave its tolerance. */
static void drift_note(rep_doc *d, rep_section *s, const series *se)
{
    if (se->count < 3 || se->first_found <= 0 || se->last_found <= 0)
        return;
    double rate = pow(se->last_found / se->first_found, 1.0 / (se->count - 1)) - 1;
    char text[900];
    int n = snprintf(text, sizeof text,
                     "%s: as found changed %+.2f %% per calibration (geometric mean over %d "
                     "calibrations, seqs %llu to %llu)",
                     se->key, 100 * rate, se->count, (unsigned long long)se->first_seq,
                     (unsigned long long)se->last_seq);
    if (n < 0 || (size_t)n >= sizeof text)
        return;
    if (!se->terms.has_min && !se->terms.has_max) {
        rep_note(d, s, text);
        return;
    }
    int k = 0;
    double v = se->last_found;
    while (k < HORIZON && inside(&se->terms, v)) {
        v *= 1 + rate;
        k++;
    }
    if (inside(&se->terms, v) || fabs(rate) < 1e-12)
        snprintf(text + n, sizeof text - (size_t)n,
                 "; at that rate it stays in tolerance for the next %d calibrations.", HORIZON);
    else
        snprintf(text + n, sizeof text - (size_t)n,
                 "; at that rate it would be found out of tolerance (%.4g) at the %d%s "
                 "calibration from now.",
                 v, k,
                 k == 1   ? "st"
                 : k == 2 ? "nd"
                 : k == 3 ? "rd"
                          : "th");
    rep_note(d, s, text);
}

static int calibration_trend(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {
        "date",          "equipment_id", "parameter", "nominal",    "unit",
        "as_found",      "error",        "error_pct", "change_pct", "tolerance_min",
        "tolerance_max", "in_tolerance", NULL};
    rep_section *s = rep_section_add(d, "trend_calibrations",
                                     "Accuracy trend: as-found error per calibration", cols);
    if (s == NULL)
        return -ENOMEM;
    s->note = "Error is as found minus nominal; the chart's band is the tolerance around the "
              "nominal. change_pct is the as-found value's change since the calibration before.";
    rep_map m = {0};
    rep_vec v = {0};
    int rc = 0;
    char key[600];
    for (size_t i = 0; i < l->calibrations.count && rc == 0; i++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, i);
        if (!wanted(q, c->equipment) || !rep_in_period(l, q, c->time_ms) || c->suspect)
            continue;
        for (size_t k = 0; k < c->result_count && rc == 0; k++) {
            const rep_result *res = &c->results[k];
            if (!res->has_found)
                continue;
            if (res->has_nominal)
                snprintf(key, sizeof key, "%s / %s at %g %s", c->equipment, res->parameter,
                         res->nominal, res->unit ? res->unit : "");
            else
                snprintf(key, sizeof key, "%s / %s", c->equipment, res->parameter);
            bool added;
            char *kc = rep_strdup(&d->arena, key);
            long idx = kc ? rep_map_put(&m, kc, &added) : -1;
            series *se = idx < 0 ? NULL
                         : added ? rep_vec_push(&v, sizeof *se)
                                 : REP_AT(v, series, idx);
            if (se == NULL) {
                rc = -ENOMEM;
                break;
            }
            double base = res->has_nominal ? res->nominal : 0;
            if (added) {
                char id[620];
                snprintf(id, sizeof id, "cal:%s", key);
                se->chart = rep_chart_add(d, s, id, key, res->unit);
                if (se->chart == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                se->chart->has_low = res->has_min;
                se->chart->low = res->min - base;
                se->chart->has_high = res->has_max;
                se->chart->high = res->max - base;
            }
            double error = res->found - base;
            bool in = inside(res, res->found);
            rep_row *r = rep_row_add(d, s);
            if (r == NULL || rep_row_seq(r, c->seq) < 0 ||
                rep_chart_point(se->chart, c->date, error, c->seq, !in) < 0) {
                rc = -ENOMEM;
                break;
            }
            rep_set_day(d, r, 0, c->date);
            rep_set_text(d, r, 1, c->equipment);
            rep_set_text(d, r, 2, res->parameter);
            if (res->has_nominal) {
                rep_set_real(r, 3, res->nominal, 4);
                rep_set_real(r, 7, 100.0 * error / res->nominal, 2);
            }
            rep_set_text(d, r, 4, res->unit);
            rep_set_real(r, 5, res->found, 4);
            rep_set_real(r, 6, error, 4);
            if (se->has_last && se->last_found != 0)
                rep_set_real(r, 8, 100.0 * (res->found - se->last_found) / se->last_found, 2);
            if (res->has_min)
                rep_set_real(r, 9, res->min, 4);
            if (res->has_max)
                rep_set_real(r, 10, res->max, 4);
            if (res->has_min || res->has_max)
                rep_set_bool(r, 11, in);
            r->mark = in ? REP_MARK_NONE : REP_MARK_BAD;
            if (!se->has_last) {
                se->first_found = res->found;
                se->first_seq = c->seq;
                se->key = kc;
            }
            se->last_found = res->found;
            se->last_seq = c->seq;
            se->terms = *res;
            se->count++;
            se->has_last = true;
        }
    }
    for (size_t i = 0; i < v.count && rc == 0; i++)
        drift_note(d, s, REP_AT(v, series, i));
    rep_vec_free(&v);
    rep_map_free(&m);
    return rc;
}

static int check_trend(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"time", "equipment_id", "procedure", "step", "value",
                                       "unit", "limit",        "passed",    NULL};
    rep_section *s = rep_section_add(d, "trend_checks", "Check readings over time", cols);
    if (s == NULL)
        return -ENOMEM;
    rep_map m = {0};
    int rc = 0;
    char key[600];
    for (size_t i = 0; i < l->checks.count && rc == 0; i++) {
        const rep_check *c = REP_AT(l->checks, rep_check, i);
        if (!wanted(q, c->equipment) || !rep_in_period(l, q, c->time_ms))
            continue;
        for (size_t k = 0; k < c->step_count && rc == 0; k++) {
            const rep_step *st = &c->steps[k];
            if (!st->has_value)
                continue;
            snprintf(key, sizeof key, "%s / %s / %s", c->equipment, c->procedure, st->id);
            bool added;
            char *kc = rep_strdup(&d->arena, key);
            long idx = kc ? rep_map_put(&m, kc, &added) : -1;
            if (idx < 0) {
                rc = -ENOMEM;
                break;
            }
            if (added) {
                char id[620];
                snprintf(id, sizeof id, "check:%s", key);
                rep_chart *ch = rep_chart_add(d, s, id, key, st->unit);
                if (ch == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                ch->has_low = st->has_min;
                ch->low = st->min;
                ch->has_high = st->has_max;
                ch->high = st->max;
            }
            rep_chart *ch = REP_CHART(s, idx);
            rep_row *r = rep_row_add(d, s);
            if (r == NULL || rep_row_seq(r, c->seq) < 0 ||
                rep_chart_point(ch, rep_day_of(l, c->time_ms), st->value, c->seq, !st->passed) <
                    0) {
                rc = -ENOMEM;
                break;
            }
            rep_set_time(d, r, 0, c->time_ms);
            rep_set_text(d, r, 1, c->equipment);
            rep_set_text(d, r, 2, c->procedure);
            rep_set_text(d, r, 3, st->id);
            rep_set_real(r, 4, st->value, 3);
            rep_set_text(d, r, 5, st->unit);
            rep_set_text(d, r, 6, st->limit);
            rep_set_bool(r, 7, st->passed);
            r->mark = st->passed ? REP_MARK_NONE : REP_MARK_BAD;
        }
    }
    rep_map_free(&m);
    return rc;
}

typedef struct tally {
    const char *key;
    int64_t n, in;
    double interval;  /* the suggestion so far, days */
    int64_t in_force; /* the interval of the newest calibration, days */
    char reasoning[2000];
    rep_vec seqs;
} tally;

static tally *get(rep_map *m, rep_vec *v, const char *key)
{
    bool added;
    long k = rep_map_put(m, key ? key : "(no type)", &added);
    if (k < 0)
        return NULL;
    if (added) {
        tally *t = rep_vec_push(v, sizeof *t);
        if (t == NULL)
            return NULL;
        t->key = key ? key : "(no type)";
    }
    return REP_AT(*v, tally, k);
}

/* One calibration's step of the staircase: the item's suggested interval and its reasoning. */
static void staircase_step(tally *it, const rep_calibration *c)
{
    int64_t in_force = c->due != REP_NO_DAY ? (int64_t)c->due - c->date : it->in_force;
    char step[200], day[16];
    civil_format(c->date, day, sizeof day);
    if (it->n == 1 || it->interval <= 0) {
        it->interval = (double)in_force;
        snprintf(step, sizeof step,
                 "%s (seq %llu) %s as found: start from the %lld days in "
                 "force",
                 day, (unsigned long long)c->seq, c->found_in ? "in tolerance" : "OUT",
                 (long long)in_force);
    } else {
        double before = it->interval;
        it->interval *= c->found_in ? 1 + STEP_UP : 1 - STEP_DOWN;
        snprintf(step, sizeof step, "%s (seq %llu) %s as found: %.0f -> %.0f days", day,
                 (unsigned long long)c->seq, c->found_in ? "in tolerance" : "OUT", before,
                 it->interval);
    }
    it->in_force = in_force;
    size_t len = strlen(it->reasoning);
    snprintf(it->reasoning + len, sizeof it->reasoning - len, "%s%s", len ? "; " : "", step);
}

/* An item's row: its type, tallies, suggestion, and the reasoning as a note. */
static void fill_item_row(const rep_ledger *l, rep_doc *d, rep_section *s, rep_row *r, tally *t)
{
    const char *type = NULL;
    for (size_t k = 0; k < l->calibrations.count && type == NULL; k++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, k);
        if (c->equipment && strcmp(c->equipment, t->key) == 0)
            type = c->equipment_type;
    }
    rep_set_text(d, r, 0, t->key);
    rep_set_text(d, r, 1, type);
    rep_set_int(r, 2, t->n);
    rep_set_int(r, 3, t->in);
    rep_set_real(r, 4, 100.0 * (double)t->in / (double)t->n, 1);
    rep_set_int(r, 5, t->in_force);
    rep_set_int(r, 6, (int64_t)lround(t->interval));
    r->mark = t->in < t->n ? REP_MARK_WARN : REP_MARK_NONE;
    r->seqs = t->seqs;
    memset(&t->seqs, 0, sizeof t->seqs);
    char note[2200];
    snprintf(note, sizeof note, "%s: %s.", t->key, t->reasoning);
    rep_note(d, s, note);
}

static int interval_analysis(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const icols[] = {"equipment_id",
                                        "equipment_type",
                                        "calibrations",
                                        "in_tolerance_as_found",
                                        "in_tolerance_pct",
                                        "interval_in_force_days",
                                        "suggested_interval_days",
                                        NULL};
    static const char *const tcols[] = {"equipment_type", "calibrations", "in_tolerance_as_found",
                                        "in_tolerance_pct", NULL};
    rep_section *s = rep_section_add(d, "interval_items", "Interval analysis per item", icols);
    rep_section *ts =
        s ? rep_section_add(d, "interval_types", "In tolerance as found, per equipment type", tcols)
          : NULL;
    if (ts == NULL)
        return -ENOMEM;
    s->note = "Suggested by the simple response (staircase) method (ILAC-G24:2022 / OIML D 10 "
              "6.2, method 1; NCSLI RP-1): from the interval in force, +10 % for each "
              "calibration found in tolerance as found, -30 % for each found out (this report's "
              "factors). A suggestion for review, never applied.";
    rep_map im = {0}, tm = {0};
    rep_vec iv = {0}, tv = {0};
    int rc = 0;
    for (size_t i = 0; i < l->calibrations.count && rc == 0; i++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, i);
        if (!wanted(q, c->equipment) || !rep_in_period(l, q, c->time_ms) || c->suspect ||
            c->retired || c->result_count == 0)
            continue;
        tally *it = get(&im, &iv, c->equipment);
        tally *ty = it ? get(&tm, &tv, c->equipment_type) : NULL;
        uint64_t *s1 = ty ? rep_vec_push(&it->seqs, sizeof *s1) : NULL;
        uint64_t *s2 = s1 ? rep_vec_push(&ty->seqs, sizeof *s2) : NULL;
        if (s2 == NULL) {
            rc = -ENOMEM;
            break;
        }
        *s1 = *s2 = c->seq;
        it->n++;
        ty->n++;
        it->in += c->found_in;
        ty->in += c->found_in;
        staircase_step(it, c);
    }
    for (size_t i = 0; i < iv.count && rc == 0; i++) {
        tally *t = REP_AT(iv, tally, i);
        rep_row *r = rep_row_add(d, s);
        if (r == NULL) {
            rc = -ENOMEM;
            break;
        }
        fill_item_row(l, d, s, r, t);
    }
    for (size_t i = 0; i < tv.count && rc == 0; i++) {
        tally *t = REP_AT(tv, tally, i);
        rep_row *r = rep_row_add(d, ts);
        if (r == NULL) {
            rc = -ENOMEM;
            break;
        }
        rep_set_text(d, r, 0, t->key);
        rep_set_int(r, 1, t->n);
        rep_set_int(r, 2, t->in);
        rep_set_real(r, 3, 100.0 * (double)t->in / (double)t->n, 1);
        r->seqs = t->seqs;
        memset(&t->seqs, 0, sizeof t->seqs);
    }
    for (size_t i = 0; i < iv.count; i++)
        rep_vec_free(&REP_AT(iv, tally, i)->seqs);
    for (size_t i = 0; i < tv.count; i++)
        rep_vec_free(&REP_AT(tv, tally, i)->seqs);
    rep_vec_free(&iv);
    rep_vec_free(&tv);
    rep_map_free(&im);
    rep_map_free(&tm);
    return rc;
}

int report_trend(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    int rc;
    if ((rc = calibration_trend(l, q, d)) || (rc = check_trend(l, q, d)) ||
        (rc = interval_analysis(l, q, d)))
        return rc;
    return 0;
}
