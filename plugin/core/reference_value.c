#include "core/reference_value.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEXT_MAX 512

typedef enum { P_MIN, P_MIN_EXCLUDED, P_MAX, P_MAX_EXCLUDED, P_BETWEEN } phrase_kind;

/* Longest first where one contains another ("no more than" before "more than"). */
static const struct {
    const char *text;
    phrase_kind kind;
} phrases[] = {
    {"no less than", P_MIN},
    {"not less than", P_MIN},
    {"no more than", P_MAX},
    {"not more than", P_MAX},
    {"no greater than", P_MAX},
    {"not greater than", P_MAX},
    {"at least", P_MIN},
    {"at most", P_MAX},
    {"greater than", P_MIN_EXCLUDED},
    {"more than", P_MIN_EXCLUDED},
    {"less than", P_MAX_EXCLUDED},
    {"between", P_BETWEEN},
    {"above", P_MIN_EXCLUDED},
    {"below", P_MAX_EXCLUDED},
    {"\xe2\x89\xa5", P_MIN},
    /* ≥ */ {"\xe2\x89\xa4", P_MAX}, /* ≤ */
    {">=", P_MIN},
    {"<=", P_MAX},
    {">", P_MIN_EXCLUDED},
    {"<", P_MAX_EXCLUDED},
};

static bool is_word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

static bool is_ascii_word(const char *s)
{
    return isalpha((unsigned char)s[0]);
}

/* A number standing alone at s: digits, optionally a point and digits, not preceded by a
 * letter, digit or point (so neither the 16 of "E1417-16" nor the 5 of "1.5"). */
static bool number_after(const char *text, const char *s, bool alone, decimal *value,
                         const char **end)
{
    if (!isdigit((unsigned char)*s))
        return false;
    if (alone && s > text && (is_word_char((unsigned char)s[-1]) || s[-1] == '.' || s[-1] == ','))
        return false;
    const char *p = s;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.' && isdigit((unsigned char)p[1])) {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    /* 1,000 or 1.000.000: a thousands separator or a decimal comma; not read either way. */
    if ((*p == ',' || *p == '.') && isdigit((unsigned char)p[1]))
        return false;
    char buf[40];
    size_t n = (size_t)(p - s);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!decimal_from_double(strtod(buf, NULL), value))
        return false;
    *end = p;
    return true;
}

