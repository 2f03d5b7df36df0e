/*
 * test_event_parse.c — the host's scan of an input line: the envelope's fields, the data
 * object handed to modules exactly as written, and every way a line is refused.
 */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/event_parse.h"

static strbuf arena = STRBUF_INIT;
static parsed_line parsed;

static void free_arena(void)
{
    strbuf_free(&arena);
}

static const parsed_line *parse(const char *text)
{
    input_line line = {.text = text, .len = strlen(text), .line_no = 7};
    ck_assert_int_eq(event_parse_one("in.jsonl", &line, &arena, &parsed), 0);
    ck_assert_str_eq(parsed.source, "in.jsonl:7");
    return &parsed;
}

static void assert_event(const char *text, const char *topic, const char *data)
{
    const parsed_line *p = parse(text);
    ck_assert_msg(p->kind == PARSED_EVENT, "%s: refused: %s", text, p->message);
    ck_assert_str_eq(p->topic, topic);
    ck_assert_str_eq(p->data, data);
    ck_assert_uint_eq(p->data_len, strlen(data));
}

static void assert_refused(const char *text, const char *message_start)
{
    const parsed_line *p = parse(text);
    ck_assert_msg(p->kind == PARSED_REJECT, "%s: accepted", text);
    ck_assert_msg(strncmp(p->message, message_start, strlen(message_start)) == 0,
                  "%s: got '%s', want '%s...'", text, p->message, message_start);
}

START_TEST(the_data_object_is_handed_over_as_written)
{
    assert_event("{\"topic\":\"a.b\",\"data\":{\"n\":1}}", "a.b", "{\"n\":1}");
    assert_event("{\"data\": { \"n\" : [1, {\"x\": \"}\"}] } , \"topic\": \"a.b\"}", "a.b",
                 "{ \"n\" : [1, {\"x\": \"}\"}] }");
    /* Keys are compared decoded: "d\u0061ta" is data. */
    assert_event("{\"topic\":\"a\\u002eb\",\"d\\u0061ta\":{\"k\":\"v\"}}", "a.b", "{\"k\":\"v\"}");
    assert_event("{\"topic\":\"a.b\"}", "a.b", "{}");
    assert_event("{\"topic\":\"a.b\",\"data\":{}}\r", "a.b", "{}");
    const parsed_line *p = parse("{\"topic\":\"a.b\",\"time\":\"2025-02-13T09:00:00+01:00\"}");
    ck_assert(p->has_time);
    ck_assert_str_eq(p->time_text, "2025-02-13T09:00:00+01:00");
    ck_assert_int_eq(p->time_ms, INT64_C(1739433600000));
    ck_assert(parse("   \t ")->kind == PARSED_BLANK);
}
END_TEST

START_TEST(lines_that_are_not_a_json_object)
{
    assert_refused("not json", "json: not valid JSON (column ");
    assert_refused("{\"topic\":\"a\",}", "json: not valid JSON (column ");
    assert_refused("{\"topic\":\"a\"} {}", "json: not valid JSON (column ");
    assert_refused("{\"topic\":\"a\"", "json: not valid JSON (column ");
    /* An open string after the object: yajl alone takes it (plugin/yajl_gaps/yajl_gaps.h). */
    /* yajl's whitespace has vertical tab and form feed; JSON's has not
     * (plugin/yajl_gaps/yajl_gaps.h). */
    assert_refused("{\v\"topic\":\"a\"}",
                   "json: not valid JSON (column 1: a vertical tab, form feed or NUL byte)");
    assert_refused("{\"topic\":\"a\"}\f",
                   "json: not valid JSON (column 13: a vertical tab, form feed or NUL byte)");
    assert_refused("{\"topic\":\"a\"}\"", "json: not valid JSON (column 13: trailing garbage)");
    assert_refused("{\"topic\":\"a\",\"data\":{}} \"x",
                   "json: not valid JSON (column 23: trailing garbage)");
    assert_refused("{\"topic\":\"a\",\"data\":{\"s\":\"\xff\"}}", "json: not valid JSON (column ");
    assert_refused("{\"topic\":\"a\\u0000b\"}", "json: not valid JSON (column ");
    assert_refused("{\"topic\":\"a\",\"topic\":\"b\"}",
                   "json: not valid JSON (column 20: duplicate object key 'topic')");
    assert_refused("[1, 2]", "json: an event must be a JSON object");
    assert_refused("\"text\"", "json: an event must be a JSON object");
    ck_assert_ptr_null(parsed.topic);
}
END_TEST

