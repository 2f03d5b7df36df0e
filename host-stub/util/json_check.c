/* json_check.c — one JSON object checked in full by yajl's scan, with the duplicate-key, NUL,
 * number and depth rules of jansson; see json_check.h. */
#include "util/json_check.h"

#include "util/json_check_fast.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "yajl_gaps.h"

typedef struct json_check_key {
    uint64_t hash;
    size_t map; /* the object it belongs to: its serial number in the text */
    size_t off; /* in checker->keys */
    size_t len;
    size_t slot; /* where it is in checker->slots */
} json_check_key;

/* Up to this many keys an object's keys are compared one by one (no hashing, nothing kept once
 * it closes); from then on they are hashed. */
#define JSON_CHECK_LINEAR_MAX 24

typedef struct json_check_open_key {
    size_t off; /* in checker->open_bytes */
    size_t len;
} json_check_open_key;

typedef struct json_check_level {
    size_t map;        /* the object's serial number in the text (0: an array) */
    size_t first_key;  /* its first key in checker->open_keys */
    size_t bytes_from; /* checker->open_bytes.len when it opened */
    bool hashed;       /* its keys are in the hash set */
} json_check_level;

typedef struct scan {
    json_checker *c;
    yajl_handle yajl;
    int depth;
    bool root_seen;
    size_t root_end;          /* past the root's closing byte (yajl_gaps.h) */
    json_check_level *levels; /* the checker's: each open value */
    size_t maps;              /* objects opened so far */
    char why[160];
    bool nomem;
} scan;

static int refuse(scan *s, const char *fmt, const char *detail)
{
    if (s->why[0] == '\0') {
        char text[120];
        snprintf(text, sizeof text, fmt, detail);
        snprintf(s->why, sizeof s->why, "column %zu: %s", yajl_get_bytes_consumed(s->yajl), text);
    }
    return 0;
}

/* FNV-1a, mixed with the object's serial so one set serves every object of the text. */
static uint64_t key_hash(size_t map, const unsigned char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)map * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bool grow_slots(json_checker *c)
{
    size_t cap = c->slot_cap ? c->slot_cap * 2 : 64;
    size_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < c->entry_count; i++) {
        size_t at = (size_t)c->entries[i].hash & (cap - 1);
        while (slots[at] != 0)
            at = (at + 1) & (cap - 1);
        slots[at] = i + 1;
        c->entries[i].slot = at;
    }
    free(c->slots);
    c->slots = slots;
    c->slot_cap = cap;
    return true;
}

/* Adds the key to its object's set. Returns 1 when new, 0 when the object already has it, -1
 * when out of memory. */
static int add_key(json_checker *c, size_t map, const unsigned char *key, size_t len)
{
    if ((c->entry_count + 1) * 2 > c->slot_cap && !grow_slots(c))
        return -1;
    uint64_t hash = key_hash(map, key, len);
    size_t at = (size_t)hash & (c->slot_cap - 1);
    for (; c->slots[at] != 0; at = (at + 1) & (c->slot_cap - 1)) {
        const json_check_key *k = &c->entries[c->slots[at] - 1];
        if (k->hash == hash && k->map == map && k->len == len &&
            memcmp(c->keys.data + k->off, key, len) == 0)
            return 0;
    }
    if (c->entry_count == c->entry_cap) {
        size_t cap = c->entry_cap ? c->entry_cap * 2 : 64;
        json_check_key *entries = realloc(c->entries, cap * sizeof *entries);
        if (entries == NULL)
            return -1;
        c->entries = entries;
        c->entry_cap = cap;
    }
    size_t off = c->keys.len;
    if (strbuf_append(&c->keys, (const char *)key, len) < 0)
        return -1;
    c->entries[c->entry_count] = (json_check_key){hash, map, off, len, at};
    c->slots[at] = ++c->entry_count;
    return 1;
}

static int on_value(scan *s)
{
    if (s->depth == 0)
        return refuse(s, "%s", "not a JSON object");
    return 1;
}

static int on_null(void *ctx)
{
    return on_value(ctx);
}

static int on_boolean(void *ctx, int value)
{
    (void)value;
    return on_value(ctx);
}

