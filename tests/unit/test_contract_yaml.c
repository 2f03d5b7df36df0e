/* YAML contracts (the MaintenanceHub's form): read into the JSON contract format, checked by the
 * same validator, refused with the file, the line, the field and why. */
#include "check_main.h"
#include "contract/contract.h"
#include "contract/contract_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURES
#error "FIXTURES (the fixtures directory) must be defined by the build"
#endif

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    ck_assert(text);
    ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return text;
}

static void parse_fixture(const char *name, contract *c)
{
    size_t len;
    char *text = slurp(name, &len);
    smart_error err = {0};
    int rc = strstr(name, ".json") ? contract_parse(name, text, len, c, &err)
                                   : contract_parse_yaml(name, text, len, c, &err);
    ck_assert_msg(rc == 0, "%s", err.text);
    free(text);
}

static void assert_same_string(const char *a, const char *b)
{
    if (!a || !b)
        ck_assert_ptr_eq(a, b);
    else
        ck_assert_str_eq(a, b);
}

START_TEST(hub_yaml_contract_equals_its_json_twin)
{
    contract y, j;
    parse_fixture("LP-HUB-001.yaml", &y);
    parse_fixture("LP-HUB-001.json", &j);
    /* The whole document, once the flat baseline is mapped, is the JSON twin's. */
    char *yd = json_dumps(y.document, JSON_SORT_KEYS), *jd = json_dumps(j.document, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(y.document, j.document), "yaml: %s\njson: %s", yd, jd);
    free(yd);
    free(jd);
    ck_assert_str_eq(y.contract_id, "LP-HUB-001");
    ck_assert_str_eq(y.station_type, j.station_type);
    ck_assert_int_eq(y.version, 2);
    ck_assert_int_eq(y.item_count, 3);
    ck_assert_int_eq(y.item_count, j.item_count);
    for (size_t i = 0; i < y.item_count; i++) {
        const contract_item *a = &y.items[i], *b = &j.items[i];
        ck_assert_str_eq(a->equipment_id, b->equipment_id);
        ck_assert_str_eq(a->description, b->description);
        ck_assert_str_eq(a->equipment_type, b->equipment_type);
        ck_assert_int_eq(a->terms.interval_days, b->terms.interval_days);
        ck_assert_int_eq(a->terms.warning_days, b->terms.warning_days);
        ck_assert_int_eq(a->tolerance_count, b->tolerance_count);
        for (size_t k = 0; k < a->tolerance_count; k++)
            ck_assert(a->tolerances[k].min == b->tolerances[k].min &&
                      a->tolerances[k].max == b->tolerances[k].max &&
                      a->tolerances[k].has_min == b->tolerances[k].has_min &&
                      a->tolerances[k].has_max == b->tolerances[k].has_max);
        ck_assert(a->has_baseline && b->has_baseline);
        ck_assert_str_eq(a->baseline_date_text, b->baseline_date_text);
        ck_assert_mem_eq(&a->baseline_date, &b->baseline_date, sizeof a->baseline_date);
        ck_assert_str_eq(a->baseline_certificate, b->baseline_certificate);
        ck_assert_str_eq(a->baseline_provider, b->baseline_provider);
        ck_assert_int_eq(a->return_requires_verification, b->return_requires_verification);
        ck_assert_int_eq(a->procedure_count, b->procedure_count);
    }
    ck_assert_int_eq(y.items[1].terms.interval_days, 182);
    ck_assert_int_eq(y.items[1].terms.warning_days, 21);
    ck_assert_str_eq(y.items[1].baseline_date_text, "2024-08-07");
    ck_assert_str_eq(y.items[1].baseline_provider, CONTRACT_YAML_DEFAULT_PROVIDER);
    ck_assert(!y.items[2].return_requires_verification);
    ck_assert(y.items[1].tolerances[1].min == 18.5 && y.items[1].tolerances[1].max == 21.5);

    ck_assert_int_eq(y.procedure_count, 1);
    const procedure *p = &y.procedures[0], *q = &j.procedures[0];
    ck_assert_str_eq(p->procedure_id, q->procedure_id);
    ck_assert_str_eq(p->title, q->title);
    ck_assert_int_eq(p->frequency, FREQ_DAYS);
    ck_assert_int_eq(p->every, 1);
    ck_assert(p->needs_reference && p->required_before_test && !p->out_of_service_on_fail);
    ck_assert_int_eq(p->step_count, 3);
    ck_assert_int_eq(p->step_count, q->step_count);
    for (size_t k = 0; k < p->step_count; k++) {
        const check_step *a = &p->steps[k], *b = &q->steps[k];
        ck_assert_str_eq(a->step_id, b->step_id);
        ck_assert_str_eq(a->description, b->description);
        ck_assert_int_eq(a->is_reading, b->is_reading);
        assert_same_string(a->unit, b->unit);
        assert_same_string(a->reference_value, b->reference_value);
        ck_assert(a->has_min == b->has_min && a->has_max == b->has_max && a->min == b->min &&
                  a->max == b->max);
    }
    ck_assert_str_eq(p->steps[0].reference_value, ">= 1000 uW/cm2 at 38 cm");
    ck_assert(p->steps[1].has_max && p->steps[1].max == 21.5);
    ck_assert(!p->steps[2].is_reading);
    ck_assert_str_eq(p->steps[2].description, "Lens and filter clean, not cracked");
    ck_assert_int_eq(y.items[0].procedure_count, 1);
    ck_assert_int_eq(y.shift_count, 3);
    ck_assert_int_eq(y.shift_starts[1], 14 * 60);
    ck_assert_int_eq(strlen(y.sha256), 64);
    ck_assert_str_ne(y.sha256, j.sha256); /* of each file's own bytes */
    contract_release(&y);
    contract_release(&j);
}
END_TEST

