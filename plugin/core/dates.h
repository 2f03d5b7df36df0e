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

/* What is wrong with a date or timestamp text, one fault per text: the syntax is read first
 * (in the order of the text), then the values. Each caller words the fault its own way
 * (date_fault_text here; the host's clock.c for its event times). */
typedef enum date_fault {
    DATE_FAULT_NONE,
    DATE_FAULT_YEAR_DIGITS,    /* a year of more than four digits */
    DATE_FAULT_DATE_SYNTAX,    /* not YYYY-MM-DD */
    DATE_FAULT_T,              /* after the date, something other than 'T' */
    DATE_FAULT_TIME_SYNTAX,    /* not HH:MM:SS after the 'T' */
    DATE_FAULT_FRACTION,       /* a '.' with no digit after it */
    DATE_FAULT_OFFSET_MISSING, /* no Z, '+' or '-' after the time */
    DATE_FAULT_OFFSET_SYNTAX,  /* not +HH:MM / -HH:MM */
    DATE_FAULT_OFFSET_RANGE,   /* an offset's hours above 23 or minutes above 59 */
    DATE_FAULT_TRAILING,       /* text after the offset */
    DATE_FAULT_YEAR_ZERO,      /* year 0000 */
    DATE_FAULT_MONTH,          /* month outside 01-12 */
    DATE_FAULT_DAY,            /* no such day in that month */
    DATE_FAULT_TIME_RANGE,     /* hour above 23 or minute above 59 */
    DATE_FAULT_LEAP_SECOND,    /* second 60 */
    DATE_FAULT_SECOND_RANGE,   /* second above 60 */
    DATE_FAULT_INSTANT_RANGE,  /* the UTC instant of a timestamp outside years 0001-9999 */
} date_fault;

/* The reader of dates and timestamps, for the module and the host: a calendar date
 * ("2025-02-13") or an RFC 3339 timestamp ("2025-02-13T09:30:00.5+01:00"; 'T' and 'Z' in either
 * case, fractions beyond milliseconds truncated). Years 0001-9999, for the text and, for a
 * timestamp, for the instant it names in UTC.
 *
 * A leap second ("23:59:60") is refused (DATE_FAULT_LEAP_SECOND): instants count no leap
 * seconds (POSIX time, MS_PER_DAY to every day), so it names no instant of its own, and
 * reading it as :59 would give two texts one instant and order a record written at :60 before
 * one written at :59.5.
 *
 * Sets out->has_time whether or not the text is read (a text longer than a date is a
 * timestamp, or a fault in one); the rest of *out only on DATE_FAULT_NONE. */
date_fault date_scan(const char *text, date_value *out);

/* The module's words for a fault ("no such calendar day", ...); "" for DATE_FAULT_NONE. */
const char *date_fault_text(date_fault fault);

/* date_scan with the module's words: 0, or -1 with date_fault_text written into why
 * (caller-owned, why_size bytes; may be NULL). *out is untouched on failure. */
int date_parse(const char *text, date_value *out, char *why, size_t why_size);

/* The calendar day of a UTC instant seen at a fixed offset from UTC (minutes east). */
civil_day civil_day_of_instant(int64_t instant_ms, int offset_minutes);

/* Writes an RFC 3339 UTC timestamp with seconds ("2025-02-13T07:00:00Z"; out at least 21
 * bytes, smaller gets ""). */
void instant_format(int64_t instant_ms, char *out, size_t size);

/* Parses a fixed offset "+HH:MM" / "-HH:MM" / "Z" into minutes east of UTC. 0 or -1. */
int utc_offset_parse(const char *text, int *minutes);

#endif
