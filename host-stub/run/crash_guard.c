/* crash_guard.c — fatal signals in modules, the crash history and quarantine; see crash_guard.h. */
#include "run/crash_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/durable_file.h"
#include "output/diag.h"
#include "run/clock.h"
#include "smart_plugin.h"
#include "util/json_text.h"
#include "util/strbuf.h"

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define FATAL_COUNT (sizeof fatal_signals / sizeof fatal_signals[0])

/* What the handler writes for the current call, formatted before it. Two slots: the next call
 * is formatted into the one not in use, then published, so a handler never reads a slot half
 * written. */
typedef struct guard_slot {
    strbuf line;   /* "smart-host: fatal: module M crashed handling S (line N, topic T): " */
    strbuf record; /* {"module":M,"source":S,"line":N,"topic":T,"data": */
    const char *data;
    size_t data_len;
} guard_slot;

/* A module's image, for a fault outside any call the host made (a callback of a module's own
 * handle): where it is mapped, and what the handler writes for it, formatted beforehand. */
typedef struct image_slot {
    uintptr_t lo, hi; /* 0, 0: none */
    strbuf line;      /* "smart-host: fatal: module M crashed in a callback of its own ...: " */
    strbuf record;    /* {"module":M,"call":"callback" */
} image_slot;

struct crash_guard {
    int note_fd; /* "<ledger>.crash", O_APPEND */
    char note_path[PATH_MAX];
    guard_slot slots[2];
    volatile sig_atomic_t current; /* slot index, or -1 outside a module call */
    image_slot *images;            /* per module (image_count), or NULL */
    size_t image_count;
    uintptr_t stack_lo, stack_hi; /* the loop thread's stack, or 0, 0 */
    struct sigaction previous[FATAL_COUNT];
    stack_t alt_stack;
    bool alt_stack_set;
    pthread_t loop_thread; /* the thread that calls modules' on_event */
    /* The decode_event call on the parse-ahead thread (crash_guard_enter_decode), in slots of
     * its own, formatted and published by that thread; the handler uses them only on the very
     * thread that published them (worker_thread, stored before worker_current). */
    guard_slot worker_slots[2];
    atomic_int worker_current; /* slot index, or -1 */
    pthread_t worker_thread;
    json_t *quarantine; /* canonical event text -> its quarantine entry */
};

/* The one process-wide pointer: a signal handler can reach nothing else. Set by
 * crash_guard_start and cleared by crash_guard_stop, on the loop thread. */
static crash_guard *volatile process_guard;

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "fatal signal";
    }
}

