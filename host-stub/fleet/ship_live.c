/* ship_live.c — the host's continuous shipping on a thread of its own; see ship_live.h. */
#include "fleet/ship_live.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet.h"
#include "output/diag.h"
#include "util/host_thread.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000
/* At a stop, the last round may take this long; then its waits on the database are given up
 * (fleet_shipper_interrupt): a database that hangs never holds the host's stop. What it did not
 * ship is shipped by the next run. */
#define STOP_GRACE_MS 2000

struct ship_live {
    char *ledger_path, *url, *node_id;
    fleet_ship_options options; /* borrows the strings above */
    fleet_shipper *shipper;     /* the thread's only */
    char display[512];          /* url without a password */
    ship_live_report report;
    void *report_arg;
    uv_async_t async; /* the thread's landings, to the loop thread */
    bool async_ready;
    bool closed;
    host_thread t;
    bool thread_ready;
    /* Under t.lock: */
    uint64_t durable; /* the ledger is durable through this seq */
    bool landed_pending;
    bool finished; /* run has returned (or is about to) */
    uint64_t landed_seq, landed_stored;
    char landed_hash[LEDGER_HASH_HEX_LEN + 1];
};

/* On the shipping thread, inside a round: keep the landing for the loop thread. */
static void on_landed(void *arg, const fleet_ship_result *r)
{
    ship_live *s = arg;
    uv_mutex_lock(&s->t.lock);
    s->landed_pending = true;
    s->landed_seq = r->head_seq;
    s->landed_stored = r->stored;
    memcpy(s->landed_hash, r->head_hash, sizeof s->landed_hash);
    uv_mutex_unlock(&s->t.lock);
    uv_async_send(&s->async);
}

/* On the loop thread: the newest landing as a ledger.shipped event (landings between two
 * wake-ups are one event: the newest head says all of them). */
static void deliver(ship_live *s, bool use_lock)
{
    if (use_lock) /* not once the thread has ended (ship_live_close): the lock is gone */
        uv_mutex_lock(&s->t.lock);
    bool pending = s->landed_pending;
    uint64_t seq = s->landed_seq, stored = s->landed_stored;
    char hash[LEDGER_HASH_HEX_LEN + 1];
    memcpy(hash, s->landed_hash, sizeof hash);
    s->landed_pending = false;
    if (use_lock)
        uv_mutex_unlock(&s->t.lock);
    if (!pending)
        return;
    json_t *e =
        json_pack("{s:s, s:I, s:s, s:s, s:I}", "node_id", s->node_id, "seq", (json_int_t)seq,
                  "hash", hash, "to", s->display, "stored", (json_int_t)stored);
    char *text = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(e);
    if (text == NULL) {
        host_diag("ship: out of memory reporting ledger.shipped through seq %" PRIu64, seq);
        return;
    }
    s->report(s->report_arg, text, strlen(text));
    free(text);
}

static void on_async(uv_async_t *async)
{
    ship_live *s = async->data;
    deliver(s, s->thread_ready);
}

/* Wait, holding the lock, `ms` or until stopping. */
static void backoff_wait(ship_live *s, int ms)
{
    uint64_t until = uv_hrtime() + (uint64_t)ms * 1000000ULL;
    for (;;) {
        uint64_t now = uv_hrtime();
        if (s->t.stopping || now >= until)
            return;
        uv_cond_timedwait(&s->t.changed, &s->t.lock, until - now);
    }
}

static void run(void *arg)
{
    ship_live *s = arg;
    uint64_t done = 0; /* every record through this seq is shipped, or waits on the ledger */
    bool failing = false, ahead_said = false;
    int backoff = 0;
    char msg[1024];
    uv_mutex_lock(&s->t.lock);
    for (;;) {
        while (!s->t.stopping && s->durable <= done)
            uv_cond_wait(&s->t.changed, &s->t.lock);
        bool last = s->t.stopping;
        /* At a stop, one more round only to a database that answered the last one. */
        if (last && (failing || s->durable <= done))
            break;
        uint64_t max = s->durable;
        uv_mutex_unlock(&s->t.lock);
        int rc = fleet_shipper_round(s->shipper, max, NULL, msg, sizeof msg);
        bool retry = rc != 0 && fleet_shipper_retryable(s->shipper);
        uv_mutex_lock(&s->t.lock);
        bool stopped = s->t.stopping; /* a round given up by the stop is not retried */
        uv_mutex_unlock(&s->t.lock);
        if (rc == 0 && failing)
            host_diag("ship: %s reachable again; shipping goes on", s->display);
        else if (rc == FLEET_EAHEAD && !ahead_said)
            host_diag("ship: %s; shipping goes on as the ledger grows", msg);
        else if (retry && stopped)
            host_diag("ship: %s; what it did not ship goes with the next run", msg);
        else if (retry && !failing)
            host_diag("ship: %s; retrying with back-off, the station works on", msg);
        else if (rc != 0 && !retry && rc != FLEET_EAHEAD)
            host_diag("ship: %s; shipping stopped for this run, the station works on", msg);
        uv_mutex_lock(&s->t.lock);
        if (rc == 0 || rc == FLEET_EAHEAD) {
            done = max;
            failing = false;
            backoff = 0;
            ahead_said = ahead_said || rc == FLEET_EAHEAD;
        } else if (retry) {
            failing = true;
            backoff = backoff == 0                   ? BACKOFF_FIRST_MS
                      : backoff < BACKOFF_MAX_MS / 2 ? backoff * 2
                                                     : BACKOFF_MAX_MS;
            if (!last)
                backoff_wait(s, backoff);
        } else {
            break; /* refused: the database raised its alert; nothing more this run */
        }
        if (last)
            break;
    }
    s->finished = true;
    uv_cond_broadcast(&s->t.changed);
    uv_mutex_unlock(&s->t.lock);
}