static bool number_at(const char *text, const char *s, decimal *value, const char **end)
{
    return number_after(text, s, true, value, end);
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* "be", "is", "of", ":" between the phrase and its number ("at least be", "minimum of"). */
static const char *skip_filler(const char *s)
{
    static const char *const fillers[] = {"be ", "is ", "of ", ": ", NULL};
    s = skip_spaces(s);
    for (size_t i = 0; fillers[i]; i++)
        if (strncmp(s, fillers[i], strlen(fillers[i])) == 0)
            return skip_spaces(s + strlen(fillers[i]));
    return s;
}

static const struct {
    const char *spelling, *canonical;
} units[] = {
    {"fc", "fc"},
    {"ftc", "fc"},
    {"foot-candles", "fc"},
    {"foot-candle", "fc"},
    {"footcandles", "fc"},
    {"footcandle", "fc"},
    {"foot candles", "fc"},
    {"\xc2\xb5w/cm\xc2\xb2", "uW/cm2"}, /* µW/cm² (micro sign) */
    {"\xce\xbcw/cm\xc2\xb2", "uW/cm2"}, /* μW/cm² (Greek mu) */
    {"\xc2\xb5w/cm2", "uW/cm2"},
    {"\xce\xbcw/cm2", "uW/cm2"},
    {"uw/cm2", "uW/cm2"},
    {"uw/cm\xc2\xb2", "uW/cm2"},
    {"\xc2\xb0"
     "f",
     "degF"},
    {"degf", "degF"},
    {"f", "degF"},
    {"\xc2\xb0"
     "c",
     "degC"},
    {"degc", "degC"},
    {"psi", "psi"},
    {"lx", "lx"},
    {"lux", "lx"},
};

/* Lowercases ASCII letters into out; other bytes (UTF-8) as they are. */
static void lower(const char *s, size_t n, char *out, size_t size)
{
    size_t i = 0;
    for (; i < n && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

void reference_unit_canonical(const char *unit, char *out, size_t size)
{
    char low[64];
    if (!unit) {
        snprintf(out, size, "%s", "");
        return;
    }
    lower(unit, strlen(unit), low, sizeof low);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(low, units[i].spelling) == 0) {
            snprintf(out, size, "%s", units[i].canonical);
            return;
        }
    snprintf(out, size, "%s", unit);
}

/* The unit written at s (after a number), canonical into out, or "" when none is: a known
 * unit, or a word that is no filler ("at 38 cm" names no unit of the limit). */
static void unit_at(const char *s, char *out, size_t size)
{
    s = skip_spaces(s);
    out[0] = '\0';
    char low[64];
    lower(s, strlen(s), low, sizeof low);
    /* The longest known spelling that ends at a word boundary. */
    size_t best = 0;
    const char *canonical = NULL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].spelling);
        if (n > best && strncmp(low, units[i].spelling, n) == 0 &&
            !is_word_char((unsigned char)low[n])) {
            best = n;
            canonical = units[i].canonical;
        }
    }
    if (canonical) {
        snprintf(out, size, "%s", canonical);
        return;
    }
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != '\t' && s[n] != ',' && s[n] != ';' && s[n] != ')' &&
           !(s[n] == '.' && (s[n + 1] == '\0' || s[n + 1] == ' ')))
        n++;
    static const char *const fillers[] = {"at",   "and",   "or", "when", "for",  "in",
                                          "on",   "per",   "of", "the",  "to",   "with",
                                          "from", "after", "if", "as",   "must", NULL};
    char word[32];
    lower(s, n, word, sizeof word);
    for (size_t i = 0; fillers[i]; i++)
        if (strcmp(word, fillers[i]) == 0)
            return;
    if (n && n < size && n < 24) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
}

static void no_limit(reference_limit *out, const char *why)
{
    out->machine_checked = false;
    out->has_min = out->has_max = false;
    snprintf(out->reading, sizeof out->reading, "%s", why);
}

/* A range "A–B" or "A-B" standing alone (en dash, or a hyphen between two numbers). */
static bool range_at(const char *text, const char *s, decimal *a, decimal *b, const char **end)
{
    const char *p;
    if (!number_at(text, s, a, &p))
        return false;
    p = skip_spaces(p);
    size_t dash = strncmp(p, "\xe2\x80\x93", 3) == 0 ? 3 : (*p == '-' ? 1 : 0); /* – or - */
    if (!dash)
        return false;
    const char *q = skip_spaces(p + dash);
    if (!isdigit((unsigned char)*q))
        return false;
    /* B follows the dash, which may be the last byte of "–". */
    return number_after(text, q, false, b, end);
}

/* Counts every comparison phrase in `low` (the text lowered), masked once matched so a longer
 * one is not read twice; *kind and *after (in `low`, just after it) say the last one. */
static int find_phrases(const char *low, phrase_kind *kind, const char **after)
{
    char masked[TEXT_MAX];
    memcpy(masked, low, sizeof masked);
    int found = 0;
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        size_t n = strlen(phrases[i].text);
        for (char *at = strstr(masked, phrases[i].text); at; at = strstr(at + n, phrases[i].text)) {
            bool word = is_ascii_word(phrases[i].text);
            if (word && ((at > masked && is_word_char((unsigned char)at[-1])) ||
                         is_word_char((unsigned char)at[n])))
                continue; /* "abovementioned", "below" inside a word */
            found++;
            *kind = phrases[i].kind;
            *after = low + (at - masked) + n;
            memset(at, ' ', n);
        }
    }
    return found;
}

/* The number after the phrase (`after`, in `low`), and for "between A [unit] and B" the
 * second, into *a, *b and *end (just after the last), *has_range set for "between". False,
 * with the limit refused in *out, when they are not written so. */
