/* contract_yaml.c — YAML contracts read with libyaml into the JSON document a *.json contract
 * is, with the line of each value; contract.c validates the document and locates its errors
 * with the line map. Calls nothing of contract.c. See contract_yaml.h. */
#include "contract/contract_yaml.h"

#include "core/text.h"
#include "error.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64

/* ---- line map: a sorted array of (JSON path, line), small (one contract) ---- */

typedef struct line_entry {
    char *path;
    char *written; /* the path as the hub wrote it, when it differs; else NULL */
    int line;
} line_entry;

struct yaml_line_map {
    line_entry *entries;
    size_t count, cap;
};

static int map_add(yaml_line_map *map, const char *path, const char *written, int line)
{
    if (map->count == map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 64;
        line_entry *grown = realloc(map->entries, cap * sizeof *grown);
        if (!grown)
            return SMART_ENOMEM;
        map->entries = grown;
        map->cap = cap;
    }
    line_entry *e = &map->entries[map->count];
    e->path = strdup(path);
    e->written = written ? strdup(written) : NULL;
    e->line = line;
    if (!e->path || (written && !e->written)) {
        free(e->path);
        free(e->written);
        return SMART_ENOMEM;
    }
    map->count++;
    return 0;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const line_entry *)a)->path, ((const line_entry *)b)->path);
}

static void map_sort(yaml_line_map *map)
{
    if (map->count)
        qsort(map->entries, map->count, sizeof *map->entries, compare_entries);
}

static const line_entry *map_find(const yaml_line_map *map, const char *path)
{
    if (!map || !path)
        return NULL;
    size_t lo = 0, hi = map->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(map->entries[mid].path, path);
        if (cmp == 0)
            return &map->entries[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int yaml_line_of(const yaml_line_map *map, const char *path)
{
    const line_entry *e = map_find(map, path);
    return e ? e->line : 0;
}

int yaml_line_near(const yaml_line_map *map, const char *path)
{
    if (!map || !path)
        return 0;
    size_t n = strlen(path);
    char *prefix = malloc(n + 1);
    if (!prefix)
        return 0;
    memcpy(prefix, path, n + 1);
    int line = 0;
    for (;;) {
        if ((line = yaml_line_of(map, prefix)) || !*prefix)
            break;
        /* Drop the last ".key" or "[index]"; a bare top-level key leaves the document "". */
        char *cut = strrchr(prefix, '.'), *bracket = strrchr(prefix, '[');
        if (!cut || (bracket && bracket > cut))
            cut = bracket;
        *(cut ? cut : prefix) = '\0';
    }
    free(prefix);
    return line;
}

const char *yaml_written_as(const yaml_line_map *map, const char *path)
{
    const line_entry *e = map_find(map, path);
    return e ? e->written : NULL;
}

void yaml_line_map_free(yaml_line_map *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->count; i++) {
        free(map->entries[i].path);
        free(map->entries[i].written);
    }
    free(map->entries);
    free(map);
}

/* ---- reading events into a json_t tree ---- */

typedef struct reader {
    yaml_parser_t parser;
    const char *file;
    const char *text;
    size_t len;
    yaml_line_map *map;
    smart_error *err;
    char *path; /* the JSON path of the node being read */
    size_t path_len, path_cap;
} reader;

static int at(reader *r, yaml_mark_t mark, const char *why)
{
    return error_set(r->err, SMART_ECONTRACT, "%s:%zu:%zu: %s", r->file, mark.line + 1,
                     mark.column + 1, why);
}

/* "<file>:<line>:<column>: <path>: why" (or without the path at the top). */
static int at_path(reader *r, yaml_mark_t mark, const char *why)
{
    char message[sizeof r->err->text] = "";
    text_append(message, sizeof message, "", r->path_len ? r->path : "(top level)");
    text_append(message, sizeof message, ": ", why);
    return at(r, mark, message);
}

static int out_of_memory(reader *r)
{
    return error_set(r->err, SMART_ENOMEM, "%s: out of memory", r->file);
}

static int path_reserve(reader *r, size_t extra)
{
    if (r->path_len + extra + 1 <= r->path_cap)
        return 0;
    size_t cap = r->path_cap ? r->path_cap : 128;
    while (cap < r->path_len + extra + 1)
        cap *= 2;
    char *grown = realloc(r->path, cap);
    if (!grown)
        return out_of_memory(r);
    r->path = grown;
    r->path_cap = cap;
    return 0;
}

static int path_push_key(reader *r, const char *key, size_t key_len)
{
    int rc = path_reserve(r, key_len + 1);
    if (rc)
        return rc;
    if (r->path_len)
        r->path[r->path_len++] = '.';
    memcpy(r->path + r->path_len, key, key_len);
    r->path_len += key_len;
    r->path[r->path_len] = '\0';
    return 0;
}

static int path_push_index(reader *r, size_t index)
{
    char part[32];
    int n = snprintf(part, sizeof part, "[%zu]", index);
    int rc = path_reserve(r, (size_t)n);
    if (rc)
        return rc;
    memcpy(r->path + r->path_len, part, (size_t)n + 1);
    r->path_len += (size_t)n;
    return 0;
}

static void path_pop(reader *r, size_t len)
{
    r->path_len = len;
    r->path[len] = '\0';
}

static int next_event(reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev))
        return 0;
    const yaml_parser_t *p = &r->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return out_of_memory(r);
    char why[sizeof r->err->text] = "";
    text_append(why, sizeof why, "", "not valid YAML: ");
    text_append(why, sizeof why, "", p->problem ? p->problem : "cannot be parsed");
    if (p->context) {
        text_append(why, sizeof why, " ", p->context);
        if (p->context_mark.line != p->problem_mark.line) {
            char from[48];
            snprintf(from, sizeof from, "at line %zu", p->context_mark.line + 1);
            text_append(why, sizeof why, " ", from);
        }
    }
    yaml_mark_t mark = p->problem_mark;
    if (p->error == YAML_READER_ERROR) { /* bad encoding: only a byte offset is known */
        mark = (yaml_mark_t){0};
        for (size_t i = 0; i < p->problem_offset && i < r->len; i++) {
            if (r->text[i] == '\n')
                mark.line++, mark.column = 0;
            else
                mark.column++;
        }
    }
    return at(r, mark, why);
}

