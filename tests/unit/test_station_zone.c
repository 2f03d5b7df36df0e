/* The station's civil time (station_zone.h): its table against ICU itself, its days, midnights
 * and wall times across daylight-saving changes, and the readiness rules that read it. */
#include "check_main.h"
#include "core/readiness.h"
#include "zone/station_zone.h"

#include <string.h>
#include <unicode/ucal.h>

#define MINUTE INT64_C(60000)
#define HOUR   INT64_C(3600000)
#define DAY    INT64_C(86400000)

static int64_t at(const char *rfc3339)
{
    date_value v;
    ck_assert_msg(date_parse(rfc3339, &v, NULL, 0) == 0, "cannot parse %s", rfc3339);
    return v.instant_ms;
}

static civil_day day(const char *date)
{
    date_value v;
    ck_assert_msg(date_parse(date, &v, NULL, 0) == 0, "cannot parse %s", date);
    return v.day;
}

static station_zone *zone(const char *name)
{
    station_zone *z = NULL;
    smart_error err = {0};
    ck_assert_msg(station_zone_open(name, "config.time_zone", &z, &err) == 0, "%s: %s", name,
                  err.text);
    return z;
}

static station_zone *fixed(int minutes)
{
    station_zone *z = NULL;
    smart_error err = {0};
    ck_assert_int_eq(station_zone_fixed(minutes, &z, &err), 0);
    return z;
}

#define ck_assert_instant(actual, expected)                                                        \
    do {                                                                                           \
        char got_[32];                                                                             \
        instant_format((actual), got_, sizeof got_);                                               \
        ck_assert_str_eq(got_, (expected));                                                        \
    } while (0)

/* ---- the table against ICU ------------------------------------------------------------------ */

static uint64_t next_random(uint64_t *state) /* xorshift64: fixed seed, same cases every run */
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static int32_t icu_offset(UCalendar *cal, int64_t instant_ms)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)instant_ms, &st);
    int32_t offset = ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st);
    ck_assert(U_SUCCESS(st));
    return offset;
}

static const char *const zones[] = {"Europe/Berlin",       "Australia/Sydney", "America/Sao_Paulo",
                                    "America/New_York",    "America/Santiago", "Africa/Casablanca",
                                    "Australia/Lord_Howe", "Pacific/Chatham",  "Asia/Kolkata",
                                    "Pacific/Apia",        "Europe/Dublin",    "Antarctica/Troll"};

/* Every instant from year 1900 to 9999 (the dates the module reads), including the table's
 * far end where it repeats the final rule, and either side of every transition ICU reports. */
START_TEST(offsets_are_icus_from_1900_to_9999)
{
    const char *name = zones[_i];
    station_zone *z = zone(name);
    UChar id[64];
    size_t len = strlen(name);
    for (size_t i = 0; i <= len; i++)
        id[i] = (UChar)name[i];
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
    ck_assert(U_SUCCESS(st));
    const int64_t from = at("1900-01-01T00:00:00Z"), to = at("9999-12-31T00:00:00Z");
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 4000; i++) {
        int64_t t = from + (int64_t)(next_random(&seed) % (uint64_t)(to - from));
        ck_assert_msg(station_zone_offset_ms(z, t) == icu_offset(cal, t), "%s at %lld", name,
                      (long long)t);
    }
    /* Transitions: walk ICU's own list up to 2700 (past the table's end at 2600). */
    UDate d = (UDate)from;
    ucal_setMillis(cal, d, &st);
    int transitions = 0;
    while (ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_NEXT, &d, &st) &&
           d < (UDate)at("2700-01-01T00:00:00Z")) {
        int64_t t = (int64_t)d;
        ck_assert_int_eq(station_zone_offset_ms(z, t), icu_offset(cal, t));
        ck_assert_int_eq(station_zone_offset_ms(z, t - 1), icu_offset(cal, t - 1));
        ucal_setMillis(cal, d, &st);
        transitions++;
    }
    /* the walk compared something: ICU answered, and every zone here has changed since 1900 */
    ck_assert_msg(U_SUCCESS(st), "%s: ICU: %s", name, u_errorName(st));
    ck_assert_msg(transitions > 0, "%s: ICU reported no transition to compare", name);
    ucal_close(cal);
    station_zone_free(z);
}
END_TEST

/* Whatever the zone: a day starts at its first instant, and a wall time is the first instant
 * that reads it, or (skipped) the end of its gap. */
