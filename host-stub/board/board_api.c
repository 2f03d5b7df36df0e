/* board_api.c — the board's view of the station and its JSON API; see board_api.h. */
#include "board/board_api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/json_text.h"

/* The recent messages of one kind, oldest first; `gone_through` is the seq of the newest one
 * let go (0: none), so an answer since an earlier seq is incomplete. */
typedef struct msg_ring {
    board_msg **ring;
    size_t cap;
    size_t head;
    size_t count;
    uint64_t gone_through;
} msg_ring;

enum { KIND_CHANGE, KIND_DECISION, KIND_ALERT, KIND_CHECKPOINT, KIND_COUNT };

static const char *const kind_topics[KIND_COUNT] = {"status.changed", "gate.decision", "alert",
                                                    "ledger.checkpoint"};

struct board_state {
    const char *ledger_path;
    size_t pre;
    uint64_t seq;   /* durable through */
    int64_t now_ms; /* the station's time at the last durable batch (0: none yet) */
    json_t *items;  /* equipment_id -> the item as last reported */
    char as_of[40]; /* the last status answer's as_of, or "" */
    strbuf pending; /* status and status.changed lines not yet taken in (apply_pending) */
    strbuf batch;   /* a batch's array, and the deflated one: kept from batch to batch */
    strbuf scratch;
    struct libdeflate_compressor *compressor; /* made at the first deflated batch */
    msg_ring rings[KIND_COUNT];
};

static int ring_init(msg_ring *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->ring = calloc(cap, sizeof *r->ring);
    r->cap = cap;
    return r->ring ? 0 : -ENOMEM;
}

static void ring_free(msg_ring *r)
{
    for (size_t i = 0; i < r->count; i++)
        board_msg_unref(r->ring[(r->head + i) % r->cap]);
    free(r->ring);
}

