/* node_config.c — NODE.json parsing and validation; see node_config.h. */
#include "config/node_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fetch a required, non-empty string member. Returns its value or NULL with msg set. */
static const char *require_string(json_t *object, const char *key, const char *label,
                                  const char *field, char *msg, size_t msg_size)
{
    json_t *value = json_object_get(object, key);
    if (value == NULL) {
        snprintf(msg, msg_size, "%s: %s: missing", label, field);
        return NULL;
    }
    if (!json_is_string(value)) {
        snprintf(msg, msg_size, "%s: %s: must be a string", label, field);
        return NULL;
    }
    if (json_string_length(value) == 0 || strlen(json_string_value(value)) == 0) {
        snprintf(msg, msg_size, "%s: %s: must not be empty", label, field);
        return NULL;
    }
    return json_string_value(value);
}

/* Refuse keys other than `allowed` (NULL-terminated); `prefix` qualifies the field name. */
static int reject_unknown_keys(json_t *object, const char *const *allowed, const char *label,
                               const char *prefix, char *msg, size_t msg_size)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        bool known = false;
        for (const char *const *a = allowed; *a != NULL; a++)
            known = known || strcmp(key, *a) == 0;
        if (!known) {
            snprintf(msg, msg_size, "%s: %s%s: unknown key", label, prefix, key);
            return -EINVAL;
        }
    }
    return 0;
}

/* Resolve `path` against `dir` unless it is absolute. Returns a new string or NULL. */
static char *resolve_path(const char *dir, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char *joined = NULL;
    if (asprintf(&joined, "%s/%s", dir, path) < 0)
        return NULL;
    return joined;
}

static int parse_module(json_t *entry, size_t index, const char *label, const char *config_dir,
                        node_module_config *out, char *msg, size_t msg_size)
{
    char field[64];
    snprintf(field, sizeof field, "modules[%zu]", index);
    if (!json_is_object(entry)) {
        snprintf(msg, msg_size, "%s: %s: must be an object", label, field);
        return -EINVAL;
    }
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.", field);
    static const char *const allowed[] = {"path", "config", NULL};
    if (reject_unknown_keys(entry, allowed, label, prefix, msg, msg_size) < 0)
        return -EINVAL;
    char path_field[96];
    snprintf(path_field, sizeof path_field, "%spath", prefix);
    const char *path = require_string(entry, "path", label, path_field, msg, msg_size);
    if (path == NULL)
        return -EINVAL;
    json_t *config = json_object_get(entry, "config");
    if (config != NULL && !json_is_object(config)) {
        snprintf(msg, msg_size, "%s: %sconfig: must be an object", label, prefix);
        return -EINVAL;
    }
    out->path = strchr(path, '/') ? resolve_path(config_dir, path) : strdup(path);
    if (config != NULL) {
        out->config_json = json_dumps(config, JSON_COMPACT);
    } else {
        out->config_json = strdup("{}");
    }
    if (out->path == NULL || out->config_json == NULL) {
        snprintf(msg, msg_size, "%s: out of memory", label);
        return -ENOMEM;
    }
    out->config_len = strlen(out->config_json);
    return 0;
}

/* Whether `host` (an address literal or "localhost") is a loopback address; *valid says whether
 * it is one of those at all. */
static bool loopback_host(const char *host, bool *valid)
{
    unsigned char addr[16];
    *valid = true;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, addr) == 1)
        return addr[0] == 127;
    if (inet_pton(AF_INET6, host, addr) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        return memcmp(addr, one, 16) == 0;
    }
    *valid = false;
    return false;
}

/* "ship": {"to": "postgresql://..."} (node_config.h): a libpq URI, checked by libpq's own
 * parser so that what is accepted here is what the shipper can connect with. */
static int parse_ship(json_t *d, const char *label, node_config *c, char *msg, size_t msg_size)
{
    if (!json_is_object(d)) {
        snprintf(msg, msg_size, "%s: ship: must be an object", label);
        return -EINVAL;
    }
    static const char *const allowed[] = {"to", NULL};
    if (reject_unknown_keys(d, allowed, label, "ship.", msg, msg_size) < 0)
        return -EINVAL;
    const char *to = require_string(d, "to", label, "ship.to", msg, msg_size);
    if (to == NULL)
        return -EINVAL;
    if (strncmp(to, "postgresql://", 13) != 0 && strncmp(to, "postgres://", 11) != 0) {
        snprintf(msg, msg_size, "%s: ship.to: must be a postgresql:// URI", label);
        return -EINVAL;
    }
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(to, &err);
    if (opts == NULL) {
        size_t n = err ? strcspn(err, "\n") : 0;
        snprintf(msg, msg_size, "%s: ship.to: not a connection URI: %.*s", label, (int)n,
                 err ? err : "out of memory");
        PQfreemem(err);
        return -EINVAL;
    }
    PQconninfoFree(opts);
    c->ship_to = strdup(to);
    if (c->ship_to == NULL) {
        snprintf(msg, msg_size, "%s: out of memory", label);
        return -ENOMEM;
    }
    return 0;
}

