/* lp_station.h — the LP station the module's ABI tests run (lp_station.c): its contract (a UV-A
 * lamp current, a thermometer expired, a meter never calibrated), and the few steps every such
 * test takes on a fake_host. Test code: a failure aborts the running Check test. */
#ifndef SMART_LP_STATION_H
#define SMART_LP_STATION_H

#include "fake_host.h"

#include <jansson.h>

/* LP-CAL-001 version 1: LP01-UVA-01 calibrated 2024-11-15 (180 days), LP01-THM-01 calibrated
 * 2024-08-07 (180 days, temperature 38 ± 0.5 degC), LP01-RAD-01 never calibrated (182 days). */
extern const char lp_contract[];

/* The LP contract with another version (1 to 9) and thermometer interval (1 to 999 days);
 * malloc'd, the caller frees it. */
char *lp_contract_with(int version, int thermometer_interval);

/* Starts the module on the contracts written so far; the init must succeed. */
void start_ok(fake_host *h);

/* Initialises `h` at `now` (RFC 3339), writes the LP contract and starts the module. */
void start_lp(fake_host *h, const char *now);

/* Delivers one event that must be accepted; returns the last output (borrowed from h, NULL
 * when there is none). */
json_t *send_ok(fake_host *h, const char *topic, const char *data);

/* The string member `key` of `obj`, or NULL (borrowed). */
const char *str(json_t *obj, const char *key);

/* The metadata of the last ledger record with `action` (borrowed), and its seq when `seq` is
 * not NULL (the fake host numbers records from 1); aborts the test when there is none. */
json_t *last_record_meta(fake_host *h, const char *action, size_t *seq);

#endif
