/* The module through its ABI, in process: the gate, rejections, alerts on transitions, and
 * the store across a restart. */
#include "fake_host.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char lp_contract[] =
    "{\"smart_contract_id\":\"LP-CAL-001\",\"contract_type\":\"SmartMaintenance\",\"version\":1,"
    "\"station_type\":\"LP\",\"warning_period_days\":30,\"equipment_list\":["
    "{\"equipment_id\":\"LP01-UVA-01\",\"description\":\"UV-A inspection lamp\","
    "\"equipment_type\":\"uv_lamp\",\"calibration_interval_days\":180,"
    "\"last_calibration\":{\"calibration_date\":\"2024-11-15\",\"certificate_number\":\"C-1\","
    "\"provider\":\"Lab\"}},"
    "{\"equipment_id\":\"LP01-THM-01\",\"description\":\"Digital thermometer\","
    "\"equipment_type\":\"thermometer\",\"calibration_interval_days\":180,"
    "\"tolerances\":[{\"parameter\":\"temperature\",\"unit\":\"degC\",\"nominal\":38,"
    "\"plus_minus\":0.5}],"
    "\"last_calibration\":{\"calibration_date\":\"2024-08-07\",\"certificate_number\":\"C-2\","
    "\"provider\":\"Lab\"}},"
    "{\"equipment_id\":\"LP01-RAD-01\",\"description\":\"UV-A meter\","
    "\"equipment_type\":\"radiometer\",\"calibration_interval_days\":182}]}";

static fake_host h;

static void start_lp(const char *now)
{
    fake_host_init(&h, now);
    fake_host_write_contract(&h, "LP-CAL-001.json", lp_contract);
    smart_error err = {0};
    ck_assert_msg(fake_host_start(&h, &err) == 0, "init: %s", err.text);
}

static json_t *send_ok(const char *topic, const char *data)
{
    smart_error err = {0};
    ck_assert_msg(fake_host_send(&h, topic, data, &err) == 0, "%s: %s", topic, err.text);
    return json_array_get(h.outputs, json_array_size(h.outputs) - 1);
}

static const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

START_TEST(seed_workflow_blocks_then_allows)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("status.query", "{}");
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

    send_ok("clientpo.link",
            "{\"clientpo_id\":\"SC-2025-001-LP\",\"equipment\":[\"LP01-UVA-01\",\"LP01-THM-01\"]}");
    json_t *linked = fake_host_last_output(&h, "clientpo.linked");
    ck_assert(json_is_false(json_object_get(linked, "all_ready")));

    fake_host_set_time(&h, "2025-02-13T07:10:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"SC-2025-001-LP\"}");
    json_t *gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_false(json_object_get(gate, "allowed")));
    ck_assert_int_eq(json_array_size(json_object_get(gate, "blocking")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(gate, "blocking"), 0)),
                     "LP01-THM-01");
    ck_assert_ptr_nonnull(
        strstr(str(fake_host_item(gate, "LP01-THM-01"), "reason"), "10 days overdue"));
    ck_assert_int_eq(fake_host_count_alerts(&h, "equipment_not_ready"), 1);

    fake_host_set_time(&h, "2025-02-13T09:30:00Z");
    send_ok("calibration.record",
            "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-13\","
            "\"certificate_number\":\"NCL-2025-02-0417\",\"provider\":\"Lab\","
            "\"technician\":\"J. Alvarez\"}");
    json_t *recorded = fake_host_last_output(&h, "calibration.recorded");
    ck_assert_str_eq(str(recorded, "status"), "current");
    ck_assert_int_eq(json_integer_value(json_object_get(recorded, "days_remaining")), 180);
    ck_assert_int_eq(fake_host_count_ledger(&h, "calibration.recorded"), 1);

    send_ok("test.start", "{\"clientpo_id\":\"SC-2025-001-LP\"}");
    gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_true(json_object_get(gate, "allowed")));
    ck_assert_int_eq(fake_host_count_ledger(&h, "gate.decision"), 2);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(unknown_equipment_blocks_fail_safe)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"PO-9\",\"equipment\":[\"LP01-UVA-01\",\"NOPE-1\"]}");
    json_t *gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_false(json_object_get(gate, "allowed")));
    json_t *item = fake_host_item(gate, "NOPE-1");
    ck_assert_str_eq(str(item, "status"), "unknown");
    ck_assert(json_is_false(json_object_get(item, "ready")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(gate, "blocking"), 0)),
                     "NOPE-1");
    /* No equipment given and nothing linked: blocked too. */
    send_ok("test.start", "{\"clientpo_id\":\"PO-NEVER-LINKED\"}");
    gate = fake_host_last_output(&h, "gate.decision");
    ck_assert(json_is_false(json_object_get(gate, "allowed")));
    ck_assert_ptr_nonnull(str(gate, "reason"));
    fake_host_destroy(&h);
}
END_TEST