typedef enum { S_STRING, S_NULL, S_TRUE, S_FALSE, S_INT, S_REAL, S_AMBIGUOUS } scalar_kind;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool one_of(const char *s, const char *const words[])
{
    for (size_t i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    return false;
}

/* [-+]?(0|[1-9][0-9]*) */
static bool is_decimal_int(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (s[0] == '0')
        return s[1] == '\0';
    if (!is_digit(*s))
        return false;
    while (is_digit(*s))
        s++;
    return *s == '\0';
}

/* [-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+][0-9]+)? — a real in YAML 1.1 and 1.2 alike. */
static bool is_decimal_real(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    size_t before = 0, after = 0;
    while (is_digit(*s))
        s++, before++;
    if (*s != '.')
        return false;
    s++;
    while (is_digit(*s))
        s++, after++;
    if (before + after == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s != '+' && *s != '-')
            return false;
        s++;
        if (!is_digit(*s))
            return false;
        while (is_digit(*s))
            s++;
    }
    return *s == '\0';
}

/* YAML 1.1's base-60 numbers, as PyYAML resolves them: an integer
 * [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+ (14:00 is 840, 6:00 is 360) or a float
 * [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* . Anything else with a colon (06:00, as PyYAML's
 * safe_dump writes a time unquoted) is text in 1.1 and 1.2 alike. */
static bool is_sexagesimal(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    bool leading_zero = *s == '0';
    if (!is_digit(*s))
        return false;
    while (is_digit(*s) || *s == '_')
        s++;
    int groups = 0;
    while (*s == ':') {
        s++;
        if (!is_digit(*s))
            return false;
        if (is_digit(s[1])) {
            if (*s > '5')
                return false;
            s++;
        }
        s++;
        groups++;
    }
    if (!groups)
        return false;
    if (*s == '.') {
        for (s++; is_digit(*s) || *s == '_'; s++)
            ;
        return *s == '\0';
    }
    return *s == '\0' && !leading_zero;
}

/* Something one YAML version or another reads as a number (0x1F, 0o17, 010, 1_000, 14:00,
 * 1e5, .inf, .nan) — a date such as 2024-08-07 is not, nor a time 06:00. */
