/* The kept contract files written ahead, on the store's thread, while an adoption goes on
 * (store_keep_files_ahead): the adoption's store_put_adopted_files finds them kept, durable under
 * their final names, and reads them back; one the thread could not write is written, or refused
 * naming it, by store_put_adopted_files itself; a store closed with the thread running waits
 * for it. */
#include "check_main.h"

#include "store/kept_files.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    ck_assert(asprintf(&dir, "%s/kept-ahead-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void remove_tree(char *dir)
{
    char command[4200];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(command), 0);
    free(dir);
}

enum { FILES = 3 };

typedef struct set_files {
    const char *names[FILES], *texts[FILES];
    char sha_text[FILES][65];
    const char *shas[FILES];
    size_t lens[FILES];
} set_files;

static void make_set(set_files *f)
{
    static const char *const names[FILES] = {"A.json", "B.json", "C.json"};
    static const char *const texts[FILES] = {"{\"a\": 1}", "{\"b\": 2}", "{\"c\": 3}"};
    for (int i = 0; i < FILES; i++) {
        f->names[i] = names[i];
        f->texts[i] = texts[i];
        f->lens[i] = strlen(texts[i]);
        kept_sha256_hex(texts[i], f->lens[i], f->sha_text[i]);
        f->shas[i] = f->sha_text[i];
    }
}

typedef struct seen {
    int count;
    char text[FILES][16];
} seen;

static int note_file(void *ctx, const char *file, const char *sha256, const char *text, size_t len)
{
    (void)file, (void)sha256;
    seen *s = ctx;
    snprintf(s->text[s->count++], sizeof s->text[0], "%.*s", (int)len, text);
    return 0;
}

static bool kept_exists(const char *dir, const char *sha256)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s/%s", dir, KEPT_DIR_NAME, sha256);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

START_TEST(the_files_written_ahead_are_the_ones_the_adoption_keeps)
{
    char *dir = temp_dir();
    set_files f;
    make_set(&f);
    store *s = NULL;
    smart_error err = {0};
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    ck_assert_int_eq(store_keep_files_ahead(s, f.shas, f.texts, f.lens, FILES, &err), 0);
    ck_assert_msg(store_put_adopted_files(s, f.names, f.shas, f.texts, f.lens, FILES, 1000, &err) ==
                      0,
                  "%s", err.text);
    ck_assert_int_eq(store_commit(s, &err), 0);
    for (int i = 0; i < FILES; i++)
        ck_assert(kept_exists(dir, f.shas[i]));
    store_close(s);

    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    seen got = {0};
    ck_assert_msg(store_load_adopted_files(s, note_file, &got, &err) == 0, "%s", err.text);
    ck_assert_int_eq(got.count, FILES);
    for (int i = 0; i < FILES; i++)
        ck_assert_str_eq(got.text[i], f.texts[i]);
    store_close(s);
    remove_tree(dir);
}
END_TEST

/* The thread finds a directory in the way of the second file's name and stops there; the
 * adoption's own write of that file is refused naming it, so nothing refused is committed. */
START_TEST(a_file_the_thread_could_not_write_is_refused_by_the_adoption)
{
    char *dir = temp_dir();
    set_files f;
    make_set(&f);
    store *s = NULL;
    smart_error err = {0};
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    char blocker[4200];
    snprintf(blocker, sizeof blocker, "%s/%s", dir, KEPT_DIR_NAME);
    mkdir(blocker, 0755);
    snprintf(blocker, sizeof blocker, "%s/%s/%s.partial", dir, KEPT_DIR_NAME, f.shas[1]);
    ck_assert_int_eq(mkdir(blocker, 0755), 0);
    ck_assert_int_eq(store_keep_files_ahead(s, f.shas, f.texts, f.lens, FILES, &err), 0);
    int rc = store_put_adopted_files(s, f.names, f.shas, f.texts, f.lens, FILES, 1000, &err);
    ck_assert_int_eq(rc, SMART_EIO);
    ck_assert_msg(strstr(err.text, f.shas[1]) != NULL, "%s", err.text);
    ck_assert(kept_exists(dir, f.shas[0]));
    ck_assert(!kept_exists(dir, f.shas[1]));
    store_close(s);
    remove_tree(dir);
}
END_TEST

START_TEST(a_store_closed_while_the_thread_writes_waits_for_it)
{
    char *dir = temp_dir();
    set_files f;
    make_set(&f);
    store *s = NULL;
    smart_error err = {0};
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    ck_assert_int_eq(store_keep_files_ahead(s, f.shas, f.texts, f.lens, FILES, &err), 0);
    /* A second start waits for the first: one thread at a time. */
    ck_assert_int_eq(store_keep_files_ahead(s, f.shas, f.texts, f.lens, FILES, &err), 0);
    store_close(s);
    for (int i = 0; i < FILES; i++)
        ck_assert(kept_exists(dir, f.shas[i]));
    remove_tree(dir);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("store-kept-ahead");
    TCase *tc = tcase_create("kept-ahead");
    tcase_add_test(tc, the_files_written_ahead_are_the_ones_the_adoption_keeps);
    tcase_add_test(tc, a_file_the_thread_could_not_write_is_refused_by_the_adoption);
    tcase_add_test(tc, a_store_closed_while_the_thread_writes_waits_for_it);
    suite_add_tcase(s, tc);
    return s;
}
