/* A reading re-judged with the size of its reference's finding (plugin/core/finding_size.c):
 * the point chosen, proportional or offset, exact on the limit, and the calibration's nominal
 * corrected. */
#include "core/finding_size.h"

#include "check_main.h"
#include <math.h>
#include <stdlib.h>

static decimal dec(double v)
{
    decimal d;
    ck_assert(decimal_from_double(v, &d));
    return d;
}

static finding_point point(double nominal, double as_found)
{
    return (finding_point){dec(nominal), dec(as_found)};
}

static finding_limits at_least(double min)
{
    return (finding_limits){.has_min = true, .min = dec(min)};
}

static finding_limits between(double min, double max)
{
    return (finding_limits){.has_min = true, .min = dec(min), .has_max = true, .max = dec(max)};
}

/* By value, for limits built in the call. */
static int judged(const corrected_value *c, finding_limits limits)
{
    return finding_within(c, &limits);
}

/* The radiometer found 10 % high at both UV-A points (1100 at 1000, 2200 at 2000). */
static const double RADIOMETER[][2] = {{1000, 1100}, {2000, 2200}};

static finding_size radiometer_size(double near)
{
    finding_point p[2] = {point(RADIOMETER[0][0], RADIOMETER[0][1]),
                          point(RADIOMETER[1][0], RADIOMETER[1][1])};
    finding_size f;
    ck_assert(finding_size_pick(p, 2, dec(near), &f));
    return f;
}

START_TEST(a_reading_taken_with_a_meter_read_10_percent_high_is_divided_by_1_10)
{
    finding_size f = radiometer_size(1050);
    ck_assert_int_eq(f.rule, FINDING_PROPORTIONAL);
    ck_assert(decimal_compare(f.nominal, dec(1000)) == 0);
    corrected_value c;
    ck_assert(finding_correct_reading(&f, dec(1050), &c));
    ck_assert_double_eq_tol(corrected_value_to_double(&c), 1050 / 1.1, 1e-9);
    ck_assert_int_eq(judged(&c, at_least(1000)), 0); /* 954.5: would have failed */
    ck_assert(finding_correct_reading(&f, dec(1210), &c));
    ck_assert_int_eq(judged(&c, at_least(1000)), 1); /* 1100: still passes */
}
END_TEST

START_TEST(a_corrected_value_exactly_on_the_limit_meets_it)
{
    finding_size f = radiometer_size(1100);
    corrected_value c;
    ck_assert(finding_correct_reading(&f, dec(1100), &c)); /* 1100 ÷ 1.1 = 1000 exactly */
    ck_assert_int_eq(judged(&c, at_least(1000)), 1);
    ck_assert(finding_correct_reading(&f, dec(1099.99), &c));
    ck_assert_int_eq(judged(&c, at_least(1000)), 0);
    ck_assert_int_eq(judged(&c, (finding_limits){0}), 1);
}
END_TEST

START_TEST(the_nearest_point_is_used)
{
    /* 5 % high at 1000, 10 % high at 2000: a reading of 1900 is corrected by 10 %. */
    finding_point p[2] = {point(1000, 1050), point(2000, 2200)};
    finding_size f;
    ck_assert(finding_size_pick(p, 2, dec(1900), &f));
    ck_assert(decimal_compare(f.as_found, dec(2200)) == 0);
    ck_assert(finding_size_pick(p, 2, dec(1400), &f));
    ck_assert(decimal_compare(f.as_found, dec(1050)) == 0);
    ck_assert(finding_size_pick(p, 2, dec(1500), &f)); /* as near: the first given */
    ck_assert(decimal_compare(f.as_found, dec(1050)) == 0);
}
END_TEST