/* jansson refuses an integer outside 64 bits and a real that overflows; so does the check. */
static int on_number(void *ctx, const char *text, size_t len)
{
    scan *s = ctx;
    if (!on_value(s))
        return 0;
    char buf[64];
    if (len >= sizeof buf) {
        if (memchr(text, '.', len) == NULL && memchr(text, 'e', len) == NULL &&
            memchr(text, 'E', len) == NULL)
            return refuse(s, "%s", "integer too big for 64 bits");
        char *copy = strndup(text, len);
        if (copy == NULL) {
            s->nomem = true;
            return 0;
        }
        errno = 0;
        double v = strtod(copy, NULL);
        free(copy);
        return errno == ERANGE && isinf(v) ? refuse(s, "%s", "real number overflow") : 1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    if (strpbrk(buf, ".eE") == NULL) {
        (void)strtoll(buf, NULL, 10);
        return errno == ERANGE ? refuse(s, "%s", "integer too big for 64 bits") : 1;
    }
    double v = strtod(buf, NULL);
    return errno == ERANGE && isinf(v) ? refuse(s, "%s", "real number overflow") : 1;
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
    scan *s = ctx;
    if (!on_value(s))
        return 0;
    if (memchr(text, '\0', len) != NULL)
        return refuse(s, "%s", "\\u0000 is not allowed in a string");
    return 1;
}

static int open_value(scan *s, bool is_object)
{
    if (s->depth == 0) {
        if (s->root_seen || !is_object)
            return refuse(s, "%s", "not one JSON object");
        s->root_seen = true;
    }
    if (s->depth >= JSON_PARSER_MAX_DEPTH)
        return refuse(s, "%s", "nested too deep");
    json_checker *c = s->c;
    s->levels[++s->depth] = (json_check_level){.map = is_object ? ++s->maps : 0,
                                               .first_key = c->open_count,
                                               .bytes_from = c->open_bytes.len};
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_value(ctx, true);
}

static int on_start_array(void *ctx)
{
    return open_value(ctx, false);
}

/* An object closes: its keys leave the open set (a hashed object's stay in the hash set, under
 * its own serial number, until the next text). */
static int on_end_map(void *ctx)
{
    scan *s = ctx;
    const json_check_level *level = &s->levels[s->depth];
    s->c->open_count = level->first_key;
    strbuf_truncate(&s->c->open_bytes, level->bytes_from);
    if (--s->depth == 0)
        s->root_end = yajl_get_bytes_consumed(s->yajl);
    return 1;
}

static int on_end_array(void *ctx)
{
    scan *s = ctx;
    if (--s->depth == 0)
        s->root_end = yajl_get_bytes_consumed(s->yajl);
    return 1;
}

/* Whether the open object at `level` already has the key; adds it when not (0 new, 1 had it,
 * -1 out of memory). */
static int add_open_key(json_checker *c, json_check_level *level, const unsigned char *key,
                        size_t len)
{
    for (size_t i = level->first_key; i < c->open_count; i++) {
        const json_check_open_key *k = &c->open_keys[i];
        if (k->len == len && memcmp(c->open_bytes.data + k->off, key, len) == 0)
            return 1;
    }
    if (c->open_count - level->first_key >= JSON_CHECK_LINEAR_MAX) {
        /* A large object: its keys so far (all distinct) into the hash set, then this one. */
        for (size_t i = level->first_key; i < c->open_count; i++) {
            const json_check_open_key *k = &c->open_keys[i];
            if (add_key(c, level->map, (const unsigned char *)c->open_bytes.data + k->off, k->len) <
                0)
                return -1;
        }
        level->hashed = true;
        int rc = add_key(c, level->map, key, len);
        return rc < 0 ? -1 : rc == 0;
    }
    if (c->open_count == c->open_cap) {
        size_t cap = c->open_cap ? c->open_cap * 2 : 64;
        json_check_open_key *keys = realloc(c->open_keys, cap * sizeof *keys);
        if (keys == NULL)
            return -1;
        c->open_keys = keys;
        c->open_cap = cap;
    }
    size_t off = c->open_bytes.len;
    if (strbuf_append(&c->open_bytes, (const char *)key, len) < 0)
        return -1;
    c->open_keys[c->open_count++] = (json_check_open_key){off, len};
    return 0;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    scan *s = ctx;
    if (memchr(key, '\0', len) != NULL)
        return refuse(s, "%s", "\\u0000 is not allowed in a key");
    json_check_level *level = &s->levels[s->depth];
    int rc;
    if (level->hashed) {
        rc = add_key(s->c, level->map, key, len); /* 1 new, 0 had it */
    } else {
        rc = add_open_key(s->c, level, key, len);
        rc = rc < 0 ? -1 : rc == 0;
    }
    if (rc < 0) {
        s->nomem = true;
        return 0;
    }
    if (rc == 0) {
        char shown[64];
        snprintf(shown, sizeof shown, "%.*s", (int)(len > 40 ? 40 : len), (const char *)key);
        return refuse(s, "duplicate object key '%s'", shown);
    }
    return 1;
}

static const yajl_callbacks check_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* Whether yajl's scan could differ from jansson on `text`: yajl checks only the shape of UTF-8
 * sequences (jansson also refuses overlong forms and surrogates) and decodes a lone surrogate
 * escape (\ud800) that jansson refuses. Such text, rare in what modules write, is left to
 * jansson. A "\\ud8" that is an escaped backslash only costs the slower path. */
static bool needs_jansson(const char *text, size_t len)
{
    /* A byte above 0x7f: eight at a time (this runs over every output and record). */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, text + i, sizeof word);
        if (word & 0x8080808080808080ULL)
            return true;
    }
    for (; i < len; i++)
        if ((unsigned char)text[i] >= 0x80)
            return true;
    /* A \uD800-\uDFFF escape: at every backslash. */
    const char *end = text + len;
    for (const char *p = memchr(text, '\\', len); p != NULL;
         p = memchr(p + 1, '\\', (size_t)(end - p - 1))) {
        if (end - p > 3 && p[1] == 'u' && (p[2] | 0x20) == 'd' &&
            strchr("89abcdefABCDEF", p[3]) != NULL)
            return true;
    }
    return false;
}

