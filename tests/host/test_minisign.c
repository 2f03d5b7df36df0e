/*
 * test_minisign.c — plugin/sign/minisign.c against the stock minisign (Debian's package, run here):
 * its keys and both of its signature modes are read and verified, ours are read and verified
 * by it, and every malformed or altered file is refused with the line and the reason.
 */
#include "check_main.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minisign.h"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/smart-minisign-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(msig_init(NULL), 0);
}

static void remove_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run `command` in the test's directory. */
static int run(const char *command)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, command);
    return system(cmd);
}

static char *path_of(const char *name)
{
    static char p[4][512];
    static int next;
    char *out = p[next++ % 4];
    snprintf(out, 512, "%s/%s", dir, name);
    return out;
}

static size_t slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

static void spit(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* A key pair made by minisign -G -W, and a message signed both ways. */
static void minisign_fixture(void)
{
    ck_assert_int_eq(run("minisign -G -W -p k.pub -s k.key >/dev/null && "
                         "printf 'hello contract\\n' > m && "
                         "minisign -S -W -s k.key -m m -t 'trusted words' >/dev/null && "
                         "minisign -S -W -l -s k.key -m m -x m.legacy >/dev/null"),
                     0);
}

START_TEST(test_reads_and_verifies_minisign_files)
{
    minisign_fixture();
    smart_error err = {0, ""};
    msig_public_key pub;
    msig_secret_key sec;
    msig_signature sig;
    ck_assert_msg(msig_public_key_load(path_of("k.pub"), &pub, &err) == 0, "%s", err.text);
    ck_assert_msg(msig_secret_key_load(path_of("k.key"), &sec, &err) == 0, "%s", err.text);
    msig_public_key derived;
    msig_public_of(&sec, &derived);
    ck_assert_mem_eq(&derived, &pub, sizeof pub);
    char msg[64];
    size_t mlen = slurp(path_of("m"), msg, sizeof msg);
    ck_assert_msg(msig_signature_load(path_of("m.minisig"), &sig, &err) == 0, "%s", err.text);
    ck_assert(sig.prehashed);
    ck_assert_str_eq(sig.trusted_comment, "trusted words");
    ck_assert_msg(msig_verify(&pub, &sig, msg, mlen, &err) == 0, "%s", err.text);
    /* The same message, one byte changed, does not verify. */
    msg[0] ^= 1;
    ck_assert_int_eq(msig_verify(&pub, &sig, msg, mlen, &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "signature does not verify"));
    msg[0] ^= 1;
    ck_assert_msg(msig_signature_load(path_of("m.legacy"), &sig, &err) == 0, "%s", err.text);
    ck_assert(!sig.prehashed);
    ck_assert_msg(msig_verify(&pub, &sig, msg, mlen, &err) == 0, "%s", err.text);
    /* A changed trusted comment breaks the global signature. */
    sig.trusted_comment[0] ^= 1;
    ck_assert_int_eq(msig_verify(&pub, &sig, msg, mlen, &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "trusted comment"));
    msig_secret_key_wipe(&sec);
}
END_TEST

START_TEST(test_minisign_verifies_ours)
{
    smart_error err = {0, ""};
    msig_public_key pub;
    msig_secret_key sec;
    ck_assert_int_eq(msig_keypair(&pub, &sec, &err), 0);
    char text[400];
    int n = msig_public_key_format(&pub, text, sizeof text);
    ck_assert_int_gt(n, 0);
    spit(path_of("our.pub"), text, (size_t)n, 0644);
    n = msig_secret_key_format(&sec, text, sizeof text);
    ck_assert_int_gt(n, 0);
    spit(path_of("our.key"), text, (size_t)n, 0600);
    const char message[] = "{\"seq\":7}\n";
    char sig[600];
    n = msig_sign(&sec, message, strlen(message), "seq 7 of NODE-1", sig, sizeof sig, &err);
    ck_assert_msg(n > 0, "%s", err.text);
    spit(path_of("msg"), message, strlen(message), 0644);
    spit(path_of("msg.minisig"), sig, (size_t)n, 0644);
    ck_assert_int_eq(run("minisign -V -q -p our.pub -m msg"), 0);
    /* minisign signs with our secret key file, and we verify that. */
    ck_assert_int_eq(run("minisign -S -W -s our.key -m msg -x again.minisig "
                         ">/dev/null"),
                     0);
    msig_signature parsed;
    ck_assert_msg(msig_signature_load(path_of("again.minisig"), &parsed, &err) == 0, "%s",
                  err.text);
    ck_assert_int_eq(msig_verify(&pub, &parsed, message, strlen(message), &err), 0);
    /* Our secret key file reads back as the same key. */
    msig_secret_key back;
    ck_assert_msg(msig_secret_key_load(path_of("our.key"), &back, &err) == 0, "%s", err.text);
    ck_assert_mem_eq(&back, &sec, sizeof sec);
    /* Another key's signature is named as such. */
    msig_public_key other;
    msig_secret_key other_sec;
    msig_keypair(&other, &other_sec, &err);
    ck_assert_int_eq(msig_verify(&other, &parsed, message, strlen(message), &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "signed with key"));
    /* A secret key others may read is refused. */
    chmod(path_of("our.key"), 0644);
    ck_assert_int_eq(msig_secret_key_load(path_of("our.key"), &back, &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "mode 0644"));
}
END_TEST

/* Each malformed signature text is refused, naming the line. */
START_TEST(test_strict_signature_text)
{
    minisign_fixture();
    char good[2048];
    size_t len = slurp(path_of("m.minisig"), good, sizeof good);
    msig_signature sig;
    smart_error err = {0, ""};
    ck_assert_int_eq(msig_signature_parse(good, len, &sig, &err), 0);
    ck_assert_int_eq(msig_signature_parse(good, len - 1, &sig, &err), 0); /* no final newline */
    struct {
        const char *why;
        char text[2048];
        size_t len;
        const char *expect;
    } cases[8];
    int n = 0;
    /* Extra text after the last line. */
    cases[n].why = "trailing";
    memcpy(cases[n].text, good, len);
    memcpy(cases[n].text + len, "x\n", 2);
    cases[n].len = len + 2;
    cases[n++].expect = "text after line 4";
    /* Wrong prefix on line 1. */
    cases[n].why = "prefix";
    memcpy(cases[n].text, good, len);
    cases[n].text[0] = 'U';
    cases[n].len = len;
    cases[n++].expect = "line 1: must begin with";
    /* A base64 line one character short. */
    const char *l2 = strchr(good, '\n') + 1;
    size_t at = (size_t)(l2 - good);
    cases[n].why = "short";
    memcpy(cases[n].text, good, at);
    memcpy(cases[n].text + at, l2 + 1, len - at - 1);
    cases[n].len = len - 1;
    cases[n++].expect = "line 2: 99 base64 characters";
    /* A non-base64 character. */
    cases[n].why = "alphabet";
    memcpy(cases[n].text, good, len);
    cases[n].text[at + 10] = '*';
    cases[n].len = len;
    cases[n++].expect = "line 2: not valid base64";
    /* Truncated before line 4. */
    const char *l4 = strrchr(good, '\n');
    while (l4 > good && l4[-1] != '\n')
        l4--;
    cases[n].why = "truncated";
    memcpy(cases[n].text, good, (size_t)(l4 - good));
    cases[n].len = (size_t)(l4 - good);
    cases[n++].expect = "line 4";
    /* Line 3 lacking its prefix. */
    const char *l3 = strstr(good, "trusted comment: ");
    l3 = strstr(l3 + 1, "trusted comment: "); /* the second: line 3 */
    ck_assert_ptr_nonnull(l3);
    cases[n].why = "trusted prefix";
    memcpy(cases[n].text, good, len);
    cases[n].text[l3 - good] = 'T';
    cases[n].len = len;
    cases[n++].expect = "line 3: must begin with";
    for (int i = 0; i < n; i++) {
        err.text[0] = '\0';
        ck_assert_msg(msig_signature_parse(cases[i].text, cases[i].len, &sig, &err) == SMART_EINVAL,
                      "%s accepted", cases[i].why);
        ck_assert_msg(strstr(err.text, cases[i].expect) != NULL, "%s: '%s' lacks '%s'",
                      cases[i].why, err.text, cases[i].expect);
    }
}
END_TEST

START_TEST(test_strict_keys)
{
    minisign_fixture();
    char pubtext[512], sectext[1024];
    size_t plen = slurp(path_of("k.pub"), pubtext, sizeof pubtext);
    size_t slen = slurp(path_of("k.key"), sectext, sizeof sectext);
    msig_public_key pub;
    msig_secret_key sec;
    smart_error err = {0, ""};
    /* The bare key line, as minisign -P takes it. */
    const char *line2 = strchr(pubtext, '\n') + 1;
    ck_assert_msg(msig_public_key_parse(line2, strlen(line2), &pub, &err) == 0, "%s", err.text);
    ck_assert_int_eq(msig_public_key_parse(pubtext, plen, &pub, &err), 0);
    /* "Ed" is the only algorithm: a secret key's base64 is not a public key. */
    ck_assert_int_eq(msig_public_key_parse(sectext, slen, &pub, &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "base64 characters, expected 56"));
    /* An encrypted key is refused with what to do instead. */
    ck_assert_int_eq(run("printf 'pw\\npw\\n' | minisign -G -p e.pub -s e.key "
                         ">/dev/null 2>&1"),
                     0);
    char enc[1024];
    size_t elen = slurp(path_of("e.key"), enc, sizeof enc);
    ck_assert_int_eq(msig_secret_key_parse(enc, elen, &sec, &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "encrypted with a password"));
    /* A damaged secret key (one bit of its public half) is refused. */
    ck_assert_int_eq(msig_secret_key_parse(sectext, slen, &sec, &err), 0);
    msig_secret_key damaged = sec;
    damaged.sk[40] ^= 1;
    char out[400];
    int n = msig_secret_key_format(&damaged, out, sizeof out);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(msig_secret_key_parse(out, (size_t)n, &sec, &err), SMART_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "damaged key"));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("minisign");
    TCase *tc = tcase_create("formats");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reads_and_verifies_minisign_files);
    tcase_add_test(tc, test_minisign_verifies_ours);
    tcase_add_test(tc, test_strict_signature_text);
    tcase_add_test(tc, test_strict_keys);
    suite_add_tcase(s, tc);
    return s;
}
