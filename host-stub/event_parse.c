/* event_parse.c — clock-free parsing of input lines, on any thread; see event_parse.h. */
#include "event_parse.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json_text.h"

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

/* Check the envelope {"topic", "time"?, "data"?}. Returns NULL when fine, else the message
 * (written to `msg`). */
static const char *check_envelope(json_t *root, char *msg, size_t msg_size)
{
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value) {
        if (strcmp(key, "topic") != 0 && strcmp(key, "time") != 0 && strcmp(key, "data") != 0) {
            snprintf(msg, msg_size, "%.200s: unknown key (an event has topic, time and data)", key);
            return msg;
        }
    }
    json_t *topic = json_object_get(root, "topic");
    if (topic == NULL)
        snprintf(msg, msg_size, "topic: missing required field");
    else if (!json_is_string(topic))
        snprintf(msg, msg_size, "topic: must be a string");
    else if (json_string_length(topic) == 0)
        snprintf(msg, msg_size, "topic: must not be empty");
    else if ((value = json_object_get(root, "time")) != NULL && !json_is_string(value))
        snprintf(msg, msg_size, "time: must be an RFC 3339 string");
    else if ((value = json_object_get(root, "data")) != NULL && !json_is_object(value))
        snprintf(msg, msg_size, "data: must be an object");
    else
        return NULL;
    return msg;
}

/* Dump `data` (NULL: {}) as compact text with its NUL. */
static int add_data(strbuf *arena, json_t *data, parsed_line *out)
{
    out->off_data = arena->len;
    int rc = data ? json_text_dump_into(arena, data) : strbuf_append(arena, "{}", 2);
    if (rc == 0)
        rc = strbuf_append_char(arena, '\0');
    out->data_len = arena->len - out->off_data - 1;
    return rc;
}

/* The parse proper; strings go to `arena` as offsets. Returns 0 or -ENOMEM. */
static int parse_line(const char *label, const input_line *line, strbuf *arena, parsed_line *out)
{
    memset(out, 0, sizeof *out);
    out->off_source = out->off_topic = out->off_message = NO_TEXT;
    out->off_time_text = out->off_data = NO_TEXT;
    out->kind = PARSED_REJECT;
    char source[300];
    snprintf(source, sizeof source, "%s:%" PRIu64, label, line->line_no);
    int rc = add_str(arena, source, &out->off_source);
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
    json_error_t jerr;
    json_t *root = json_loadb(line->text, line->len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(msg, sizeof msg, "json: not valid JSON (column %d: %s)", jerr.column, jerr.text);
        return add_str(arena, msg, &out->off_message);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return add_str(arena, "json: an event must be a JSON object", &out->off_message);
    }
    json_t *topic_value = json_object_get(root, "topic");
    const char *topic = json_is_string(topic_value) ? json_string_value(topic_value) : NULL;
    if (topic != NULL)
        rc = add_str(arena, topic, &out->off_topic);
    const char *why = NULL;
    if (rc == 0)
        why = check_envelope(root, msg, sizeof msg);
    bool host_topic = why == NULL && rc == 0 && strncmp(topic, "host.", 5) == 0;
    /* Host topics are the host's own; only host.reload exists so far. */
    if (host_topic && strcmp(topic, "host.reload") != 0) {
        snprintf(msg, sizeof msg, "topic: unknown host topic '%.200s' (the host knows host.reload)",
                 topic);
        why = msg;
    }
    json_t *time_value = json_object_get(root, "time");
    if (rc == 0 && why == NULL && time_value != NULL) {
        char time_why[300];
        const char *text = json_string_value(time_value);
        if (rfc3339_parse(text, &out->time_ms, time_why, sizeof time_why) < 0) {
            snprintf(msg, sizeof msg, "time: %s", time_why);
            why = msg;
        } else {
            out->has_time = true;
            rc = add_str(arena, text, &out->off_time_text);
        }
    }
    if (rc == 0 && why != NULL) {
        rc = add_str(arena, why, &out->off_message);
    } else if (rc == 0) {
        rc = add_data(arena, json_object_get(root, "data"), out);
        out->kind = PARSED_EVENT;
        out->host_topic = host_topic;
    }
    json_decref(root);
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
    if (parse_line(label, line, arena, out) < 0) {
        memset(out, 0, sizeof *out);
        out->kind = PARSED_NOMEM;
        return -ENOMEM;
    }
    resolve(out, arena);
    return 0;
}

parsed_batch *event_parse_batch_new(const event_decoder *decoders, size_t decoder_count)
{
    parsed_batch *batch = calloc(1, sizeof *batch);
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
static void decode(parsed_batch *batch, parsed_line *p, void **decoded)
{
    smart_event event = {
        .struct_size = sizeof event,
        .topic = p->topic,
        .data_json = p->data,
        .data_len = p->data_len,
        .source = p->source,
    };
    for (size_t j = 0; j < batch->decoder_count; j++) {
        const smart_plugin *plugin = batch->decoders[j].plugin;
        if (plugin->decode_event(&event, &decoded[j], NULL) < 0)
            decoded[j] = NULL;
    }
    p->batch = batch;
    p->decoded = decoded;
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
    for (size_t i = 0; i < count; i++) {
        parsed_line *p = &batch->lines[i];
        size_t mark = batch->text.len;
        if (parse_line(label, &lines[i], &batch->text, p) < 0) {
            strbuf_truncate(&batch->text, mark);
            memset(p, 0, sizeof *p);
            p->kind = PARSED_NOMEM;
            p->off_source = p->off_topic = p->off_message = NO_TEXT;
            p->off_time_text = p->off_data = NO_TEXT;
        }
    }
    for (size_t i = 0; i < count; i++) {
        parsed_line *p = &batch->lines[i];
        resolve(p, &batch->text);
        if (p->kind == PARSED_EVENT && !p->host_topic && batch->decoder_count > 0)
            decode(batch, p, &batch->decoded[i * batch->decoder_count]);
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