START_TEST(one_offset_at_every_point_is_an_offset)
{
    /* A gaussmeter reading 0.8 G high at 10 and at 30 G: an offset, not a ratio. */
    finding_point p[2] = {point(10, 10.8), point(30, 30.8)};
    finding_size f;
    ck_assert(finding_size_pick(p, 2, dec(2), &f));
    ck_assert_int_eq(f.rule, FINDING_OFFSET);
    corrected_value c;
    ck_assert(finding_correct_reading(&f, dec(2.5), &c));
    ck_assert_double_eq_tol(corrected_value_to_double(&c), 1.7, 1e-12);
    ck_assert_int_eq(judged(&c, between(0, 1.7)), 1); /* exactly 1.7 */
    ck_assert_int_eq(judged(&c, between(0, 1.69)), 0);
    /* One point only: proportional, except at nominal 0. */
    ck_assert(finding_size_pick(p, 1, dec(2), &f));
    ck_assert_int_eq(f.rule, FINDING_PROPORTIONAL);
    finding_point zero = point(0, 0.3);
    ck_assert(finding_size_pick(&zero, 1, dec(2), &f));
    ck_assert_int_eq(f.rule, FINDING_OFFSET);
}
END_TEST

START_TEST(no_size_without_a_usable_point)
{
    finding_size f;
    ck_assert(!finding_size_pick(NULL, 0, dec(1), &f));
    finding_point found_at_zero = point(1000, 0);
    ck_assert(!finding_size_pick(&found_at_zero, 1, dec(1000), &f));
    finding_point other_side = point(1000, -5);
    ck_assert(!finding_size_pick(&other_side, 1, dec(1000), &f));
}
END_TEST

START_TEST(a_calibration_made_against_a_standard_read_high_is_judged_against_what_it_gave)
{
    /* The radiometer left reading 1000 at the standard's 1000; the standard read 10 % high,
     * so it really gave 909.09: the radiometer reads 1090.9 at a true 1000, outside ± 50. */
    finding_size f = radiometer_size(1000);
    corrected_value c;
    ck_assert(finding_correct_against_nominal(&f, dec(1000), dec(1000), &c));
    ck_assert_double_eq_tol(corrected_value_to_double(&c), 1000 + 1000 - 1000 / 1.1, 1e-9);
    ck_assert_int_eq(judged(&c, between(950, 1050)), 0);
    /* Left reading 909.09 would have been in tolerance. */
    ck_assert(finding_correct_against_nominal(&f, dec(909.09), dec(1000), &c));
    ck_assert_int_eq(judged(&c, between(950, 1050)), 1);
    /* An offset standard: 2 high at every point; 1000 against it is really 1002. */
    finding_point p[2] = {point(1000, 1002), point(2000, 2002)};
    ck_assert(finding_size_pick(p, 2, dec(1000), &f));
    ck_assert(finding_correct_against_nominal(&f, dec(1000), dec(1000), &c));
    ck_assert_double_eq_tol(corrected_value_to_double(&c), 1002, 1e-12);
}
END_TEST

START_TEST(what_cannot_be_computed_exactly_is_not_judged)
{
    finding_size f = {
        .rule = FINDING_PROPORTIONAL, .nominal = {123456789012345678LL, 0}, .as_found = {1, 0}};
    corrected_value c;
    ck_assert(!finding_correct_reading(&f, (decimal){987654321987654321LL, 0}, &c));
    c = (corrected_value){.num = {1, 0}, .den = {999999999999999999LL, 0}};
    finding_limits l = {.has_min = true, .min = {999999999999999999LL, 0}};
    ck_assert_int_eq(finding_within(&c, &l), -1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("finding-size");
    TCase *tc = tcase_create("re-judged");
    tcase_add_test(tc, a_reading_taken_with_a_meter_read_10_percent_high_is_divided_by_1_10);
    tcase_add_test(tc, a_corrected_value_exactly_on_the_limit_meets_it);
    tcase_add_test(tc, the_nearest_point_is_used);
    tcase_add_test(tc, one_offset_at_every_point_is_an_offset);
    tcase_add_test(tc, no_size_without_a_usable_point);
    tcase_add_test(tc,
                   a_calibration_made_against_a_standard_read_high_is_judged_against_what_it_gave);
    tcase_add_test(tc, what_cannot_be_computed_exactly_is_not_judged);
    suite_add_tcase(s, tc);
    return s;
}
