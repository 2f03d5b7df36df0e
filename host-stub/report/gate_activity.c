/* gate_activity.c — the gate's decisions: tests allowed and blocked per day, the blocking
 * reasons ranked (each item's reason split into its rules, with the figures taken out, so
 * "calibration expired: was due 2025-02-03, 10 days overdue" counts as "calibration expired"),
 * and the items that blocked most. Pure. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

typedef struct tally {
    const char *key;
    int64_t count, allowed, blocked;
    rep_vec seqs;
} tally;

static tally *bump(rep_map *m, rep_vec *v, const char *key)
{
    bool added;
    long k = rep_map_put(m, key, &added);
    if (k < 0)
        return NULL;
    if (added) {
        tally *t = rep_vec_push(v, sizeof *t);
        if (t == NULL)
            return NULL;
        t->key = key;
    }
    return REP_AT(*v, tally, k);
}

static int add_seq(tally *t, uint64_t seq)
{
    size_t n = t->seqs.count;
    if (n && *REP_AT(t->seqs, uint64_t, n - 1) == seq)
        return 0;
    uint64_t *p = rep_vec_push(&t->seqs, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    *p = seq;
    return 0;
}

/* The rule a reason names: up to its first ": " or '(', ids kept, each figure (a number, date
 * or time) folded into "N". */
static char *rule_of(rep_arena *a, const char *reason, size_t len)
{
    char buf[200];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 2 < sizeof buf; i++) {
        char c = reason[i];
        if ((c == ':' && (i + 1 == len || reason[i + 1] == ' ')) || c == '(')
            break;
        if (isdigit((unsigned char)c) && (i == 0 || reason[i - 1] == ' ')) {
            while (i + 1 < len && reason[i + 1] != ' ' && reason[i + 1] != '(' &&
                   !(reason[i + 1] == ':' && (i + 2 == len || reason[i + 2] == ' ')))
                i++; /* a number, a date or a time: the figure, not the rule */
            buf[o++] = 'N';
            continue;
        }
        buf[o++] = c;
    }
    while (o && buf[o - 1] == ' ')
        o--;
    buf[o] = '\0';
    return rep_strdup(a, buf);
}

static int by_count(const void *a, const void *b)
{
    const tally *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const tally *)a)->key, ((const tally *)b)->key);
}

static int emit(rep_doc *d, rep_section *s, rep_vec *v, bool per_day)
{
    qsort(v->items, v->count, sizeof(tally), per_day ? by_key : by_count);
    for (size_t i = 0; i < v->count; i++) {
        tally *t = REP_AT(*v, tally, i);
        rep_row *r = rep_row_add(d, s);
        if (r == NULL)
            return -ENOMEM;
        rep_set_text(d, r, 0, t->key);
        if (per_day) {
            rep_set_int(r, 1, t->allowed);
            rep_set_int(r, 2, t->blocked);
            rep_set_int(r, 3, t->allowed + t->blocked);
            r->mark = t->blocked ? REP_MARK_WARN : REP_MARK_NONE;
        } else {
            rep_set_int(r, 1, t->count);
        }
        r->seqs = t->seqs; /* moved: the row owns them now */
        memset(&t->seqs, 0, sizeof t->seqs);
    }
    return 0;
}

int report_gate_activity(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const day_cols[] = {"day", "allowed", "blocked", "tests", NULL};
    static const char *const reason_cols[] = {"reason", "items_blocked", NULL};
    static const char *const item_cols[] = {"equipment_id", "times_blocked", NULL};
    rep_section *days =
        rep_section_add(d, "gate_per_day", "Tests allowed and blocked per day", day_cols);
    rep_section *reasons =
        days ? rep_section_add(d, "gate_reasons", "Blocking reasons, ranked", reason_cols) : NULL;
    rep_section *items =
        reasons ? rep_section_add(d, "gate_items", "Items that blocked most", item_cols) : NULL;
    if (items == NULL)
        return -ENOMEM;
    rep_map mday = {0}, mreason = {0}, mitem = {0};
    rep_vec vday = {0}, vreason = {0}, vitem = {0};
    int rc = 0;
    for (size_t i = 0; i < l->gates.count && rc == 0; i++) {
        const rep_gate *g = REP_AT(l->gates, rep_gate, i);
        if (!rep_in_period(l, q, g->time_ms))
            continue;
        if (q->equipment) {
            bool named = false;
            for (size_t k = 0; k < g->equipment_count && !named; k++)
                named = strcmp(g->equipment[k], q->equipment) == 0;
            if (!named)
                continue;
        }
        char day[16];
        civil_format(rep_day_of(l, g->time_ms), day, sizeof day);
        tally *t = bump(&mday, &vday, rep_strdup(&d->arena, day));
        if (t == NULL || add_seq(t, g->seq) < 0) {
            rc = -ENOMEM;
            break;
        }
        *(g->allowed ? &t->allowed : &t->blocked) += 1;
        for (size_t k = 0; k < g->blocked_count && rc == 0; k++) {
            const rep_block *b = &g->blocked[k];
            if (q->equipment && (!b->equipment || strcmp(b->equipment, q->equipment) != 0))
                continue;
            tally *it = bump(&mitem, &vitem, b->equipment ? b->equipment : "?");
            if (it == NULL || add_seq(it, g->seq) < 0) {
                rc = -ENOMEM;
                break;
            }
            it->count++;
            const char *p = b->reason ? b->reason : "";
            while (*p && rc == 0) { /* "rule one; rule two" */
                size_t len = strcspn(p, ";");
                char *rule = rule_of(&d->arena, p, len);
                tally *rt = rule ? bump(&mreason, &vreason, rule) : NULL;
                if (rt == NULL || add_seq(rt, g->seq) < 0)
                    rc = -ENOMEM;
                else
                    rt->count++;
                p += len;
                while (*p == ';' || *p == ' ')
                    p++;
            }
        }
    }
    if (rc == 0)
        rc = emit(d, days, &vday, true);
    if (rc == 0)
        rc = emit(d, reasons, &vreason, false);
    if (rc == 0)
        rc = emit(d, items, &vitem, false);
    rep_vec *all[] = {&vday, &vreason, &vitem};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < all[k]->count; i++)
            rep_vec_free(&REP_AT(*all[k], tally, i)->seqs);
        rep_vec_free(all[k]);
    }
    rep_map_free(&mday);
    rep_map_free(&mreason);
    rep_map_free(&mitem);
    return rc;
}
