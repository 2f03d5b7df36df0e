/* lp_station.c — the LP station of the module's ABI tests (lp_station.h). */
#include "lp_station.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char lp_contract[] =
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

void start_ok(fake_host *h)
{
    smart_error err = {0};
    ck_assert_msg(fake_host_start(h, &err) == 0, "init: %s", err.text);
}

void start_lp(fake_host *h, const char *now)
{
    fake_host_init(h, now);
    fake_host_write_contract(h, "LP-CAL-001.json", lp_contract);
    start_ok(h);
}

json_t *send_ok(fake_host *h, const char *topic, const char *data)
{
    smart_error err = {0};
    ck_assert_msg(fake_host_send(h, topic, data, &err) == 0, "%s: %s", topic, err.text);
    return json_array_get(h->outputs, json_array_size(h->outputs) - 1);
}

const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

char *lp_contract_with(int version, int thermometer_interval)
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

json_t *last_record_meta(fake_host *h, const char *action, size_t *seq)
{
    for (size_t i = json_array_size(h->ledger); i-- > 0;) {
        json_t *r = json_array_get(h->ledger, i);
        if (strcmp(str(r, "action"), action) == 0) {
            if (seq)
                *seq = i + 1;
            return json_object_get(r, "metadata");
        }
    }
    ck_abort_msg("no %s record", action);
    return NULL;
}
