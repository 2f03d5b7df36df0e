/* A bulk load of calibrations (store_bulk_calibrations_begin/end, a new station's first
 * adoption): the indexes dropped for it are there again once it ends, in the same transaction,
 * the rows are found by them, and a load smaller than the calibrations stored keeps them. Rows
 * written several a statement (store_add_calibrations, store_put_equipment_rows) are the rows
 * written one by one. */
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

/* Every row of `table` in the committed store, ordered by `order`, as one text. */
static char *table_text(const char *dir, const char *table, const char *order)
{
    char path[4096], sql[256];
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *v = sqlite3_column_text(st, c);
            fprintf(out, "%s%c", v ? (const char *)v : "NULL",
                    c + 1 < sqlite3_column_count(st) ? '|' : '\n');
        }
    fclose(out);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return text;
}

enum { ROWS = 70 }; /* more than two statements' worth, and a rest written one by one */

/* Row i of the test's calibrations and items: each column's value differs by row, some NULL. */
static void make_rows(calibration_entry *cal, equipment_state *items, char ids[][32],
                      char certs[][32])
{
    for (int i = 0; i < ROWS; i++) {
        snprintf(ids[i], 32, "EQ-%03d", i % 67); /* 67, 68, 69 replace the first three */
        snprintf(certs[i], 32, "C-%03d", i);
        cal[i] = (calibration_entry){.equipment_id = ids[i],
                                     .calibration_date = "2025-01-10",
                                     .day = 20098 + i,
                                     .certificate_number = certs[i],
                                     .provider = i % 2 ? "Lab A" : "Lab B",
                                     .technician = i % 3 ? certs[i] : NULL,
                                     .results_json = i % 5 ? NULL : "[]",
                                     .notes = i % 7 ? NULL : ids[i],
                                     .source = "event",
                                     .recorded_at_ms = 1000 + i,
                                     .out_of_tolerance = i % 11 == 0,
                                     .reference_standard = i % 4 ? NULL : "REF-1",
                                     .instant_known = i % 2,
                                     .performed_ms = 5000 + i,
                                     .suspect = i % 13 == 0,
                                     .suspect_reason = i % 13 ? NULL : "ref not fit"};
        equipment_state *e = &items[i];
        equipment_state_clear(e);
        snprintf(e->equipment_id, sizeof e->equipment_id, "EQ-%03d", i % 67); /* as ids[i] */
        e->record.has_calibration = i % 3 != 1;
        e->record.calibrated_on = 20098 + i;
        e->calibration_date = "2025-01-10";
        e->certificate = certs[i];
        e->record.calibration_failed = i % 11 == 0;
        e->record.sent_out = i % 9 == 0;
        e->record.out_of_service = i % 8 == 0;
        e->has_status = i % 2;
        e->status = i % 4 ? CAL_EXPIRING_SOON : CAL_CURRENT;
        e->last_alert = i % 6 ? "" : "calibration_due_soon";
        e->last_alert_ms = 100 + i;
        e->out_of_service_since_ms = 200 + i;
        e->out_of_service_reason = i % 8 ? "" : "dropped";
        e->out_of_service_procedure = i % 16 ? "" : "PROC-1";
        e->failure_note = i % 11 ? "" : "point 2 out";
        e->last_verification_ms = 300 + i;
        e->sent_out_since_ms = 400 + i;
    }
}

START_TEST(rows_written_together_are_the_rows_written_one_by_one)
{
    static calibration_entry cal[ROWS];
    static equipment_state items[ROWS];
    static char ids[ROWS][32], certs[ROWS][32];
    make_rows(cal, items, ids, certs);
    const equipment_state *rows[ROWS];
    for (int i = 0; i < ROWS; i++)
        rows[i] = &items[i];
    char *dirs[2] = {temp_dir(), temp_dir()};
    smart_error err = {0};
    for (int way = 0; way < 2; way++) {
        store *s = NULL;
        ck_assert_msg(store_open(dirs[way], &s, &err) == 0, "%s", err.text);
        if (way == 0) {
            ck_assert_msg(store_add_calibrations(s, cal, ROWS, &err) == 0, "%s", err.text);
            ck_assert_msg(store_put_equipment_rows(s, rows, ROWS, &err) == 0, "%s", err.text);
        } else {
            for (int i = 0; i < ROWS; i++) {
                ck_assert_msg(store_add_calibration(s, &cal[i], &err) == 0, "%s", err.text);
                ck_assert_msg(store_put_equipment(s, rows[i], &err) == 0, "%s", err.text);
            }
        }
        ck_assert_msg(store_commit(s, &err) == 0, "%s", err.text);
        store_close(s);
    }
    char *together = table_text(dirs[0], "calibrations", "id");
    char *one_by_one = table_text(dirs[1], "calibrations", "id");
    ck_assert_str_eq(together, one_by_one);
    ck_assert_ptr_nonnull(strstr(together, "\n70|EQ-002|2025-01-10|20167|C-069|"));
    free(together);
    free(one_by_one);
    together = table_text(dirs[0], "equipment", "equipment_id");
    one_by_one = table_text(dirs[1], "equipment", "equipment_id");
    ck_assert_str_eq(together, one_by_one);
    ck_assert_ptr_nonnull(strstr(together, "EQ-002|1|20167|2025-01-10|C-069|")); /* replaced */
    ck_assert_ptr_nonnull(strstr(together, "EQ-066|"));
    ck_assert_ptr_null(strstr(together, "EQ-067|"));
    free(together);
    free(one_by_one);
    remove_dir(dirs[0]);
    remove_dir(dirs[1]);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("store-bulk");
    TCase *tc = tcase_create("bulk");
    tcase_add_test(tc, a_bulk_load_ends_with_its_indexes);
    tcase_add_test(tc, rows_written_together_are_the_rows_written_one_by_one);
    suite_add_tcase(s, tc);
    return s;
}
