/* oot_register.c — the out-of-tolerance register: every calibration found out of tolerance as
 * found, its suspect window, the ClientPOs tested in it, and what was verified with it while it
 * was a reference (the module's oot.impact records; ISO/IEC 17025 §7.10). Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

/* The calibrations by item and certificate: for each key, its calibrations in seq order as a
 * chain (head[key], next[calibration]; SIZE_MAX ends it). Built in one pass, so the register
 * is linear in the calibrations and findings, not in their product. */
typedef struct by_certificate {
    rep_arena keys;
    rep_map map;
    size_t *head, *tail, *next;
} by_certificate;

static void by_certificate_free(by_certificate *b)
{
    rep_map_free(&b->map);
    rep_arena_free(&b->keys);
    free(b->head);
    free(b->tail);
    free(b->next);
}

static const char *key_of(rep_arena *a, const char *equipment, const char *certificate)
{
    return rep_printf(a, "%s\x1f%s", equipment, certificate);
}

static int by_certificate_build(const rep_ledger *l, by_certificate *b)
{
    size_t n = l->calibrations.count;
    b->head = malloc((n ? n : 1) * sizeof *b->head);
    b->tail = malloc((n ? n : 1) * sizeof *b->tail);
    b->next = malloc((n ? n : 1) * sizeof *b->next);
    if (!b->head || !b->tail || !b->next)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, k);
        b->next[k] = SIZE_MAX;
        if (!c->equipment || !c->certificate)
            continue;
        const char *key = key_of(&b->keys, c->equipment, c->certificate);
        bool added;
        long g = key ? rep_map_put(&b->map, key, &added) : -1;
        if (g < 0)
            return -ENOMEM;
        if (added)
            b->head[g] = k;
        else
            b->next[b->tail[g]] = k;
        b->tail[g] = k;
    }
    return 0;
}

static int oot_rows(const rep_ledger *l, const rep_query *q, rep_doc *d, by_certificate *index)
{
    static const char *const cols[] = {"recorded",  "equipment_id",     "certificate",
                                       "finding",   "suspect_since",    "suspect_until",
                                       "clientpos", "verified_with_it", NULL};
    static const char *const acols[] = {"equipment_id", "certificate", "affected", "subject",
                                        "what",         "when",        NULL};
    rep_section *s = rep_section_add(d, "oot_findings", "Out-of-tolerance findings", cols);
    rep_section *a =
        s ? rep_section_add(d, "oot_affected",
                            "Work to assess: jobs and records resting on each finding", acols)
          : NULL;
    if (a == NULL)
        return -ENOMEM;
    s->note = "Each finding opens a suspect window back to the last calibration found in "
              "tolerance; the jobs tested in it and the records made with the item as a "
              "reference must be assessed.";
    for (size_t i = 0; i < l->oots.count; i++) {
        const rep_oot *o = REP_AT(l->oots, rep_oot, i);
        if (!rep_in_period(l, q, o->time_ms) ||
            (q->equipment && (!o->equipment || strcmp(q->equipment, o->equipment) != 0)))
            continue;
        rep_row *r = rep_row_add(d, s);
        if (r == NULL)
            return -ENOMEM;
        /* The calibration that found it, cited with the impact record. */
        if (o->equipment && o->certificate) {
            const char *key = key_of(&index->keys, o->equipment, o->certificate);
            if (key == NULL)
                return -ENOMEM;
            long g = rep_map_get(&index->map, key);
            for (size_t k = g < 0 ? SIZE_MAX : index->head[g]; k != SIZE_MAX; k = index->next[k]) {
                const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, k);
                if (c->seq < o->seq && rep_row_seq(r, c->seq) < 0)
                    return -ENOMEM;
            }
        }
        if (rep_row_seq(r, o->seq) < 0)
            return -ENOMEM;
        size_t jobs = 0, records = 0;
        for (size_t k = 0; k < o->affected_count; k++)
            *(strcmp(o->affected[k].kind, "clientpo") == 0 ? &jobs : &records) += 1;
        rep_set_time(d, r, 0, o->time_ms);
        rep_set_text(d, r, 1, o->equipment);
        rep_set_text(d, r, 2, o->certificate);
        rep_set_text(d, r, 3, o->finding);
        rep_set_text(d, r, 4, o->since);
        rep_set_text(d, r, 5, o->until);
        rep_set_int(r, 6, (int64_t)jobs);
        rep_set_int(r, 7, (int64_t)records);
        r->mark = REP_MARK_BAD;
        for (size_t k = 0; k < o->affected_count; k++) {
            const rep_affected *x = &o->affected[k];
            rep_row *ar = rep_row_add(d, a);
            if (ar == NULL || rep_row_seq(ar, o->seq) < 0)
                return -ENOMEM;
            rep_set_text(d, ar, 0, o->equipment);
            rep_set_text(d, ar, 1, o->certificate);
            rep_set_text(d, ar, 2, x->kind);
            rep_set_text(d, ar, 3, x->subject);
            rep_set_text(d, ar, 4, x->what);
            rep_set_text(d, ar, 5, x->when);
        }
    }
    return 0;
}

int report_oot_register(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    by_certificate index = {0};
    int rc = by_certificate_build(l, &index);
    if (rc == 0)
        rc = oot_rows(l, q, d, &index);
    by_certificate_free(&index);
    return rc;
}
