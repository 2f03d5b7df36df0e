/* contract.c — reading a contracts directory of JSON contracts and validating each field into
 * one immutable, indexed contract set (built whole or not at all); see contract.h. */
#include "contract/contract.h"

#include "contract/contract_yaml.h"
#include "core/reference_value.h"
#include "core/text.h"
#include "error.h"
#include "store/kept_files.h"
#include "json/json_fields.h"
#include "json/json_read.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define CONTRACT_MAX_BYTES (8 * 1024 * 1024)

static const char *const contract_keys[] = {
    "smart_contract_id", "contract_type", "version", "station_type", "title", "issued_by",
    "issued_at", "warning_period_days", "equipment_list", "procedures", "shift_starts",
    "job_window_policy",
    /* The MaintenanceHub's metadata: kept and shown, never refused. */
    "description", "status", "created_date", "equipment_type", "conditions", "validation_rules",
    "deployed_date", "validated_date", "parent_contract", "changes", "retired_date",
    "retirement_reason", "domain",
    /* The hub's checklist form: a station procedure (parse_checklist). */
    "checklist_steps", "frequency", "frequency_hours", "frequency_days",
    /* The seed's equipment form: a map of check type to {steps: [{description}]}. */
    "maintenance_procedures", NULL};

/* Contract types the hub also delivers to a node: not this module's, skipped with a record. */
static const char *const other_contract_types[] = {
    "SmartSafety",     "SmartInventory", "SmartQA", "SmartStandards",
    "SmartCompliance", "SmartSP",        NULL};
/* The fields of an item, a tolerance and a baseline, by their place in the lists below
 * (jf_object_fields gives their values so). */
enum {
    I_EQUIPMENT_ID,
    I_DESCRIPTION,
    I_EQUIPMENT_TYPE,
    I_MANUFACTURER,
    I_MODEL,
    I_SERIAL_NUMBER,
    I_INTERVAL,
    I_WARNING,
    I_TOLERANCES,
    I_LAST_CALIBRATION,
    I_RETURN_VERIFIED,
    I_SCHEDULE,
    I_KEYS
};
static const char *const item_keys[I_KEYS + 1] = {
    [I_EQUIPMENT_ID] = "equipment_id",
    [I_DESCRIPTION] = "description",
    [I_EQUIPMENT_TYPE] = "equipment_type",
    [I_MANUFACTURER] = "manufacturer",
    [I_MODEL] = "model",
    [I_SERIAL_NUMBER] = "serial_number",
    [I_INTERVAL] = "calibration_interval_days",
    [I_WARNING] = "warning_period_days",
    [I_TOLERANCES] = "tolerances",
    [I_LAST_CALIBRATION] = "last_calibration",
    [I_RETURN_VERIFIED] = "return_requires_verification",
    [I_SCHEDULE] = "maintenance_schedule", /* the seed's form: kept */
    [I_KEYS] = NULL};
static const char *const procedure_keys[] = {"procedure_id",
                                             "title",
                                             "equipment",
                                             "frequency",
                                             "frequency_hours",
                                             "frequency_days",
                                             "required_before_test",
                                             "on_fail",
                                             "reference_instrument_required",
                                             "reference_instruments",
                                             "checklist_steps",
                                             NULL};
static const char *const step_keys[] = {"step_id", "description", "input_type",      "unit",
                                        "min",     "max",         "reference_value", NULL};
enum { T_PARAMETER, T_UNIT, T_NOMINAL, T_PLUS_MINUS, T_MIN, T_MAX, T_REFERENCES, T_KEYS };
static const char *const tolerance_keys[T_KEYS + 1] = {[T_PARAMETER] = "parameter",
                                                       [T_UNIT] = "unit",
                                                       [T_NOMINAL] = "nominal",
                                                       [T_PLUS_MINUS] = "plus_minus",
                                                       [T_MIN] = "min",
                                                       [T_MAX] = "max",
                                                       [T_REFERENCES] = "reference_standards",
                                                       [T_KEYS] = NULL};
enum { B_DATE, B_CERTIFICATE, B_PROVIDER, B_KEYS };
static const char *const baseline_keys[B_KEYS + 1] = {[B_DATE] = "calibration_date",
                                                      [B_CERTIFICATE] = "certificate_number",
                                                      [B_PROVIDER] = "provider",
                                                      [B_KEYS] = NULL};

static int parse_tolerance(const json_t *t, const char *path, tolerance *out, smart_error *err)
{
    int rc;
    double nominal = 0, plus_minus = 0;
    bool has_nominal, has_pm;
    json_t *f[T_KEYS];
    if ((rc = jf_object_fields(t, path, tolerance_keys, f, err)) ||
        (rc = jf_text_of(f[T_PARAMETER], path, "parameter", true, 64, &out->parameter, err)) ||
        (rc = jf_text_of(f[T_UNIT], path, "unit", true, 32, &out->unit, err)) ||
        (rc = jf_number_of(f[T_NOMINAL], path, "nominal", false, &nominal, &has_nominal, err)) ||
        (rc =
             jf_number_of(f[T_PLUS_MINUS], path, "plus_minus", false, &plus_minus, &has_pm, err)) ||
        (rc = jf_number_of(f[T_MIN], path, "min", false, &out->min, &out->has_min, err)) ||
        (rc = jf_number_of(f[T_MAX], path, "max", false, &out->max, &out->has_max, err)))
        return rc;
    json_t *references;
    if ((rc = jf_id_array_of(f[T_REFERENCES], path, "reference_standards", false, true, &references,
                             err)))
        return rc;
    out->references = references;
    if (has_nominal != has_pm)
        return error_set(err, SMART_EINVAL, "%s: nominal and plus_minus go together", path);
    if (has_nominal) {
        if (out->has_min || out->has_max)
            return error_set(err, SMART_EINVAL,
                             "%s: give nominal and plus_minus, or min/max, not both", path);
        /* A zero band is no tolerance a measurement could meet (the schema's exclusiveMinimum). */
        if (!(plus_minus > 0))
            return error_set(err, SMART_EINVAL, "%s.plus_minus: must be greater than 0 (got %g)",
                             path, plus_minus);
        /* The limits are worked out in decimal, as written: in doubles 4.54 - 0.02 is
         * 4.5200000000000005, which would judge 4.52 out. */
        decimal n, pm;
        if (!decimal_from_double(nominal, &n) || !decimal_from_double(plus_minus, &pm) ||
            !decimal_sub(n, pm, &out->low) || !decimal_add(n, pm, &out->high))
            return error_set(err, SMART_EINVAL,
                             "%s: nominal %g and plus_minus %g give limits of more than %d "
                             "significant digits, which cannot be judged exactly",
                             path, nominal, plus_minus, DECIMAL_DIGITS_MAX);
        out->has_min = out->has_max = out->has_nominal = true;
        out->nominal = nominal;
        out->min = decimal_to_double(out->low);
        out->max = decimal_to_double(out->high);
    } else {
        if ((out->has_min && !decimal_from_double(out->min, &out->low)) ||
            (out->has_max && !decimal_from_double(out->max, &out->high)))
            return error_set(err, SMART_EINVAL, "%s: a limit is not a finite number", path);
    }
    if (!out->has_min && !out->has_max)
        return error_set(err, SMART_EINVAL,
                         "%s: needs a limit (nominal and plus_minus, min or max)", path);
    if (out->has_min && out->has_max && decimal_compare(out->low, out->high) > 0)
        return error_set(err, SMART_EINVAL, "%s: min is above max", path);
    return 0;
}

static int parse_item(const json_t *e, const char *path, json_int_t default_warning,
                      contract_item *item, smart_error *err)
{
    int rc;
    const char *unused;
    json_int_t interval = 365, warning = default_warning; /* the seed's default interval */
    json_t *tolerances, *baseline;
    char where[JF_PATH_MAX];
    json_t *f[I_KEYS];
    if ((rc = jf_object_fields(e, path, item_keys, f, err)) ||
        (rc = jf_id_of(f[I_EQUIPMENT_ID], path, "equipment_id", true, &item->equipment_id, err)) ||
        (rc = jf_text_of(f[I_DESCRIPTION], path, "description", true, 200, &item->description,
                         err)) ||
        (rc = jf_string_of(f[I_EQUIPMENT_TYPE], path, "equipment_type", true, &item->equipment_type,
                           err)) ||
        (rc = jf_string_of(f[I_MANUFACTURER], path, "manufacturer", false, &unused, err)) ||
        (rc = jf_string_of(f[I_MODEL], path, "model", false, &unused, err)) ||
        (rc = jf_string_of(f[I_SERIAL_NUMBER], path, "serial_number", false, &unused, err)) ||
        (rc = jf_int_of(f[I_INTERVAL], path, "calibration_interval_days", false, 1, 36500,
                        &interval, err)) ||
        (rc =
             jf_int_of(f[I_WARNING], path, "warning_period_days", false, 0, 3650, &warning, err)) ||
        (rc = jf_array_of(f[I_TOLERANCES], path, "tolerances", false, &tolerances, err)))
        return rc;
    const json_t *schedule = f[I_SCHEDULE];
    if (schedule && !json_is_object(schedule))
        return error_set(err, SMART_EINVAL, "%s.maintenance_schedule: must be a map (got %s)", path,
                         jf_type_name(schedule));
    item->return_requires_verification = true;
    if ((rc = jf_bool_of(f[I_RETURN_VERIFIED], path, "return_requires_verification", false,
                         &item->return_requires_verification, err)))
        return rc;
    item->terms = (cal_terms){.interval_days = (int)interval, .warning_days = (int)warning};
    if (tolerances) {
        item->tolerance_count = json_array_size(tolerances);
        item->tolerances =
            calloc(item->tolerance_count ? item->tolerance_count : 1, sizeof *item->tolerances);
        if (!item->tolerances)
            return error_set(err, SMART_ENOMEM, "out of memory");
        jf_path(where, sizeof where, path, "tolerances");
        for (size_t i = 0; i < item->tolerance_count; i++) {
            char tpath[JF_PATH_MAX];
            jf_index(tpath, sizeof tpath, where, i);
            if ((rc = parse_tolerance(json_array_get(tolerances, i), tpath, &item->tolerances[i],
                                      err)))
                return rc;
            /* Points of one parameter are told apart by their nominal value. */
            for (size_t j = 0; j < i; j++) {
                const tolerance *a = &item->tolerances[j], *b = &item->tolerances[i];
                if (strcmp(a->parameter, b->parameter) == 0 &&
                    (!a->has_nominal || !b->has_nominal || a->nominal == b->nominal))
                    return error_set(err, SMART_EINVAL,
                                     "%s.parameter: '%s' is already at "
                                     "tolerances[%zu]; several points of one parameter each need "
                                     "their own nominal",
                                     tpath, b->parameter, j);
            }
        }
    }
    baseline = f[I_LAST_CALIBRATION];
    if (baseline) {
        json_t *b[B_KEYS];
        jf_path(where, sizeof where, path, "last_calibration");
        if ((rc = jf_object_fields(baseline, where, baseline_keys, b, err)) ||
            (rc = jf_date_of(b[B_DATE], where, "calibration_date", true, &item->baseline_date,
                             &item->baseline_date_text, err)) ||
            (rc = jf_string_of(b[B_CERTIFICATE], where, "certificate_number", true,
                               &item->baseline_certificate, err)) ||
            (rc = jf_string_of(b[B_PROVIDER], where, "provider", true, &item->baseline_provider,
                               err)))
            return rc;
        item->has_baseline = true;
    }
    return 0;
}

