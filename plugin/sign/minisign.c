/* minisign.c — minisign's file formats and its two signing modes; see minisign.h. */
#include "minisign.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX   "trusted comment: "
#define PUBLIC_RAW       42  /* "Ed" | key id | public key */
#define SECRET_RAW       158 /* see minisign.h */
#define SIG_RAW          74  /* "Ed"/"ED" | key id | signature */
#define CHECKSUM_BYTES   32

__attribute__((format(printf, 3, 4))) static int fail(smart_error *err, int code, const char *fmt,
                                                      ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int msig_init(smart_error *err)
{
    if (sodium_init() < 0)
        return fail(err, SMART_EIO, "libsodium could not be initialised");
    return 0;
}

void msig_key_id_text(const uint8_t key_id[MSIG_KEY_ID_BYTES], char out[MSIG_KEY_ID_TEXT_LEN + 1])
{
    uint64_t n = 0;
    for (int i = MSIG_KEY_ID_BYTES - 1; i >= 0; i--)
        n = (n << 8) | key_id[i];
    snprintf(out, MSIG_KEY_ID_TEXT_LEN + 1, "%016" PRIX64, n);
}

/* A cursor over the text, line by line. */
typedef struct lines {
    const char *p;
    const char *end;
    int number; /* of the line last taken */
} lines;

/* Take the next line (without its "\n") into line and len. A line must end with "\n" unless
 * `last_may_end` and it is the text's end. Returns false at the end of the text or on a line
 * without its newline where one is needed (*missing_newline says which). */
static bool next_line(lines *l, bool last_may_end, const char **line, size_t *len,
                      bool *missing_newline)
{
    *missing_newline = false;
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    l->number++;
    if (nl == NULL) {
        if (!last_may_end) {
            *missing_newline = true;
            return false;
        }
        nl = l->end;
    }
    *line = l->p;
    *len = (size_t)(nl - l->p);
    l->p = nl < l->end ? nl + 1 : nl;
    return true;
}

/* A comment line: `prefix` then at most `max` bytes in all, no NUL or CR in it. */
static int check_comment(const char *what, int number, const char *line, size_t len,
                         const char *prefix, size_t max, smart_error *err)
{
    size_t plen = strlen(prefix);
    if (len < plen || memcmp(line, prefix, plen) != 0)
        return fail(err, SMART_EINVAL, "%s: line %d: must begin with '%s'", what, number, prefix);
    if (len >= max)
        return fail(err, SMART_EINVAL, "%s: line %d: longer than %zu bytes", what, number, max - 1);
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\0' || line[i] == '\r')
            return fail(err, SMART_EINVAL, "%s: line %d: holds a NUL or carriage return", what,
                        number);
    return 0;
}

/* Decode a base64 line that must hold exactly `want` bytes (standard alphabet, padded). */
static int decode_exact(const char *what, int number, const char *line, size_t len, uint8_t *out,
                        size_t want, smart_error *err)
{
    size_t expect_chars = sodium_base64_encoded_len(want, sodium_base64_VARIANT_ORIGINAL) - 1;
    if (len != expect_chars)
        return fail(err, SMART_EINVAL,
                    "%s: line %d: %zu base64 characters, expected %zu (%zu bytes)", what, number,
                    len, expect_chars, want);
    size_t got = 0;
    const char *stop = NULL;
    if (sodium_base642bin(out, want, line, len, NULL, &got, &stop,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != want || stop != line + len)
        return fail(err, SMART_EINVAL, "%s: line %d: not valid base64 of %zu bytes", what, number,
                    want);
    return 0;
}

/* Nothing may follow the last line but its optional "\n" (already consumed by next_line). */
static int check_end(const char *what, const lines *l, smart_error *err)
{
    if (l->p != l->end)
        return fail(err, SMART_EINVAL, "%s: text after line %d", what, l->number);
    return 0;
}

int msig_public_key_parse(const char *text, size_t len, msig_public_key *out, smart_error *err)
{
    static const char what[] = "public key";
    lines l = {text, text + len, 0};
    const char *line;
    size_t n;
    bool nonl;
    if (!next_line(&l, true, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: empty", what);
    /* A bare key line, as `minisign -P` takes it. */
    if (!(n >= 1 && line[0] == 'u')) {
        if (l.number != 1 || l.p != l.end)
            return fail(err, SMART_EINVAL, "%s: a bare key is one line", what);
    } else {
        int rc =
            check_comment(what, l.number, line, n, UNTRUSTED_PREFIX, MSIG_COMMENT_LINE_MAX, err);
        if (rc < 0)
            return rc;
        if (!next_line(&l, true, &line, &n, &nonl))
            return fail(err, SMART_EINVAL, "%s: line 2 (the key) is missing", what);
    }
    uint8_t raw[PUBLIC_RAW];
    int rc = decode_exact(what, l.number, line, n, raw, sizeof raw, err);
    if (rc < 0)
        return rc;
    if (memcmp(raw, "Ed", 2) != 0)
        return fail(err, SMART_EINVAL, "%s: line %d: algorithm is not Ed25519 ('Ed')", what,
                    l.number);
    rc = check_end(what, &l, err);
    if (rc < 0)
        return rc;
    memcpy(out->key_id, raw + 2, MSIG_KEY_ID_BYTES);
    memcpy(out->pk, raw + 2 + MSIG_KEY_ID_BYTES, MSIG_PUBLIC_KEY_BYTES);
    return 0;
}

/* Read a whole small file into `buf` (MSIG_FILE_MAX + 1 bytes); *len gets its length. */
static int read_small(const char *path, const char *what, char *buf, size_t *len, mode_t *mode,
                      smart_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, SMART_EIO, "%s %s: cannot open: %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, SMART_EIO, "%s %s: not a regular file", what, path);
    }
    if (mode != NULL)
        *mode = st.st_mode;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, MSIG_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return fail(err, SMART_EIO, "%s %s: read failed: %s", what, path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > MSIG_FILE_MAX) {
            close(fd);
            return fail(err, SMART_EINVAL, "%s %s: longer than %d bytes", what, path,
                        MSIG_FILE_MAX);
        }
    }
    close(fd);
    *len = got;
    return 0;
}

/* Prefix a parse message with the path. */
static int with_path(int rc, const char *path, smart_error *err)
{
    if (rc < 0 && err != NULL) {
        char text[sizeof err->text];
        snprintf(text, sizeof text, "%.200s: %.300s", path, err->text);
        memcpy(err->text, text, sizeof text);
    }
    return rc;
}

int msig_public_key_load(const char *path, msig_public_key *out, smart_error *err)
{
    char buf[MSIG_FILE_MAX + 1];
    size_t len;
    int rc = read_small(path, "public key", buf, &len, NULL, err);
    if (rc < 0)
        return rc;
    return with_path(msig_public_key_parse(buf, len, out, err), path, err);
}

void msig_public_key_base64(const msig_public_key *key, char *out, size_t out_size)
{
    uint8_t raw[PUBLIC_RAW];
    memcpy(raw, "Ed", 2);
    memcpy(raw + 2, key->key_id, MSIG_KEY_ID_BYTES);
    memcpy(raw + 2 + MSIG_KEY_ID_BYTES, key->pk, MSIG_PUBLIC_KEY_BYTES);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, out_size, "%s", b64);
}

int msig_public_key_format(const msig_public_key *key, char *out, size_t out_size)
{
    char id[MSIG_KEY_ID_TEXT_LEN + 1], b64[64];
    msig_key_id_text(key->key_id, id);
    msig_public_key_base64(key, b64, sizeof b64);
    int n = snprintf(out, out_size, UNTRUSTED_PREFIX "minisign public key %s\n%s\n", id, b64);
    return n < 0 || (size_t)n >= out_size ? SMART_EINVAL : n;
}

static void secret_checksum(const msig_secret_key *key, uint8_t out[CHECKSUM_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CHECKSUM_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)"Ed", 2);
    crypto_generichash_update(&st, key->key_id, MSIG_KEY_ID_BYTES);
    crypto_generichash_update(&st, key->sk, MSIG_SECRET_KEY_BYTES);
    crypto_generichash_final(&st, out, CHECKSUM_BYTES);
    sodium_memzero(&st, sizeof st);
}

