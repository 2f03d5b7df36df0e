/* clock.c — real or simulated node clock, and RFC 3339 event times read and written with the
 * module's civil-time code (plugin/core/dates.h); see clock.h. */
#include "run/clock.h"

#include "core/dates.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z */
#define MIN_MS (INT64_C(-62135596800000))
#define MAX_MS (INT64_C(253402300799999))

static int64_t real_time_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0; /* cannot happen for CLOCK_REALTIME; the monotonic clamp keeps us sane */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void host_clock_init_real(host_clock *clock)
{
    clock->simulated = false;
    clock->now_ms = real_time_ms();
}

void host_clock_init_simulated(host_clock *clock, int64_t start_ms)
{
    clock->simulated = true;
    clock->now_ms = start_ms;
}

int64_t host_clock_now_ms(host_clock *clock)
{
    if (!clock->simulated) {
        int64_t now = real_time_ms();
        if (now > clock->now_ms)
            clock->now_ms = now;
    }
    return clock->now_ms;
}

int host_clock_advance(host_clock *clock, int64_t time_ms)
{
    if (!clock->simulated)
        return 0;
    if (time_ms < clock->now_ms)
        return -ERANGE;
    clock->now_ms = time_ms;
    return 0;
}

void host_clock_restore(host_clock *clock, int64_t time_ms)
{
    if (clock->simulated)
        clock->now_ms = time_ms;
}

static int fail(char *why, size_t why_size, const char *text, const char *reason)
{
    if (why != NULL)
        snprintf(why, why_size, "'%.64s' is not an RFC 3339 timestamp (%s)", text, reason);
    return -EINVAL;
}

/* The host's words for the reader's faults (core/dates.h), as its messages have said them. */
static const char *fault_reason(date_fault fault)
{
    switch (fault) {
    case DATE_FAULT_YEAR_DIGITS: return "a year of more than four digits is outside 0001-9999";
    case DATE_FAULT_DATE_SYNTAX: return "expected YYYY-MM-DDTHH:MM:SS and an offset";
    case DATE_FAULT_T: return "expected 'T' between date and time";
    case DATE_FAULT_TIME_SYNTAX: return "expected HH:MM:SS";
    case DATE_FAULT_FRACTION: return "expected digits after '.'";
    case DATE_FAULT_OFFSET_MISSING: return "missing offset: add Z or +HH:MM";
    case DATE_FAULT_OFFSET_SYNTAX: return "expected an offset Z or +HH:MM";
    case DATE_FAULT_OFFSET_RANGE: return "offset out of range";
    case DATE_FAULT_TRAILING: return "unexpected text after the offset";
    case DATE_FAULT_YEAR_ZERO: return "year 0000 is outside 0001-9999";
    case DATE_FAULT_MONTH: return "month out of range";
    case DATE_FAULT_DAY: return "no such day in that month";
    case DATE_FAULT_TIME_RANGE: return "time of day out of range";
    case DATE_FAULT_LEAP_SECOND:
    case DATE_FAULT_SECOND_RANGE: return "seconds out of range (leap seconds are not accepted)";
    case DATE_FAULT_INSTANT_RANGE: return "its instant (UTC) is outside years 0001-9999";
    case DATE_FAULT_NONE: break;
    }
    return "expected YYYY-MM-DDTHH:MM:SS and an offset";
}

int rfc3339_parse(const char *text, int64_t *out_ms, char *why, size_t why_size)
{
    date_value v;
    date_fault fault = date_scan(text, &v);
    /* A date alone, well formed, names no instant: an event's time needs one. */
    if (!v.has_time && fault != DATE_FAULT_YEAR_DIGITS && fault != DATE_FAULT_DATE_SYNTAX)
        fault = DATE_FAULT_T;
    if (fault != DATE_FAULT_NONE)
        return fail(why, why_size, text, fault_reason(fault));
    *out_ms = v.instant_ms;
    return 0;
}

/* Writes `value` as exactly `width` decimal digits (value < 10^width). */
static void put_digits(char *out, unsigned value, int width)
{
    for (int i = width - 1; i >= 0; i--, value /= 10)
        out[i] = (char)('0' + value % 10);
}

void rfc3339_format_ms(int64_t ms, char *out)
{
    if (ms < MIN_MS)
        ms = MIN_MS;
    if (ms > MAX_MS)
        ms = MAX_MS;
    civil_day days = civil_day_of_instant(ms, 0);
    int64_t rem = ms - days * MS_PER_DAY;
    int year, month, day;
    civil_to_ymd(days, &year, &month, &day);
    unsigned ms_of_day = (unsigned)rem;
    /* By hand, not snprintf: every ledger record's time is formatted here. The clamp above
     * keeps the year within 4 digits. */
    memcpy(out, "0000-00-00T00:00:00.000Z", RFC3339_MS_LEN + 1);
    put_digits(out, (unsigned)year, 4);
    put_digits(out + 5, (unsigned)month, 2);
    put_digits(out + 8, (unsigned)day, 2);
    put_digits(out + 11, ms_of_day / MS_PER_HOUR, 2);
    put_digits(out + 14, ms_of_day / MS_PER_MINUTE % 60, 2);
    put_digits(out + 17, ms_of_day / MS_PER_SECOND % 60, 2);
    put_digits(out + 20, ms_of_day % MS_PER_SECOND, 3);
}
