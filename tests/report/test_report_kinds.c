/*
 * test_report_kinds.c — the report kinds are pure: plain records in (a rep_ledger built here,
 * no file), rows out. The due list's order and days left, the compliance windows (a daily
 * check missed on one day, done late on another), the staircase interval, and the
 * gate's reasons folded into rules.
 */
#include <check.h>
#include <string.h>

#include "report/report.h"

static civil_day day(int y, int m, int d)
{
    civil_day out;
    ck_assert(civil_from_ymd(y, m, d, &out));
    return out;
}

static int64_t at(civil_day d, int hour)
{
    return (int64_t)d * MS_PER_DAY + hour * MS_PER_HOUR;
}

static void transition(rep_ledger *l, uint64_t seq, const char *id, const char *to, civil_day due,
                       int64_t ms)
{
    rep_transition *t = rep_vec_push(&l->transitions, sizeof *t);
    ck_assert_ptr_nonnull(t);
    *t = (rep_transition){.seq = seq, .time_ms = ms, .equipment = id, .to = to, .due = due};
}

static const rep_section *section(const rep_doc *d, const char *id)
{
    for (size_t i = 0; i < d->sections.count; i++)
        if (strcmp(REP_SECTION(d, i)->id, id) == 0)
            return REP_SECTION(d, i);
    ck_abort_msg("no section %s", id);
    return NULL;
}

static const rep_cell *cell(const rep_section *s, size_t row, const char *col)
{
    int c = rep_column(s, col);
    ck_assert_int_ge(c, 0);
    ck_assert_uint_lt(row, s->rows.count);
    return &REP_ROW(s, row)->cells[c];
}

static const rep_query ALL = {.from = REP_NO_DAY, .to = REP_NO_DAY, .within_days = 30};

START_TEST(due_list_most_urgent_first)
{
    rep_ledger l = {0};
    civil_day d0 = day(2025, 4, 1);
    transition(&l, 1, "A", "current", d0 + 20, at(d0, 6));
    transition(&l, 2, "B", "current", d0 - 3, at(d0, 6)); /* overdue: the sweep has not run */
    transition(&l, 3, "C", "out_of_service", d0 + 100, at(d0, 7));
    transition(&l, 4, "D", "current", d0 + 200, at(d0, 7)); /* beyond the window */
    transition(&l, 5, "E", "current", d0 + 5, at(d0, 8));
    l.records = 5;
    l.last_ms = at(d0, 8);
    rep_doc d = {0};
    ck_assert_int_eq(report_due_list(&l, &ALL, &d), 0);
    const rep_section *s = section(&d, "due_list");
    ck_assert_uint_eq(s->rows.count, 4);
    const char *order[] = {"B", "C", "E", "A"};
    const int64_t left[] = {-3, 100, 5, 20};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(cell(s, i, "equipment_id")->text, order[i]);
        ck_assert_int_eq(cell(s, i, "days_left")->i, left[i]);
        ck_assert_uint_eq(REP_ROW(s, i)->seqs.count, 1);
    }
    ck_assert_str_eq(cell(s, 0, "status")->text, "expired");
    rep_doc_free(&d);
    rep_ledger_free(&l);
}
END_TEST

static void check(rep_ledger *l, uint64_t seq, int64_t ms, bool passed)
{
    rep_check *c = rep_vec_push(&l->checks, sizeof *c);
    ck_assert_ptr_nonnull(c);
    *c = (rep_check){.seq = seq,
                     .time_ms = ms,
                     .equipment = "LAMP",
                     .procedure = "UV-DAILY",
                     .frequency = "daily",
                     .every = 1,
                     .technician = "R. O.",
                     .passed = passed};
}

START_TEST(compliance_windows)
{
    rep_ledger l = {0};
    civil_day d0 = day(2025, 4, 1);
    check(&l, 1, at(d0, 7), true);
    /* d0 + 1: missed */
    check(&l, 2, at(d0 + 2, 7), false); /* failed */
    check(&l, 4, at(d0 + 3, 9), true);  /* late: the gate blocked at 8 */
    rep_gate *g = rep_vec_push(&l.gates, sizeof *g);
    static rep_block block = {"LAMP", "current", "required daily check UV-DAILY not done"};
    *g = (rep_gate){.seq = 3,
                    .time_ms = at(d0 + 3, 8),
                    .clientpo = "PO",
                    .blocked = &block,
                    .blocked_count = 1};
    check(&l, 5, at(d0 + 4, 7), true);
    l.records = 5;
    l.last_ms = at(d0 + 4, 7);
    rep_doc d = {0};
    ck_assert_int_eq(report_compliance(&l, &ALL, &d), 0);
    const rep_section *s = section(&d, "compliance");
    ck_assert_uint_eq(s->rows.count, 1);
    ck_assert_int_eq(cell(s, 0, "due")->i, 5);
    ck_assert_int_eq(cell(s, 0, "on_time")->i, 2);
    ck_assert_int_eq(cell(s, 0, "late")->i, 1);
    ck_assert_int_eq(cell(s, 0, "missed")->i, 1);
    ck_assert_int_eq(cell(s, 0, "failed")->i, 1);
    ck_assert_double_eq_tol(cell(s, 0, "on_time_pct")->r, 40.0, 1e-9);
    const rep_section *m = section(&d, "compliance_missed");
    ck_assert_uint_eq(m->rows.count, 2);
    ck_assert_str_eq(cell(m, 0, "window")->text, "2025-04-02");
    ck_assert_str_eq(cell(m, 1, "result")->text, "failed");
    rep_doc_free(&d);
    rep_ledger_free(&l);
}
END_TEST