static int parse_step(const json_t *st, const char *path, check_step *out, smart_error *err)
{
    const char *input_type;
    int rc;
    if ((rc = jf_object(st, path, step_keys, err)) ||
        (rc = jf_id(st, path, "step_id", true, &out->step_id, err)) ||
        (rc = jf_text(st, path, "description", true, 200, &out->description, err)) ||
        (rc = jf_string(st, path, "input_type", true, &input_type, err)) ||
        (rc = jf_text(st, path, "unit", false, 32, &out->unit, err)) ||
        (rc = jf_number(st, path, "min", false, &out->min, &out->has_min, err)) ||
        (rc = jf_number(st, path, "max", false, &out->max, &out->has_max, err)) ||
        (rc = jf_string(st, path, "reference_value", false, &out->reference_value, err)))
        return rc;
    if (strcmp(input_type, "number") == 0)
        out->is_reading = true;
    else if (strcmp(input_type, "checkbox") != 0)
        return error_set(err, SMART_EINVAL,
                         "%s.input_type: must be \"number\" or \"checkbox\" "
                         "(got \"%.40s\")",
                         path, input_type);
    if (out->is_reading && !out->unit)
        return error_set(err, SMART_EINVAL,
                         "%s.unit: missing required field (a number step "
                         "has a unit)",
                         path);
    if (!out->is_reading && (out->has_min || out->has_max || out->unit))
        return error_set(err, SMART_EINVAL, "%s: a checkbox step has no unit or limits", path);
    /* Judged exactly on the decimals written (see decimal.h). */
    if ((out->has_min && !decimal_from_double(out->min, &out->low)) ||
        (out->has_max && !decimal_from_double(out->max, &out->high)))
        return error_set(err, SMART_EINVAL, "%s: a limit is not a finite number", path);
    if (out->has_min && out->has_max && decimal_compare(out->low, out->high) > 0)
        return error_set(err, SMART_EINVAL, "%s: min is above max", path);
    return 0;
}

static int parse_frequency(const json_t *p, const char *path, procedure *out, smart_error *err)
{
    const char *text;
    json_int_t hours = 0, days = 0;
    int rc;
    if ((rc = jf_string(p, path, "frequency", false, &text, err)) ||
        (rc = jf_int(p, path, "frequency_hours", false, 1, 24 * 366, &hours, err)) ||
        (rc = jf_int(p, path, "frequency_days", false, 1, 3660, &days, err)))
        return rc;
    if ((text != NULL) + (hours != 0) + (days != 0) != 1)
        return error_set(err, SMART_EINVAL,
                         "%s: give exactly one of frequency (\"per_shift\", "
                         "\"daily\", \"weekly\"), frequency_hours or frequency_days",
                         path);
    out->frequency_text = text;
    if (hours) {
        out->frequency = FREQ_HOURS;
        out->every = (int)hours;
        out->frequency_text = "every_n_hours";
    } else if (days) {
        out->frequency = FREQ_DAYS;
        out->every = (int)days;
        out->frequency_text = "every_n_days";
    } else if (strcmp(text, "per_shift") == 0) {
        out->frequency = FREQ_PER_SHIFT;
    } else if (strcmp(text, "daily") == 0 || strcmp(text, "weekly") == 0) {
        out->frequency = FREQ_DAYS;
        out->every = text[0] == 'd' ? 1 : 7;
    } else {
        return error_set(err, SMART_EINVAL,
                         "%s.frequency: must be \"per_shift\", \"daily\" or "
                         "\"weekly\" (got \"%.40s\")",
                         path, text);
    }
    if (hours || days)
        snprintf(out->frequency_label, sizeof out->frequency_label, "every %d %s", out->every,
                 hours ? (hours == 1 ? "hour" : "hours") : (days == 1 ? "day" : "days"));
    else
        snprintf(out->frequency_label, sizeof out->frequency_label, "%s",
                 out->frequency == FREQ_PER_SHIFT ? "per-shift" : text);
    return 0;
}

static contract_item *find_item(contract *c, const char *id)
{
    for (size_t i = 0; i < c->item_count; i++)
        if (c->items[i].equipment_id && strcmp(c->items[i].equipment_id, id) == 0)
            return &c->items[i];
    return NULL;
}

static int parse_procedure(const json_t *p, const char *path, contract *c, procedure *out,
                           smart_error *err)
{
    const char *on_fail = NULL;
    json_t *equipment, *steps, *references;
    char where[JF_PATH_MAX], item_path[JF_PATH_MAX + 24];
    int rc;
    out->required_before_test = true;
    if ((rc = jf_object(p, path, procedure_keys, err)) ||
        (rc = jf_id(p, path, "procedure_id", true, &out->procedure_id, err)) ||
        (rc = jf_string(p, path, "title", true, &out->title, err)) ||
        (rc = jf_id_array(p, path, "equipment", true, true, &equipment, err)) ||
        (rc = parse_frequency(p, path, out, err)) ||
        (rc = jf_bool(p, path, "required_before_test", false, &out->required_before_test, err)) ||
        (rc = jf_string(p, path, "on_fail", false, &on_fail, err)) ||
        (rc = jf_bool(p, path, "reference_instrument_required", false, &out->needs_reference,
                      err)) ||
        (rc = jf_id_array(p, path, "reference_instruments", false, true, &references, err)) ||
        (rc = jf_array(p, path, "checklist_steps", true, &steps, err)))
        return rc;
    out->references = references;
    if (on_fail && strcmp(on_fail, "out_of_service") == 0)
        out->out_of_service_on_fail = true;
    else if (on_fail && strcmp(on_fail, "not_ready") != 0)
        return error_set(err, SMART_EINVAL,
                         "%s.on_fail: must be \"not_ready\" or "
                         "\"out_of_service\" (got \"%.40s\")",
                         path, on_fail);
    out->equipment = equipment;
    out->step_count = json_array_size(steps);
    jf_path(where, sizeof where, path, "checklist_steps");
    if (out->step_count == 0)
        return error_set(err, SMART_EINVAL, "%s: must list at least one step", where);
    if (!(out->steps = calloc(out->step_count, sizeof *out->steps)))
        return error_set(err, SMART_ENOMEM, "out of memory");
    for (size_t i = 0; i < out->step_count; i++) {
        jf_index(item_path, sizeof item_path, where, i);
        if ((rc = parse_step(json_array_get(steps, i), item_path, &out->steps[i], err)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->steps[j].step_id, out->steps[i].step_id) == 0)
                return error_set(err, SMART_EINVAL, "%s.step_id: '%s' is already used", item_path,
                                 out->steps[i].step_id);
    }
    jf_path(where, sizeof where, path, "equipment");
    for (size_t i = 0; i < json_array_size(equipment); i++) {
        const char *id = json_string_value(json_array_get(equipment, i));
        contract_item *item = find_item(c, id);
        jf_index(item_path, sizeof item_path, where, i);
        if (!item)
            return error_set(err, SMART_EINVAL,
                             "%s: '%s' is not in this contract's "
                             "equipment_list",
                             item_path, id);
        if (item->procedure_count == ITEM_MAX_PROCEDURES)
            return error_set(err, SMART_EINVAL, "%s: '%s' has more than %d procedures", item_path,
                             id, ITEM_MAX_PROCEDURES);
        item->procedures[item->procedure_count++] = out;
    }
    return 0;
}

static int parse_shift_starts(const json_t *doc, contract *c, smart_error *err)
{
    json_t *shifts;
    int rc = jf_array(doc, "", "shift_starts", false, &shifts, err);
    if (rc)
        return rc;
    if (!shifts) { /* three eight-hour shifts */
        c->shift_count = 3;
        c->shift_starts[0] = 6 * 60, c->shift_starts[1] = 14 * 60, c->shift_starts[2] = 22 * 60;
        return 0;
    }
    size_t n = json_array_size(shifts);
    if (n == 0 || n > CONTRACT_MAX_SHIFTS)
        return error_set(err, SMART_EINVAL, "shift_starts: must list 1 to %d times",
                         CONTRACT_MAX_SHIFTS);
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(shifts, i));
        /* Exactly HH:MM: sscanf alone took " 9:05" and "-0:00". */
        bool digits = t && strlen(t) == 5 && isdigit((unsigned char)t[0]) &&
                      isdigit((unsigned char)t[1]) && t[2] == ':' && isdigit((unsigned char)t[3]) &&
                      isdigit((unsigned char)t[4]);
        int hh = digits ? (t[0] - '0') * 10 + (t[1] - '0') : -1;
        int mm = digits ? (t[3] - '0') * 10 + (t[4] - '0') : -1;
        if (!digits || hh > 23 || mm > 59)
            return error_set(err, SMART_EINVAL, "shift_starts[%zu]: must be a time \"HH:MM\"", i);
        c->shift_starts[i] = hh * 60 + mm;
        if (i > 0 && c->shift_starts[i] <= c->shift_starts[i - 1])
            return error_set(err, SMART_EINVAL, "shift_starts[%zu]: times must ascend", i);
    }
    c->shift_count = n;
    return 0;
}

