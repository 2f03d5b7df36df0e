/* The JSON text writer (plugin/json/jsonw.c) against jansson's json_dumps(JSON_COMPACT): the
 * module's records were written by jansson before, and must stay byte for byte the same. */
#include "check_main.h"
#include "json/jsonw.h"

#include <float.h>
#include <jansson.h>
#include <stdlib.h>

static void assert_real_as_jansson(double v)
{
    json_t *a = json_pack("[f]", v);
    ck_assert_ptr_nonnull(a);
    char *want = json_dumps(a, JSON_COMPACT);
    jw w = {0};
    jw_raw(&w, "[", 1);
    jw_real(&w, v);
    jw_raw(&w, "]", 1);
    ck_assert_ptr_nonnull(jw_text(&w));
    ck_assert_str_eq(jw_text(&w), want);
    jw_release(&w);
    free(want);
    json_decref(a);
}

START_TEST(reals_written_as_jansson_writes_them)
{
    static const double values[] = {0.0,     -0.0,      1.0,    1180.0,    0.05,
                                    0.2,     20.3,      -4.51,  1e7,       1e-7,
                                    1.5e300, -2.5e-300, 1e16,   1e17,      123456789012345678.0,
                                    DBL_MAX, DBL_MIN,   5e-324, 0.1 + 0.2, 1e100};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        assert_real_as_jansson(values[i]);
}
END_TEST

START_TEST(absent_string_is_null_as_jansson_s_question)
{
    json_t *o = json_pack("{s:s?, s:s?}", "a", NULL, "b", "x\"y");
    char *want = json_dumps(o, JSON_COMPACT);
    jw w = {0};
    jw_raw(&w, "{", 1);
    jw_member_string_or_null(&w, "a", NULL);
    jw_member_string_or_null(&w, "b", "x\"y");
    jw_raw(&w, "}", 1);
    ck_assert_str_eq(jw_text(&w), want);
    jw_release(&w);
    free(want);
    json_decref(o);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("as-jansson");
    tcase_add_test(tc, reals_written_as_jansson_writes_them);
    tcase_add_test(tc, absent_string_is_null_as_jansson_s_question);
    suite_add_tcase(s, tc);
    return s;
}