START_TEST(line_map_gives_the_line_of_each_value)
{
    size_t len;
    char *text = slurp("LP-HUB-001.yaml", &len);
    json_t *doc = NULL;
    yaml_line_map *lines = NULL;
    smart_error err = {0};
    ck_assert_msg(contract_yaml_to_json("LP-HUB-001.yaml", text, len, &doc, &lines, &err) == 0,
                  "%s", err.text);
    ck_assert_int_eq(yaml_line_of(lines, "smart_contract_id"), 3);
    ck_assert_int_eq(yaml_line_of(lines, "equipment_list[0].calibration_interval_days"), 17);
    ck_assert_int_eq(yaml_line_of(lines, "equipment_list[1].calibration_interval_days"), 28);
    ck_assert_int_eq(yaml_line_of(lines, "procedures[0].checklist_steps[1].max"), 61);
    ck_assert_int_eq(yaml_line_of(lines, "equipment_list[1].last_calibration.calibration_date"),
                     33);
    ck_assert_int_eq(yaml_line_of(lines, "equipment_list[1].last_calibration.certificate_number"),
                     34);
    ck_assert_str_eq(yaml_written_as(lines, "equipment_list[1].last_calibration.calibration_date"),
                     "equipment_list[1].last_calibration_date");
    ck_assert_ptr_null(yaml_written_as(lines, "equipment_list[1].calibration_interval_days"));
    ck_assert_int_eq(yaml_line_of(lines, "equipment_list[1].colour"), 0);
    ck_assert_int_eq(yaml_line_near(lines, "equipment_list[1].colour"), 25);
    ck_assert_int_eq(yaml_line_of(lines, "no_such_key"), 0);
    ck_assert_int_eq(yaml_line_of(NULL, "version"), 0);
    /* Typed as the header says: a date is a string, a bare number an integer. */
    ck_assert(json_is_integer(json_object_get(doc, "version")));
    ck_assert(json_is_string(json_object_get(doc, "issued_at")));
    yaml_line_map_free(lines);
    json_decref(doc);
    free(text);
}
END_TEST