/* Each bad input is refused naming the field, and changes nothing. */
START_TEST(bad_input_is_refused_and_changes_nothing)
{
    static const struct {
        const char *topic, *data, *message;
    } cases[] = {
        {"calibration.record",
         "{\"calibration_date\":\"2025-02-13\",\"certificate_number\":\"X\",\"provider\":\"P\","
         "\"technician\":\"T\"}",
         "data.equipment_id: missing required field"},
        {"calibration.record",
         "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-30\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\"}",
         "data.calibration_date: '2025-02-30' is not a valid date: no such calendar day"},
        {"calibration.record",
         "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-14\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\"}",
         "data.calibration_date: 2025-02-14 is in the future"},
        {"calibration.record",
         "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-13T08:00:00Z\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\"}",
         "data.calibration_date: 2025-02-13T08:00:00Z is in the future"},
        {"calibration.record",
         "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2024-08-01\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\"}",
         "data.calibration_date: 2024-08-01 is before the calibration on record"},
        {"calibration.record",
         "{\"equipment_id\":\"NOPE-1\",\"calibration_date\":\"2025-02-13\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\"}",
         "data.equipment_id: 'NOPE-1' is not named by any contract in force"},
        {"calibration.record",
         "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-13\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\",\"colour\":1}",
         "data.colour: unknown field"},
        {"calibration.record",
         "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-13\","
         "\"certificate_number\":\"X\",\"provider\":\"P\",\"technician\":\"T\","
         "\"results\":[{\"parameter\":\"t\",\"as_found\":\"hot\"}]}",
         "data.results[0].as_found: must be a number (got string)"},
        {"clientpo.link", "{\"clientpo_id\":\"PO-1\",\"equipment\":\"LP01-THM-01\"}",
         "data.equipment: must be an array (got string)"},
        {"clientpo.link", "{\"clientpo_id\":\"PO-1\",\"equipment\":[]}",
         "data.equipment: must list at least one item"},
        {"clientpo.link", "{\"clientpo_id\":\"PO-1\",\"equipment\":[\"A\",\"A\"]}",
         "data.equipment[1]: 'A' is listed twice"},
        {"test.start", "{\"clientpo_id\":42}", "data.clientpo_id: must be a string (got integer)"},
        {"status.query", "{\"equipment_id\":\"\"}", "data.equipment_id: '' is not an identifier"},
        {"calibration.sweep", "{\"now\":1}", "data.now: unknown field"},
        {"test.start", "not json", "data: not valid JSON"},
    };
    start_lp("2025-02-13T07:00:00Z");
    send_ok("status.query", "{}");
    char *before = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t ledger = json_array_size(h.ledger), outputs = json_array_size(h.outputs);
        smart_error err = {0};
        int rc = fake_host_send(&h, cases[i].topic, cases[i].data, &err);
        ck_assert_msg(rc == SMART_EINVAL, "case %zu accepted (rc %d)", i, rc);
        ck_assert_msg(strncmp(err.text, cases[i].message, strlen(cases[i].message)) == 0,
                      "case %zu: got '%s', want '%s...'", i, err.text, cases[i].message);
        ck_assert_int_eq(json_array_size(h.ledger), ledger);
        ck_assert_int_eq(json_array_size(h.outputs), outputs);
    }
    send_ok("status.query", "{}");
    char *after = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    smart_error err = {0};
    ck_assert_int_eq(fake_host_send(&h, "no.such.topic", "{}", &err), SMART_ENOTSUP);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(alerts_fire_on_transitions_not_every_sweep)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("calibration.sweep", "{}");
    send_ok("calibration.sweep", "{}");
    fake_host_set_time(&h, "2025-02-13T20:00:00Z");
    send_ok("calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expired"), 1);
    /* A lasting condition is raised again once the repeat period (24 h) has passed. */
    fake_host_set_time(&h, "2025-02-14T07:00:00Z");
    send_ok("calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expired"), 2);
    ck_assert(json_is_true(json_object_get(json_array_get(h.alerts, 1), "repeat")));
    /* The lamp (due 2025-05-14) enters its 30-day warning on 2025-04-14: medium. */
    fake_host_set_time(&h, "2025-04-14T07:00:00Z");
    send_ok("calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_alerts(&h, "calibration_expiring"), 1);
    json_t *changed = fake_host_last_output(&h, "status.changed");
    ck_assert_ptr_nonnull(changed);
    size_t transitions = fake_host_count_ledger(&h, "status.transition");
    send_ok("calibration.sweep", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "status.transition"), transitions);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(store_keeps_state_across_a_restart)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("clientpo.link", "{\"clientpo_id\":\"PO-7\",\"equipment\":[\"LP01-THM-01\"]}");
    send_ok("calibration.record",
            "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-12\","
            "\"certificate_number\":\"NCL-1\",\"provider\":\"Lab\",\"technician\":\"T\"}");
    send_ok("status.query", "{}");
    char *before = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    size_t alerts = json_array_size(h.alerts);
    fake_host_stop(&h);

    smart_error err = {0};
    ck_assert_msg(fake_host_start(&h, &err) == 0, "restart: %s", err.text);
    size_t transitions = fake_host_count_ledger(&h, "status.transition");
    send_ok("status.query", "{}");
    char *after = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    ck_assert_str_eq(before, after);
    /* Nothing new was found: no transition, no second alert for the same condition. */
    ck_assert_int_eq(fake_host_count_ledger(&h, "status.transition"), transitions);
    ck_assert_int_eq(json_array_size(h.alerts), alerts);
    /* The link survived: a start with no list uses it. */
    send_ok("test.start", "{\"clientpo_id\":\"PO-7\"}");
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
    start_lp("2025-02-13T07:00:00Z");
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
    send_ok("status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    json_t *item = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
    ck_assert_str_eq(str(item, "status"), "expired");
    fake_host_destroy(&h);
}
END_TEST

