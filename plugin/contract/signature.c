/* signature.c — contracts signed by the hub; see signature.h. */
#include "contract/signature.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int contract_trust_parse(const json_t *config, contract_trust *out, smart_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *keys = json_object_get(config, "trusted_keys");
    json_t *required = json_object_get(config, "require_signed_contracts");
    if (required != NULL && !json_is_boolean(required))
        return error_set(err, SMART_ECONFIG,
                         "config.require_signed_contracts: must be true or "
                         "false");
    if (keys == NULL) {
        if (required != NULL && json_is_true(required))
            return error_set(err, SMART_ECONFIG,
                             "config.require_signed_contracts: needs trusted_keys (the hub's "
                             "minisign public keys)");
        return 0;
    }
    if (!json_is_array(keys) || json_array_size(keys) == 0)
        return error_set(err, SMART_ECONFIG,
                         "config.trusted_keys: must be a non-empty array of minisign public keys");
    smart_error e = {0, ""};
    if (msig_init(&e) < 0)
        return error_set(err, SMART_ECONFIG, "config.trusted_keys: %s", e.text);
    out->keys = calloc(json_array_size(keys), sizeof *out->keys);
    if (out->keys == NULL)
        return error_set(err, SMART_ENOMEM, "out of memory");
    size_t i;
    json_t *key;
    json_array_foreach (keys, i, key) {
        if (!json_is_string(key) ||
            msig_public_key_parse(json_string_value(key), json_string_length(key), &out->keys[i],
                                  &e) < 0) {
            contract_trust_release(out);
            return error_set(err, SMART_ECONFIG, "config.trusted_keys[%zu]: %s", i,
                             json_is_string(key) ? e.text : "must be a string");
        }
        out->key_count = i + 1;
    }
    out->required = required == NULL || json_is_true(required);
    return 0;
}

void contract_trust_release(contract_trust *trust)
{
    free(trust->keys);
    memset(trust, 0, sizeof *trust);
}

/* Read the whole regular file `path` (at most `max` bytes) into a malloc'd buffer. Returns 0,
 * -ENOENT, or another negative errno. */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        return -EINVAL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL)
        return -ENOMEM;
    *out = buf;
    *len = got;
    return 0;
}

static bool same_sha256(const char *bytes, size_t len, const char hex_digest[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(bytes, len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return false;
    char hex[65];
    for (unsigned int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return strcmp(hex, hex_digest) == 0;
}

static int check_one(const contract_trust *trust, const char *dir, contract *c,
                     contract_refusal *why)
{
    char path[PATH_MAX], sig_path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, c->file);
    snprintf(sig_path, sizeof sig_path, "%s/%s.minisig", dir, c->file);
    struct stat st;
    if (lstat(sig_path, &st) != 0 && errno == ENOENT) {
        if (!trust->required)
            return 0;
        return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                               "%s: not signed: no %s.minisig beside it, and "
                               "require_signed_contracts is on",
                               c->file, c->file);
    }
    msig_signature sig;
    smart_error e = {0, ""};
    if (msig_signature_load(sig_path, &sig, &e) < 0)
        return contract_refuse(why, SMART_ECONTRACT, c->file, NULL, "%s: signature %s", c->file,
                               e.text);
    const msig_public_key *key = NULL;
    for (size_t i = 0; i < trust->key_count && key == NULL; i++)
        if (memcmp(trust->keys[i].key_id, sig.key_id, MSIG_KEY_ID_BYTES) == 0)
            key = &trust->keys[i];
    char id[MSIG_KEY_ID_TEXT_LEN + 1];
    msig_key_id_text(sig.key_id, id);
    if (key == NULL)
        return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                               "%s.minisig: signed with key %s, which is not one of trusted_keys",
                               c->file, id);
    char *bytes = NULL;
    size_t len = 0;
    int rc = read_file(path, 64u << 20, &bytes, &len);
    if (rc == -ENOMEM)
        return contract_refuse(why, SMART_ENOMEM, c->file, NULL, "out of memory");
    /* The bytes signed must be the bytes parsed: a file replaced meanwhile is refused. */
    if (rc < 0 || !same_sha256(bytes, len, c->sha256)) {
        free(bytes);
        return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                               "%s: changed while it was being loaded; deploy it again", c->file);
    }
    rc = msig_verify(key, &sig, bytes, len, &e);
    free(bytes);
    if (rc < 0)
        return contract_refuse(why, SMART_ECONTRACT, c->file, NULL, "%s.minisig (key %s): %s",
                               c->file, id, e.text);
    snprintf(c->signed_by, sizeof c->signed_by, "%s", id);
    return 0;
}

int contract_signatures_check(const contract_trust *trust, const char *dir, contract_set *set,
                              contract_refusal *why)
{
    if (trust->key_count == 0)
        return 0;
    for (size_t i = 0; i < set->contract_count; i++) {
        int rc = check_one(trust, dir, &set->contracts[i], why);
        if (rc)
            return rc;
    }
    return 0;
}
