/* fuzz_event_data.c — the module's decoding of each topic's event data: decode_event, then
 * on_event with the handler's reading of every field (plugin/module.c, json_fields.c and the
 * handlers), driven through the module's ABI by a small in-process host.
 *
 * Input: byte 0 picks the topic (low 4 bits, over the module's topics and one it does not
 * handle) and whether the event arrives decoded ahead (bit 4 clear) or undecoded, as a posted
 * event does; byte 1 moves the clock forward (0-239 minutes, or 1-16 days: an instance lives
 * about a year and a half of station time, a few calibration intervals); the rest is the event's
 * data as the host hands it over (NUL-terminated; a NUL inside ends the input).
 *
 * Why one long-lived instance: starting the module opens a SQLite store and loads the example
 * LP contract, far slower than an event, so one instance takes many inputs and the handlers see
 * items with a history (links, calibrations, checks, tag-outs) rather than a fresh station
 * each time. Its state only grows (recorded calibrations, checks, jobs), so every
 * RECREATE_EVERY inputs the instance is shut down and a fresh one started on an emptied
 * directory: memory and time per input stay bounded. A failure may thus depend on the inputs
 * before it; libFuzzer replays a crash file alone, so reproduce one by running the fuzzer over
 * the inputs in order (`fuzz-event-data dir/` runs a directory's files in one process).
 *
 * What counts as a bug besides a crash or a leak: a fail-stop code (SMART_EIO, SMART_ENOMEM)
 * from an event or a failed commit (bad input must be refused, never stop the station), a
 * refusal without a message (a topic not handled, SMART_ENOTSUP, needs none), and anything the
 * module hands the host against the ABI's rules (smart_plugin.h): outputs, alerts and metadata
 * that are not one JSON object on one line, strings that are not UTF-8. */
#include "smart_plugin.h"

#include <ftw.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define RECREATE_EVERY 1000
#define START_MS       1739430000000LL /* 2025-02-13T07:00:00Z, the example scenario's start */

const smart_plugin *smart_plugin_entry(void);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

static const char *const topics[] = {
    "clientpo.link",
    "test.start",
    "calibration.record",
    "calibration.sweep",
    "status.query",
    "maintenance.check",
    "equipment.out_of_service",
    "equipment.return_to_service",
    "calibration.schedule",
    "contract.deployed",
    "fuzz.not_a_topic",
};
#define TOPIC_COUNT (sizeof topics / sizeof topics[0])

/* The host: libFuzzer's entry points take no context, so the instance lives here. */
typedef struct fuzz_host {
    smart_host table;
    uv_loop_t loop;
    int64_t now_ms;
    uint64_t ledger_records;
    char dir[128]; /* contracts/ (the example) and data/ (the store) below it */
    const smart_plugin *plugin;
    void *instance;
    unsigned inputs; /* since the instance was started */
} fuzz_host;

static fuzz_host host;

static bool is_utf8(const char *s)
{
    json_t *v = s ? json_string(s) : NULL; /* jansson refuses text that is not UTF-8 */
    json_decref(v);
    return v != NULL;
}

/* What the module hands over must be one JSON object on one line (smart_plugin.h). */
static void check_object_line(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(v) || memchr(text, '\n', len) != NULL)
        abort();
    json_decref(v);
}

static int64_t now_ms(const smart_host *t)
{
    return ((fuzz_host *)t->host_data)->now_ms;
}

static int ledger_append(const smart_host *t, const smart_ledger_entry *e, smart_error *err)
{
    (void)err;
    if (!is_utf8(e->action) || !is_utf8(e->target) || !is_utf8(e->details) || !is_utf8(e->user_id))
        abort();
    if (e->metadata_json)
        check_object_line(e->metadata_json, strlen(e->metadata_json));
    ((fuzz_host *)t->host_data)->ledger_records++;
    return 0;
}

static uint64_t ledger_seq(const smart_host *t)
{
    return ((fuzz_host *)t->host_data)->ledger_records;
}

static int emit_alert(const smart_host *t, const char *json, size_t len, smart_error *err)
{
    (void)t;
    (void)err;
    check_object_line(json, len);
    return 0;
}

static int emit_event(const smart_host *t, const char *topic, const char *json, size_t len,
                      smart_error *err)
{
    (void)t;
    (void)err;
    if (!is_utf8(topic))
        abort();
    check_object_line(json, len);
    return 0;
}

/* Only the module's timers post, and the loop runs only to shut the instance down. */
static int post_event(const smart_host *t, const char *topic, const char *json, size_t len,
                      smart_error *err)
{
    return emit_event(t, topic, json, len, err);
}

