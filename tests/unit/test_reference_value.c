/* reference_value_read (plugin/core/reference_value.c): every phrasing of a limit a hub
 * checklist step writes in `reference_value`, the units that must agree, and texts that must
 * not be read as limits. */
#include "core/reference_value.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *num(decimal d)
{
    static char text[4][DECIMAL_TEXT_MAX];
    static int next;
    char *out = text[next++ % 4];
    decimal_format(d, out, DECIMAL_TEXT_MAX);
    return out;
}

/* `text` read for a step in `unit` gives exactly `reading`, and the limits it says. */
static void reads(const char *text, const char *unit, const char *reading)
{
    reference_limit r;
    ck_assert_msg(reference_value_read(text, unit, &r), "'%s' not read: %s", text, r.reading);
    ck_assert_msg(strcmp(r.reading, reading) == 0, "'%s' read as '%s', want '%s'", text, r.reading,
                  reading);
}

static void not_read(const char *text, const char *unit, const char *why)
{
    reference_limit r;
    ck_assert_msg(!reference_value_read(text, unit, &r), "'%s' read as '%s'", text, r.reading);
    ck_assert(!r.has_min && !r.has_max);
    ck_assert_msg(strstr(r.reading, why), "'%s': '%s' does not say '%s'", text, r.reading, why);
    ck_assert_ptr_nonnull(strstr(r.reading, "attestation"));
}

START_TEST(minimums)
{
    reads("at least 1000 \xc2\xb5W/cm\xc2\xb2", "\xc2\xb5W/cm\xc2\xb2", ">= 1000 uW/cm2");
    reads("Must greater than 1000 \xc2\xb5W/cm\xc2\xb2", "\xc2\xb5W/cm\xc2\xb2", "> 1000 uW/cm2");
    reads("\xe2\x89\xa5 1000 \xc2\xb5W/cm\xc2\xb2 at 38 cm", "uW/cm2", ">= 1000 uW/cm2");
    reads(">= 1000", "uW/cm2", ">= 1000 uW/cm2");
    reads("more than 4.5 kg", "kg", "> 4.5 kg");
    reads("no less than 40 psi", "psi", ">= 40 psi");
    reads("Shall be at least be 10 \xc2\xb0"
          "C",
          "\xc2\xb0"
          "C",
          ">= 10 degC");
    reference_limit r;
    ck_assert(reference_value_read("greater than 1000", "uW/cm2", &r));
    ck_assert(r.has_min && r.min_excluded && !r.has_max);
    ck_assert_str_eq(num(r.low), "1000");
    ck_assert(reference_value_read("at least 1000", "uW/cm2", &r));
    ck_assert(r.has_min && !r.min_excluded);
}
END_TEST

START_TEST(maximums)
{
    reads("must be less than 2 foot-candles", "ftc", "< 2 fc");
    reads("at most 2 fc", "ftc", "<= 2 fc");
    reads("\xe2\x89\xa4 2 ftc", "fc", "<= 2 fc");
    reads("<= 40 psi", "psi", "<= 40 psi");
    reads("below 71 \xc2\xb0"
          "C",
          "degC", "< 71 degC");
    reads("no more than 40 psi", "psi", "<= 40 psi"); /* not "more than": a maximum */
    reads("not greater than 160 \xc2\xb0"
          "F",
          "\xc2\xb0"
          "F",
          "<= 160 degF");
    reference_limit r;
    ck_assert(reference_value_read("less than 2", "fc", &r));
    ck_assert(r.has_max && r.max_excluded && !r.has_min);
    ck_assert_str_eq(num(r.high), "2");
}
END_TEST