static void ring_push(msg_ring *r, board_msg *m)
{
    if (r->count == r->cap) {
        board_msg *old = r->ring[r->head];
        r->gone_through = old->seq;
        board_msg_unref(old);
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    r->ring[(r->head + r->count) % r->cap] = board_msg_ref(m);
    r->count++;
}

int board_state_new(const char *ledger_path, size_t pre, board_state **out)
{
    *out = NULL;
    board_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->ledger_path = ledger_path;
    s->pre = pre;
    s->items = json_object();
    static const size_t keep[KIND_COUNT] = {BOARD_KEEP_CHANGES, BOARD_KEEP_DECISIONS,
                                            BOARD_KEEP_ALERTS, BOARD_KEEP_CHECKPOINTS};
    int rc = s->items ? 0 : -ENOMEM;
    for (int k = 0; k < KIND_COUNT && rc == 0; k++)
        rc = ring_init(&s->rings[k], keep[k]);
    if (rc < 0) {
        board_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void board_state_free(board_state *s)
{
    if (s == NULL)
        return;
    for (int k = 0; k < KIND_COUNT; k++)
        ring_free(&s->rings[k]);
    json_decref(s->items);
    strbuf_free(&s->pending);
    strbuf_free(&s->batch);
    strbuf_free(&s->scratch);
    libdeflate_free_compressor(s->compressor);
    free(s);
}

/* The topic of an output line, which batch.c writes as {"topic":"T","data":...}: a topic
 * written with escapes is none of the board's. Returns its length, or 0. */
static size_t line_topic(const char *line, size_t len, const char **topic)
{
    static const char prefix[] = "{\"topic\":\"";
    size_t p = sizeof prefix - 1;
    if (len < p || memcmp(line, prefix, p) != 0)
        return 0;
    const char *end = memchr(line + p, '"', len - p);
    if (end == NULL || memchr(line + p, '\\', (size_t)(end - line - p)) != NULL)
        return 0;
    *topic = line + p;
    return (size_t)(end - line - p);
}

static bool topic_is(const char *topic, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(topic, name, len) == 0;
}

bool board_line_wanted(const char *line, size_t len)
{
    const char *topic;
    size_t tl = line_topic(line, len, &topic);
    if (topic_is(topic, tl, "status"))
        return true;
    for (int k = 0; k < KIND_COUNT && tl; k++)
        if (topic_is(topic, tl, kind_topics[k]))
            return true;
    return false;
}

/* Words for a status, for an item a status.changed moved (it carries no reason of its own). */
static const char *status_words(const char *status)
{
    static const char *const words[][2] = {
        {"current", "calibration current"},
        {"expiring_soon", "calibration expiring soon"},
        {"expired", "calibration expired"},
        {"pending_calibration", "pending calibration"},
        {"calibration_failed", "calibration failed"},
        {"out_of_service", "out of service"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(status, words[i][0]) == 0)
            return words[i][1];
    return status;
}

/* Update the item `entry` names (an object with equipment_id) with its members. */
static void merge_item(board_state *s, json_t *entry)
{
    const char *id = json_string_value(json_object_get(entry, "equipment_id"));
    if (id == NULL)
        return;
    json_t *item = json_object_get(s->items, id);
    if (item == NULL) {
        json_object_set_new(s->items, id, json_deep_copy(entry));
        return;
    }
    /* The day counts are one or the other, and stale once the status moved without them. */
    bool remaining = json_object_get(entry, "days_remaining") != NULL;
    bool overdue = json_object_get(entry, "days_overdue") != NULL;
    if (!remaining)
        json_object_del(item, "days_remaining");
    if (!overdue)
        json_object_del(item, "days_overdue");
    json_object_update(item, entry);
}

/* Whether a status answer lists the whole station: every item it counts, and more than one (a
 * single item's answer counts only that item, and a page or the not-ready list count more than
 * they list). */
static bool status_is_whole(json_t *data)
{
    json_int_t total =
        json_integer_value(json_object_get(json_object_get(data, "summary"), "total"));
    return total > 1 && (size_t)total == json_array_size(json_object_get(data, "equipment"));
}

/* What an output line tells about the items. */
static void learn(board_state *s, const char *topic, size_t topic_len, const char *line, size_t len,
                  json_t *parsed)
{
    bool status = topic_is(topic, topic_len, "status");
    bool changed = topic_is(topic, topic_len, "status.changed");
    /* Not gate.decision nor clientpo.linked: parsing them (the bulk of a busy station's output)
     * cost the host more than its own work per event; the page takes their items from the
     * decisions it is sent (and from /api/decisions after a reconnect). */
    if (!status && !changed)
        return;
    json_t *root = parsed ? json_incref(parsed) : json_loadb(line, len, 0, NULL);
    json_t *data = json_object_get(root, "data");
    if (status) {
        json_t *items = json_object();
        size_t i;
        json_t *entry;
        json_array_foreach (json_object_get(data, "equipment"), i, entry) {
            const char *id = json_string_value(json_object_get(entry, "equipment_id"));
            if (id != NULL)
                json_object_set(items, id, entry);
        }
        /* A status answer for one item, or for those not ready, is not the whole station. */
        bool whole = status_is_whole(data) &&
                     json_object_size(items) == json_array_size(json_object_get(data, "equipment"));
        if (whole && items != NULL) {
            json_decref(s->items);
            s->items = items;
            items = NULL;
        } else {
            const char *key;
            json_t *value;
            json_object_foreach (items, key, value)
                merge_item(s, value);
        }
        json_decref(items);
        const char *as_of = json_string_value(json_object_get(data, "as_of"));
        if (as_of != NULL)
            snprintf(s->as_of, sizeof s->as_of, "%s", as_of);
    } else if (changed) {
        const char *to = json_string_value(json_object_get(data, "to"));
        const char *id = json_string_value(json_object_get(data, "equipment_id"));
        json_t *ready = json_object_get(data, "ready");
        if (to != NULL && id != NULL && json_is_boolean(ready)) {
            json_t *item =
                json_pack("{s:s, s:s, s:O}", "equipment_id", id, "status", to, "ready", ready);
            char reason[200];
            const char *due = json_string_value(json_object_get(data, "due_date"));
            const char *cause = json_string_value(json_object_get(data, "cause"));
            snprintf(reason, sizeof reason, "%s%s%s (%s)", status_words(to), due ? ", due " : "",
                     due ? due : "", cause ? cause : "changed");
            json_object_set_new(item, "reason", json_string(reason));
            if (due != NULL)
                json_object_set_new(item, "due_date", json_string(due));
            merge_item(s, item);
            json_decref(item);
        }
    }
    json_decref(root);
}

/* Take in the status lines held back (board_state.pending): from the newest whole status answer
 * on, as it replaces every item before it, the older ones are not parsed at all. */
static void apply_pending(board_state *s)
{
    const char *begin = s->pending.data, *end = begin + s->pending.len, *from = begin;
    json_t *whole_root = NULL;              /* the newest whole answer, parsed once */
    for (const char *e = end; e > begin;) { /* e is after a line's newline */
        const char *nl = e - 1;
        const char *ls = nl > begin ? memrchr(begin, '\n', (size_t)(nl - begin)) : NULL;
        ls = ls ? ls + 1 : begin;
        const char *topic;
        size_t tl = line_topic(ls, (size_t)(nl - ls), &topic);
        if (topic_is(topic, tl, "status")) {
            json_t *root = json_loadb(ls, (size_t)(nl - ls), 0, NULL);
            if (status_is_whole(json_object_get(root, "data"))) {
                from = ls;
                whole_root = root;
                break;
            }
            json_decref(root);
        }
        e = ls;
    }
    for (const char *p = from; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)(nl - p);
        const char *topic;
        size_t tl = line_topic(p, l, &topic);
        learn(s, topic, tl, p, l, p == from ? whole_root : NULL);
        p = nl + 1;
    }
    json_decref(whole_root);
    strbuf_truncate(&s->pending, 0);
}

/* A deflated copy (zlib format, libdeflate's level 1: fast, and a batch's JSON shrinks about
 * ten times) of `text`, as a binary message; NULL when out of memory. Into the state's scratch
 * (kept: a new buffer of a batch's size each time cost the host more in page faults than the
 * compression), then a message of the size it came to. */
static board_msg *deflated(board_state *s, uint64_t seq, uint64_t loop_ms, const char *text,
                           size_t len)
{
    if (s->compressor == NULL && (s->compressor = libdeflate_alloc_compressor(1)) == NULL)
        return NULL;
    size_t bound = libdeflate_zlib_compress_bound(s->compressor, len);
    strbuf_truncate(&s->scratch, 0);
    if (strbuf_reserve(&s->scratch, bound) < 0)
        return NULL;
    size_t n = libdeflate_zlib_compress(s->compressor, text, len, s->scratch.data, bound);
    board_msg *m = n > 0 ? board_msg_new(s->pre, seq, loop_ms, s->scratch.data, n) : NULL;
    if (m != NULL)
        m->binary = true;
    return m;
}

int board_state_durable(board_state *s, const char *lines, size_t len, uint64_t seq, int64_t now_ms,
                        uint64_t loop_ms, unsigned forms, board_msg *out[2])
{
    out[0] = out[1] = NULL;
    s->seq = seq;
    s->now_ms = now_ms;
    /* First the board's events of the batch, to know its last one; status lines are held back
     * (apply_pending), as most of them are answers for the whole station that the next one
     * replaces: parsing each cost the host more than its own work for it. */
    size_t n = 0;
    int rc = 0;
    for (const char *p = lines, *end = lines + len; p < end && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *topic;
        size_t tl = line_topic(p, l, &topic);
        if (topic_is(topic, tl, "status") || topic_is(topic, tl, "status.changed")) {
            rc = strbuf_append(&s->pending, p, l);
            if (rc == 0)
                rc = strbuf_append_char(&s->pending, '\n');
        }
        for (int k = 0; k < KIND_COUNT && tl; k++)
            n += topic_is(topic, tl, kind_topics[k]);
        p += l + 1;
    }
    if (rc < 0)
        return rc;
    if (s->pending.len > BOARD_PENDING_BYTES)
        apply_pending(s);
    if (n == 0)
        return 0;
    /* All of them in one array, the batch's one message, each event written straight into it
     * and kept for ?since= as a copy of its slice (no event is copied on its own first). */
    strbuf *batch = &s->batch;
    size_t made = 0;
    strbuf_truncate(batch, 0);
    rc = strbuf_append_char(batch, '[');
    for (const char *p = lines, *end = lines + len; p < end && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *topic;
        size_t tl = line_topic(p, l, &topic);
        for (int k = 0; k < KIND_COUNT && tl && rc == 0; k++) {
            if (!topic_is(topic, tl, kind_topics[k]))
                continue;
            if (made > 0)
                rc = strbuf_append_char(batch, ',');
            size_t at = batch->len;
            /* {"seq":S,"n":N,"last":B, then the line's own "topic":..,"data":..} */
            if (rc == 0)
                rc = strbuf_appendf(batch, "{\"seq\":%" PRIu64 ",\"n\":%zu,\"last\":%s,", seq, made,
                                    made + 1 == n ? "true" : "false");
            if (rc == 0)
                rc = strbuf_append(batch, p + 1, l - 1);
            board_msg *m =
                rc == 0 ? board_msg_new(s->pre, seq, loop_ms, batch->data + at, batch->len - at)
                        : NULL;
            if (m == NULL) {
                rc = -ENOMEM;
                break;
            }
            ring_push(&s->rings[k], m);
            board_msg_unref(m); /* the ring holds it */
            made++;
        }
        p += l + 1;
    }
    if (rc == 0)
        rc = strbuf_append_char(batch, ']');
    if (rc == 0 && (forms & BOARD_FORM_TEXT) &&
        (out[0] = board_msg_new(s->pre, seq, loop_ms, batch->data, batch->len)) == NULL)
        rc = -ENOMEM;
    if (rc == 0 && (forms & BOARD_FORM_DEFLATE) &&
        (out[1] = deflated(s, seq, loop_ms, batch->data, batch->len)) == NULL)
        rc = -ENOMEM;
    if (rc < 0) {
        board_msg_unref(out[0]);
        board_msg_unref(out[1]);
        out[0] = out[1] = NULL;
    }
    return rc;
}

board_msg *board_state_hello(board_state *s, uint64_t loop_ms)
{
    char text[80];
    int len =
        snprintf(text, sizeof text, "{\"topic\":\"board.hello\",\"seq\":%" PRIu64 "}", s->seq);
    return board_msg_new(s->pre, 0, loop_ms, text, (size_t)len);
}

/* ---- the API ------------------------------------------------------------------------------ */

typedef struct query {
    bool has_since, has_limit, has_after;
    uint64_t since;
    uint64_t limit;
    const char *after;
} query;

static int bad(board_answer *a, int status, const char *fmt, const char *what)
{
    a->status = status;
    snprintf(a->why, sizeof a->why, fmt, what);
    return 0;
}

/* A decimal number without sign or spaces, below 10^18. */
static bool parse_number(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > 18)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    *out = v;
    return true;
}

/* Parse the query: only the names in `allowed` (a string of letters: s since, l limit, a
 * after), each at most once. Returns false with the answer's 400 set. */
static bool parse_query(const char *const *args, size_t n, const char *allowed, query *q,
                        board_answer *a)
{
    memset(q, 0, sizeof *q);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');
        size_t name_len = eq ? (size_t)(eq - args[i]) : strlen(args[i]);
        const char *value = eq ? eq + 1 : "";
        char name[16];
        if (name_len >= sizeof name) {
            bad(a, 400, "unknown query parameter '%.40s'", args[i]);
            return false;
        }
        memcpy(name, args[i], name_len);
        name[name_len] = '\0';
        char letter = strcmp(name, "since") == 0   ? 's'
                      : strcmp(name, "limit") == 0 ? 'l'
                      : strcmp(name, "after") == 0 ? 'a'
                                                   : 0;
        if (letter == 0 || strchr(allowed, letter) == NULL) {
            bad(a, 400, "unknown query parameter '%s'", name);
            return false;
        }
        bool *seen = letter == 's' ? &q->has_since : letter == 'l' ? &q->has_limit : &q->has_after;
        if (*seen) {
            bad(a, 400, "query parameter '%s' given twice", name);
            return false;
        }
        *seen = true;
        if (letter == 'a') {
            q->after = value;
        } else if (!parse_number(value, letter == 's' ? &q->since : &q->limit)) {
            bad(a, 400, "%s: not an unsigned decimal integer", name);
            return false;
        }
    }
    return true;
}

static int append_time(strbuf *b, int64_t ms)
{
    if (ms <= 0)
        return strbuf_append_str(b, "null");
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char text[40];
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(text, sizeof text, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm) == 0)
        return strbuf_append_str(b, "null");
    return strbuf_append_str(b, text);
}