/* A contract's own strings: blocks that never move, so that a string copied stays where it
 * is while more are added (an item's as it is read, the rest once the contract is). */
typedef struct string_block {
    struct string_block *next;
    size_t used, size;
    char data[];
} string_block;

struct contract_strings {
    string_block *blocks;
    size_t items_copied;    /* the first items_copied items' strings are here, their tolerances'
                             * lists referenced */
    bool procedures_copied; /* so are the rest: header, procedures (and their lists) */
};

#define STRING_BLOCK_SIZE (256 * 1024)

/* Copies *s (when not NULL) into `cs` and points *s at the copy. 0, or -1 out of memory. */
static int own_string(struct contract_strings *cs, const char **s)
{
    if (!*s)
        return 0;
    size_t n = strlen(*s) + 1;
    string_block *b = cs->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > STRING_BLOCK_SIZE ? n : STRING_BLOCK_SIZE;
        if (!(b = malloc(sizeof *b + size)))
            return -1;
        *b = (string_block){.next = cs->blocks, .size = size};
        cs->blocks = b;
    }
    char *copy = b->data + b->used;
    memcpy(copy, *s, n);
    b->used += n;
    *s = copy;
    return 0;
}

static void tolerance_lists(contract_item *it, bool take)
{
    for (size_t j = 0; it->tolerances && j < it->tolerance_count; j++) {
        json_t *list = (json_t *)it->tolerances[j].references;
        if (take)
            json_incref(list);
        else
            json_decref(list);
    }
}

/* An item's strings copied into `cs`, its tolerances' lists referenced on their own, so that
 * the part of the document it was read from can go. 0, or -1 out of memory. */
static int own_item(struct contract_strings *cs, contract_item *it)
{
    int rc = own_string(cs, &it->equipment_id) | own_string(cs, &it->description) |
             own_string(cs, &it->equipment_type) | own_string(cs, &it->baseline_date_text) |
             own_string(cs, &it->baseline_certificate) | own_string(cs, &it->baseline_provider);
    for (size_t j = 0; it->tolerances && j < it->tolerance_count; j++)
        rc |=
            own_string(cs, &it->tolerances[j].parameter) | own_string(cs, &it->tolerances[j].unit);
    tolerance_lists(it, true);
    return rc ? -1 : 0;
}

static void procedure_lists(contract *c, bool take)
{
    for (size_t i = 0; i < c->procedure_count; i++) {
        json_t *equipment = (json_t *)c->procedures[i].equipment;
        json_t *references = (json_t *)c->procedures[i].references;
        if (take) {
            json_incref(equipment);
            json_incref(references);
        } else {
            json_decref(equipment);
            json_decref(references);
        }
    }
}

static void contract_strings_free(contract *c)
{
    struct contract_strings *cs = c->strings;
    if (!cs)
        return;
    for (size_t i = 0; i < cs->items_copied && i < c->item_count; i++)
        tolerance_lists(&c->items[i], false);
    if (cs->procedures_copied)
        procedure_lists(c, false);
    for (string_block *b = cs->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(cs);
    c->strings = NULL;
}

void contract_release(contract *c)
{
    contract_strings_free(c);
    for (size_t i = 0; i < c->item_count; i++)
        free(c->items[i].tolerances);
    free(c->items);
    for (size_t i = 0; i < c->procedure_count; i++)
        free(c->procedures[i].steps);
    free(c->procedures);
    free(c->file);
    free(c->text);
    json_decref(c->document);
    memset(c, 0, sizeof *c);
}

/* Once a contract of a set is read and valid (on the thread that read it): its strings copied
 * into blocks of its own and the JSON lists it keeps referenced on their own, then its document
 * freed. A station's set in force holds its terms, not the parse trees of its files (at 100,000
 * items those were most of the module's memory, and freeing them at the end most of a stop).
 * Items read as the file was (jr_read_streaming) are already copied. 0, or -1 when
 * out of memory (then contract_release still releases it). */
static int compact(contract *c)
{
    if (!c->strings && !(c->strings = calloc(1, sizeof *c->strings)))
        return -1;
    struct contract_strings *cs = c->strings;
    int rc = 0;
    for (; cs->items_copied < c->item_count; cs->items_copied++)
        rc |= own_item(cs, &c->items[cs->items_copied]); /* the checklist's item after a stream */
    rc |= own_string(cs, &c->contract_id) | own_string(cs, &c->station_type) |
          own_string(cs, &c->contract_type) | own_string(cs, &c->status);
    for (size_t i = 0; i < c->procedure_count; i++) {
        procedure *p = &c->procedures[i];
        rc |= own_string(cs, &p->procedure_id) | own_string(cs, &p->title) |
              own_string(cs, &p->frequency_text);
        for (size_t j = 0; j < p->step_count; j++) {
            check_step *st = &p->steps[j];
            if (st->step_id != st->step_number)
                rc |= own_string(cs, &st->step_id);
            rc |= own_string(cs, &st->description) | own_string(cs, &st->unit) |
                  own_string(cs, &st->reference_value);
        }
    }
    procedure_lists(c, true);
    cs->procedures_copied = true;
    if (rc)
        return -1;
    json_decref(c->document);
    c->document = NULL;
    return 0;
}

static int compare_item_ids(const void *a, const void *b)
{
    return strcmp((*(const contract_item *const *)a)->equipment_id,
                  (*(const contract_item *const *)b)->equipment_id);
}

void contract_problems_add(contract_problems *p, const char *text)
{
    if (!p)
        return;
    if (p->count < CONTRACT_PROBLEMS_MAX) {
        p->text[p->count][0] = '\0';
        text_append(p->text[p->count++], CONTRACT_PROBLEM_LEN, "", text);
    }
    p->found++;
}

/* The validator goes on past a problem, one per top-level field, item and procedure, so that
 * the contract's author hears of all of them at once; the first is the one in err. */
typedef struct problem_list {
    contract_problems *all; /* may be NULL */
    smart_error *first;     /* the caller's err, filled with the first problem */
    smart_error here;       /* where each reader writes */
    bool any, out_of_memory;
} problem_list;

/* Notes the problem in pl->here when rc is not 0; returns rc. */
static int note(problem_list *pl, int rc)
{
    if (!rc)
        return 0;
    if (rc == SMART_ENOMEM)
        pl->out_of_memory = true;
    if (!pl->any && pl->first)
        *pl->first = pl->here;
    pl->any = true;
    contract_problems_add(pl->all, pl->here.text);
    return rc;
}

static bool listed(const char *s, const char *const list[])
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* A date of the hub's metadata: a date, an RFC 3339 timestamp, or an ISO date-time without an
 * offset as Python's isoformat() writes it (read as UTC: it only orders contracts). */
static int meta_date(const json_t *doc, const char *key, date_value *out, bool *has,
                     smart_error *err)
{
    const json_t *v = json_object_get(doc, key);
    *has = false;
    if (!v)
        return 0;
    const char *text = json_string_value(v);
    if (!text)
        return error_set(err, SMART_EINVAL, "%s: must be a string (got %s)", key, jf_type_name(v));
    char why[96] = "";
    if (date_parse(text, out, why, sizeof why) == 0) {
        *has = true;
        return 0;
    }
    size_t n = strlen(text);
    if (n >= 19 && n < 40 && text[10] == 'T' && !strpbrk(text + 19, "Zz+-")) {
        char utc[48];
        snprintf(utc, sizeof utc, "%sZ", text);
        char again[96];
        if (date_parse(utc, out, again, sizeof again) == 0) {
            *has = true;
            return 0;
        }
    }
    return error_set(err, SMART_EINVAL, "%s: '%.40s' is not a valid date: %s", key, text, why);
}

/* The hub's metadata, checked for type and kept in the document for the record. */
static int check_hub_metadata(const json_t *doc, problem_list *pl)
{
    smart_error *e = &pl->here;
    const char *unused;
    json_t *list;
    date_value d;
    bool has;
    note(pl, jf_string(doc, "", "description", false, &unused, e));
    note(pl, jf_string(doc, "", "equipment_type", false, &unused, e));
    note(pl, jf_id(doc, "", "parent_contract", false, &unused, e));
    note(pl, jf_string(doc, "", "retirement_reason", false, &unused, e));
    note(pl, jf_id_array(doc, "", "conditions", false, false, &list, e));
    static const char *const dates[] = {"validated_date", "retired_date", NULL};
    for (size_t i = 0; dates[i]; i++)
        note(pl, meta_date(doc, dates[i], &d, &has, e));
    const json_t *rules = json_object_get(doc, "validation_rules");
    if (rules && !json_is_object(rules))
        note(pl, error_set(e, SMART_EINVAL, "validation_rules: must be an object (got %s)",
                           jf_type_name(rules)));
    const json_t *changes = json_object_get(doc, "changes");
    if (changes && !json_is_string(changes) && !json_is_array(changes) && !json_is_object(changes))
        note(pl, error_set(e, SMART_EINVAL, "changes: must be a text, a list or a map (got %s)",
                           jf_type_name(changes)));
    return 0;
}

/* YYYYMMDDhhmmss of a UTC instant: a contract's order by date, readable where a version is. */
static json_int_t order_of_instant(int64_t ms)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rest = (ms - days * 86400000) / 1000;
    int y, m, d;
    civil_to_ymd((civil_day)days, &y, &m, &d);
    return (((((json_int_t)y * 100 + m) * 100 + d) * 100 + rest / 3600) * 100 + rest / 60 % 60) *
               100 +
           rest % 60;
}