/* "dashboard": {"listen": "HOST:PORT", "token"?: TOKEN} (node_config.h). */
static int parse_dashboard(json_t *d, const char *label, node_config *c, char *msg, size_t msg_size)
{
    if (!json_is_object(d)) {
        snprintf(msg, msg_size, "%s: dashboard: must be an object", label);
        return -EINVAL;
    }
    static const char *const allowed[] = {"listen", "token", NULL};
    if (reject_unknown_keys(d, allowed, label, "dashboard.", msg, msg_size) < 0)
        return -EINVAL;
    const char *listen = require_string(d, "listen", label, "dashboard.listen", msg, msg_size);
    if (listen == NULL)
        return -EINVAL;
    const char *token = NULL;
    if (json_object_get(d, "token") != NULL &&
        (token = require_string(d, "token", label, "dashboard.token", msg, msg_size)) == NULL)
        return -EINVAL;
    /* A token travels in a header line: printable ASCII without spaces keeps it one token. */
    for (const char *t = token; t != NULL && *t != '\0'; t++) {
        if (*t <= ' ' || *t > '~') {
            snprintf(msg, msg_size, "%s: dashboard.token: must be printable ASCII without spaces",
                     label);
            return -EINVAL;
        }
    }
    char host[64];
    const char *colon = strrchr(listen, ':');
    size_t host_len = colon ? (size_t)(colon - listen) : 0;
    const char *host_start = listen;
    if (host_len >= 2 && listen[0] == '[' && listen[host_len - 1] == ']') {
        host_start++;
        host_len -= 2;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || host_len == 0 || host_len >= sizeof host || colon[1] == '\0' ||
        *end != '\0' || port < 0 || port > 65535) {
        snprintf(msg, msg_size,
                 "%s: dashboard.listen: '%s' is not HOST:PORT (e.g. \"127.0.0.1:8088\")", label,
                 listen);
        return -EINVAL;
    }
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    bool valid;
    bool loopback = loopback_host(host, &valid);
    if (!valid) {
        snprintf(msg, msg_size, "%s: dashboard.listen: '%s' is not an IP address or \"localhost\"",
                 label, host);
        return -EINVAL;
    }
    /* Safe by default: off the machine only behind a token. */
    if (!loopback && token == NULL) {
        snprintf(msg, msg_size,
                 "%s: dashboard.token: required when dashboard.listen ('%s') is not a loopback "
                 "address; refusing to serve the board unauthenticated",
                 label, listen);
        return -EINVAL;
    }
    c->dashboard_port = (int)port;
    c->dashboard_host = strdup(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
    if (c->dashboard_host == NULL ||
        (token != NULL && (c->dashboard_token = strdup(token)) == NULL)) {
        snprintf(msg, msg_size, "%s: out of memory", label);
        return -ENOMEM;
    }
    return 0;
}

static int parse_root(json_t *root, const char *label, const char *config_dir, node_config *c,
                      char *msg, size_t msg_size)
{
    if (!json_is_object(root)) {
        snprintf(msg, msg_size, "%s: the configuration must be a JSON object", label);
        return -EINVAL;
    }
    static const char *const allowed[] = {
        "node_id",     "station_type",          "ledger",    "alerts", "modules",
        "signing_key", "checkpoint_interval_s", "dashboard", "ship",   NULL};
    if (reject_unknown_keys(root, allowed, label, "", msg, msg_size) < 0)
        return -EINVAL;
    const char *node_id = require_string(root, "node_id", label, "node_id", msg, msg_size);
    if (node_id == NULL)
        return -EINVAL;
    const char *station =
        require_string(root, "station_type", label, "station_type", msg, msg_size);
    if (station == NULL)
        return -EINVAL;
    const char *ledger = require_string(root, "ledger", label, "ledger", msg, msg_size);
    if (ledger == NULL)
        return -EINVAL;
    const char *alerts = require_string(root, "alerts", label, "alerts", msg, msg_size);
    if (alerts == NULL)
        return -EINVAL;
    json_t *modules = json_object_get(root, "modules");
    if (modules == NULL) {
        snprintf(msg, msg_size, "%s: modules: missing", label);
        return -EINVAL;
    }
    if (!json_is_array(modules)) {
        snprintf(msg, msg_size, "%s: modules: must be an array", label);
        return -EINVAL;
    }
    json_t *signing = json_object_get(root, "signing_key");
    const char *signing_key = NULL;
    if (signing != NULL && (signing_key = require_string(root, "signing_key", label, "signing_key",
                                                         msg, msg_size)) == NULL)
        return -EINVAL;
    c->checkpoint_interval_ms = 60000;
    json_t *interval = json_object_get(root, "checkpoint_interval_s");
    if (interval != NULL) {
        /* At least one second; at most a day, beyond which "at least every" means little. */
        if (!json_is_integer(interval) || json_integer_value(interval) < 1 ||
            json_integer_value(interval) > 86400) {
            snprintf(msg, msg_size, "%s: checkpoint_interval_s: must be an integer, 1 to 86400",
                     label);
            return -EINVAL;
        }
        if (signing_key == NULL) {
            snprintf(msg, msg_size, "%s: checkpoint_interval_s: needs signing_key", label);
            return -EINVAL;
        }
        c->checkpoint_interval_ms = json_integer_value(interval) * 1000;
    }
    if (signing_key != NULL &&
        (c->signing_key_path = resolve_path(config_dir, signing_key)) == NULL) {
        snprintf(msg, msg_size, "%s: out of memory", label);
        return -ENOMEM;
    }
    json_t *dashboard = json_object_get(root, "dashboard");
    if (dashboard != NULL) {
        int rc = parse_dashboard(dashboard, label, c, msg, msg_size);
        if (rc < 0)
            return rc;
    }
    json_t *ship = json_object_get(root, "ship");
    if (ship != NULL) {
        int rc = parse_ship(ship, label, c, msg, msg_size);
        if (rc < 0)
            return rc;
    }
    c->node_id = strdup(node_id);
    c->station_type = strdup(station);
    c->ledger_path = resolve_path(config_dir, ledger);
    c->alerts_path = resolve_path(config_dir, alerts);
    c->config_dir = strdup(config_dir);
    size_t count = json_array_size(modules);
    c->modules = calloc(count ? count : 1, sizeof *c->modules);
    if (!c->node_id || !c->station_type || !c->ledger_path || !c->alerts_path || !c->config_dir ||
        !c->modules) {
        snprintf(msg, msg_size, "%s: out of memory", label);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        int rc = parse_module(json_array_get(modules, i), i, label, config_dir, &c->modules[i], msg,
                              msg_size);
        c->module_count = i + 1; /* so node_config_free releases a partly filled entry */
        if (rc < 0)
            return rc;
    }
    return 0;
}

int node_config_parse(const char *text, size_t len, const char *file_label, const char *config_dir,
                      node_config **out, char *msg, size_t msg_size)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(msg, msg_size, "%s: line %d column %d: %s", file_label, jerr.line, jerr.column,
                 jerr.text);
        return -EINVAL;
    }
    node_config *c = calloc(1, sizeof *c);
    int rc = -ENOMEM;
    if (c == NULL || (c->file_path = strdup(file_label)) == NULL)
        snprintf(msg, msg_size, "%s: out of memory", file_label);
    else
        rc = parse_root(root, file_label, config_dir, c, msg, msg_size);
    json_decref(root);
    if (rc < 0) {
        node_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int node_config_load(const char *path, node_config **out, char *msg, size_t msg_size)
{
    *out = NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            char *grown = realloc(text, cap);
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            text = grown;
        }
        size_t n = fread(text + len, 1, cap - len, file);
        len += n;
        if (n == 0) {
            if (ferror(file))
                rc = -EIO;
            break;
        }
    }
    fclose(file);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot read: %s", path, strerror(-rc));
        free(text);
        return rc;
    }
    char dir_copy[PATH_MAX];
    char absolute_dir[PATH_MAX];
    snprintf(dir_copy, sizeof dir_copy, "%s", path);
    if (realpath(dirname(dir_copy), absolute_dir) == NULL) {
        rc = -errno;
        snprintf(msg, msg_size, "%s: cannot resolve its directory: %s", path, strerror(errno));
        free(text);
        return rc;
    }
    rc = node_config_parse(text, len, path, absolute_dir, out, msg, msg_size);
    free(text);
    return rc;
}

void node_config_free(node_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->module_count; i++) {
        free(c->modules[i].path);
        free(c->modules[i].config_json);
    }
    free(c->modules);
    free(c->file_path);
    free(c->config_dir);
    free(c->node_id);
    free(c->station_type);
    free(c->ledger_path);
    free(c->alerts_path);
    free(c->signing_key_path);
    free(c->dashboard_host);
    free(c->dashboard_token);
    free(c->ship_to);
    free(c);
}
