/* test_one_civil_time.c — the host's event times and the module's dates are read by one reader
 * (plugin/core/dates.c): every timestamp the host accepts, the module accepts as the same
 * instant, and what one refuses the other refuses, the leap second included. */
#include "core/dates.h"
#include "run/clock.h"

#include "check_main.h"
#include <stdint.h>

static const char *const texts[] = {
    "2025-02-13T08:00:00Z",      "2025-02-13t09:30:00.25+01:30", "1969-12-31T23:59:59.999Z",
    "2024-02-29T23:59:59-12:00", "2016-12-31T23:59:60Z",         "2025-02-13T23:59:60+01:00",
    "2025-02-30T00:00:00Z",      "2025-02-13T24:00:00Z",         "2025-02-13T08:00:00+24:00",
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00",    "2025-02-13T08:00:00.Z",
    "2025-02-13T08:00:00Z junk", "10000-01-01T00:00:00Z",        "2025-02-13T08:00:61Z",
};

START_TEST(host_and_module_agree)
{
    const char *text = texts[_i];
    int64_t ms = 0;
    date_value d;
    char why[200];
    bool host_ok = rfc3339_parse(text, &ms, why, sizeof why) == 0;
    bool module_ok = date_parse(text, &d, why, sizeof why) == 0;
    ck_assert_msg(host_ok == module_ok, "%s: host %s, module %s", text,
                  host_ok ? "accepts" : "refuses", module_ok ? "accepts" : "refuses");
    if (host_ok)
        ck_assert_msg(d.has_time && d.instant_ms == ms, "%s: host %lld, module %lld", text,
                      (long long)ms, (long long)d.instant_ms);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("one civil time");
    TCase *tc = tcase_create("agree");
    tcase_add_loop_test(tc, host_and_module_agree, 0, (int)(sizeof texts / sizeof texts[0]));
    suite_add_tcase(s, tc);
    return s;
}