/* The contract's order: its integer version or, without one, its deployed_date or else its
 * created_date (the hub keeps versions in folder names, not in the file). */
static void read_order(const json_t *doc, contract *c, problem_list *pl)
{
    smart_error *e = &pl->here;
    date_value deployed, created;
    bool has_deployed = false, has_created = false;
    note(pl, meta_date(doc, "deployed_date", &deployed, &has_deployed, e));
    note(pl, meta_date(doc, "created_date", &created, &has_created, e));
    if (json_object_get(doc, "version") || (!has_deployed && !has_created)) {
        if (note(pl, jf_int(doc, "", "version", true, 1, JF_INT_MAX, &c->version, e)))
            return;
        if (!json_object_get(doc, "version"))
            return;
        c->has_version = true;
        snprintf(c->order_text, sizeof c->order_text, "version %" JSON_INTEGER_FORMAT, c->version);
        return;
    }
    const char *key = has_deployed ? "deployed_date" : "created_date";
    const date_value *when = has_deployed ? &deployed : &created;
    c->version = order_of_instant(when->instant_ms);
    snprintf(c->order_text, sizeof c->order_text, "%s %.40s", key,
             json_string_value(json_object_get(doc, key)));
}

static const char *const hub_step_keys[] = {"step", "description",     "input_type",
                                            "unit", "reference_value", NULL};

/* A step of the hub's checklist: {step, description, input_type, unit, reference_value}. */
static int parse_hub_step(const json_t *st, const char *path, check_step *out, smart_error *err)
{
    const char *input_type;
    json_int_t number = 0;
    int rc;
    if ((rc = jf_object(st, path, hub_step_keys, err)) ||
        (rc = jf_int(st, path, "step", true, 1, 100000, &number, err)) ||
        (rc = jf_string(st, path, "description", true, &out->description, err)) ||
        (rc = jf_string(st, path, "input_type", true, &input_type, err)) ||
        (rc = jf_text(st, path, "unit", false, 32, &out->unit, err)) ||
        (rc = jf_string(st, path, "reference_value", false, &out->reference_value, err)))
        return rc;
    snprintf(out->step_number, sizeof out->step_number, "%" JSON_INTEGER_FORMAT, number);
    out->step_id = out->step_number;
    if (strcmp(input_type, "number") == 0)
        out->is_reading = true;
    else if (strcmp(input_type, "checkbox") != 0)
        return error_set(err, SMART_EINVAL,
                         "%s.input_type: must be \"number\" or \"checkbox\" (got \"%.40s\")", path,
                         input_type);
    if (out->is_reading && !out->unit)
        return error_set(err, SMART_EINVAL,
                         "%s.unit: missing required field (a number step has a unit)", path);
    if (!out->is_reading) {
        if (out->unit)
            return error_set(err, SMART_EINVAL, "%s.unit: a checkbox step has no unit", path);
        return 0;
    }
    reference_limit limit;
    reference_value_read(out->reference_value, out->unit, &limit);
    snprintf(out->reference_reading, sizeof out->reference_reading, "%s", limit.reading);
    if (!limit.machine_checked) {
        out->needs_attestation = true;
        return 0;
    }
    out->has_min = limit.has_min;
    out->has_max = limit.has_max;
    out->min_excluded = limit.min_excluded;
    out->max_excluded = limit.max_excluded;
    out->low = limit.low;
    out->high = limit.high;
    out->min = decimal_to_double(limit.low);
    out->max = decimal_to_double(limit.high);
    return 0;
}

/* The hub's checklist form: top-level checklist_steps make the contract a station procedure,
 * required before every test on the station, due daily unless a frequency says otherwise. It is
 * held by a station item named by the contract's id, which needs no calibration. */
static void parse_checklist(const json_t *doc, contract *c, problem_list *pl)
{
    smart_error *e = &pl->here;
    json_t *steps;
    if (note(pl, jf_array(doc, "", "checklist_steps", true, &steps, e)))
        return;
    procedure *p = &c->procedures[c->procedure_count++];
    p->procedure_id = c->contract_id;
    /* The title is the station item's description, in every answer about a test here: bounded
     * as an item's description is, so that one item always fits a line. */
    if (note(pl, jf_text(doc, "", "title", false, 200, &p->title, e)))
        return;
    if (!p->title)
        p->title = c->contract_id;
    p->required_before_test = true;
    if (json_object_get(doc, "frequency") || json_object_get(doc, "frequency_hours") ||
        json_object_get(doc, "frequency_days")) {
        if (note(pl, parse_frequency(doc, "checklist", p, e)))
            return;
    } else {
        p->frequency = FREQ_DAYS;
        p->every = 1;
        p->frequency_text = "daily";
        snprintf(p->frequency_label, sizeof p->frequency_label, "daily");
    }
    p->step_count = json_array_size(steps);
    if (p->step_count == 0) {
        note(pl, error_set(e, SMART_EINVAL, "checklist_steps: must list at least one step"));
        return;
    }
    if (!(p->steps = calloc(p->step_count, sizeof *p->steps))) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return;
    }
    bool ok = true;
    for (size_t i = 0; i < p->step_count; i++) {
        char path[JF_PATH_MAX];
        jf_index(path, sizeof path, "checklist_steps", i);
        if (note(pl, parse_hub_step(json_array_get(steps, i), path, &p->steps[i], e))) {
            ok = false;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (p->steps[j].step_id && strcmp(p->steps[j].step_id, p->steps[i].step_id) == 0) {
                note(pl, error_set(e, SMART_EINVAL, "%s.step: %s is already used", path,
                                   p->steps[i].step_id));
                ok = false;
                break;
            }
    }
    if (!ok || !c->contract_id)
        return;
    contract_item *item = &c->items[c->item_count++];
    item->equipment_id = c->contract_id;
    item->description = p->title;
    item->equipment_type = "station checklist";
    item->terms = (cal_terms){.interval_days = 36500, .warning_days = 0};
    item->station_checklist = true;
    item->procedures[item->procedure_count++] = p;
}

/* The seed's flat baseline on an item of equipment_list, in JSON as in YAML (where
 * contract_yaml.c has mapped it already, with its lines): last_calibration_date, an optional
 * calibration_certificate and calibration_provider become last_calibration. */
#define FLAT_CERTIFICATE_DEFAULT "not given in the contract"
static int map_flat_baseline_json(json_t *item, const char *path, smart_error *err)
{
    json_t *date = json_object_get(item, "last_calibration_date");
    json_t *cert = json_object_get(item, "calibration_certificate");
    json_t *provider = json_object_get(item, "calibration_provider");
    if (!date && !cert && !provider)
        return 0;
    if (json_object_get(item, "last_calibration"))
        return error_set(err, SMART_EINVAL,
                         "%s.last_calibration_date: give last_calibration or "
                         "last_calibration_date, not both",
                         path);
    if (!date)
        return error_set(
            err, SMART_EINVAL,
            "%s.last_calibration_date: missing required field (calibration_certificate "
            "and calibration_provider go with it)",
            path);
    json_t *baseline =
        json_pack("{s:O, s:o, s:o}", "calibration_date", date, "certificate_number",
                  cert ? json_incref(cert) : json_string(FLAT_CERTIFICATE_DEFAULT), "provider",
                  provider ? json_incref(provider) : json_string(CONTRACT_YAML_DEFAULT_PROVIDER));
    if (!baseline)
        return error_set(err, SMART_ENOMEM, "out of memory");
    json_object_del(item, "last_calibration_date");
    json_object_del(item, "calibration_certificate");
    json_object_del(item, "calibration_provider");
    return json_object_set_new(item, "last_calibration", baseline)
               ? error_set(err, SMART_ENOMEM, "out of memory")
               : 0;
}

static const char *const seed_procedure_keys[] = {"steps", "frequency", NULL};
static const char *const seed_step_keys[] = {"description", NULL};

/* The seed's maintenance_procedures: each check type a procedure of every item of the
 * contract, its steps attested one by one ("1", "2", ...), due daily unless it says
 * otherwise, done when the station does it (not required before each test). */
static void parse_seed_procedures(const json_t *doc, contract *c, problem_list *pl)
{
    smart_error *e = &pl->here;
    const json_t *map = json_object_get(doc, "maintenance_procedures");
    if (!json_is_object(map)) {
        note(pl, error_set(e, SMART_EINVAL, "maintenance_procedures: must be a map (got %s)",
                           jf_type_name(map)));
        return;
    }
    const char *type;
    json_t *body;
    json_object_foreach ((json_t *)map, type, body) {
        char path[JF_PATH_MAX];
        jf_path(path, sizeof path, "maintenance_procedures", type);
        json_t *steps;
        if (note(pl, jf_object(body, path, seed_procedure_keys, e)) ||
            note(pl, jf_array(body, path, "steps", true, &steps, e)))
            continue;
        procedure *p = &c->procedures[c->procedure_count++];
        p->procedure_id = type;
        p->title = type;
        p->required_before_test = false;
        if (json_object_get(body, "frequency")) {
            if (note(pl, parse_frequency(body, path, p, e)))
                continue;
        } else {
            p->frequency = FREQ_DAYS;
            p->every = 1;
            p->frequency_text = "daily";
            snprintf(p->frequency_label, sizeof p->frequency_label, "daily");
        }
        p->step_count = json_array_size(steps);
        if (!p->step_count) {
            note(pl, error_set(e, SMART_EINVAL, "%s.steps: must list at least one step", path));
            continue;
        }
        if (!(p->steps = calloc(p->step_count, sizeof *p->steps))) {
            note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
            return;
        }
        bool ok = true;
        for (size_t i = 0; i < p->step_count && ok; i++) {
            char step_path[JF_PATH_MAX + 24];
            jf_index(step_path, sizeof step_path, path, i);
            check_step *st = &p->steps[i];
            const json_t *one = json_array_get(steps, i);
            ok = !note(pl, jf_object(one, step_path, seed_step_keys, e)) &&
                 !note(pl, jf_string(one, step_path, "description", true, &st->description, e));
            snprintf(st->step_number, sizeof st->step_number, "%u", (unsigned)(i + 1) % 100000u);
            st->step_id = st->step_number;
        }
        for (size_t k = 0; ok && k < c->item_count; k++) {
            contract_item *item = &c->items[k];
            if (!item->equipment_id || item->station_checklist)
                continue;
            if (item->procedure_count == ITEM_MAX_PROCEDURES) {
                note(pl, error_set(e, SMART_EINVAL, "%s: '%s' has more than %d procedures", path,
                                   item->equipment_id, ITEM_MAX_PROCEDURES));
                break;
            }
            item->procedures[item->procedure_count++] = p;
        }
    }
}