START_TEST(day_starts_and_wall_times_are_consistent)
{
    station_zone *z = zone(zones[_i]);
    uint64_t seed = 0x2545f4914f6cdd1du;
    const civil_day first = day("1900-01-02"), last = day("9999-12-30");
    for (int i = 0; i < 4000; i++) {
        civil_day d = first + (civil_day)(next_random(&seed) % (uint64_t)(last - first));
        int64_t start = station_zone_day_start_ms(z, d);
        ck_assert_int_eq(station_zone_day(z, start), d);
        ck_assert_int_eq(station_zone_day(z, start - 1), d - 1);
        int minutes = (int)(next_random(&seed) % 1440);
        int64_t wall = (int64_t)d * DAY + minutes * MINUTE;
        int64_t t = station_zone_local_ms(z, d, minutes);
        if (t + station_zone_offset_ms(z, t) == wall) {
            /* no earlier instant reads the same (only another offset could give one) */
            for (int64_t back = 15 * MINUTE; back <= 3 * HOUR; back += 15 * MINUTE)
                ck_assert(t - back + station_zone_offset_ms(z, t - back) != wall);
        } else { /* in a gap: the clock jumps over `wall` at t */
            ck_assert_int_lt(t - 1 + station_zone_offset_ms(z, t - 1), wall);
            ck_assert_int_gt(t + station_zone_offset_ms(z, t), wall);
        }
    }
    station_zone_free(z);
}
END_TEST

/* ---- the days around Berlin's changes of 2025 ------------------------------------------------ */

START_TEST(berlin_2025_days_and_wall_times)
{
    station_zone *z = zone("Europe/Berlin");
    ck_assert_str_eq(station_zone_name(z), "Europe/Berlin");
    ck_assert_int_eq(station_zone_offset_ms(z, at("2025-03-30T00:59:59Z")), 1 * HOUR);
    ck_assert_int_eq(station_zone_offset_ms(z, at("2025-03-30T01:00:00Z")), 2 * HOUR);
    ck_assert_int_eq(station_zone_offset_ms(z, at("2025-10-26T00:59:59Z")), 2 * HOUR);
    ck_assert_int_eq(station_zone_offset_ms(z, at("2025-10-26T01:00:00Z")), 1 * HOUR);
    /* 30 March has 23 hours, 26 October 25 */
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-03-30")), "2025-03-29T23:00:00Z");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-03-31")), "2025-03-30T22:00:00Z");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-10-26")), "2025-10-25T22:00:00Z");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-10-27")), "2025-10-26T23:00:00Z");
    ck_assert_int_eq(station_zone_day(z, at("2025-03-29T22:59:59Z")), day("2025-03-29"));
    ck_assert_int_eq(station_zone_day(z, at("2025-03-29T23:00:00Z")), day("2025-03-30"));
    ck_assert_int_eq(station_zone_day(z, at("2025-10-25T21:59:59Z")), day("2025-10-25"));
    ck_assert_int_eq(station_zone_day(z, at("2025-10-25T22:00:00Z")), day("2025-10-26"));
    ck_assert_int_eq(station_zone_day(z, at("2025-10-26T22:59:59Z")), day("2025-10-26"));
    /* 02:30 on 30 March never shows: the gap ends at 03:00 CEST */
    ck_assert_instant(station_zone_local_ms(z, day("2025-03-30"), 150), "2025-03-30T01:00:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-03-30"), 120), "2025-03-30T01:00:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-03-30"), 180), "2025-03-30T01:00:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-03-30"), 119), "2025-03-30T00:59:00Z");
    /* 02:30 on 26 October shows twice: the first, in CEST */
    ck_assert_instant(station_zone_local_ms(z, day("2025-10-26"), 150), "2025-10-26T00:30:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-10-26"), 180), "2025-10-26T02:00:00Z");
    station_zone_free(z);
}
END_TEST

/* A southern zone: Sydney leaves summer time on 6 April 2025 and starts it on 5 October. */
START_TEST(sydney_2025_days_and_wall_times)
{
    station_zone *z = zone("Australia/Sydney");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-04-06")), "2025-04-05T13:00:00Z");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-04-07")), "2025-04-06T14:00:00Z");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-10-05")), "2025-10-04T14:00:00Z");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-10-06")), "2025-10-05T13:00:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-10-05"), 150), "2025-10-04T16:00:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-04-06"), 150), "2025-04-05T15:30:00Z");
    station_zone_free(z);
}
END_TEST

