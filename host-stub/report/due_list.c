/* due_list.c — the recall list: every item with its state, due date and days left as of a
 * day, most urgent first (overdue, out of service, sent out, failed, never calibrated, then by
 * days left), for the next N days (--within) or up to --to. Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

typedef struct item {
    const char *id, *state;
    civil_day due;
    uint64_t state_seq, cal_seq, sent_seq;
    const char *certificate;
    bool retired;
    int group;
    int64_t days_left;
} item;

enum { G_OVERDUE, G_OUT, G_SENT, G_FAILED, G_NONE, G_DUE, G_COUNT };
static const char *const GROUP_NAMES[G_COUNT] = {
    "overdue", "out of service", "sent out", "calibration failed", "no calibration on record",
    "due"};

static int by_urgency(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->group != y->group)
        return x->group - y->group;
    if (x->days_left != y->days_left)
        return x->days_left < y->days_left ? -1 : 1;
    return strcmp(x->id, y->id);
}

static item *find(rep_map *m, rep_vec *items, const char *id)
{
    bool added;
    long k = rep_map_put(m, id, &added);
    if (k < 0)
        return NULL;
    if (added) {
        item *it = rep_vec_push(items, sizeof *it);
        if (it == NULL)
            return NULL;
        it->id = id;
        it->due = REP_NO_DAY;
    }
    return REP_AT(*items, item, k);
}

static int replay_to(const rep_ledger *l, civil_day as_of, rep_map *map, rep_vec *items)
{
    /* Replay in seq order, up to the end of the as-of day: the records are each kind's in seq
     * order already; the three kinds touch different fields, so they may be applied apart. */
    for (size_t i = 0; i < l->transitions.count; i++) {
        const rep_transition *t = REP_AT(l->transitions, rep_transition, i);
        if (rep_day_of(l, t->time_ms) > as_of || t->equipment == NULL)
            continue;
        item *it = find(map, items, t->equipment);
        if (it == NULL)
            return -ENOMEM;
        it->state = t->to;
        it->state_seq = t->seq;
        if (t->due != REP_NO_DAY)
            it->due = t->due;
    }
    for (size_t i = 0; i < l->calibrations.count; i++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, i);
        if (rep_day_of(l, c->time_ms) > as_of || c->equipment == NULL || c->due == REP_NO_DAY)
            continue;
        item *it = find(map, items, c->equipment);
        if (it == NULL)
            return -ENOMEM;
        if (c->seq > it->cal_seq) {
            it->cal_seq = c->seq;
            it->certificate = c->certificate;
        }
    }
    for (size_t i = 0; i < l->tags.count; i++) {
        const rep_tag *t = REP_AT(l->tags, rep_tag, i);
        if (t->kind != REP_TAG_SENT_OUT || rep_day_of(l, t->time_ms) > as_of || !t->equipment)
            continue;
        item *it = find(map, items, t->equipment);
        if (it == NULL)
            return -ENOMEM;
        it->sent_seq = t->seq;
    }
    for (size_t i = 0; i < l->retired.count; i++) {
        const rep_retired *r = REP_AT(l->retired, rep_retired, i);
        long k = rep_day_of(l, r->time_ms) <= as_of ? rep_map_get(map, r->equipment) : -1;
        if (k >= 0 && REP_AT(*items, item, k)->state_seq < r->seq)
            REP_AT(*items, item, k)->retired = true;
    }
    return 0;
}

/* Each item's urgency group and days left, as of the day. */
static void classify(rep_vec *items, civil_day as_of)
{
    for (size_t i = 0; i < items->count; i++) {
        item *it = REP_AT(*items, item, i);
        const char *st = it->state ? it->state : "";
        it->days_left = it->due == REP_NO_DAY ? INT32_MAX : (int64_t)it->due - as_of;
        if (strcmp(st, "out_of_service") == 0)
            it->group = G_OUT;
        else if (strcmp(st, "pending_calibration") == 0 && it->sent_seq > it->cal_seq)
            it->group = G_SENT;
        else if (it->due != REP_NO_DAY && it->days_left < 0)
            it->group = G_OVERDUE;
        else if (strcmp(st, "calibration_failed") == 0)
            it->group = G_FAILED;
        else if (it->due == REP_NO_DAY || strcmp(st, "pending_calibration") == 0)
            it->group = G_NONE;
        else
            it->group = G_DUE;
    }
}

int report_due_list(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    civil_day as_of = q->from != REP_NO_DAY ? q->from : rep_as_of(l, q);
    civil_day horizon = q->from != REP_NO_DAY && q->to != REP_NO_DAY
                            ? q->to
                            : (as_of == REP_NO_DAY ? REP_NO_DAY : as_of + q->within_days);
    rep_map map = {0};
    rep_vec items = {0};
    int rc = replay_to(l, as_of, &map, &items);
    static const char *const columns[] = {"urgency",   "equipment_id",     "status", "due_date",
                                          "days_left", "last_certificate", NULL};
    rep_section *s = rc ? NULL : rep_section_add(d, "due_list", "Due list", columns);
    if (rc == 0 && s == NULL)
        rc = -ENOMEM;
    if (rc == 0) {
        char a[16], h[16];
        civil_format(as_of, a, sizeof a);
        civil_format(horizon, h, sizeof h);
        s->note = rep_printf(&d->arena,
                             "As of %s, items due up to %s; overdue, out of service and sent "
                             "out first. %s",
                             a, h, rep_zone_text(l, d));
    }
    if (rc == 0)
        classify(&items, as_of);
    if (rc == 0)
        qsort(items.items, items.count, sizeof(item), by_urgency);
    for (size_t i = 0; i < items.count && rc == 0; i++) {
        const item *it = REP_AT(items, item, i);
        if (it->retired || (it->group == G_DUE && it->due > horizon))
            continue;
        rep_row *r = rep_row_add(d, s);
        if (r == NULL) {
            rc = -ENOMEM;
            break;
        }
        /* A state the sweep had not yet turned: overdue by the as-of day is shown as such. */
        const char *status =
            it->group == G_OVERDUE && it->state &&
                    (strcmp(it->state, "current") == 0 || strcmp(it->state, "expiring_soon") == 0)
                ? "expired"
                : it->state;
        r->mark = it->group == G_DUE ? (it->days_left <= 30 ? REP_MARK_WARN : REP_MARK_NONE)
                                     : REP_MARK_BAD;
        rep_set_text(d, r, 0, GROUP_NAMES[it->group]);
        rep_set_text(d, r, 1, it->id);
        rep_set_text(d, r, 2, status);
        rep_set_day(d, r, 3, it->due);
        if (it->due != REP_NO_DAY)
            rep_set_int(r, 4, it->days_left);
        rep_set_text(d, r, 5, it->certificate);
        uint64_t seqs[3] = {it->state_seq, it->cal_seq, it->sent_seq};
        for (int k = 0; k < 3 && rc == 0; k++)
            if (seqs[k])
                rc = rep_row_seq(r, seqs[k]);
    }
    rep_vec_free(&items);
    rep_map_free(&map);
    return rc;
}