static int check_with_jansson(const char *text, size_t len, char *why, size_t why_size)
{
    json_error_t jerr;
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        if (why != NULL)
            snprintf(why, why_size, "not valid JSON (column %d: %s)", jerr.column, jerr.text);
        return -EINVAL;
    }
    bool object = json_is_object(value);
    json_decref(value);
    if (!object && why != NULL)
        snprintf(why, why_size, "not a JSON object");
    return object ? 0 : -EINVAL;
}

int json_check_object(json_checker *c, const char *text, size_t len, char *why, size_t why_size)
{
    /* The fast half first (json_check_fast.h): it only ever takes a text; what it does not take
     * goes to jansson or the scan below, whose verdict and message stand. It comes before the
     * look for bytes above 0x7f and surrogate escapes, since simdjson holds UTF-8 and those
     * escapes to the same rules as jansson (tests/host/test_json_check_fast.c), and before the
     * look for a vertical tab, form feed or NUL, which simdjson never takes (neither is JSON
     * whitespace, nor a raw control byte allowed in a string: tests/host/test_json_check.c).
     * Without memory for it, the rest alone. */
    if (c->fast == NULL && !c->fast_failed)
        c->fast_failed = (c->fast = json_fast_new()) == NULL;
    if (c->fast != NULL && json_fast_accepts(c->fast, text, len))
        return 0;
    size_t foreign_byte = yajl_gaps_foreign_byte_at(text, len);
    if (foreign_byte < len) {
        if (why != NULL)
            snprintf(why, why_size,
                     "not valid JSON (column %zu: a vertical tab, form feed or NUL byte)",
                     foreign_byte);
        return -EINVAL;
    }
    if (needs_jansson(text, len))
        return check_with_jansson(text, len, why, why_size);
    /* Empty the key set: only the slots in use are cleared (a large object once must not make
     * every later check clear a large table). */
    for (size_t i = 0; i < c->entry_count; i++)
        c->slots[c->entries[i].slot] = 0;
    c->keys.len = 0;
    c->entry_count = 0;
    c->open_bytes.len = 0;
    c->open_count = 0;
    if (c->levels == NULL &&
        (c->levels = malloc((JSON_PARSER_MAX_DEPTH + 1) * sizeof *c->levels)) == NULL)
        return -ENOMEM;
    scan scan_state = {.c = c, .levels = c->levels};
    scan *s = &scan_state;
    s->yajl = yajl_alloc(&check_callbacks, NULL, s);
    if (s->yajl == NULL)
        return -ENOMEM;
    yajl_status st = yajl_parse(s->yajl, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(s->yajl);
    if (st == yajl_status_ok && s->root_seen && !yajl_gaps_rest_is_blank(text, len, s->root_end))
        snprintf(s->why, sizeof s->why, "column %zu: trailing garbage", s->root_end);
    int rc = 0;
    if (s->nomem) {
        rc = -ENOMEM;
    } else if (st != yajl_status_ok || s->why[0] != '\0' || !s->root_seen) {
        rc = -EINVAL;
        if (s->why[0] == '\0') {
            unsigned char *err = yajl_get_error(s->yajl, 0, NULL, 0);
            snprintf(s->why, sizeof s->why, "column %zu: %s", yajl_get_bytes_consumed(s->yajl),
                     err != NULL ? (const char *)err : "not valid JSON");
            if (err != NULL)
                yajl_free_error(s->yajl, err);
        }
        if (why != NULL)
            snprintf(why, why_size, "not valid JSON (%s)", s->why);
    }
    yajl_free(s->yajl);
    return rc;
}

void json_checker_free(json_checker *c)
{
    strbuf_free(&c->open_bytes);
    free(c->open_keys);
    strbuf_free(&c->keys);
    free(c->slots);
    free(c->entries);
    free(c->levels);
    json_fast_free(c->fast);
    memset(c, 0, sizeof *c);
}
