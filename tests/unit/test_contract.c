/* Contract validation: each kind of bad contract is refused with the file, the field and why. */
#include "check_main.h"
#include "contract/contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char good[] =
    "{\"smart_contract_id\":\"LP-CAL-001\",\"contract_type\":\"SmartMaintenance\",\"version\":2,"
    "\"station_type\":\"LP\",\"equipment_list\":["
    "{\"equipment_id\":\"LP01-THM-01\",\"description\":\"Digital thermometer\","
    "\"equipment_type\":\"thermometer\",\"calibration_interval_days\":180,"
    "\"tolerances\":[{\"parameter\":\"temperature\",\"unit\":\"degC\",\"nominal\":38,"
    "\"plus_minus\":0.5},{\"parameter\":\"uv\",\"unit\":\"uW/cm2\",\"min\":1000}],"
    "\"last_calibration\":{\"calibration_date\":\"2024-08-07\",\"certificate_number\":\"C-2\","
    "\"provider\":\"Lab\"}}]}";

/* Parses `good` with one change applied by a JSON-pointer-like edit. */
static int parse_edited(const char *path_key, json_t *value, smart_error *err)
{
    json_t *doc = json_loads(good, 0, NULL);
    json_t *item = json_array_get(json_object_get(doc, "equipment_list"), 0);
    if (strncmp(path_key, "item.", 5) == 0) {
        const char *key = path_key + 5;
        if (strncmp(key, "last_calibration.", 17) == 0) {
            json_t *base = json_object_get(item, "last_calibration");
            if (value)
                json_object_set_new(base, key + 17, value);
            else
                json_object_del(base, key + 17);
        } else if (value)
            json_object_set_new(item, key, value);
        else
            json_object_del(item, key);
    } else if (value)
        json_object_set_new(doc, path_key, value);
    else
        json_object_del(doc, path_key);
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    contract c;
    int rc = contract_parse("LP-BAD.json", text, strlen(text), &c, err);
    free(text);
    if (rc == 0)
        contract_release(&c);
    return rc;
}

static void assert_refused(const char *path_key, json_t *value, const char *message)
{
    smart_error err = {0};
    ck_assert_int_eq(parse_edited(path_key, value, &err), SMART_ECONTRACT);
    ck_assert_msg(strcmp(err.text, message) == 0, "got '%s'\nwant '%s'", err.text, message);
}

START_TEST(good_contract_parses)
{
    contract c;
    smart_error err = {0};
    ck_assert_msg(contract_parse("LP.json", good, strlen(good), &c, &err) == 0, "%s", err.text);
    ck_assert_str_eq(c.contract_id, "LP-CAL-001");
    ck_assert_int_eq(c.version, 2);
    ck_assert_int_eq(c.item_count, 1);
    ck_assert_int_eq(c.items[0].terms.interval_days, 180);
    ck_assert_int_eq(c.items[0].terms.warning_days, 30); /* the default */
    ck_assert(c.items[0].tolerances[0].min == 37.5 && c.items[0].tolerances[0].max == 38.5);
    ck_assert(c.items[0].tolerances[1].has_min && !c.items[0].tolerances[1].has_max);
    ck_assert_int_eq(strlen(c.sha256), 64);
    contract_release(&c);
}
END_TEST

