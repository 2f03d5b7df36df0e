/* The MaintenanceHub's own contracts (issue 12, item 1): contracts of other types skipped with a
 * record, never refused; `status` (only deployed and active in force, draft and validated read
 * and reported, deprecated retiring what it held); the order of a contract without an integer
 * version by deployed_date, else created_date (a rollback or a same-date swap refused); the
 * station type from station_type, else domain, else the folder's station; and reading only
 * `<station_type>-*` files where a folder is shared. */
#include "contract/contract.h"
#include "fake_host.h"
#include "lp_station.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fake_host h;

/* A hub-form maintenance contract in YAML: `extra` holds further top-level lines. */
static char *hub_contract(const char *id, const char *extra, const char *item)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f,
            "smart_contract_id: %s\n"
            "contract_type: SmartMaintenance\n"
            "title: LP station maintenance\n"
            "description: Calibration of the LP line's instruments\n"
            "created_date: \"2025-01-10\"\n"
            "conditions: [must-calibrate-before-test]\n"
            "validation_rules: {calibration_required: true}\n"
            "%s"
            "equipment_list:\n"
            "  - equipment_id: %s\n"
            "    description: Digital thermometer\n"
            "    equipment_type: thermometer\n"
            "    calibration_interval_days: 180\n"
            "    last_calibration_date: \"2024-11-15\"\n"
            "    calibration_certificate: NCL-2024-11-0092\n",
            id, extra, item);
    fclose(f);
    return text;
}

static void write_hub(const char *file, const char *id, const char *extra, const char *item)
{
    char *text = hub_contract(id, extra, item);
    fake_host_write_contract(&h, file, text);
    free(text);
}

static const char *status_of(const char *id)
{
    char data[128];
    snprintf(data, sizeof data, "{\"equipment_id\":\"%s\"}", id);
    send_ok(&h, "status.query", data);
    json_t *it = fake_host_item(fake_host_last_output(&h, "status"), id);
    ck_assert_ptr_nonnull(it);
    return str(it, "status");
}

START_TEST(contracts_of_six_other_types_are_skipped_with_a_record)
{
    static const char *const types[] = {"SmartSafety",    "SmartInventory",  "SmartQA",
                                        "SmartStandards", "SmartCompliance", "SmartSP"};
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001", "status: deployed\n", "LP01-THM-01");
    for (size_t i = 0; i < 6; i++) {
        char file[64], text[256];
        snprintf(file, sizeof file, "LP-OTHER-%zu.yaml", i);
        /* Written in their own forms, keys this module does not know: never refused. */
        snprintf(text, sizeof text,
                 "smart_contract_id: LP-OTHER-%zu\ncontract_type: %s\nhazards: [solvent]\n"
                 "ppe_required: {gloves: nitrile}\n",
                 i, types[i]);
        fake_host_write_contract(&h, file, text);
    }
    start_ok(&h);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 0);
    ck_assert_str_eq(status_of("LP01-THM-01"), "current");
    json_t *skipped = json_object_get(last_record_meta(&h, "contracts.loaded", NULL), "skipped");
    ck_assert_int_eq(json_array_size(skipped), 6);
    json_t *first = json_array_get(skipped, 0);
    ck_assert_str_eq(str(first, "file"), "LP-OTHER-0.yaml");
    ck_assert_str_eq(str(first, "contract_id"), "LP-OTHER-0");
    ck_assert_str_eq(str(first, "reason"), "contract_type SmartSafety: not a maintenance contract");
    /* A type nobody delivers is still refused: a typo must not pass silently. */
    fake_host_write_contract(&h, "LP-TYPO.yaml",
                             "smart_contract_id: LP-TYPO\ncontract_type: SmartMaintenace\n");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 1);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(only_deployed_and_active_are_in_force)
{
    static const struct {
        const char *status;
        bool in_force;
    } cases[] = {{"draft", false},
                 {"validated", false},
                 {"deployed", true},
                 {"active", true},
                 {"deprecated", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_host_init(&h, "2025-02-13T07:00:00Z");
        char extra[64];
        snprintf(extra, sizeof extra, "status: %s\n", cases[i].status);
        write_hub("LP-MAINT-001.yaml", "LP-MAINT-001", extra, "LP01-THM-01");
        start_ok(&h);
        ck_assert_str_eq(status_of("LP01-THM-01"), cases[i].in_force ? "current" : "unknown");
        json_t *meta = last_record_meta(&h, "contracts.loaded", NULL);
        json_t *held = json_object_get(meta, "not_in_force");
        ck_assert_int_eq(json_array_size(held), cases[i].in_force ? 0 : 1);
        ck_assert_int_eq(json_array_size(json_object_get(meta, "contracts")),
                         cases[i].in_force ? 1 : 0);
        if (!cases[i].in_force)
            ck_assert_str_eq(str(json_array_get(held, 0), "status"), cases[i].status);
        fake_host_destroy(&h);
    }
    /* An unknown status is malformed. */
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001", "status: live\n", "LP01-THM-01");
    start_ok(&h);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 1);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(deprecated_retires_what_it_held)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001", "status: active\n", "LP01-THM-01");
    start_ok(&h);
    ck_assert_str_eq(status_of("LP01-THM-01"), "current");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001",
              "status: deprecated\nretired_date: \"2025-02-12\"\n"
              "retirement_reason: replaced by LP-MAINT-001-v2\n",
              "LP01-THM-01");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 0);
    ck_assert_int_eq(fake_host_count_ledger(&h, "equipment.retired"), 1);
    ck_assert_str_eq(status_of("LP01-THM-01"), "unknown");
    fake_host_destroy(&h);
}
END_TEST

