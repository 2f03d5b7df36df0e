/* fuzz_dates.c — the date readers: the module's date_parse and utc_offset_parse
 * (plugin/core/dates.c; every date in a contract or an event's data goes through them) and the
 * host's rfc3339_parse (host-stub/run/clock.c; every event's `time`).
 *
 * The readers take NUL-terminated text, so the input is copied into a string (a NUL inside
 * it ends the text, as it would in a jansson string). Besides not crashing, what each accepts
 * must read back: a date formats and re-parses to the same day, and a timestamp both readers
 * accept is the same instant to both (the host's `time` and the module's dates must agree).
 * Instants outside years 1-9999 (a date near either end with an offset) are left out of the
 * read-back: the formatters clamp them, and refusing them as input is issue 8's item 9. */
#include "core/dates.h"
#include "run/clock.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

static bool in_years_1_to_9999(int64_t ms)
{
    civil_day first, last;
    civil_from_ymd(1, 1, 1, &first);
    civil_from_ymd(9999, 12, 31, &last);
    return ms >= first * MS_PER_DAY && ms < (last + 1) * MS_PER_DAY;
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    if (size > 256)
        return 0; /* both readers look at a few dozen bytes at most */
    char text[257];
    memcpy(text, bytes, size);
    text[size] = '\0';
    char why[128];

    int minutes;
    if (utc_offset_parse(text, &minutes) == 0 && (minutes < -1439 || minutes > 1439))
        abort();

    date_value d;
    bool module_ok = date_parse(text, &d, why, sizeof why) == 0;
    if (module_ok) {
        char day[16];
        civil_format(d.day, day, sizeof day);
        date_value again;
        if (date_parse(day, &again, NULL, 0) != 0 || again.day != d.day)
            abort();
        char instant[32]; /* whole seconds: the fraction is dropped */
        instant_format(d.instant_ms, instant, sizeof instant);
        if (in_years_1_to_9999(d.instant_ms) &&
            (date_parse(instant, &again, NULL, 0) != 0 ||
             again.instant_ms != d.instant_ms - ((d.instant_ms % 1000) + 1000) % 1000))
            abort();
    }

    int64_t ms;
    if (rfc3339_parse(text, &ms, why, sizeof why) == 0) {
        char formatted[RFC3339_MS_LEN + 1];
        rfc3339_format_ms(ms, formatted);
        int64_t again;
        if (in_years_1_to_9999(ms) &&
            (rfc3339_parse(formatted, &again, NULL, 0) != 0 || again != ms))
            abort();
        if (module_ok && d.has_time && d.instant_ms != ms)
            abort();
    }
    return 0;
}