static bool phrase_numbers(const char *low, const char *after, phrase_kind kind, decimal *a,
                           decimal *b, const char **end, bool *has_range, reference_limit *out)
{
    if (!number_at(low, skip_filler(after), a, end)) {
        no_limit(out, "no number right after the limit's words, not machine-checked: the "
                      "reading is recorded and needs an attestation");
        return false;
    }
    if (kind != P_BETWEEN)
        return true;
    char unit_a[24];
    unit_at(*end, unit_a, sizeof unit_a);
    const char *p = skip_spaces(*end);
    if (unit_a[0])
        while (*p && *p != ' ')
            p++;
    p = skip_spaces(p);
    if (strncmp(p, "and ", 4) != 0 || !number_at(low, skip_spaces(p + 4), b, end)) {
        no_limit(out, "\"between\" without \"A and B\", not machine-checked: the reading "
                      "is recorded and needs an attestation");
        return false;
    }
    *has_range = true;
    return true;
}

/* The limit read: A to B (has_range), or one bound of `kind` at A, in `unit`. */
static void set_limit(reference_limit *out, decimal a, decimal b, bool has_range, phrase_kind kind,
                      const char *unit)
{
    char na[DECIMAL_TEXT_MAX], nb[DECIMAL_TEXT_MAX];
    decimal_format(a, na, sizeof na);
    out->machine_checked = true;
    if (has_range) {
        decimal_format(b, nb, sizeof nb);
        out->has_min = out->has_max = true;
        out->low = a;
        out->high = b;
        snprintf(out->reading, sizeof out->reading, "%s to %s%s%s (both included)", na, nb,
                 unit[0] ? " " : "", unit);
        return;
    }
    static const char *const signs[] = {">=", ">", "<=", "<"};
    if (kind == P_MIN || kind == P_MIN_EXCLUDED) {
        out->has_min = true;
        out->min_excluded = kind == P_MIN_EXCLUDED;
        out->low = a;
    } else {
        out->has_max = true;
        out->max_excluded = kind == P_MAX_EXCLUDED;
        out->high = a;
    }
    snprintf(out->reading, sizeof out->reading, "%s %s%s%s", signs[kind], na, unit[0] ? " " : "",
             unit);
}

bool reference_value_read(const char *text, const char *step_unit, reference_limit *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text) {
        no_limit(out, "no limit stated: the reading is recorded and needs an attestation");
        return false;
    }
    char low[TEXT_MAX];
    if (strlen(text) >= sizeof low) {
        no_limit(out, "too long to be read as a limit: the reading is recorded and needs an "
                      "attestation");
        return false;
    }
    lower(text, strlen(text), low, sizeof low);
    phrase_kind kind = P_MIN;
    const char *after = NULL;
    int found = find_phrases(low, &kind, &after);
    decimal a, b;
    const char *end = NULL;
    /* A range written A–B, anywhere: with a phrase as well, the text says two things. */
    bool has_range = false;
    for (const char *s = low; *s && !has_range; s++)
        if (range_at(low, s, &a, &b, &end))
            has_range = true;
    if (found + has_range == 0) {
        no_limit(out, "no limit stated: the reading is recorded and needs an attestation");
        return false;
    }
    if (found + has_range > 1) {
        no_limit(out, "more than one limit stated, not machine-checked: the reading is recorded "
                      "and needs an attestation");
        return false;
    }
    if (found && !phrase_numbers(low, after, kind, &a, &b, &end, &has_range, out))
        return false;
    if (has_range && decimal_compare(a, b) > 0) {
        no_limit(out, "a range whose first number is above its second, not machine-checked: the "
                      "reading is recorded and needs an attestation");
        return false;
    }
    /* The unit written after the (last) number, in the original text's bytes. */
    unit_at(text + (end - low), out->unit, sizeof out->unit);
    char want[24] = "";
    reference_unit_canonical(step_unit, want, sizeof want);
    if (out->unit[0] && want[0] && strcasecmp(out->unit, want) != 0) {
        char why[REFERENCE_READING_MAX];
        snprintf(why, sizeof why,
                 "the text names %.20s, the step's unit is %.20s: not machine-checked, the "
                 "reading is recorded and needs an attestation",
                 out->unit, step_unit);
        no_limit(out, why);
        return false;
    }
    set_limit(out, a, b, has_range, kind, out->unit[0] ? out->unit : want);
    return true;
}
