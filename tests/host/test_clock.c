/*
 * test_clock.c — RFC 3339 parsing and formatting, and the simulated and real clocks.
 */
#include "check_main.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "run/clock.h"

/* 2025-02-13T08:00:00Z */
static const int64_t FEB13_0800 = INT64_C(1739433600000);

static int64_t parse_ok(const char *text)
{
    int64_t ms = 0;
    char why[200] = "";
    ck_assert_msg(rfc3339_parse(text, &ms, why, sizeof why) == 0, "%s: %s", text, why);
    return ms;
}

static void parse_fails(const char *text, const char *reason)
{
    int64_t ms = 0;
    char why[300] = "";
    ck_assert_int_eq(rfc3339_parse(text, &ms, why, sizeof why), -EINVAL);
    ck_assert_msg(strstr(why, reason) != NULL, "%s: got '%s', wanted '%s'", text, why, reason);
}

START_TEST(utc_and_offsets)
{
    ck_assert_int_eq(parse_ok("2025-02-13T08:00:00Z"), FEB13_0800);
    ck_assert_int_eq(parse_ok("2025-02-13t08:00:00z"), FEB13_0800);
    ck_assert_int_eq(parse_ok("2025-02-13T09:30:00+01:30"), FEB13_0800);
    ck_assert_int_eq(parse_ok("2025-02-13T03:00:00-05:00"), FEB13_0800);
    ck_assert_int_eq(parse_ok("2025-02-12T23:00:00-09:00"), FEB13_0800);
    ck_assert_int_eq(parse_ok("2025-02-13T08:00:00+00:00"), FEB13_0800);
    ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(parse_ok("1969-12-31T23:59:59.999Z"), -1);
}
END_TEST

START_TEST(fractional_seconds)
{
    ck_assert_int_eq(parse_ok("2025-02-13T08:00:00.5Z"), FEB13_0800 + 500);
    ck_assert_int_eq(parse_ok("2025-02-13T08:00:00.123Z"), FEB13_0800 + 123);
    ck_assert_int_eq(parse_ok("2025-02-13T08:00:00.123999999Z"), FEB13_0800 + 123);
    ck_assert_int_eq(parse_ok("2025-02-13T09:00:00.250+01:00"), FEB13_0800 + 250);
    parse_fails("2025-02-13T08:00:00.Z", "digits after '.'");
}
END_TEST

START_TEST(calendar_is_checked)
{
    parse_fails("2025-02-30T08:00:00Z", "no such day");
    parse_fails("2025-02-29T08:00:00Z", "no such day");
    parse_fails("1900-02-29T08:00:00Z", "no such day");
    parse_fails("2025-04-31T08:00:00Z", "no such day");
    parse_fails("2025-13-01T08:00:00Z", "month out of range");
    parse_fails("2025-00-10T08:00:00Z", "month out of range");
    parse_fails("2025-01-00T08:00:00Z", "no such day");
    parse_ok("2024-02-29T08:00:00Z");
    parse_ok("2000-02-29T08:00:00Z");
    parse_ok("2025-12-31T23:59:59Z");
}
END_TEST

START_TEST(syntax_is_strict)
{
    parse_fails("2025-02-13T08:00:00", "missing offset");
    parse_fails("2025-02-13", "expected 'T'");
    parse_fails("2025-02-13 08:00:00Z", "expected 'T'");
    parse_fails("2025-2-13T08:00:00Z", "expected YYYY-MM-DD");
    parse_fails("2025-02-13T24:00:00Z", "time of day out of range");
    parse_fails("2025-02-13T08:60:00Z", "time of day out of range");
    parse_fails("2025-02-13T23:59:60Z", "leap seconds");
    parse_fails("2025-02-13T08:00:00Z trailing", "unexpected text");
    parse_fails("2025-02-13T08:00:00+0100", "offset");
    parse_fails("2025-02-13T08:00:00+24:00", "offset out of range");
    parse_fails("", "expected YYYY-MM-DD");
    parse_fails("yesterday", "expected YYYY-MM-DD");
}
END_TEST

