/*
 * smart_plugin.h — the C ABI between a SMART node host and its modules.
 *
 * A module is a shared object that exports exactly one symbol:
 *
 *     const smart_plugin *smart_plugin_entry(void);
 *
 * The host dlopen()s it with RTLD_NOW | RTLD_LOCAL, calls the entry, checks the ABI version in
 * the descriptor, and then drives the instance through init / on_event / commit / shutdown, all
 * on the host's libuv loop thread.
 *
 * Versioning. SMART_ABI_MAJOR changes when anything existing changes meaning or layout; the host
 * refuses a module built for another major, and a module built for a newer minor than the host
 * (it may call table entries the host lacks). Within a major, structs only ever grow at the
 * end, and every struct that crosses the boundary starts with `uint32_t struct_size`; a reader
 * tests SMART_HAS(p, field) before it touches a field that a later minor added.
 *
 * Ownership. Nothing allocated on one side is freed on the other, and no heap string crosses
 * the boundary. Pointers passed into a call are borrowed for that call only unless the function
 * says otherwise. Events cross as a topic plus JSON text (never a json_t *), so modules may use
 * any JSON library, or another copy of jansson, without sharing its allocator or layout.
 *
 * JSON text. What a module hands the host as JSON (ledger metadata, alerts, output and posted
 * event data) must be exactly one JSON object, valid UTF-8, with no key twice in any object, of
 * at most SMART_JSON_MAX bytes. The host parses every piece in full before it takes it, since
 * one module's bad byte would otherwise end up in the ledger, the alerts file or the output
 * lines that every reader must parse. Anything else is refused with SMART_EINVAL (the message
 * says why) and nothing of the call is kept.
 *
 * Errors. Every function that can fail returns 0 or a negative SMART_E* code (negated errno
 * values, as libuv does) and, when the caller passed a smart_error, writes a one-line message
 * into it. The smart_error buffer is owned by the caller. A call that fails changes nothing.
 * A module's function that returns any other value (a positive one) has failed: init's module
 * is refused, commit's stops the host, on_event's event is rejected. The outputs, alerts and
 * posted events of an on_event that fails (anything but 0 or SMART_ENOTSUP) are dropped.
 *
 * Threads. Every function here is [loop]: it is called on, and may only be called from, the
 * thread that runs the host's uv_loop_t. The host checks: a smart_host function called from
 * another thread does nothing and returns SMART_EBUSY (now_ms returns SMART_EBUSY, never a time;
 * ledger_seq and ledger_head return UINT64_MAX; log drops the line), and the host names the
 * module on its standard error once. A module with work on threads of its own hands the results
 * to the loop (uv_async_send) and calls the host from there. None may block for long: a call should
 * return in well under a millisecond; disk syncs are batched by the host (see commit). The one
 * exception is the optional pair decode_event / release_decoded (ABI 1.1), marked [any thread]: the
 * host may run them on a worker thread, so that a module's parse of an event's data is done before
 * the loop thread delivers it. They get no instance and must touch no instance state.
 *
 * History. 1.0: the first ABI. 1.1: smart_plugin.decode_event and .release_decoded,
 * smart_event.decoded, smart_host.ledger_seq. 1.2: smart_host.ledger_head and .ledger_hash_at,
 * SMART_ELEDGER (the ledger's end is witnessed by the module's store).
 */
#ifndef SMART_PLUGIN_H
#define SMART_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMART_ABI_MAJOR 1
#define SMART_ABI_MINOR 2

/* The largest JSON text, in bytes, a module may hand the host in one call (see "JSON text"):
 * 1 MiB, as for an input line. */
#define SMART_JSON_MAX 1048576

/* The one symbol a module exports; see smart_plugin_entry below. */
#define SMART_PLUGIN_ENTRY_SYMBOL "smart_plugin_entry"

#if defined(__GNUC__)
#define SMART_EXPORT __attribute__((visibility("default")))
#else
#define SMART_EXPORT
#endif

/* True when the struct at p, as its producer built it, contains `field`. */
#define SMART_HAS(p, field)                                                                        \
    ((p) != NULL &&                                                                                \
     offsetof(__typeof__(*(p)), field) + sizeof((p)->field) <= (size_t)(p)->struct_size)