/* The metadata of the last ledger record with that action (the fake host numbers records from
 * 1, as seq). */
static json_t *last_record_meta(const char *action, size_t *seq)
{
    for (size_t i = json_array_size(h.ledger); i-- > 0;) {
        json_t *r = json_array_get(h.ledger, i);
        if (strcmp(str(r, "action"), action) == 0) {
            *seq = i + 1;
            return json_object_get(r, "metadata");
        }
    }
    ck_abort_msg("no %s record", action);
    return NULL;
}

/* After a crash between the ledger's sync and the store's commit, the next start says up to
 * which ledger record the store is committed: the records after it are the lost batch's. */
START_TEST(a_start_says_up_to_which_ledger_record_the_store_is_committed)
{
    start_lp("2025-02-13T07:00:00Z");
    size_t seq;
    ck_assert(json_is_null(
        json_object_get(last_record_meta("store.opened", &seq), "committed_through_seq")));
    ck_assert_int_eq(seq, 1); /* before every other record of the start */
    send_ok("clientpo.link", "{\"clientpo_id\":\"PO-1\",\"equipment\":[\"LP01-UVA-01\"]}");
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
    ck_assert_int_gt(json_array_size(h.ledger), committed);
    fake_host_stop(&h);
    ck_assert_int_eq(fake_host_start(&h, &err), 0);
    json_t *meta = last_record_meta("store.opened", &seq);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "committed_through_seq")), committed);
    /* Between the two: only the lost batch's gate decision. */
    for (size_t i = committed; i + 1 < seq; i++)
        ck_assert_str_eq(str(json_array_get(h.ledger, i), "action"), "gate.decision");
    fake_host_destroy(&h);
}
END_TEST