static bool looks_numeric(const char *s)
{
    if (strchr(s, ':'))
        return is_sexagesimal(s);
    static const char *const specials[] = {"inf", "Inf", "INF", "nan", "NaN", "NAN", NULL};
    if (*s == '+' || *s == '-')
        s++;
    if (s[0] == '0' && s[1] && strchr("xXoObB", s[1]))
        return true;
    if (s[0] == '.')
        return is_digit(s[1]) || one_of(s + 1, specials);
    if (!is_digit(*s))
        return false;
    int dots = 0;
    for (const char *p = s; *p; p++) {
        if (is_digit(*p) || *p == '_' || *p == ':')
            continue;
        if (*p == '.' && ++dots == 1)
            continue;
        if (*p == 'e' || *p == 'E') {
            if (p[1] == '+' || p[1] == '-')
                p++;
            continue;
        }
        return false;
    }
    return true;
}

static scalar_kind resolve_plain(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    /* YAML 1.1 booleans as the hub's reader (PyYAML) has them; y and n stay strings there. */
    static const char *const yaml11_bools[] = {"yes", "Yes", "YES", "no",  "No",  "NO", "on",
                                               "On",  "ON",  "off", "Off", "OFF", NULL};
    if (one_of(s, nulls))
        return S_NULL;
    if (one_of(s, trues))
        return S_TRUE;
    if (one_of(s, falses))
        return S_FALSE;
    if (one_of(s, yaml11_bools))
        return S_AMBIGUOUS;
    if (is_decimal_int(s))
        return S_INT;
    if (is_decimal_real(s))
        return S_REAL;
    return looks_numeric(s) ? S_AMBIGUOUS : S_STRING;
}

#define TAG_PREFIX "tag:yaml.org,2002:"

/* What the scalar is, from its tag and style; an error for a tag that is not allowed or a value
 * its tag does not fit. */
static int scalar_kind_of(reader *r, const yaml_event_t *ev, scalar_kind *kind)
{
    const char *value = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (!tag) {
        *kind = plain ? resolve_plain(value) : S_STRING;
        return 0;
    }
    if (strcmp(tag, "!") == 0 || strcmp(tag, TAG_PREFIX "str") == 0) {
        *kind = S_STRING;
        return 0;
    }
    scalar_kind resolved = resolve_plain(value);
    const char *want = NULL;
    if (strcmp(tag, TAG_PREFIX "null") == 0)
        want = resolved == S_NULL ? NULL : "!!null needs ~, null or nothing";
    else if (strcmp(tag, TAG_PREFIX "bool") == 0)
        want = resolved == S_TRUE || resolved == S_FALSE ? NULL : "!!bool needs true or false";
    else if (strcmp(tag, TAG_PREFIX "int") == 0)
        want = resolved == S_INT ? NULL : "!!int needs a decimal integer";
    else if (strcmp(tag, TAG_PREFIX "float") == 0) {
        want = resolved == S_INT || resolved == S_REAL ? NULL : "!!float needs a decimal number";
        if (resolved == S_INT)
            resolved = S_REAL;
    } else {
        char why[sizeof r->err->text] = "";
        text_append(why, sizeof why, "", "tag '");
        text_append(why, sizeof why, "", tag);
        text_append(why, sizeof why, "",
                    "' is not allowed (only the standard !!str !!int "
                    "!!float !!bool !!null !!map !!seq)");
        return at_path(r, ev->start_mark, why);
    }
    if (want)
        return at_path(r, ev->start_mark, want);
    *kind = resolved;
    return 0;
}

