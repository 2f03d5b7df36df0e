/* event_parse.c — clock-free parsing of input lines, on any thread; see event_parse.h. */
#include "input/event_parse.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "run/clock.h"
#include "run/crash_guard.h"
#include "util/json_check_fast.h"
#include "yajl_gaps.h"

#define NO_TEXT SIZE_MAX

static bool is_blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

/* Append `s` and its NUL; *off receives where it starts. */
static int add_text(strbuf *arena, const char *s, size_t len, size_t *off)
{
    *off = arena->len;
    int rc = strbuf_reserve(arena, len + 1);
    if (rc < 0)
        return rc;
    memcpy(arena->data + arena->len, s, len);
    arena->data[arena->len + len] = '\0';
    arena->len += len + 1;
    return 0;
}

static int add_str(strbuf *arena, const char *s, size_t *off)
{
    return add_text(arena, s, strlen(s), off);
}

/* ---- the envelope ------------------------------------------------------------------------ */

/* What a scan of one line found of the envelope {"topic", "time"?, "data"?}. The line is
 * scanned with yajl, a streaming parser: the host needs the envelope's fields and where the
 * data object lies in the line, not a tree of it (the modules parse the data themselves), and
 * a scan costs a fraction of building one. */
enum { KEY_TOPIC = 1, KEY_TIME = 2, KEY_DATA = 4 };

typedef struct envelope {
    yajl_handle yajl;
    int depth;           /* 0 outside the root, 1 inside it, deeper inside a value */
    bool root_is_object; /* the line's first token opened an object */
    size_t root_end;     /* past the root's closing byte (yajl_gaps.h) */
    int key;             /* the envelope key whose value comes next (0: another key) */
    unsigned seen;       /* KEY_* met so far */
    char problem[700];   /* why the line is refused though it parses; the first found */
    char invalid[160];   /* why the scan was stopped: the line is not valid JSON */
    /* Found (pointers into the line or yajl's buffer: copied before the next token): */
    bool topic_is_string, time_is_string, data_is_object;
    char topic[256];
    size_t topic_len;
    bool topic_too_long;
    char time_text[64];
    bool time_too_long;
    size_t data_start, data_end; /* the data object's bytes, when data_is_object */
} envelope;

static void note_problem(envelope *e, const char *fmt, const char *key, size_t key_len)
{
    if (e->problem[0] == '\0')
        snprintf(e->problem, sizeof e->problem, fmt, (int)(key_len > 200 ? 200 : key_len), key);
}

/* A value starts at the current depth: at depth 1 it is an envelope field's. */
static void value_starts(envelope *e, bool is_string, bool is_object)
{
    if (e->depth != 1)
        return;
    if (e->key == KEY_TOPIC)
        e->topic_is_string = is_string;
    else if (e->key == KEY_TIME)
        e->time_is_string = is_string;
    else if (e->key == KEY_DATA)
        e->data_is_object = is_object;
}

static int on_scalar(envelope *e)
{
    if (e->depth == 0)
        return 1; /* a scalar root: parsed, then refused as not an object */
    value_starts(e, false, false);
    return 1;
}

static int on_null(void *ctx)
{
    return on_scalar(ctx);
}

static int on_boolean(void *ctx, int value)
{
    (void)value;
    return on_scalar(ctx);
}

static int on_number(void *ctx, const char *text, size_t len)
{
    (void)text;
    (void)len;
    return on_scalar(ctx);
}

