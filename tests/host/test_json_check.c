/*
 * test_json_check.c — json_check_object against jansson (JSON_REJECT_DUPLICATES): the duplicate
 * key rule in small objects (keys compared one by one), in large ones (hashed), across nesting,
 * and on generated texts, whose verdict must always be jansson's.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "util/json_check.h"
#include "util/strbuf.h"

static int check_text(json_checker *c, const char *text)
{
    char why[200];
    return json_check_object(c, text, strlen(text), why, sizeof why);
}

static bool jansson_takes(const char *text)
{
    json_error_t err;
    json_t *v = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &err);
    bool ok = v != NULL && json_is_object(v);
    json_decref(v);
    return ok;
}

/* {"k0":0,...,"k<n-1>":n-1} with key `dup_of` repeated last when >= 0. */
static void object_of(strbuf *b, int n, int dup_of)
{
    strbuf_truncate(b, 0);
    strbuf_append_char(b, '{');
    for (int i = 0; i < n; i++)
        strbuf_appendf(b, "%s\"k%d\":%d", i ? "," : "", i, i);
    if (dup_of >= 0)
        strbuf_appendf(b, ",\"k%d\":0", dup_of);
    strbuf_append_char(b, '}');
}

START_TEST(duplicates_in_small_and_large_objects)
{
    json_checker c = {0};
    strbuf b = STRBUF_INIT;
    ck_assert_int_eq(check_text(&c, "{\"a\":1,\"a\":2}"), -EINVAL);
    ck_assert_int_eq(check_text(&c, "{\"a\":1,\"b\":2}"), 0);
    static const int sizes[] = {1, 5, 23, 24, 25, 26, 40, 100, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        object_of(&b, n, -1);
        ck_assert_msg(check_text(&c, b.data) == 0, "%d distinct keys refused", n);
        int dups[] = {0, n / 2, n - 1};
        for (int d = 0; d < 3; d++) {
            object_of(&b, n, dups[d]);
            ck_assert_msg(check_text(&c, b.data) == -EINVAL, "%d keys, k%d twice: taken", n,
                          dups[d]);
        }
    }
    strbuf_free(&b);
    json_checker_free(&c);
}
END_TEST

START_TEST(nesting)
{
    json_checker c = {0};
    /* The same key in sibling and nested objects is no duplicate. */
    ck_assert_int_eq(
        check_text(&c, "{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":1},{\"a\":2}]}"), 0);
    /* A key of the outer object again after a nested one closed is. */
    ck_assert_int_eq(check_text(&c, "{\"k\":{\"x\":1,\"y\":{\"z\":2}},\"k\":2}"), -EINVAL);
    ck_assert_int_eq(check_text(&c, "{\"x\":{\"k\":1},\"k\":2}"), 0);
    ck_assert_int_eq(check_text(&c, "{\"x\":[{\"k\":1,\"k\":1}]}"), -EINVAL);
    /* A large object whose keys continue after a nested large one. */
    strbuf b = STRBUF_INIT;
    strbuf_append_char(&b, '{');
    for (int i = 0; i < 30; i++)
        strbuf_appendf(&b, "\"o%d\":%d,", i, i);
    strbuf_append_str(&b, "\"inner\":{");
    for (int i = 0; i < 30; i++)
        strbuf_appendf(&b, "%s\"o%d\":%d", i ? "," : "", i, i);
    strbuf_append_str(&b, "}");
    size_t mark = b.len;
    strbuf_append_str(&b, ",\"o31\":1}");
    ck_assert_int_eq(check_text(&c, b.data), 0);
    strbuf_truncate(&b, mark);
    strbuf_append_str(&b, ",\"o7\":1}");
    ck_assert_int_eq(check_text(&c, b.data), -EINVAL);
    /* Many objects with the same keys, in an array: none is a duplicate of another's. */
    strbuf_truncate(&b, 0);
    strbuf_append_str(&b, "{\"items\":[");
    for (int i = 0; i < 2000; i++)
        strbuf_appendf(&b, "%s{\"id\":\"EQ-%d\",\"status\":\"current\",\"ready\":true}",
                       i ? "," : "", i);
    strbuf_append_str(&b, "]}");
    ck_assert_int_eq(check_text(&c, b.data), 0);
    strbuf_free(&b);
    json_checker_free(&c);
}
END_TEST

/* yajl takes an object followed by an unterminated string as complete
 * (plugin/yajl_gaps/yajl_gaps.h): the check must not, since jansson does not; whitespace after the
 * object is fine for both. */