static int scalar_to_json(reader *r, const yaml_event_t *ev, json_t **out)
{
    const char *value = (const char *)ev->data.scalar.value;
    size_t length = ev->data.scalar.length;
    scalar_kind kind;
    if (memchr(value, '\0', length))
        return at_path(r, ev->start_mark, "contains a NUL character");
    int rc = scalar_kind_of(r, ev, &kind);
    if (rc)
        return rc;
    switch (kind) {
    case S_AMBIGUOUS: {
        char why[sizeof r->err->text] = "";
        text_append(why, sizeof why, "", "plain '");
        text_append(why, sizeof why, "", value);
        text_append(why, sizeof why, "",
                    "' reads differently in YAML 1.1 and 1.2 (or is no JSON "
                    "number); quote it if it is text, write true/false or a "
                    "plain decimal number otherwise");
        return at_path(r, ev->start_mark, why);
    }
    case S_NULL: *out = json_null(); break;
    case S_TRUE: *out = json_true(); break;
    case S_FALSE: *out = json_false(); break;
    case S_INT: {
        errno = 0;
        long long n = strtoll(value, NULL, 10);
        if (errno == ERANGE)
            return at_path(r, ev->start_mark, "integer out of range");
        *out = json_integer((json_int_t)n);
        break;
    }
    case S_REAL: {
        errno = 0;
        double d = strtod(value, NULL);
        if (errno == ERANGE || !isfinite(d))
            return at_path(r, ev->start_mark, "number out of range");
        *out = json_real(d);
        break;
    }
    case S_STRING:
        *out = json_stringn(value, length);
        if (!*out)
            return at_path(r, ev->start_mark, "not valid UTF-8");
        return 0;
    }
    return *out ? 0 : out_of_memory(r);
}

/* Refuses an anchor on a node, or a tag other than `expected` (a collection's standard tag). */
static int check_collection(reader *r, const yaml_event_t *ev, const yaml_char_t *anchor,
                            const yaml_char_t *tag, const char *expected)
{
    if (anchor)
        return at_path(r, ev->start_mark, "anchors (&name) are not allowed; write each value out");
    if (tag && strcmp((const char *)tag, expected) != 0 && strcmp((const char *)tag, "!") != 0) {
        char why[sizeof r->err->text] = "";
        text_append(why, sizeof why, "", "tag '");
        text_append(why, sizeof why, "", (const char *)tag);
        text_append(why, sizeof why, "", "' is not allowed here");
        return at_path(r, ev->start_mark, why);
    }
    return 0;
}

static int read_node(reader *r, yaml_event_t *ev, int depth, json_t **out);

static int read_sequence(reader *r, int depth, json_t *array)
{
    size_t base = r->path_len;
    for (size_t i = 0;; i++) {
        yaml_event_t ev;
        int rc = next_event(r, &ev);
        if (rc)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        json_t *value = NULL;
        if (!(rc = path_push_index(r, i)))
            rc = read_node(r, &ev, depth + 1, &value);
        else
            yaml_event_delete(&ev);
        path_pop(r, base);
        if (rc)
            return rc;
        if (json_array_append_new(array, value))
            return out_of_memory(r);
    }
}

/* A key: a string scalar, not a merge key, not seen before in this mapping. */
static int read_key(reader *r, const yaml_event_t *ev, const json_t *object)
{
    if (ev->type == YAML_ALIAS_EVENT)
        return at_path(r, ev->start_mark, "aliases (*name) are not allowed; write each value out");
    if (ev->type != YAML_SCALAR_EVENT)
        return at_path(r, ev->start_mark, "a key must be a string (got a mapping or sequence)");
    const char *key = (const char *)ev->data.scalar.value;
    scalar_kind kind;
    if (ev->data.scalar.anchor)
        return at_path(r, ev->start_mark, "anchors (&name) are not allowed; write each value out");
    if (memchr(key, '\0', ev->data.scalar.length))
        return at_path(r, ev->start_mark, "a key contains a NUL character");
    int rc = scalar_kind_of(r, ev, &kind);
    if (rc)
        return rc;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    if (plain && strcmp(key, "<<") == 0)
        return at_path(r, ev->start_mark, "merge keys (<<) are not allowed");
    char why[sizeof r->err->text] = "";
    if (kind != S_STRING) {
        text_append(why, sizeof why, "", "key '");
        text_append(why, sizeof why, "", key);
        text_append(why, sizeof why, "", "' is not a string; quote it");
        return at_path(r, ev->start_mark, why);
    }
    if (json_object_get(object, key)) {
        size_t base = r->path_len;
        if ((rc = path_push_key(r, key, ev->data.scalar.length)))
            return rc;
        /* The map is sorted only at the end: look the first occurrence up by hand. */
        int first = 0;
        for (size_t i = 0; i < r->map->count && !first; i++)
            if (strcmp(r->map->entries[i].path, r->path) == 0)
                first = r->map->entries[i].line;
        char line[64];
        snprintf(line, sizeof line, "duplicate key (first at line %d)", first);
        rc = at_path(r, ev->start_mark, line);
        path_pop(r, base);
        return rc;
    }
    return 0;
}