static int stop_invalid(envelope *e, const char *why)
{
    snprintf(e->invalid, sizeof e->invalid, "column %zu: %s", yajl_get_bytes_consumed(e->yajl),
             why);
    return 0;
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
    envelope *e = ctx;
    if (e->depth != 1)
        return 1;
    value_starts(e, true, false);
    /* jansson, which the modules use, refuses NUL in strings; so does the envelope. */
    if ((e->key == KEY_TOPIC || e->key == KEY_TIME) && memchr(text, '\0', len) != NULL)
        return stop_invalid(e, "\\u0000 is not allowed in a string");
    if (e->key == KEY_TOPIC) {
        e->topic_too_long = len >= sizeof e->topic;
        e->topic_len = e->topic_too_long ? sizeof e->topic - 1 : len;
        memcpy(e->topic, text, e->topic_len);
        e->topic[e->topic_len] = '\0';
    } else if (e->key == KEY_TIME) {
        e->time_too_long = len >= sizeof e->time_text;
        size_t n = e->time_too_long ? sizeof e->time_text - 1 : len;
        memcpy(e->time_text, text, n);
        e->time_text[n] = '\0';
    }
    return 1;
}

static int on_start(envelope *e, bool is_object)
{
    if (e->depth == 0)
        e->root_is_object = is_object;
    value_starts(e, false, is_object);
    if (e->depth == 1 && e->key == KEY_DATA && is_object)
        e->data_start = yajl_get_bytes_consumed(e->yajl) - 1; /* at its '{' */
    e->depth++;
    return 1;
}

static int on_end(envelope *e)
{
    if (--e->depth == 0)
        e->root_end = yajl_get_bytes_consumed(e->yajl);
    if (e->depth == 1 && e->key == KEY_DATA && e->data_is_object)
        e->data_end = yajl_get_bytes_consumed(e->yajl); /* past its '}' */
    return 1;
}

static int on_start_map(void *ctx)
{
    return on_start(ctx, true);
}

static int on_end_map(void *ctx)
{
    return on_end(ctx);
}

static int on_start_array(void *ctx)
{
    return on_start(ctx, false);
}

static int on_end_array(void *ctx)
{
    return on_end(ctx);
}

static int on_map_key(void *ctx, const unsigned char *text, size_t len)
{
    envelope *e = ctx;
    if (e->depth != 1 || !e->root_is_object)
        return 1;
    const char *key = (const char *)text;
    if (memchr(key, '\0', len) != NULL)
        return stop_invalid(e, "\\u0000 is not allowed in a string");
    e->key = len == 5 && memcmp(key, "topic", 5) == 0  ? KEY_TOPIC
             : len == 4 && memcmp(key, "time", 4) == 0 ? KEY_TIME
             : len == 4 && memcmp(key, "data", 4) == 0 ? KEY_DATA
                                                       : 0;
    if (e->key == 0) {
        note_problem(e, "%.*s: unknown key (an event has topic, time and data)", key, len);
    } else if (e->seen & (unsigned)e->key) {
        char why[80];
        snprintf(why, sizeof why, "duplicate object key '%.*s'", (int)len, key);
        return stop_invalid(e, why);
    }
    e->seen |= (unsigned)e->key;
    return 1;
}

static const yajl_callbacks envelope_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* Scans the line into *e (first with `fast` when not NULL). Returns NULL when it is a well-formed
 * envelope, else the message (in `msg`), "json: ..." for a line that is not a JSON object. -ENOMEM
 * in *rc. */
