/* audit_pack.c — the audit pack for a period: the contracts in force (each contracts.loaded
 * record in the period and the one in force at its start, with every file's SHA-256), then the
 * due list as of the period's end, the equipment history, the out-of-tolerance register, gate
 * activity, check compliance, and the accuracy trend with the interval analysis, all for the
 * period. The verification result heads every report (report_cli.c). Pure. */
#include <errno.h>
#include <string.h>

#include "report/report.h"

static int contracts(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"loaded", "cause",  "contract_id", "version",
                                       "file",   "sha256", NULL};
    rep_section *s = rep_section_add(d, "contracts", "Contracts in force", cols);
    if (s == NULL)
        return -ENOMEM;
    s->note = "The set in force at the period's start, and every set loaded in it, as the "
              "module recorded them (contracts.loaded).";
    size_t start = 0; /* the newest load before the period, in force at its start */
    for (size_t i = 0; i < l->contracts.count; i++)
        if (q->from != REP_NO_DAY &&
            rep_day_of_ms(REP_AT(l->contracts, rep_contracts, i)->time_ms) < q->from)
            start = i;
    for (size_t i = start; i < l->contracts.count; i++) {
        const rep_contracts *c = REP_AT(l->contracts, rep_contracts, i);
        if (q->to != REP_NO_DAY && rep_day_of_ms(c->time_ms) > q->to)
            break;
        for (size_t k = 0; k < c->count; k++) {
            rep_row *r = rep_row_add(d, s);
            if (r == NULL || rep_row_seq(r, c->seq) < 0)
                return -ENOMEM;
            rep_set_time(d, r, 0, c->time_ms);
            rep_set_text(d, r, 1, c->cause);
            rep_set_text(d, r, 2, c->contracts[k].contract_id);
            rep_set_int(r, 3, c->contracts[k].version);
            rep_set_text(d, r, 4, c->contracts[k].file);
            rep_set_text(d, r, 5, c->contracts[k].sha256);
        }
    }
    return 0;
}

int report_audit_pack(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    rep_query due = *q;
    due.from = REP_NO_DAY; /* as of the period's end */
    int rc;
    if ((rc = contracts(l, q, d)) || (rc = report_due_list(l, &due, d)) ||
        (rc = report_history(l, q, d)) || (rc = report_oot_register(l, q, d)) ||
        (rc = report_gate_activity(l, q, d)) || (rc = report_compliance(l, q, d)) ||
        (rc = report_trend(l, q, d)))
        return rc;
    return 0;
}