START_TEST(bad_contracts_name_file_and_field)
{
    assert_refused("item.calibration_interval_days", json_integer(0),
                   "LP-BAD.json: equipment_list[0].calibration_interval_days: must be between 1 "
                   "and 36500 (got 0)");
    assert_refused("item.calibration_interval_days", json_integer(-5),
                   "LP-BAD.json: equipment_list[0].calibration_interval_days: must be between 1 "
                   "and 36500 (got -5)");
    assert_refused("item.calibration_interval_days", json_string("180"),
                   "LP-BAD.json: equipment_list[0].calibration_interval_days: must be an integer "
                   "(got string)");
    assert_refused("item.equipment_type", NULL,
                   "LP-BAD.json: equipment_list[0].equipment_type: missing required field");
    assert_refused("item.colour", json_string("red"),
                   "LP-BAD.json: equipment_list[0].colour: unknown field");
    assert_refused("owner", json_string("me"), "LP-BAD.json: owner: unknown field");
    assert_refused("version", json_integer(0),
                   "LP-BAD.json: version: must be an integer >= 1 (got 0)");
    assert_refused("contract_type", json_string("Other"),
                   "LP-BAD.json: contract_type: must be \"SmartMaintenance\" (got \"Other\")");
    assert_refused("equipment_list", json_array(),
                   "LP-BAD.json: equipment_list: must list at least one item");
    assert_refused("item.last_calibration.calibration_date", json_string("2024-02-30"),
                   "LP-BAD.json: equipment_list[0].last_calibration.calibration_date: "
                   "'2024-02-30' is not a valid date: no such calendar day");
    assert_refused("item.last_calibration.provider", NULL,
                   "LP-BAD.json: equipment_list[0].last_calibration.provider: missing required "
                   "field");
    assert_refused("item.equipment_id", json_string("has space"),
                   "LP-BAD.json: equipment_list[0].equipment_id: 'has space' is not an "
                   "identifier (1 to 64 of A-Z a-z 0-9 . _ -)");
    assert_refused("item.tolerances", json_pack("[{s:s, s:s}]", "parameter", "t", "unit", "C"),
                   "LP-BAD.json: equipment_list[0].tolerances[0]: needs a limit (nominal and "
                   "plus_minus, min or max)");
    /* A zero band is refused, as the schema's exclusiveMinimum says; so is a negative one. */
    assert_refused("item.tolerances",
                   json_pack("[{s:s, s:s, s:i, s:i}]", "parameter", "t", "unit", "C", "nominal", 38,
                             "plus_minus", 0),
                   "LP-BAD.json: equipment_list[0].tolerances[0].plus_minus: must be greater "
                   "than 0 (got 0)");
    assert_refused("item.tolerances",
                   json_pack("[{s:s, s:s, s:i, s:f}]", "parameter", "t", "unit", "C", "nominal", 38,
                             "plus_minus", -0.5),
                   "LP-BAD.json: equipment_list[0].tolerances[0].plus_minus: must be greater "
                   "than 0 (got -0.5)");
    /* Limits that would need more digits than can be judged exactly are refused. */
    assert_refused("item.tolerances",
                   json_pack("[{s:s, s:s, s:f, s:f}]", "parameter", "t", "unit", "C", "nominal",
                             1e20, "plus_minus", 1e-20),
                   "LP-BAD.json: equipment_list[0].tolerances[0]: nominal 1e+20 and plus_minus "
                   "1e-20 give limits of more than 18 significant digits, which cannot be judged "
                   "exactly");
}
END_TEST

/* Every field of an item, of a tolerance and of a baseline, each wrong in turn: the messages
 * stay as they were when each field was looked up by its key. */
