/*
 * bad_json_module.c — a module that hands the host JSON it must refuse (issue 11, defects 1, 7
 * and 10): written only against plugin-api/smart_plugin.h.
 *
 * "bad.meta", "bad.alert" and "bad.output" with data {"case": N} pass case N of the table below
 * as ledger metadata, an alert or an output's data, then report what the host returned as the
 * output "bad.result" {"call": C, "case": N, "rc": RC} (well formed). "bad.cases" answers
 * {"count": N} (cases 0 and 1 are good).
 *
 * "bad.field" with data {"field": F, "over": B} hands a string of SMART_JSON_MAX bytes, one more
 * when B is true, as F: "action", "target", "details" or "user_id" of a ledger entry, or the
 * topic of an output ("emit_topic") or of a posted event ("post_topic"); it answers
 * "bad.result" {"call": F, "case": B, "rc": RC}.
 */
#include <stdio.h>
#include <string.h>

#include "smart_plugin.h"

static const smart_host *the_host;

typedef struct bad_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
} bad_case;

static char huge[SMART_JSON_MAX + 64];     /* {"s":"xxx...x"}: over the limit */
static char deep[8000];                    /* {"a":[[[...]]]}: nested deeper than 2048 */
static char long_text[SMART_JSON_MAX + 2]; /* SMART_JSON_MAX + 1 'x's */

/* Cases 0 and 1 are good (the host must take them: one pure ASCII, one not); every other is
 * bad. */
static const bad_case cases[] = {
    {"{\"ok\":true,\"a\":{\"x\":1},\"b\":{\"x\":[{\"x\":1},{\"x\":2}]},\"n\":-9223372036854775808}",
     0},
    {"{\"caf\xc3\xa9\":\"\xe2\x82\xac \\ud83d\\ude00\"}", 0},
    {"{garbage}", 0},
    {"{\"a\":1}{\"b\":2}", 0},
    {"{\"a\":1,\"a\":2}", 0},
    {"{\"s\":\"\xff\xfe\"}", 0},
    {"{\"s\":\"a\tb\"}", 0},
    {"{\"s\":\"\xc3\"}", 0},
    {"{\"a\":1}\0", 8},
    {"{\"s\":\"a\0b\"}", 11},
    {"[1,2]", 0},
    {"{\"a\":1,}", 0},
    {huge, 0},
    {"{\"a\":{\"b\":1,\"b\":2}}", 0},
    {"{\"n\":99999999999999999999}", 0},
    {"{\"n\":1e400}", 0},
    {"{\"s\":\"a\\u0000b\"}", 0},
    {"{\"a\\u0000\":1}", 0},
    {deep, 0},
    {"", 0},
    {"{\"a\":1} x", 0},
    {"{\"s\":\"\xc0\x80\"}", 0},
    {"{\"s\":\"\xed\xa0\x80\"}", 0},
    {"{\"s\":\"\\ud800\"}", 0},
    {"{\"s\":\"\\udc00\"}", 0},
    {"{\"s\":\"\xf4\x90\x80\x80\"}", 0},
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

static int result(const char *call, int n, int rc, smart_error *err)
{
    char text[128];
    int len = snprintf(text, sizeof text, "{\"call\":\"%s\",\"case\":%d,\"rc\":%d}", call, n, rc);
    return the_host->emit_event(the_host, "bad.result", text, (size_t)len, err);
}

static int bad_init(const smart_host *host, const char *config_json, size_t config_len, void **self,
                    smart_error *err)
{
    (void)config_json;
    (void)config_len;
    (void)err;
    memset(huge, 'x', sizeof huge - 1);
    memcpy(huge, "{\"s\":\"", 6);
    memcpy(huge + sizeof huge - 3, "\"}", 3);
    size_t n = 3000, at = 0;
    memcpy(deep, "{\"a\":", 5);
    at = 5;
    for (size_t i = 0; i < n; i++)
        deep[at++] = '[';
    for (size_t i = 0; i < n; i++)
        deep[at++] = ']';
    deep[at++] = '}';
    deep[at] = '\0';
    memset(long_text, 'x', SMART_JSON_MAX + 1);
    long_text[SMART_JSON_MAX + 1] = '\0';
    the_host = host;
    *self = &the_host;
    return 0;
}

/* The N of {"case": N}; -1 when there is none. */
static int case_of(const smart_event *event)
{
    int n = -1;
    const char *p = strstr(event->data_json, "\"case\":");
    if (p == NULL || sscanf(p + 7, "%d", &n) != 1 || n < 0 || (size_t)n >= CASE_COUNT)
        return -1;
    return n;
}

static int long_field(const smart_event *event, smart_error *err)
{
    static const char *const fields[] = {"action",  "target",     "details",
                                         "user_id", "emit_topic", "post_topic"};
    int over = strstr(event->data_json, "\"over\":true") != NULL;
    const char *text = over ? long_text : long_text + 1;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char key[40];
        snprintf(key, sizeof key, "\"field\":\"%s\"", fields[i]);
        if (strstr(event->data_json, key) == NULL)
            continue;
        smart_ledger_entry entry = {
            .struct_size = sizeof entry,
            .action = i == 0 ? text : "bad.field",
            .target = i == 1 ? text : "field",
            .details = i == 2 ? text : "a long field",
            .user_id = i == 3 ? text : "system",
        };
        smart_error call_err = {0, ""};
        int rc = i < 4    ? the_host->ledger_append(the_host, &entry, &call_err)
                 : i == 4 ? the_host->emit_event(the_host, text, "{}", 2, &call_err)
                          : the_host->post_event(the_host, text, "{}", 2, &call_err);
        if (rc != 0 && call_err.text[0] != '\0')
            the_host->log(the_host, SMART_LOG_WARN, call_err.text);
        return result(fields[i], over, rc, err);
    }
    return SMART_ENOTSUP;
}