static int read_mapping(reader *r, int depth, json_t *object)
{
    size_t base = r->path_len;
    for (;;) {
        yaml_event_t key_ev, value_ev;
        int rc = next_event(r, &key_ev);
        if (rc)
            return rc;
        if (key_ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key_ev);
            return 0;
        }
        if (!(rc = read_key(r, &key_ev, object)))
            rc =
                path_push_key(r, (const char *)key_ev.data.scalar.value, key_ev.data.scalar.length);
        if (rc) {
            yaml_event_delete(&key_ev);
            return rc;
        }
        json_t *value = NULL;
        if (!(rc = next_event(r, &value_ev)))
            rc = read_node(r, &value_ev, depth + 1, &value);
        path_pop(r, base);
        /* A key holds no NUL (read_key), so the C string is all of it. */
        if (rc == 0 && json_object_set_new(object, (const char *)key_ev.data.scalar.value, value))
            rc = out_of_memory(r);
        yaml_event_delete(&key_ev);
        if (rc)
            return rc;
    }
}

/* Reads the node that starts with `ev` (taken over and deleted) at r->path into *out. */
static int read_node(reader *r, yaml_event_t *ev, int depth, json_t **out)
{
    int rc = 0;
    json_t *node = NULL;
    if (depth > YAML_MAX_DEPTH)
        rc = at_path(r, ev->start_mark, "nested too deeply");
    else if (map_add(r->map, r->path, NULL, (int)ev->start_mark.line + 1))
        rc = out_of_memory(r);
    else if (ev->type == YAML_ALIAS_EVENT)
        rc = at_path(r, ev->start_mark, "aliases (*name) are not allowed; write each value out");
    else if (ev->type == YAML_SCALAR_EVENT) {
        if (ev->data.scalar.anchor)
            rc =
                at_path(r, ev->start_mark, "anchors (&name) are not allowed; write each value out");
        else
            rc = scalar_to_json(r, ev, &node);
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        if (!(rc = check_collection(r, ev, ev->data.sequence_start.anchor,
                                    ev->data.sequence_start.tag, TAG_PREFIX "seq")) &&
            !(node = json_array()))
            rc = out_of_memory(r);
        if (rc == 0)
            rc = read_sequence(r, depth, node);
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        if (!(rc = check_collection(r, ev, ev->data.mapping_start.anchor,
                                    ev->data.mapping_start.tag, TAG_PREFIX "map")) &&
            !(node = json_object()))
            rc = out_of_memory(r);
        if (rc == 0)
            rc = read_mapping(r, depth, node);
    } else {
        rc = at_path(r, ev->start_mark, "unexpected YAML event");
    }
    yaml_event_delete(ev);
    if (rc) {
        json_decref(node);
        return rc;
    }
    *out = node;
    return 0;
}

/* One document: stream start, document start, the root node, document end, stream end. */
static int read_stream(reader *r, json_t **out)
{
    yaml_event_t ev;
    int rc;
    json_t *root = NULL;
    if ((rc = next_event(r, &ev)))
        return rc;
    yaml_event_delete(&ev); /* stream start */
    if ((rc = next_event(r, &ev)))
        return rc;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        rc = at(r, ev.start_mark, "no contract: the file holds no YAML document");
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(r, &ev)) || (rc = read_node(r, &ev, 0, &root)))
        return rc;
    if ((rc = next_event(r, &ev))) /* document end */
        goto fail;
    yaml_event_delete(&ev);
    if ((rc = next_event(r, &ev)))
        goto fail;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = at(r, ev.start_mark, "a second YAML document; a contract file holds one");
    yaml_event_delete(&ev);
    if (rc)
        goto fail;
    *out = root;
    return 0;
fail:
    json_decref(root);
    return rc;
}

/* ---- the seed's flat baseline ---- */

static const char *const flat_keys[] = {"last_calibration_date", "calibration_certificate",
                                        "calibration_provider"};
static const char *const baseline_fields[] = {"calibration_date", "certificate_number", "provider"};

static int flat_error(reader *r, const char *item_path, const char *key, int line, const char *why)
{
    return error_set(r->err, SMART_ECONTRACT, "%s:%d: %s.%s: %s", r->file, line, item_path, key,
                     why);
}