START_TEST(each_field_of_an_item_is_named_when_wrong)
{
    const char *item = "LP-BAD.json: equipment_list[0].";
    struct {
        const char *key;
        json_t *value;
        const char *message; /* after `item` */
    } cases[] = {
        {"item.equipment_id", NULL, "equipment_id: missing required field"},
        {"item.description", json_integer(3), "description: must be a string (got integer)"},
        {"item.description", json_string(""), "description: must not be empty"},
        {"item.manufacturer", json_string(""), "manufacturer: must not be empty"},
        {"item.model", json_integer(5), "model: must be a string (got integer)"},
        {"item.serial_number", json_true(), "serial_number: must be a string (got boolean)"},
        {"item.warning_period_days", json_integer(4000),
         "warning_period_days: must be between 0 and 3650 (got 4000)"},
        {"item.tolerances", json_string("x"), "tolerances: must be an array (got string)"},
        {"item.return_requires_verification", json_string("yes"),
         "return_requires_verification: must be true or false (got string)"},
        {"item.maintenance_schedule", json_integer(3),
         "maintenance_schedule: must be a map (got integer)"},
        {"item.last_calibration.certificate_number", json_integer(7),
         "last_calibration.certificate_number: must be a string (got integer)"},
        {"item.last_calibration.lab", json_string("x"), "last_calibration.lab: unknown field"},
        {"item.last_calibration.calibration_date", NULL,
         "last_calibration.calibration_date: missing required field"},
        {"item.last_calibration", json_string("x"),
         "last_calibration: must be an object (got string)"},
        {"item.tolerances", json_pack("[s]", "x"), "tolerances[0]: must be an object (got string)"},
        {"item.tolerances",
         json_pack("[{s:s, s:s, s:s}]", "parameter", "t", "unit", "C", "min", "1"),
         "tolerances[0].min: must be a number (got string)"},
        {"item.tolerances", json_pack("[{s:s, s:i, s:i}]", "parameter", "t", "unit", 5, "min", 1),
         "tolerances[0].unit: must be a string (got integer)"},
        {"item.tolerances", json_pack("[{s:s, s:i}]", "unit", "C", "max", 1),
         "tolerances[0].parameter: missing required field"},
        {"item.tolerances",
         json_pack("[{s:s, s:s, s:i, s:[s]}]", "parameter", "t", "unit", "C", "max", 1,
                   "reference_standards", "a b"),
         "tolerances[0].reference_standards[0]: 'a b' is not an identifier (1 to 64 of A-Z a-z "
         "0-9 . _ -)"},
        {"item.tolerances",
         json_pack("[{s:s, s:s, s:i, s:i}]", "parameter", "t", "unit", "C", "max", 1, "colour", 1),
         "tolerances[0].colour: unknown field"},
        {"item.tolerances",
         json_pack("[{s:s, s:s, s:i}, {s:s, s:s, s:i, s:i}]", "parameter", "t", "unit", "C", "max",
                   1, "parameter", "u", "unit", "C", "nominal", 2, "min", 1),
         "tolerances[1]: nominal and plus_minus go together"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[512];
        snprintf(want, sizeof want, "%s%s", item, cases[i].message);
        assert_refused(cases[i].key, cases[i].value, want);
    }
}
END_TEST

START_TEST(malformed_json_and_duplicates_within_a_file)
{
    contract c;
    smart_error err = {0};
    ck_assert_int_eq(contract_parse("X.json", "{\"a\":", 5, &c, &err), SMART_ECONTRACT);
    ck_assert_ptr_nonnull(strstr(err.text, "X.json:1:"));
    const char *dup_key = "{\"version\":1,\"version\":2}";
    ck_assert_int_eq(contract_parse("X.json", dup_key, strlen(dup_key), &c, &err), SMART_ECONTRACT);
    ck_assert_ptr_nonnull(strstr(err.text, "duplicate"));
    json_t *doc = json_loads(good, 0, NULL);
    json_t *list = json_object_get(doc, "equipment_list");
    json_array_append(list, json_array_get(list, 0));
    char *text = json_dumps(doc, 0);
    ck_assert_int_eq(contract_parse("X.json", text, strlen(text), &c, &err), SMART_ECONTRACT);
    ck_assert_str_eq(err.text, "X.json: equipment_list[1].equipment_id: 'LP01-THM-01' is "
                               "already listed at equipment_list[0]");
    free(text);
    json_decref(doc);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(sets_refuse_an_item_claimed_twice_and_skip_other_stations)
{
    char dir[] = "/tmp/smart-contracts-XXXXXX";
    ck_assert(mkdtemp(dir));
    write_file(dir, "a.json", good);
    char *mt = strdup(good);
    memcpy(strstr(mt, "\"LP\""), "\"MT\"", 4);
    write_file(dir, "b.json", mt);
    write_file(dir, "notes.txt", "not a contract");
    contract_set set;
    contract_refusal why = {0};
    ck_assert_msg(contract_set_load(dir, "LP", &set, &why) == 0, "%s", why.error.text);
    ck_assert_int_eq(set.contract_count, 1);
    ck_assert_int_eq(set.skipped_count, 1);
    ck_assert_ptr_nonnull(contract_set_find(&set, "LP01-THM-01"));
    ck_assert_ptr_null(contract_set_find(&set, "LP01-XXX-01"));
    contract_set_release(&set);

    char *second = strdup(good);
    memcpy(strstr(second, "LP-CAL-001"), "LP-CAL-002", 10);
    write_file(dir, "c.json", second);
    ck_assert_int_eq(contract_set_load(dir, "LP", &set, &why), SMART_ECONTRACT);
    ck_assert_str_eq(why.error.text,
                     "c.json: equipment_id 'LP01-THM-01' is also claimed by contract "
                     "LP-CAL-001 (a.json); an item belongs to one contract");
    /* The files come as data, beside the message. */
    ck_assert_str_eq(why.file, "c.json");
    ck_assert_str_eq(why.other_file, "a.json");

    /* One contract id in two files of this station: refused naming both. b.json (another
     * station's) shares the id too, but it is not loaded, so it does not conflict. */
    memcpy(strstr(second, "LP-CAL-002"), "LP-CAL-001", 10);
    memcpy(strstr(second, "LP01-THM-01"), "LP01-THM-02", 11);
    write_file(dir, "c.json", second);
    ck_assert_int_eq(contract_set_load(dir, "LP", &set, &why), SMART_ECONTRACT);
    ck_assert_str_eq(why.error.text, "c.json: smart_contract_id: 'LP-CAL-001' is also the id of "
                                     "a.json; a contract id names one file");
    ck_assert_str_eq(why.file, "c.json");
    ck_assert_str_eq(why.other_file, "a.json");
    free(mt);
    free(second);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* The files of a set are parsed on several threads: a large set loads whole, and with bad
 * files among them the first bad one in file order is reported, every time. */
START_TEST(sets_of_many_files_load_whole_and_report_the_first_bad_file)
{
    char dir[] = "/tmp/smart-contracts-XXXXXX";
    ck_assert(mkdtemp(dir));
    char name[32], *text = strdup(good);
    for (int i = 0; i < 40; i++) {
        char id[16], item[16];
        snprintf(id, sizeof id, "LP-CAL-%03d", i);
        snprintf(item, sizeof item, "LP01-%03d-01", i);
        memcpy(strstr(text, "\"smart_contract_id\":\"") + 21, id, 10);
        memcpy(strstr(text, "\"equipment_id\":\"") + 16, item, 11);
        snprintf(name, sizeof name, "c%02d.json", i);
        write_file(dir, name, text);
    }
    contract_set set;
    contract_refusal why = {0};
    ck_assert_msg(contract_set_load(dir, "LP", &set, &why) == 0, "%s", why.error.text);
    ck_assert_int_eq(set.contract_count, 40);
    ck_assert_ptr_nonnull(contract_set_find(&set, "LP01-000-01"));
    ck_assert_ptr_nonnull(contract_set_find(&set, "LP01-039-01"));
    contract_set_release(&set);

    write_file(dir, "c17.json", "{\"smart_contract_id\": 17}");
    write_file(dir, "c31.json", "not json");
    for (int round = 0; round < 20; round++) {
        ck_assert_int_eq(contract_set_load(dir, "LP", &set, &why), SMART_ECONTRACT);
        ck_assert_msg(strncmp(why.error.text, "c17.json: ", 10) == 0, "got '%s'", why.error.text);
    }
    free(text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("contract");
    TCase *tc = tcase_create("validation");
    tcase_add_test(tc, good_contract_parses);
    tcase_add_test(tc, bad_contracts_name_file_and_field);
    tcase_add_test(tc, each_field_of_an_item_is_named_when_wrong);
    tcase_add_test(tc, malformed_json_and_duplicates_within_a_file);
    tcase_add_test(tc, sets_refuse_an_item_claimed_twice_and_skip_other_stations);
    tcase_add_test(tc, sets_of_many_files_load_whole_and_report_the_first_bad_file);
    suite_add_tcase(s, tc);
    return s;
}