START_TEST(ranges)
{
    reads("139\xe2\x80\x93"
          "159",
          "\xc2\xb0"
          "F",
          "139 to 159 degF (both included)");
    reads("139 \xe2\x80\x93 159 \xc2\xb0"
          "F",
          "\xc2\xb0"
          "F",
          "139 to 159 degF (both included)");
    reads("50-100 \xc2\xb0"
          "F",
          "\xc2\xb0"
          "F",
          "50 to 100 degF (both included)");
    reads("between 10 and 38 \xc2\xb0"
          "C",
          "degC", "10 to 38 degC (both included)");
    reads("Between 0.1 and 0.4", "mL/100mL", "0.1 to 0.4 mL/100mL (both included)");
    reference_limit r;
    ck_assert(reference_value_read("139\xe2\x80\x93"
                                   "159",
                                   "\xc2\xb0"
                                   "F",
                                   &r));
    ck_assert(r.has_min && r.has_max && !r.min_excluded && !r.max_excluded);
    ck_assert_str_eq(num(r.low), "139");
    ck_assert_str_eq(num(r.high), "159");
}
END_TEST

START_TEST(units_are_one_unit_in_their_spellings)
{
    static const char *const fc[] = {"ftc", "fc", "foot-candles", "FC", "footcandles"};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++) {
            char text[64];
            snprintf(text, sizeof text, "less than 2 %s", fc[i]);
            reads(text, fc[j], "< 2 fc");
        }
    static const char *const uv[] = {"\xc2\xb5W/cm\xc2\xb2", "\xce\xbcW/cm\xc2\xb2", "uW/cm2",
                                     "\xc2\xb5W/cm2"};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            char text[64];
            snprintf(text, sizeof text, "at least 1000 %s", uv[i]);
            reads(text, uv[j], ">= 1000 uW/cm2");
        }
    char unit[24];
    reference_unit_canonical("\xc2\xb0"
                             "F",
                             unit, sizeof unit);
    ck_assert_str_eq(unit, "degF");
    reference_unit_canonical("psi", unit, sizeof unit);
    ck_assert_str_eq(unit, "psi");
}
END_TEST

START_TEST(a_unit_that_disagrees_is_not_machine_checked)
{
    not_read("less than 2 fc", "lx", "the text names fc, the step's unit is lx");
    not_read("at least 1000 \xc2\xb5W/cm\xc2\xb2", "mW/cm2", "the step's unit is mW/cm2");
    not_read("139\xe2\x80\x93"
             "159 \xc2\xb0"
             "C",
             "\xc2\xb0"
             "F",
             "the text names degC");
    not_read("below 40 psi", "kPa", "the step's unit is kPa");
}
END_TEST

START_TEST(texts_that_state_no_limit_are_not_read)
{
    not_read(NULL, "fc", "no limit stated");
    not_read("", "fc", "no limit stated");
    not_read("Clean and dry", NULL, "no limit stated");
    not_read("Record the reading", "psi", "no limit stated");
    not_read("per ASTM E1417-16", "psi", "no limit stated"); /* not the range 1417-16 */
    not_read("1000 \xc2\xb5W/cm\xc2\xb2 at 38 cm", "uW/cm2", "no limit stated"); /* no sense */
    not_read("as specified in the abovementioned procedure", NULL, "no limit stated");
    not_read("greater than 1000 or less than 10", "uW/cm2", "more than one limit");
    not_read("at least 5, 10-20 preferred", "psi", "more than one limit");
    not_read("greater than the last reading", "psi", "no number right after");
    not_read("between 5 and", "psi", "without \"A and B\"");
    not_read("159\xe2\x80\x93"
             "139",
             "\xc2\xb0"
             "F",
             "first number is above its second");
    not_read("at least 1,000", "uW/cm2", "no number right after"); /* 1,000 or 1.000? */
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("reference_value");
    TCase *tc = tcase_create("reading limits");
    tcase_add_test(tc, minimums);
    tcase_add_test(tc, maximums);
    tcase_add_test(tc, ranges);
    tcase_add_test(tc, units_are_one_unit_in_their_spellings);
    tcase_add_test(tc, a_unit_that_disagrees_is_not_machine_checked);
    tcase_add_test(tc, texts_that_state_no_limit_are_not_read);
    suite_add_tcase(s, tc);
    return s;
}
