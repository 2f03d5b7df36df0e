/*
 * test_json_check_fast.c — the fast half of the check (json_check_fast.h) takes only what the
 * full check takes: texts simdjson parses but a rule refuses (a key twice, \u0000, an integer
 * above INT64_MAX, a root that is no object) are not taken by it, and json_check_object still
 * refuses them with the scan's reason; texts on both sides of each limit agree with jansson.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "util/json_check.h"
#include "util/json_check_fast.h"
#include "util/strbuf.h"

static bool jansson_takes(const char *text, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    bool ok = v != NULL && json_is_object(v);
    json_decref(v);
    return ok;
}

/* Texts simdjson's parser takes that json_check.h's rules refuse. */
static const char *const refused[] = {
    "{\"a\":1,\"a\":2}",
    "{\"x\":{\"k\":1,\"y\":[{\"b\":true,\"b\":false}]}}",
    "{\"a\":\"x\\u0000y\"}",
    "{\"a\\u0000\":1}",
    "{\"a\":9223372036854775808}",
    "{\"a\":[18446744073709551615]}",
    "[1,2]",
    "\"text\"",
    "17",
    "null",
};

START_TEST(fast_half_never_takes_what_a_rule_refuses)
{
    json_fast *f = json_fast_new();
    ck_assert_ptr_nonnull(f);
    json_checker c = {0};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *t = refused[i];
        ck_assert_msg(!json_fast_accepts(f, t, strlen(t)), "fast half took %s", t);
        char why[200] = "";
        ck_assert_msg(json_check_object(&c, t, strlen(t), why, sizeof why) == -EINVAL,
                      "check took %s", t);
        ck_assert_msg(strncmp(why, "not valid JSON (column ", 23) == 0, "%s: reason '%s'", t, why);
        ck_assert(!jansson_takes(t, strlen(t)));
    }
    json_checker_free(&c);
    json_fast_free(f);
}
END_TEST

/* A large object (sorted keys) with a key twice, first and last, or nested in a large one. */
START_TEST(large_objects)
{
    json_fast *f = json_fast_new();
    strbuf b = STRBUF_INIT;
    for (int n = 20; n <= 300; n += 7) {
        for (int dup = -1; dup < 2; dup++) {
            strbuf_truncate(&b, 0);
            strbuf_append_str(&b, "{\"inner\":{");
            for (int i = 0; i < n; i++)
                strbuf_appendf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
            if (dup == 0)
                strbuf_appendf(&b, ",\"k%d\":0", n - 1);
            strbuf_append_char(&b, '}');
            for (int i = 0; i < n; i++)
                strbuf_appendf(&b, ",\"o%d\":%d", i, i);
            if (dup == 1)
                strbuf_append_str(&b, ",\"o0\":1");
            strbuf_append_char(&b, '}');
            bool want = jansson_takes(b.data, b.len);
            ck_assert_int_eq(want, dup < 0);
            ck_assert_msg(json_fast_accepts(f, b.data, b.len) == want, "%d keys, dup %d", n, dup);
        }
    }
    strbuf_free(&b);
    json_fast_free(f);
}
END_TEST

/* Each limit from both sides: integers at INT64's ends, reals near overflow and underflow,
 * nesting at the fast half's depth and past it; the check's verdict is jansson's. */
START_TEST(limits_agree_with_jansson)
{
    static const char *const numbers[] = {"9223372036854775807",
                                          "9223372036854775808",
                                          "-9223372036854775808",
                                          "-9223372036854775809",
                                          "1.7976931348623157e308",
                                          "1.8e308",
                                          "1e-400",
                                          "-0",
                                          "0.5e+3",
                                          "123456789012345678901234567890"};
    json_checker c = {0};
    json_fast *f = json_fast_new();
    char text[200];
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        int n = snprintf(text, sizeof text, "{\"n\":%s}", numbers[i]);
        bool want = jansson_takes(text, (size_t)n);
        char why[200];
        ck_assert_msg((json_check_object(&c, text, (size_t)n, why, sizeof why) == 0) == want, "%s",
                      text);
        ck_assert_msg(!json_fast_accepts(f, text, (size_t)n) || want, "fast half took %s", text);
    }
    strbuf b = STRBUF_INIT;
    for (int depth = 60; depth <= 70; depth++) {
        strbuf_truncate(&b, 0);
        for (int i = 0; i < depth; i++)
            strbuf_append_str(&b, "{\"a\":");
        strbuf_append_str(&b, "1");
        for (int i = 0; i < depth; i++)
            strbuf_append_char(&b, '}');
        char why[200];
        ck_assert_int_eq(json_check_object(&c, b.data, b.len, why, sizeof why), 0);
    }
    strbuf_free(&b);
    json_fast_free(f);
    json_checker_free(&c);
}
END_TEST

/* UTF-8 and escapes: the fast half runs before the check looks for bytes above 0x7f or a
 * surrogate escape (which send a text to jansson), so on those it must take only what jansson
 * takes: every sequence of one to four bytes from a set of leads and continuations (overlong
 * forms, surrogates, past U+10FFFF, cut short), in a string and in a key, and the surrogate
 * escapes alone and in pairs. */
