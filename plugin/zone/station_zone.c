/* station_zone.c — a zone's offsets read from ICU once into the table of core/zone_rules.h
 * (which holds the lookups on it), and a zone at a fixed offset. */
#include "zone/station_zone.h"

#include "error.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/utypes.h>
#include <unicode/uversion.h>

/* The table holds ICU's transitions from 1900 to 2600. Past its end an instant is moved back
 * by whole periods into 2200–2600, where only a zone's final, recurring rule can be in force
 * (the tz database records no change that far ahead). Before 1900 the 1900 offset holds. */
#define TABLE_FROM_MS (INT64_C(-25567) * MS_PER_DAY) /* 1900-01-01T00:00Z */
#define TABLE_END_MS  (INT64_C(230033) * MS_PER_DAY) /* 2600-01-01T00:00Z */
#define MAX_SPANS     100000                         /* far beyond any zone: a guard, not a limit */

int station_zone_fixed(int offset_minutes, station_zone **out, smart_error *err)
{
    *out = NULL;
    if (offset_minutes <= -24 * 60 || offset_minutes >= 24 * 60)
        return error_set(err, SMART_EINVAL, "a fixed offset must be within 24 hours of UTC");
    int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    char name[16];
    snprintf(name, sizeof name, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
    zone_span span = {.from_ms = INT64_MIN, .offset_ms = (int32_t)(offset_minutes * MS_PER_MINUTE)};
    if (!(*out = station_zone_from_spans(name, &span, 1, INT64_MAX)))
        return error_set(err, SMART_ENOMEM, "out of memory");
    return 0;
}

/* IANA names are ASCII: letters, digits and "/_-+". Anything else is not looked up (nor
 * echoed into a message). */
static bool plausible_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= STATION_ZONE_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return false;
    return true;
}

static int icu_failed(smart_error *err, const char *field, const char *name, UErrorCode status)
{
    return error_set(err, SMART_EINVAL, "%s: ICU cannot read the rules of '%s': %s", field, name,
                     u_errorName(status));
}

/* Appends a span unless it repeats the offset in force (ICU also reports changes of a zone's
 * name or of how its offset splits into standard and daylight time). */
static int push_span(zone_span **spans, size_t *count, size_t *cap, int64_t from_ms,
                     int32_t offset_ms)
{
    if (*count && (*spans)[*count - 1].offset_ms == offset_ms)
        return 0;
    if (*count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        zone_span *grown = realloc(*spans, grown_cap * sizeof *grown);
        if (!grown)
            return -1;
        *spans = grown;
        *cap = grown_cap;
    }
    (*spans)[(*count)++] = (zone_span){.from_ms = from_ms, .offset_ms = offset_ms};
    return 0;
}

/* The total offset (standard + daylight) in force at the calendar's instant. */
static int32_t calendar_offset(const UCalendar *cal, UErrorCode *status)
{
    return ucal_get(cal, UCAL_ZONE_OFFSET, status) + ucal_get(cal, UCAL_DST_OFFSET, status);
}

/* ICU keeps what it has read (the zone data, its resource bundles) in caches of its own, for the
 * life of the library. The library comes and goes with this module, which the host unloads at
 * shutdown and on every reload: unloaded, ICU would leave those caches behind, lost. So the
 * library that holds `symbol` is pinned (RTLD_NODELETE on the copy already loaded): it stays
 * for the life of the process, and a reloaded module finds ICU's caches still there. Best
 * effort: should it fail, the cost is a few kilobytes per load. */
static void pin_library_of(const void *symbol)
{
    Dl_info info;
    if (dladdr(symbol, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

const char *station_zone_tzdata_version(void)
{
    UErrorCode status = U_ZERO_ERROR;
    const char *version = ucal_getTZDataVersion(&status);
    return U_FAILURE(status) || version == NULL ? "?" : version;
}

int station_zone_open(const char *name, const char *field, station_zone **out, smart_error *err)
{
    *out = NULL;
    pin_library_of((const void *)ucal_open);    /* icu-i18n */
    pin_library_of((const void *)u_getVersion); /* icu-uc */
    const char *tz_version = station_zone_tzdata_version();
    UErrorCode status = U_ZERO_ERROR;
    if (!plausible_name(name))
        return error_set(err, SMART_EINVAL,
                         "%s: not an IANA time zone name (\"Region/City\", ASCII letters, "
                         "digits, '/', '_', '-', '+')",
                         field);
    UChar id[STATION_ZONE_NAME_MAX];
    int32_t id_len = (int32_t)strlen(name);
    for (int32_t i = 0; i < id_len; i++)
        id[i] = (UChar)name[i];
    /* Only a zone of the tz database: ICU would also take "GMT+5" as a custom zone, and open
     * an unknown name as GMT without complaint. */
    UChar canonical[STATION_ZONE_NAME_MAX * 2];
    UBool system_zone = false;
    status = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(id, id_len, canonical, STATION_ZONE_NAME_MAX * 2, &system_zone,
                                &status);
    if (U_FAILURE(status) || !system_zone)
        return error_set(err, SMART_EINVAL,
                         "%s: '%s' is not a time zone of the tz database (ICU %s, tzdata %s); "
                         "names are case-sensitive, like \"Europe/Berlin\"",
                         field, name, U_ICU_VERSION, tz_version);

    status = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, id_len, "en_US_POSIX", UCAL_GREGORIAN, &status);
    if (U_FAILURE(status))
        return icu_failed(err, field, name, status);
    zone_span *spans = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    ucal_setMillis(cal, (UDate)TABLE_FROM_MS, &status);
    int32_t offset = calendar_offset(cal, &status);
    if (U_SUCCESS(status) && push_span(&spans, &count, &cap, INT64_MIN, offset) != 0)
        rc = SMART_ENOMEM;
    for (UDate at = (UDate)TABLE_FROM_MS; rc == 0 && U_SUCCESS(status);) {
        UDate next;
        if (!ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_NEXT, &next, &status) ||
            U_FAILURE(status) || next >= (UDate)TABLE_END_MS)
            break;
        if (next <= at || count >= MAX_SPANS) { /* ICU going nowhere: refuse, do not spin */
            status = U_INTERNAL_PROGRAM_ERROR;
            break;
        }
        at = next;
        ucal_setMillis(cal, at, &status);
        offset = calendar_offset(cal, &status);
        if (U_SUCCESS(status) && push_span(&spans, &count, &cap, (int64_t)at, offset) != 0)
            rc = SMART_ENOMEM;
    }
    ucal_close(cal);
    for (size_t i = 0; rc == 0 && U_SUCCESS(status) && i < count; i++)
        if (spans[i].offset_ms <= -MS_PER_DAY || spans[i].offset_ms >= MS_PER_DAY)
            status = U_ILLEGAL_ARGUMENT_ERROR; /* the lookups rely on |offset| < 1 day */
    if (rc == 0 && U_FAILURE(status))
        rc = icu_failed(err, field, name, status);
    else if (rc == 0 && !(*out = station_zone_from_spans(name, spans, count, TABLE_END_MS)))
        rc = SMART_ENOMEM;
    if (rc == SMART_ENOMEM)
        error_set(err, SMART_ENOMEM, "out of memory");
    free(spans);
    return rc;
}