START_TEST(a_bad_contract_refuses_init)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-CAL-001.json", lp_contract);
    fake_host_write_contract(&h, "LP-CAL-002.json",
                             "{\"smart_contract_id\":\"LP-CAL-002\",\"contract_type\":"
                             "\"SmartMaintenance\",\"version\":1,\"station_type\":\"LP\","
                             "\"equipment_list\":[{\"equipment_id\":\"LP01-THM-01\","
                             "\"description\":\"d\",\"equipment_type\":\"t\","
                             "\"calibration_interval_days\":90}]}");
    /* Refused, and the module still loads (never ungated): none in force, the refusal said. */
    smart_error err = {0};
    ck_assert_int_eq(fake_host_start(&h, &err), 0);
    ck_assert_ptr_nonnull(h.instance);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 1);
    json_t *record = json_array_get(h.ledger, 2); /* after store.opened, contracts.loaded */
    ck_assert_str_eq(str(record, "action"), "contract.rejected");
    ck_assert_msg(strstr(str(record, "details"),
                         "LP-CAL-002.json: equipment_id 'LP01-THM-01' is also claimed"),
                  "got %s", str(record, "details"));
    fake_host_destroy(&h);
}
END_TEST

/* The LP contract with another version and thermometer interval. */
static char *lp_contract_with(int version, int thermometer_interval)
{
    char *text = strdup(lp_contract);
    char *v = strstr(text, "\"version\":1");
    ck_assert_ptr_nonnull(v);
    v[10] = (char)('0' + version);
    char *thm =
        strstr(text, "\"equipment_type\":\"thermometer\",\"calibration_interval_days\":180");
    ck_assert_ptr_nonnull(thm);
    char digits[4];
    snprintf(digits, sizeof digits, "%03d", thermometer_interval);
    memcpy(thm + strlen("\"equipment_type\":\"thermometer\",\"calibration_interval_days\":"),
           digits, 3);
    return text;
}