int msig_secret_key_parse(const char *text, size_t len, msig_secret_key *out, smart_error *err)
{
    static const char what[] = "secret key";
    lines l = {text, text + len, 0};
    const char *line;
    size_t n;
    bool nonl;
    if (!next_line(&l, false, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: line 1 (the comment) is missing", what);
    int rc = check_comment(what, 1, line, n, UNTRUSTED_PREFIX, MSIG_COMMENT_LINE_MAX, err);
    if (rc < 0)
        return rc;
    if (!next_line(&l, true, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: line 2 (the key) is missing", what);
    uint8_t raw[SECRET_RAW];
    rc = decode_exact(what, 2, line, n, raw, sizeof raw, err);
    if (rc == 0)
        rc = check_end(what, &l, err);
    if (rc == 0 && memcmp(raw, "Ed", 2) != 0)
        rc = fail(err, SMART_EINVAL, "%s: line 2: algorithm is not Ed25519 ('Ed')", what);
    if (rc == 0 && memcmp(raw + 2, "\0\0", 2) != 0)
        rc = fail(err, SMART_EINVAL,
                  "%s: line 2: the key is encrypted with a password; the node signs unattended "
                  "and needs a key without one (smart-host keygen, or minisign -G -W)",
                  what);
    if (rc == 0 && memcmp(raw + 4, "B2", 2) != 0)
        rc = fail(err, SMART_EINVAL, "%s: line 2: checksum algorithm is not BLAKE2b ('B2')", what);
    if (rc < 0) {
        sodium_memzero(raw, sizeof raw);
        return rc;
    }
    const uint8_t *keynum = raw + 6 + 32 + 8 + 8;
    msig_secret_key key;
    memcpy(key.key_id, keynum, MSIG_KEY_ID_BYTES);
    memcpy(key.sk, keynum + MSIG_KEY_ID_BYTES, MSIG_SECRET_KEY_BYTES);
    const uint8_t *chk = keynum + MSIG_KEY_ID_BYTES + MSIG_SECRET_KEY_BYTES;
    uint8_t want[CHECKSUM_BYTES], zero[CHECKSUM_BYTES] = {0};
    secret_checksum(&key, want);
    /* The public half must be the seed's: a damaged key never signs. */
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_ed25519_sk_to_seed(seed, key.sk);
    crypto_sign_seed_keypair(pk, sk, seed);
    bool pair_ok = sodium_memcmp(pk, key.sk + 32, sizeof pk) == 0;
    bool chk_ok = sodium_memcmp(chk, want, CHECKSUM_BYTES) == 0 ||
                  sodium_memcmp(chk, zero, CHECKSUM_BYTES) == 0;
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(raw, sizeof raw);
    if (!chk_ok || !pair_ok) {
        sodium_memzero(&key, sizeof key);
        return fail(err, SMART_EINVAL, "%s: line 2: %s", what,
                    !chk_ok ? "checksum does not match the key (damaged key)"
                            : "public half does not match the seed (damaged key)");
    }
    *out = key;
    sodium_memzero(&key, sizeof key);
    return 0;
}

int msig_secret_key_load(const char *path, msig_secret_key *out, smart_error *err)
{
    char buf[MSIG_FILE_MAX + 1];
    size_t len;
    mode_t mode = 0;
    int rc = read_small(path, "secret key", buf, &len, &mode, err);
    if (rc < 0)
        return rc;
    if ((mode & 077) != 0) {
        sodium_memzero(buf, sizeof buf);
        return fail(err, SMART_EINVAL,
                    "secret key %s: group or others may access it (mode %04o); chmod 600 it", path,
                    (unsigned)(mode & 07777));
    }
    rc = with_path(msig_secret_key_parse(buf, len, out, err), path, err);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int msig_keypair(msig_public_key *pub, msig_secret_key *sec, smart_error *err)
{
    (void)err;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sec->sk);
    randombytes_buf(sec->key_id, MSIG_KEY_ID_BYTES);
    msig_public_of(sec, pub);
    return 0;
}

void msig_public_of(const msig_secret_key *sec, msig_public_key *pub)
{
    memcpy(pub->key_id, sec->key_id, MSIG_KEY_ID_BYTES);
    crypto_sign_ed25519_sk_to_pk(pub->pk, sec->sk);
}

int msig_secret_key_format(const msig_secret_key *key, char *out, size_t out_size)
{
    uint8_t raw[SECRET_RAW] = {0};
    memcpy(raw, "Ed", 2);
    /* kdf 0x0000 (no password), salt and limits zero, as minisign -G -W writes them. */
    memcpy(raw + 4, "B2", 2);
    uint8_t *keynum = raw + 6 + 32 + 8 + 8;
    memcpy(keynum, key->key_id, MSIG_KEY_ID_BYTES);
    memcpy(keynum + MSIG_KEY_ID_BYTES, key->sk, MSIG_SECRET_KEY_BYTES);
    secret_checksum(key, keynum + MSIG_KEY_ID_BYTES + MSIG_SECRET_KEY_BYTES);
    char b64[256];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    int n =
        snprintf(out, out_size, UNTRUSTED_PREFIX "minisign secret key (no password)\n%s\n", b64);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(b64, sizeof b64);
    return n < 0 || (size_t)n >= out_size ? SMART_EINVAL : n;
}

void msig_secret_key_wipe(msig_secret_key *key)
{
    sodium_memzero(key, sizeof *key);
}

int msig_signature_parse(const char *text, size_t len, msig_signature *out, smart_error *err)
{
    static const char what[] = "signature";
    lines l = {text, text + len, 0};
    const char *line;
    size_t n;
    bool nonl;
    if (!next_line(&l, false, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: line 1 (the untrusted comment) is missing", what);
    int rc = check_comment(what, 1, line, n, UNTRUSTED_PREFIX, MSIG_COMMENT_LINE_MAX, err);
    if (rc < 0)
        return rc;
    if (!next_line(&l, false, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: line 2 (the signature) is missing", what);
    uint8_t raw[SIG_RAW];
    rc = decode_exact(what, 2, line, n, raw, sizeof raw, err);
    if (rc < 0)
        return rc;
    if (memcmp(raw, "ED", 2) != 0 && memcmp(raw, "Ed", 2) != 0)
        return fail(err, SMART_EINVAL, "%s: line 2: algorithm is neither 'ED' nor 'Ed'", what);
    if (!next_line(&l, false, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: line 3 (the trusted comment) is missing", what);
    rc = check_comment(what, 3, line, n, TRUSTED_PREFIX, MSIG_TRUSTED_LINE_MAX, err);
    if (rc < 0)
        return rc;
    size_t tlen = n - strlen(TRUSTED_PREFIX);
    memcpy(out->trusted_comment, line + strlen(TRUSTED_PREFIX), tlen);
    out->trusted_comment[tlen] = '\0';
    out->trusted_len = tlen;
    if (!next_line(&l, true, &line, &n, &nonl))
        return fail(err, SMART_EINVAL, "%s: line 4 (the global signature) is missing", what);
    rc = decode_exact(what, 4, line, n, out->global_sig, MSIG_SIGNATURE_BYTES, err);
    if (rc == 0)
        rc = check_end(what, &l, err);
    if (rc < 0)
        return rc;
    out->prehashed = raw[1] == 'D';
    memcpy(out->key_id, raw + 2, MSIG_KEY_ID_BYTES);
    memcpy(out->sig, raw + 2 + MSIG_KEY_ID_BYTES, MSIG_SIGNATURE_BYTES);
    return 0;
}

int msig_signature_load(const char *path, msig_signature *out, smart_error *err)
{
    char buf[MSIG_FILE_MAX + 1];
    size_t len;
    int rc = read_small(path, "signature", buf, &len, NULL, err);
    if (rc < 0)
        return rc;
    return with_path(msig_signature_parse(buf, len, out, err), path, err);
}

static void blake2b_512(const void *msg, size_t len, uint8_t out[crypto_generichash_BYTES_MAX])
{
    crypto_generichash(out, crypto_generichash_BYTES_MAX, msg, len, NULL, 0);
}

int msig_sign(const msig_secret_key *key, const void *msg, size_t len, const char *trusted_comment,
              char *out, size_t out_size, smart_error *err)
{
    size_t tlen = strlen(trusted_comment);
    if (tlen + strlen(TRUSTED_PREFIX) >= MSIG_TRUSTED_LINE_MAX)
        return fail(err, SMART_EINVAL, "trusted comment: longer than %zu bytes",
                    MSIG_TRUSTED_LINE_MAX - 1 - strlen(TRUSTED_PREFIX));
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)trusted_comment[i] < 0x20 || trusted_comment[i] == 0x7f)
            return fail(err, SMART_EINVAL, "trusted comment: holds a control character");
    uint8_t hash[crypto_generichash_BYTES_MAX];
    blake2b_512(msg, len, hash);
    uint8_t raw[SIG_RAW];
    memcpy(raw, "ED", 2);
    memcpy(raw + 2, key->key_id, MSIG_KEY_ID_BYTES);
    uint8_t *sig = raw + 2 + MSIG_KEY_ID_BYTES;
    crypto_sign_detached(sig, NULL, hash, sizeof hash, key->sk);
    /* The global signature: the signature, then the trusted comment. */
    uint8_t *both = malloc(MSIG_SIGNATURE_BYTES + tlen);
    if (both == NULL)
        return fail(err, SMART_ENOMEM, "out of memory");
    memcpy(both, sig, MSIG_SIGNATURE_BYTES);
    memcpy(both + MSIG_SIGNATURE_BYTES, trusted_comment, tlen);
    uint8_t global[MSIG_SIGNATURE_BYTES];
    crypto_sign_detached(global, NULL, both, MSIG_SIGNATURE_BYTES + tlen, key->sk);
    free(both);
    char id[MSIG_KEY_ID_TEXT_LEN + 1], b64sig[128], b64global[128];
    msig_key_id_text(key->key_id, id);
    sodium_bin2base64(b64sig, sizeof b64sig, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b64global, sizeof b64global, global, sizeof global,
                      sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, out_size,
                     UNTRUSTED_PREFIX "signature from smart-host key %s\n%s\n" TRUSTED_PREFIX
                                      "%s\n%s\n",
                     id, b64sig, trusted_comment, b64global);
    if (n < 0 || (size_t)n >= out_size)
        return fail(err, SMART_EINVAL, "signature: the output buffer is too small");
    return n;
}

int msig_verify(const msig_public_key *key, const msig_signature *sig, const void *msg, size_t len,
                smart_error *err)
{
    if (memcmp(key->key_id, sig->key_id, MSIG_KEY_ID_BYTES) != 0) {
        char want[MSIG_KEY_ID_TEXT_LEN + 1], got[MSIG_KEY_ID_TEXT_LEN + 1];
        msig_key_id_text(key->key_id, want);
        msig_key_id_text(sig->key_id, got);
        return fail(err, SMART_EINVAL, "signed with key %s, not key %s", got, want);
    }
    int rc;
    if (sig->prehashed) {
        uint8_t hash[crypto_generichash_BYTES_MAX];
        blake2b_512(msg, len, hash);
        rc = crypto_sign_verify_detached(sig->sig, hash, sizeof hash, key->pk);
    } else {
        rc = crypto_sign_verify_detached(sig->sig, msg, len, key->pk);
    }
    if (rc != 0)
        return fail(err, SMART_EINVAL,
                    "signature does not verify (the file or the signature "
                    "was changed)");
    uint8_t *both = malloc(MSIG_SIGNATURE_BYTES + sig->trusted_len);
    if (both == NULL)
        return fail(err, SMART_ENOMEM, "out of memory");
    memcpy(both, sig->sig, MSIG_SIGNATURE_BYTES);
    memcpy(both + MSIG_SIGNATURE_BYTES, sig->trusted_comment, sig->trusted_len);
    rc = crypto_sign_verify_detached(sig->global_sig, both, MSIG_SIGNATURE_BYTES + sig->trusted_len,
                                     key->pk);
    free(both);
    if (rc != 0)
        return fail(err, SMART_EINVAL,
                    "trusted comment's signature does not verify (the "
                    "trusted comment was changed)");
    return 0;
}
