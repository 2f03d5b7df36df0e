/* clock.c — real or simulated node clock and RFC 3339; see clock.h. */
#include "run/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY INT64_C(86400000)
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

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
int64_t days_from_civil(int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    const int64_t era = (year >= 0 ? year : year - 399) / 400;
    const unsigned yoe = (unsigned)(year - era * 400);
    const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *year, unsigned *month, unsigned *day)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2);
}

static unsigned days_in_month(int64_t year, unsigned month)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* Read exactly `n` digits at *p; advances *p. Returns -1 when they are not all digits. */
static int read_digits(const char **p, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
    }
    *p += n;
    return value;
}

static int fail(char *why, size_t why_size, const char *text, const char *reason)
{
    if (why != NULL)
        snprintf(why, why_size, "'%.64s' is not an RFC 3339 timestamp (%s)", text, reason);
    return -EINVAL;
}

int rfc3339_parse(const char *text, int64_t *out_ms, char *why, size_t why_size)
{
    const char *p = text;
    int year = read_digits(&p, 4);
    if (year >= 0 && *p >= '0' && *p <= '9')
        return fail(why, why_size, text, "a year of more than four digits is outside 0001-9999");
    if (year < 0 || *p++ != '-')
        return fail(why, why_size, text, "expected YYYY-MM-DDTHH:MM:SS and an offset");
    int month = read_digits(&p, 2);
    if (month < 0 || *p++ != '-')
        return fail(why, why_size, text, "expected YYYY-MM-DDTHH:MM:SS and an offset");
    int day = read_digits(&p, 2);
    if (day < 0)
        return fail(why, why_size, text, "expected YYYY-MM-DDTHH:MM:SS and an offset");
    if (*p != 'T' && *p != 't')
        return fail(why, why_size, text, "expected 'T' between date and time");
    p++;
    int hour = read_digits(&p, 2);
    if (hour < 0 || *p++ != ':')
        return fail(why, why_size, text, "expected HH:MM:SS");
    int minute = read_digits(&p, 2);
    if (minute < 0 || *p++ != ':')
        return fail(why, why_size, text, "expected HH:MM:SS");
    int second = read_digits(&p, 2);
    if (second < 0)
        return fail(why, why_size, text, "expected HH:MM:SS");
    int millis = 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return fail(why, why_size, text, "expected digits after '.'");
        for (int scale = 100; *p >= '0' && *p <= '9'; p++, scale /= 10)
            millis += (*p - '0') * scale; /* scale reaches 0 after 3 digits: truncation */
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int off_h = read_digits(&p, 2);
        if (off_h < 0 || *p++ != ':')
            return fail(why, why_size, text, "expected an offset Z or +HH:MM");
        int off_m = read_digits(&p, 2);
        if (off_m < 0)
            return fail(why, why_size, text, "expected an offset Z or +HH:MM");
        if (off_h > 23 || off_m > 59)
            return fail(why, why_size, text, "offset out of range");
        offset_min = sign * (off_h * 60 + off_m);
    } else {
        return fail(why, why_size, text, "missing offset: add Z or +HH:MM");
    }
    if (*p != '\0')
        return fail(why, why_size, text, "unexpected text after the offset");
    if (year < 1)
        return fail(why, why_size, text, "year 0000 is outside 0001-9999");
    if (month < 1 || month > 12)
        return fail(why, why_size, text, "month out of range");
    if (day < 1 || (unsigned)day > days_in_month(year, (unsigned)month))
        return fail(why, why_size, text, "no such day in that month");
    if (hour > 23 || minute > 59)
        return fail(why, why_size, text, "time of day out of range");
    if (second > 59)
        return fail(why, why_size, text, "seconds out of range (leap seconds are not accepted)");
    int64_t days = days_from_civil(year, (unsigned)month, (unsigned)day);
    int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    /* The instant, not only the text, must lie in years 0001-9999: its offset may carry
     * 9999-12-31T23:00-05:00 into year 10000 UTC, which no timestamp can be written for. */
    if (seconds < days_from_civil(1, 1, 1) * 86400 ||
        seconds >= (days_from_civil(9999, 12, 31) + 1) * 86400)
        return fail(why, why_size, text, "its instant (UTC) is outside years 0001-9999");
    *out_ms = seconds * 1000 + millis;
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
    int64_t days = ms / MS_PER_DAY;
    int64_t rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    unsigned ms_of_day = (unsigned)rem;
    /* By hand, not snprintf: every ledger record's time is formatted here. The clamp above
     * keeps the year within 4 digits. */
    memcpy(out, "0000-00-00T00:00:00.000Z", RFC3339_MS_LEN + 1);
    put_digits(out, (unsigned)year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, ms_of_day / 3600000, 2);
    put_digits(out + 14, ms_of_day / 60000 % 60, 2);
    put_digits(out + 17, ms_of_day / 1000 % 60, 2);
    put_digits(out + 20, ms_of_day % 1000, 3);
}
