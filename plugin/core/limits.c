/* limits.c — a value against a contract's limits; see limits.h. */
#include "core/limits.h"

#include "core/text.h"

#include <stdio.h>
#include <string.h>

/* Exact on the decimals written (decimal.h): a value on a limit is within it. A value that
 * is not finite is outside every limit. */
static bool within(bool has_min, decimal low, bool has_max, decimal high, double v)
{
    decimal d;
    if (!decimal_from_double(v, &d))
        return false;
    return (!has_min || decimal_compare(d, low) >= 0) &&
           (!has_max || decimal_compare(d, high) <= 0);
}

static void limit_text(bool has_min, decimal low, bool has_max, decimal high, const char *unit,
                       char *out, size_t size)
{
    if (size == 0)
        return;
    char lo[DECIMAL_TEXT_MAX], hi[DECIMAL_TEXT_MAX];
    decimal_format(low, lo, sizeof lo);
    decimal_format(high, hi, sizeof hi);
    /* Built in pieces (text.h): a text longer than `out` is cut at its end, never in the
     * middle of a unit's UTF-8 character. */
    size_t used = 0;
    out[0] = '\0';
    if (!has_min && !has_max) {
        text_put_str(out, size, &used, "recorded, no limit");
        return;
    }
    text_put_str(out, size, &used, has_min && has_max ? "" : has_min ? "min " : "max ");
    text_put_str(out, size, &used, has_min ? lo : hi);
    if (has_min && has_max) {
        text_put_str(out, size, &used, " to ");
        text_put_str(out, size, &used, hi);
    }
    text_put_str(out, size, &used, " ");
    text_put_str(out, size, &used, unit);
    text_utf8_trim(out);
}

bool check_step_within(const check_step *s, double v)
{
    decimal d;
    if (!within(s->has_min, s->low, s->has_max, s->high, v) || !decimal_from_double(v, &d))
        return false;
    /* A limit read from "greater than N" / "less than N" (the hub's checklist form). */
    return !(s->has_min && s->min_excluded && decimal_compare(d, s->low) == 0) &&
           !(s->has_max && s->max_excluded && decimal_compare(d, s->high) == 0);
}

void check_step_limit_text(const check_step *s, char *out, size_t size)
{
    if ((s->has_min && s->min_excluded) || (s->has_max && s->max_excluded)) {
        snprintf(out, size, "%s", s->reference_reading); /* "> 1000 uW/cm2" */
        return;
    }
    limit_text(s->has_min, s->low, s->has_max, s->high, s->unit ? s->unit : "", out, size);
}

bool tolerance_within(const tolerance *t, double v)
{
    return within(t->has_min, t->low, t->has_max, t->high, v);
}

void tolerance_text(const tolerance *t, char *out, size_t size)
{
    limit_text(t->has_min, t->low, t->has_max, t->high, t->unit, out, size);
}

bool check_step_judge(const check_step *s, const check_step_answer *a, char *limit,
                      size_t limit_size, char *failure, size_t failure_size)
{
    limit[0] = failure[0] = '\0';
    if (s->is_reading)
        check_step_limit_text(s, limit, limit_size);
    if (!a->taken) {
        snprintf(failure, failure_size, "%s not taken", s->step_id);
        return false;
    }
    if (s->is_reading) {
        if (check_step_within(s, a->value))
            return true;
        snprintf(failure, failure_size, "%s %g %s outside %s", s->step_id, a->value, s->unit,
                 limit);
        return false;
    }
    if (a->attested)
        return true;
    snprintf(failure, failure_size, "%s not attested", s->step_id);
    return false;
}

static void note_out(char *note, const char *parameter, const char *when, double value,
                     const tolerance *t)
{
    char limit[96], line[200], text[DECIMAL_TEXT_MAX];
    tolerance_text(t, limit, sizeof limit);
    decimal_format_double(value, text, sizeof text);
    snprintf(line, sizeof line, "%s as %s %s outside %s", parameter, when, text, limit);
    text_append(note, TOLERANCE_NOTE_MAX, "; ", line);
}

void tolerance_judge_result(const tolerance *t, const char *parameter, bool has_found, double found,
                            bool has_left, double left, result_verdict *v)
{
    /* Only a measured as-found value out of tolerance is a finding (and raises the
     * impact); an as_left alone says nothing of the state as found. */
    if (has_found && !tolerance_within(t, found)) {
        v->found_out = true;
        note_out(v->found_note, parameter, "found", found, t);
    }
    /* Without an as-left value the item was not adjusted: as found is as left. */
    double final = has_left ? left : found;
    if (!tolerance_within(t, final)) {
        v->left_out = true;
        note_out(v->left_note, parameter, "left", final, t);
    }
}
