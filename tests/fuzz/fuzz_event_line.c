/* fuzz_event_line.c — the host's scan of input lines (host-stub/input/event_parse.c): the first
 * code to see the bytes a producer writes to the host's input.
 *
 * The input is split at '\n' as the reader splits its input (event_input.c), and the lines are
 * parsed both ways the host parses them: as a batch on a worker (event_parse_batch_fill, no
 * decoders: those are the module's, fuzzed by fuzz_event_data.c) and one by one
 * (event_parse_one, yajl's scan alone: the batch tries simdjson's parse first). Both must say
 * the same of each line, topic, time and data byte for byte; a line's data, when it has one, must
 * be the JSON object the scan says it is. */
#include "input/event_parse.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1); /* as main.c does before the first parse (event_parse.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    const char *text = (const char *)bytes;
    input_line lines[64];
    size_t count = 0;
    for (size_t pos = 0; pos < size && count < 64;) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (text + pos)) : size - pos;
        lines[count] = (input_line){.text = text + pos, .len = len, .line_no = count + 1};
        lines[count].too_long = len > EVENT_INPUT_LINE_MAX;
        count++;
        pos += len + 1;
    }
    parsed_batch *batch = event_parse_batch_new(NULL, 0, NULL, NULL);
    if (batch == NULL)
        abort();
    event_parse_batch_fill(batch, "fuzz", lines, count);
    strbuf arena = {0};
    for (size_t i = 0; i < count; i++) {
        const parsed_line *b = lines[i].prepared;
        parsed_line one;
        if (b == NULL || event_parse_one("fuzz", &lines[i], &arena, &one) != 0)
            abort(); /* out of memory on inputs this small */
        if (b->kind != one.kind || (b->message == NULL) != (one.message == NULL) ||
            (b->message && strcmp(b->message, one.message) != 0))
            abort();
        /* The batch's simdjson parse (json_fast_envelope) and the scan alone must find the same
         * envelope, byte for byte. */
        if (one.kind == PARSED_EVENT &&
            (strcmp(b->topic, one.topic) != 0 || b->has_time != one.has_time ||
             (one.has_time &&
              (b->time_ms != one.time_ms || strcmp(b->time_text, one.time_text) != 0)) ||
             b->data_len != one.data_len || memcmp(b->data, one.data, one.data_len) != 0 ||
             b->host_topic != one.host_topic))
            abort();
        if (one.kind == PARSED_EVENT) {
            json_t *data = json_loadb(one.data, one.data_len, JSON_REJECT_DUPLICATES, NULL);
            /* yajl and jansson differ on duplicate keys inside data: the module refuses those
             * itself. Anything else the scan passed must be an object. */
            if (data != NULL && !json_is_object(data))
                abort();
            json_decref(data);
            if (one.topic == NULL || one.source == NULL)
                abort();
        } else if (one.kind == PARSED_REJECT && one.message == NULL) {
            abort(); /* a refusal always says why */
        }
    }
    strbuf_free(&arena);
    event_parse_free(batch);
    return 0;
}