/* Replaces last_calibration_date / calibration_certificate / calibration_provider on item `i`
 * of equipment_list by last_calibration {calibration_date, certificate_number, provider}. */
static int map_flat_baseline(reader *r, json_t *item, size_t i)
{
    char item_path[64], key_path[128], field_path[256];
    snprintf(item_path, sizeof item_path, "equipment_list[%zu]", i);
    json_t *flat[3];
    int lines[3], first = 0;
    for (int k = 0; k < 3; k++) {
        flat[k] = json_object_get(item, flat_keys[k]);
        snprintf(key_path, sizeof key_path, "%s.%s", item_path, flat_keys[k]);
        lines[k] = yaml_line_of(r->map, key_path);
        if (flat[k] && !first)
            first = k + 1;
    }
    if (!first)
        return 0;
    if (json_object_get(item, "last_calibration"))
        return flat_error(r, item_path, flat_keys[first - 1], lines[first - 1],
                          "give last_calibration or last_calibration_date with "
                          "calibration_certificate, not both");
    int item_line = yaml_line_of(r->map, item_path);
    if (!flat[0])
        return flat_error(r, item_path, flat_keys[0], item_line,
                          "missing required field (calibration_certificate and "
                          "calibration_provider go with it)");
    (void)item_line;
    json_t *baseline = json_object();
    json_t *provider = flat[2] ? json_incref(flat[2]) : json_string(CONTRACT_YAML_DEFAULT_PROVIDER);
    if (!baseline || !provider || json_object_set(baseline, baseline_fields[0], flat[0]) ||
        (flat[1] ? json_object_set(baseline, baseline_fields[1], flat[1])
                 : json_object_set_new(baseline, baseline_fields[1],
                                       json_string("not given in the contract"))) ||
        json_object_set_new(baseline, baseline_fields[2], provider)) {
        json_decref(baseline);
        return out_of_memory(r);
    }
    snprintf(key_path, sizeof key_path, "%s.last_calibration", item_path);
    if (map_add(r->map, key_path, NULL, lines[0])) {
        json_decref(baseline);
        return out_of_memory(r);
    }
    for (int k = 0; k < 3; k++) {
        char written[128];
        snprintf(field_path, sizeof field_path, "%s.%s", key_path, baseline_fields[k]);
        snprintf(written, sizeof written, "%s.%s", item_path, flat_keys[k]);
        bool present = flat[k] != NULL;
        if (map_add(r->map, field_path, present ? written : NULL, present ? lines[k] : lines[0])) {
            json_decref(baseline);
            return out_of_memory(r);
        }
    }
    for (int k = 0; k < 3; k++)
        json_object_del(item, flat_keys[k]);
    if (json_object_set_new(item, "last_calibration", baseline))
        return out_of_memory(r);
    return 0;
}

static int map_flat_baselines(reader *r, json_t *doc)
{
    json_t *list = json_object_get(doc, "equipment_list");
    map_sort(r->map);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i);
        int rc = json_is_object(item) ? map_flat_baseline(r, item, i) : 0;
        if (rc)
            return rc;
        /* The next item's lines are looked up by binary search: the entries just added go
         * into order first (appended unsorted, they hid later items' keys). */
        map_sort(r->map);
    }
    map_sort(r->map);
    return 0;
}

int contract_yaml_to_json(const char *file, const char *text, size_t len, json_t **out,
                          yaml_line_map **lines, smart_error *err)
{
    reader r = {.file = file, .text = text, .len = len, .err = err};
    json_t *doc = NULL;
    int rc;
    if (!(r.map = calloc(1, sizeof *r.map)) || path_reserve(&r, 0))
        rc = out_of_memory(&r);
    else if (!yaml_parser_initialize(&r.parser))
        rc = out_of_memory(&r);
    else {
        r.path[0] = '\0';
        yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
        rc = read_stream(&r, &doc);
        yaml_parser_delete(&r.parser);
        if (rc == 0)
            rc = map_flat_baselines(&r, doc);
    }
    free(r.path);
    if (rc) {
        json_decref(doc);
        yaml_line_map_free(r.map);
        return rc;
    }
    *out = doc;
    if (lines)
        *lines = r.map;
    else
        yaml_line_map_free(r.map);
    return 0;
}