/* Years 0001-9999, for the text and for the instant it names: no timestamp can be written for
 * one outside (the host's clock would give empty or clamped times). */
START_TEST(years_outside_1_to_9999_are_refused)
{
    parse_fails("0000-01-01T00:00:00Z", "year 0000 is outside 0001-9999");
    parse_fails("10000-01-01T00:00:00Z", "a year of more than four digits is outside 0001-9999");
    parse_fails("9999-12-31T23:00:00-05:00", "its instant (UTC) is outside years 0001-9999");
    parse_fails("0001-01-01T00:30:00+01:00", "its instant (UTC) is outside years 0001-9999");
    char text[RFC3339_MS_LEN + 1];
    rfc3339_format_ms(parse_ok("9999-12-31T23:59:59.999Z"), text);
    ck_assert_str_eq(text, "9999-12-31T23:59:59.999Z");
    rfc3339_format_ms(parse_ok("0001-01-01T00:00:00Z"), text);
    ck_assert_str_eq(text, "0001-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(format_with_milliseconds)
{
    char text[RFC3339_MS_LEN + 1];
    rfc3339_format_ms(FEB13_0800, text);
    ck_assert_str_eq(text, "2025-02-13T08:00:00.000Z");
    rfc3339_format_ms(FEB13_0800 + 86399999, text);
    ck_assert_str_eq(text, "2025-02-14T07:59:59.999Z");
    rfc3339_format_ms(-1, text);
    ck_assert_str_eq(text, "1969-12-31T23:59:59.999Z");
    rfc3339_format_ms(parse_ok("2024-02-29T12:34:56.789+02:00"), text);
    ck_assert_str_eq(text, "2024-02-29T10:34:56.789Z");
    /* Clamped to years 0001-9999. */
    rfc3339_format_ms(INT64_MIN, text);
    ck_assert_str_eq(text, "0001-01-01T00:00:00.000Z");
    rfc3339_format_ms(INT64_MAX, text);
    ck_assert_str_eq(text, "9999-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(simulated_clock_never_runs_backwards)
{
    host_clock clock;
    host_clock_init_simulated(&clock, FEB13_0800);
    ck_assert_int_eq(host_clock_now_ms(&clock), FEB13_0800);
    ck_assert_int_eq(host_clock_advance(&clock, FEB13_0800 + 1000), 0);
    ck_assert_int_eq(host_clock_now_ms(&clock), FEB13_0800 + 1000);
    ck_assert_int_eq(host_clock_advance(&clock, FEB13_0800 + 1000), 0); /* same time is fine */
    ck_assert_int_eq(host_clock_advance(&clock, FEB13_0800), -ERANGE);
    ck_assert_int_eq(host_clock_now_ms(&clock), FEB13_0800 + 1000); /* unchanged */
    host_clock_restore(&clock, FEB13_0800 + 500);
    ck_assert_int_eq(host_clock_now_ms(&clock), FEB13_0800 + 500);
}
END_TEST

START_TEST(real_clock_ignores_event_times)
{
    host_clock clock;
    host_clock_init_real(&clock);
    int64_t first = host_clock_now_ms(&clock);
    ck_assert_int_gt(first, FEB13_0800 - INT64_C(86400000) * 365 * 10);
    ck_assert_int_eq(host_clock_advance(&clock, 0), 0);
    ck_assert_int_ge(host_clock_now_ms(&clock), first);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("clock");
    TCase *tc = tcase_create("rfc3339");
    tcase_add_test(tc, utc_and_offsets);
    tcase_add_test(tc, fractional_seconds);
    tcase_add_test(tc, calendar_is_checked);
    tcase_add_test(tc, syntax_is_strict);
    tcase_add_test(tc, years_outside_1_to_9999_are_refused);
    tcase_add_test(tc, format_with_milliseconds);
    tcase_add_test(tc, simulated_clock_never_runs_backwards);
    tcase_add_test(tc, real_clock_ignores_event_times);
    suite_add_tcase(suite, tc);
    return suite;
}