START_TEST(without_a_version_the_order_is_the_deployed_date_else_the_created_date)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001",
              "status: deployed\ndeployed_date: \"2025-01-15T09:00:00\"\n", "LP01-THM-01");
    start_ok(&h);
    json_t *c = json_array_get(
        json_object_get(last_record_meta(&h, "contracts.loaded", NULL), "contracts"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "version")), 20250115090000);
    /* Older: a rollback, refused. */
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001",
              "status: deployed\ndeployed_date: \"2025-01-14\"\n", "LP01-THM-01");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_ptr_nonnull(strstr(str(fake_host_last_output(&h, "contract.rejected"), "reason"),
                                 "deployed_date 2025-01-14 is older than the LP-MAINT-001 in "
                                 "force"));
    /* The same date, other content: no silent swap. */
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001",
              "status: active\ndeployed_date: \"2025-01-15T09:00:00\"\n", "LP01-THM-01");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_ptr_nonnull(strstr(str(fake_host_last_output(&h, "contract.rejected"), "reason"),
                                 "is the date of LP-MAINT-001 in force but the content differs"));
    /* Later: adopted. */
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001",
              "status: active\ndeployed_date: \"2025-02-01\"\n", "LP01-THM-01");
    send_ok(&h, "contract.deployed", "{}");
    ck_assert_int_eq(fake_host_count_ledger(&h, "contracts.loaded"), 2);
    fake_host_destroy(&h);

    /* Without deployed_date: created_date orders it. */
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-MAINT-002.yaml", "LP-MAINT-002", "", "LP01-THM-01");
    start_ok(&h);
    c = json_array_get(json_object_get(last_record_meta(&h, "contracts.loaded", NULL), "contracts"),
                       0);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "version")), 20250110000000);
    fake_host_destroy(&h);
}
END_TEST

