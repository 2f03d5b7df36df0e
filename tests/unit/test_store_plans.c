/* The store's per-event lookups by index: the out-of-tolerance and reference-standard paths
 * (store_plan_query) are planned by SQLite as searches of an index, never as a scan of a table
 * that grows with the station's history; and a store from before those indexes gains them, and
 * the tests allowed with each item, when it is opened. */
#include "check_main.h"

#include "store/store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plan_names[STORE_PLAN_COUNT] = {
    [STORE_PLAN_CHECKS_WITH_REFERENCE] = "checks with a reference",
    [STORE_PLAN_MARK_CHECKS_SUSPECT] = "mark checks suspect",
    [STORE_PLAN_MARK_CHECKS_SUSPECT_BETWEEN] = "mark checks suspect between",
    [STORE_PLAN_CALIBRATIONS_WITH_REFERENCE] = "calibrations with a reference",
    [STORE_PLAN_ALLOWED_TESTS_WITH] = "allowed tests with an item",
    [STORE_PLAN_LAST_GOOD_CALIBRATION] = "last good calibration",
};

static char *temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    ck_assert(asprintf(&dir, "%s/store-plans-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir)
{
    static const char *const files[] = {"store.sqlite", "store.sqlite-wal", "store.sqlite-shm",
                                        "lock"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    remove(dir);
    free(dir);
}

/* Every step of every per-event plan searches an index (SQLite's "SEARCH ... USING"); a
 * "SCAN" of any table is a cost that grows with the history. */
static void assert_indexed_plans(store *s)
{
    for (int q = 0; q < STORE_PLAN_COUNT; q++) {
        char plan[2048];
        smart_error err = {0};
        ck_assert_msg(store_query_plan(s, (store_plan_query)q, plan, sizeof plan, &err) == 0,
                      "%s: %s", plan_names[q], err.text);
        ck_assert_msg(strstr(plan, "SEARCH ") != NULL, "%s: no index search in its plan:\n%s",
                      plan_names[q], plan);
        for (const char *line = plan; *line; line = strchr(line, '\n') + 1)
            ck_assert_msg(strncmp(line, "SCAN", 4) != 0, "%s scans a table:\n%s", plan_names[q],
                          plan);
    }
}

START_TEST(per_event_lookups_search_an_index)
{
    char *dir = temp_dir();
    store *s = NULL;
    smart_error err = {0};
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    assert_indexed_plans(s);
    store_close(s);
    remove_dir(dir);
}
END_TEST

typedef struct found_tests {
    char ids[8][32];
    int64_t at[8];
    int count;
} found_tests;

static int note_test(void *ctx, const char *clientpo_id, int64_t decided_at_ms)
{
    found_tests *f = ctx;
    if (f->count == 8)
        return 1;
    snprintf(f->ids[f->count], sizeof f->ids[f->count], "%s", clientpo_id);
    f->at[f->count++] = decided_at_ms;
    return 0;
}

static void exec_sql(const char *dir, const char *sql)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    sqlite3 *db = NULL;
    char *msg = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
    sqlite3_close(db);
}

START_TEST(a_store_from_before_gains_the_indexes_and_each_items_tests)
{
    char *dir = temp_dir();
    store *s = NULL;
    smart_error err = {0};
    int64_t id;
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    ck_assert_int_eq(store_add_allowed_test(s, "PO-1", 1000, "[\"A\", \"B\"]", &id, &err), 0);
    ck_assert_int_eq(store_add_allowed_test(s, "PO-2", 2000, "[\"B\"]", &id, &err), 0);
    ck_assert_int_eq(store_commit(s, &err), 0);
    store_close(s);
    /* The store as a module from before the indexes wrote it: none of them, no allowed_uses,
     * no schema version. */
    exec_sql(dir, "DROP TABLE allowed_uses; DROP INDEX calibrations_by_reference;"
                  "DROP INDEX checks_by_reference; PRAGMA user_version = 0;");

    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    assert_indexed_plans(s);
    ck_assert_int_eq(store_add_allowed_test(s, "PO-3", 3000, "[\"A\"]", &id, &err), 0);
    found_tests a = {0}, b = {0};
    ck_assert_int_eq(store_allowed_tests_with(s, "A", 0, note_test, &a, &err), 0);
    ck_assert_int_eq(a.count, 2);
    ck_assert_str_eq(a.ids[0], "PO-1");
    ck_assert_str_eq(a.ids[1], "PO-3");
    ck_assert_int_eq(store_allowed_tests_with(s, "B", 1500, note_test, &b, &err), 0);
    ck_assert_int_eq(b.count, 1);
    ck_assert_str_eq(b.ids[0], "PO-2");
    ck_assert_int_eq(b.at[0], 2000);
    store_close(s);
    remove_dir(dir);
}
END_TEST

/* Whether index `name` of the store in `dir` is partial: holds only rows naming a reference. */
static bool index_is_partial(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    bool partial = strstr((const char *)sqlite3_column_text(st, 0), " IS NOT NULL") != NULL;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return partial;
}

static int note_calibration(void *ctx, const char *equipment_id, const char *certificate_number,
                            const char *calibration_date)
{
    (void)certificate_number, (void)calibration_date;
    snprintf(ctx, 32, "%s", equipment_id);
    return 0;
}

/* A store of schema version 1, whose reference indexes held every row, has them remade as
 * partial ones when opened; a look-up by reference still searches them and finds what it did. */
START_TEST(the_reference_indexes_hold_only_rows_naming_a_reference)
{
    char *dir = temp_dir();
    store *s = NULL;
    smart_error err = {0};
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    calibration_entry baseline = {.equipment_id = "EQ-1",
                                  .calibration_date = "2025-01-10",
                                  .day = 20098,
                                  .certificate_number = "C-1",
                                  .provider = "Lab",
                                  .source = "contract:X.json",
                                  .recorded_at_ms = 1000};
    calibration_entry with_reference = baseline;
    with_reference.equipment_id = "EQ-2";
    with_reference.certificate_number = "C-2";
    with_reference.reference_standard = "REF-1";
    ck_assert_int_eq(store_add_calibration(s, &baseline, &err), 0);
    ck_assert_int_eq(store_add_calibration(s, &with_reference, &err), 0);
    ck_assert_int_eq(store_commit(s, &err), 0);
    store_close(s);
    ck_assert(index_is_partial(dir, "calibrations_by_reference"));
    ck_assert(index_is_partial(dir, "checks_by_reference"));
    exec_sql(dir,
             "DROP INDEX calibrations_by_reference; DROP INDEX checks_by_reference;"
             "CREATE INDEX calibrations_by_reference ON calibrations (reference_standard, day);"
             "CREATE INDEX checks_by_reference ON checks (reference_instrument,"
             " performed_at_ms); PRAGMA user_version = 1;");
    ck_assert(!index_is_partial(dir, "calibrations_by_reference"));

    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    assert_indexed_plans(s);
    char found[32] = "";
    ck_assert_int_eq(
        store_calibrations_with_reference(s, "REF-1", 0, note_calibration, found, &err), 0);
    ck_assert_str_eq(found, "EQ-2");
    store_close(s);
    ck_assert(index_is_partial(dir, "calibrations_by_reference"));
    ck_assert(index_is_partial(dir, "checks_by_reference"));
    remove_dir(dir);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("store-plans");
    TCase *tc = tcase_create("plans");
    tcase_add_test(tc, per_event_lookups_search_an_index);
    tcase_add_test(tc, a_store_from_before_gains_the_indexes_and_each_items_tests);
    tcase_add_test(tc, the_reference_indexes_hold_only_rows_naming_a_reference);
    suite_add_tcase(s, tc);
    return s;
}