/* The ids of a contract's equipment list as they are read, to find one listed twice: a hash of
 * the first index of each id (a list of 5,000 items compared pairwise was 12.5 million string
 * comparisons a contract, most of a 100,000-item station's start-up). */
typedef struct id_table {
    size_t *slot; /* index + 1 of the first item with the id; 0: empty */
    size_t mask;
} id_table;

static int id_table_init(id_table *t, size_t count)
{
    size_t slots = 16;
    while (slots < 2 * count)
        slots *= 2;
    t->slot = calloc(slots, sizeof *t->slot);
    t->mask = slots - 1;
    return t->slot ? 0 : -1;
}

static uint32_t id_table_hash(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* Whether item i's id was listed by an item before it (*first, when not NULL, gets the first
 * such index); lists it when not. An item without an id (refused before it was read) is left
 * out. */
static bool listed_first(id_table *t, const contract_item *items, size_t i, size_t *first)
{
    const char *id = items[i].equipment_id;
    if (id == NULL)
        return false;
    size_t at = id_table_hash(id) & t->mask;
    for (; t->slot[at]; at = (at + 1) & t->mask)
        if (strcmp(items[t->slot[at] - 1].equipment_id, id) == 0) {
            if (first)
                *first = t->slot[at] - 1;
            return first != NULL;
        }
    t->slot[at] = i + 1;
    return false;
}

/* A contract of another type is not this module's to judge: kept as skipped, however it is
 * written. 0, or SMART_ENOMEM (noted). */
static int skip_other_type(const char *file, const json_t *doc, const char *type, contract *c,
                           problem_list *pl)
{
    c->other_type = true;
    c->contract_type = type;
    c->contract_id = json_string_value(json_object_get(doc, "smart_contract_id"));
    c->in_force = false;
    c->not_in_force = "another type of contract";
    if (!(c->file = strdup(file)))
        return note(pl, error_set(&pl->here, SMART_ENOMEM, "out of memory"));
    return 0;
}

/* The contract's own fields: its id and type, its order, its station, its status (and so
 * whether it is in force), the hub's metadata. Returns its warning period in days. */
static json_int_t parse_header(const json_t *doc, contract *c, problem_list *pl)
{
    smart_error *e = &pl->here;
    const char *type = NULL, *unused, *domain = NULL;
    date_value issued;
    json_int_t warning = 30;
    note(pl, jf_object(doc, "", contract_keys, e));
    note(pl, jf_id(doc, "", "smart_contract_id", true, &c->contract_id, e));
    if (!note(pl, jf_string(doc, "", "contract_type", true, &type, e)) &&
        strcmp(type, "SmartMaintenance") != 0)
        note(pl, error_set(e, SMART_EINVAL,
                           "contract_type: must be \"SmartMaintenance\" (got \"%.40s\")", type));
    c->contract_type = type;
    read_order(doc, c, pl);
    /* Station type: station_type, else domain, else the station whose folder it was deployed
     * to (the hub delivers only a station's own contracts there). */
    note(pl, jf_id(doc, "", "station_type", false, &c->station_type, e));
    note(pl, jf_id(doc, "", "domain", false, &domain, e));
    if (!c->station_type)
        c->station_type = domain;
    c->station_from_folder = c->station_type == NULL;
    static const char *const statuses[] = {"draft",  "validated",  "deployed",
                                           "active", "deprecated", NULL};
    c->in_force = true;
    if (!note(pl, jf_string(doc, "", "status", false, &c->status, e)) && c->status) {
        if (!listed(c->status, statuses))
            note(pl, error_set(e, SMART_EINVAL,
                               "status: must be draft, validated, deployed, active or deprecated "
                               "(got \"%.40s\")",
                               c->status));
        else if (strcmp(c->status, "draft") == 0 || strcmp(c->status, "validated") == 0) {
            c->in_force = false;
            c->not_in_force = "status is not deployed or active: read, not in force";
        } else if (strcmp(c->status, "deprecated") == 0) {
            c->in_force = false;
            c->not_in_force = "deprecated: retired, what it held is no longer required";
        }
    }
    check_hub_metadata(doc, pl);
    note(pl, jf_string(doc, "", "title", false, &unused, e));
    note(pl, jf_string(doc, "", "issued_by", false, &unused, e));
    note(pl, jf_date(doc, "", "issued_at", false, &issued, &unused, e));
    /* Items take the contract's warning period: a bad one is noted once, here, not per item. */
    if (note(pl, jf_int(doc, "", "warning_period_days", false, 0, 3650, &warning, e)))
        warning = 30;
    return warning;
}

/* The items of equipment_list read while the file is (jr_read_streaming): each
 * validated and its strings copied as soon as it is complete, then its part of the document
 * dropped. What the validator would have noted for each, in order, is kept here and noted when
 * parse_equipment_list comes to it, so the problems and the first error are the same as when
 * the items are read from the whole document. */
#define WARNING_FROM_CONTRACT                                                                      \
    (-1) /* an item without its own warning period: the contract's,                                \
          * read later (any order of keys) */
typedef struct streamed_items {
    contract_item *items;
    size_t count, room;
    id_table ids;
    size_t id_count; /* ids listed in `ids` */
    struct contract_strings *strings;
    problem_list pl; /* the problems of the items, noted as parse_equipment_list would */
    smart_error first;
    contract_problems problems;
} streamed_items;

static void streamed_init(streamed_items *s)
{
    memset(s, 0, sizeof *s);
    s->pl = (problem_list){.all = &s->problems, .first = &s->first};
}

static void streamed_release(streamed_items *s)
{
    for (size_t i = 0; i < s->count; i++) {
        tolerance_lists(&s->items[i], false);
        free(s->items[i].tolerances);
    }
    free(s->items);
    free(s->ids.slot);
    if (s->strings) {
        contract c = {.strings = s->strings}; /* no items: only the blocks */
        contract_strings_free(&c);
    }
    memset(s, 0, sizeof *s);
}

/* Room for one more item and its id. 0, or -1 out of memory. */
static int streamed_grow(streamed_items *s)
{
    if (s->count == s->room) {
        size_t room = s->room ? 2 * s->room : 64;
        contract_item *items = realloc(s->items, room * sizeof *items);
        if (!items)
            return -1;
        s->items = items, s->room = room;
    }
    memset(&s->items[s->count], 0, sizeof s->items[s->count]);
    if (2 * (s->id_count + 1) > s->ids.mask + 1 || !s->ids.slot) {
        id_table bigger;
        if (id_table_init(&bigger, 2 * (s->id_count + 1)) != 0)
            return -1;
        /* The first index of each id, in order, as listed_first left them. */
        for (size_t k = 0; s->ids.slot && k <= s->ids.mask; k++)
            if (s->ids.slot[k]) {
                size_t at = id_table_hash(s->items[s->ids.slot[k] - 1].equipment_id) & bigger.mask;
                while (bigger.slot[at])
                    at = (at + 1) & bigger.mask;
                bigger.slot[at] = s->ids.slot[k];
            }
        free(s->ids.slot);
        s->ids = bigger;
    }
    return 0;
}

/* One item of equipment_list, as the loop of parse_equipment_list reads it. */
static int stream_item(void *ctx, size_t i, json_t *element)
{
    streamed_items *s = ctx;
    problem_list *pl = &s->pl;
    smart_error *e = &pl->here;
    if (pl->out_of_memory)
        return 0; /* the loop stops at the first failure of memory */
    if (!s->strings && !(s->strings = calloc(1, sizeof *s->strings))) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return 0;
    }
    if (i != s->count || streamed_grow(s) != 0) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return 0;
    }
    contract_item *item = &s->items[s->count++];
    char path[JF_PATH_MAX];
    jf_index(path, sizeof path, "equipment_list", i);
    bool bad = note(pl, map_flat_baseline_json(element, path, e)) ||
               note(pl, parse_item(element, path, WARNING_FROM_CONTRACT, item, e));
    if (own_item(s->strings, item) != 0) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return 0;
    }
    size_t j;
    bool twice = listed_first(&s->ids, s->items, i, bad ? NULL : &j);
    if (item->equipment_id)
        s->id_count++;
    if (!bad && twice)
        note(pl, error_set(e, SMART_EINVAL,
                           "%s.equipment_id: '%s' is already listed at equipment_list[%zu]", path,
                           item->equipment_id, j));
    return 0;
}

/* Notes what the streamed items noted, where the loop over the items would have. */
static void note_streamed(problem_list *pl, const streamed_items *s)
{
    if (s->pl.any) {
        if (!pl->any && pl->first)
            *pl->first = s->first;
        pl->any = true;
    }
    pl->out_of_memory |= s->pl.out_of_memory;
    for (size_t k = 0; k < s->problems.count; k++)
        contract_problems_add(pl->all, s->problems.text[k]);
    if (pl->all)
        pl->all->found += s->problems.found - s->problems.count;
}

