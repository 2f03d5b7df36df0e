/* Reading quirks found by fuzzing and by writing contracts with PyYAML (issue 12, item 5): the
 * line of an error when several items use the flat calibration form, shift_starts that only
 * look like HH:MM, and a time such as 06:00 written unquoted, as PyYAML's safe_dump does. */
#include "contract/contract.h"
#include "contract/contract_yaml.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Four items in the flat form, one a line each from line 6 on; `bad` replaces item `which`'s
 * interval line. */
static int parse_four(int which, const char *bad, smart_error *err)
{
    char text[4096] = "smart_contract_id: LP-Q\ncontract_type: SmartMaintenance\nversion: 1\n"
                      "station_type: LP\nequipment_list:\n";
    for (int i = 0; i < 4; i++) {
        char item[512];
        snprintf(item, sizeof item,
                 "  - equipment_id: LP-Q-%d\n"                 /* 6 + 6i */
                 "    description: item\n"                     /* 7 + 6i */
                 "    equipment_type: t\n"                     /* 8 + 6i */
                 "    %s\n"                                    /* 9 + 6i */
                 "    last_calibration_date: \"2024-11-15\"\n" /* 10 + 6i */
                 "    calibration_certificate: C-%d\n",        /* 11 + 6i */
                 i, i == which ? bad : "calibration_interval_days: 180", i);
        strcat(text, item);
    }
    contract c;
    int rc = contract_parse_yaml("LP-Q.yaml", text, strlen(text), &c, err);
    if (rc == 0)
        contract_release(&c);
    return rc;
}

START_TEST(an_error_names_its_line_with_several_flat_calibration_items)
{
    smart_error err = {0};
    ck_assert_int_eq(parse_four(-1, "", &err), 0);
    /* The mapped date of the last item: its own line, not another's (nor none). */
    static const char bad_date[] = "smart_contract_id: LP-Q\ncontract_type: SmartMaintenance\n"
                                   "version: 1\nstation_type: LP\nequipment_list:\n"
                                   "  - {equipment_id: A, description: d, equipment_type: t,\n"
                                   "     last_calibration_date: \"2024-11-15\"}\n"
                                   "  - {equipment_id: B, description: d, equipment_type: t,\n"
                                   "     last_calibration_date: \"2024-11-15\"}\n"
                                   "  - {equipment_id: C, description: d, equipment_type: t,\n"
                                   "     last_calibration_date: \"2024-11-15\"}\n"
                                   "  - {equipment_id: D, description: d, equipment_type: t,\n"
                                   "     last_calibration_date: \"2024-02-30\"}\n";
    contract c;
    ck_assert_int_eq(contract_parse_yaml("LP-Q.yaml", bad_date, strlen(bad_date), &c, &err),
                     SMART_ECONTRACT);
    ck_assert_str_eq(err.text, "LP-Q.yaml:13: equipment_list[3].last_calibration_date: "
                               "'2024-02-30' is not a valid date: no such calendar day");
    for (int which = 0; which < 4; which++) {
        char want[160];
        ck_assert_int_eq(parse_four(which, "calibration_interval_days: 0", &err), SMART_ECONTRACT);
        snprintf(want, sizeof want,
                 "LP-Q.yaml:%d: equipment_list[%d].calibration_interval_days: must be between 1 "
                 "and 36500 (got 0)",
                 9 + 6 * which, which);
        ck_assert_str_eq(err.text, want);
    }
}
END_TEST

static int parse_shifts(const char *shifts, smart_error *err)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"smart_contract_id\":\"LP-S\",\"contract_type\":\"SmartMaintenance\",\"version\":1,"
             "\"station_type\":\"LP\",\"shift_starts\":%s,\"equipment_list\":[{\"equipment_id\":"
             "\"X-1\",\"description\":\"d\",\"equipment_type\":\"t\"}]}",
             shifts);
    contract c;
    int rc = contract_parse("LP-S.json", text, strlen(text), &c, err);
    if (rc == 0)
        contract_release(&c);
    return rc;
}

START_TEST(shift_starts_are_exactly_hh_mm)
{
    static const char *const bad[] = {"[\" 9:05\"]", "[\"-0:00\"]",  "[\"9:05\"]",
                                      "[\"+6:00\"]", "[\"06:00 \"]", "[\"24:00\"]"};
    smart_error err = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse_shifts(bad[i], &err) == SMART_ECONTRACT, "%s accepted", bad[i]);
        ck_assert_str_eq(err.text, "LP-S.json: shift_starts[0]: must be a time \"HH:MM\"");
    }
    ck_assert_int_eq(parse_shifts("[\"06:00\", \"14:00\", \"22:30\"]", &err), 0);
}
END_TEST

static int parse_yaml_shifts(const char *line, smart_error *err, contract *c)
{
    char text[512];
    snprintf(text, sizeof text,
             "smart_contract_id: LP-S\ncontract_type: SmartMaintenance\nversion: 1\n"
             "station_type: LP\n%s\nequipment_list:\n"
             "  - {equipment_id: X-1, description: d, equipment_type: t}\n",
             line);
    return contract_parse_yaml("LP-S.yaml", text, strlen(text), c, err);
}

START_TEST(an_unquoted_time_as_pyyaml_writes_it_is_text)
{
    smart_error err = {0};
    contract c;
    /* safe_dump({"shift_starts": ["06:00", "22:00"]}) writes them unquoted. */
    ck_assert_int_eq(parse_yaml_shifts("shift_starts: [06:00, '14:00', '22:00']", &err, &c), 0);
    ck_assert_int_eq(c.shift_starts[0], 6 * 60);
    contract_release(&c);
    ck_assert_int_eq(parse_yaml_shifts("shift_starts:\n- 06:00\n- 07:30", &err, &c), 0);
    ck_assert_int_eq(c.shift_starts[1], 7 * 60 + 30);
    contract_release(&c);
    /* What YAML 1.1 reads as a number (base 60) is still refused: 6:00 is 360, 14:00 is 840. */
    static const char *const numbers[] = {"shift_starts: [6:00]", "shift_starts: [14:00]",
                                          "shift_starts: [1:30:00]"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(parse_yaml_shifts(numbers[i], &err, &c), SMART_ECONTRACT);
        ck_assert_ptr_nonnull(strstr(err.text, "reads differently in YAML 1.1 and 1.2"));
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("yaml quirks");
    TCase *tc = tcase_create("reading");
    tcase_add_test(tc, an_error_names_its_line_with_several_flat_calibration_items);
    tcase_add_test(tc, shift_starts_are_exactly_hh_mm);
    tcase_add_test(tc, an_unquoted_time_as_pyyaml_writes_it_is_text);
    suite_add_tcase(s, tc);
    return s;
}