START_TEST(envelopes_that_are_refused_name_the_field)
{
    assert_refused("{\"topic\":\"a\",\"extra\":true}",
                   "extra: unknown key (an event has topic, time and data)");
    assert_refused("{\"data\":{}}", "topic: missing required field");
    assert_refused("{\"topic\":7}", "topic: must be a string");
    assert_refused("{\"topic\":\"\"}", "topic: must not be empty");
    assert_refused("{\"topic\":\"a\",\"time\":1}", "time: must be an RFC 3339 string");
    assert_refused("{\"topic\":\"a\",\"time\":\"2025-02-30T00:00:00Z\"}", "time: ");
    assert_refused("{\"topic\":\"a\",\"data\":[1]}", "data: must be an object");
    assert_refused("{\"topic\":\"a\",\"data\":null}", "data: must be an object");
    assert_refused("{\"topic\":\"host.nothing\"}", "topic: unknown host topic 'host.nothing'");
    /* The topic is kept for the rejection's record when it was one. */
    assert_refused("{\"topic\":\"a.b\",\"data\":5}", "data: must be an object");
    ck_assert_str_eq(parsed.topic, "a.b");
    char long_topic[400];
    memset(long_topic, 'x', sizeof long_topic);
    memcpy(long_topic, "{\"topic\":\"", 10);
    memcpy(long_topic + sizeof long_topic - 3, "\"}", 3);
    assert_refused(long_topic, "topic: longer than 255 bytes");
    const parsed_line *p = parse("{\"topic\":\"host.reload\",\"data\":{\"module\":\"m\"}}");
    ck_assert(p->kind == PARSED_EVENT && p->host_topic);
}
END_TEST

/* A batch (event_parse_batch_fill) tries simdjson's parse of each line before yajl's scan; a
 * line parsed alone (event_parse_one) has the scan only. Both say the same of every line, to
 * the byte: the same kind and message, topic, time and data, wherever the data is, however its
 * strings hold braces, quotes and colons, and at each limit the fast path leaves to the scan. */
