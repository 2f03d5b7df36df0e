/* Unit tests of the pure core: dates and the calibration rules (README "The rules"). */
#include "check_main.h"
#include "core/calibration.h"
#include "core/dates.h"
#include "core/text.h"
#include "json/jsonw.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static civil_day day(const char *text)
{
    date_value v;
    ck_assert_msg(date_parse(text, &v, NULL, 0) == 0, "cannot parse %s", text);
    return v.day;
}

static cal_assessment assess(const char *calibrated, int interval, int warning, const char *today)
{
    cal_terms terms = {.interval_days = interval, .warning_days = warning};
    cal_record record = {.has_calibration = true, .calibrated_on = day(calibrated)};
    return cal_assess(&terms, &record, day(today));
}

START_TEST(seed_lamp_is_current_with_90_days)
{
    cal_assessment a = assess("2024-11-15", 180, 30, "2025-02-13");
    ck_assert_str_eq(cal_status_name(a.status), "current");
    ck_assert_int_eq(a.days_remaining, 90);
    ck_assert(a.ready);
    char due[16];
    civil_format(a.due, due, sizeof due);
    ck_assert_str_eq(due, "2025-05-14");
}
END_TEST

START_TEST(seed_thermometer_is_expired_10_days)
{
    cal_assessment a = assess("2024-08-07", 180, 30, "2025-02-13");
    ck_assert_str_eq(cal_status_name(a.status), "expired");
    ck_assert_int_eq(-a.days_remaining, 10);
    ck_assert(!a.ready);
    char reason[256];
    cal_reason(&a, reason, sizeof reason);
    ck_assert_str_eq(reason, "calibration expired: was due 2025-02-03, 10 days overdue");
}
END_TEST

START_TEST(due_day_itself_is_still_valid)
{
    /* 2025-01-01 + 30 = 2025-01-31: valid through that day inclusive. */
    cal_assessment a = assess("2025-01-01", 30, 0, "2025-01-31");
    ck_assert_int_eq(a.days_remaining, 0);
    ck_assert_str_eq(cal_status_name(a.status), "expiring_soon");
    ck_assert(a.ready);
    a = assess("2025-01-01", 30, 0, "2025-02-01");
    ck_assert_str_eq(cal_status_name(a.status), "expired");
    ck_assert_int_eq(a.days_remaining, -1);
    char reason[256];
    cal_reason(&a, reason, sizeof reason);
    ck_assert_str_eq(reason, "calibration expired: was due 2025-01-31, 1 day overdue");
}
END_TEST

START_TEST(warning_edge)
{
    /* due 2025-05-14; warning 30: 30 days out is expiring_soon, 31 is current */
    ck_assert_str_eq(cal_status_name(assess("2024-11-15", 180, 30, "2025-04-14").status),
                     "expiring_soon");
    ck_assert_str_eq(cal_status_name(assess("2024-11-15", 180, 30, "2025-04-13").status),
                     "current");
    ck_assert_int_eq(assess("2024-11-15", 180, 30, "2025-04-14").days_remaining, 30);
}
END_TEST

START_TEST(leap_years)
{
    civil_day d;
    ck_assert(civil_from_ymd(2024, 2, 29, &d));
    ck_assert(!civil_from_ymd(2025, 2, 29, &d));
    ck_assert(!civil_from_ymd(1900, 2, 29, &d));
    ck_assert(civil_from_ymd(2000, 2, 29, &d));
    /* 2024-02-01 + 30 days crosses the 29th: due 2024-03-02 */
    cal_assessment a = assess("2024-02-01", 30, 0, "2024-03-02");
    ck_assert_int_eq(a.days_remaining, 0);
    a = assess("2023-02-01", 30, 0, "2023-03-03");
    ck_assert_int_eq(a.days_remaining, 0);
    /* a year's interval from a leap day */
    a = assess("2024-02-29", 365, 30, "2025-02-28");
    ck_assert_int_eq(a.days_remaining, 0);
}
END_TEST

START_TEST(date_only_and_rfc3339_with_offsets)
{
    date_value v;
    char why[96];
    ck_assert_int_eq(date_parse("2025-02-13", &v, why, sizeof why), 0);
    ck_assert(!v.has_time);
    civil_day d = v.day;
    /* The certificate's date is the date as written, whatever the offset. */
    ck_assert_int_eq(date_parse("2025-02-13T23:30:00-05:00", &v, why, sizeof why), 0);
    ck_assert_int_eq(v.day, d);
    ck_assert(v.has_time);
    /* ... while the instant is UTC: 2025-02-14T04:30:00Z */
    ck_assert_int_eq(civil_day_of_instant(v.instant_ms, 0), d + 1);
    ck_assert_int_eq(date_parse("2025-02-13T00:30:00+01:00", &v, why, sizeof why), 0);
    ck_assert_int_eq(civil_day_of_instant(v.instant_ms, 0), d - 1);
    ck_assert_int_eq(civil_day_of_instant(v.instant_ms, 60), d);
    ck_assert_int_eq(date_parse("2025-02-13T07:00:00.250Z", &v, why, sizeof why), 0);
    char text[DATE_TEXT_MAX];
    instant_format(v.instant_ms, text, sizeof text);
    ck_assert_str_eq(text, "2025-02-13T07:00:00Z");
    ck_assert_int_eq(v.instant_ms % 1000, 250);
}
END_TEST

