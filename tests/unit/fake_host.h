/* fake_host.h — an in-process host for unit tests of the module: a simulated clock, and every
 * ledger record, alert and output event kept in memory for the test to inspect. */
#ifndef SMART_FAKE_HOST_H
#define SMART_FAKE_HOST_H

#include "smart_plugin.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct fake_host {
    smart_host table;
    uv_loop_t loop;
    int64_t now_ms;
    json_t *ledger;  /* array of {"action","target","details","user_id","metadata"} */
    json_t *alerts;  /* array of alert objects */
    json_t *outputs; /* array of {"topic","data"} */
    json_t *posted;  /* array of {"topic","data"} */
    char dir[256];   /* a fresh temporary directory: contracts/ and data/ below it */
    const smart_plugin *plugin;
    void *instance;
} fake_host;

/* Creates the host at `now` (RFC 3339) with a fresh temporary directory. */
void fake_host_init(fake_host *h, const char *now);

/* Writes `json` as contracts/<file> below the host's directory. */
void fake_host_write_contract(fake_host *h, const char *file, const char *json);

/* Initialises the module; returns its code (err filled). */
int fake_host_start(fake_host *h, smart_error *err);

/* Delivers one event at the current clock and commits. Returns on_event's code. */
int fake_host_send(fake_host *h, const char *topic, const char *data_json, smart_error *err);

/* Shuts the module down and runs the loop until it has finished. */
void fake_host_stop(fake_host *h);

/* Removes the directory and frees everything. */
void fake_host_destroy(fake_host *h);

/* Sets the clock (RFC 3339). */
void fake_host_set_time(fake_host *h, const char *now);

/* The last output of `topic`, or NULL (borrowed). */
json_t *fake_host_last_output(fake_host *h, const char *topic);

/* How many ledger records have `action`. */
size_t fake_host_count_ledger(fake_host *h, const char *action);

/* How many alerts have `alert_type`. */
size_t fake_host_count_alerts(fake_host *h, const char *alert_type);

/* The ITEM for equipment_id inside data.equipment, or NULL. */
json_t *fake_host_item(json_t *data, const char *equipment_id);

#endif
