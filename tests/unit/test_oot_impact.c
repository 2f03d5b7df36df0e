/* Out-of-tolerance impact through the module's ABI: which allowed tests a calibration found out
 * of tolerance puts in doubt, from the last calibration that left the item in tolerance, across
 * a restart and a redeployment. */
#include "check_main.h"
#include "fake_host.h"
#include "lp_station.h"

#include <stdio.h>

static fake_host h;

static const char *calibration_with(const char *date, double found, double left)
{
    static char text[512];
    snprintf(text, sizeof text,
             "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"%s\","
             "\"certificate_number\":\"C-%s\",\"provider\":\"Lab\",\"technician\":\"T\","
             "\"results\":[{\"parameter\":\"temperature\",\"nominal\":38,\"as_found\":%g,"
             "\"as_left\":%g}]}",
             date, date, found, left);
    return text;
}

/* ISO/IEC 17025 §7.10: the suspect window opens at the last calibration that left the item in
 * tolerance, not at a failed one in between. */
START_TEST(the_impact_window_opens_at_the_last_good_calibration)
{
    start_lp(&h, "2025-01-10T08:00:00Z");
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-A\",\"equipment\":[\"LP01-THM-01\"]}");
    ck_assert(json_is_true(json_object_get(fake_host_last_output(&h, "gate.decision"), "allowed")));
    fake_host_set_time(&h, "2025-01-20T08:00:00Z");
    send_ok(&h, "calibration.record", calibration_with("2025-01-20", 39.2, 39.2));
    json_t *impact = fake_host_last_output(&h, "oot.impact");
    ck_assert_int_eq(json_array_size(json_object_get(impact, "clientpos")), 1);
    ck_assert_str_eq(str(fake_host_last_output(&h, "calibration.recorded"), "status"),
                     "calibration_failed");
    /* Adjusted the next day: found out again, left in. The window still opens at 2024-08-07. */
    fake_host_set_time(&h, "2025-01-21T08:00:00Z");
    send_ok(&h, "calibration.record", calibration_with("2025-01-21", 39.1, 38.0));
    impact = fake_host_last_output(&h, "oot.impact");
    ck_assert_int_eq(json_array_size(json_object_get(impact, "clientpos")), 1);
    ck_assert_str_eq(str(json_array_get(json_object_get(impact, "clientpos"), 0), "clientpo_id"),
                     "PO-A");
    ck_assert_str_eq(str(impact, "suspect_since"), "2024-08-07T00:00:00Z");
    /* A later test, then a calibration found out: only the test since the good one counts. */
    fake_host_set_time(&h, "2025-01-22T08:00:00Z");
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-B\",\"equipment\":[\"LP01-THM-01\"]}");
    fake_host_set_time(&h, "2025-01-25T08:00:00Z");
    send_ok(&h, "calibration.record", calibration_with("2025-01-25", 39.0, 38.0));
    impact = fake_host_last_output(&h, "oot.impact");
    ck_assert_int_eq(json_array_size(json_object_get(impact, "clientpos")), 1);
    ck_assert_str_eq(str(json_array_get(json_object_get(impact, "clientpos"), 0), "clientpo_id"),
                     "PO-B");
    ck_assert_int_eq(fake_host_count_alerts(&h, "out_of_tolerance_impact"), 3);
    fake_host_destroy(&h);
}
END_TEST

/* The per-item view of the allowed tests lives in memory; after a restart or a redeployment it
 * is rebuilt from the store, so a later finding still lists the tests from before. */
START_TEST(the_impact_report_survives_a_restart_and_a_redeployment)
{
    start_lp(&h, "2025-01-10T08:00:00Z");
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-A\",\"equipment\":[\"LP01-THM-01\"]}");
    fake_host_stop(&h);
    smart_error err = {0};
    ck_assert_msg(fake_host_start(&h, &err) == 0, "restart: %s", err.text);
    fake_host_set_time(&h, "2025-01-11T08:00:00Z");
    send_ok(&h, "test.start",
            "{\"clientpo_id\":\"PO-B\",\"equipment\":[\"LP01-THM-01\",\"LP01-UVA-01\"]}");
    fake_host_set_time(&h, "2025-01-20T08:00:00Z");
    send_ok(&h, "calibration.record", calibration_with("2025-01-20", 39.2, 38.0));
    json_t *clientpos = json_object_get(fake_host_last_output(&h, "oot.impact"), "clientpos");
    ck_assert_int_eq(json_array_size(clientpos), 2);
    ck_assert_str_eq(str(json_array_get(clientpos, 0), "clientpo_id"), "PO-A");
    ck_assert_str_eq(str(json_array_get(clientpos, 1), "clientpo_id"), "PO-B");

    /* Left in tolerance on 2025-01-20: from then on only later tests count, across a
     * redeployment that rebuilds the equipment table. */
    fake_host_set_time(&h, "2025-01-21T08:00:00Z");
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-C\",\"equipment\":[\"LP01-THM-01\"]}");
    char *v2 = lp_contract_with(2, 180);
    fake_host_write_contract(&h, "LP-CAL-001.json", v2);
    free(v2);
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contracts.loaded"), 3);
    fake_host_set_time(&h, "2025-01-22T08:00:00Z");
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-D\",\"equipment\":[\"LP01-THM-01\"]}");
    fake_host_set_time(&h, "2025-01-25T08:00:00Z");
    send_ok(&h, "calibration.record", calibration_with("2025-01-25", 39.0, 38.0));
    clientpos = json_object_get(fake_host_last_output(&h, "oot.impact"), "clientpos");
    ck_assert_int_eq(json_array_size(clientpos), 2);
    ck_assert_str_eq(str(json_array_get(clientpos, 0), "clientpo_id"), "PO-C");
    ck_assert_str_eq(str(json_array_get(clientpos, 1), "clientpo_id"), "PO-D");
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("oot impact");
    TCase *tc = tcase_create("suspect window");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, the_impact_window_opens_at_the_last_good_calibration);
    tcase_add_test(tc, the_impact_report_survives_a_restart_and_a_redeployment);
    suite_add_tcase(s, tc);
    return s;
}