START_TEST(the_station_type_is_station_type_else_domain_else_the_folder)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("A.yaml", "LP-A", "domain: MT\n", "MT01-THM-01"); /* another station's */
    write_hub("B.yaml", "LP-B", "domain: LP\n", "LP01-THM-01"); /* this station's */
    write_hub("C.yaml", "LP-C", "", "LP01-THM-02");             /* the folder's station */
    write_hub("D.yaml", "LP-D", "station_type: LP\ndomain: MT\n", "LP01-THM-03");
    start_ok(&h);
    ck_assert_str_eq(status_of("MT01-THM-01"), "unknown");
    ck_assert_str_eq(status_of("LP01-THM-01"), "current");
    ck_assert_str_eq(status_of("LP01-THM-02"), "current");
    ck_assert_str_eq(status_of("LP01-THM-03"), "current");
    json_t *skipped = json_object_get(last_record_meta(&h, "contracts.loaded", NULL), "skipped");
    ck_assert_int_eq(json_array_size(skipped), 1);
    ck_assert_str_eq(str(json_array_get(skipped, 0), "reason"), "for station type MT");
    fake_host_destroy(&h);
}
END_TEST

/* The seed's layout: one folder for every station, files named <station_type>-*. */
START_TEST(a_shared_folder_is_read_by_its_station_prefix)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-maintenance.yaml", "LP-M", "", "LP01-THM-01");
    write_hub("MT-maintenance.yaml", "MT-M", "", "MT01-THM-01"); /* names no station */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/contracts", h.dir);
    contract_set set;
    contract_refusal why = {0};
    ck_assert_int_eq(contract_set_load_matching(dir, "LP", "LP-", &set, &why), 0);
    ck_assert_uint_eq(set.contract_count, 1);
    ck_assert_ptr_nonnull(contract_set_find(&set, "LP01-THM-01"));
    ck_assert_ptr_null(contract_set_find(&set, "MT01-THM-01"));
    contract_set_release(&set);
    /* Without the prefix the folder is this station's: the MT file would be taken as LP's. */
    ck_assert_int_eq(contract_set_load(dir, "LP", &set, &why), 0);
    ck_assert_uint_eq(set.contract_count, 2);
    contract_set_release(&set);
    fake_host_destroy(&h);
}
END_TEST

/* The hub's checklist form: a station procedure required before every test, daily. */
static const char checklist[] =
    "smart_contract_id: LP-DAILY-001\n"
    "contract_type: SmartMaintenance\n"
    "title: LP daily checklist\n"
    "status: deployed\n"
    "created_date: \"2025-01-06\"\n"
    "checklist_steps:\n"
    "  - {step: 1, description: UV-A at the surface, input_type: number,\n"
    "     unit: \"\\xB5W/cm\\xB2\", reference_value: \"Must greater than 1000 "
    "\xc2\xb5W/cm\xc2\xb2\"}\n"
    "  - {step: 2, description: Ambient light, input_type: number, unit: ftc,\n"
    "     reference_value: must be less than 2 foot-candles}\n"
    "  - {step: 3, description: Penetrant dwell, input_type: number, unit: min,\n"
    "     reference_value: per the process sheet}\n"
    "  - {step: 4, description: Known-defect panel shows all indications, input_type: checkbox}\n";

static json_t *gate_for(const char *equipment)
{
    char data[160];
    snprintf(data, sizeof data, "{\"clientpo_id\":\"SC-1\",\"equipment\":[\"%s\"]}", equipment);
    send_ok(&h, "test.start", data);
    return fake_host_last_output(&h, "gate.decision");
}

static void check(const char *readings, const char *attestations)
{
    char data[512];
    snprintf(data, sizeof data,
             "{\"equipment_id\":\"LP-DAILY-001\",\"check_type\":\"LP-DAILY-001\","
             "\"technician\":\"J. Alvarez\",\"readings\":%s,\"attestations\":%s}",
             readings, attestations);
    send_ok(&h, "maintenance.check", data);
}