START_TEST(impossible_dates_are_refused)
{
    date_value v;
    char why[96];
    const char *bad[] = {"2025-02-30",
                         "2025-13-01",
                         "2025-00-10",
                         "25-02-13",
                         "2025-2-13",
                         "2025-02-13T25:00:00Z",
                         "2025-02-13T10:00:00",
                         "2025-02-13T10:00Z",
                         "2025-02-13 junk",
                         "",
                         "2025-02-13T10:00:00+5:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(date_parse(bad[i], &v, why, sizeof why) != 0, "accepted %s", bad[i]);
    ck_assert_int_eq(date_parse("2025-02-30", &v, why, sizeof why), -1);
    ck_assert_str_eq(why, "no such calendar day");
}
END_TEST

START_TEST(precedence_of_states)
{
    cal_terms terms = {.interval_days = 180, .warning_days = 30};
    cal_record none = {0};
    ck_assert_str_eq(cal_status_name(cal_assess(&terms, &none, 0).status), "pending_calibration");
    cal_record r = {.has_calibration = true, .calibrated_on = day("2025-01-01")};
    civil_day today = day("2025-02-01");
    r.sent_out = true;
    ck_assert_str_eq(cal_status_name(cal_assess(&terms, &r, today).status), "pending_calibration");
    r.calibration_failed = true;
    ck_assert_str_eq(cal_status_name(cal_assess(&terms, &r, today).status), "calibration_failed");
    r.out_of_service = true;
    cal_assessment a = cal_assess(&terms, &r, today);
    ck_assert_str_eq(cal_status_name(a.status), "out_of_service");
    ck_assert(!a.ready);
    for (int s = 0; s < CAL_STATUS_COUNT; s++)
        ck_assert_int_eq(cal_status_from_name(cal_status_name((cal_status)s)), s);
}
END_TEST

/* A reason cut at its buffer's end must still be valid UTF-8, or JSON refuses it. */
START_TEST(messages_never_end_in_half_a_character)
{
    char buf[5] = ""; /* room for 4 bytes: "abc" and half of the "µ" */
    text_append(buf, sizeof buf, "", "abc\xc2\xb5W/cm\xc2\xb2"); /* "abcµW/cm²" */
    ck_assert_str_eq(buf, "abc");
    char cut[8] = "abcdef";
    text_append(cut, sizeof cut, "", "\xe2\x82\xac"); /* the euro sign does not fit */
    ck_assert_str_eq(cut, "abcdef");
    char two[] = "x\xe2\x82";
    ck_assert_int_eq(text_utf8_trim(two), 1);
    char whole[] = "x\xe2\x82\xac";
    ck_assert_int_eq(text_utf8_trim(whole), 4);
}
END_TEST

/* text_put writes what snprintf writes for the same pieces, cut at every size; cal_reason
 * (built with it) says what its printf formats said, for every status and days either side of
 * one, and cut short alike. */
START_TEST(pieces_as_snprintf_writes_them)
{
    static const long long numbers[] = {
        0, 1, -1, 7, -42, 1234567, 9223372036854775807LL, -9223372036854775807LL - 1};
    for (size_t n = 0; n < sizeof numbers / sizeof numbers[0]; n++) {
        for (size_t size = 0; size <= 40; size++) {
            char want[48] = "?", got[48] = "?";
            snprintf(want, size, "id %s (%lld)%s", "LP-01", numbers[n], " end");
            size_t used = 0;
            if (size)
                got[0] = '\0';
            text_put_str(got, size, &used, "id ");
            text_put_str(got, size, &used, "LP-01");
            text_put(got, size, &used, " (", 2);
            text_put_int(got, size, &used, numbers[n]);
            text_put(got, size, &used, ")", 1);
            text_put_str(got, size, &used, " end");
            ck_assert_msg(strcmp(want, got) == 0, "size %zu: '%s', not '%s'", size, got, want);
        }
    }
    civil_day due;
    ck_assert(civil_from_ymd(2025, 3, 1, &due));
    for (int status = 0; status < CAL_STATUS_COUNT; status++) {
        for (int days = -3; days <= 3; days++) {
            cal_assessment a = {.status = (cal_status)status,
                                .due = due,
                                .has_due = days != 0,
                                .days_remaining = days};
            char want[200], got[200];
            const char *s = days == 1 ? "" : "s", *overdue = days == -1 ? "" : "s";
            switch (a.status) {
            case CAL_CURRENT:
                snprintf(want, sizeof want,
                         "calibration current until 2025-03-01 (%d day%s remaining)", days, s);
                break;
            case CAL_EXPIRING_SOON:
                snprintf(want, sizeof want,
                         "calibration expiring soon: valid until 2025-03-01 (%d day%s remaining)",
                         days, s);
                break;
            case CAL_EXPIRED:
                snprintf(want, sizeof want,
                         "calibration expired: was due 2025-03-01, %d day%s overdue", -days,
                         overdue);
                break;
            case CAL_PENDING:
                snprintf(want, sizeof want, "%s",
                         a.has_due ? "pending calibration: sent out for calibration"
                                   : "pending calibration: no calibration on record");
                break;
            case CAL_FAILED:
                snprintf(want, sizeof want, "calibration failed: out of tolerance as left");
                break;
            case CAL_OUT_OF_SERVICE: snprintf(want, sizeof want, "out of service"); break;
            default:
                snprintf(want, sizeof want, "not named by any contract in force for this station");
                break;
            }
            cal_reason(&a, got, sizeof got);
            ck_assert_str_eq(got, want);
            char cut[21];
            cal_reason(&a, cut, sizeof cut);
            ck_assert_int_eq(strncmp(cut, want, sizeof cut - 1), 0);
            ck_assert_uint_eq(strlen(cut), strlen(want) < 20 ? strlen(want) : 20);
        }
    }
}
END_TEST

/* jw_string's plain runs (sixteen bytes at a time where there is SSE2) end exactly where a
 * byte needs escaping: every ASCII byte, and a two-byte character, at every place of strings
 * of 1 to 40 bytes is written as jansson writes it. */
START_TEST(each_byte_at_each_place_as_jansson_writes_it)
{
    char s[48];
    jw w = {0};
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            for (int c = 1; c <= 0x80; c++) {
                memset(s, 'a', len);
                s[len] = '\0';
                if (c < 0x80) {
                    s[at] = (char)c;
                } else if (at + 1 < len) {
                    s[at] = '\xc3', s[at + 1] = '\xa9'; /* "é" */
                } else {
                    continue;
                }
                json_t *v = json_string(s);
                ck_assert_ptr_nonnull(v);
                char *want = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                json_decref(v);
                jw_reset(&w);
                jw_string(&w, s);
                ck_assert_msg(strcmp(jw_text(&w), want) == 0, "byte %#x at %zu of %zu: %s, not %s",
                              c, at, len, jw_text(&w), want);
                free(want);
            }
        }
    }
    jw_release(&w);
}
END_TEST

