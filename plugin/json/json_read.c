/* json_read.c — JSON bytes into a jansson tree, read with yajl; see json_read.h. */
#include "json/json_read.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h> /* strtod_l (_GNU_SOURCE, set by the build) */
#include <string.h>
#include <yajl/yajl_parse.h>

#include "yajl_gaps.h"

/* jansson's own limit (JSON_PARSER_MAX_DEPTH in its sources): deeper than this, jansson judges. */
#define JANSSON_DEPTH_MAX 2048

typedef struct builder {
    json_t **open; /* the containers open, outermost first */
    size_t depth, room;
    json_t *root;
    char *key; /* the key read last in the innermost object, waiting for its value */
    size_t key_len, key_room;
    bool refused;      /* a value jansson refuses (a key twice, a NUL, bad UTF-8, a number out of
                        * range): the parse stopped, jansson words it */
    bool doubt;        /* read, but jansson must confirm (see json_read.h) */
    bool no_memory;    /* stopped: out of memory */
    yajl_handle yajl;  /* the parse, for where the root closes */
    size_t root_end;   /* past the root's closing byte (yajl_gaps.h) */
    locale_t c_locale; /* reals are read as jansson reads them, with a '.' */
    const char *stream_key; /* the root's array whose elements go to `each`, or NULL */
    json_t *stream;         /* that array, once it is open */
    jr_element_fn each;
    void *each_ctx;
} builder;

/* No byte above 0x7f: eight at a time (every string and key of a station's contracts is
 * looked at, a byte at a time was a tenth of building the tree). */
static bool is_ascii(const char *s, size_t len)
{
    const uint64_t high = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        if (w & high)
            return false;
    }
    for (; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* Hands the element just completed at `index` of the streamed array over, then drops it. */
static int hand_over(builder *b, size_t index)
{
    int rc = b->each(b->each_ctx, index, json_array_get(b->stream, index));
    if (json_array_set_new(b->stream, index, json_null()) != 0 || rc != 0) {
        b->no_memory = true;
        return 0;
    }
    return 1;
}

/* Adds `v` (a new reference, taken whatever happens) to the innermost container, or makes it
 * the root. 1 to go on, 0 to stop the parse. */
static int add(builder *b, json_t *v)
{
    if (!v) {
        b->no_memory = true;
        return 0;
    }
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    json_t *parent = b->open[b->depth - 1];
    if (json_is_array(parent)) {
        if (json_array_append_new(parent, v) != 0) {
            b->no_memory = true;
            return 0;
        }
        /* A scalar element is complete now; a container when it closes (on_end). */
        if (parent == b->stream && !json_is_object(v) && !json_is_array(v))
            return hand_over(b, json_array_size(parent) - 1);
        return 1;
    }
    if (b->stream_key && b->depth == 1 && json_is_array(v) && !b->stream &&
        b->key_len == strlen(b->stream_key) && memcmp(b->key, b->stream_key, b->key_len) == 0)
        b->stream = v; /* the root's member: a second one is a duplicate key, refused below */
    /* A key with a byte above 0x7f is checked as UTF-8 (json_object_setn_new does), as jansson's
     * parser checks every byte it reads; an ASCII one needs no check. */
    bool ascii = is_ascii(b->key, b->key_len);
    size_t before = json_object_size(parent);
    int rc = ascii ? json_object_setn_new_nocheck(parent, b->key, b->key_len, v)
                   : json_object_setn_new(parent, b->key, b->key_len, v);
    /* A key already there is replaced, not added (one look-up per key, where asking first was
     * two): the object's size tells. The value replaced is a closed one (never in `open`); the
     * parse stops here and the tree is dropped. */
    if (rc == 0 && json_object_size(parent) == before) {
        b->refused = true; /* JSON_REJECT_DUPLICATES */
        return 0;
    }
    if (rc == 0)
        return 1;
    if (ascii)
        b->no_memory = true;
    else
        b->refused = true;
    return 0;
}

static int open_container(builder *b, json_t *v)
{
    if (!add(b, v))
        return 0;
    if (b->depth == b->room) {
        size_t room = b->room ? 2 * b->room : 16;
        json_t **open = realloc(b->open, room * sizeof *open);
        if (!open) {
            b->no_memory = true;
            return 0;
        }
        b->open = open, b->room = room;
    }
    b->open[b->depth++] = v;
    if (b->depth > JANSSON_DEPTH_MAX)
        b->doubt = true;
    return 1;
}

static int on_null(void *ctx)
{
    return add(ctx, json_null());
}

static int on_boolean(void *ctx, int value)
{
    return add(ctx, json_boolean(value));
}

/* As jansson's lexer: a '.', 'e' or 'E' makes a real, otherwise an integer; out of range is
 * refused (jansson: "too big integer", "real number overflow"). */
static int on_number(void *ctx, const char *text, size_t len)
{
    builder *b = ctx;
    char small[64];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy) {
        b->no_memory = true;
        return 0;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    json_t *v = NULL;
    errno = 0;
    if (memchr(copy, '.', len) || memchr(copy, 'e', len) || memchr(copy, 'E', len)) {
        double d = strtod_l(copy, NULL, b->c_locale);
        if (errno == ERANGE && isinf(d))
            b->refused = true;
        else
            v = json_real(d);
    } else {
        long long n = strtoll(copy, NULL, 10);
        if (errno == ERANGE)
            b->refused = true;
        else
            v = json_integer((json_int_t)n);
    }
    if (copy != small)
        free(copy);
    return b->refused ? 0 : add(b, v);
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
    builder *b = ctx;
    const char *s = (const char *)text;
    if (memchr(s, '\0', len)) { /* jansson: "\u0000 is not allowed without JSON_ALLOW_NUL" */
        b->refused = true;
        return 0;
    }
    bool ascii = is_ascii(s, len);
    json_t *v = ascii ? json_stringn_nocheck(s, len) : json_stringn(s, len);
    if (!v && !ascii) { /* json_stringn refuses what is not UTF-8, as jansson's lexer does */
        b->refused = true;
        return 0;
    }
    return add(b, v);
}

static int on_key(void *ctx, const unsigned char *text, size_t len)
{
    builder *b = ctx;
    if (memchr(text, '\0', len)) { /* jansson: "NUL byte in object key not supported" */
        b->refused = true;
        return 0;
    }
    if (len + 1 > b->key_room) {
        size_t room = len + 1 > 2 * b->key_room ? len + 1 : 2 * b->key_room;
        char *key = realloc(b->key, room);
        if (!key) {
            b->no_memory = true;
            return 0;
        }
        b->key = key, b->key_room = room;
    }
    memcpy(b->key, text, len);
    b->key[len] = '\0';
    b->key_len = len;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, json_object());
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, json_array());
}

