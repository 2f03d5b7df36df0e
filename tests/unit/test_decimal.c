/* Exact limits (plugin/core/decimal.c): a value exactly on a limit written in a contract is within
 * it, and one least significant digit beyond (or the next double beyond) is not — on every
 * tolerance and step limit of every shipped example contract. */
#include "check_main.h"
#include "contract/contract.h"
#include "core/decimal.h"
#include "core/readiness.h"

#include <glob.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static decimal dec(double v)
{
    decimal d;
    ck_assert(decimal_from_double(v, &d));
    return d;
}

static void assert_text(decimal d, const char *want)
{
    char text[DECIMAL_TEXT_MAX];
    decimal_format(d, text, sizeof text);
    ck_assert_str_eq(text, want);
}

START_TEST(shortest_decimal_of_a_double)
{
    decimal d = dec(4.52);
    ck_assert(d.mantissa == 452 && d.exponent == -2);
    d = dec(4.5200000000000005);
    ck_assert(d.mantissa == 45200000000000005LL && d.exponent == -16);
    d = dec(1000);
    ck_assert(d.mantissa == 1 && d.exponent == 3);
    d = dec(-0.0);
    ck_assert(d.mantissa == 0 && d.exponent == 0);
    d = dec(-0.001);
    ck_assert(d.mantissa == -1 && d.exponent == -3);
    ck_assert(!decimal_from_double(NAN, &d) && !decimal_from_double(INFINITY, &d));
    assert_text(dec(4.52), "4.52");
    assert_text(dec(1000), "1000");
    assert_text(dec(-0.001), "-0.001");
    assert_text(dec(0.5), "0.5");
    assert_text(dec(123456.7), "123456.7");
    assert_text(dec(1.5e25), "1.5e+25");
    assert_text(dec(1e-30), "1e-30");
    assert_text(dec(0), "0");
    for (double v = -3.7; v < 3.7; v += 0.013) /* every shortest form reads back as its double */
        ck_assert(decimal_to_double(dec(v)) == v);
}
END_TEST

/* The shortest decimal as the first precision at which snprintf's rounding reads back (what
 * decimal_from_double did before it scaled instead; its answer must stay the same). */
static decimal by_printf(double v)
{
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, v);
        if (strtod(text, NULL) == v)
            break;
    }
    bool negative = text[0] == '-';
    int64_t m = 0;
    int digits = 0;
    const char *p = text + negative;
    for (; *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            m = m * 10 + (*p - '0'), digits++;
    int exponent = atoi(p + 1) - (digits - 1);
    for (; m != 0 && m % 10 == 0; m /= 10)
        exponent++;
    return (decimal){negative ? -m : m, m ? exponent : 0};
}

static void assert_as_printf(double v)
{
    decimal got = dec(v), want = by_printf(v);
    if (got.mantissa != want.mantissa || got.exponent != want.exponent)
        ck_abort_msg("%.17g: %lld e%d, snprintf's %lld e%d", v, (long long)got.mantissa,
                     got.exponent, (long long)want.mantissa, want.exponent);
    char text[40];
    snprintf(text, sizeof text, "%lldE%d", (long long)got.mantissa, got.exponent);
    ck_assert(decimal_to_double(got) == strtod(text, NULL));
}

/* Decimals of 1 to 17 digits at scales 1e-30 to 1e30 (each side of the range scaled by exact
 * powers of ten, and of 15 digits), the doubles next to them, powers of two and of ten (where
 * the doubles' spacing changes) and arbitrary bits: each as snprintf finds it. */