START_TEST(scalars_are_typed_strictly)
{
    static const char text[] = "a: 1\n"
                               "b: -3\n"
                               "c: 1.5\n"
                               "d: 1.0e+3\n"
                               "e: 2024-08-07\n"
                               "f: ~\n"
                               "g:\n"
                               "h: true\n"
                               "i: False\n"
                               "j: \"12\"\n"
                               "k: '13'\n"
                               "l: !!str 14\n"
                               "m: !!float 15\n"
                               "n: LP01-THM-01\n"
                               "o: 2025-01-06T08:00:00Z\n"
                               "N: N\n"
                               "p: 1.2.3\n"
                               "q: null\n";
    json_t *doc = NULL;
    smart_error err = {0};
    ck_assert_msg(contract_yaml_to_json("t.yaml", text, strlen(text), &doc, NULL, &err) == 0, "%s",
                  err.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "a")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "b")), -3);
    ck_assert(json_is_real(json_object_get(doc, "c")) &&
              json_real_value(json_object_get(doc, "c")) == 1.5);
    ck_assert(json_real_value(json_object_get(doc, "d")) == 1000.0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "e")), "2024-08-07");
    ck_assert(json_is_null(json_object_get(doc, "f")) && json_is_null(json_object_get(doc, "g")));
    ck_assert(json_is_true(json_object_get(doc, "h")) && json_is_false(json_object_get(doc, "i")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "j")), "12");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "k")), "13");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "l")), "14");
    ck_assert(json_is_real(json_object_get(doc, "m")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "n")), "LP01-THM-01");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "o")), "2025-01-06T08:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "p")), "1.2.3");
    ck_assert(json_is_null(json_object_get(doc, "q")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "N")), "N"); /* newtons, not "no" */
    json_decref(doc);
}
END_TEST

/* A small contract in the seed's form; each bad case edits one line of it. */
static const char *const base_lines[] = {"smart_contract_id: LP-BAD-001",                 /* 1 */
                                         "contract_type: SmartMaintenance",               /* 2 */
                                         "version: 1",                                    /* 3 */
                                         "station_type: LP",                              /* 4 */
                                         "equipment_list:",                               /* 5 */
                                         "  - equipment_id: LP09-THM-01",                 /* 6 */
                                         "    description: Digital thermometer",          /* 7 */
                                         "    equipment_type: thermometer",               /* 8 */
                                         "    calibration_interval_days: 180",            /* 9 */
                                         "    last_calibration_date: 2024-08-07",         /* 10 */
                                         "    calibration_certificate: NCL-2024-08-0211", /* 11 */
                                         "  - equipment_id: LP09-UVA-01",                 /* 12 */
                                         "    description: UV-A lamp",                    /* 13 */
                                         "    equipment_type: uv_a_lamp",                 /* 14 */
                                         "    calibration_interval_days: 90",             /* 15 */
                                         NULL};

/* The base contract with line `line` (1-based) replaced by `replacement` (which may hold
 * several lines, or be "" to drop the line); line 0 appends. */
static char *edited(int line, const char *replacement)
{
    size_t cap = 4096;
    char *text = calloc(1, cap);
    ck_assert(text);
    for (int i = 0; base_lines[i]; i++) {
        const char *part = i + 1 == line ? replacement : base_lines[i];
        if (*part) {
            strcat(text, part);
            strcat(text, "\n");
        }
    }
    if (line == 0)
        strcat(text, replacement);
    ck_assert(strlen(text) < cap);
    return text;
}

static void assert_refused(int line, const char *replacement, const char *message)
{
    char *text = edited(line, replacement);
    contract c;
    smart_error err = {0};
    int rc = contract_parse_yaml("LP-BAD.yaml", text, strlen(text), &c, &err);
    if (rc == 0)
        contract_release(&c);
    ck_assert_msg(rc == SMART_ECONTRACT, "accepted:\n%s", text);
    ck_assert_msg(strcmp(err.text, message) == 0, "got  '%s'\nwant '%s'", err.text, message);
    free(text);
}

