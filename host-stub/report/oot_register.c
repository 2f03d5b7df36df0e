/* oot_register.c — the out-of-tolerance register: every calibration found out of tolerance as
 * found, its suspect window, the ClientPOs tested in it, and what was verified with it while it
 * was a reference (the module's oot.impact records; ISO/IEC 17025 §7.10). Pure. */
#include <errno.h>
#include <string.h>

#include "report/report.h"

int report_oot_register(const rep_ledger *l, const rep_query *q, rep_doc *d)
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
        for (size_t k = 0; k < l->calibrations.count; k++) {
            const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, k);
            if (c->seq < o->seq && c->equipment && o->equipment && c->certificate &&
                o->certificate && strcmp(c->equipment, o->equipment) == 0 &&
                strcmp(c->certificate, o->certificate) == 0 && rep_row_seq(r, c->seq) < 0)
                return -ENOMEM;
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