static void log_line(const smart_host *t, smart_log_level level, const char *message)
{
    (void)t;
    (void)level;
    if (!is_utf8(message))
        abort();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void stopped(void *arg)
{
    *(bool *)arg = true;
}

static void stop(fuzz_host *h)
{
    bool done = false;
    h->plugin->shutdown(h->instance, stopped, &done);
    while (!done)
        uv_run(&h->loop, UV_RUN_ONCE);
    h->instance = NULL;
    char data[160];
    snprintf(data, sizeof data, "%s/data", h->dir);
    nftw(data, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void start(fuzz_host *h)
{
    static const char config[] = "{\"contracts_dir\":\"contracts\",\"data_dir\":\"data\"}";
    h->now_ms = START_MS;
    h->ledger_records = 0;
    h->inputs = 0;
    smart_error err = {0};
    if (h->plugin->init(&h->table, config, strlen(config), &h->instance, &err) != 0) {
        fprintf(stderr, "fuzz-event-data: the module does not start: %s\n", err.text);
        abort();
    }
}

static void remove_dir(void)
{
    nftw(host.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_host *h = &host;
    /* tmpfs when there is one: the store commits after every event. */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(h->dir, sizeof h->dir, "%s/smart-fuzz-XXXXXX", base);
    char path[256], cmd[600];
    if (mkdtemp(h->dir) == NULL)
        abort();
    snprintf(path, sizeof path, "%s/contracts", h->dir);
    snprintf(cmd, sizeof cmd, "cp '%s'/*.json '%s'", EXAMPLE_CONTRACTS, path);
    if (mkdir(path, 0755) != 0 || system(cmd) != 0 || uv_loop_init(&h->loop) != 0)
        abort();
    atexit(remove_dir);
    h->table = (smart_host){
        .struct_size = sizeof(smart_host),
        .abi_major = SMART_ABI_MAJOR,
        .abi_minor = SMART_ABI_MINOR,
        .host_data = h,
        .loop = &h->loop,
        .node_id = "NODE-LP-001",
        .station_type = "LP",
        .config_dir = h->dir,
        .now_ms = now_ms,
        .ledger_append = ledger_append,
        .emit_alert = emit_alert,
        .emit_event = emit_event,
        .post_event = post_event,
        .log = log_line,
        .ledger_seq = ledger_seq,
    };
    h->plugin = smart_plugin_entry();
    json_object_seed(1); /* a fixed hash seed: a run is repeatable */
    start(h);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    fuzz_host *h = &host;
    if (size < 2 || memchr(bytes + 2, '\0', size - 2) != NULL)
        return 0;
    if (++h->inputs > RECREATE_EVERY) {
        stop(h);
        start(h);
    }
    const char *topic = topics[(bytes[0] & 0x0f) % TOPIC_COUNT];
    bool decode_ahead = (bytes[0] & 0x10) == 0;
    h->now_ms += bytes[1] < 240 ? bytes[1] * 60000LL : (bytes[1] - 239) * 86400000LL;
    size_t len = size - 2;
    char *data = malloc(len + 1);
    if (data == NULL)
        abort();
    memcpy(data, bytes + 2, len);
    data[len] = '\0';

    smart_event ev = {.struct_size = sizeof ev,
                      .topic = topic,
                      .data_json = data,
                      .data_len = len,
                      .source = "fuzz:1"};
    smart_error err = {0};
    /* As the host does: decoded on a worker, before the clock is known. */
    if (decode_ahead && h->plugin->decode_event(&ev, &ev.decoded, NULL) < 0)
        ev.decoded = NULL;
    ev.time_ms = h->now_ms;
    int rc = h->plugin->on_event(h->instance, &ev, &err);
    if (ev.decoded)
        h->plugin->release_decoded(ev.decoded);
    free(data);
    if (rc == SMART_EIO || rc == SMART_ENOMEM ||
        (rc < 0 && rc != SMART_ENOTSUP && err.text[0] == '\0') ||
        (rc == SMART_ENOTSUP) != (strcmp(topic, "fuzz.not_a_topic") == 0)) {
        fprintf(stderr, "fuzz-event-data: %s: %d: %s\n", topic, rc, err.text);
        abort();
    }
    smart_error commit_err = {0};
    if (h->plugin->commit(h->instance, &commit_err) != 0) {
        fprintf(stderr, "fuzz-event-data: commit: %s\n", commit_err.text);
        abort();
    }
    return 0;
}