/* Error codes: 0 is success; failures are negative. */
enum {
    SMART_OK = 0,
    SMART_EIO = -5,          /* a read, write or sync failed: the caller must fail-stop */
    SMART_ENOMEM = -12,      /* out of memory; nothing was changed */
    SMART_EBUSY = -16,       /* not allowed now: e.g. init while shutting down, or on a data_dir
                                another process holds (the message names it and the pid) */
    SMART_EINVAL = -22,      /* bad input: the message names the field and why */
    SMART_ENOTSUP = -95,     /* the module does not handle this topic (not an error of input) */
    SMART_EVERSION = -1001,  /* ABI or library version mismatch */
    SMART_ECONFIG = -1002,   /* bad module configuration */
    SMART_ECONTRACT = -1003, /* a contract was refused */
    /* 1.2: the node's ledger does not hold what the module's store says it committed through:
     * it ends before that record, or holds another record there (records were removed or
     * changed). Returned by init; the host then refuses to start at all (exit 3, as for a
     * broken chain), not just this module. The message names the store (data_dir) and what
     * the ledger holds instead. */
    SMART_ELEDGER = -1004
};

/* 1.2: a ledger record's hash as text: lowercase hex SHA-256, 64 digits. */
#define SMART_LEDGER_HASH_LEN 64

/* A caller-owned message buffer, in the spirit of jansson's json_error_t. The callee writes a
 * NUL-terminated, single-line message into `text` (truncated to fit) and the code it returned
 * into `code`. May be passed as NULL when the caller does not want the message. */
typedef struct smart_error {
    int32_t code;
    char text[512];
} smart_error;

/* Log levels for smart_host.log. */
typedef enum smart_log_level {
    SMART_LOG_ERROR = 0,
    SMART_LOG_WARN = 1,
    SMART_LOG_INFO = 2,
    SMART_LOG_DEBUG = 3
} smart_log_level;

/* One ledger record as a module submits it. The host adds seq, time, node_id, module,
 * prev_hash and hash. All strings are UTF-8 and borrowed for the call; the host copies them.
 * Each, like every topic a module emits or posts, is at most SMART_JSON_MAX bytes: a longer one
 * is refused with SMART_EINVAL and nothing of the call is kept. `metadata_json` is the text of a
 * JSON object (or NULL for {}). */
typedef struct smart_ledger_entry {
    uint32_t struct_size; /* sizeof(smart_ledger_entry) as the module was built */
    const char *action;   /* what happened, dotted lower case: "gate.decision" */
    const char *target;   /* what it happened to: an equipment or ClientPO id */
    const char *details;  /* one human-readable sentence */
    const char *user_id;  /* who did it: a technician, or "system" */
    const char *metadata_json;
} smart_ledger_entry;

/* An input event as the host delivers it. Borrowed for the duration of on_event only. */
typedef struct smart_event {
    uint32_t struct_size;
    const char *topic;     /* "test.start", ...; NUL-terminated */
    const char *data_json; /* the text of the event's "data" JSON object, NUL-terminated: valid
                              JSON on one line, as written in the input (not re-serialised) */
    size_t data_len;       /* strlen(data_json) */
    int64_t time_ms;       /* host clock when the event is delivered (ms since the Unix epoch) */
    const char *source;    /* where it came from, for messages: "events.jsonl:12", "post" */
    /* 1.1: what this module's own decode_event made of this event (its data_json), or NULL
     * when it was not decoded ahead (no decode_event, a posted event, a decode that failed, an
     * event decoded by an image of the module since reloaded). Borrowed for on_event; the host
     * releases it afterwards with release_decoded. A module must handle NULL by decoding the
     * event itself, with the same result. Test SMART_HAS(event, decoded) first. */
    void *decoded;
} smart_event;

typedef struct smart_host smart_host;

/* The table the host hands to each module instance at init. Owned by the host; valid, at the
 * same address, from init until the done callback of shutdown has run. */