START_TEST(shortest_decimal_as_snprintf_finds_it)
{
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 8000; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        uint64_t r = state >> 11;
        char text[48];
        double v;
        switch (i % 4) {
        case 0:
        case 1: {
            int digits = 1 + (int)(r % 17);
            int64_t m = (int64_t)((r >> 5) % (uint64_t)pow(10, digits));
            snprintf(text, sizeof text, "%lldE%d", (long long)m, (int)((r >> 60) * 4 % 61) - 30);
            v = strtod(text, NULL);
            if (i % 4 == 1)
                v = nextafter(v, (r & 1) ? INFINITY : 0);
            break;
        }
        case 2:
            v = ldexp(1.0, (int)(r % 200) - 100);
            if (r & 0x100)
                v = nextafter(v, (r & 0x200) ? INFINITY : 0);
            break;
        default: memcpy(&v, &state, sizeof v);
        }
        if (!isfinite(v) || v == 0)
            continue;
        assert_as_printf(v);
        assert_as_printf(-v);
    }
    for (int e = -30; e <= 30; e++) {
        char text[16];
        snprintf(text, sizeof text, "1E%d", e);
        double ten = strtod(text, NULL);
        assert_as_printf(ten);
        assert_as_printf(nextafter(ten, 0));
        assert_as_printf(nextafter(ten, INFINITY));
        assert_as_printf(ten * 999999999999999.0); /* 15 digits */
        assert_as_printf(ten * 9999999999999999.0);
    }
}
END_TEST

START_TEST(sums_and_comparisons_are_exact)
{
    decimal low, high;
    ck_assert(decimal_sub(dec(4.54), dec(0.02), &low) && decimal_add(dec(4.54), dec(0.02), &high));
    ck_assert(4.54 - 0.02 != 4.52); /* what binary floating point gives */
    ck_assert_int_eq(decimal_compare(low, dec(4.52)), 0);
    ck_assert_int_eq(decimal_compare(high, dec(4.56)), 0);
    ck_assert(decimal_to_double(low) == 4.52);
    ck_assert_int_lt(decimal_compare(dec(4.519999999999999), low), 0);
    ck_assert_int_gt(decimal_compare(dec(4.520000000000001), low), 0);
    ck_assert_int_lt(decimal_compare(dec(-2), dec(-1.5)), 0);
    ck_assert_int_gt(decimal_compare(dec(0), dec(-1e-300)), 0);
    ck_assert_int_lt(decimal_compare(dec(999.9999), dec(1000)), 0);
    ck_assert_int_eq(decimal_compare(dec(1e3), dec(1000.0)), 0);
    ck_assert_int_gt(decimal_compare(dec(1e300), dec(9.99e299)), 0);
    decimal sum;
    ck_assert(!decimal_add(dec(1e20), dec(1e-20), &sum)); /* 41 digits: refused, not rounded */
    ck_assert(decimal_add(dec(0.1), dec(0.2), &sum));
    ck_assert_int_eq(decimal_compare(sum, dec(0.3)), 0);
    ck_assert(decimal_sub(dec(0.3), dec(0.3), &sum) && sum.mantissa == 0);
}
END_TEST

/* One unit of the least significant digit written (units for an integer: 1000 -> 1). */
static decimal lsd(decimal bound)
{
    return (decimal){1, bound.exponent < 0 ? bound.exponent : 0};
}

typedef struct limit_probe {
    bool (*within)(const void *subject, double v);
    const void *subject;
    const char *what;
} limit_probe;

static bool tolerance_probe(const void *t, double v)
{
    return tolerance_within(t, v);
}
static bool step_probe(const void *s, double v)
{
    return check_step_within(s, v);
}

/* At the bound: in. One least significant digit beyond, and the next double beyond: out.
 * `down` is true for a lower limit. Returns the number of limits checked (1). */
static int probe(const limit_probe *p, decimal bound, bool down)
{
    double at = decimal_to_double(bound);
    decimal beyond;
    ck_assert(down ? decimal_sub(bound, lsd(bound), &beyond)
                   : decimal_add(bound, lsd(bound), &beyond));
    double next = nextafter(at, down ? -INFINITY : INFINITY);
    char text[DECIMAL_TEXT_MAX];
    decimal_format(bound, text, sizeof text);
    ck_assert_msg(p->within(p->subject, at), "%s: %s exactly on its limit judged out", p->what,
                  text);
    ck_assert_msg(!p->within(p->subject, decimal_to_double(beyond)),
                  "%s: one digit beyond %s judged in", p->what, text);
    ck_assert_msg(!p->within(p->subject, next), "%s: %.17g beyond %s judged in", p->what, next,
                  text);
    return 1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    char *text = malloc(1 << 20);
    ck_assert_ptr_nonnull(text);
    *len = fread(text, 1, (1 << 20) - 1, f);
    text[*len] = '\0';
    fclose(f);
    return text;
}

