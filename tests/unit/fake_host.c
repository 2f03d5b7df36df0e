/* fake_host.c — an in-process smart_host for unit tests: simulated clock, records, alerts and
 * outputs kept in memory; see fake_host.h. */
#include "fake_host.h"

#include "core/dates.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const smart_plugin *smart_plugin_entry(void);

static fake_host *of(const smart_host *t)
{
    return t->host_data;
}

static int64_t now_ms(const smart_host *t)
{
    return of(t)->now_ms;
}

/* JSON text a module hands over must carry U+2028/U+2029 escaped (smart_plugin.h, "JSON
 * text"): raw, they end a line for JavaScript and some line readers. */
static void assert_no_raw_line_separator(const char *text, size_t len, const char *what)
{
    for (size_t i = 0; text && i + 2 < len; i++)
        ck_assert_msg(!((unsigned char)text[i] == 0xE2 && (unsigned char)text[i + 1] == 0x80 &&
                        ((unsigned char)text[i + 2] == 0xA8 || (unsigned char)text[i + 2] == 0xA9)),
                      "%s holds a raw U+2028/U+2029: %s", what, text);
}

static int ledger_append(const smart_host *t, const smart_ledger_entry *e, smart_error *err)
{
    (void)err;
    if (e->metadata_json)
        assert_no_raw_line_separator(e->metadata_json, strlen(e->metadata_json), e->action);
    json_t *meta = json_loads(e->metadata_json ? e->metadata_json : "{}", 0, NULL);
    ck_assert_msg(json_is_object(meta), "metadata is not a JSON object: %s", e->metadata_json);
    json_array_append_new(of(t)->ledger, json_pack("{s:s, s:s, s:s, s:s, s:o}", "action", e->action,
                                                   "target", e->target, "details", e->details,
                                                   "user_id", e->user_id, "metadata", meta));
    return 0;
}

/* Records are numbered from 1 in the order appended, as a ledger's seq. */
static uint64_t ledger_seq(const smart_host *t)
{
    return json_array_size(of(t)->ledger);
}

/* 1.2: a record's "hash" here is FNV-1a of its JSON text and its seq, as 64 hex digits: not a
 * chain, but a record changed by a test has another one. */
static void record_hash(json_t *record, uint64_t seq, char hash[SMART_LEDGER_HASH_LEN + 1])
{
    char *text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert(text != NULL);
    uint64_t h = 14695981039346656037ULL ^ seq;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    free(text);
    for (int i = 0; i < 4; i++)
        snprintf(hash + 16 * i, 17, "%016llx", (unsigned long long)(h ^ (uint64_t)i));
}

static uint64_t ledger_head(const smart_host *t, char hash[SMART_LEDGER_HASH_LEN + 1])
{
    uint64_t seq = json_array_size(of(t)->ledger);
    if (seq == 0) {
        memset(hash, '0', SMART_LEDGER_HASH_LEN);
        hash[SMART_LEDGER_HASH_LEN] = '\0';
    } else {
        record_hash(json_array_get(of(t)->ledger, seq - 1), seq, hash);
    }
    return seq;
}

static int ledger_hash_at(const smart_host *t, uint64_t seq, char hash[SMART_LEDGER_HASH_LEN + 1],
                          uint64_t *last_seq, smart_error *err)
{
    uint64_t last = json_array_size(of(t)->ledger);
    if (last_seq)
        *last_seq = last;
    if (seq == 0 || seq > last) {
        int code = seq == 0 ? SMART_EINVAL : SMART_ELEDGER;
        if (err) {
            err->code = code;
            snprintf(err->text, sizeof err->text,
                     "fake ledger ends at record seq %llu, before seq %llu",
                     (unsigned long long)last, (unsigned long long)seq);
        }
        return code;
    }
    record_hash(json_array_get(of(t)->ledger, seq - 1), seq, hash);
    return 0;
}

static int emit_alert(const smart_host *t, const char *json, size_t len, smart_error *err)
{
    (void)err;
    assert_no_raw_line_separator(json, len, "an alert");
    json_t *alert = json_loadb(json, len, 0, NULL);
    ck_assert_msg(json_is_object(alert), "alert is not a JSON object");
    json_array_append_new(of(t)->alerts, alert);
    return 0;
}