struct smart_host {
    uint32_t struct_size; /* sizeof(smart_host) as the host was built */
    uint16_t abi_major;
    uint16_t abi_minor;

    void *host_data;          /* the host's own; modules never touch it */
    uv_loop_t *loop;          /* the host's loop; modules may add handles to it and must close them
                                 all before their shutdown completes */
    const char *node_id;      /* e.g. "NODE-LP-001"; valid as long as the table */
    const char *station_type; /* e.g. "LP" */
    const char *config_dir;   /* directory of the node configuration: modules resolve relative
                                 paths in their config against it */

    /* [loop] The node's clock: milliseconds since the Unix epoch, UTC. Under a simulated clock
     * it moves only when the host advances it, and never backwards. Cannot fail. */
    int64_t (*now_ms)(const smart_host *host);

    /* [loop] Append a record to the node's ledger. The record becomes durable with the batch it
     * belongs to (see commit): the host syncs the ledger before it delivers any output event of
     * that batch. Returns 0, SMART_EINVAL (a required string is NULL, or metadata is not one
     * JSON object, see "JSON text"), or SMART_EIO (the ledger has failed; the module should stop
     * changing state). */
    int (*ledger_append)(const smart_host *host, const smart_ledger_entry *entry, smart_error *err);

    /* [loop] Raise an alert. `alert_json` is the text of a JSON object (the alert, see
     * schemas/alert.schema.json); borrowed for the call. The host writes it to the node's
     * alert channel and delivers it as an output event of topic "alert" once the batch is
     * durable. Returns 0, SMART_EINVAL (see "JSON text") or SMART_EIO. */
    int (*emit_alert)(const smart_host *host, const char *alert_json, size_t len, smart_error *err);

    /* [loop] Emit an output event: `topic` plus the text of its JSON "data" object, both
     * borrowed for the call. Delivered once the batch is durable. Returns 0, SMART_EINVAL (not
     * one JSON object, see "JSON text") or SMART_EIO. */
    int (*emit_event)(const smart_host *host, const char *topic, const char *data_json, size_t len,
                      smart_error *err);

    /* [loop] Queue an input event for this module, delivered through on_event on a later loop
     * turn like any other input (in order, in a batch, durably acknowledged). Used for work a
     * module starts itself, e.g. a periodic sweep from its own timer. Strings are copied.
     * Returns 0, SMART_EINVAL or SMART_ENOMEM. */
    int (*post_event)(const smart_host *host, const char *topic, const char *data_json, size_t len,
                      smart_error *err);

    /* [loop] Write a diagnostic line (not a ledger record) to the host's log. Cannot fail. */
    void (*log)(const smart_host *host, smart_log_level level, const char *message);

    /* [loop] 1.1: the seq of the newest ledger record so far (0 when the ledger is empty),
     * this batch's records included. A module that keeps it with each commit can say, after a
     * restart, up to which record its state is committed: its records after that one describe
     * a batch the host wrote to the ledger but the module never committed (a crash between the
     * two), whose events were not answered. Cannot fail. Test SMART_HAS(host, ledger_seq). */
    uint64_t (*ledger_seq)(const smart_host *host);

    /* [loop] 1.2: the newest ledger record so far, this batch's included: returns its seq (0
     * when the ledger is empty) and writes its hash (SMART_LEDGER_HASH_LEN lowercase hex
     * digits and a NUL; 64 '0' when empty) into `hash`, caller-owned. Called from commit (the
     * host has synced the batch by then), it names the record the module's state is committed
     * through; a module keeps both, and checks them at its next init with ledger_hash_at, so
     * a ledger cut short, deleted or edited between two runs is noticed. Cannot fail (it may
     * wait a moment for the hashes of records just appended). Test SMART_HAS(host,
     * ledger_head). */
    uint64_t (*ledger_head)(const smart_host *host, char hash[SMART_LEDGER_HASH_LEN + 1]);

