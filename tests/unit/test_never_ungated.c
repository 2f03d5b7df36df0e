/* Never ungated (issue 12): a contracts directory refused at start does not stop the module.
 * It runs with the set it adopted last, kept in its store (content and hash), or with none and
 * every test.start blocked; a refused deployment is recorded and alerted once however often it
 * is asked for; a refused contract lists every problem found in it (up to 20). */
#include "contract/contract.h"
#include "fake_host.h"
#include "lp_station.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char good[] =
    "{\"smart_contract_id\":\"LP-CAL-001\",\"contract_type\":\"SmartMaintenance\",\"version\":1,"
    "\"station_type\":\"LP\",\"equipment_list\":["
    "{\"equipment_id\":\"LP01-THM-01\",\"description\":\"Digital thermometer\","
    "\"equipment_type\":\"thermometer\",\"calibration_interval_days\":180,"
    "\"last_calibration\":{\"calibration_date\":\"2024-11-15\",\"certificate_number\":\"C-2\","
    "\"provider\":\"Lab\"}}]}";

/* Three problems: an interval of 0, a missing equipment_type, a bad job_window_policy. */
static const char bad[] =
    "{\"smart_contract_id\":\"LP-CAL-002\",\"contract_type\":\"SmartMaintenance\",\"version\":1,"
    "\"station_type\":\"LP\",\"job_window_policy\":\"maybe\",\"equipment_list\":["
    "{\"equipment_id\":\"LP02-THM-01\",\"description\":\"d\",\"equipment_type\":\"t\","
    "\"calibration_interval_days\":0},"
    "{\"equipment_id\":\"LP02-THM-02\",\"description\":\"d\",\"calibration_interval_days\":9}]}";

static fake_host h;

static void remove_contract(const char *file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/contracts/%s", h.dir, file);
    ck_assert_int_eq(unlink(path), 0);
}

static json_t *gate(void)
{
    send_ok(&h, "test.start", "{\"clientpo_id\":\"SC-1\",\"equipment\":[\"LP01-THM-01\"]}");
    json_t *d = fake_host_last_output(&h, "gate.decision");
    ck_assert_ptr_nonnull(d);
    return d;
}

static json_int_t thermometer_days(void)
{
    send_ok(&h, "status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    json_t *thm = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
    ck_assert_ptr_nonnull(thm);
    return json_integer_value(json_object_get(thm, "days_remaining"));
}

START_TEST(refused_with_none_ever_adopted_the_module_runs_and_blocks_every_test)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-CAL-001.json", good);
    fake_host_write_contract(&h, "LP-CAL-002.json", bad);
    start_ok(&h);
    ck_assert_ptr_nonnull(h.instance);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 1);
    ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), 1);
    json_t *meta = last_record_meta(&h, "contract.rejected", NULL);
    ck_assert_ptr_nonnull(strstr(str(meta, "in_force"), "none"));
    json_t *d = gate();
    ck_assert(json_is_false(json_object_get(d, "allowed")));
    ck_assert_ptr_nonnull(strstr(str(d, "reason"), "no contracts in force"));
    /* The hub fixes it: the good set is adopted and the gate judges items again. */
    remove_contract("LP-CAL-002.json");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_int_eq(thermometer_days(), 90);
    d = gate();
    ck_assert(json_is_true(json_object_get(d, "allowed")));
    ck_assert_ptr_null(json_object_get(d, "reason"));
    fake_host_destroy(&h);
}
END_TEST