START_TEST(what_yajl_alone_takes)
{
    json_checker c = {0};
    const char *refused[] = {"{\"a\":0}\"", "{\"a\":0}\"x",  "{\"a\":{\"b\":[1]}}\"x y",
                             "{}  \"",      "{\"a\":0}\"x}", "{\"a\":0}\n\"x"};
    /* yajl's whitespace has vertical tab and form feed; JSON (RFC 8259) has none of them, nor a
     * raw NUL anywhere, which jansson takes after a number and the check does not. */
    const struct {
        const char *text;
        size_t len;
    } foreign_byte[] = {{"{\v\"a\":0}", 8},  {"{\"a\":0}\f", 8},       {"{\"a\":[1,\f2]}", 12},
                        {"{\"n\":18\0}", 9}, {"{\"n\":[1\0,2]}", 11},  {"{\"a\":0}\0", 8},
                        {"{}\0\0", 4},       {"{\"a\":\"x\0y\"}", 11}, {"{\"a\":\"x\vy\"}", 11},
                        {"{\"a\0\":1}", 9},  {"\0{\"a\":1}", 8}};
    for (size_t i = 0; i < sizeof foreign_byte / sizeof foreign_byte[0]; i++) {
        const char *text = foreign_byte[i].text;
        size_t len = foreign_byte[i].len;
        json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        ck_assert_msg(v == NULL || memchr(text, '\0', len) != NULL, "jansson takes case %zu", i);
        json_decref(v);
        /* The fast half runs first (json_check_fast.h) and never takes one: the message is the
         * look for the byte's. */
        char why[200] = "";
        ck_assert_int_eq(json_check_object(&c, text, len, why, sizeof why), -EINVAL);
        ck_assert_msg(strstr(why, "a vertical tab, form feed or NUL byte") != NULL, "case %zu: %s",
                      i, why);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_msg(!jansson_takes(refused[i]), "%s", refused[i]);
        char why[200] = "";
        ck_assert_int_eq(json_check_object(&c, refused[i], strlen(refused[i]), why, sizeof why),
                         -EINVAL);
        ck_assert_msg(strstr(why, "trailing garbage") != NULL, "%s: %s", refused[i], why);
    }
    const char *taken[] = {"{\"a\":0} ", "{\"a\":0}\t\r\n", "{}"};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        ck_assert(jansson_takes(taken[i]));
        ck_assert_int_eq(check_text(&c, taken[i]), 0);
    }
    json_checker_free(&c);
}
END_TEST

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned next(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 33) % n;
}

/* A random value: objects with keys drawn from a few (so duplicates happen), arrays, scalars. */
static void random_value(strbuf *b, int depth)
{
    unsigned kind = depth > 4 ? 2 + next(2) : next(4);
    if (kind == 0) {
        int n = (int)next(next(4) == 0 ? 60 : 8);
        unsigned keys = 4 + next(70);
        strbuf_append_char(b, '{');
        for (int i = 0; i < n; i++) {
            strbuf_appendf(b, "%s\"key%u\":", i ? "," : "", next(keys));
            random_value(b, depth + 1);
        }
        strbuf_append_char(b, '}');
    } else if (kind == 1) {
        int n = (int)next(5);
        strbuf_append_char(b, '[');
        for (int i = 0; i < n; i++) {
            if (i)
                strbuf_append_char(b, ',');
            random_value(b, depth + 1);
        }
        strbuf_append_char(b, ']');
    } else if (kind == 2) {
        strbuf_appendf(b, "%u", next(1000));
    } else {
        strbuf_append_str(b, "\"v\"");
    }
}

START_TEST(generated_texts_agree_with_jansson)
{
    json_checker c = {0};
    strbuf b = STRBUF_INIT;
    int refused = 0;
    for (int i = 0; i < 3000; i++) {
        strbuf_truncate(&b, 0);
        strbuf_append_str(&b, "{\"root\":");
        random_value(&b, 0);
        strbuf_append_char(&b, '}');
        bool want = jansson_takes(b.data);
        int rc = check_text(&c, b.data);
        ck_assert_msg((rc == 0) == want, "jansson %s, the check %d: %s", want ? "takes" : "refuses",
                      rc, b.data);
        refused += !want;
    }
    ck_assert_int_gt(refused, 100); /* the generator makes duplicates, and not only */
    ck_assert_int_lt(refused, 2900);
    strbuf_free(&b);
    json_checker_free(&c);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("json_check");
    TCase *tc = tcase_create("duplicates");
    tcase_add_test(tc, duplicates_in_small_and_large_objects);
    tcase_add_test(tc, nesting);
    tcase_add_test(tc, what_yajl_alone_takes);
    tcase_add_test(tc, generated_texts_agree_with_jansson);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(suite, tc);
    return suite;
}
