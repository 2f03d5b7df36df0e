/* The module's store through its ABI: state kept across a restart, uncommitted work not kept,
 * the ledger position a start reports, and a store from before gaining the new columns. */
#include "check_main.h"
#include "fake_host.h"
#include "lp_station.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static fake_host h;

START_TEST(store_keeps_state_across_a_restart)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    send_ok(&h, "clientpo.link", "{\"clientpo_id\":\"PO-7\",\"equipment\":[\"LP01-THM-01\"]}");
    send_ok(&h, "calibration.record",
            "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-12\","
            "\"certificate_number\":\"NCL-1\",\"provider\":\"Lab\",\"technician\":\"T\"}");
    send_ok(&h, "status.query", "{}");
    char *before = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    size_t alerts = json_array_size(h.alerts);
    size_t transitions = fake_host_count_ledger(&h, "status.transition");
    fake_host_stop(&h);

    smart_error err = {0};
    ck_assert_msg(fake_host_start(&h, &err) == 0, "restart: %s", err.text);
    send_ok(&h, "status.query", "{}");
    char *after = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    ck_assert_str_eq(before, after);
    /* Nothing new was found: no transition, no second alert for the same condition. */
    ck_assert_int_eq(fake_host_count_ledger(&h, "status.transition"), transitions);
    ck_assert_int_eq(json_array_size(h.alerts), alerts);
    /* The link survived: a start with no list uses it. */
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-7\"}");
    json_t *gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_true(json_object_get(gate, "allowed")));
    /* A calibration before the one on record is still refused after the restart. */
    ck_assert_int_eq(fake_host_send(&h, "calibration.record",
                                    "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":"
                                    "\"2025-02-01\",\"certificate_number\":\"X\",\"provider\":"
                                    "\"P\",\"technician\":\"T\"}",
                                    &err),
                     SMART_EINVAL);
    free(before);
    free(after);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(uncommitted_work_is_not_kept)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    smart_event ev = {.struct_size = sizeof ev,
                      .topic = "calibration.record",
                      .data_json = "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":"
                                   "\"2025-02-13\",\"certificate_number\":\"X\",\"provider\":"
                                   "\"P\",\"technician\":\"T\"}",
                      .time_ms = h.now_ms,
                      .source = "test"};
    ev.data_len = strlen(ev.data_json);
    smart_error err = {0};
    ck_assert_int_eq(h.plugin->on_event(h.instance, &ev, &err), 0);
    fake_host_stop(&h); /* no commit: as if the host died before acknowledging it */
    ck_assert_int_eq(fake_host_start(&h, &err), 0);
    send_ok(&h, "status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    json_t *item = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
    ck_assert_str_eq(str(item, "status"), "expired");
    fake_host_destroy(&h);
}
END_TEST

/* After a crash between the ledger's sync and the store's commit, the next start says up to
 * which ledger record the store is committed: the records after it are the lost batch's. */
START_TEST(a_start_says_up_to_which_ledger_record_the_store_is_committed)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    size_t seq;
    ck_assert(json_is_null(
        json_object_get(last_record_meta(&h, "store.opened", &seq), "committed_through_seq")));
    ck_assert_int_eq(seq, 1); /* before every other record of the start */
    send_ok(&h, "clientpo.link", "{\"clientpo_id\":\"PO-1\",\"equipment\":[\"LP01-UVA-01\"]}");
    size_t committed = json_array_size(h.ledger);
    /* A batch the host wrote to the ledger but the module never committed. */
    smart_event ev = {.struct_size = sizeof ev,
                      .topic = "test.start",
                      .data_json = "{\"clientpo_id\":\"PO-1\"}",
                      .time_ms = h.now_ms,
                      .source = "test"};
    ev.data_len = strlen(ev.data_json);
    smart_error err = {0};
    ck_assert_int_eq(h.plugin->on_event(h.instance, &ev, &err), 0);
    size_t lost = json_array_size(h.ledger) - committed;
    ck_assert_uint_eq(lost, 1); /* the batch's one record: its gate decision */
    fake_host_stop(&h);
    ck_assert_int_eq(fake_host_start(&h, &err), 0);
    json_t *meta = last_record_meta(&h, "store.opened", &seq);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "committed_through_seq")), committed);
    /* The start's first record follows the lost batch straight away, and the records between
     * the committed position and it are that batch's: its gate decision. */
    ck_assert_uint_eq(seq, committed + lost + 1);
    ck_assert_str_eq(str(json_array_get(h.ledger, committed), "action"), "gate.decision");
    fake_host_destroy(&h);
}
END_TEST

/* A store written before calibrations kept their reference standard gets the column on open,
 * and keeps what it held. */
START_TEST(a_store_from_before_gains_the_new_columns)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-CAL-001.json", lp_contract);
    char path[600];
    snprintf(path, sizeof path, "%s/data", h.dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/data/store.sqlite", h.dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "CREATE TABLE calibrations (id INTEGER PRIMARY KEY, equipment_id TEXT NOT "
                     "NULL, calibration_date TEXT NOT NULL, day INTEGER NOT NULL, "
                     "certificate_number TEXT NOT NULL, provider TEXT NOT NULL, technician TEXT, "
                     "results TEXT, notes TEXT, source TEXT NOT NULL, in_tolerance INTEGER NOT "
                     "NULL, recorded_at_ms INTEGER NOT NULL);"
                     "INSERT INTO calibrations VALUES (1, 'LP01-RAD-01', '2025-01-10', 20098, "
                     "'OLD-1', 'Lab', 'T', NULL, NULL, 'event', 1, 0);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    smart_error err = {0};
    ck_assert_msg(fake_host_start(&h, &err) == 0, "init: %s", err.text);
    /* (Which instrument vouches for which does not matter here, only that the column is kept:
     * the meter has no tolerance, so any reference in calibration will do.) */
    send_ok(&h, "calibration.record",
            "{\"equipment_id\":\"LP01-RAD-01\",\"calibration_date\":\"2025-02-12\","
            "\"certificate_number\":\"NCL-1\",\"provider\":\"Lab\",\"technician\":\"T\","
            "\"reference_standard\":\"LP01-UVA-01\"}");
    fake_host_stop(&h);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT certificate_number, reference_standard FROM "
                                        "calibrations ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "OLD-1");
    ck_assert_int_eq(sqlite3_column_type(st, 1), SQLITE_NULL);
    int found = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(st, 0), "NCL-1") == 0)
            found = sqlite3_column_text(st, 1) &&
                    strcmp((const char *)sqlite3_column_text(st, 1), "LP01-UVA-01") == 0;
    ck_assert_msg(found, "the new calibration's reference standard was not kept");
    sqlite3_finalize(st);
    sqlite3_close(db);
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("across restarts");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, store_keeps_state_across_a_restart);
    tcase_add_test(tc, uncommitted_work_is_not_kept);
    tcase_add_test(tc, a_start_says_up_to_which_ledger_record_the_store_is_committed);
    tcase_add_test(tc, a_store_from_before_gains_the_new_columns);
    suite_add_tcase(s, tc);
    return s;
}