START_TEST(a_checklist_is_required_before_every_test_and_named_in_the_decision)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001", "status: deployed\n", "LP01-THM-01");
    fake_host_write_contract(&h, "LP-DAILY-001.yaml", checklist);
    start_ok(&h);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 0);
    json_t *d = gate_for("LP01-THM-01");
    ck_assert(json_is_false(json_object_get(d, "allowed")));
    json_t *station = fake_host_item(d, "LP-DAILY-001");
    ck_assert_ptr_nonnull(station);
    ck_assert_ptr_nonnull(strstr(str(station, "reason"), "daily check LP-DAILY-001 not done"));
    /* On the limit of "greater than 1000": not more than it, failed. */
    check("{\"1\":1000,\"2\":1.5,\"3\":10}", "{\"3\":true,\"4\":true}");
    ck_assert(
        json_is_false(json_object_get(fake_host_last_output(&h, "maintenance.checked"), "passed")));
    ck_assert(json_is_false(json_object_get(gate_for("LP01-THM-01"), "allowed")));
    /* A reading whose text states no limit needs its attestation. */
    fake_host_set_time(&h, "2025-02-13T07:05:00Z");
    check("{\"1\":1180,\"2\":1.5,\"3\":10}", "{\"4\":true}");
    ck_assert(
        json_is_false(json_object_get(fake_host_last_output(&h, "maintenance.checked"), "passed")));
    fake_host_set_time(&h, "2025-02-13T07:06:00Z");
    check("{\"1\":1180,\"2\":1.5,\"3\":10}", "{\"3\":true,\"4\":true}");
    ck_assert(
        json_is_true(json_object_get(fake_host_last_output(&h, "maintenance.checked"), "passed")));
    d = gate_for("LP01-THM-01");
    ck_assert(json_is_true(json_object_get(d, "allowed")));
    ck_assert(json_is_true(json_object_get(fake_host_item(d, "LP-DAILY-001"), "ready")));
    /* Daily: the next day it is due again. */
    fake_host_set_time(&h, "2025-02-14T07:00:00Z");
    ck_assert(json_is_false(json_object_get(gate_for("LP01-THM-01"), "allowed")));
    fake_host_destroy(&h);
}
END_TEST

START_TEST(contracts_loaded_shows_how_each_reference_value_was_read)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    fake_host_write_contract(&h, "LP-DAILY-001.yaml", checklist);
    start_ok(&h);
    json_t *c = json_array_get(
        json_object_get(last_record_meta(&h, "contracts.loaded", NULL), "contracts"), 0);
    json_t *read = json_object_get(c, "reference_values");
    ck_assert_int_eq(json_array_size(read), 3);
    ck_assert_str_eq(str(json_array_get(read, 0), "read_as"), "> 1000 uW/cm2");
    ck_assert_str_eq(str(json_array_get(read, 1), "read_as"), "< 2 fc");
    ck_assert(json_is_false(json_object_get(json_array_get(read, 2), "machine_checked")));
    ck_assert_ptr_nonnull(strstr(str(json_array_get(read, 2), "read_as"), "attestation"));
    fake_host_destroy(&h);
}
END_TEST

START_TEST(a_checklist_with_a_frequency_is_due_by_it)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    char text[2048];
    snprintf(text, sizeof text, "%sfrequency_hours: 4\n", checklist);
    fake_host_write_contract(&h, "LP-DAILY-001.yaml", text);
    start_ok(&h);
    check("{\"1\":1180,\"2\":1.5,\"3\":10}", "{\"3\":true,\"4\":true}");
    json_t *d = gate_for("LP-DAILY-001");
    ck_assert(json_is_true(json_object_get(d, "allowed")));
    fake_host_set_time(&h, "2025-02-13T11:01:00Z");
    ck_assert(json_is_false(json_object_get(gate_for("LP-DAILY-001"), "allowed")));
    fake_host_destroy(&h);
}
END_TEST

/* The seed's equipment form, in JSON and YAML alike: a flat last_calibration_date, an optional
 * certificate, the interval defaulting to 365 days, a maintenance_schedule map, and
 * maintenance_procedures of check type to {steps: [{description}]}. */
