/* fleet_cli.c — `smart-host fleet migrate|register` and `smart-host ledger ship`; see fleet.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/durable_limit.h"
#include "fleet/fleet.h"
#include "output/diag.h"
#include "run/host.h"

static const char FLEET_USAGE[] =
    "usage: smart-host fleet migrate --db URL\n"
    "       smart-host fleet register --db URL --node ID --role ROLE --key PUB\n"
    "       smart-host ledger ship LEDGER --to URL [--node ID] [--batch N] [--wait SECONDS]\n"
    "                                [--through SEQ]\n"
    "(README \"Fleet\"; URL: postgresql://... or a libpq connection string)\n";

static int fleet_usage(const char *message)
{
    host_diag("%s", message);
    fputs(FLEET_USAGE, stderr);
    return HOST_EXIT_USAGE;
}

/* Pick "--name VALUE" pairs out of argv[first..]: `names` and `values` are parallel arrays of
 * `n`; a positional argument goes to *positional (NULL: none allowed). Returns 0 or -1 after
 * reporting. */
static int parse_options(int argc, char **argv, int first, const char *const *names,
                         const char **values, int n, const char **positional)
{
    for (int i = first; i < argc; i++) {
        int k = 0;
        while (k < n && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k < n && i + 1 < argc) {
            values[k] = argv[++i];
        } else if (argv[i][0] != '-' && positional != NULL && *positional == NULL) {
            *positional = argv[i];
        } else {
            char msg[300];
            snprintf(msg, sizeof msg, "unexpected '%.200s'", argv[i]);
            fleet_usage(msg);
            return -1;
        }
    }
    return 0;
}

static char *read_text(const char *path, char *msg, size_t msg_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = calloc(1, 4097);
    size_t n = text ? fread(text, 1, 4096, f) : 0;
    if (text != NULL && (ferror(f) || n == 4096)) {
        snprintf(msg, msg_size, "%s: unreadable or longer than a public key", path);
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

int fleet_command(int argc, char **argv)
{
    char msg[1024] = "";
    if (argc >= 3 && strcmp(argv[2], "migrate") == 0) {
        static const char *const names[] = {"--db"};
        const char *v[1] = {NULL};
        if (parse_options(argc, argv, 3, names, v, 1, NULL) < 0)
            return HOST_EXIT_USAGE;
        if (v[0] == NULL)
            return fleet_usage("fleet migrate needs --db URL");
        int applied, version;
        if (fleet_migrate(v[0], &applied, &version, msg, sizeof msg) < 0) {
            host_diag("fleet migrate: %s", msg);
            return HOST_EXIT_IO;
        }
        printf("fleet schema at version %d (%d migration%s applied now)\n", version, applied,
               applied == 1 ? "" : "s");
        return 0;
    }
    if (argc >= 3 && strcmp(argv[2], "register") == 0) {
        static const char *const names[] = {"--db", "--node", "--role", "--key"};
        const char *v[4] = {NULL, NULL, NULL, NULL};
        if (parse_options(argc, argv, 3, names, v, 4, NULL) < 0)
            return HOST_EXIT_USAGE;
        if (v[0] == NULL || v[1] == NULL || v[2] == NULL || v[3] == NULL)
            return fleet_usage("fleet register needs --db, --node, --role and --key");
        char *key = read_text(v[3], msg, sizeof msg);
        if (key == NULL) {
            host_diag("fleet register: %s", msg);
            return HOST_EXIT_USAGE;
        }
        int rc = fleet_register(v[0], v[1], v[2], key, msg, sizeof msg);
        free(key);
        if (rc < 0) {
            host_diag("fleet register: %s", msg);
            return HOST_EXIT_IO;
        }
        printf("node %s registered, shipping as role %s\n", v[1], v[2]);
        return 0;
    }
    return fleet_usage("expected: smart-host fleet migrate|register ...");
}

int fleet_ship_command(int argc, char **argv)
{
    static const char *const names[] = {"--to", "--node", "--batch", "--wait", "--through"};
    const char *v[5] = {NULL, NULL, NULL, NULL, NULL};
    const char *ledger_path = NULL;
    if (parse_options(argc, argv, 3, names, v, 5, &ledger_path) < 0)
        return HOST_EXIT_USAGE;
    if (ledger_path == NULL || v[0] == NULL)
        return fleet_usage("ledger ship needs LEDGER and --to URL");
    fleet_ship_options o = {
        .ledger_path = ledger_path, .url = v[0], .node_id = v[1], .batch = 1000, .wait_ms = 30000};
    char *end;
    if (v[2] != NULL) {
        unsigned long b = strtoul(v[2], &end, 10);
        if (*end != '\0' || b == 0 || b > 1000000)
            return fleet_usage("--batch takes a number of records, 1 to 1000000");
        o.batch = b;
    }
    if (v[3] != NULL) {
        long w = strtol(v[3], &end, 10);
        if (*end != '\0' || w < 0 || w > 86400)
            return fleet_usage("--wait takes seconds, 0 to 86400");
        o.wait_ms = (int)w * 1000;
    }
    if (v[4] != NULL) {
        unsigned long long t = strtoull(v[4], &end, 10);
        if (*end != '\0' || t == 0 || v[4][0] == '-')
            return fleet_usage("--through takes a record seq, 1 or more");
        o.through = t;
    }
    char msg[1024] = "";
    /* Only what is durable on the station: a running host's last batch may not be yet. */
    fleet_durable durable;
    int rc = fleet_durable_find(ledger_path, &durable, msg, sizeof msg);
    if (rc < 0) {
        host_diag("ledger ship %s: %s", ledger_path, msg);
        return HOST_EXIT_IO;
    }
    printf("durable: %s\n", durable.why);
    o.has_byte_limit = true;
    o.byte_limit = durable.bytes;
    fleet_ship_result r;
    rc = fleet_ship(&o, &r, msg, sizeof msg);
    if (rc == 0 || rc == FLEET_EREFUSED || rc == FLEET_EAHEAD) {
        printf("shipped node %s: head seq %" PRIu64 " hash %s (%" PRIu64 " stored now, %" PRIu64
               " reconnects)\n",
               r.node_id, r.head_seq, r.head_hash, r.stored, r.reconnects);
        /* Whether it went on from the side file or read the ledger from its first line. */
        if (r.scans == 0 && r.from_seq == 0)
            printf("the database held no record of the node: shipped from the first\n");
        else if (r.scans == 0)
            printf("went on from seq %" PRIu64 " (%s.shipped, checked against the database's "
                   "head)\n",
                   r.from_seq, ledger_path);
        else
            printf("read the ledger from its first line to find the database's head\n");
    }
    if (rc == 0)
        return 0;
    host_diag("ledger ship %s: %s", ledger_path, msg);
    return rc == FLEET_EREFUSED || rc == FLEET_EAHEAD ? HOST_EXIT_VERIFY_FAILED
           : rc == -EACCES                            ? HOST_EXIT_USAGE
                                                      : HOST_EXIT_IO;
}
