/* dates.h — calendar arithmetic and RFC 3339 parsing for the calibration rules. Pure: no I/O,
 * no clock, no time zone database; every function is thread-safe. */
#ifndef SMART_DATES_H
#define SMART_DATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Time units in milliseconds, the unit of every instant here and on the wire. A UTC day is
 * always MS_PER_DAY long: instants count no leap seconds (POSIX time), see date_parse. */
#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR   INT64_C(3600000)
#define MS_PER_DAY    INT64_C(86400000)

/* A calendar day as a count of days since 1970-01-01 (proleptic Gregorian). */
typedef int32_t civil_day;

/* A parsed date: either a calendar date ("2025-02-13") or an RFC 3339 timestamp
 * ("2025-02-13T09:30:00+01:00"). For a timestamp, `day` is the calendar date as written (in
 * its own offset), because that is the date on the certificate; `instant_ms` is the UTC
 * instant. For a date alone, `instant_ms` is midnight UTC of that date. */
typedef struct date_value {
    civil_day day;
    int64_t instant_ms;
    bool has_time;
} date_value;

#define DATE_TEXT_MAX 40 /* enough for any string date_parse accepts, with its NUL */

/* Days since 1970-01-01 of y-m-d, or false when the date does not exist (2025-02-30). */
bool civil_from_ymd(int year, int month, int day, civil_day *out);

void civil_to_ymd(civil_day day, int *year, int *month, int *mday);

/* Writes "YYYY-MM-DD" and its NUL into out (at least 11 bytes; smaller gets ""). */
void civil_format(civil_day day, char *out, size_t size);

/* Parses a date or an RFC 3339 timestamp. Returns 0, or -1 with a short reason ("no such
 * day", "not a date: expected YYYY-MM-DD or RFC 3339", a year or, for a timestamp, its UTC
 * instant outside 0001-9999) written into why (caller-owned). */
int date_parse(const char *text, date_value *out, char *why, size_t why_size);

/* The calendar day of a UTC instant seen at a fixed offset from UTC (minutes east). */
civil_day civil_day_of_instant(int64_t instant_ms, int offset_minutes);

/* Writes an RFC 3339 UTC timestamp with seconds ("2025-02-13T07:00:00Z"; out at least 21
 * bytes, smaller gets ""). */
void instant_format(int64_t instant_ms, char *out, size_t size);

/* Parses a fixed offset "+HH:MM" / "-HH:MM" / "Z" into minutes east of UTC. 0 or -1. */
int utc_offset_parse(const char *text, int *minutes);

#endif
