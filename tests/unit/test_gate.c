/* The gate through the module's ABI: an expired item blocks a test until it is calibrated, and
 * an item no contract names blocks it fail-safe, as does a job with nothing linked. */
#include "check_main.h"
#include "fake_host.h"
#include "lp_station.h"

#include <string.h>

static fake_host h;

START_TEST(seed_workflow_blocks_then_allows)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    send_ok(&h, "status.query", "{}");
    json_t *status = fake_host_last_output(&h, "status");
    json_t *lamp = fake_host_item(status, "LP01-UVA-01");
    json_t *thm = fake_host_item(status, "LP01-THM-01");
    ck_assert_str_eq(str(lamp, "status"), "current");
    ck_assert_int_eq(json_integer_value(json_object_get(lamp, "days_remaining")), 90);
    ck_assert_str_eq(str(thm, "status"), "expired");
    ck_assert_int_eq(json_integer_value(json_object_get(thm, "days_overdue")), 10);
    ck_assert_str_eq(str(fake_host_item(status, "LP01-RAD-01"), "status"), "pending_calibration");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expired"), 1);
    json_t *alert = json_array_get(h.alerts, 0);
    ck_assert_str_eq(str(alert, "severity"), "high");
    ck_assert_str_eq(str(alert, "node_id"), "NODE-LP-001");
    ck_assert_str_eq(str(alert, "equipment_id"), "LP01-THM-01");

    send_ok(&h, "clientpo.link",
            "{\"clientpo_id\":\"SC-2025-001-LP\",\"equipment\":[\"LP01-UVA-01\",\"LP01-THM-01\"]}");
    json_t *linked = fake_host_last_output(&h, "clientpo.linked");
    ck_assert(json_is_false(json_object_get(linked, "all_ready")));

    fake_host_set_time(&h, "2025-02-13T07:10:00Z");
    send_ok(&h, "test.start", "{\"clientpo_id\":\"SC-2025-001-LP\"}");
    json_t *gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_false(json_object_get(gate, "allowed")));
    ck_assert_int_eq(json_array_size(json_object_get(gate, "blocking")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(gate, "blocking"), 0)),
                     "LP01-THM-01");
    ck_assert_ptr_nonnull(
        strstr(str(fake_host_item(gate, "LP01-THM-01"), "reason"), "10 days overdue"));
    ck_assert_int_eq(fake_host_count_alerts(&h, "equipment_not_ready"), 1);

    fake_host_set_time(&h, "2025-02-13T09:30:00Z");
    send_ok(&h, "calibration.record",
            "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-13\","
            "\"certificate_number\":\"NCL-2025-02-0417\",\"provider\":\"Lab\","
            "\"technician\":\"J. Alvarez\"}");
    json_t *recorded = fake_host_last_output(&h, "calibration.recorded");
    ck_assert_str_eq(str(recorded, "status"), "current");
    ck_assert_int_eq(json_integer_value(json_object_get(recorded, "days_remaining")), 180);
    ck_assert_int_eq(fake_host_count_ledger(&h, "calibration.recorded"), 1);

    send_ok(&h, "test.start", "{\"clientpo_id\":\"SC-2025-001-LP\"}");
    gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_true(json_object_get(gate, "allowed")));
    ck_assert_int_eq(fake_host_count_ledger(&h, "gate.decision"), 2);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(unknown_equipment_blocks_fail_safe)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    send_ok(&h, "test.start",
            "{\"clientpo_id\":\"PO-9\",\"equipment\":[\"LP01-UVA-01\",\"NOPE-1\"]}");
    json_t *gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_false(json_object_get(gate, "allowed")));
    json_t *item = fake_host_item(gate, "NOPE-1");
    ck_assert_str_eq(str(item, "status"), "unknown");
    ck_assert(json_is_false(json_object_get(item, "ready")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(gate, "blocking"), 0)),
                     "NOPE-1");
    /* No equipment given and nothing linked: blocked too. */
    send_ok(&h, "test.start", "{\"clientpo_id\":\"PO-NEVER-LINKED\"}");
    gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_false(json_object_get(gate, "allowed")));
    ck_assert_str_eq(str(gate, "reason"), "no equipment given and none linked");
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("gate");
    TCase *tc = tcase_create("gate decisions");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, seed_workflow_blocks_then_allows);
    tcase_add_test(tc, unknown_equipment_blocks_fail_safe);
    suite_add_tcase(s, tc);
    return s;
}