/* The module writes its JSON as text: it must read back as the same values and be the very
 * bytes jansson writes, so answers and ledger records do not change with the way they are built. */
START_TEST(json_text_is_what_jansson_writes)
{
    static const char *const strings[] = {
        "plain",
        "quote \" and backslash \\",
        "tab\tnewline\nreturn\r",
        "\b\f\x01\x1f",
        "\xc2\xb5W/cm\xc2\xb2 at 38 cm",
        "emoji \xf0\x9f\x94\xa7 / slash",
        "",
    };
    jw w = {0};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        json_t *doc = json_pack("{s:s, s:I, s:I, s:b, s:[s]}", "text", strings[i], "n",
                                (json_int_t)-1234567890123, "zero", (json_int_t)0, "flag", 0,
                                "list", strings[i]);
        char *expected = json_dumps(doc, JSON_COMPACT);
        jw_reset(&w);
        jw_raw(&w, "{", 1);
        jw_member_string(&w, "text", strings[i]);
        jw_member_int(&w, "n", -1234567890123);
        jw_member_int(&w, "zero", 0);
        jw_member_bool(&w, "flag", false);
        jw_key(&w, "list");
        jw_raw(&w, "[", 1);
        jw_sep(&w);
        jw_string(&w, strings[i]);
        jw_raw(&w, "]}", 2);
        ck_assert_str_eq(jw_text(&w), expected);
        ck_assert_uint_eq(w.len, strlen(expected));
        free(expected);
        json_decref(doc);
    }
    /* Bytes that are not UTF-8 (a cut or stray one) still give valid JSON: U+FFFD each. */
    jw_reset(&w);
    jw_string(&w, "x\xe2\x82 \x80y");
    ck_assert_str_eq(jw_text(&w), "\"x\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbdy\"");
    json_t *back = json_loads(jw_text(&w), JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(back);
    json_decref(back);
    jw_release(&w);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("calibration");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, seed_lamp_is_current_with_90_days);
    tcase_add_test(tc, seed_thermometer_is_expired_10_days);
    tcase_add_test(tc, due_day_itself_is_still_valid);
    tcase_add_test(tc, warning_edge);
    tcase_add_test(tc, leap_years);
    tcase_add_test(tc, date_only_and_rfc3339_with_offsets);
    tcase_add_test(tc, impossible_dates_are_refused);
    tcase_add_test(tc, precedence_of_states);
    tcase_add_test(tc, messages_never_end_in_half_a_character);
    tcase_add_test(tc, pieces_as_snprintf_writes_them);
    tcase_add_test(tc, each_byte_at_each_place_as_jansson_writes_it);
    tcase_add_test(tc, json_text_is_what_jansson_writes);
    suite_add_tcase(s, tc);
    return s;
}