/* A zone whose clocks skip midnight itself (Chile's spring change is at 24:00): the day
 * begins at 01:00, its first instant. */
START_TEST(a_day_whose_midnight_is_skipped_begins_when_the_gap_ends)
{
    station_zone *z = zone("America/Santiago");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-09-07")), "2025-09-07T04:00:00Z");
    ck_assert_int_eq(station_zone_day(z, at("2025-09-07T03:59:59Z")), day("2025-09-06"));
    station_zone_free(z);
}
END_TEST

START_TEST(fixed_offsets_and_bad_names)
{
    station_zone *z = fixed(5 * 60 + 30);
    ck_assert_str_eq(station_zone_name(z), "+05:30");
    ck_assert_instant(station_zone_day_start_ms(z, day("2025-03-30")), "2025-03-29T18:30:00Z");
    ck_assert_instant(station_zone_local_ms(z, day("2025-03-30"), 150), "2025-03-29T21:00:00Z");
    ck_assert_int_eq(station_zone_day(z, at("2025-03-29T18:29:59Z")), day("2025-03-29"));
    station_zone_free(z);
    z = fixed(-12 * 60);
    ck_assert_str_eq(station_zone_name(z), "-12:00");
    station_zone_free(z);

    smart_error err = {0};
    const char *bad[] = {"Europe/Atlantis", "europe/berlin", "GMT+5", "", "Europe/Berlin\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        z = (station_zone *)1;
        ck_assert_int_eq(station_zone_open(bad[i], "config.time_zone", &z, &err), SMART_EINVAL);
        ck_assert_ptr_null(z);
        ck_assert_msg(strncmp(err.text, "config.time_zone: ", 18) == 0, "%s", err.text);
        ck_assert_ptr_null(strchr(err.text, '\n'));
    }
    station_zone_open("Europe/Atlantis", "config.time_zone", &z, &err);
    ck_assert_ptr_nonnull(strstr(err.text, "'Europe/Atlantis'"));
}
END_TEST

/* ---- the readiness rules on the station's day ----------------------------------------------- */

static contract owner = {.shift_starts = {150, 6 * 60, 14 * 60, 22 * 60}, .shift_count = 4};

static int64_t valid_until(station_zone *z, check_frequency f, int every, const char *done)
{
    procedure p = {.frequency = f, .every = every, .owner = &owner};
    return check_valid_until(&p, at(done), z);
}

/* A daily check done late on the evening before a change lasts to that day's midnight, not an
 * hour into the next day (spring) nor an hour short of it (autumn); on the day of the change
 * the day is 23 or 25 hours long. */
START_TEST(daily_and_weekly_checks_end_with_the_local_day)
{
    station_zone *z = zone("Europe/Berlin");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 1, "2025-03-29T22:30:00Z"), "2025-03-29T23:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 1, "2025-03-30T10:00:00Z"), "2025-03-30T22:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 1, "2025-10-25T21:30:00Z"), "2025-10-25T22:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 1, "2025-10-26T10:00:00Z"), "2025-10-26T23:00:00Z");
    /* weekly: a Monday's check in summer time lasts through Sunday, in winter time */
    ck_assert_instant(valid_until(z, FREQ_DAYS, 7, "2025-10-20T08:00:00Z"), "2025-10-26T23:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 7, "2025-03-24T08:00:00Z"), "2025-03-30T22:00:00Z");
    station_zone_free(z);
    z = zone("Australia/Sydney");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 1, "2025-04-05T12:30:00Z"), "2025-04-05T13:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_DAYS, 1, "2025-10-04T13:30:00Z"), "2025-10-04T14:00:00Z");
    station_zone_free(z);
}
END_TEST

