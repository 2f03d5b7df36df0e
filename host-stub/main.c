/*
 * main.c — the smart-host command line: parse arguments, then hand over to host_run or the
 * ledger verifier. No behaviour lives here beyond argument handling.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fleet/fleet.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/ledger_audit.h"
#include "output/diag.h"
#include "report/report.h"
#include "run/clock.h"
#include "run/host.h"

static const char USAGE[] =
    "usage: smart-host run NODE.json [--events FILE|-] [--clock TIME]\n"
    "       smart-host ledger verify LEDGER [--key PUB [--checkpoints FILE]]\n"
    "       smart-host ledger ship LEDGER --to URL [--node ID] [--batch N] [--wait SECONDS]\n"
    "       smart-host fleet migrate|register --db URL ... (README \"Fleet\")\n"
    "       smart-host keygen DIR\n"
    "       smart-host report KIND LEDGER [--from DATE] [--to DATE] [--equipment ID]\n"
    "                         [--format html|csv|json] [--out FILE] (README \"Reports\")\n"
    "\n"
    "  run            load the modules NODE.json names and feed them events, one JSON\n"
    "                 object a line, from FILE or standard input (default, or '-');\n"
    "                 the events the modules emit are printed one JSON line each\n"
    "  --clock TIME   start a simulated clock at TIME (RFC 3339); events' \"time\" moves it\n"
    "  ledger verify  check the ledger's hash chain; names the first bad record\n"
    "  --key PUB      also check every signed checkpoint in it with the node's public key\n"
    "  --checkpoints FILE  and those of the exported checkpoints file (LEDGER.checkpoints)\n"
    "  ledger ship    store the ledger's records not yet in the fleet database (exit 1: refused)\n"
    "  keygen DIR     write a node key pair for signing_key: DIR/node.key (mode 0600) and\n"
    "                 DIR/node.pub, in minisign's formats\n"
    "\n"
    "environment: SMART_MODULE_PATH  directories searched for modules named without '/'\n"
    "             SMART_HOST_LOG     module log level: error, warning (default), info, debug\n"
    "             SMART_HOST_SHUTDOWN_MS  how long a module's shutdown may take (default 10000)\n"
    "             SMART_HOST_WATCHDOG_WARN_MS, _LIMIT_MS  a module call reported past the first\n"
    "                                (default 1000), the host ended past the second (60000)\n"
    "exit status: 0 ok, 1 ledger verify failed, 2 usage or configuration error,\n"
    "             3 ledger broken at start, 4 I/O failure, 5 module refused,\n"
    "             6 another process runs this station (holds LEDGER.lock),\n"
    "             7 a module broke the shutdown contract (no done in time, handles left),\n"
    "             8 the watchdog ended the host: module code (a call, its decode_event\n"
    "               on the parse-ahead thread, a callback of its own timer or handle) ran\n"
    "               past SMART_HOST_WATCHDOG_LIMIT_MS, or held the loop 2 s past a SIGINT/\n"
    "               SIGTERM, or the host was still running well after a stop signal\n";

static int usage_error(const char *message)
{
    if (message != NULL)
        host_diag("%s", message);
    fputs(USAGE, stderr);
    return HOST_EXIT_USAGE;
}

static smart_log_level log_level_from_env(void)
{
    const char *value = getenv("SMART_HOST_LOG");
    if (value == NULL)
        return SMART_LOG_WARN;
    if (strcmp(value, "error") == 0)
        return SMART_LOG_ERROR;
    if (strcmp(value, "info") == 0)
        return SMART_LOG_INFO;
    if (strcmp(value, "debug") == 0)
        return SMART_LOG_DEBUG;
    return SMART_LOG_WARN;
}

/* The last shipped position (fleet.h: "<ledger>.shipped", kept by the shipper), or none. */
static void print_shipped(const char *path, uint64_t records)
{
    fleet_shipped_mark m;
    char why[PATH_MAX + 100];
    int rc = fleet_shipped_read(path, &m, why, sizeof why);
    if (rc == -ENOENT) {
        printf("last shipped: none (no %s.shipped)\n", path);
        return;
    }
    if (rc < 0) {
        printf("last shipped: unknown (%s)\n", why);
        return;
    }
    printf("last shipped: seq %" PRIu64 " hash %s to %s at %s; ", m.position.seq, m.position.hash,
           m.to, m.shipped_at);
    if (m.position.seq > records)
        printf("beyond this ledger's last record (seq %" PRIu64 "): the database holds records "
               "it lacks\n",
               records);
    else
        printf("%" PRIu64 " record%s after it not yet shipped\n", records - m.position.seq,
               records - m.position.seq == 1 ? "" : "s");
}