static void write_text(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

static void write_str(int fd, const char *text)
{
    write_text(fd, text, strlen(text));
}

/* The program counter and stack pointer of the interrupted code, or 0 where not known. */
static void interrupted_at(const void *context, uintptr_t *pc, uintptr_t *sp)
{
    const ucontext_t *uc = context;
    *pc = *sp = 0;
    if (uc == NULL)
        return;
#if defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *sp = (uintptr_t)uc->uc_mcontext.sp;
#endif
}

__attribute__((no_sanitize_address)) static ssize_t image_holding(const crash_guard *g,
                                                                  uintptr_t address)
{
    for (size_t i = 0; i < g->image_count; i++)
        if (g->images[i].hi != 0 && address >= g->images[i].lo && address < g->images[i].hi)
            return (ssize_t)i;
    return -1;
}

/* The module whose code faulted outside any host call: the one the faulting instruction is in,
 * else (a fault inside a library it called, memcpy say) the one with the nearest return address
 * on the stack: the live frames lie between the stack pointer and the stack's top, every word of
 * which is mapped. Reads memory only. -1 when none. */
__attribute__((no_sanitize_address)) /* it reads the stack's words, redzones included */
static ssize_t
faulting_image(const crash_guard *g, const void *context)
{
    uintptr_t pc, sp;
    interrupted_at(context, &pc, &sp);
    ssize_t found = pc != 0 ? image_holding(g, pc) : -1;
    if (found >= 0 || sp == 0 || sp < g->stack_lo || sp >= g->stack_hi)
        return found;
    uintptr_t end = g->stack_hi - sp > 64 * 1024 ? sp + 64 * 1024 : g->stack_hi;
    for (uintptr_t at = (sp + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
         found < 0 && at + sizeof(uintptr_t) <= end; at += sizeof(uintptr_t))
        found = image_holding(g, *(const uintptr_t *)at);
    return found;
}

static void write_note(const crash_guard *g, const strbuf *record, const char *data,
                       size_t data_len, const char *name)
{
    if (g->note_fd < 0)
        return;
    write_text(g->note_fd, record->data, record->len);
    if (data != NULL)
        write_text(g->note_fd, data, data_len);
    write_str(g->note_fd, ",\"signal\":\"");
    write_str(g->note_fd, name);
    write_str(g->note_fd, "\"}\n");
    fsync(g->note_fd);
}

/* Async-signal-safe: write(2), fsync(2), sigaction(2), raise(3) and reads of what was formatted
 * before the call. */
static void on_fatal_signal(int sig, siginfo_t *info, void *context)
{
    (void)info;
    int saved_errno = errno;
    crash_guard *g = process_guard;
    const char *name = signal_name(sig);
    int index = g != NULL ? g->current : -1;
    /* A fault on another thread (a module's own, or decoding ahead on the threadpool) is not
     * the loop's current call: it is named as such, never blamed on that call's event. */
    bool on_loop = g != NULL && pthread_equal(pthread_self(), g->loop_thread);
    int worker = g != NULL && !on_loop ? atomic_load(&g->worker_current) : -1;
    if (worker >= 0 && !pthread_equal(pthread_self(), g->worker_thread))
        worker = -1;
    ssize_t image = g != NULL && on_loop && (index < 0 || index > 1) && g->images != NULL
                        ? faulting_image(g, context)
                        : -1;
    if (g != NULL && on_loop && index >= 0 && index <= 1) {
        const guard_slot *s = &g->slots[index];
        write_text(STDERR_FILENO, s->line.data, s->line.len);
        write_str(STDERR_FILENO, name);
        write_str(STDERR_FILENO, "\n");
        write_note(g, &s->record, s->data, s->data_len, name);
    } else if (worker >= 0 && worker <= 1) {
        const guard_slot *s = &g->worker_slots[worker];
        write_text(STDERR_FILENO, s->line.data, s->line.len);
        write_str(STDERR_FILENO, name);
        write_str(STDERR_FILENO, "\n");
        write_note(g, &s->record, s->data, s->data_len, name);
    } else if (image >= 0 && g->images[image].line.len > 0) {
        const image_slot *s = &g->images[image];
        write_text(STDERR_FILENO, s->line.data, s->line.len);
        write_str(STDERR_FILENO, name);
        write_str(STDERR_FILENO, "\n");
        write_note(g, &s->record, NULL, 0, name);
    } else {
        write_str(STDERR_FILENO, "smart-host: fatal: ");
        write_str(STDERR_FILENO, name);
        write_str(STDERR_FILENO, on_loop || g == NULL ? " outside any module call\n"
                                                      : " on a thread other than the loop's\n");
    }
    /* Every fatal signal goes back to its previous action, not only this one: a handler that
     * runs next (a sanitizer's, which then aborts) must not bring the process back here and
     * note the same crash twice. */
    for (size_t i = 0; g != NULL && i < FATAL_COUNT; i++)
        sigaction(fatal_signals[i], &g->previous[i], NULL);
    if (g == NULL)
        signal(sig, SIG_DFL);
    errno = saved_errno;
    raise(sig); /* SA_NODEFER: delivered now, to the previous action (by default: die) */
}

/* A piece of a slot's text: as it is, or between two quotes (a plain string, which
 * json_text_append_string writes so). */
typedef struct piece {
    const char *text;
    size_t len;
    bool quoted;
} piece;

#define LITERAL(s)                                                                                 \
    (piece)                                                                                        \
    {                                                                                              \
        (s), sizeof(s) - 1, false                                                                  \
    }

/* Set `b` to the pieces one after the other, in one reserve: a slot is formatted before every
 * call into a module (appending piece by piece, with each string quoted by jansson's rules,
 * was 2 % of the host's instructions on the adverse station, 2026-12-02). */
static bool put_pieces(strbuf *b, const piece *p, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += p[i].len + (p[i].quoted ? 2 : 0);
    strbuf_truncate(b, 0);
    if (strbuf_reserve(b, total) < 0)
        return false;
    char *at = b->data;
    for (size_t i = 0; i < n; i++) {
        if (p[i].quoted)
            *at++ = '"';
        memcpy(at, p[i].text, p[i].len);
        at += p[i].len;
        if (p[i].quoted)
            *at++ = '"';
    }
    b->len = total;
    b->data[total] = '\0';
    return true;
}

/* `v` in decimal (as %llu writes it) into `out` (24 bytes); returns its length. */
static size_t u64_digits(uint64_t v, char out[24])
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

/* `v` in decimal, as %llu writes it. */
static int append_u64(strbuf *b, uint64_t v)
{
    char digits[24];
    return strbuf_append(b, digits, u64_digits(v, digits));
}

/* The texts of a call with an event, named by plain strings (nearly always): "line" and
 * "record" as the slow path below formats them. `decode` for the parse-ahead thread's form. */
static bool put_event_slot(guard_slot *s, bool decode, const char *module, size_t module_len,
                           const char *source, size_t source_len, uint64_t line_no,
                           const char *topic, size_t topic_len)
{
    char num[24];
    size_t num_len = u64_digits(line_no, num);
    piece m = {module, module_len, true}, t = {topic, topic_len, true};
    piece raw_source = {source, source_len, false}, quoted_source = {source, source_len, true};
    piece n = {num, num_len, false};
    /* The record differs only in the call's name; the line in its wording. */
    piece record[] = {LITERAL("{\"module\":"),
                      m,
                      decode ? LITERAL(",\"call\":\"decode_event\",\"source\":")
                             : LITERAL(",\"call\":\"on_event\",\"source\":"),
                      quoted_source,
                      LITERAL(",\"line\":"),
                      n,
                      LITERAL(",\"topic\":"),
                      t,
                      LITERAL(",\"data\":")};
    piece decode_line[] = {LITERAL("smart-host: fatal: module "),
                           m,
                           LITERAL(" crashed in its decode_event of "),
                           raw_source,
                           LITERAL(" (topic "),
                           t,
                           LITERAL(", on the parse-ahead thread): ")};
    piece event_line[] = {LITERAL("smart-host: fatal: module "),
                          m,
                          LITERAL(" crashed handling "),
                          raw_source,
                          LITERAL(" (line "),
                          n,
                          LITERAL(", topic "),
                          t,
                          LITERAL("): ")};
    bool ok = decode ? put_pieces(&s->line, decode_line, sizeof decode_line / sizeof decode_line[0])
                     : put_pieces(&s->line, event_line, sizeof event_line / sizeof event_line[0]);
    return ok && put_pieces(&s->record, record, sizeof record / sizeof record[0]);
}

/* Whether the three names are plain (put_event_slot can format them), their lengths set. */
static bool plain_names(const char *module, size_t *module_len, const char *source,
                        size_t *source_len, const char *topic, size_t *topic_len)
{
    *module_len = strlen(module);
    *source_len = strlen(source);
    *topic_len = strlen(topic);
    return json_text_is_plain(module, *module_len) && json_text_is_plain(source, *source_len) &&
           json_text_is_plain(topic, *topic_len);
}

void crash_guard_enter(crash_guard *g, const char *module, const char *source, uint64_t line_no,
                       const char *topic, const char *data, size_t data_len)
{
    if (g == NULL)
        return;
    int next = g->current == 0 ? 1 : 0;
    guard_slot *s = &g->slots[next];
    strbuf_truncate(&s->line, 0);
    strbuf_truncate(&s->record, 0);
    /* Names and topics are JSON-quoted on both: no control character reaches the terminal. */
    size_t module_len, source_len, topic_len;
    bool ok;
    if (plain_names(module, &module_len, source, &source_len, topic, &topic_len)) {
        ok = put_event_slot(s, false, module, module_len, source, source_len, line_no, topic,
                            topic_len);
    } else {
        ok = strbuf_append_str(&s->line, "smart-host: fatal: module ") == 0 &&
             json_text_append_string(&s->line, module, strlen(module)) == 0 &&
             strbuf_append_str(&s->line, " crashed handling ") == 0 &&
             strbuf_append_str(&s->line, source) == 0 &&
             strbuf_append_str(&s->line, " (line ") == 0 && append_u64(&s->line, line_no) == 0 &&
             strbuf_append_str(&s->line, ", topic ") == 0 &&
             json_text_append_string(&s->line, topic, strlen(topic)) == 0 &&
             strbuf_append_str(&s->line, "): ") == 0;
        ok = ok && strbuf_append_str(&s->record, "{\"module\":") == 0 &&
             json_text_append_string(&s->record, module, strlen(module)) == 0 &&
             strbuf_append_str(&s->record, ",\"call\":\"on_event\",\"source\":") == 0 &&
             json_text_append_string(&s->record, source, strlen(source)) == 0 &&
             strbuf_append_str(&s->record, ",\"line\":") == 0 &&
             append_u64(&s->record, line_no) == 0 &&
             strbuf_append_str(&s->record, ",\"topic\":") == 0 &&
             json_text_append_string(&s->record, topic, strlen(topic)) == 0 &&
             strbuf_append_str(&s->record, ",\"data\":") == 0;
    }
    s->data = data_len > 0 ? data : "{}";
    s->data_len = data_len > 0 ? data_len : 2;
    if (!ok) { /* out of memory: the handler then says only that it was outside a known call */
        g->current = -1;
        return;
    }
    g->current = next;
}

void crash_guard_enter_call(crash_guard *g, const char *module, const char *call)
{
    if (g == NULL)
        return;
    int next = g->current == 0 ? 1 : 0;
    guard_slot *s = &g->slots[next];
    strbuf_truncate(&s->line, 0);
    strbuf_truncate(&s->record, 0);
    bool ok = strbuf_appendf(&s->line, "smart-host: fatal: module ") == 0 &&
              json_text_append_string(&s->line, module, strlen(module)) == 0 &&
              strbuf_appendf(&s->line, " crashed in its %s: ", call) == 0 &&
              strbuf_appendf(&s->record, "{\"module\":") == 0 &&
              json_text_append_string(&s->record, module, strlen(module)) == 0 &&
              strbuf_appendf(&s->record, ",\"call\":") == 0 &&
              json_text_append_string(&s->record, call, strlen(call)) == 0;
    s->data = NULL;
    s->data_len = 0;
    if (!ok) {
        g->current = -1;
        return;
    }
    g->current = next;
}

void crash_guard_enter_decode(crash_guard *g, const char *module, const char *source,
                              uint64_t line_no, const char *topic, const char *data,
                              size_t data_len)
{
    if (g == NULL)
        return;
    int next = atomic_load(&g->worker_current) == 0 ? 1 : 0;
    guard_slot *s = &g->worker_slots[next];
    strbuf_truncate(&s->line, 0);
    strbuf_truncate(&s->record, 0);
    /* The event's data goes into the note as for on_event: a decoding that crashes the host
     * twice is quarantined like a delivery that does (recover), else a producer resending the
     * line after each restart would crash the host for ever. */
    size_t module_len, source_len, topic_len;
    bool ok =
        plain_names(module, &module_len, source, &source_len, topic, &topic_len)
            ? put_event_slot(s, true, module, module_len, source, source_len, line_no, topic,
                             topic_len)
            : strbuf_append_str(&s->line, "smart-host: fatal: module ") == 0 &&
                  json_text_append_string(&s->line, module, strlen(module)) == 0 &&
                  strbuf_appendf(&s->line, " crashed in its decode_event of %s (topic ", source) ==
                      0 &&
                  json_text_append_string(&s->line, topic, strlen(topic)) == 0 &&
                  strbuf_append_str(&s->line, ", on the parse-ahead thread): ") == 0 &&
                  strbuf_append_str(&s->record, "{\"module\":") == 0 &&
                  json_text_append_string(&s->record, module, strlen(module)) == 0 &&
                  strbuf_append_str(&s->record, ",\"call\":\"decode_event\",\"source\":") == 0 &&
                  json_text_append_string(&s->record, source, strlen(source)) == 0 &&
                  strbuf_appendf(&s->record,
                                 ",\"line\":%llu,\"topic\":", (unsigned long long)line_no) == 0 &&
                  json_text_append_string(&s->record, topic, strlen(topic)) == 0 &&
                  strbuf_append_str(&s->record, ",\"data\":") == 0;
    s->data = data_len > 0 ? data : "{}";
    s->data_len = data_len > 0 ? data_len : 2;
    if (!ok) {
        atomic_store(&g->worker_current, -1);
        return;
    }
    g->worker_thread = pthread_self();
    atomic_store(&g->worker_current, next);
}

void crash_guard_leave_decode(crash_guard *g)
{
    if (g != NULL)
        atomic_store(&g->worker_current, -1);
}

void crash_guard_image(crash_guard *g, size_t index, const char *module, uintptr_t lo, uintptr_t hi)
{
    if (g == NULL || index >= g->image_count)
        return;
    image_slot *s = &g->images[index];
    s->hi = 0; /* unused while it changes */
    if (module == NULL || hi == 0)
        return;
    strbuf_truncate(&s->line, 0);
    strbuf_truncate(&s->record, 0);
    bool ok = strbuf_appendf(&s->line, "smart-host: fatal: module ") == 0 &&
              json_text_append_string(&s->line, module, strlen(module)) == 0 &&
              strbuf_appendf(&s->line, " crashed in a callback of its own on the host's loop (a "
                                       "timer or another handle), outside any host call: ") == 0 &&
              strbuf_appendf(&s->record, "{\"module\":") == 0 &&
              json_text_append_string(&s->record, module, strlen(module)) == 0 &&
              strbuf_appendf(&s->record, ",\"call\":\"callback\"") == 0;
    if (!ok)
        return;
    s->lo = lo;
    s->hi = hi;
}

void crash_guard_leave(crash_guard *g)
{
    if (g != NULL)
        g->current = -1;
}

/* The canonical text of an event (sorted keys, compact): the same event sent again compares
 * equal whatever its spacing or key order. NULL when `data` is not JSON. */
static char *canonical_event(const char *topic, const char *data, size_t data_len)
{
    json_t *value = json_loadb(data, data_len, 0, NULL);
    json_t *event = value != NULL ? json_pack("{s:s, s:o}", "topic", topic, "data", value) : NULL;
    char *text = event != NULL ? json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(event);
    return text;
}

bool crash_guard_quarantined(const crash_guard *g, const char *topic, const char *data,
                             size_t data_len, char *why, size_t why_size)
{
    if (g == NULL || json_object_size(g->quarantine) == 0)
        return false;
    char *key = canonical_event(topic, data, data_len);
    json_t *entry = key != NULL ? json_object_get(g->quarantine, key) : NULL;
    free(key);
    if (entry == NULL)
        return false;
    snprintf(why, why_size,
             "quarantined: this event crashed the host %lld times (last in module %s); it is "
             "held in the quarantine file beside the ledger until an operator releases it",
             (long long)json_integer_value(json_object_get(entry, "crashes")),
             json_string_value(json_object_get(entry, "module")) ?: "?");
    return true;
}

/* The JSON lines of `path`, each parsed; a torn last line (no newline) or a line that is not a
 * JSON object is skipped with a warning. Returns an array (empty when the file is missing), or
 * NULL with `msg` set when it cannot be read. */
static json_t *read_lines(const char *path, char *msg, size_t msg_size)
{
    json_t *lines = json_array();
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return lines;
        snprintf(msg, msg_size, "%s: cannot read: %s", path, strerror(errno));
        json_decref(lines);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long no = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        no++;
        json_t *value = NULL;
        if (line[len - 1] == '\n')
            value = json_loadb(line, (size_t)len - 1, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(value))
            json_array_append_new(lines, value);
        else {
            json_decref(value);
            host_diag("warning: %s: line %lu is not a complete JSON object; skipped", path, no);
        }
    }
    free(line);
    fclose(f);
    return lines;
}

/* Append `value` as one line to `path` and sync it. Returns 0 or SMART_EIO with `msg`. */
static int append_line(const char *path, const json_t *value, char *msg, size_t msg_size)
{
    char *text = json_dumps(value, JSON_COMPACT);
    if (text == NULL) {
        snprintf(msg, msg_size, "%s: out of memory", path);
        return SMART_ENOMEM;
    }
    int fd = durable_open_append(path, O_WRONLY, NULL, msg, msg_size);
    if (fd < 0) {
        free(text);
        return SMART_EIO;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps's NUL becomes the line end; written by length */
    int rc = durable_write_all(fd, text, len + 1);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    free(text);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: write or fdatasync failed: %s", path, strerror(-rc));
        return SMART_EIO;
    }
    return 0;
}

static void record_crash(const crash_guard_sink *sink, const json_t *crash)
{
    const char *module = json_string_value(json_object_get(crash, "module")) ?: "?";
    const char *call = json_string_value(json_object_get(crash, "call")) ?: "on_event";
    const char *source = json_string_value(json_object_get(crash, "source"));
    const char *topic = json_string_value(json_object_get(crash, "topic"));
    const char *sig = json_string_value(json_object_get(crash, "signal")) ?: "?";
    char details[900];
    if (source != NULL || topic != NULL) {
        host_diag("warning: the last run died of %s in module %s handling %s (topic %s)", sig,
                  module, source ?: "?", topic ?: "?");
        snprintf(details, sizeof details,
                 "The host died of %.20s in module %.200s handling %.300s (topic %.200s).", sig,
                 module, source ?: "?", topic ?: "?");
    } else { /* not an event's: init, commit, shutdown, or a callback of the module's own */
        const char *what = strcmp(call, "callback") == 0 ? "a callback of its own" : call;
        host_diag("warning: the last run died of %s in module %s, in %s", sig, module, what);
        snprintf(details, sizeof details, "The host died of %.20s in module %.200s, in %.100s.",
                 sig, module, what);
    }
    json_t *meta =
        json_pack("{s:s, s:s, s:s*, s:O*, s:s*, s:s}", "module", module, "call", call, "source",
                  source, "line", json_object_get(crash, "line"), "topic", topic, "signal", sig);
    char *meta_text = meta != NULL ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    sink->record(sink->arg, "host.crashed", module, details, meta_text);
    free(meta_text);
}

/* Set aside the event `key` (canonical text) that crashed `crashes` times. */
static int quarantine_event(crash_guard *g, const crash_guard_sink *sink, const char *path,
                            const char *key, const json_t *crash, json_int_t crashes, char *msg,
                            size_t msg_size)
{
    json_t *event = json_loads(key, 0, NULL);
    json_t *entry = json_pack("{s:O, s:O, s:I, s:O, s:O}", "topic", json_object_get(event, "topic"),
                              "data", json_object_get(event, "data"), "crashes", crashes, "module",
                              json_object_get(crash, "module"), "last_source",
                              json_object_get(crash, "source"));
    json_decref(event);
    if (entry == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return SMART_ENOMEM;
    }
    int rc = append_line(path, entry, msg, msg_size);
    if (rc == 0) {
        const char *module = json_string_value(json_object_get(crash, "module")) ?: "?";
        const char *topic = json_string_value(json_object_get(entry, "topic")) ?: "?";
        char *meta_text = json_dumps(entry, JSON_COMPACT);
        char details[1200];
        snprintf(details, sizeof details,
                 "An event (topic %.200s) crashed the host %lld times (last in module %.200s); it "
                 "is set aside in %.400s and refused until an operator releases it.",
                 topic, (long long)crashes, module, path);
        host_diag("warning: %s", details);
        sink->record(sink->arg, "event.quarantined", topic, details, meta_text);
        free(meta_text);
        char now[RFC3339_MS_LEN + 1];
        rfc3339_format_ms(sink->now_ms, now);
        json_t *alert =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "alert_type",
                      "event_quarantined", "severity", "high", "node_id", sink->node_id,
                      "station_type", sink->station_type, "timestamp", now, "requires_action", 1,
                      "message", details, "module", module, "event_topic", topic);
        char *alert_text = alert != NULL ? json_dumps(alert, JSON_COMPACT) : NULL;
        json_decref(alert);
        if (alert_text != NULL)
            sink->alert(sink->arg, alert_text, strlen(alert_text));
        free(alert_text);
        json_object_set(g->quarantine, key, entry);
    }
    json_decref(entry);
    return rc;
}

