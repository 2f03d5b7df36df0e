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
            rep_day_of(l, REP_AT(l->contracts, rep_contracts, i)->time_ms) < q->from)
            start = i;
    for (size_t i = start; i < l->contracts.count; i++) {
        const rep_contracts *c = REP_AT(l->contracts, rep_contracts, i);
        if (q->to != REP_NO_DAY && rep_day_of(l, c->time_ms) > q->to)
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

/* The sum of column `col` (NULL: the count of rows) over the rows of section `id` (those whose
 * column `filter_col` is not `filter_not`, when given), citing in *r the seqs of the rows that
 * add to it. */
static int64_t sum_of(const rep_doc *d, const char *id, const char *col, const char *filter_col,
                      const char *filter_not, rep_row *r, int *rc)
{
    int64_t total = 0;
    for (size_t i = 0; i < d->sections.count; i++) {
        const rep_section *s = REP_SECTION(d, i);
        int c = col ? rep_column(s, col) : -1, f = filter_col ? rep_column(s, filter_col) : -1;
        if (strcmp(s->id, id) != 0 || (col && c < 0))
            continue;
        for (size_t j = 0; j < s->rows.count; j++) {
            const rep_row *row = REP_ROW(s, j);
            if (f >= 0 && row->cells[f].kind == REP_TEXT &&
                strcmp(row->cells[f].text, filter_not) == 0)
                continue;
            int64_t value = col ? row->cells[c].i : 1;
            total += value;
            for (size_t k = 0; k < row->seqs.count && *rc == 0 && value > 0; k++)
                *rc = rep_row_seq(r, *REP_AT(row->seqs, uint64_t, k));
        }
    }
    return total;
}

/* The key figures, each from the sections below it, first. */
static int summary(rep_doc *d, rep_section *s)
{
    static const struct {
        const char *label, *section, *col, *filter_col, *filter_not;
    } figures[] = {
        {"items overdue, out of service, sent out or failed (1)", "due_list", NULL, "urgency",
         "due"},
        {"calibration results recorded, one per point (2)", "calibrations", NULL, NULL, NULL},
        {"out-of-tolerance findings (3)", "oot_findings", NULL, NULL, NULL},
        {"jobs and records to assess after them (3)", "oot_affected", NULL, NULL, NULL},
        {"tests allowed (4)", "gate_per_day", "allowed", NULL, NULL},
        {"tests blocked (4)", "gate_per_day", "blocked", NULL, NULL},
        {"check windows due (5)", "compliance", "due", NULL, NULL},
        {"check windows done on time (5)", "compliance", "on_time", NULL, NULL},
        {"check windows missed (5)", "compliance", "missed", NULL, NULL},
        {"calibrations judged as found (6)", "interval_items", "calibrations", NULL, NULL},
        {"of them in tolerance as found (6)", "interval_items", "in_tolerance_as_found", NULL,
         NULL},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0] && rc == 0; i++) {
        rep_row *r = rep_row_add(d, s);
        if (r == NULL)
            return -ENOMEM;
        rep_set_text(d, r, 0, figures[i].label);
        rep_set_int(r, 1,
                    sum_of(d, figures[i].section, figures[i].col, figures[i].filter_col,
                           figures[i].filter_not, r, &rc));
    }
    return rc;
}

int report_audit_pack(const rep_ledger *l, const rep_query *q, rep_doc *d)
{
    static const char *const cols[] = {"figure", "value", NULL};
    rep_section *s = rep_section_add(d, "summary", "Summary", cols);
    if (s == NULL)
        return -ENOMEM;
    s->note = "Each figure is counted from the section named by its number below; its seqs are "
              "those of the rows it counts.";
    rep_query due = *q;
    due.from = REP_NO_DAY; /* as of the period's end */
    size_t first = d->sections.count;
    int rc;
    if ((rc = contracts(l, q, d)) || (rc = report_due_list(l, &due, d)) ||
        (rc = report_history(l, q, d)) || (rc = report_oot_register(l, q, d)) ||
        (rc = report_gate_activity(l, q, d)) || (rc = report_compliance(l, q, d)) ||
        (rc = report_trend(l, q, d)))
        return rc;
    /* Number the sections as the issue lists them: 1 due list ... 6 trend and intervals. */
    static const struct {
        const char *prefix;
        const char *number;
    } numbers[] = {{"due", "1"},        {"calibrations", "2"}, {"checks", "2"},  {"status", "2"},
                   {"tag_outs", "2"},   {"jobs", "2"},         {"oot", "3"},     {"gate", "4"},
                   {"compliance", "5"}, {"trend", "6"},        {"interval", "6"}};
    for (size_t i = first; i < d->sections.count; i++) {
        rep_section *x = REP_SECTION(d, i);
        for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++)
            if (strncmp(x->id, numbers[k].prefix, strlen(numbers[k].prefix)) == 0) {
                x->title = rep_printf(&d->arena, "%s. %s", numbers[k].number, x->title);
                break;
            }
    }
    return summary(d, s);
}
