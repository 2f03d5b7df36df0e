/* fuzz_minisign.c — minisign's public key, secret key and signature files (plugin/sign/minisign.c):
 * read from the hub's contract signatures, trusted_keys and the node's own key.
 *
 * The same bytes go to the three parsers. A file accepted is written back (a public key, a
 * secret key) and must read back as the same key; a signature accepted must keep its trusted
 * comment within bounds and must not verify against an unrelated key. */
#include <stdlib.h>
#include <string.h>

#include "minisign.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (msig_init(NULL) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    const char *text = (const char *)bytes;
    smart_error err;
    msig_public_key pub, again;
    if (msig_public_key_parse(text, size, &pub, &err) == 0) {
        char out[200];
        int n = msig_public_key_format(&pub, out, sizeof out);
        if (n <= 0 || msig_public_key_parse(out, (size_t)n, &again, &err) != 0 ||
            memcmp(&pub, &again, sizeof pub) != 0)
            abort();
    }
    msig_secret_key sec, sec_again;
    if (msig_secret_key_parse(text, size, &sec, &err) == 0) {
        char out[400];
        int n = msig_secret_key_format(&sec, out, sizeof out);
        if (n <= 0 || msig_secret_key_parse(out, (size_t)n, &sec_again, &err) != 0 ||
            memcmp(&sec, &sec_again, sizeof sec) != 0)
            abort();
    }
    msig_signature sig;
    if (msig_signature_parse(text, size, &sig, &err) == 0) {
        if (sig.trusted_len >= MSIG_TRUSTED_LINE_MAX ||
            strlen(sig.trusted_comment) != sig.trusted_len)
            abort();
        /* An all-zero key with the signature's own id: parsing alone never makes it verify. */
        msig_public_key zero = {{0}, {0}};
        memcpy(zero.key_id, sig.key_id, sizeof zero.key_id);
        if (msig_verify(&zero, &sig, "m", 1, &err) == 0)
            abort();
    }
    return 0;
}