static int bad_on_event(void *self, const smart_event *event, smart_error *err)
{
    (void)self;
    const char *topic = event->topic;
    if (strcmp(topic, "bad.cases") == 0) {
        char text[32];
        int len = snprintf(text, sizeof text, "{\"count\":%zu}", CASE_COUNT);
        return the_host->emit_event(the_host, "bad.count", text, (size_t)len, err);
    }
    if (strcmp(topic, "bad.field") == 0)
        return long_field(event, err);
    int n = case_of(event);
    if (n < 0)
        return SMART_ENOTSUP;
    const bad_case *c = &cases[n];
    size_t len = c->len ? c->len : strlen(c->text);
    smart_error call_err = {0, ""};
    int rc;
    if (strcmp(topic, "bad.meta") == 0) {
        smart_ledger_entry entry = {
            .struct_size = sizeof entry,
            .action = "bad.meta",
            .target = "case",
            .details = "metadata case",
            .user_id = "system",
            .metadata_json = c->text,
        };
        rc = the_host->ledger_append(the_host, &entry, &call_err);
    } else if (strcmp(topic, "bad.alert") == 0) {
        rc = the_host->emit_alert(the_host, c->text, len, &call_err);
    } else if (strcmp(topic, "bad.output") == 0) {
        rc = the_host->emit_event(the_host, "bad.output", c->text, len, &call_err);
    } else {
        return SMART_ENOTSUP;
    }
    if (rc != 0 && call_err.text[0] != '\0')
        the_host->log(the_host, SMART_LOG_WARN, call_err.text);
    return result(topic + 4, n, rc, err);
}

static int bad_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void bad_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    (void)self;
    done(arg);
}

static const smart_plugin bad_json_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-bad-json",
    .version = "1.0.0",
    .init = bad_init,
    .on_event = bad_on_event,
    .commit = bad_commit,
    .shutdown = bad_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &bad_json_plugin;
}
