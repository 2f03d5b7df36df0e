/* Alerts through the module's ABI: raised on a status transition, not on every sweep, and again
 * once a lasting condition's repeat period has passed. */
#include "check_main.h"
#include "fake_host.h"
#include "lp_station.h"

static fake_host h;

START_TEST(alerts_fire_on_transitions_not_every_sweep)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    send_ok(&h, "calibration.sweep", "{}");
    send_ok(&h, "calibration.sweep", "{}");
    fake_host_set_time(&h, "2025-02-13T20:00:00Z");
    send_ok(&h, "calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expired"), 1);
    /* A lasting condition is raised again once the repeat period (24 h) has passed. */
    fake_host_set_time(&h, "2025-02-14T07:00:00Z");
    send_ok(&h, "calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expired"), 2);
    ck_assert(json_is_true(json_object_get(json_array_get(h.alerts, 1), "repeat")));
    /* The lamp (due 2025-05-14) enters its 30-day warning on 2025-04-14: medium. */
    fake_host_set_time(&h, "2025-04-14T07:00:00Z");
    send_ok(&h, "calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expiring"), 1);
    json_t *changed = fake_host_last_output(&h, "status.changed");
    ck_assert_str_eq(str(changed, "equipment_id"), "LP01-UVA-01");
    ck_assert_str_eq(str(changed, "from"), "current");
    ck_assert_str_eq(str(changed, "to"), "expiring_soon");
    size_t transitions = fake_host_count_ledger(&h, "status.transition");
    send_ok(&h, "calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "status.transition"), transitions);
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("alerts");
    TCase *tc = tcase_create("transitions");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, alerts_fire_on_transitions_not_every_sweep);
    suite_add_tcase(s, tc);
    return s;
}
