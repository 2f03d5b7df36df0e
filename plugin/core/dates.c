/* dates.c — civil-date arithmetic (Howard Hinnant's days_from_civil algorithm, public domain)
 * and the one strict reader of dates and RFC 3339 timestamps, for the module and the host. */
#include "core/dates.h"

#include <stdio.h>
#include <string.h>

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool civil_from_ymd(int y, int m, int d, civil_day *out)
{
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    y -= m <= 2;
    const int era = y / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = (civil_day)(era * 146097 + doe - 719468);
    return true;
}

void civil_to_ymd(civil_day z, int *year, int *month, int *mday)
{
    int64_t zz = (int64_t)z + 719468;
    const int64_t era = (zz >= 0 ? zz : zz - 146096) / 146097;
    const int64_t doe = zz - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = (int)m;
    *mday = (int)d;
}

/* Writes `value` as exactly `width` decimal digits (0 <= value < 10^width). */
static void put_digits(char *out, int value, int width)
{
    for (int i = width - 1; i >= 0; i--, value /= 10)
        out[i] = (char)('0' + value % 10);
}

/* Dates are formatted on every answer: by hand, not through snprintf. Years outside 1..9999
 * cannot be parsed in, so never reach here. */
void civil_format(civil_day day, char *out, size_t size)
{
    int y, m, d;
    civil_to_ymd(day, &y, &m, &d);
    if (size < 11 || y < 0 || y > 9999) {
        if (size)
            out[0] = '\0';
        return;
    }
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = '\0';
}

/* Division rounding towards minus infinity, so instants before 1970 land on the right day. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

civil_day civil_day_of_instant(int64_t instant_ms, int offset_minutes)
{
    return (civil_day)floor_div(instant_ms + (int64_t)offset_minutes * MS_PER_MINUTE, MS_PER_DAY);
}

void instant_format(int64_t instant_ms, char *out, size_t size)
{
    civil_day day = civil_day_of_instant(instant_ms, 0);
    int64_t secs = (instant_ms - (int64_t)day * MS_PER_DAY) / 1000;
    if (size < 21) { /* too small for any timestamp: say nothing rather than half of one */
        if (size)
            out[0] = '\0';
        return;
    }
    civil_format(day, out, size);
    out[10] = 'T';
    put_digits(out + 11, (int)(secs / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (int)(secs / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (int)(secs % 60), 2);
    out[19] = 'Z';
    out[20] = '\0';
}

/* Reads exactly n decimal digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Reads "Z" or "+HH:MM" / "-HH:MM" at *p (advanced past it) into minutes east of UTC. */
static date_fault read_offset(const char **p, int *minutes)
{
    const char *s = *p;
    int hh, mm;
    if (*s == 'Z' || *s == 'z') {
        *minutes = 0;
        *p = s + 1;
        return DATE_FAULT_NONE;
    }
    if (*s != '+' && *s != '-')
        return DATE_FAULT_OFFSET_MISSING;
    if (!digits(s + 1, 2, &hh) || s[3] != ':' || !digits(s + 4, 2, &mm))
        return DATE_FAULT_OFFSET_SYNTAX;
    if (hh > 23 || mm > 59)
        return DATE_FAULT_OFFSET_RANGE;
    *minutes = (*s == '-' ? -1 : 1) * (hh * 60 + mm);
    *p = s + 6;
    return DATE_FAULT_NONE;
}

int utc_offset_parse(const char *s, int *minutes)
{
    const char *p = s;
    return read_offset(&p, minutes) == DATE_FAULT_NONE && *p == '\0' ? 0 : -1;
}

/* The syntax first, then the values, so that each text has one fault, the same for every
 * caller. */
date_fault date_scan(const char *s, date_value *out)
{
    int y, mo, d, hh = 0, mi = 0, ss = 0, frac_ms = 0, offset = 0;
    size_t len = strlen(s);
    out->has_time = len > 10;
    if (len > 4 && digits(s, 4, &y) && s[4] >= '0' && s[4] <= '9')
        return DATE_FAULT_YEAR_DIGITS;
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return DATE_FAULT_DATE_SYNTAX;
    if (out->has_time) {
        const char *p = s + 10;
        if (*p != 'T' && *p != 't')
            return DATE_FAULT_T;
        if (!digits(p + 1, 2, &hh) || p[3] != ':' || !digits(p + 4, 2, &mi) || p[6] != ':' ||
            !digits(p + 7, 2, &ss))
            return DATE_FAULT_TIME_SYNTAX;
        p += 9;
        if (*p == '.') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 3) /* beyond milliseconds: truncated */
                    frac_ms = frac_ms * 10 + (*p - '0');
            if (n == 0)
                return DATE_FAULT_FRACTION;
            for (; n < 3; n++)
                frac_ms *= 10;
        }
        date_fault f = read_offset(&p, &offset);
        if (f != DATE_FAULT_NONE)
            return f;
        if (*p != '\0')
            return DATE_FAULT_TRAILING;
    }
    civil_day day;
    if (y < 1)
        return DATE_FAULT_YEAR_ZERO;
    if (mo < 1 || mo > 12)
        return DATE_FAULT_MONTH;
    if (!civil_from_ymd(y, mo, d, &day))
        return DATE_FAULT_DAY;
    if (!out->has_time) {
        *out = (date_value){.day = day, .instant_ms = (int64_t)day * MS_PER_DAY, .has_time = false};
        return DATE_FAULT_NONE;
    }
    if (hh > 23 || mi > 59)
        return DATE_FAULT_TIME_RANGE;
    if (ss == 60)
        return DATE_FAULT_LEAP_SECOND;
    if (ss > 60)
        return DATE_FAULT_SECOND_RANGE;
    int64_t local_ms = (int64_t)day * MS_PER_DAY + hh * MS_PER_HOUR + mi * MS_PER_MINUTE +
                       ss * MS_PER_SECOND + frac_ms;
    int64_t instant_ms = local_ms - offset * MS_PER_MINUTE;
    civil_day first, last;
    civil_from_ymd(1, 1, 1, &first);
    civil_from_ymd(9999, 12, 31, &last);
    /* Its offset may carry a time on 9999-12-31 into year 10000 (UTC): refused like the year. */
    if (instant_ms < first * MS_PER_DAY || instant_ms >= (last + 1) * MS_PER_DAY)
        return DATE_FAULT_INSTANT_RANGE;
    *out = (date_value){.day = day, .instant_ms = instant_ms, .has_time = true};
    return DATE_FAULT_NONE;
}

