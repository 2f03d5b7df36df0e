/* Event data through the module's ABI: each bad input is refused naming its field and changes
 * nothing; free text goes out escaped in every output, record and alert. */
#include "check_main.h"
#include "fake_host.h"
#include "lp_station.h"

#include <stdlib.h>
#include <string.h>

static fake_host h;

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
    start_lp(&h, "2025-02-13T07:00:00Z");
    send_ok(&h, "status.query", "{}");
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
    send_ok(&h, "status.query", "{}");
    char *after = json_dumps(fake_host_last_output(&h, "status"), JSON_SORT_KEYS);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    smart_error err = {0};
    ck_assert_int_eq(fake_host_send(&h, "no.such.topic", "{}", &err), SMART_ENOTSUP);
    fake_host_destroy(&h);
}
END_TEST

/* Free text holding U+2028 (a line separator) reaches every output, record and alert escaped,
 * whichever of the module's writers built it (fake_host.c checks each text handed over). */
START_TEST(a_line_separator_in_free_text_goes_out_escaped)
{
    start_lp(&h, "2025-02-13T07:00:00Z");
    send_ok(&h, "equipment.out_of_service",
            "{\"equipment_id\":\"LP01-UVA-01\",\"reason\":"
            "\"Lens cracked\u2028see log\",\"technician\":\"T\"}");
    json_t *record = json_array_get(h.ledger, json_array_size(h.ledger) - 2);
    ck_assert_str_eq(str(json_object_get(record, "metadata"), "reason"),
                     "Lens cracked\xE2\x80\xA8see log");
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("event data");
    TCase *tc = tcase_create("in and out");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bad_input_is_refused_and_changes_nothing);
    tcase_add_test(tc, a_line_separator_in_free_text_goes_out_escaped);
    suite_add_tcase(s, tc);
    return s;
}