/* The crashes the last run left: into the ledger, the history and, at two, the quarantine.
 * The history and the quarantine are synced before the note is removed, so a crash here loses
 * no crash (at worst one is counted again). */
static int recover(crash_guard *g, const char *ledger_path, const crash_guard_sink *sink, char *msg,
                   size_t msg_size)
{
    char note[PATH_MAX], history[PATH_MAX], quarantine[PATH_MAX];
    snprintf(note, sizeof note, "%s.crash", ledger_path);
    snprintf(history, sizeof history, "%s.crashes.jsonl", ledger_path);
    snprintf(quarantine, sizeof quarantine, "%s.quarantine.jsonl", ledger_path);
    json_t *held = read_lines(quarantine, msg, msg_size);
    json_t *crashes = held != NULL ? read_lines(note, msg, msg_size) : NULL;
    json_t *past = crashes != NULL ? read_lines(history, msg, msg_size) : NULL;
    int rc = past != NULL ? 0 : SMART_EIO;
    size_t i;
    json_t *entry;
    json_array_foreach (held, i, entry) {
        const char *topic = json_string_value(json_object_get(entry, "topic"));
        json_t *data = json_object_get(entry, "data");
        char *data_text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
        char *key = topic != NULL && data_text != NULL
                        ? canonical_event(topic, data_text, strlen(data_text))
                        : NULL;
        if (key != NULL)
            json_object_set(g->quarantine, key, entry);
        free(key);
        free(data_text);
    }
    json_t *crash;
    json_array_foreach (crashes, i, crash) {
        if (rc < 0)
            break;
        record_crash(sink, crash);
        const char *topic = json_string_value(json_object_get(crash, "topic"));
        json_t *data = json_object_get(crash, "data");
        char *data_text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
        char *key = topic != NULL && data_text != NULL
                        ? canonical_event(topic, data_text, strlen(data_text))
                        : NULL;
        free(data_text);
        if (key == NULL)
            continue;
        json_t *line = json_pack(
            "{s:s, s:O, s:O, s:O}", "event", key, "module", json_object_get(crash, "module"),
            "source", json_object_get(crash, "source"), "signal", json_object_get(crash, "signal"));
        rc = line != NULL ? append_line(history, line, msg, msg_size) : SMART_ENOMEM;
        if (line != NULL)
            json_array_append_new(past, line);
        json_int_t count = 0;
        size_t j;
        json_t *old;
        json_array_foreach (past, j, old) {
            const char *event = json_string_value(json_object_get(old, "event"));
            if (event != NULL && strcmp(event, key) == 0)
                count++;
        }
        if (rc == 0 && count >= 2 && json_object_get(g->quarantine, key) == NULL)
            rc = quarantine_event(g, sink, quarantine, key, crash, count, msg, msg_size);
        free(key);
    }
    if (rc == 0 && json_array_size(crashes) > 0 && unlink(note) == 0)
        durable_sync_parent_dir(note);
    json_decref(held);
    json_decref(crashes);
    json_decref(past);
    return rc;
}