static const char seed_json[] =
    "{\"smart_contract_id\":\"LP-SEED-001\",\"contract_type\":\"SmartMaintenance\","
    "\"created_date\":\"2025-01-02\",\"equipment_list\":["
    "{\"equipment_id\":\"LP01-LGT-01\",\"description\":\"Penetrant inspection light\","
    "\"equipment_type\":\"uv_lamp\",\"calibration_interval_days\":180,"
    "\"last_calibration_date\":\"2024-11-15\",\"calibration_certificate\":\"NCL-2024-11-0932\","
    "\"maintenance_schedule\":{\"daily_check\":\"daily\"}},"
    "{\"equipment_id\":\"LP01-THM-09\",\"description\":\"Digital thermometer\","
    "\"equipment_type\":\"thermometer\",\"last_calibration_date\":\"2024-08-07\"}],"
    "\"maintenance_procedures\":{\"daily_check\":{\"steps\":["
    "{\"description\":\"Lamp warmed up 10 minutes\"},{\"description\":\"Lens clean\"}]}}}";

static const char seed_yaml[] = "smart_contract_id: LP-SEED-001\n"
                                "contract_type: SmartMaintenance\n"
                                "created_date: \"2025-01-02\"\n"
                                "equipment_list:\n"
                                "  - equipment_id: LP01-LGT-01\n"
                                "    description: Penetrant inspection light\n"
                                "    equipment_type: uv_lamp\n"
                                "    calibration_interval_days: 180\n"
                                "    last_calibration_date: \"2024-11-15\"\n"
                                "    calibration_certificate: NCL-2024-11-0932\n"
                                "    maintenance_schedule: {daily_check: daily}\n"
                                "  - equipment_id: LP01-THM-09\n"
                                "    description: Digital thermometer\n"
                                "    equipment_type: thermometer\n"
                                "    last_calibration_date: \"2024-08-07\"\n"
                                "maintenance_procedures:\n"
                                "  daily_check:\n"
                                "    steps:\n"
                                "      - description: Lamp warmed up 10 minutes\n"
                                "      - description: Lens clean\n";

START_TEST(the_seed_equipment_form_reads_alike_in_json_and_yaml)
{
    const char *files[] = {"LP-SEED-001.json", "LP-SEED-001.yaml"};
    const char *texts[] = {seed_json, seed_yaml};
    for (int f = 0; f < 2; f++) {
        fake_host_init(&h, "2025-02-13T07:00:00Z");
        fake_host_write_contract(&h, files[f], texts[f]);
        start_ok(&h);
        ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), 0);
        send_ok(&h, "status.query", "{}");
        json_t *status = fake_host_last_output(&h, "status");
        json_t *lamp = fake_host_item(status, "LP01-LGT-01");
        json_t *thm = fake_host_item(status, "LP01-THM-09");
        ck_assert_int_eq(json_integer_value(json_object_get(lamp, "days_remaining")), 90);
        ck_assert_str_eq(str(lamp, "certificate_number"), "NCL-2024-11-0932");
        /* 365 days from 2024-08-07; no certificate given, said so. */
        ck_assert_int_eq(json_integer_value(json_object_get(thm, "days_remaining")), 175);
        ck_assert_str_eq(str(thm, "certificate_number"), "not given in the contract");
        /* The check type is a procedure of its items, its steps attested by number. */
        send_ok(&h, "maintenance.check",
                "{\"equipment_id\":\"LP01-LGT-01\",\"check_type\":\"daily_check\","
                "\"technician\":\"J. Alvarez\",\"attestations\":{\"1\":true,\"2\":true}}");
        ck_assert(json_is_true(
            json_object_get(fake_host_last_output(&h, "maintenance.checked"), "passed")));
        fake_host_destroy(&h);
    }
}
END_TEST

static json_t *ack_of(json_t *ack, const char *file)
{
    json_t *v;
    size_t i;
    json_array_foreach (ack, i, v)
        if (strcmp(str(v, "file"), file) == 0)
            return v;
    ck_abort_msg("%s not acknowledged", file);
    return NULL;
}