/* Shifts start at 02:30, 06:00, 14:00 and 22:00 on the wall clock. */
START_TEST(per_shift_checks_end_at_the_next_shift_on_the_wall_clock)
{
    station_zone *z = zone("Europe/Berlin");
    /* 22:30 CET: the 02:30 shift of 30 March starts when the gap ends, 03:00 CEST */
    ck_assert_instant(valid_until(z, FREQ_PER_SHIFT, 0, "2025-03-29T21:30:00Z"),
                      "2025-03-30T01:00:00Z");
    /* 03:30 CEST: the 06:00 shift is at 04:00Z, no longer 05:00Z */
    ck_assert_instant(valid_until(z, FREQ_PER_SHIFT, 0, "2025-03-30T01:30:00Z"),
                      "2025-03-30T04:00:00Z");
    /* 22:30 CEST: 02:30 on 26 October comes first in CEST */
    ck_assert_instant(valid_until(z, FREQ_PER_SHIFT, 0, "2025-10-25T20:30:00Z"),
                      "2025-10-26T00:30:00Z");
    /* 02:00 CET, after the clocks went back: that shift has begun; the next is 06:00 CET */
    ck_assert_instant(valid_until(z, FREQ_PER_SHIFT, 0, "2025-10-26T01:00:00Z"),
                      "2025-10-26T05:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_PER_SHIFT, 0, "2025-10-26T10:00:00Z"),
                      "2025-10-26T13:00:00Z");
    ck_assert_instant(valid_until(z, FREQ_PER_SHIFT, 0, "2025-10-26T22:00:00Z"),
                      "2025-10-27T01:30:00Z");
    station_zone_free(z);
}
END_TEST

static contract plain = {.shift_count = 0};

static readiness assess_on(station_zone *z, const char *calibrated, int interval, const char *now,
                           const char *planned_end)
{
    contract_item item = {.terms = {.interval_days = interval, .warning_days = 0}, .owner = &plain};
    cal_record record = {.has_calibration = true, .calibrated_on = day(calibrated)};
    readiness_input in = {.terms = &item,
                          .record = &record,
                          .now_ms = at(now),
                          .zone = z,
                          .planned_end_ms = planned_end ? at(planned_end) : 0};
    readiness r;
    readiness_assess(&in, &r);
    return r;
}

/* Due on the day of a change: valid through that local day, expired from the next one's
 * start, and a job planned past that day's end is refused. */
START_TEST(a_calibration_due_on_the_day_of_a_change_ends_with_that_local_day)
{
    station_zone *z = zone("Europe/Berlin");
    readiness r = assess_on(z, "2024-03-30", 365, "2025-03-30T21:59:59Z", NULL);
    ck_assert_str_eq(cal_status_name(r.calibration.status), "expiring_soon");
    ck_assert(r.ready);
    r = assess_on(z, "2024-03-30", 365, "2025-03-30T22:00:00Z", NULL);
    ck_assert_str_eq(cal_status_name(r.calibration.status), "expired");
    ck_assert(!r.ready);
    r = assess_on(z, "2024-03-30", 365, "2025-03-30T20:00:00Z", "2025-03-30T22:30:00Z");
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "calibration valid through 2025-03-30"));
    r = assess_on(z, "2024-03-30", 365, "2025-03-30T20:00:00Z", "2025-03-30T21:59:00Z");
    ck_assert(r.ready);

    r = assess_on(z, "2024-10-26", 365, "2025-10-26T22:59:59Z", NULL);
    ck_assert_str_eq(cal_status_name(r.calibration.status), "expiring_soon");
    r = assess_on(z, "2024-10-26", 365, "2025-10-26T23:00:00Z", NULL);
    ck_assert_str_eq(cal_status_name(r.calibration.status), "expired");
    r = assess_on(z, "2024-10-26", 365, "2025-10-26T20:00:00Z", "2025-10-26T22:30:00Z");
    ck_assert(r.ready);
    station_zone_free(z);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("station_zone");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    size_t n = sizeof zones / sizeof zones[0];
    tcase_add_loop_test(tc, offsets_are_icus_from_1900_to_9999, 0, (int)n);
    tcase_add_loop_test(tc, day_starts_and_wall_times_are_consistent, 0, (int)n);
    tcase_add_test(tc, berlin_2025_days_and_wall_times);
    tcase_add_test(tc, sydney_2025_days_and_wall_times);
    tcase_add_test(tc, a_day_whose_midnight_is_skipped_begins_when_the_gap_ends);
    tcase_add_test(tc, fixed_offsets_and_bad_names);
    tcase_add_test(tc, daily_and_weekly_checks_end_with_the_local_day);
    tcase_add_test(tc, per_shift_checks_end_at_the_next_shift_on_the_wall_clock);
    tcase_add_test(tc, a_calibration_due_on_the_day_of_a_change_ends_with_that_local_day);
    suite_add_tcase(s, tc);
    return s;
}