int ship_live_start(uv_loop_t *loop, const char *ledger_path, const char *url, const char *node_id,
                    ship_live_report report, void *arg, ship_live **out, char *msg, size_t msg_size)
{
    *out = NULL;
    ship_live *s = calloc(1, sizeof *s);
    if (s == NULL || (s->ledger_path = strdup(ledger_path)) == NULL ||
        (s->url = strdup(url)) == NULL || (s->node_id = strdup(node_id)) == NULL) {
        snprintf(msg, msg_size, "ship: out of memory");
        ship_live_free(s);
        return -ENOMEM;
    }
    s->options = (fleet_ship_options){.ledger_path = s->ledger_path,
                                      .url = s->url,
                                      .node_id = s->node_id,
                                      .batch = 1000,
                                      .landed = on_landed,
                                      .landed_arg = s};
    fleet_url_display(url, s->display, sizeof s->display);
    s->report = report;
    s->report_arg = arg;
    int rc = fleet_shipper_new(&s->options, &s->shipper);
    if (rc == 0 && (rc = uv_async_init(loop, &s->async, on_async)) == 0) {
        s->async_ready = true;
        s->async.data = s;
        uv_unref((uv_handle_t *)&s->async); /* it must not keep the loop alive */
        rc = host_thread_start(&s->t, run, s);
        s->thread_ready = rc == 0;
    }
    if (rc < 0) {
        snprintf(msg, msg_size, "ship: cannot start the shipper: %s",
                 rc == -ENOMEM ? "out of memory" : uv_strerror(rc));
        if (s->async_ready) { /* closed as the loop runs; freed after it (ship_live_free) */
            s->closed = true;
            uv_close((uv_handle_t *)&s->async, NULL);
            *out = s;
        } else {
            ship_live_free(s);
        }
        return rc;
    }
    *out = s;
    return 0;
}

void ship_live_durable(ship_live *s, uint64_t seq)
{
    if (s == NULL || !s->thread_ready)
        return;
    uv_mutex_lock(&s->t.lock);
    if (seq > s->durable) {
        s->durable = seq;
        uv_cond_broadcast(&s->t.changed);
    }
    uv_mutex_unlock(&s->t.lock);
}

void ship_live_close(ship_live *s)
{
    if (s == NULL || s->closed)
        return;
    s->closed = true;
    if (s->thread_ready) {
        /* Its last round, if any, runs before it ends, for STOP_GRACE_MS at most. */
        uv_mutex_lock(&s->t.lock);
        s->t.stopping = true; /* as host_thread_stop sets it, to time the last round first */
        uv_cond_broadcast(&s->t.changed);
        uint64_t until = uv_hrtime() + (uint64_t)STOP_GRACE_MS * 1000000ULL;
        for (uint64_t now; !s->finished && (now = uv_hrtime()) < until;)
            (void)uv_cond_timedwait(&s->t.changed, &s->t.lock, until - now);
        bool late = !s->finished;
        uv_mutex_unlock(&s->t.lock);
        if (late)
            fleet_shipper_interrupt(s->shipper);
        host_thread_stop(&s->t);
        s->thread_ready = false;
        deliver(s, false);
    }
    if (s->async_ready)
        uv_close((uv_handle_t *)&s->async, NULL);
}

void ship_live_free(ship_live *s)
{
    if (s == NULL)
        return;
    fleet_shipper_free(s->shipper);
    free(s->ledger_path);
    free(s->url);
    free(s->node_id);
    free(s);
}