static int compare_ids(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int answer_status(board_state *s, const query *q, strbuf *b)
{
    size_t total = json_object_size(s->items);
    const char **ids = calloc(total ? total : 1, sizeof *ids);
    if (ids == NULL)
        return -ENOMEM;
    size_t n = 0;
    const char *key;
    json_t *value;
    static const char *const states[] = {
        "out_of_service", "calibration_failed", "pending_calibration",
        "expired",        "expiring_soon",      "current",
        "unknown"};
    size_t counts[7] = {0}, ready = 0;
    json_object_foreach (s->items, key, value) {
        ids[n++] = key;
        const char *st = json_string_value(json_object_get(value, "status"));
        for (size_t k = 0; k < 7; k++)
            counts[k] += st != NULL && strcmp(st, states[k]) == 0;
        ready += json_is_true(json_object_get(value, "ready"));
    }
    qsort(ids, n, sizeof *ids, compare_ids);
    size_t limit = q->has_limit ? (size_t)q->limit : 100;
    size_t first = 0;
    while (q->has_after && first < n && strcmp(ids[first], q->after) <= 0)
        first++;
    size_t last = first + limit < n ? first + limit : n;
    int rc = strbuf_appendf(b, "{\"seq\":%" PRIu64 ",\"as_of\":", s->seq);
    if (rc == 0)
        rc = s->as_of[0] ? json_text_append_string(b, s->as_of, strlen(s->as_of))
                         : strbuf_append_str(b, "null");
    if (rc == 0)
        rc = strbuf_append_str(b, ",\"now\":");
    if (rc == 0)
        rc = append_time(b, s->now_ms);
    if (rc == 0)
        rc = strbuf_append_str(b, ",\"summary\":{");
    for (size_t k = 0; k < 7 && rc == 0; k++)
        rc = strbuf_appendf(b, "\"%s\":%zu,", states[k], counts[k]);
    if (rc == 0)
        rc = strbuf_appendf(b, "\"ready\":%zu,\"not_ready\":%zu,\"total\":%zu},\"equipment\":[",
                            ready, n - ready, n);
    for (size_t i = first; i < last && rc == 0; i++) {
        if (i > first)
            rc = strbuf_append_char(b, ',');
        if (rc == 0)
            rc = json_text_append_value(b, json_object_get(s->items, ids[i]));
    }
    if (rc == 0)
        rc = strbuf_append_str(b, "],\"next_after\":");
    if (rc == 0)
        rc = last < n ? json_text_append_string(b, ids[last - 1], strlen(ids[last - 1]))
                      : strbuf_append_str(b, "null");
    if (rc == 0)
        rc = strbuf_append_char(b, '}');
    free(ids);
    return rc;
}

static int answer_ring(board_state *s, const msg_ring *r, const char *name, const query *q,
                       strbuf *b)
{
    uint64_t since = q->has_since ? q->since : 0;
    int rc =
        strbuf_appendf(b, "{\"seq\":%" PRIu64 ",\"since\":%" PRIu64 ",\"complete\":%s,\"%s\":[",
                       s->seq, since, since >= r->gone_through ? "true" : "false", name);
    bool first = true;
    for (size_t i = 0; i < r->count && rc == 0; i++) {
        const board_msg *m = r->ring[(r->head + i) % r->cap];
        if (m->seq <= since)
            continue;
        if (!first)
            rc = strbuf_append_char(b, ',');
        first = false;
        if (rc == 0)
            rc = strbuf_append(b, board_msg_text(m), m->len);
    }
    if (rc == 0)
        rc = strbuf_append_str(b, "]}");
    return rc;
}

/* The last `limit` complete records of the ledger file, read from its last
 * BOARD_LEDGER_TAIL_BYTES. */
static int answer_ledger(board_state *s, const query *q, strbuf *b, board_answer *a)
{
    size_t limit = q->has_limit ? (size_t)q->limit : 20;
    int fd = open(s->ledger_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    /* The board starts before the host opens (and on a new station creates) the ledger: until
     * a batch is durable, no ledger is no record yet. Missing after that, it is an error. */
    if (fd < 0 && errno == ENOENT && s->seq == 0)
        return strbuf_append_str(b, "{\"seq\":0,\"records\":[]}");
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return bad(a, 500, "cannot read the ledger: %s", strerror(errno));
    }
    off_t start = st.st_size > BOARD_LEDGER_TAIL_BYTES ? st.st_size - BOARD_LEDGER_TAIL_BYTES : 0;
    size_t size = (size_t)(st.st_size - start);
    char *text = malloc(size + 1);
    ssize_t got = text ? pread(fd, text, size, start) : -1;
    close(fd);
    if (got < 0) {
        free(text);
        return text ? bad(a, 500, "cannot read the ledger: %s", strerror(errno)) : -ENOMEM;
    }
    /* Complete lines only: from after the first newline (when not at the file's start) to the
     * last newline. */
    const char *p = text, *end = text + got;
    if (start > 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (end > p && end[-1] != '\n')
        end--;
    const char *from = end;
    for (size_t k = 0; k < limit && from > p;) {
        const char *q2 = from - 1; /* the newline ending the line before `from` */
        while (q2 > p && q2[-1] != '\n')
            q2--;
        from = q2;
        k++;
    }
    int rc = strbuf_appendf(b, "{\"seq\":%" PRIu64 ",\"records\":[", s->seq);
    bool first = true;
    for (const char *l = from; l < end && rc == 0;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        if (!first)
            rc = strbuf_append_char(b, ',');
        first = false;
        if (rc == 0)
            rc = json_text_append_object_text(b, l, (size_t)(nl - l), NULL, 0);
        l = nl + 1;
    }
    if (rc == 0)
        rc = strbuf_append_str(b, "]}");
    free(text);
    a->status = rc == 0 ? 200 : 500;
    if (rc == -EINVAL) /* a record that is not one JSON object: the ledger is not ours to fix */
        return bad(a, 500, "%s", "the ledger's tail holds a line that is not a JSON object");
    return rc;
}

int board_state_answer(board_state *s, const char *path, const char *const *args, size_t arg_count,
                       strbuf *body, board_answer *a)
{
    a->status = 200;
    a->content_type = "application/json";
    a->why[0] = '\0';
    size_t mark = body->len;
    query q;
    int rc = 0;
    if (strcmp(path, "/api/status") == 0) {
        apply_pending(s);
        if (parse_query(args, arg_count, "la", &q, a)) {
            if (q.has_limit && (q.limit < 1 || q.limit > BOARD_STATUS_LIMIT_MAX))
                bad(a, 400, "limit: must be 1 to %s", "1000");
            else
                rc = answer_status(s, &q, body);
        }
    } else if (strcmp(path, "/api/alerts") == 0 || strcmp(path, "/api/decisions") == 0) {
        bool alerts = path[5] == 'a';
        if (parse_query(args, arg_count, "s", &q, a))
            rc = answer_ring(s, &s->rings[alerts ? KIND_ALERT : KIND_DECISION],
                             alerts ? "alerts" : "decisions", &q, body);
    } else if (strcmp(path, "/api/ledger/recent") == 0) {
        if (parse_query(args, arg_count, "l", &q, a)) {
            if (q.has_limit && (q.limit < 1 || q.limit > BOARD_LEDGER_LIMIT_MAX))
                bad(a, 400, "limit: must be 1 to %s", "100");
            else
                rc = answer_ledger(s, &q, body, a);
        }
    } else {
        bad(a, 404, "no such resource: %.200s", path);
    }
    if (rc < 0) {
        strbuf_truncate(body, mark);
        return rc;
    }
    if (a->status != 200) {
        strbuf_truncate(body, mark);
        rc = strbuf_append_str(body, "{\"error\":");
        if (rc == 0 && json_text_append_string(body, a->why, strlen(a->why)) == -EINVAL)
            rc = strbuf_append_str(body, "\"the request is not valid UTF-8\"");
        if (rc == 0)
            rc = strbuf_append_char(body, '}');
    }
    return rc;
}