/* equipment_list: each item (ids unique), with room for the checklist's station item. Returns
 * 0, or -1 when out of memory (noted). */
static int parse_equipment_list(const json_t *doc, const char *file, json_int_t warning,
                                contract *c, problem_list *pl, streamed_items *streamed)
{
    smart_error *e = &pl->here;
    json_t *list = NULL;
    bool checklist = json_object_get(doc, "checklist_steps") != NULL;
    if (!note(pl, jf_array(doc, "", "equipment_list", !checklist, &list, e)) && list) {
        c->item_count = json_array_size(list);
        if (c->item_count == 0)
            note(pl, error_set(e, SMART_EINVAL, "equipment_list: must list at least one item"));
    }
    if (streamed && (streamed->count || streamed->pl.any)) {
        /* Read already: taken over, with room for the checklist's item. */
        contract_item *items = streamed->count == c->item_count
                                   ? realloc(streamed->items, (c->item_count + 1) * sizeof *items)
                                   : NULL;
        c->file = strdup(file);
        if (!items || !c->file) {
            note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
            return -1;
        }
        memset(&items[c->item_count], 0, sizeof *items);
        c->items = items;
        c->strings = streamed->strings;
        c->strings->items_copied = c->item_count;
        streamed->items = NULL;
        streamed->count = 0;
        streamed->strings = NULL;
        note_streamed(pl, streamed);
        for (size_t i = 0; i < c->item_count; i++)
            if (c->items[i].terms.warning_days == WARNING_FROM_CONTRACT)
                c->items[i].terms.warning_days = (int)warning;
        return 0;
    }
    c->items = calloc(c->item_count + 1, sizeof *c->items); /* + 1: the checklist's item */
    c->file = strdup(file);
    if (!c->items || !c->file) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return -1;
    }
    id_table listed = {0};
    if (id_table_init(&listed, c->item_count) != 0) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return -1;
    }
    for (size_t i = 0; i < c->item_count && !pl->out_of_memory; i++) {
        char path[JF_PATH_MAX];
        jf_index(path, sizeof path, "equipment_list", i);
        if (note(pl, map_flat_baseline_json(json_array_get(list, i), path, e)) ||
            note(pl, parse_item(json_array_get(list, i), path, warning, &c->items[i], e))) {
            listed_first(&listed, c->items, i, NULL); /* its id, when it has one, is listed */
            continue;
        }
        size_t j;
        if (listed_first(&listed, c->items, i, &j))
            note(pl, error_set(e, SMART_EINVAL,
                               "%s.equipment_id: '%s' is already listed at "
                               "equipment_list[%zu]",
                               path, c->items[i].equipment_id, j));
    }
    free(listed.slot);
    return 0;
}

/* When checks are due (shift starts, the job window's policy) and the procedures: the
 * contract's own (ids unique), the seed's maintenance_procedures, the hub's checklist. Returns
 * 0, or -1 when out of memory (noted). */
static int parse_checks(const json_t *doc, contract *c, problem_list *pl)
{
    smart_error *e = &pl->here;
    const char *policy = NULL;
    json_t *procedures = NULL;
    note(pl, parse_shift_starts(doc, c, e));
    if (!note(pl, jf_string(doc, "", "job_window_policy", false, &policy, e))) {
        if (policy && strcmp(policy, "warn") == 0)
            c->job_window_warns = true;
        else if (policy && strcmp(policy, "block") != 0)
            note(pl, error_set(e, SMART_EINVAL,
                               "job_window_policy: must be \"block\" or \"warn\" "
                               "(got \"%.40s\")",
                               policy));
    }
    if (!note(pl, jf_array(doc, "", "procedures", false, &procedures, e)))
        c->procedure_count = json_array_size(procedures);
    /* + 1: the checklist's procedure, + the seed's maintenance_procedures, so that no pointer
     * to one moves. */
    const json_t *seed_procedures = json_object_get(doc, "maintenance_procedures");
    size_t extra = 1 + (json_is_object(seed_procedures) ? json_object_size(seed_procedures) : 0);
    if (!(c->procedures = calloc(c->procedure_count + extra, sizeof *c->procedures))) {
        note(pl, error_set(e, SMART_ENOMEM, "out of memory"));
        return -1;
    }
    for (size_t i = 0; i < c->procedure_count && !pl->out_of_memory; i++) {
        char path[JF_PATH_MAX];
        jf_index(path, sizeof path, "procedures", i);
        if (note(pl, parse_procedure(json_array_get(procedures, i), path, c, &c->procedures[i], e)))
            continue;
        for (size_t j = 0; j < i; j++)
            if (c->procedures[j].procedure_id &&
                strcmp(c->procedures[j].procedure_id, c->procedures[i].procedure_id) == 0) {
                note(pl, error_set(e, SMART_EINVAL, "%s.procedure_id: '%s' is already used", path,
                                   c->procedures[i].procedure_id));
                break;
            }
    }
    if (seed_procedures && !pl->out_of_memory)
        parse_seed_procedures(doc, c, pl);
    if (json_object_get(doc, "checklist_steps") && !pl->out_of_memory)
        parse_checklist(doc, c, pl);
    return 0;
}

/* The file's bytes as deployed, kept with their hash (the one the ledger cites): taken over
 * from *owned when it holds them (a buffer of the caller's, malloc'd, NUL after; *owned is then
 * NULL), else copied. 0, or -1 when out of memory (noted). */
static int keep_bytes(const char *bytes, size_t len, char **owned, contract *c, problem_list *pl)
{
    kept_sha256_hex(bytes, len, c->sha256);
    if (owned && *owned == bytes) {
        c->text = *owned; /* not a second 60 MB of copies at 100,000 items */
        *owned = NULL;
    } else if ((c->text = malloc(len + 1))) {
        memcpy(c->text, bytes, len);
        c->text[len] = '\0';
    }
    if (!c->sha256[0] || !c->text) {
        note(pl, error_set(&pl->here, SMART_ENOMEM,
                           "cannot hash or keep the contract (out of memory)"));
        return -1;
    }
    c->text_len = len;
    return 0;
}

static int parse_document(const char *file, json_t *document, const char *bytes, size_t len,
                          char **owned, contract *out, smart_error *err,
                          contract_problems *problems, streamed_items *streamed)
{
    contract c = {0};
    problem_list pl = {.all = problems, .first = err};
    c.document = document;
    const json_t *doc = c.document;
    if (!json_is_object(doc)) {
        note(&pl, jf_object(doc, "", contract_keys, &pl.here));
        goto fail;
    }
    const char *type = json_string_value(json_object_get(doc, "contract_type"));
    if (listed(type, other_contract_types)) {
        if (skip_other_type(file, doc, type, &c, &pl))
            goto fail;
        *out = c;
        return 0;
    }
    json_int_t warning = parse_header(doc, &c, &pl);
    if (parse_equipment_list(doc, file, warning, &c, &pl, streamed) || parse_checks(doc, &c, &pl) ||
        pl.any || keep_bytes(bytes, len, owned, &c, &pl))
        goto fail;
    *out = c;
    return 0;
fail:
    contract_release(&c);
    int rc = pl.out_of_memory ? SMART_ENOMEM : SMART_ECONTRACT;
    if (err)
        err->code = rc;
    return rc;
}

int contract_parse_document_all(const char *file, json_t *document, const char *bytes, size_t len,
                                contract *out, smart_error *err, contract_problems *problems)
{
    return parse_document(file, document, bytes, len, NULL, out, err, problems, NULL);
}

int contract_parse_document(const char *file, json_t *document, const char *bytes, size_t len,
                            contract *out, smart_error *err)
{
    return contract_parse_document_all(file, document, bytes, len, out, err, NULL);
}

/* "<file>: " before each problem, as before the message. */
static void prefix_problems(contract_problems *problems, const char *file)
{
    for (size_t i = 0; problems && i < problems->count; i++) {
        char copy[CONTRACT_PROBLEM_LEN];
        memcpy(copy, problems->text[i], sizeof copy);
        problems->text[i][0] = '\0';
        text_append(problems->text[i], CONTRACT_PROBLEM_LEN, "", file);
        text_append(problems->text[i], CONTRACT_PROBLEM_LEN, ": ", copy);
    }
}

/* A JSON contract; with `streamed`, its items are read as the file is (see streamed_items);
 * `owned` as keep_bytes says. */
static int parse_json_file(const char *file, const char *text, size_t len, char **owned,
                           contract *out, smart_error *err, contract_problems *problems,
                           streamed_items *streamed)
{
    json_error_t jerr;
    json_t *doc = streamed
                      ? jr_read_streaming(text, len, "equipment_list", stream_item, streamed, &jerr)
                      : jr_read(text, len, &jerr);
    if (!doc) {
        smart_error e;
        error_set(&e, SMART_ECONTRACT, "%s:%d:%d: not valid JSON: %s", file, jerr.line, jerr.column,
                  jerr.text);
        contract_problems_add(problems, e.text);
        if (err)
            *err = e;
        return SMART_ECONTRACT;
    }
    int rc = parse_document(file, doc, text, len, owned, out, err, problems, streamed);
    if (rc) {
        error_prefix(err, file);
        prefix_problems(problems, file);
    }
    return rc;
}

int contract_parse(const char *file, const char *text, size_t len, contract *out, smart_error *err)
{
    return parse_json_file(file, text, len, NULL, out, err, NULL, NULL);
}

/* As parse_json_file, the items read as the file is. */
static int parse_json_streamed(const char *file, const char *text, size_t len, char **owned,
                               contract *out, smart_error *err, contract_problems *problems)
{
    streamed_items *streamed = malloc(sizeof *streamed);
    if (!streamed) {
        smart_error e;
        error_set(&e, SMART_ENOMEM, "%s: out of memory", file);
        contract_problems_add(problems, e.text);
        if (err)
            *err = e;
        return SMART_ENOMEM;
    }
    streamed_init(streamed);
    int rc = parse_json_file(file, text, len, owned, out, err, problems, streamed);
    streamed_release(streamed); /* what the contract did not take */
    free(streamed);
    return rc;
}