static const char *scan_envelope(json_fast *fast, const input_line *line, envelope *e, char *msg,
                                 size_t msg_size, int *rc)
{
    memset(e, 0, sizeof *e);
    *rc = 0;
    size_t foreign_byte = yajl_gaps_foreign_byte_at(line->text, line->len);
    if (foreign_byte < line->len) {
        snprintf(msg, msg_size,
                 "json: not valid JSON (column %zu: a vertical tab, form feed or NUL byte)",
                 foreign_byte);
        return msg;
    }
    /* simdjson's parse takes a well-formed envelope at a third of the scan's cost; whatever it
     * does not take is scanned, and the scan's verdict and message stand. */
    json_fast_envelope_found found;
    if (fast != NULL && json_fast_envelope(fast, line->text, line->len, sizeof e->topic - 1,
                                           sizeof e->time_text - 1, &found)) {
        e->root_is_object = true;
        e->seen = KEY_TOPIC | (found.has_time ? KEY_TIME : 0) | (found.has_data ? KEY_DATA : 0);
        e->topic_is_string = true;
        memcpy(e->topic, found.topic, found.topic_len);
        e->topic[found.topic_len] = '\0';
        e->topic_len = found.topic_len;
        e->time_is_string = found.has_time;
        if (found.has_time) {
            memcpy(e->time_text, found.time, found.time_len);
            e->time_text[found.time_len] = '\0';
        }
        e->data_is_object = found.has_data;
        e->data_start = found.data_start;
        e->data_end = found.data_end;
        return NULL;
    }
    if ((e->yajl = yajl_alloc(&envelope_callbacks, NULL, e)) == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    const unsigned char *text = (const unsigned char *)line->text;
    yajl_status st = yajl_parse(e->yajl, text, line->len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(e->yajl);
    const char *why = msg;
    if (st == yajl_status_client_canceled) {
        snprintf(msg, msg_size, "json: not valid JSON (%s)", e->invalid);
    } else if (st != yajl_status_ok) {
        unsigned char *text_why = yajl_get_error(e->yajl, 0, text, line->len);
        char *nl = text_why ? strchr((char *)text_why, '\n') : NULL;
        if (nl)
            *nl = '\0';
        snprintf(msg, msg_size, "json: not valid JSON (column %zu: %s)",
                 yajl_get_bytes_consumed(e->yajl), text_why ? (char *)text_why : "parse error");
        yajl_free_error(e->yajl, text_why);
    } else if (e->root_is_object && !yajl_gaps_rest_is_blank(line->text, line->len, e->root_end)) {
        snprintf(msg, msg_size, "json: not valid JSON (column %zu: trailing garbage)", e->root_end);
    } else if (!e->root_is_object) {
        snprintf(msg, msg_size, "json: an event must be a JSON object");
    } else if (e->problem[0] != '\0') {
        snprintf(msg, msg_size, "%s", e->problem);
    } else if (!(e->seen & KEY_TOPIC)) {
        snprintf(msg, msg_size, "topic: missing required field");
    } else if (!e->topic_is_string) {
        snprintf(msg, msg_size, "topic: must be a string");
    } else if (e->topic_len == 0) {
        snprintf(msg, msg_size, "topic: must not be empty");
    } else if (e->topic_too_long) {
        snprintf(msg, msg_size, "topic: longer than %zu bytes", sizeof e->topic - 1);
    } else if ((e->seen & KEY_TIME) && !e->time_is_string) {
        snprintf(msg, msg_size, "time: must be an RFC 3339 string");
    } else if ((e->seen & KEY_DATA) && !e->data_is_object) {
        snprintf(msg, msg_size, "data: must be an object");
    } else {
        why = NULL;
    }
    yajl_free(e->yajl);
    e->yajl = NULL;
    return why;
}

/* The parse proper; strings go to `arena` as offsets. Returns 0 or -ENOMEM. */
static int parse_line(json_fast *fast, const char *label, const input_line *line, strbuf *arena,
                      parsed_line *out)
{
    memset(out, 0, sizeof *out);
    out->off_source = out->off_topic = out->off_message = NO_TEXT;
    out->off_time_text = out->off_data = NO_TEXT;
    out->kind = PARSED_REJECT;
    /* "<label>:<line>", as snprintf("%s:%" PRIu64) into 300 bytes would write it, without its
     * cost on every line. */
    char source[300];
    char digits[24];
    size_t nd = 0;
    for (uint64_t v = line->line_no; nd == 0 || v > 0; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    size_t label_len = strnlen(label, sizeof source - 1);
    size_t n = label_len;
    memcpy(source, label, label_len);
    if (n < sizeof source - 1)
        source[n++] = ':';
    while (nd > 0 && n < sizeof source - 1)
        source[n++] = digits[--nd];
    int rc = add_text(arena, source, n, &out->off_source);
    if (rc < 0)
        return rc;
    char msg[700];
    if (line->too_long) {
        snprintf(msg, sizeof msg, "line: longer than %d bytes; skipped", EVENT_INPUT_LINE_MAX);
        return add_str(arena, msg, &out->off_message);
    }
    if (is_blank(line->text, line->len)) {
        out->kind = PARSED_BLANK;
        return 0;
    }
    envelope e;
    const char *why = scan_envelope(fast, line, &e, msg, sizeof msg, &rc);
    if (rc < 0)
        return rc;
    /* The topic is named in a rejection too, when it was a string. */
    if (e.topic_is_string && e.topic_len > 0 && strncmp(why ? why : "", "json: ", 6) != 0)
        rc = add_str(arena, e.topic, &out->off_topic);
    bool host_topic = why == NULL && strncmp(e.topic, "host.", 5) == 0;
    /* Host topics are the host's own; only host.reload exists so far. */
    if (host_topic && strcmp(e.topic, "host.reload") != 0) {
        snprintf(msg, sizeof msg, "topic: unknown host topic '%.200s' (the host knows host.reload)",
                 e.topic);
        why = msg;
    }
    if (rc == 0 && why == NULL && (e.seen & KEY_TIME)) {
        char time_why[300];
        if (e.time_too_long) {
            snprintf(msg, sizeof msg, "time: '%.40s...' is not an RFC 3339 timestamp", e.time_text);
            why = msg;
        } else if (rfc3339_parse(e.time_text, &out->time_ms, time_why, sizeof time_why) < 0) {
            snprintf(msg, sizeof msg, "time: %s", time_why);
            why = msg;
        } else {
            out->has_time = true;
            rc = add_str(arena, e.time_text, &out->off_time_text);
        }
    }
    if (rc == 0 && why != NULL) {
        rc = add_str(arena, why, &out->off_message);
    } else if (rc == 0) {
        /* The data object as written in the line (valid JSON, on one line), or {}. */
        rc = e.seen & KEY_DATA ? add_text(arena, line->text + e.data_start,
                                          e.data_end - e.data_start, &out->off_data)
                               : add_text(arena, "{}", 2, &out->off_data);
        out->data_len = e.seen & KEY_DATA ? e.data_end - e.data_start : 2;
        out->kind = PARSED_EVENT;
        out->host_topic = host_topic;
    }
    return rc;
}

static const char *text_at(const strbuf *arena, size_t off)
{
    return off == NO_TEXT ? NULL : arena->data + off;
}

static void resolve(parsed_line *p, const strbuf *arena)
{
    p->source = text_at(arena, p->off_source);
    p->topic = text_at(arena, p->off_topic);
    p->message = text_at(arena, p->off_message);
    p->time_text = text_at(arena, p->off_time_text);
    p->data = text_at(arena, p->off_data);
}

int event_parse_one(const char *label, const input_line *line, strbuf *arena, parsed_line *out)
{
    strbuf_truncate(arena, 0);
    if (parse_line(NULL, label, line, arena, out) < 0) {
        memset(out, 0, sizeof *out);
        out->kind = PARSED_NOMEM;
        return -ENOMEM;
    }
    resolve(out, arena);
    return 0;
}

parsed_batch *event_parse_batch_new(const event_decoder *decoders, size_t decoder_count,
                                    host_watchdog *watchdog, struct crash_guard *guard)
{
    parsed_batch *batch = calloc(1, sizeof *batch);
    if (batch != NULL) {
        batch->watchdog = watchdog;
        batch->guard = guard;
    }
    if (batch != NULL && decoder_count > 0 &&
        (batch->decoders = malloc(decoder_count * sizeof *decoders)) != NULL) {
        memcpy(batch->decoders, decoders, decoder_count * sizeof *decoders);
        batch->decoder_count = decoder_count;
    } else if (batch != NULL && decoder_count > 0) {
        free(batch);
        batch = NULL;
    }
    if (batch == NULL)
        for (size_t i = 0; i < decoder_count; i++)
            dlclose(decoders[i].pin);
    return batch;
}

/* Each decoder's decoding of one event; a decoder that fails leaves NULL (the module then
 * decodes it itself, and reports what is wrong with it). */
static void decode(parsed_batch *batch, parsed_line *p, uint64_t line_no, void **decoded)
{
    p->batch = batch;
    p->decoded = decoded;
    /* A quarantined event is refused at delivery; it is not decoded first, as its decoding may
     * be what crashed the host (crash_guard.h). */
    char why[8];
    if (crash_guard_quarantined(batch->guard, p->topic, p->data, p->data_len, why, sizeof why))
        return;
    smart_event event = {
        .struct_size = sizeof event,
        .topic = p->topic,
        .data_json = p->data,
        .data_len = p->data_len,
        .source = p->source,
    };
    for (size_t j = 0; j < batch->decoder_count; j++) {
        const smart_plugin *plugin = batch->decoders[j].plugin;
        /* The descriptor's name is the module's (module_loader.h), valid while pinned. */
        crash_guard_enter_decode(batch->guard, plugin->name, p->source, line_no, p->topic, p->data,
                                 p->data_len);
        watchdog_enter_worker(batch->watchdog, plugin->name, "decode_event", p->topic, p->source);
        int rc = plugin->decode_event(&event, &decoded[j], NULL);
        watchdog_leave_worker(batch->watchdog);
        crash_guard_leave_decode(batch->guard);
        if (rc < 0)
            decoded[j] = NULL;
    }
}

void event_parse_batch_fill(parsed_batch *batch, const char *label, input_line *lines, size_t count)
{
    batch->lines = calloc(count ? count : 1, sizeof *batch->lines);
    if (batch->decoder_count > 0 && batch->lines != NULL)
        batch->decoded = calloc(count * batch->decoder_count, sizeof *batch->decoded);
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += lines[i].len;
    /* Room for every line's text once (the dumped data is about as long as the line) plus its
     * source, so the arena rarely grows. */
    if (batch->lines == NULL || (batch->decoder_count > 0 && batch->decoded == NULL) ||
        strbuf_reserve(&batch->text, bytes + count * 64) < 0) {
        free(batch->lines);
        batch->lines = NULL;
        return;
    }
    batch->count = count;
    json_fast *fast = json_fast_new(); /* NULL: the scan alone */
    for (size_t i = 0; i < count; i++) {
        parsed_line *p = &batch->lines[i];
        size_t mark = batch->text.len;
        if (parse_line(fast, label, &lines[i], &batch->text, p) < 0) {
            strbuf_truncate(&batch->text, mark);
            memset(p, 0, sizeof *p);
            p->kind = PARSED_NOMEM;
            p->off_source = p->off_topic = p->off_message = NO_TEXT;
            p->off_time_text = p->off_data = NO_TEXT;
        }
    }
    json_fast_free(fast);
    for (size_t i = 0; i < count; i++) {
        parsed_line *p = &batch->lines[i];
        resolve(p, &batch->text);
        if (p->kind == PARSED_EVENT && !p->host_topic && batch->decoder_count > 0)
            decode(batch, p, lines[i].line_no, &batch->decoded[i * batch->decoder_count]);
        lines[i].prepared = p;
    }
}

void *event_parse_decoded(const parsed_line *line, size_t module_index, const smart_plugin *plugin)
{
    const parsed_batch *batch = line->batch;
    for (size_t j = 0; batch != NULL && j < batch->decoder_count; j++)
        if (batch->decoders[j].module_index == module_index && batch->decoders[j].plugin == plugin)
            return line->decoded[j];
    return NULL;
}

void event_parse_free(parsed_batch *batch)
{
    if (batch == NULL)
        return;
    for (size_t j = 0; j < batch->decoder_count; j++) {
        const smart_plugin *plugin = batch->decoders[j].plugin;
        for (size_t i = 0; batch->decoded != NULL && i < batch->count; i++) {
            void *d = batch->decoded[i * batch->decoder_count + j];
            if (d != NULL)
                plugin->release_decoded(d);
        }
        dlclose(batch->decoders[j].pin); /* the image may go once nothing it made is left */
    }
    free(batch->decoders);
    free(batch->decoded);
    strbuf_free(&batch->text);
    free(batch->lines);
    free(batch);
}
