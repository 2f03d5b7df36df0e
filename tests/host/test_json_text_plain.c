/*
 * test_json_text_plain.c — json_text_append_string's plain path (printable ASCII copied as it
 * is, sixteen or eight bytes at a time) against jansson: every byte value at every place of
 * strings of 1 to 40 bytes is written as jansson writes it, or refused where jansson refuses
 * it; and json_text_is_plain itself against the rule byte by byte.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "util/json_text.h"
#include "util/strbuf.h"

START_TEST(each_byte_at_each_place_as_jansson_writes_it)
{
    strbuf b = STRBUF_INIT;
    char s[48];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            for (int c = 1; c < 256; c++) {
                memset(s, 'a', len);
                s[at] = (char)c;
                strbuf_truncate(&b, 0);
                int rc = json_text_append_string(&b, s, len);
                json_t *v = json_stringn(s, len);
                if (v == NULL) {
                    ck_assert_msg(rc == -EINVAL, "byte %#x at %zu of %zu: taken", c, at, len);
                    continue;
                }
                char *want = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                json_decref(v);
                ck_assert_msg(rc == 0, "byte %#x at %zu of %zu: refused", c, at, len);
                ck_assert_msg(strcmp(b.data, want) == 0, "byte %#x at %zu of %zu: %s, not %s", c,
                              at, len, b.data, want);
                free(want);
            }
        }
    }
    strbuf_free(&b);
}
END_TEST

/* Plain: printable ASCII, neither '"' nor '\\'. */
static bool plain_by_bytes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return true;
}

START_TEST(plain_as_the_rule_says)
{
    char s[48];
    for (size_t len = 0; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            for (int c = 0; c < 256; c++) {
                memset(s, '~', len);
                s[at] = (char)c;
                ck_assert_msg(json_text_is_plain(s, len) == plain_by_bytes(s, len),
                              "byte %#x at %zu of %zu", c, at, len);
            }
        }
        memset(s, ' ', len);
        ck_assert(json_text_is_plain(s, len));
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("json_text_plain");
    TCase *tc = tcase_create("plain");
    tcase_add_test(tc, each_byte_at_each_place_as_jansson_writes_it);
    tcase_add_test(tc, plain_as_the_rule_says);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(suite, tc);
    return suite;
}