    /* [loop] 1.2: the hash of ledger record `seq` (>= 1) as written on disk, into `hash`
     * (caller-owned, as above), and the seq of the last record on disk into *last_seq (may be
     * NULL; also set on SMART_ELEDGER). Records of the open batch are not on disk and not
     * looked at. Returns 0; SMART_ELEDGER when the ledger on disk ends before `seq` (err names
     * the ledger and its last record); SMART_EINVAL for seq 0; SMART_EIO when the ledger
     * cannot be read. It reads the file from its end, so it is meant for init, not for every
     * event. Test SMART_HAS(host, ledger_hash_at). */
    int (*ledger_hash_at)(const smart_host *host, uint64_t seq,
                          char hash[SMART_LEDGER_HASH_LEN + 1], uint64_t *last_seq,
                          smart_error *err);
};

/* Called by the module once every handle it owned is closed and its state is flushed. */
typedef void (*smart_shutdown_done)(void *arg);

/* The module's descriptor: static, constant, owned by the module image, valid until dlclose.
 * The host copies what it keeps (name, version) before it unloads the image. */
typedef struct smart_plugin {
    uint32_t struct_size; /* sizeof(smart_plugin) as the module was built */
    uint16_t abi_major;   /* SMART_ABI_MAJOR the module was built against */
    uint16_t abi_minor;   /* SMART_ABI_MINOR the module was built against */
    const char *name;     /* short, stable: "smart-maintenance" (used as the ledger's module) */
    const char *version;  /* the module's own version: "0.1.0" */

    /* [loop] Create an instance. `host` is borrowed until shutdown completes. `config_json` is
     * the text of the module's "config" object from the node configuration, borrowed for the
     * call. On success stores the instance in *self and returns 0. On failure returns a
     * negative code, writes why into err, leaves *self NULL, and owns no handle or resource. */
    int (*init)(const smart_host *host, const char *config_json, size_t config_len, void **self,
                smart_error *err);

    /* [loop] Handle one input event. Returns 0 when handled (its records and outputs emitted),
     * SMART_ENOTSUP when the module does not handle the topic, SMART_EINVAL when the event's
     * data is invalid (err names the field; nothing changed), or SMART_EIO when the module's
     * store failed (the host must fail-stop). The host may deliver several events before it
     * calls commit. */
    int (*on_event)(void *self, const smart_event *event, smart_error *err);

    /* [loop] Make every change since the last commit durable. The host calls it at the end of
     * each batch, after its ledger is synced and before it delivers the batch's outputs, so an
     * output is only seen once what it reports is on disk. Returns 0 or SMART_EIO (fail-stop:
     * the host acknowledges nothing more). */
    int (*commit)(void *self, smart_error *err);

    /* [loop] Begin shutting the instance down: close every handle, flush state. Returns 0 and
     * later calls done(arg) exactly once, from the loop, when nothing of the instance remains
     * and its code will not run again; only then may the host dlclose the image. The instance
     * pointer is invalid from the moment done is called. Never fails. */
    void (*shutdown)(void *self, smart_shutdown_done done, void *arg);

    /* 1.1, optional (NULL: the module decodes in on_event). */

    /* [any thread] Decode an event ahead of its delivery: parse `event->data_json` into what
     * on_event will want, and store it in *decoded (NULL is fine: nothing to decode, e.g. a
     * topic the module does not handle). `event` is borrowed for the call; its time_ms and
     * decoded are 0/NULL (the clock is not known yet). May run on any thread, concurrently
     * with this module's other functions and with other calls of itself, so it must use no
     * instance or global mutable state, only the event. Returns 0, or a negative code (the
     * message in err, if given), in which case *decoded is NULL and nothing is kept: the event
     * is then delivered undecoded and on_event reports what is wrong with it. */
    int (*decode_event)(const smart_event *event, void **decoded, smart_error *err);

    /* [any thread] Free a decoding made by decode_event, whether or not it was delivered. May
     * run after the instance that was to receive it has shut down (the host keeps the image
     * mapped until every decoding it made is released), so it needs nothing but the decoding.
     * Required when decode_event is given. */
    void (*release_decoded)(void *decoded);
} smart_plugin;

/* The entry point. Returns the module's descriptor; never NULL; may be called more than once.
 * Safe to call on any thread: it only returns a pointer to constant data. */
typedef const smart_plugin *(*smart_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* SMART_PLUGIN_H */