START_TEST(base_contract_is_good)
{
    char *text = edited(-1, "");
    contract c;
    smart_error err = {0};
    ck_assert_msg(contract_parse_yaml("LP-OK.yaml", text, strlen(text), &c, &err) == 0, "%s",
                  err.text);
    ck_assert_int_eq(c.item_count, 2);
    ck_assert_str_eq(c.items[0].baseline_certificate, "NCL-2024-08-0211");
    ck_assert(!c.items[1].has_baseline);
    contract_release(&c);
    free(text);
}
END_TEST

START_TEST(bad_yaml_contracts_name_file_line_and_field)
{
    /* What the validator refuses, located at the value's line. */
    assert_refused(15, "    calibration_interval_days: 0",
                   "LP-BAD.yaml:15: equipment_list[1].calibration_interval_days: must be between 1 "
                   "and 36500 (got 0)");
    assert_refused(9, "    calibration_interval_days: \"180\"",
                   "LP-BAD.yaml:9: equipment_list[0].calibration_interval_days: must be an integer "
                   "(got string)");
    assert_refused(9, "    calibration_interval_days: 180.5",
                   "LP-BAD.yaml:9: equipment_list[0].calibration_interval_days: must be an integer "
                   "(got number)");
    assert_refused(3, "version: one", "LP-BAD.yaml:3: version: must be an integer (got string)");
    assert_refused(14, "    equipment_type: uv_a_lamp\n    colour: red",
                   "LP-BAD.yaml:15: equipment_list[1].colour: unknown field");
    assert_refused(0, "owner: me\n", "LP-BAD.yaml:16: owner: unknown field");
    assert_refused(10, "    last_calibration_date: 2024-02-30",
                   "LP-BAD.yaml:10: equipment_list[0].last_calibration_date: '2024-02-30' is not a "
                   "valid date: no such calendar day");
    /* A missing field: at the object that lacks it. */
    assert_refused(13, "", "LP-BAD.yaml:12: equipment_list[1].description: missing required field");
    assert_refused(1, "", "LP-BAD.yaml:1: smart_contract_id: missing required field");
    /* The flat baseline. */
    assert_refused(11,
                   "    calibration_certificate: NCL-2024-08-0211\n"
                   "    last_calibration:\n"
                   "      calibration_date: 2024-08-07\n"
                   "      certificate_number: NCL-2024-08-0211\n"
                   "      provider: Lab",
                   "LP-BAD.yaml:10: equipment_list[0].last_calibration_date: give last_calibration "
                   "or last_calibration_date with calibration_certificate, not both");
    /* calibration_certificate is optional, as in the seed (test_hub_forms.c). */
    assert_refused(10, "",
                   "LP-BAD.yaml:6: equipment_list[0].last_calibration_date: missing required field "
                   "(calibration_certificate and calibration_provider go with it)");
    assert_refused(11, "    calibration_certificate: 42",
                   "LP-BAD.yaml:11: equipment_list[0].calibration_certificate: must be a string "
                   "(got integer)");

    /* What YAML reading refuses, at line and column. */
    assert_refused(7, "    description: Digital: thermometer: x",
                   "LP-BAD.yaml:7:25: not valid YAML: mapping values are not allowed in this "
                   "context");
    assert_refused(13, "    description: [UV-A lamp",
                   "LP-BAD.yaml:14:19: not valid YAML: did not find expected ',' or ']' while "
                   "parsing a flow sequence at line 13");
    assert_refused(13, "    description: *lamp",
                   "LP-BAD.yaml:13:18: equipment_list[1].description: aliases (*name) are not "
                   "allowed; write each value out");
    assert_refused(7, "    description: &lamp Digital thermometer",
                   "LP-BAD.yaml:7:18: equipment_list[0].description: anchors (&name) are not "
                   "allowed; write each value out");
    assert_refused(9, "    equipment_type: oven\n    calibration_interval_days: 180",
                   "LP-BAD.yaml:9:5: equipment_list[0].equipment_type: duplicate key (first at "
                   "line 8)");
    assert_refused(0, "---\nsmart_contract_id: LP-BAD-002\n",
                   "LP-BAD.yaml:16:1: a second YAML document; a contract file holds one");
    assert_refused(3, "version: !!binary aGk=",
                   "LP-BAD.yaml:3:10: version: tag 'tag:yaml.org,2002:binary' is not allowed "
                   "(only the standard !!str !!int !!float !!bool !!null !!map !!seq)");
    assert_refused(3, "version: !custom 1",
                   "LP-BAD.yaml:3:10: version: tag '!custom' is not allowed (only the standard "
                   "!!str !!int !!float !!bool !!null !!map !!seq)");
    assert_refused(0, "1: one\n",
                   "LP-BAD.yaml:16:1: (top level): key '1' is not a string; quote it");
    assert_refused(0, "base: &b {a: 1}\n<<: *b\n",
                   "LP-BAD.yaml:16:7: base: anchors (&name) are not allowed; write each value out");
    assert_refused(3, "version: 010",
                   "LP-BAD.yaml:3:10: version: plain '010' reads differently in YAML 1.1 and 1.2 "
                   "(or is no JSON number); quote it if it is text, write true/false or a plain "
                   "decimal number otherwise");
    /* 06:00 is text in YAML 1.1 and 1.2 alike (test_yaml_quirks.c); 14:00 is 840 in 1.1. */
    assert_refused(0, "shift_starts: [06:00, 14:00]\n",
                   "LP-BAD.yaml:16:23: shift_starts[1]: plain '14:00' reads differently in YAML "
                   "1.1 and 1.2 (or is no JSON number); quote it if it is text, write true/false "
                   "or a plain decimal number otherwise");
}
END_TEST