static int command_verify(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "verify") != 0)
        return usage_error("expected: smart-host ledger verify LEDGER [--key PUB [--checkpoints "
                           "FILE]]");
    const char *path = NULL, *key_path = NULL, *checkpoints = NULL;
    for (int i = 3; i < argc; i++) {
        if ((strcmp(argv[i], "--key") == 0 || strcmp(argv[i], "--checkpoints") == 0) &&
            i + 1 < argc) {
            *(argv[i][2] == 'k' ? &key_path : &checkpoints) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' || path != NULL) {
            char msg[300];
            snprintf(msg, sizeof msg, "ledger verify: unexpected '%.200s'", argv[i]);
            return usage_error(msg);
        } else {
            path = argv[i];
        }
    }
    if (path == NULL)
        return usage_error("ledger verify needs LEDGER");
    if (checkpoints != NULL && key_path == NULL)
        return usage_error("--checkpoints needs --key (the node's public key)");
    char msg[1024];
    msig_public_key key;
    if (key_path != NULL) {
        smart_error err = {0, ""};
        if (msig_init(&err) < 0 || msig_public_key_load(key_path, &key, &err) < 0) {
            host_diag("--key: %s", err.text);
            return HOST_EXIT_USAGE;
        }
    }
    ledger_audit_result result;
    if (ledger_audit(path, key_path ? &key : NULL, checkpoints, &result, msg, sizeof msg) < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_USAGE;
    }
    if (!result.ok && result.chain_broken) {
        host_diag("%s", result.why);
        return HOST_EXIT_VERIFY_FAILED;
    }
    if (!result.ok) {
        host_diag("ledger %s: FAILED at seq %" PRIu64 ": %s", path, result.bad_seq, result.why);
        return HOST_EXIT_VERIFY_FAILED;
    }
    if (key_path == NULL) {
        printf("ledger ok: %" PRIu64 " records, head %s\n", result.records, result.head_hash);
        printf("unanchored: no --key, so only the chain was checked; whoever can write the file "
               "can rewrite it and recompute every hash\n");
    } else {
        printf("ok: %" PRIu64 " records; last signed checkpoint at seq %" PRIu64 "; %" PRIu64
               " records after it not yet signed (%" PRIu64 " checkpoints in the ledger",
               result.records, result.last_signed_seq, result.unsigned_after, result.checkpoints);
        if (checkpoints != NULL)
            printf(", %" PRIu64 " in %s)\n", result.file_checkpoints, checkpoints);
        else
            printf("; no checkpoints file checked)\n");
    }
    print_shipped(path, result.records);
    return fflush(stdout) == 0 ? HOST_EXIT_OK : HOST_EXIT_IO;
}

static int command_keygen(int argc, char **argv)
{
    if (argc != 3)
        return usage_error("expected: smart-host keygen DIR");
    char key_id[MSIG_KEY_ID_TEXT_LEN + 1], msg[1024];
    if (checkpoint_keygen(argv[2], key_id, msg, sizeof msg) < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_IO;
    }
    printf("key %s: secret key %s/node.key (for signing_key), public key %s/node.pub\n", key_id,
           argv[2], argv[2]);
    return fflush(stdout) == 0 ? HOST_EXIT_OK : HOST_EXIT_IO;
}

