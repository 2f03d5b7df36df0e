/* A bulk load of calibrations (store_bulk_calibrations_begin/end, a new station's first
 * adoption): the indexes dropped for it are there again once it ends, in the same transaction,
 * the rows are found by them, and a load smaller than the calibrations stored keeps them. */
#include "check_main.h"

#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    ck_assert(asprintf(&dir, "%s/store-bulk-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
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

/* The calibrations' indexes in the committed store, read by a connection of its own. */
static int count_indexes(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                                        " AND tbl_name = 'calibrations' AND name IN"
                                        " ('calibrations_by_item', 'calibrations_by_certificate',"
                                        " 'calibrations_by_reference')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void add_calibrations(store *s, int from, int count)
{
    for (int i = from; i < from + count; i++) {
        char id[32], cert[32];
        snprintf(id, sizeof id, "EQ-%05d", i);
        snprintf(cert, sizeof cert, "C-%05d", i);
        calibration_entry c = {.equipment_id = id,
                               .calibration_date = "2025-01-10",
                               .day = 20098,
                               .certificate_number = cert,
                               .provider = "Lab",
                               .source = "contract:X.json",
                               .recorded_at_ms = 1000};
        smart_error err = {0};
        ck_assert_msg(store_add_calibration(s, &c, &err) == 0, "%s", err.text);
    }
}

START_TEST(a_bulk_load_ends_with_its_indexes)
{
    char *dir = temp_dir();
    store *s = NULL;
    smart_error err = {0};
    bool bulk = false;
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    ck_assert_msg(store_bulk_calibrations_begin(s, 2000, &bulk, &err) == 0, "%s", err.text);
    ck_assert(bulk); /* none stored: the indexes are made after */
    add_calibrations(s, 0, 2000);
    ck_assert_msg(store_bulk_calibrations_end(s, &err) == 0, "%s", err.text);
    ck_assert_msg(store_commit(s, &err) == 0, "%s", err.text);
    ck_assert_int_eq(count_indexes(dir), 3);
    char plan[2048];
    ck_assert_int_eq(store_query_plan(s, STORE_PLAN_LAST_GOOD_CALIBRATION, plan, sizeof plan, &err),
                     0);
    ck_assert_msg(strstr(plan, "calibrations_by_item") != NULL, "%s", plan);
    char date[16];
    ck_assert_int_eq(store_find_calibration(s, "EQ-01234", "C-01234", date, sizeof date, &err), 0);
    ck_assert_str_eq(date, "2025-01-10");
    civil_day day = 0;
    bool instant = true;
    int64_t at = 0;
    ck_assert_int_eq(store_last_good_calibration(s, "EQ-01999", &day, &instant, &at, &err), 0);
    ck_assert_int_eq(day, 20098);

    /* Fewer added than stored: added one by one into the indexes. */
    ck_assert_msg(store_bulk_calibrations_begin(s, 1500, &bulk, &err) == 0, "%s", err.text);
    ck_assert(!bulk);
    add_calibrations(s, 2000, 1500);
    ck_assert_msg(store_commit(s, &err) == 0, "%s", err.text);
    ck_assert_int_eq(count_indexes(dir), 3);
    /* A small load never drops them. */
    store_close(s);
    remove_dir(dir);
    dir = temp_dir();
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    ck_assert_msg(store_bulk_calibrations_begin(s, 10, &bulk, &err) == 0, "%s", err.text);
    ck_assert(!bulk);
    store_close(s);
    remove_dir(dir);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("store-bulk");
    TCase *tc = tcase_create("bulk");
    tcase_add_test(tc, a_bulk_load_ends_with_its_indexes);
    suite_add_tcase(s, tc);
    return s;
}
