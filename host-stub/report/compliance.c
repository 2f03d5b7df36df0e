/* compliance.c — check compliance: for each item and procedure, the windows due in the period
 * on the station's clock (windows_of: a daily check's day, a weekly one's ISO week, a
 * per-shift one's shifts, an every-N-hours one's N hours from the first shift start) and, per
 * month, how many were done on time, late, missed or failed, and the share on time; per
 * technician the checks done, failed and late.
 *   on time: a passed check in the window before any test the gate blocked for it;
 *   late:    a passed check in the window after the gate blocked a test for its not being done;
 *   failed:  checks in the window, none passed;
 *   missed:  no check in the window, which had ended by the ledger's last record.
 * The windows begin with the one holding the first check on record of that item and procedure
 * (or --from, when later), and end at --to or the last record. A per-shift check whose record
 * names no shifts (written before the module recorded them) has its checks counted but no
 * window due. Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

enum { W_MISSED, W_FAILED, W_ON_TIME, W_LATE };

typedef struct pair {
    const char *equipment, *procedure, *frequency;
    int every;
    int shift_starts[8];
    size_t shift_count;
    rep_vec checks; /* const rep_check * */
} pair;

typedef struct tech {
    const char *name;
    int64_t checks, passed, failed, late;
    rep_vec seqs;
} tech;

/* The windows of a pair as the instants they begin, on the station's clock, as the module's
 * check validity has them (plugin/core/readiness.c, check_valid_until): a daily check's local
 * day, a weekly one's ISO week (from local Monday midnight), an every-N-days one's N days; a
 * per-shift one's shifts, from one of the contract's shift starts to the next; an
 * every-N-hours one's N hours from the day's first shift start (local midnight when the record
 * names no shifts), the last of a day cut at the next day's first. Windows from the one holding
 * `begin_ms` through station day `end`; starts[count] is the end of the last. Returns the
 * window count (0: no fixed window: a per-shift record that names no shifts), or -1 when out
 * of memory; *out (heap, the caller frees) is NULL when 0. */
/* The instant of `minutes` after local midnight of station day `day`, on the wall clock of
 * the zone in force that day (core/zone_rules.h: a time skipped by a gap is the gap's end). */
static int64_t local_ms(const rep_ledger *l, civil_day day, int minutes)
{
    const station_zone *z = rep_zone_at(l, (int64_t)day * MS_PER_DAY + 12 * MS_PER_HOUR);
    return z ? station_zone_local_ms(z, day, minutes)
             : (int64_t)day * MS_PER_DAY + (int64_t)minutes * MS_PER_MINUTE;
}