/* The limits as text, whole when they fit and cut at a character's edge when they do not:
 * "4.52 to 4.56 µm" is 16 bytes, its µ two of them (fails when a cut leaves half of it). */
START_TEST(limits_text_cut_short_keeps_whole_characters)
{
    tolerance t = {.parameter = "length", .unit = "\xc2\xb5m", .has_min = true, .has_max = true};
    ck_assert(decimal_from_double(4.52, &t.low) && decimal_from_double(4.56, &t.high));
    char text[32];
    tolerance_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "4.52 to 4.56 \xc2\xb5m");
    tolerance_text(&t, text, 15); /* room for 14 bytes: the µ's second byte does not fit */
    ck_assert_str_eq(text, "4.52 to 4.56 ");
    tolerance_text(&t, text, 16);
    ck_assert_str_eq(text, "4.52 to 4.56 \xc2\xb5");
    t.has_max = false;
    tolerance_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "min 4.52 \xc2\xb5m");
    t.has_min = false;
    t.has_max = true;
    tolerance_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "max 4.56 \xc2\xb5m");
    t.has_max = false;
    tolerance_text(&t, text, 9);
    ck_assert_str_eq(text, "recorded");
}
END_TEST

START_TEST(every_limit_of_the_shipped_contracts_is_exact)
{
    glob_t files;
    ck_assert_int_eq(glob(EXAMPLES "/*/contracts/*.json", 0, NULL, &files), 0);
    ck_assert_uint_ge(files.gl_pathc, 2);
    int limits = 0;
    bool saw_test_weight = false;
    for (size_t f = 0; f < files.gl_pathc; f++) {
        size_t len;
        char *text = read_file(files.gl_pathv[f], &len);
        contract c;
        smart_error err = {0};
        ck_assert_msg(contract_parse(files.gl_pathv[f], text, len, &c, &err) == 0, "%s", err.text);
        for (size_t i = 0; i < c.item_count; i++) {
            const contract_item *item = &c.items[i];
            for (size_t k = 0; k < item->tolerance_count; k++) {
                const tolerance *t = &item->tolerances[k];
                char what[160];
                snprintf(what, sizeof what, "%s %s tolerances[%zu]", c.contract_id,
                         item->equipment_id, k);
                limit_probe p = {tolerance_probe, t, what};
                if (t->has_min)
                    limits += probe(&p, t->low, true);
                if (t->has_max)
                    limits += probe(&p, t->high, false);
                if (strcmp(item->equipment_id, "MT01-TW-01") == 0) {
                    char limit[96];
                    tolerance_text(t, limit, sizeof limit);
                    ck_assert_str_eq(limit, "4.52 to 4.56 kg");
                    ck_assert(tolerance_within(t, 4.52) && tolerance_within(t, 4.56));
                    ck_assert(!tolerance_within(t, 4.51) && !tolerance_within(t, 4.57));
                    saw_test_weight = true;
                }
            }
        }
        for (size_t i = 0; i < c.procedure_count; i++) {
            const procedure *pr = &c.procedures[i];
            for (size_t k = 0; k < pr->step_count; k++) {
                const check_step *s = &pr->steps[k];
                char what[160];
                snprintf(what, sizeof what, "%s %s step %s", c.contract_id, pr->procedure_id,
                         s->step_id);
                limit_probe p = {step_probe, s, what};
                if (s->has_min)
                    limits += probe(&p, s->low, true);
                if (s->has_max)
                    limits += probe(&p, s->high, false);
            }
        }
        contract_release(&c);
        free(text);
    }
    globfree(&files);
    ck_assert(saw_test_weight);
    ck_assert_int_ge(limits, 40); /* the shipped examples hold more than that; none skipped */
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("decimal");
    TCase *tc = tcase_create("exact limits");
    tcase_add_test(tc, shortest_decimal_of_a_double);
    tcase_add_test(tc, shortest_decimal_as_snprintf_finds_it);
    tcase_add_test(tc, sums_and_comparisons_are_exact);
    tcase_add_test(tc, every_limit_of_the_shipped_contracts_is_exact);
    tcase_add_test(tc, limits_text_cut_short_keeps_whole_characters);
    suite_add_tcase(s, tc);
    return s;
}