START_TEST(empty_and_odd_files_are_refused)
{
    contract c;
    smart_error err = {0};
    ck_assert_int_eq(contract_parse_yaml("E.yaml", "", 0, &c, &err), SMART_ECONTRACT);
    ck_assert_str_eq(err.text, "E.yaml:1:1: no contract: the file holds no YAML document");
    const char *comment = "# nothing here\n";
    ck_assert_int_eq(contract_parse_yaml("E.yaml", comment, strlen(comment), &c, &err),
                     SMART_ECONTRACT);
    ck_assert_ptr_nonnull(strstr(err.text, "no contract"));
    const char *list = "- a\n- b\n";
    ck_assert_int_eq(contract_parse_yaml("E.yaml", list, strlen(list), &c, &err), SMART_ECONTRACT);
    ck_assert_str_eq(err.text, "E.yaml:1: (top level): must be an object (got array)");
    const char *bad_utf8 = "a: \xff\xfe\n";
    ck_assert_int_eq(contract_parse_yaml("E.yaml", bad_utf8, strlen(bad_utf8), &c, &err),
                     SMART_ECONTRACT);
    ck_assert_ptr_nonnull(strstr(err.text, "E.yaml:1:"));
    const char *nul = "a: \"x\\0y\"\n";
    ck_assert_int_eq(contract_parse_yaml("E.yaml", nul, strlen(nul), &c, &err), SMART_ECONTRACT);
    ck_assert_str_eq(err.text, "E.yaml:1:4: a: contains a NUL character");
    char deep[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    ck_assert_int_eq(contract_parse_yaml("E.yaml", deep, strlen(deep), &c, &err), SMART_ECONTRACT);
    ck_assert_ptr_nonnull(strstr(err.text, "nested too deeply"));
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

START_TEST(yaml_and_json_contracts_load_together)
{
    char dir[] = "/tmp/smart-yaml-contracts-XXXXXX";
    ck_assert(mkdtemp(dir));
    size_t len;
    char *hub = slurp("LP-HUB-001.yaml", &len);
    write_file(dir, "LP-HUB-001.yaml", hub);
    char *small = edited(-1, "");
    write_file(dir, "LP-BAD-001.yml", small);
    write_file(dir, "LP-CAL-001.json",
               "{\"smart_contract_id\":\"LP-CAL-001\",\"contract_type\":\"SmartMaintenance\","
               "\"version\":1,\"station_type\":\"LP\",\"equipment_list\":[{\"equipment_id\":"
               "\"LP01-OVN-01\",\"description\":\"Drying oven\",\"equipment_type\":\"drying_oven\","
               "\"calibration_interval_days\":91}]}");
    write_file(dir, "notes.txt", "not a contract");
    contract_set set;
    contract_refusal why = {0};
    ck_assert_msg(contract_set_load(dir, "LP", &set, &why) == 0, "%s", why.error.text);
    ck_assert_int_eq(set.contract_count, 3);
    ck_assert_int_eq(set.item_count, 6);
    const contract_item *lamp = contract_set_find(&set, "LP02-UVA-01");
    ck_assert_ptr_nonnull(lamp);
    ck_assert_str_eq(lamp->owner->file, "LP-HUB-001.yaml");
    ck_assert_str_eq(lamp->baseline_certificate, "NCL-2024-11-0940");
    ck_assert_ptr_nonnull(contract_set_find(&set, "LP09-THM-01"));
    ck_assert_ptr_nonnull(contract_set_find(&set, "LP01-OVN-01"));
    contract_set_release(&set);

    /* A JSON contract claiming an item the YAML contract holds: the set is refused. */
    write_file(dir, "LP-CAL-002.json",
               "{\"smart_contract_id\":\"LP-CAL-002\",\"contract_type\":\"SmartMaintenance\","
               "\"version\":1,\"station_type\":\"LP\",\"equipment_list\":[{\"equipment_id\":"
               "\"LP02-UVA-01\",\"description\":\"UV-A lamp\",\"equipment_type\":\"uv_a_lamp\","
               "\"calibration_interval_days\":180}]}");
    ck_assert_int_eq(contract_set_load(dir, "LP", &set, &why), SMART_ECONTRACT);
    /* Which of the two files the message leads with is the index's business; both are named. */
    ck_assert_msg(
        strstr(why.error.text, "equipment_id 'LP02-UVA-01' is also claimed by contract") &&
            strstr(why.error.text, "LP-HUB-001.yaml") && strstr(why.error.text, "LP-CAL-002.json"),
        "%s", why.error.text);

    /* A bad YAML contract stops the load with its file and line. */
    char path[600];
    snprintf(path, sizeof path, "%s/LP-CAL-002.json", dir);
    ck_assert_int_eq(remove(path), 0);
    char *bad = edited(15, "    calibration_interval_days: 0");
    write_file(dir, "LP-BAD-001.yml", bad);
    ck_assert_int_eq(contract_set_load(dir, "LP", &set, &why), SMART_ECONTRACT);
    ck_assert_str_eq(why.error.text,
                     "LP-BAD-001.yml:15: equipment_list[1].calibration_interval_days: "
                     "must be between 1 and 36500 (got 0)");
    free(bad);
    free(small);
    free(hub);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("contract-yaml");
    TCase *tc = tcase_create("yaml");
    tcase_add_test(tc, hub_yaml_contract_equals_its_json_twin);
    tcase_add_test(tc, line_map_gives_the_line_of_each_value);
    tcase_add_test(tc, scalars_are_typed_strictly);
    tcase_add_test(tc, base_contract_is_good);
    tcase_add_test(tc, bad_yaml_contracts_name_file_line_and_field);
    tcase_add_test(tc, empty_and_odd_files_are_refused);
    tcase_add_test(tc, yaml_and_json_contracts_load_together);
    suite_add_tcase(s, tc);
    return s;
}