int crash_guard_start(const char *ledger_path, const crash_guard_sink *sink, size_t module_count,
                      crash_guard **out, char *msg, size_t msg_size)
{
    *out = NULL;
    crash_guard *g = calloc(1, sizeof *g);
    if (g == NULL || (g->quarantine = json_object()) == NULL ||
        (g->images = calloc(module_count ? module_count : 1, sizeof *g->images)) == NULL) {
        if (g != NULL)
            json_decref(g->quarantine);
        free(g);
        snprintf(msg, msg_size, "out of memory");
        return SMART_ENOMEM;
    }
    g->image_count = module_count;
    g->note_fd = -1;
    g->current = -1;
    snprintf(g->note_path, sizeof g->note_path, "%s.crash", ledger_path);
    int rc = recover(g, ledger_path, sink, msg, msg_size);
    if (rc == 0) {
        g->note_fd = durable_open_append(g->note_path, O_WRONLY, NULL, msg, msg_size);
        if (g->note_fd < 0)
            rc = SMART_EIO;
    }
    if (rc < 0) {
        crash_guard_stop(g);
        return rc;
    }
    /* An alternate stack, so that a module overflowing the loop thread's stack is reported
     * too. */
    g->alt_stack.ss_size = 64 * 1024;
    g->alt_stack.ss_sp = malloc(g->alt_stack.ss_size);
    if (g->alt_stack.ss_sp != NULL && sigaltstack(&g->alt_stack, NULL) == 0)
        g->alt_stack_set = true;
    g->loop_thread = pthread_self();
    atomic_store(&g->worker_current, -1);
    /* The loop thread's stack, for the handler's look at its frames (faulting_image). */
    pthread_attr_t attr;
    if (pthread_getattr_np(g->loop_thread, &attr) == 0) {
        void *base;
        size_t size;
        if (pthread_attr_getstack(&attr, &base, &size) == 0) {
            g->stack_lo = (uintptr_t)base;
            g->stack_hi = (uintptr_t)base + size;
        }
        pthread_attr_destroy(&attr);
    }
    process_guard = g;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fatal_signal;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < FATAL_COUNT; i++)
        sigaction(fatal_signals[i], &action, &g->previous[i]);
    *out = g;
    return 0;
}

void crash_guard_stop(crash_guard *g)
{
    if (g == NULL)
        return;
    if (process_guard == g) {
        for (size_t i = 0; i < FATAL_COUNT; i++)
            sigaction(fatal_signals[i], &g->previous[i], NULL);
        process_guard = NULL;
    }
    if (g->alt_stack_set) {
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
    }
    free(g->alt_stack.ss_sp);
    if (g->note_fd >= 0) {
        /* A run that ends without a crash leaves no note (the guard is the only writer). */
        struct stat st;
        if (fstat(g->note_fd, &st) == 0 && st.st_size == 0)
            unlink(g->note_path);
        close(g->note_fd);
    }
    for (int i = 0; i < 2; i++) {
        strbuf_free(&g->slots[i].line);
        strbuf_free(&g->slots[i].record);
        strbuf_free(&g->worker_slots[i].line);
        strbuf_free(&g->worker_slots[i].record);
    }
    for (size_t i = 0; i < g->image_count; i++) {
        strbuf_free(&g->images[i].line);
        strbuf_free(&g->images[i].record);
    }
    free(g->images);
    json_decref(g->quarantine);
    free(g);
}