const char *date_fault_text(date_fault fault)
{
    static const char *const form = "not a date: expected YYYY-MM-DD or an RFC 3339 timestamp";
    static const char *const offset = "timestamp needs a UTC offset (Z or +HH:MM)";
    switch (fault) {
    case DATE_FAULT_NONE: return "";
    case DATE_FAULT_YEAR_DIGITS: return "a year of more than four digits is outside 0001-9999";
    case DATE_FAULT_DATE_SYNTAX:
    case DATE_FAULT_T:
    case DATE_FAULT_TIME_SYNTAX:
    case DATE_FAULT_FRACTION: return form;
    case DATE_FAULT_OFFSET_MISSING:
    case DATE_FAULT_OFFSET_SYNTAX:
    case DATE_FAULT_OFFSET_RANGE:
    case DATE_FAULT_TRAILING: return offset;
    case DATE_FAULT_YEAR_ZERO: return "year 0000 is outside 0001-9999";
    case DATE_FAULT_MONTH:
    case DATE_FAULT_DAY: return "no such calendar day";
    case DATE_FAULT_TIME_RANGE:
    case DATE_FAULT_SECOND_RANGE: return "no such time of day";
    case DATE_FAULT_LEAP_SECOND: return "no such time of day (leap seconds are not accepted)";
    case DATE_FAULT_INSTANT_RANGE: return "its instant (UTC) is outside years 0001-9999";
    }
    return form;
}

int date_parse(const char *text, date_value *out, char *why, size_t why_size)
{
    date_value v = {0}; /* whole, padding too: callers compare dates with memcmp */
    date_fault fault = date_scan(text, &v);
    if (fault != DATE_FAULT_NONE) {
        if (why && why_size)
            snprintf(why, why_size, "%s", date_fault_text(fault));
        return -1;
    }
    *out = v;
    return 0;
}