START_TEST(staircase_interval)
{
    rep_ledger l = {0};
    static rep_result result = {.parameter = "p", .unit = "u"};
    const bool found_in[] = {true, false, true};
    for (int i = 0; i < 3; i++) {
        rep_calibration *c = rep_vec_push(&l.calibrations, sizeof *c);
        civil_day d = day(2025, 1, 1) + 100 * i;
        *c = (rep_calibration){.seq = (uint64_t)i + 1,
                               .time_ms = at(d, 9),
                               .date = d,
                               .due = d + 100,
                               .equipment = "G",
                               .equipment_type = "gauge",
                               .found_in = found_in[i],
                               .results = &result,
                               .result_count = 1};
    }
    rep_doc d = {0};
    ck_assert_int_eq(report_trend(&l, &ALL, &d), 0);
    const rep_section *s = section(&d, "interval_items");
    ck_assert_int_eq(cell(s, 0, "in_tolerance_as_found")->i, 2);
    ck_assert_int_eq(cell(s, 0, "suggested_interval_days")->i, 77); /* 100, -30 %, +10 % */
    ck_assert_uint_eq(REP_ROW(s, 0)->seqs.count, 3);
    rep_doc_free(&d);
    rep_ledger_free(&l);
}
END_TEST

START_TEST(gate_reasons_folded_into_rules)
{
    rep_ledger l = {0};
    static rep_block b1[] = {{"T", "expired",
                              "calibration expired: was due 2025-02-03, 10 days "
                              "overdue"}};
    static rep_block b2[] = {{"T", "expired",
                              "calibration expired: was due 2025-02-03, 11 days "
                              "overdue"},
                             {"U", "current",
                              "required daily check X not done; required "
                              "weekly check Y not done"}};
    rep_gate *g = rep_vec_push(&l.gates, sizeof *g);
    *g =
        (rep_gate){.seq = 7, .time_ms = at(day(2025, 2, 13), 7), .blocked = b1, .blocked_count = 1};
    g = rep_vec_push(&l.gates, sizeof *g);
    *g =
        (rep_gate){.seq = 9, .time_ms = at(day(2025, 2, 14), 7), .blocked = b2, .blocked_count = 2};
    g = rep_vec_push(&l.gates, sizeof *g);
    *g = (rep_gate){.seq = 11, .time_ms = at(day(2025, 2, 14), 9), .allowed = true};
    rep_doc d = {0};
    ck_assert_int_eq(report_gate_activity(&l, &ALL, &d), 0);
    const rep_section *r = section(&d, "gate_reasons");
    ck_assert_uint_eq(r->rows.count, 3);
    ck_assert_str_eq(cell(r, 0, "reason")->text, "calibration expired");
    ck_assert_int_eq(cell(r, 0, "items_blocked")->i, 2);
    const rep_section *p = section(&d, "gate_per_day");
    ck_assert_str_eq(cell(p, 1, "day")->text, "2025-02-14");
    ck_assert_int_eq(cell(p, 1, "allowed")->i, 1);
    ck_assert_int_eq(cell(p, 1, "blocked")->i, 1);
    ck_assert_uint_eq(REP_ROW(p, 1)->seqs.count, 2);
    rep_doc_free(&d);
    rep_ledger_free(&l);
}
END_TEST

/* Every 48 hours (no zone recorded: UTC; no shifts: from midnight): windows of two days from
 * the day before the first check (d0 - 1). Checks on d0 and d0 + 3 leave the window from
 * d0 + 1 missed; the one from d0 + 5 is still open at the last record, not missed. */
START_TEST(compliance_windows_longer_than_a_day)
{
    rep_ledger l = {0};
    civil_day d0 = day(2025, 4, 1);
    check(&l, 1, at(d0, 7), true);
    check(&l, 2, at(d0 + 3, 7), true);
    for (size_t i = 0; i < l.checks.count; i++) {
        REP_AT(l.checks, rep_check, i)->frequency = "every_n_hours";
        REP_AT(l.checks, rep_check, i)->every = 48;
    }
    l.records = 2;
    l.last_ms = at(d0 + 5, 7);
    rep_doc d = {0};
    ck_assert_int_eq(report_compliance(&l, &ALL, &d), 0);
    const rep_section *s = section(&d, "compliance");
    ck_assert_uint_eq(s->rows.count, 1);
    ck_assert_int_eq(cell(s, 0, "on_time")->i, 2);
    ck_assert_int_eq(cell(s, 0, "missed")->i, 1);
    const rep_section *m = section(&d, "compliance_missed");
    ck_assert_uint_eq(m->rows.count, 1);
    ck_assert_str_eq(cell(m, 0, "window")->text, "2025-04-02T00:00:00Z");
    rep_doc_free(&d);
    rep_ledger_free(&l);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("report-kinds");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, due_list_most_urgent_first);
    tcase_add_test(tc, compliance_windows);
    tcase_add_test(tc, compliance_windows_longer_than_a_day);
    tcase_add_test(tc, staircase_interval);
    tcase_add_test(tc, gate_reasons_folded_into_rules);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