START_TEST(utf8_and_surrogates_as_jansson)
{
    static const unsigned char bytes[] = {0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                          0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee,
                                          0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};
    const size_t nb = sizeof bytes;
    json_fast *f = json_fast_new();
    json_checker c = {0};
    char text[64], why[200];
    int taken = 0;
    /* Every sequence of one to three bytes of the set; of four, a four-byte lead and three of
     * a smaller set (24^4 would take seconds under the sanitizers). */
    static const unsigned char leads4[] = {0xf0, 0xf1, 0xf4, 0xf5};
    static const unsigned char next4[] = {0x41, 0x80, 0x8f, 0x90, 0xbf};
    for (size_t n = 1; n <= 4; n++) {
        size_t combos = n < 4 ? 1 : 4 * 5 * 5 * 5;
        for (size_t i = 0; n < 4 && i < n; i++)
            combos *= nb;
        for (size_t k = 0; k < combos; k++) {
            char seq[4];
            size_t v = k;
            for (size_t i = 0; i < n; i++) {
                if (n < 4) {
                    seq[i] = (char)bytes[v % nb];
                    v /= nb;
                } else if (i == 0) {
                    seq[i] = (char)leads4[v % 4];
                    v /= 4;
                } else {
                    seq[i] = (char)next4[v % 5];
                    v /= 5;
                }
            }
            for (int as_key = 0; as_key < 2; as_key++) {
                int len = as_key ? snprintf(text, sizeof text, "{\"%.*s\":1}", (int)n, seq)
                                 : snprintf(text, sizeof text, "{\"a\":\"x%.*sy\"}", (int)n, seq);
                bool want = jansson_takes(text, (size_t)len);
                bool fast = json_fast_accepts(f, text, (size_t)len);
                ck_assert_msg(!fast || want, "fast half took what jansson refuses: %s", text);
                ck_assert_msg((json_check_object(&c, text, (size_t)len, why, sizeof why) == 0) ==
                                  want,
                              "check and jansson differ on %s", text);
                taken += fast;
            }
        }
    }
    ck_assert_int_gt(taken, 500); /* the fast half does take valid UTF-8 */
    static const char *const escapes[] = {
        "\\ud800",        "\\udbff",        "\\udc00",  "\\udfff",        "\\ud800\\udc00",
        "\\udbff\\udfff", "\\udc00\\ud800", "\\ud800x", "\\ud800\\u0041", "\\uD83D\\uDE00"};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        int len = snprintf(text, sizeof text, "{\"a\":\"%s\"}", escapes[i]);
        bool want = jansson_takes(text, (size_t)len);
        ck_assert_msg(!json_fast_accepts(f, text, (size_t)len) || want, "fast half took %s", text);
        ck_assert_msg((json_check_object(&c, text, (size_t)len, why, sizeof why) == 0) == want,
                      "check and jansson differ on %s", text);
    }
    json_checker_free(&c);
    json_fast_free(f);
}
END_TEST

/* The walk compares keys by length, first and last eight bytes, and all bytes past 16: keys
 * that differ in one byte anywhere (the middle of a long one, the end of a short one) are
 * different, the same key written with an escape is the same, and a key twice is found however
 * deep it is (in an array, under a large object), before and past the small set's 24 keys. */
START_TEST(keys_compared_exactly)
{
    json_fast *f = json_fast_new();
    json_checker c = {0};
    strbuf b = STRBUF_INIT;
    char why[200];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            for (int same = 0; same < 2; same++) {
                char k1[48], k2[48];
                memset(k1, 'k', len);
                memcpy(k2, k1, len);
                k1[len] = k2[len] = '\0';
                if (!same)
                    k2[at] = 'q';
                strbuf_truncate(&b, 0);
                strbuf_appendf(&b, "{\"list\":[1,{\"x\":{},\"%s\":[],\"y\":2,\"%s\":\"v\"}]}", k1,
                               k2);
                bool want = jansson_takes(b.data, b.len);
                ck_assert_int_eq(want, !same);
                ck_assert_msg(json_fast_accepts(f, b.data, b.len) == want, "%s", b.data);
                ck_assert_int_eq(json_check_object(&c, b.data, b.len, why, sizeof why) == 0, want);
            }
        }
    }
    static const char *const escaped[] = {"{\"a\":1,\"\\u0061\":2}",
                                          "{\"ab\\n\":1,\"ab\\u000a\":2}", "{\"\\/\":1,\"/\":2}"};
    for (size_t i = 0; i < sizeof escaped / sizeof escaped[0]; i++) {
        ck_assert(!jansson_takes(escaped[i], strlen(escaped[i])));
        ck_assert_msg(!json_fast_accepts(f, escaped[i], strlen(escaped[i])), "%s", escaped[i]);
    }
    /* 1 to 40 keys, a key twice at each pair of places (or none), in an object in an array. */
    for (int n = 1; n <= 40; n++) {
        for (int first = -1; first < n; first++) {
            for (int second = first + 1; second < n; second += first < 0 ? n : 5) {
                strbuf_truncate(&b, 0);
                strbuf_append_str(&b, "{\"outer\":[{");
                for (int i = 0; i < n; i++)
                    strbuf_appendf(&b, "%s\"key-%d\":{\"key-%d\":%d}", i ? "," : "",
                                   i == second && first >= 0 ? first : i, i, i);
                strbuf_append_str(&b, "}]}");
                bool want = jansson_takes(b.data, b.len);
                ck_assert_int_eq(want, first < 0);
                ck_assert_msg(json_fast_accepts(f, b.data, b.len) == want, "%s", b.data);
            }
        }
    }
    strbuf_free(&b);
    json_checker_free(&c);
    json_fast_free(f);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("json_check_fast");
    TCase *tc = tcase_create("fast");
    tcase_add_test(tc, fast_half_never_takes_what_a_rule_refuses);
    tcase_add_test(tc, large_objects);
    tcase_add_test(tc, limits_agree_with_jansson);
    tcase_add_test(tc, utf8_and_surrogates_as_jansson);
    tcase_add_test(tc, keys_compared_exactly);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(suite, tc);
    return suite;
}