START_TEST(refused_after_an_adoption_the_module_runs_with_the_set_kept_in_its_store)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-CAL-001.json", good);
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);
    fake_host_stop(&h);
    /* The good file is gone and a bad one came: the set in force is the store's copy. */
    remove_contract("LP-CAL-001.json");
    fake_host_write_contract(&h, "LP-CAL-002.json", bad);
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);
    ck_assert(json_is_true(json_object_get(gate(), "allowed")));
    json_t *loaded = last_record_meta(&h, "contracts.loaded", NULL);
    ck_assert_ptr_nonnull(strstr(str(loaded, "cause"), "the set adopted before"));
    json_t *c = json_array_get(json_object_get(loaded, "contracts"), 0);
    ck_assert_str_eq(str(c, "contract_id"), "LP-CAL-001");
    ck_assert_int_eq(strlen(str(c, "sha256")), 64);
    json_t *meta = last_record_meta(&h, "contract.rejected", NULL);
    ck_assert_ptr_nonnull(strstr(str(meta, "in_force"), "the set adopted before"));
    /* And again at the next start: the store still holds it (not replaced by none). */
    fake_host_stop(&h);
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(one_refused_deployment_is_recorded_and_alerted_once)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-CAL-001.json", good);
    start_ok(&h);
    fake_host_write_contract(&h, "LP-CAL-002.json", bad);
    /* The hub's event, then the directory watch's, for the same files. */
    send_ok(&h, "contract.deployed", "{\"reason\":\"hub push\"}");
    json_t *first = json_incref(fake_host_last_output(&h, "contract.rejected"));
    send_ok(&h, "contract.deployed", "{\"reason\":\"contracts_dir changed\"}");
    json_t *second = fake_host_last_output(&h, "contract.rejected");
    ck_assert(json_is_false(json_object_get(first, "already_reported")));
    ck_assert(json_is_true(json_object_get(second, "already_reported")));
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 1);
    ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), 1);
    /* Another content is another deployment: reported again. */
    fake_host_write_contract(&h, "LP-CAL-002.json", "{}");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 2);
    ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), 2);
    json_decref(first);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(a_refused_contract_lists_every_problem_found)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-CAL-001.json", good);
    start_ok(&h);
    fake_host_write_contract(&h, "LP-CAL-002.json", bad);
    send_ok(&h, "contract.deployed", "{}");
    json_t *problems = json_object_get(fake_host_last_output(&h, "contract.rejected"), "problems");
    ck_assert_int_eq(json_array_size(problems), 3);
    ck_assert_str_eq(json_string_value(json_array_get(problems, 0)),
                     "LP-CAL-002.json: equipment_list[0].calibration_interval_days: must be "
                     "between 1 and 36500 (got 0)");
    ck_assert_str_eq(json_string_value(json_array_get(problems, 1)),
                     "LP-CAL-002.json: equipment_list[1].equipment_type: missing required field");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(problems, 2)),
                                 "LP-CAL-002.json: job_window_policy: must be"));
    json_t *meta = last_record_meta(&h, "contract.rejected", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "problems_found")), 3);
    fake_host_destroy(&h);
}
END_TEST

/* 25 bad items: 20 listed, 25 counted; in YAML each is located on its own line. */
START_TEST(at_most_twenty_problems_are_listed_and_all_are_counted)
{
    char text[8192] = "smart_contract_id: LP-Y\ncontract_type: SmartMaintenance\nversion: 1\n"
                      "station_type: LP\nequipment_list:\n";
    for (int i = 0; i < 25; i++) {
        char line[160];
        snprintf(line, sizeof line,
                 "  - {equipment_id: X-%d, description: d, equipment_type: t, "
                 "calibration_interval_days: 0}\n",
                 i);
        strcat(text, line);
    }
    contract c;
    smart_error err = {0};
    contract_problems problems = {0};
    ck_assert_int_eq(contract_parse_file("LP-Y.yaml", text, strlen(text), &c, &err, &problems),
                     SMART_ECONTRACT);
    ck_assert_uint_eq(problems.count, 20);
    ck_assert_uint_eq(problems.found, 25);
    ck_assert_str_eq(problems.text[0], "LP-Y.yaml:6: equipment_list[0].calibration_interval_days: "
                                       "must be between 1 and 36500 (got 0)");
    ck_assert_str_eq(problems.text[19], "LP-Y.yaml:25: equipment_list[19]."
                                        "calibration_interval_days: must be between 1 and 36500 "
                                        "(got 0)");
    ck_assert_str_eq(err.text, problems.text[0]);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("never ungated");
    TCase *tc = tcase_create("through the ABI");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, refused_with_none_ever_adopted_the_module_runs_and_blocks_every_test);
    tcase_add_test(tc, refused_after_an_adoption_the_module_runs_with_the_set_kept_in_its_store);
    tcase_add_test(tc, one_refused_deployment_is_recorded_and_alerted_once);
    tcase_add_test(tc, a_refused_contract_lists_every_problem_found);
    tcase_add_test(tc, at_most_twenty_problems_are_listed_and_all_are_counted);
    suite_add_tcase(s, tc);
    return s;
}