START_TEST(a_redeployed_contract_takes_effect_at_once)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    ck_assert_str_eq(
        str(fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01"), "status"),
        "expired");
    /* Version 2 lengthens the thermometer's interval to 200 days: valid again at once, within
     * its 30-day warning. */
    char *v2 = lp_contract_with(2, 200);
    fake_host_write_contract(&h, "LP-CAL-001.json", v2);
    free(v2);
    size_t transitions = fake_host_count_ledger(&h, "status.transition");
    send_ok("contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contracts.loaded"), 2);
    ck_assert_int_eq(fake_host_count_ledger(&h, "status.transition"), transitions + 1);
    json_t *changed = fake_host_last_output(&h, "status.changed");
    ck_assert_str_eq(str(changed, "to"), "expiring_soon");
    ck_assert_str_eq(str(changed, "cause"), "contract");
    send_ok("status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    json_t *thm = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
    ck_assert_int_eq(json_integer_value(json_object_get(thm, "days_remaining")), 10);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(a_bad_or_older_contract_is_refused_and_the_set_in_force_stays)
{
    start_lp("2025-02-13T07:00:00Z");
    char *v3 = lp_contract_with(3, 200);
    fake_host_write_contract(&h, "LP-CAL-001.json", v3);
    send_ok("contract.deployed", "{}");
    const char *refused[] = {
        /* a bad file */
        "{\"smart_contract_id\":\"LP-CAL-009\",\"contract_type\":\"SmartMaintenance\","
        "\"version\":1,\"station_type\":\"LP\",\"equipment_list\":[{\"equipment_id\":\"X-1\","
        "\"description\":\"d\",\"equipment_type\":\"t\",\"calibration_interval_days\":0}]}",
        NULL, /* an older version */
        NULL, /* the same version, changed */
    };
    char *older = lp_contract_with(2, 300), *changed = lp_contract_with(3, 250);
    refused[1] = older;
    refused[2] = changed;
    const char *files[] = {"LP-CAL-009.json", "LP-CAL-001.json", "LP-CAL-001.json"};
    const char *messages[] = {
        "LP-CAL-009.json: equipment_list[0].calibration_interval_days: must be between 1",
        "LP-CAL-001.json: version: 2 is lower than version 3 of LP-CAL-001 already in force",
        "LP-CAL-001.json: version: 3 is the version of LP-CAL-001 in force but the content differs",
    };
    for (int i = 0; i < 3; i++) {
        fake_host_write_contract(&h, files[i], refused[i]);
        send_ok("contract.deployed", "{}");
        json_t *rejected = fake_host_last_output(&h, "contract.rejected");
        ck_assert_ptr_nonnull(rejected);
        ck_assert_msg(strncmp(str(rejected, "reason"), messages[i], strlen(messages[i])) == 0,
                      "got %s", str(rejected, "reason"));
        ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), (size_t)i + 1);
        ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), (size_t)i + 1);
        /* Still in force: version 3, 200 days. */
        send_ok("status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
        json_t *thm = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
        ck_assert_int_eq(json_integer_value(json_object_get(thm, "days_remaining")), 10);
        if (i == 0) { /* take the bad file away again */
            char path[512];
            snprintf(path, sizeof path, "%s/contracts/LP-CAL-009.json", h.dir);
            ck_assert_int_eq(unlink(path), 0);
        }
    }
    /* The high-water mark survives a restart: the older file on disk is refused at start, and
     * the set adopted before (version 3, kept in the store) stays in force. */
    fake_host_write_contract(&h, "LP-CAL-001.json", older);
    fake_host_stop(&h);
    smart_error err = {0};
    ck_assert_int_eq(fake_host_start(&h, &err), 0);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 4);
    ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), 4);
    send_ok("status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    json_t *thm = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
    ck_assert_int_eq(json_integer_value(json_object_get(thm, "days_remaining")), 10);
    free(v3);
    free(older);
    free(changed);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(equipment_removed_from_every_contract_is_retired)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("calibration.record",
            "{\"equipment_id\":\"LP01-RAD-01\",\"calibration_date\":\"2025-02-12\","
            "\"certificate_number\":\"R-1\",\"provider\":\"Lab\",\"technician\":\"T\"}");
    char *v2 = lp_contract_with(2, 180);
    /* drop the radiometer: cut its entry (the last one) from the list */
    char *rad = strstr(v2, ",{\"equipment_id\":\"LP01-RAD-01\"");
    ck_assert_ptr_nonnull(rad);
    strcpy(rad, "]}");
    fake_host_write_contract(&h, "LP-CAL-001.json", v2);
    free(v2);
    send_ok("contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "equipment.retired"), 1);
    send_ok("status.query", "{}");
    ck_assert_ptr_null(fake_host_item(fake_host_last_output(&h, "status"), "LP01-RAD-01"));
    /* No longer required, and not vouched for either: a test naming it is blocked. */
    send_ok("test.start", "{\"clientpo_id\":\"PO-1\",\"equipment\":[\"LP01-RAD-01\"]}");
    ck_assert_str_eq(
        str(fake_host_item(fake_host_last_output(&h, "gate.decision"), "LP01-RAD-01"), "status"),
        "unknown");
    /* Back in a later version, it keeps its history. */
    char *v3 = lp_contract_with(3, 180);
    fake_host_write_contract(&h, "LP-CAL-001.json", v3);
    free(v3);
    send_ok("contract.deployed", "{}");
    send_ok("status.query", "{\"equipment_id\":\"LP01-RAD-01\"}");
    json_t *rad_item = fake_host_item(fake_host_last_output(&h, "status"), "LP01-RAD-01");
    ck_assert_str_eq(str(rad_item, "certificate_number"), "R-1");
    fake_host_destroy(&h);
}
END_TEST

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
    start_lp("2025-01-10T08:00:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"PO-A\",\"equipment\":[\"LP01-THM-01\"]}");
    ck_assert(json_is_true(json_object_get(fake_host_last_output(&h, "gate.decision"), "allowed")));
    fake_host_set_time(&h, "2025-01-20T08:00:00Z");
    send_ok("calibration.record", calibration_with("2025-01-20", 39.2, 39.2));
    json_t *impact = fake_host_last_output(&h, "oot.impact");
    ck_assert_int_eq(json_array_size(json_object_get(impact, "clientpos")), 1);
    ck_assert_str_eq(str(fake_host_last_output(&h, "calibration.recorded"), "status"),
                     "calibration_failed");
    /* Adjusted the next day: found out again, left in. The window still opens at 2024-08-07. */
    fake_host_set_time(&h, "2025-01-21T08:00:00Z");
    send_ok("calibration.record", calibration_with("2025-01-21", 39.1, 38.0));
    impact = fake_host_last_output(&h, "oot.impact");
    ck_assert_int_eq(json_array_size(json_object_get(impact, "clientpos")), 1);
    ck_assert_str_eq(str(json_array_get(json_object_get(impact, "clientpos"), 0), "clientpo_id"),
                     "PO-A");
    ck_assert_str_eq(str(impact, "suspect_since"), "2024-08-07T00:00:00Z");
    /* A later test, then a calibration found out: only the test since the good one counts. */
    fake_host_set_time(&h, "2025-01-22T08:00:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"PO-B\",\"equipment\":[\"LP01-THM-01\"]}");
    fake_host_set_time(&h, "2025-01-25T08:00:00Z");
    send_ok("calibration.record", calibration_with("2025-01-25", 39.0, 38.0));
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
    start_lp("2025-01-10T08:00:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"PO-A\",\"equipment\":[\"LP01-THM-01\"]}");
    fake_host_stop(&h);
    smart_error err = {0};
    ck_assert_msg(fake_host_start(&h, &err) == 0, "restart: %s", err.text);
    fake_host_set_time(&h, "2025-01-11T08:00:00Z");
    send_ok("test.start",
            "{\"clientpo_id\":\"PO-B\",\"equipment\":[\"LP01-THM-01\",\"LP01-UVA-01\"]}");
    fake_host_set_time(&h, "2025-01-20T08:00:00Z");
    send_ok("calibration.record", calibration_with("2025-01-20", 39.2, 38.0));
    json_t *clientpos = json_object_get(fake_host_last_output(&h, "oot.impact"), "clientpos");
    ck_assert_int_eq(json_array_size(clientpos), 2);
    ck_assert_str_eq(str(json_array_get(clientpos, 0), "clientpo_id"), "PO-A");
    ck_assert_str_eq(str(json_array_get(clientpos, 1), "clientpo_id"), "PO-B");

    /* Left in tolerance on 2025-01-20: from then on only later tests count, across a
     * redeployment that rebuilds the equipment table. */
    fake_host_set_time(&h, "2025-01-21T08:00:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"PO-C\",\"equipment\":[\"LP01-THM-01\"]}");
    char *v2 = lp_contract_with(2, 180);
    fake_host_write_contract(&h, "LP-CAL-001.json", v2);
    free(v2);
    send_ok("contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contracts.loaded"), 3);
    fake_host_set_time(&h, "2025-01-22T08:00:00Z");
    send_ok("test.start", "{\"clientpo_id\":\"PO-D\",\"equipment\":[\"LP01-THM-01\"]}");
    fake_host_set_time(&h, "2025-01-25T08:00:00Z");
    send_ok("calibration.record", calibration_with("2025-01-25", 39.0, 38.0));
    clientpos = json_object_get(fake_host_last_output(&h, "oot.impact"), "clientpos");
    ck_assert_int_eq(json_array_size(clientpos), 2);
    ck_assert_str_eq(str(json_array_get(clientpos, 0), "clientpo_id"), "PO-C");
    ck_assert_str_eq(str(json_array_get(clientpos, 1), "clientpo_id"), "PO-D");
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
    send_ok("calibration.record",
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

/* Free text holding U+2028 (a line separator) reaches every output, record and alert escaped,
 * whichever of the module's writers built it (fake_host.c checks each text handed over). */
START_TEST(a_line_separator_in_free_text_goes_out_escaped)
{
    start_lp("2025-02-13T07:00:00Z");
    send_ok("equipment.out_of_service", "{\"equipment_id\":\"LP01-UVA-01\",\"reason\":"
                                        "\"Lens cracked\u2028see log\",\"technician\":\"T\"}");
    json_t *record = json_array_get(h.ledger, json_array_size(h.ledger) - 2);
    ck_assert_str_eq(str(json_object_get(record, "metadata"), "reason"),
                     "Lens cracked\xE2\x80\xA8see log");
    fake_host_destroy(&h);
}
END_TEST

static void deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

START_TEST(a_change_in_the_contracts_directory_asks_for_a_rescan)
{
    start_lp("2025-02-13T07:00:00Z");
    char *v2 = lp_contract_with(2, 200);
    fake_host_write_contract(&h, "LP-CAL-001.json", v2);
    free(v2);
    /* The watch fires on the loop; a failure guard (not a wait) ends the test if it never does. */
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(&h.loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, deadline, 10000, 0);
    while (json_array_size(h.posted) == 0 && !expired)
        uv_run(&h.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&h.loop, UV_RUN_NOWAIT);
    ck_assert_msg(!expired, "no rescan was asked for within 10 s");
    json_t *posted = json_array_get(h.posted, 0);
    ck_assert_str_eq(str(posted, "topic"), "contract.deployed");
    /* Delivered like any event, it adopts version 2. */
    char *data = json_dumps(json_object_get(posted, "data"), 0);
    send_ok("contract.deployed", data);
    free(data);
    json_t *loaded = json_array_get(h.ledger, json_array_size(h.ledger) - 1);
    ck_assert_ptr_nonnull(loaded);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contracts.loaded"), 2);
    fake_host_destroy(&h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("module");
    TCase *tc = tcase_create("through the ABI");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, seed_workflow_blocks_then_allows);
    tcase_add_test(tc, unknown_equipment_blocks_fail_safe);
    tcase_add_test(tc, bad_input_is_refused_and_changes_nothing);
    tcase_add_test(tc, alerts_fire_on_transitions_not_every_sweep);
    tcase_add_test(tc, store_keeps_state_across_a_restart);
    tcase_add_test(tc, uncommitted_work_is_not_kept);
    tcase_add_test(tc, a_start_says_up_to_which_ledger_record_the_store_is_committed);
    tcase_add_test(tc, a_bad_contract_refuses_init);
    tcase_add_test(tc, a_redeployed_contract_takes_effect_at_once);
    tcase_add_test(tc, a_bad_or_older_contract_is_refused_and_the_set_in_force_stays);
    tcase_add_test(tc, equipment_removed_from_every_contract_is_retired);
    tcase_add_test(tc, a_change_in_the_contracts_directory_asks_for_a_rescan);
    tcase_add_test(tc, the_impact_window_opens_at_the_last_good_calibration);
    tcase_add_test(tc, the_impact_report_survives_a_restart_and_a_redeployment);
    tcase_add_test(tc, a_store_from_before_gains_the_new_columns);
    tcase_add_test(tc, a_line_separator_in_free_text_goes_out_escaped);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