static int emit_event(const smart_host *t, const char *topic, const char *json, size_t len,
                      smart_error *err)
{
    (void)err;
    assert_no_raw_line_separator(json, len, topic);
    json_t *data = json_loadb(json, len, 0, NULL);
    ck_assert_msg(json_is_object(data), "output %s is not a JSON object", topic);
    json_array_append_new(of(t)->outputs, json_pack("{s:s, s:o}", "topic", topic, "data", data));
    return 0;
}

static int post_event(const smart_host *t, const char *topic, const char *json, size_t len,
                      smart_error *err)
{
    (void)err;
    json_array_append_new(of(t)->posted, json_pack("{s:s, s:o}", "topic", topic, "data",
                                                   json_loadb(json, len, 0, NULL)));
    return 0;
}

static void log_line(const smart_host *t, smart_log_level level, const char *message)
{
    (void)t;
    (void)level;
    (void)message;
}

void fake_host_set_time(fake_host *h, const char *now)
{
    date_value v;
    ck_assert(date_parse(now, &v, NULL, 0) == 0);
    h->now_ms = v.instant_ms;
}

void fake_host_init(fake_host *h, const char *now)
{
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "/tmp/smart-unit-XXXXXX");
    ck_assert(mkdtemp(h->dir) != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/contracts", h->dir);
    ck_assert(mkdir(path, 0755) == 0);
    ck_assert(uv_loop_init(&h->loop) == 0);
    fake_host_set_time(h, now);
    h->ledger = json_array();
    h->alerts = json_array();
    h->outputs = json_array();
    h->posted = json_array();
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
        .ledger_head = ledger_head,
        .ledger_hash_at = ledger_hash_at,
    };
    h->plugin = smart_plugin_entry();
}

void fake_host_write_contract(fake_host *h, const char *file, const char *json)
{
    char path[512];
    snprintf(path, sizeof path, "%s/contracts/%s", h->dir, file);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(json, f);
    ck_assert(fclose(f) == 0);
}

int fake_host_start(fake_host *h, smart_error *err)
{
    static const char config[] = "{\"contracts_dir\":\"contracts\",\"data_dir\":\"data\"}";
    return h->plugin->init(&h->table, config, strlen(config), &h->instance, err);
}

int fake_host_send(fake_host *h, const char *topic, const char *data_json, smart_error *err)
{
    smart_event ev = {.struct_size = sizeof ev,
                      .topic = topic,
                      .data_json = data_json,
                      .data_len = strlen(data_json),
                      .time_ms = h->now_ms,
                      .source = "test"};
    int rc = h->plugin->on_event(h->instance, &ev, err);
    smart_error commit_err;
    ck_assert_msg(h->plugin->commit(h->instance, &commit_err) == 0, "commit: %s", commit_err.text);
    return rc;
}

static void stopped(void *arg)
{
    *(bool *)arg = true;
}

void fake_host_stop(fake_host *h)
{
    if (!h->instance)
        return;
    bool done = false;
    h->plugin->shutdown(h->instance, stopped, &done);
    while (!done)
        uv_run(&h->loop, UV_RUN_ONCE);
    h->instance = NULL;
}

void fake_host_destroy(fake_host *h)
{
    fake_host_stop(h);
    ck_assert(uv_loop_close(&h->loop) == 0);
    json_decref(h->ledger);
    json_decref(h->alerts);
    json_decref(h->outputs);
    json_decref(h->posted);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
    ck_assert(system(cmd) == 0);
}

json_t *fake_host_last_output(fake_host *h, const char *topic)
{
    for (size_t i = json_array_size(h->outputs); i-- > 0;) {
        json_t *o = json_array_get(h->outputs, i);
        if (strcmp(json_string_value(json_object_get(o, "topic")), topic) == 0)
            return json_object_get(o, "data");
    }
    return NULL;
}

size_t fake_host_count_ledger(fake_host *h, const char *action)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach (h->ledger, i, r)
        n += strcmp(json_string_value(json_object_get(r, "action")), action) == 0;
    return n;
}

size_t fake_host_count_alerts(fake_host *h, const char *alert_type)
{
    size_t n = 0, i;
    json_t *a;
    json_array_foreach (h->alerts, i, a)
        n += strcmp(json_string_value(json_object_get(a, "alert_type")), alert_type) == 0;
    return n;
}

json_t *fake_host_item(json_t *data, const char *equipment_id)
{
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get(data, "equipment"), i, item)
        if (strcmp(json_string_value(json_object_get(item, "equipment_id")), equipment_id) == 0)
            return item;
    return NULL;
}