static int on_end(void *ctx)
{
    builder *b = ctx;
    if (--b->depth == 0)
        b->root_end = yajl_get_bytes_consumed(b->yajl);
    if (b->depth > 0 && b->open[b->depth - 1] == b->stream && b->stream)
        return hand_over(b, json_array_size(b->stream) - 1);
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* Bytes yajl and jansson may read differently: a \uD800-\uDFFF escape (jansson refuses one
 * unpaired, yajl puts '?' for it), and a form feed, vertical tab or NUL (yajl_gaps.h). */
static bool needs_confirming(const char *text, size_t len)
{
    if (yajl_gaps_foreign_byte_at(text, len) < len)
        return true;
    const char *end = text + len;
    for (const char *p = memchr(text, '\\', len); p;
         p = memchr(p + 1, '\\', (size_t)(end - p - 1))) {
        if (end - p > 3 && p[1] == 'u' && (p[2] | 0x20) == 'd' &&
            strchr("89abcdefABCDEF", p[3]) != NULL)
            return true;
        if (end - p > 1 && p[1] == '\\')
            p++; /* an escaped backslash starts no escape */
        if (p + 1 >= end)
            break;
    }
    return false;
}

static void builder_free(builder *b, yajl_handle h)
{
    yajl_free(h);
    freelocale(b->c_locale);
    free(b->open);
    free(b->key);
}

/* Where the parse stopped, as jansson counts it: line from 1, column from 1 (bytes). */
static void locate(const char *text, size_t at, json_error_t *error)
{
    int line = 1, column = 0;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n')
            line++, column = 0;
        else
            column++;
    }
    error->line = line;
    error->column = column;
    error->position = (int)at;
}

json_t *jr_read(const char *text, size_t len, json_error_t *error)
{
    return jr_read_streaming(text, len, NULL, NULL, NULL, error);
}

json_t *jr_read_streaming(const char *text, size_t len, const char *array_key, jr_element_fn each,
                          void *ctx, json_error_t *error)
{
    builder b = {.c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0),
                 .stream_key = each ? array_key : NULL,
                 .each = each,
                 .each_ctx = ctx};
    yajl_handle h = b.c_locale ? yajl_alloc(&callbacks, NULL, &b) : NULL;
    if (!h) {
        if (b.c_locale)
            freelocale(b.c_locale);
        memset(error, 0, sizeof *error);
        snprintf(error->text, sizeof error->text, "out of memory");
        return NULL;
    }
    b.yajl = h;
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    /* yajl takes a root followed by an open string ('{}"x', yajl_gaps.h): jansson judges it. */
    if (st == yajl_status_ok && b.root && (json_is_object(b.root) || json_is_array(b.root)) &&
        !yajl_gaps_rest_is_blank(text, len, b.root_end))
        b.doubt = true;
    /* A container left open (the parse stopped inside it) is the root's: decref'd with it. */
    bool read = st == yajl_status_ok && b.root && !b.refused && !b.no_memory;
    if (b.no_memory) {
        builder_free(&b, h);
        json_decref(b.root);
        memset(error, 0, sizeof *error);
        snprintf(error->text, sizeof error->text, "out of memory");
        return NULL;
    }
    if (read && !b.doubt && (json_is_object(b.root) || json_is_array(b.root)) &&
        !needs_confirming(text, len)) {
        builder_free(&b, h);
        return b.root;
    }
    /* Refused, or in doubt: jansson judges. Its refusal is the message; when it accepts what
     * yajl read, yajl's tree is the one returned. */
    json_t *judged = json_loadb(text, len, JSON_REJECT_DUPLICATES, error);
    if (judged && read) {
        json_decref(judged);
        builder_free(&b, h);
        return b.root;
    }
    if (judged) { /* jansson takes what yajl refused: never seen (the fuzz target looks for it);
                   * refused all the same, where yajl stopped */
        json_decref(judged);
        locate(text, yajl_get_bytes_consumed(h), error);
        unsigned char *why = yajl_get_error(h, 0, NULL, 0);
        snprintf(error->text, sizeof error->text, "%s",
                 why ? (const char *)why : "refused by the contract reader");
        error->text[strcspn(error->text, "\n")] = '\0';
        if (why)
            yajl_free_error(h, why);
    }
    builder_free(&b, h);
    json_decref(b.root);
    return NULL;
}