static long windows_of(const rep_ledger *l, const pair *p, int64_t begin_ms, civil_day end,
                       int64_t **out)
{
    *out = NULL;
    const char *f = p->frequency ? p->frequency : "";
    civil_day start = rep_day_of(l, begin_ms);
    int days = 0, hours = 0;
    bool shifts = false;
    civil_day origin = start;
    if (strcmp(f, "daily") == 0)
        days = 1;
    else if (strcmp(f, "weekly") == 0) {
        days = 7;
        origin = start - (((start % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
    } else if (strcmp(f, "every_n_days") == 0 && p->every > 0)
        days = p->every;
    else if (strcmp(f, "every_n_hours") == 0 && p->every > 0)
        hours = p->every;
    else if (strcmp(f, "per_shift") == 0 && p->shift_count > 0)
        shifts = true;
    if ((days == 0 && hours == 0 && !shifts) || end < origin)
        return 0;
    rep_vec v = {0};
    int64_t *slot;
#define PUSH(ms) (((slot = rep_vec_push(&v, sizeof *slot)) != NULL) ? (*slot = (ms), 0) : -1)
    int rc = 0;
    int first = p->shift_count ? p->shift_starts[0] : 0;
    if (days) {
        for (civil_day day = origin; rc == 0 && day <= end + days; day += days)
            rc = PUSH(local_ms(l, day, 0));
    } else if (hours > 24) { /* longer than a day: N hours on from the first day's anchor */
        int64_t stop = local_ms(l, end + 1, 0) + (int64_t)hours * MS_PER_HOUR;
        for (int64_t at = local_ms(l, start - 1, first); rc == 0 && at <= stop;
             at += (int64_t)hours * MS_PER_HOUR)
            rc = PUSH(at);
    } else {
        /* From the day before: its last window may hold the first instant. */
        for (civil_day day = start - 1; rc == 0 && day <= end + 1; day++) {
            int64_t from = local_ms(l, day, first), next = local_ms(l, day + 1, first);
            if (hours)
                for (int64_t at = from; rc == 0 && at < next; at += (int64_t)hours * MS_PER_HOUR)
                    rc = PUSH(at);
            else
                for (size_t i = 0; rc == 0 && i < p->shift_count; i++)
                    rc = PUSH(local_ms(l, day, p->shift_starts[i]));
        }
    }
#undef PUSH
    if (rc != 0) {
        rep_vec_free(&v);
        return -1;
    }
    /* Keep the windows from the one holding begin_ms to the last one beginning on day `end`,
     * plus the end of that one. */
    int64_t *all = v.items;
    size_t lo = 0, hi = v.count;
    while (lo + 1 < v.count && all[lo + 1] <= begin_ms)
        lo++;
    int64_t end_ms = local_ms(l, end + 1, 0);
    while (hi > lo + 1 && all[hi - 2] >= end_ms)
        hi--;
    long count = (long)(hi - lo) - 1;
    if (count <= 0) {
        rep_vec_free(&v);
        return 0;
    }
    memmove(all, all + lo, (size_t)(count + 1) * sizeof *all);
    *out = all;
    return count;
}

/* The window an instant falls in, or -1 outside them all. */
static long window_index(const int64_t *starts, long count, int64_t ms)
{
    if (count == 0 || ms < starts[0] || ms >= starts[count])
        return -1;
    long lo = 0, hi = count;
    while (hi - lo > 1) {
        long mid = lo + (hi - lo) / 2;
        if (starts[mid] <= ms)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static bool blocked_for(const rep_gate *g, const pair *p)
{
    for (size_t k = 0; k < g->blocked_count; k++) {
        const rep_block *b = &g->blocked[k];
        if (b->equipment && strcmp(b->equipment, p->equipment) == 0 && b->reason &&
            strstr(b->reason, p->procedure))
            return true;
    }
    return false;
}

static tech *tech_of(rep_map *m, rep_vec *v, const char *name)
{
    bool added;
    long k = rep_map_put(m, name ? name : "", &added);
    if (k < 0)
        return NULL;
    if (added) {
        tech *t = rep_vec_push(v, sizeof *t);
        if (t == NULL)
            return NULL;
        t->name = name ? name : "";
    }
    return REP_AT(*v, tech, k);
}

typedef struct month_row {
    rep_row *row;
    int month;
    int64_t due, counts[4];
} month_row;

/* Each check of the pair: its technician's tally, and the window it passed or failed. */
static int tally_checks(const pair *p, const int64_t *starts, long count, int *state,
                        int64_t *pass_ms, uint64_t *seq, rep_map *tm, rep_vec *tv)
{
    for (size_t i = 0; i < p->checks.count; i++) {
        const rep_check *c = *REP_AT(p->checks, const rep_check *, i);
        tech *t = tech_of(tm, tv, c->technician);
        if (t == NULL)
            return -ENOMEM;
        t->checks++;
        *(c->passed ? &t->passed : &t->failed) += 1;
        uint64_t *s = rep_vec_push(&t->seqs, sizeof *s);
        if (s == NULL)
            return -ENOMEM;
        *s = c->seq;
        if (count == 0)
            continue;
        long w = window_index(starts, count, c->time_ms);
        if (w < 0 || w >= count)
            continue;
        if (c->passed && state[w] != W_ON_TIME) {
            state[w] = W_ON_TIME;
            pass_ms[w] = c->time_ms;
            seq[w] = c->seq;
        } else if (!c->passed && state[w] == W_MISSED) {
            state[w] = W_FAILED;
            seq[w] = c->seq;
        }
    }
    return 0;
}

/* Late: the gate blocked a test for it in the window before its first pass. */
static void mark_late_by_gate(const rep_ledger *l, const pair *p, const int64_t *starts, long count,
                              const int *state, const int64_t *pass_ms, uint64_t *late_gate)
{
    for (size_t i = 0; i < l->gates.count && count; i++) {
        const rep_gate *g = REP_AT(l->gates, rep_gate, i);
        long w = window_index(starts, count, g->time_ms);
        if (w < 0 || w >= count || state[w] != W_ON_TIME || g->time_ms >= pass_ms[w] ||
            late_gate[w] || !blocked_for(g, p))
            continue;
        late_gate[w] = g->seq;
    }
}

/* A late window counts against the technician of the check that passed it. */
static void count_late_technician(const pair *p, uint64_t pass_seq, rep_map *tm, rep_vec *tv)
{
    tech *t = NULL;
    for (size_t i = 0; i < p->checks.count; i++) {
        const rep_check *c = *REP_AT(p->checks, const rep_check *, i);
        if (c->seq == pass_seq)
            t = tech_of(tm, tv, c->technician);
    }
    if (t)
        t->late++;
}

static int add_missed_row(rep_doc *d, rep_section *missed, const pair *p, bool by_day,
                          civil_day wday, int64_t start_ms, int st, uint64_t cite_seq)
{
    rep_row *r = rep_row_add(d, missed);
    if (r == NULL)
        return -ENOMEM;
    rep_set_text(d, r, 0, p->equipment);
    rep_set_text(d, r, 1, p->procedure);
    if (by_day)
        rep_set_day(d, r, 2, wday);
    else
        rep_set_time(d, r, 2, start_ms);
    rep_set_text(d, r, 3, st == W_MISSED ? "missed" : "failed");
    r->mark = REP_MARK_BAD;
    return rep_row_seq(r, cite_seq);
}

static void fill_month_rows(month_row *rows, size_t nrows)
{
    for (size_t i = 0; i < nrows; i++) {
        month_row *mr = &rows[i];
        rep_set_int(mr->row, 4, mr->due);
        rep_set_int(mr->row, 5, mr->counts[W_ON_TIME]);
        rep_set_int(mr->row, 6, mr->counts[W_LATE]);
        rep_set_int(mr->row, 7, mr->counts[W_MISSED]);
        rep_set_int(mr->row, 8, mr->counts[W_FAILED]);
        if (mr->due)
            rep_set_real(mr->row, 9, 100.0 * (double)mr->counts[W_ON_TIME] / (double)mr->due, 1);
        mr->row->mark = mr->counts[W_ON_TIME] == mr->due ? REP_MARK_NONE : REP_MARK_WARN;
    }
}

static int add_no_window_row(rep_doc *d, rep_section *periods, const pair *p)
{
    int rc = 0;
    rep_row *r = rep_row_add(d, periods);
    if (r == NULL)
        rc = -ENOMEM;
    else {
        rep_set_text(d, r, 0, p->equipment);
        rep_set_text(d, r, 1, p->procedure);
        rep_set_text(d, r, 2, p->frequency);
        rep_set_text(d, r, 3, "no fixed window");
        for (size_t i = 0; i < p->checks.count && rc == 0; i++)
            rc = rep_row_seq(r, (*REP_AT(p->checks, const rep_check *, i))->seq);
    }
    return rc;
}

static int one_pair(const rep_ledger *l, const rep_query *q, rep_doc *d, const pair *p,
                    rep_section *periods, rep_section *missed, rep_map *tm, rep_vec *tv)
{
    const rep_check *first = *REP_AT(p->checks, const rep_check *, 0);
    /* Nothing on record says it was due before its first check. */
    int64_t begin_ms = first->time_ms;
    civil_day start = rep_day_of(l, begin_ms);
    if (q->from != REP_NO_DAY && q->from > start) {
        start = q->from;
        begin_ms = rep_day_start_ms(l, start, begin_ms);
    }
    civil_day end = rep_as_of(l, q);
    int64_t *starts = NULL;
    long count = windows_of(l, p, begin_ms, end, &starts);
    /* A window that begins after the ledger's last record is not due yet. */
    while (count > 0 && starts[count - 1] > l->last_ms)
        count--;
    bool by_day = p->frequency && strcmp(p->frequency, "every_n_hours") != 0 &&
                  strcmp(p->frequency, "per_shift") != 0;
    if (count < 0)
        return -ENOMEM;
    int *state = calloc((size_t)(count ? count : 1), sizeof *state);
    int64_t *pass_ms = calloc((size_t)(count ? count : 1), sizeof *pass_ms);
    uint64_t *seq = calloc((size_t)(count ? count : 1), sizeof *seq);
    int rc = state && pass_ms && seq ? 0 : -ENOMEM;
    if (rc == 0)
        rc = tally_checks(p, starts, count, state, pass_ms, seq, tm, tv);
    uint64_t *late_gate = calloc((size_t)(count ? count : 1), sizeof *late_gate);
    if (late_gate == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        mark_late_by_gate(l, p, starts, count, state, pass_ms, late_gate);
    month_row rows[64];
    size_t nrows = 0;
    for (long w = 0; w < count && rc == 0; w++) {
        civil_day wday = rep_day_of(l, starts[w]);
        int y, m, dd;
        civil_to_ymd(wday < start ? start : wday, &y, &m, &dd);
        int month = y * 12 + m;
        int st = state[w] == W_ON_TIME && late_gate[w] ? W_LATE : state[w];
        if (st == W_MISSED && starts[w + 1] > l->last_ms)
            continue; /* still open at the ledger's last record: not missed (yet) */
        if (nrows == 0 || rows[nrows - 1].month != month) {
            if (nrows == sizeof rows / sizeof rows[0])
                break; /* more than 64 months in one report: the first 64 are shown */
            rep_row *r = rep_row_add(d, periods);
            if (r == NULL) {
                rc = -ENOMEM;
                break;
            }
            rows[nrows++] = (month_row){.row = r, .month = month};
            char text[16];
            snprintf(text, sizeof text, "%04d-%02d", y, m);
            rep_set_text(d, r, 0, p->equipment);
            rep_set_text(d, r, 1, p->procedure);
            rep_set_text(d, r, 2, p->frequency);
            rep_set_text(d, r, 3, text);
        }
        month_row *mr = &rows[nrows - 1];
        mr->due++;
        mr->counts[st]++;
        if (seq[w] && (rc = rep_row_seq(mr->row, seq[w])) < 0)
            break;
        if (late_gate[w] && (rc = rep_row_seq(mr->row, late_gate[w])) < 0)
            break;
        if (st == W_LATE)
            count_late_technician(p, seq[w], tm, tv);
        /* A missed window has no record of its own: it cites the first check of the
         * procedure on record, which shows it was due. */
        if ((st == W_MISSED || st == W_FAILED) &&
            (rc = add_missed_row(d, missed, p, by_day, wday, starts[w], st,
                                 seq[w] ? seq[w] : first->seq)) < 0)
            break;
    }
    fill_month_rows(rows, nrows);
    if (count == 0 && rc == 0)
        rc = add_no_window_row(d, periods, p);
    free(starts);
    free(state);
    free(pass_ms);
    free(seq);
    free(late_gate);
    return rc;
}

int report_compliance(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const pcols[] = {"equipment_id", "procedure",   "frequency", "period",
                                        "due",          "on_time",     "late",      "missed",
                                        "failed",       "on_time_pct", NULL};
    static const char *const mcols[] = {"equipment_id", "procedure", "window", "result", NULL};
    static const char *const tcols[] = {"technician", "checks", "passed", "failed", "late", NULL};
    rep_section *periods =
        rep_section_add(d, "compliance", "Check compliance per procedure and month", pcols);
    rep_section *missed =
        periods ? rep_section_add(d, "compliance_missed", "Windows missed or failed", mcols) : NULL;
    rep_section *techs =
        missed ? rep_section_add(d, "compliance_technicians", "Per technician", tcols) : NULL;
    if (techs == NULL)
        return -ENOMEM;
    periods->note = rep_printf(&d->arena,
                               "A window is a daily check's day, a weekly check's ISO week, a "
                               "per-shift check's shift, or an every-N-hours check's N hours "
                               "from the day's first shift start, on the station's clock; late "
                               "means done after the gate blocked a test for it in that "
                               "window. %s",
                               rep_zone_text(l, d));
    rep_map pm = {0}, tm = {0};
    rep_vec pv = {0}, tv = {0};
    char key[600];
    int rc = 0;
    for (size_t i = 0; i < l->checks.count && rc == 0; i++) {
        const rep_check *c = REP_AT(l->checks, rep_check, i);
        if (!c->equipment || !c->procedure || !rep_in_period(l, q, c->time_ms) ||
            (q->equipment && strcmp(q->equipment, c->equipment) != 0))
            continue;
        snprintf(key, sizeof key, "%s\x1f%s", c->equipment, c->procedure);
        bool added;
        char *k = rep_strdup(&d->arena, key);
        long idx = k ? rep_map_put(&pm, k, &added) : -1;
        pair *p = idx < 0 ? NULL : added ? rep_vec_push(&pv, sizeof *p) : REP_AT(pv, pair, idx);
        const rep_check **slot = p ? rep_vec_push(&p->checks, sizeof *slot) : NULL;
        if (slot == NULL) {
            rc = -ENOMEM;
            break;
        }
        *slot = c;
        p->equipment = c->equipment;
        p->procedure = c->procedure;
        p->frequency = c->frequency;
        p->every = c->every;
        if (c->shift_count) { /* the shifts in force at its last check that names them */
            memcpy(p->shift_starts, c->shift_starts, sizeof p->shift_starts);
            p->shift_count = c->shift_count;
        }
    }
    for (size_t i = 0; i < pv.count && rc == 0; i++)
        rc = one_pair(l, q, d, REP_AT(pv, pair, i), periods, missed, &tm, &tv);
    for (size_t i = 0; i < tv.count && rc == 0; i++) {
        tech *t = REP_AT(tv, tech, i);
        rep_row *r = rep_row_add(d, techs);
        if (r == NULL) {
            rc = -ENOMEM;
            break;
        }
        rep_set_text(d, r, 0, t->name);
        rep_set_int(r, 1, t->checks);
        rep_set_int(r, 2, t->passed);
        rep_set_int(r, 3, t->failed);
        rep_set_int(r, 4, t->late);
        r->seqs = t->seqs;
        memset(&t->seqs, 0, sizeof t->seqs);
    }
    for (size_t i = 0; i < pv.count; i++)
        rep_vec_free(&REP_AT(pv, pair, i)->checks);
    for (size_t i = 0; i < tv.count; i++)
        rep_vec_free(&REP_AT(tv, tech, i)->seqs);
    rep_vec_free(&pv);
    rep_vec_free(&tv);
    rep_map_free(&pm);
    rep_map_free(&tm);
    return rc;
}