/* What the hub waits for: per contract, id, order, file, SHA-256, in force or why not. */
START_TEST(contracts_loaded_acknowledges_every_contract)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    start_ok(&h);
    fake_host_write_contract(
        &h, "LP-CAL-001.json",
        "{\"smart_contract_id\":\"LP-CAL-001\",\"contract_type\":\"SmartMaintenance\","
        "\"version\":2,\"station_type\":\"LP\",\"equipment_list\":[{\"equipment_id\":"
        "\"LP01-THM-01\",\"description\":\"d\",\"equipment_type\":\"t\"}]}");
    write_hub("LP-MAINT-001.yaml", "LP-MAINT-001",
              "status: active\ndeployed_date: \"2025-01-15T09:00:00Z\"\n", "LP01-THM-02");
    write_hub("LP-MAINT-002.yaml", "LP-MAINT-002", "status: draft\n", "LP01-THM-03");
    write_hub("MT-MAINT-001.yaml", "MT-MAINT-001", "domain: MT\n", "MT01-THM-01");
    fake_host_write_contract(&h, "LP-QA-001.yaml",
                             "smart_contract_id: LP-QA-001\ncontract_type: SmartQA\n");
    send_ok(&h, "contract.deployed", "{}");
    json_t *out = fake_host_last_output(&h, "contracts.loaded");
    ck_assert_ptr_nonnull(out);
    json_t *ack = json_object_get(out, "acknowledgement");
    ck_assert_int_eq(json_array_size(ack), 5);
    json_t *a = ack_of(ack, "LP-CAL-001.json");
    ck_assert_str_eq(str(a, "contract_id"), "LP-CAL-001");
    ck_assert_str_eq(str(a, "order"), "version 2");
    ck_assert(json_is_true(json_object_get(a, "in_force")));
    ck_assert_int_eq(strlen(str(a, "sha256")), 64);
    a = ack_of(ack, "LP-MAINT-001.yaml");
    ck_assert_str_eq(str(a, "order"), "deployed_date 2025-01-15T09:00:00Z");
    ck_assert(json_is_true(json_object_get(a, "in_force")));
    a = ack_of(ack, "LP-MAINT-002.yaml");
    ck_assert(json_is_false(json_object_get(a, "in_force")));
    ck_assert_ptr_nonnull(strstr(str(a, "why_not"), "not deployed or active"));
    a = ack_of(ack, "MT-MAINT-001.yaml");
    ck_assert_str_eq(str(a, "why_not"), "for station type MT");
    ck_assert_int_eq(strlen(str(a, "sha256")), 64);
    a = ack_of(ack, "LP-QA-001.yaml");
    ck_assert_str_eq(str(a, "contract_id"), "LP-QA-001");
    ck_assert_str_eq(str(a, "why_not"), "contract_type SmartQA: not a maintenance contract");
    /* The ledger's record holds the same. */
    json_t *meta = last_record_meta(&h, "contracts.loaded", NULL);
    ck_assert(json_equal(json_object_get(meta, "acknowledgement"), ack));
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("hub forms");
    TCase *tc = tcase_create("the hub's contracts");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, contracts_of_six_other_types_are_skipped_with_a_record);
    tcase_add_test(tc, only_deployed_and_active_are_in_force);
    tcase_add_test(tc, deprecated_retires_what_it_held);
    tcase_add_test(tc, without_a_version_the_order_is_the_deployed_date_else_the_created_date);
    tcase_add_test(tc, the_station_type_is_station_type_else_domain_else_the_folder);
    tcase_add_test(tc, a_shared_folder_is_read_by_its_station_prefix);
    tcase_add_test(tc, a_checklist_is_required_before_every_test_and_named_in_the_decision);
    tcase_add_test(tc, contracts_loaded_shows_how_each_reference_value_was_read);
    tcase_add_test(tc, a_checklist_with_a_frequency_is_due_by_it);
    tcase_add_test(tc, the_seed_equipment_form_reads_alike_in_json_and_yaml);
    tcase_add_test(tc, contracts_loaded_acknowledges_every_contract);
    suite_add_tcase(s, tc);
    return s;
}