/* A YAML contract's errors (contract_yaml.h): the validator's "path: why" turned into
 * "<file>:<line>: path: why", naming the path as the hub wrote it. */
static void locate_in_yaml(smart_error *err, const char *file, const yaml_line_map *map)
{
    if (!err)
        return;
    char copy[sizeof err->text];
    memcpy(copy, err->text, sizeof copy);
    char *sep = strstr(copy, ": ");
    const char *why = copy;
    int line = 0;
    const char *path = NULL;
    if (sep) {
        *sep = '\0';
        path = copy;
        why = sep + 2;
        line = yaml_line_near(map, path);
        const char *written = yaml_written_as(map, path);
        if (written)
            path = written;
    }
    char where[64];
    snprintf(where, sizeof where, ":%d", line);
    err->text[0] = '\0';
    text_append(err->text, sizeof err->text, "", file);
    if (line)
        text_append(err->text, sizeof err->text, "", where);
    if (path)
        text_append(err->text, sizeof err->text, ": ", path);
    text_append(err->text, sizeof err->text, ": ", why);
}

/* As contract_parse_yaml_all; `owned` as keep_bytes says. */
static int parse_yaml(const char *file, const char *text, size_t len, char **owned, contract *out,
                      smart_error *err, contract_problems *problems)
{
    json_t *doc;
    yaml_line_map *lines;
    int rc = contract_yaml_to_json(file, text, len, &doc, &lines, err);
    if (rc) {
        if (err)
            contract_problems_add(problems, err->text);
        return rc;
    }
    rc = parse_document(file, doc, text, len, owned, out, err, problems, NULL);
    if (rc) {
        locate_in_yaml(err, file, lines);
        for (size_t i = 0; problems && i < problems->count; i++) {
            smart_error one = {.code = rc};
            snprintf(one.text, sizeof one.text, "%s", problems->text[i]);
            locate_in_yaml(&one, file, lines);
            problems->text[i][0] = '\0';
            text_append(problems->text[i], CONTRACT_PROBLEM_LEN, "", one.text);
        }
    }
    yaml_line_map_free(lines);
    return rc;
}

int contract_parse_yaml_all(const char *file, const char *text, size_t len, contract *out,
                            smart_error *err, contract_problems *problems)
{
    return parse_yaml(file, text, len, NULL, out, err, problems);
}

int contract_parse_yaml(const char *file, const char *text, size_t len, contract *out,
                        smart_error *err)
{
    return contract_parse_yaml_all(file, text, len, out, err, NULL);
}

static bool is_yaml_name(const char *name);

/* As contract_parse_file; `owned` as keep_bytes says. */
static int parse_any(const char *file, const char *text, size_t len, char **owned, contract *out,
                     smart_error *err, contract_problems *problems)
{
    return is_yaml_name(file) ? parse_yaml(file, text, len, owned, out, err, problems)
                              : parse_json_streamed(file, text, len, owned, out, err, problems);
}

int contract_parse_file(const char *file, const char *text, size_t len, contract *out,
                        smart_error *err, contract_problems *problems)
{
    return parse_any(file, text, len, NULL, out, err, problems);
}

int contract_refuse(contract_refusal *why, int code, const char *file, const char *other_file,
                    const char *fmt, ...)
{
    if (!why)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->error.text, sizeof why->error.text, fmt, ap);
    va_end(ap);
    why->error.code = code;
    snprintf(why->file, sizeof why->file, "%s", file ? file : "");
    snprintf(why->other_file, sizeof why->other_file, "%s", other_file ? other_file : "");
    return code;
}

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "not a regular file";
}

/* Reads the contract file `name` of `dir`. Opened without blocking, so that a FIFO (or a device
 * that would wait) is refused after fstat instead of stopping the station at open; only a
 * regular file is read. Everything that keeps a file from being read is a refused deployment
 * (SMART_ECONTRACT), not an I/O failure of the station: the hub fixes it by deploying again. */
static int read_file(const char *dir, const char *name, char **text, size_t *len,
                     contract_refusal *why)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return contract_refuse(why, SMART_ECONTRACT, name, NULL, "%s: path too long", name);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int error = errno;
        struct stat link;
        if (error == ENOENT && lstat(path, &link) == 0 && S_ISLNK(link.st_mode))
            return contract_refuse(why, SMART_ECONTRACT, name, NULL,
                                   "%s: cannot open: a symbolic link to a missing file", name);
        return contract_refuse(why, SMART_ECONTRACT, name, NULL, "%s: cannot open: %s", name,
                               strerror(error));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int error = errno;
        close(fd);
        return contract_refuse(why, SMART_ECONTRACT, name, NULL, "%s: cannot stat: %s", name,
                               strerror(error));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return contract_refuse(why, SMART_ECONTRACT, name, NULL,
                               "%s: is %s; a contract is a regular file", name,
                               file_kind(st.st_mode));
    }
    if (st.st_size > CONTRACT_MAX_BYTES) {
        close(fd);
        return contract_refuse(why, SMART_ECONTRACT, name, NULL, "%s: larger than %d bytes", name,
                               CONTRACT_MAX_BYTES);
    }
    /* st_size is a hint (the file may still be growing, or be a /proc file reporting 0);
     * reading goes to the end, up to the limit. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? 0 : contract_refuse(why, SMART_ENOMEM, name, NULL, "out of memory");
    while (rc == 0) {
        if (n == cap) {
            if (n > CONTRACT_MAX_BYTES) {
                rc = contract_refuse(why, SMART_ECONTRACT, name, NULL, "%s: larger than %d bytes",
                                     name, CONTRACT_MAX_BYTES);
                break;
            }
            cap = cap * 2 < (size_t)CONTRACT_MAX_BYTES + 1 ? cap * 2 : CONTRACT_MAX_BYTES + 1;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                rc = contract_refuse(why, SMART_ENOMEM, name, NULL, "out of memory");
                break;
            }
            buf = grown;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = contract_refuse(why, SMART_ECONTRACT, name, NULL, "%s: cannot read: %s", name,
                                 strerror(errno));
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_yaml_name(const char *name)
{
    return has_suffix(name, ".yaml") || has_suffix(name, ".yml");
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The contract files of a directory, sorted so the load order (and the record) is stable. */
static int list_contract_files(const char *dir, const char *prefix, char ***names, size_t *count,
                               contract_refusal *why)
{
    DIR *d = opendir(dir);
    if (!d)
        return contract_refuse(why, SMART_ECONFIG, NULL, NULL, "contracts_dir %s: cannot open: %s",
                               dir, strerror(errno));
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *entry;
    int rc = 0;
    for (;;) {
        errno = 0;
        if (!(entry = readdir(d))) {
            if (errno)
                rc = contract_refuse(why, SMART_ECONFIG, NULL, NULL,
                                     "contracts_dir %s: cannot list: %s", dir, strerror(errno));
            break;
        }
        if (entry->d_name[0] == '.' ||
            !(has_suffix(entry->d_name, ".json") || is_yaml_name(entry->d_name)) ||
            (prefix && strncmp(entry->d_name, prefix, strlen(prefix)) != 0))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                rc = contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
                break;
            }
            list = grown;
        }
        if (!(list[n] = strdup(entry->d_name))) {
            rc = contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return rc;
    }
    if (n)
        qsort(list, n, sizeof *list, compare_names);
    *names = list;
    *count = n;
    return 0;
}

void contract_set_drop_texts(contract_set *set)
{
    for (size_t i = 0; i < set->contract_count; i++) {
        free(set->contracts[i].text);
        set->contracts[i].text = NULL;
        set->contracts[i].text_len = 0;
    }
    for (size_t i = 0; i < set->held_count; i++) {
        free(set->held[i].text);
        set->held[i].text = NULL;
        set->held[i].text_len = 0;
    }
}

void contract_set_release(contract_set *set)
{
    for (size_t i = 0; i < set->contract_count; i++)
        contract_release(&set->contracts[i]);
    free(set->contracts);
    free(set->index);
    for (size_t i = 0; i < set->skipped_count; i++) {
        free(set->skipped[i]);
        free(set->skipped_why[i]);
        free(set->skipped_ids[i]);
        free(set->skipped_sha[i]);
    }
    free(set->skipped);
    free(set->skipped_why);
    free(set->skipped_ids);
    free(set->skipped_sha);
    for (size_t i = 0; i < set->held_count; i++)
        contract_release(&set->held[i]);
    free(set->held);
    memset(set, 0, sizeof *set);
}

/* Refuses a contract id that two files of the set both claim, naming both: the station keys
 * what it adopted by contract id, so two files under one id would each overwrite the other's
 * record, and the next start would refuse what this one adopted. */
static int check_contract_ids(const contract_set *set, contract_refusal *why)
{
    for (size_t i = 1; i < set->contract_count; i++)
        for (size_t j = 0; j < i; j++) {
            const contract *a = &set->contracts[j], *b = &set->contracts[i];
            if (strcmp(a->contract_id, b->contract_id) == 0)
                return contract_refuse(why, SMART_ECONTRACT, b->file, a->file,
                                       "%s: smart_contract_id: '%s' is also the id of %s; a "
                                       "contract id names one file",
                                       b->file, b->contract_id, a->file);
        }
    return 0;
}