/* A duration in ms from the environment variable `name`, or `fallback` when it is unset.
 * Returns 0, or -1 after reporting a bad value. */
static int ms_from_env(const char *name, uint64_t fallback, uint64_t *out)
{
    *out = fallback;
    const char *text = getenv(name);
    if (text == NULL || text[0] == '\0')
        return 0;
    char *end;
    errno = 0;
    unsigned long long ms = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || text[0] == '-' || ms == 0 || ms > 86400000) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: a whole number of ms, 1 to 86400000", name);
        usage_error(msg);
        return -1;
    }
    *out = ms;
    return 0;
}

static int command_run(int argc, char **argv)
{
    host_options options = {.log_level = log_level_from_env()};
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        if (strcmp(arg, "--events") == 0 || strcmp(arg, "--clock") == 0) {
            if (i + 1 >= argc) {
                char msg[64];
                snprintf(msg, sizeof msg, "%s needs a value", arg);
                return usage_error(msg);
            }
            value = argv[++i];
        } else if (strncmp(arg, "--events=", 9) == 0 || strncmp(arg, "--clock=", 8) == 0) {
            value = strchr(arg, '=') + 1;
        }
        if (value != NULL && strncmp(arg, "--events", 8) == 0) {
            options.events_path = value;
        } else if (value != NULL) {
            char why[256];
            if (rfc3339_parse(value, &options.clock_start_ms, why, sizeof why) < 0) {
                host_diag("--clock: %s", why);
                return HOST_EXIT_USAGE;
            }
            options.simulated_clock = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            char msg[300];
            snprintf(msg, sizeof msg, "unknown option '%.200s'", arg);
            return usage_error(msg);
        } else if (options.config_path == NULL) {
            options.config_path = arg;
        } else {
            return usage_error("run takes one NODE.json");
        }
    }
    if (options.config_path == NULL)
        return usage_error("run needs NODE.json");
    options.module_search_path = getenv("SMART_MODULE_PATH");
    if (ms_from_env("SMART_HOST_SHUTDOWN_MS", 10000, &options.shutdown_timeout_ms) < 0 ||
        ms_from_env("SMART_HOST_WATCHDOG_WARN_MS", 1000, &options.watchdog_warn_ms) < 0 ||
        ms_from_env("SMART_HOST_WATCHDOG_LIMIT_MS", 60000, &options.watchdog_limit_ms) < 0)
        return HOST_EXIT_USAGE;
    char exe[PATH_MAX];
    size_t exe_len = sizeof exe;
    /* Beside a smart-host in a build tree, its ../plugin; an installed one, the directory
     * `meson install` puts modules in. */
    char fallback[2 * PATH_MAX + 16];
    if (uv_exepath(exe, &exe_len) == 0)
        snprintf(fallback, sizeof fallback, "%s/../plugin:%s", dirname(exe), SMART_MODULE_DIR);
    else
        snprintf(fallback, sizeof fallback, "%s", SMART_MODULE_DIR);
    options.fallback_module_dir = fallback;
    return host_run(&options);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, stdout);
        return HOST_EXIT_OK;
    }
    /* A closed stdout must surface as a write error (fail-stop), not kill us mid-batch. */
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[1], "run") == 0)
        return command_run(argc, argv);
    if (strcmp(argv[1], "ledger") == 0 && argc >= 3 && strcmp(argv[2], "ship") == 0)
        return fleet_ship_command(argc, argv);
    if (strcmp(argv[1], "fleet") == 0)
        return fleet_command(argc, argv);
    if (strcmp(argv[1], "ledger") == 0)
        return command_verify(argc, argv);
    if (strcmp(argv[1], "keygen") == 0)
        return command_keygen(argc, argv);
    if (strcmp(argv[1], "report") == 0)
        return report_command(argc, argv);
    char msg[300];
    snprintf(msg, sizeof msg, "unknown command '%.200s'", argv[1]);
    return usage_error(msg);
}
