/* fuzz_ledger.c — ledger verification (host-stub/ledger/ledger.c, ledger_verify_buffer and
 * ledger_verify_file): what `smart-host ledger verify` and every start make of a ledger file,
 * whoever last wrote it.
 *
 * The first byte picks a mode, the rest is the file's bytes:
 *  - bit 0 reseals the lines before verifying: each line shaped like a record gets the hash of
 *    its own bytes and, when it has one, the previous line's as prev_hash. Random bytes almost
 *    never carry a matching SHA-256, so without this the fuzzer would never get past the hash
 *    check into the field, seq and chain checks; with it, a mutated record stays sealed.
 *  - bit 1 verifies through a file (a memfd, by its /proc path) as the command does, which maps
 *    the file; the result must be the buffer's.
 *  - bit 2 verifies again with yajl's scan alone (ledger_verify_buffer_scan_only): simdjson's
 *    check of a record must take only what the scan takes, and read the same fields.
 * The result must describe the bytes: intact means every byte is in the intact prefix. */
#include "ledger/ledger.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

#define HEX       LEDGER_HASH_HEX_LEN
#define HASH_TAIL (sizeof ",\"hash\":\"" - 1 + HEX + 2)      /* ,"hash":"<64>"} */
#define PREV_TAIL (sizeof ",\"prev_hash\":\"" - 1 + HEX + 1) /* ,"prev_hash":"<64>" */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1); /* a fixed hash seed: a run is repeatable */
    return 0;
}

static void sha256_hex(const char *data, size_t len, char *out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
        abort();
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Seal each line whose end has the record's shape, in place, chaining as the ledger does. */
static void reseal(char *text, size_t len)
{
    char head[HEX + 1];
    memset(head, '0', HEX);
    for (size_t pos = 0; pos < len;) {
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + 1;
        if (n < HASH_TAIL || memcmp(line + n - HASH_TAIL, ",\"hash\":\"", 9) != 0)
            continue;
        char *prev = line + n - HASH_TAIL - PREV_TAIL;
        if (n >= HASH_TAIL + PREV_TAIL && memcmp(prev, ",\"prev_hash\":\"", 14) == 0)
            memcpy(prev + 14, head, HEX);
        char hash[HEX + 1];
        sha256_hex(line, n - HASH_TAIL, hash);
        memcpy(line + n - HASH_TAIL + 9, hash, HEX);
        memcpy(head, hash, HEX);
    }
}

static void verify_through_file(const char *text, size_t len, ledger_verify_result *r)
{
    int fd = memfd_create("fuzz-ledger", MFD_CLOEXEC);
    if (fd < 0 || (len > 0 && write(fd, text, len) != (ssize_t)len))
        abort();
    char path[64], msg[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (ledger_verify_file(path, r, msg, sizeof msg) != 0)
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = bytes[0];
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    if (text == NULL)
        abort();
    memcpy(text, bytes + 1, len);
    if (mode & 1)
        reseal(text, len);

    ledger_verify_result r;
    ledger_verify_buffer(text, len, &r);
    if (r.good_bytes > len || (r.ok && r.good_bytes != len) || (!r.ok && r.why[0] == '\0') ||
        (!r.ok && (r.bad_line == 0 || r.bad_line != r.records + 1)) ||
        (r.records == 0 && strspn(r.head_hash, "0") != HEX) || strlen(r.head_hash) != HEX)
        abort();
    if (mode & 2) {
        ledger_verify_result f;
        verify_through_file(text, len, &f);
        if (f.ok != r.ok || f.records != r.records || f.good_bytes != r.good_bytes ||
            strcmp(f.head_hash, r.head_hash) != 0 || strcmp(f.why, r.why) != 0 ||
            f.bad_line != r.bad_line || f.bad_seq != r.bad_seq || f.bad_is_torn != r.bad_is_torn)
            abort();
    }
    if (mode & 4) {
        ledger_verify_result scanned;
        ledger_verify_buffer_scan_only(text, len, &scanned);
        if (memcmp(&scanned, &r, sizeof r) != 0)
            abort();
    }
    free(text);
    return 0;
}