START_TEST(a_batch_says_what_the_scan_says)
{
    static char topic255[300], topic256[300], time63[200], time64[200];
    snprintf(topic255, sizeof topic255, "{\"topic\":\"%0255d\"}", 0);
    snprintf(topic256, sizeof topic256, "{\"topic\":\"%0256d\"}", 0);
    snprintf(time63, sizeof time63, "{\"topic\":\"a\",\"time\":\"%063d\"}", 0);
    snprintf(time64, sizeof time64, "{\"topic\":\"a\",\"time\":\"%064d\"}", 0);
    const char *const lines[] = {
        "{\"topic\":\"a.b\",\"data\":{\"n\":1}}",
        "{\"topic\":\"a\\\"b:{\",\"data\":{\"k\":1}}",
        "{\"data\":{\"s\":\"\\\"}\"},\"topic\":\"a\"}",
        "{\"data\": { \"n\" : [1, {\"x\": \"}\"}] } , \"topic\": \"a.b\"}",
        "{\"topic\":\"a\\u002eb\",\"d\\u0061ta\":{\"k\":\"v\"}}",
        "{\"t\\u006fpic\":\"x\",\"data\":{\"a:b\":\"c:{d\",\"e\":\"\\\"}:\"}}",
        "{\"data\":{\"s\":\"\\\\\"},\"time\":\"2025-02-13T09:00:00+01:00\",\"topic\":\"z\"}",
        "  {\"topic\" : \"a.b\" ,\"data\"\t:\t{ } }  \r",
        "{\"topic\":\"a\",\"data\":{\"s\":\"}\",\"o\":{\"p\":{}}} \t\n}\t\r",
        "{\"time\":\"2025-02-13T09:00:00Z\",\"topic\":\"a\",\"data\":{\"a\":[{}]}}",
        "{\"data\":{\"s\":\"{\"},\"topic\":\"a\"}",
        "{\"topic\":\"a.b\"}",
        "{\"topic\":\"a.b\",\"data\":{}}\r",
        "{\"topic\":\"a.b\",\"time\":\"2025-02-13T09:00:00+01:00\"}",
        "{\"topic\":\"a.b\",\"time\":\"not a time\"}",
        "{\"topic\":\"host.reload\",\"data\":{\"module\":\"m\"}}",
        "{\"topic\":\"host.nothing\"}",
        "{\"topic\":\"\\u00e9t\\u00e9\",\"data\":{\"\\ud83d\\ude00\":[]}}",
        "{\"topic\":\"a\",\"data\":{\"s\":\"\\ud800\"}}",
        "{\"topic\":\"a\",\"data\":{\"n\":123456789012345678901234567890}}",
        "{\"topic\":\"a\",\"data\":{\"n\":1e400}}",
        "{\"topic\":\"a\",\"data\":{\"k\":1,\"k\":2}}",
        "{\"topic\":\"a\",\"data\":{\"s\":\"x\\\\u0000y\"}}",
        "{\"topic\":\"a\\u0000b\"}",
        "{\"topic\":\"a\",\"topic\":\"b\"}",
        "{\"topic\":\"a\",\"extra\":true}",
        "{\"data\":{}}",
        "{\"topic\":7}",
        "{\"topic\":\"\"}",
        "{\"topic\":\"a\",\"time\":1}",
        "{\"topic\":\"a\",\"data\":[1]}",
        "{\"topic\":\"a\",\"data\":null}",
        "{\"topic\":\"a\",}",
        "{\"topic\":\"a\"} {}",
        "{\"topic\":\"a\"}\"",
        "\xef\xbb\xbf{\"topic\":\"a\"}",
        "{\"topic\":\"a\",\"data\":{\"s\":\"\xc0\xaf\"}}",
        "{\"topic\":\"a\",\"data\":{\"s\":\"\xed\xa0\x80\"}}",
        "{\"topic\":\"a\",\"data\":{\"s\":\"\xe2\x82\xac\"}}",
        "[1, 2]",
        "\"text\"",
        "not json",
        topic255,
        topic256,
        time63,
        time64,
    };
    size_t count = sizeof lines / sizeof lines[0];
    input_line in[sizeof lines / sizeof lines[0]];
    for (size_t i = 0; i < count; i++)
        in[i] = (input_line){.text = lines[i], .len = strlen(lines[i]), .line_no = i + 1};
    parsed_batch *batch = event_parse_batch_new(NULL, 0, NULL, NULL);
    ck_assert_ptr_nonnull(batch);
    event_parse_batch_fill(batch, "in.jsonl", in, count);
    for (size_t i = 0; i < count; i++) {
        const parsed_line *b = in[i].prepared;
        ck_assert_ptr_nonnull(b);
        parse(lines[i]);
        const parsed_line *one = &parsed;
        ck_assert_msg(b->kind == one->kind, "%s: kind %d, alone %d", lines[i], b->kind, one->kind);
        ck_assert_msg((b->message == NULL) == (one->message == NULL) &&
                          (b->message == NULL || strcmp(b->message, one->message) == 0),
                      "%s: '%s', alone '%s'", lines[i], b->message, one->message);
        ck_assert_msg((b->topic == NULL) == (one->topic == NULL) &&
                          (b->topic == NULL || strcmp(b->topic, one->topic) == 0),
                      "%s: topic", lines[i]);
        ck_assert_int_eq(b->has_time, one->has_time);
        if (one->has_time) {
            ck_assert_str_eq(b->time_text, one->time_text);
            ck_assert_int_eq(b->time_ms, one->time_ms);
        }
        ck_assert_int_eq(b->host_topic, one->host_topic);
        ck_assert_uint_eq(b->data_len, one->data_len);
        if (one->data != NULL)
            ck_assert_msg(memcmp(b->data, one->data, one->data_len) == 0, "%s: data", lines[i]);
    }
    event_parse_free(batch);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("event_parse");
    TCase *tc = tcase_create("envelope");
    tcase_add_checked_fixture(tc, NULL, free_arena);
    tcase_add_test(tc, the_data_object_is_handed_over_as_written);
    tcase_add_test(tc, lines_that_are_not_a_json_object);
    tcase_add_test(tc, envelopes_that_are_refused_name_the_field);
    tcase_add_test(tc, a_batch_says_what_the_scan_says);
    suite_add_tcase(s, tc);
    return s;
}