/* Indexes every item by id and refuses an id that two contracts both claim. */
static int build_index(contract_set *set, contract_refusal *why)
{
    size_t total = 0;
    for (size_t i = 0; i < set->contract_count; i++)
        total += set->contracts[i].item_count;
    set->index = calloc(total ? total : 1, sizeof *set->index);
    if (!set->index)
        return contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; i < set->contract_count; i++) {
        for (size_t j = 0; j < set->contracts[i].procedure_count; j++)
            set->contracts[i].procedures[j].owner = &set->contracts[i];
        for (size_t j = 0; j < set->contracts[i].item_count; j++) {
            set->contracts[i].items[j].owner = &set->contracts[i];
            set->index[set->item_count++] = &set->contracts[i].items[j];
        }
    }
    if (total)
        qsort(set->index, total, sizeof *set->index, compare_item_ids);
    for (size_t k = 1; k < total; k++) {
        const contract_item *a = set->index[k - 1], *b = set->index[k];
        if (strcmp(a->equipment_id, b->equipment_id) == 0)
            return contract_refuse(why, SMART_ECONTRACT, b->owner->file, a->owner->file,
                                   "%s: equipment_id '%s' is also claimed by contract %s (%s); "
                                   "an item belongs to one contract",
                                   b->owner->file, b->equipment_id, a->owner->contract_id,
                                   a->owner->file);
    }
    return 0;
}

/* One contract file, read and parsed by whichever thread takes it (parsing is pure). */
typedef struct file_job {
    const char *dir, *name;
    const char *given; /* the file's bytes when already in memory (given_len), else NULL */
    size_t given_len;
    char sha256[65]; /* of the bytes read, "" when none could be read */
    contract c;
    int rc;
    contract_refusal why;
    bool taken; /* c now belongs to the set */
} file_job;

typedef struct file_jobs {
    file_job *jobs;
    size_t count;
    atomic_size_t next; /* the next job to take */
} file_jobs;

static void parse_file(file_job *j)
{
    char *text = NULL;
    size_t len = j->given_len;
    if (!j->given && (j->rc = read_file(j->dir, j->name, &text, &len, &j->why)))
        return;
    const char *bytes = j->given ? j->given : text;
    /* The bytes read are the contract's to keep (keep_bytes takes them over). */
    j->rc = parse_any(j->name, bytes, len, &text, &j->c, &j->why.error, &j->why.problems);
    /* A contract read hashed its bytes already (keep_bytes): 60 MB hashed once, not twice. */
    if (j->rc == 0 && j->c.sha256[0])
        memcpy(j->sha256, j->c.sha256, sizeof j->sha256);
    else
        kept_sha256_hex(bytes, len, j->sha256);
    if (j->rc == 0 && compact(&j->c)) {
        contract_release(&j->c);
        j->rc = contract_refuse(&j->why, SMART_ENOMEM, NULL, NULL, "out of memory");
    }
    if (j->rc)
        snprintf(j->why.file, sizeof j->why.file, "%s", j->name);
    free(text);
}

static void take_files(void *arg)
{
    file_jobs *all = arg;
    for (size_t i; (i = atomic_fetch_add(&all->next, 1)) < all->count;)
        parse_file(&all->jobs[i]);
}

/* Parses every file, on up to PARSE_THREADS threads (this one included): most of a load, and
 * so of a redeployment's pause, is parsing. */
#define PARSE_THREADS 4
static void parse_files(file_jobs *all)
{
    uv_thread_t threads[PARSE_THREADS - 1];
    size_t extra = uv_available_parallelism();
    extra = extra < PARSE_THREADS ? extra : PARSE_THREADS;
    extra = extra < all->count ? extra : all->count;
    extra = extra > 1 ? extra - 1 : 0;
    size_t started = 0;
    while (started < extra && uv_thread_create(&threads[started], take_files, all) == 0)
        started++;
    take_files(all); /* with no thread started, all of it here */
    for (size_t t = 0; t < started; t++)
        uv_thread_join(&threads[t]);
}

/* What the directory held: each file's name and the hash of its bytes, or why it could not be
 * read. The same deployment refused twice (the hub's contract.deployed and the directory watch
 * both asking) gives the same fingerprint, and is reported once. */
static void fingerprint_jobs(const file_jobs *all, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    out[0] = '\0';
    if (!ctx)
        return;
    bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < all->count; i++) {
        const file_job *j = &all->jobs[i];
        const char *what = j->sha256[0] ? j->sha256 : j->why.error.text;
        ok = EVP_DigestUpdate(ctx, j->name, strlen(j->name) + 1) == 1 &&
             EVP_DigestUpdate(ctx, what, strlen(what) + 1) == 1;
    }
    if (ok && EVP_DigestFinal_ex(ctx, digest, &n) == 1 && n == 32) {
        for (unsigned int i = 0; i < n; i++) {
            out[2 * i] = hex[digest[i] >> 4];
            out[2 * i + 1] = hex[digest[i] & 0x0f];
        }
        out[64] = '\0';
    }
    EVP_MD_CTX_free(ctx);
}

/* Parses the files of `all` and builds the set from them, as contract_set_load says. */
static int load_jobs(file_jobs *all, const char *station_type, contract_set *out,
                     contract_refusal *why)
{
    size_t count = all->count;
    int rc = 0;
    contract_set set = {0};
    set.contracts = calloc(count ? count : 1, sizeof *set.contracts);
    set.skipped = calloc(count ? count : 1, sizeof *set.skipped);
    set.skipped_why = calloc(count ? count : 1, sizeof *set.skipped_why);
    set.skipped_ids = calloc(count ? count : 1, sizeof *set.skipped_ids);
    set.skipped_sha = calloc(count ? count : 1, sizeof *set.skipped_sha);
    set.held = calloc(count ? count : 1, sizeof *set.held);
    if (!set.contracts || !set.skipped || !set.skipped_why || !set.skipped_ids ||
        !set.skipped_sha || !set.held)
        rc = contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
    if (rc == 0) {
        parse_files(all);
        fingerprint_jobs(all, set.fingerprint);
    }
    /* In file order: the first bad file is the one reported, as with a sequential load. */
    for (size_t i = 0; rc == 0 && i < count; i++) {
        file_job *j = &all->jobs[i];
        if (j->rc) {
            rc = j->rc;
            if (why)
                *why = j->why;
            break;
        }
        char why_skipped[128] = "";
        if (j->c.other_type)
            snprintf(why_skipped, sizeof why_skipped,
                     "contract_type %.40s: not a maintenance contract", j->c.contract_type);
        else if (!j->c.station_from_folder && strcmp(j->c.station_type, station_type) != 0)
            snprintf(why_skipped, sizeof why_skipped, "for station type %.40s", j->c.station_type);
        if (why_skipped[0]) {
            bool has_id = j->c.contract_id != NULL;
            size_t k = set.skipped_count++;
            set.skipped_why[k] = strdup(why_skipped);
            set.skipped_ids[k] = j->c.contract_id ? strdup(j->c.contract_id) : NULL;
            set.skipped_sha[k] = strdup(j->sha256);
            set.skipped[k] = j->c.file;
            j->c.file = NULL;
            contract_release(&j->c);
            if (!set.skipped_why[k] || (has_id && !set.skipped_ids[k]) || !set.skipped_sha[k])
                rc = contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
        } else {
            if (j->c.station_from_folder)
                j->c.station_type = station_type; /* the host's, which outlives the set */
            if (j->c.in_force)
                set.contracts[set.contract_count++] = j->c;
            else
                set.held[set.held_count++] = j->c;
        }
        j->taken = true;
    }
    for (size_t i = 0; i < count; i++)
        if (all->jobs[i].rc == 0 && !all->jobs[i].taken)
            contract_release(&all->jobs[i].c); /* parsed after a bad file, or never parsed */
    if (rc == 0)
        rc = check_contract_ids(&set, why);
    if (rc == 0)
        rc = build_index(&set, why);
    if (rc && why)
        memcpy(why->fingerprint, set.fingerprint, sizeof why->fingerprint);
    if (rc) {
        contract_set_release(&set);
        return rc;
    }
    *out = set;
    return 0;
}

int contract_set_load(const char *dir, const char *station_type, contract_set *out,
                      contract_refusal *why)
{
    return contract_set_load_matching(dir, station_type, NULL, out, why);
}

int contract_set_load_matching(const char *dir, const char *station_type, const char *prefix,
                               contract_set *out, contract_refusal *why)
{
    char **names = NULL;
    size_t count = 0;
    int rc = list_contract_files(dir, prefix, &names, &count, why);
    if (rc)
        return rc;
    file_jobs all = {.jobs = calloc(count ? count : 1, sizeof *all.jobs), .count = count};
    atomic_init(&all.next, 0);
    if (!all.jobs)
        rc = contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; rc == 0 && i < count; i++)
        all.jobs[i] = (file_job){.dir = dir, .name = names[i]};
    if (rc == 0)
        rc = load_jobs(&all, station_type, out, why);
    free(all.jobs);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

typedef struct named_text {
    const char *name, *text;
    size_t len;
} named_text;

static int compare_named(const void *a, const void *b)
{
    return strcmp(((const named_text *)a)->name, ((const named_text *)b)->name);
}

int contract_set_load_texts(const char *const *names, const char *const *texts, const size_t *lens,
                            size_t count, const char *station_type, contract_set *out,
                            contract_refusal *why)
{
    named_text *sorted = calloc(count ? count : 1, sizeof *sorted);
    file_jobs all = {.jobs = calloc(count ? count : 1, sizeof *all.jobs), .count = count};
    atomic_init(&all.next, 0);
    int rc = 0;
    if (!sorted || !all.jobs)
        rc = contract_refuse(why, SMART_ENOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; rc == 0 && i < count; i++)
        sorted[i] = (named_text){names[i], texts[i], lens[i]};
    if (rc == 0 && count)
        qsort(sorted, count, sizeof *sorted, compare_named);
    for (size_t i = 0; rc == 0 && i < count; i++)
        all.jobs[i] = (file_job){
            .dir = "", .name = sorted[i].name, .given = sorted[i].text, .given_len = sorted[i].len};
    if (rc == 0)
        rc = load_jobs(&all, station_type, out, why);
    free(all.jobs);
    free(sorted);
    return rc;
}

const contract_item *contract_set_find(const contract_set *set, const char *equipment_id)
{
    size_t lo = 0, hi = set->item_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(set->index[mid]->equipment_id, equipment_id);
        if (cmp == 0)
            return set->index[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
