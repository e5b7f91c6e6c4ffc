/* test_atomic.c — src/io/atomic: temporary + fsync + rename, appends, crashes. */
#include "check_main.h"
#include "io/atomic.h"
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    size_t got = fread(b, 1, (size_t)sz, f);
    b[got] = 0;
    fclose(f);
    if (n) *n = got;
    return b;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

START_TEST(write_file_replaces_content_and_leaves_no_temporary)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.bin", dir);
    Err err = {0};
    ck_assert_int_eq(atomic_write_file(path, "first version", 13, &err), 0);
    ck_assert_int_eq(atomic_write_file(path, "second", 6, &err), 0);
    size_t n;
    char *s = slurp(path, &n);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(s, "second");
    free(s);
    ck_assert_int_eq(count_entries(dir), 1);
    /* the mode open(2) gives: 0666 less the umask */
    mode_t um = umask(022);
    ck_assert_int_eq(atomic_write_file(path, "x", 1, &err), 0);
    struct stat st;
    stat(path, &st);
    ck_assert_msg((st.st_mode & 0777) == 0644, "mode %o", st.st_mode);
    umask(077);
    ck_assert_int_eq(atomic_write_file(path, "x", 1, &err), 0);
    stat(path, &st);
    ck_assert_msg((st.st_mode & 0777) == 0600, "mode %o", st.st_mode);
    umask(um);
    tu_rmtree(dir);
}
END_TEST

START_TEST(abort_keeps_the_old_file)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Err err = {0};
    ck_assert_int_eq(atomic_write_file(path, "good", 4, &err), 0);
    AtomicFile af;
    ck_assert_int_eq(atomic_open(&af, path, &err), 0);
    fputs("half-written garbage", af.f);
    fflush(af.f);
    /* Before commit the final name still holds the old bytes. */
    char *s = slurp(path, NULL);
    ck_assert_str_eq(s, "good");
    free(s);
    ck_assert_int_eq(count_entries(dir), 2);
    atomic_abort(&af);
    s = slurp(path, NULL);
    ck_assert_str_eq(s, "good");
    free(s);
    ck_assert_int_eq(count_entries(dir), 1);
    tu_rmtree(dir);
}
END_TEST

START_TEST(killed_writer_never_leaves_a_partial_file)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ckpt.bin", dir);
    Err err = {0};
    ck_assert_int_eq(atomic_write_file(path, "old", 3, &err), 0);
    pid_t pid = fork();
    if (pid == 0) {
        AtomicFile af;
        if (atomic_open(&af, path, &err)) _exit(3);
        for (int i = 0; i < 1000; i++) fputs("new data new data new data\n", af.f);
        fflush(af.f);
        for (;;) pause(); /* killed mid-write, before commit */
    }
    usleep(50 * 1000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status));
    char *s = slurp(path, NULL);
    ck_assert_str_eq(s, "old");
    free(s);
    /* its temporary is left over until atomic_remove_stale; other names stay */
    ck_assert_int_eq(count_entries(dir), 2);
    char keep[600];
    const char *others[] = {"ckpt.bin", "notes.tmp.txt", "a.tmp.12345", "b.tmp.1234567"};
    for (int i = 1; i < 4; i++) tu_write(dir, others[i], "x", 1, keep, sizeof keep);
    ck_assert_int_eq(atomic_remove_stale(dir), 1);
    ck_assert_int_eq(count_entries(dir), 4);
    for (int i = 0; i < 4; i++) {
        snprintf(keep, sizeof keep, "%s/%s", dir, others[i]);
        ck_assert_msg(access(keep, F_OK) == 0, "%s was removed", others[i]);
    }
    ck_assert_int_eq(atomic_remove_stale(dir), 0);
    snprintf(keep, sizeof keep, "%s/none", dir);
    ck_assert_int_eq(atomic_remove_stale(keep), -1);
    tu_rmtree(dir);
}
END_TEST

START_TEST(missing_folder_is_a_clear_error)
{
    Err err = {0};
    ck_assert_int_eq(atomic_write_file("/nonexistent-dir-fastc/x.csv", "a", 1, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "/nonexistent-dir-fastc/x.csv: cannot create"), "%s", err.msg);
    ck_assert_int_eq(atomic_append_line("/nonexistent-dir-fastc/m.csv", "a", &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "m.csv"), "%s", err.msg);
}
END_TEST

START_TEST(append_line_adds_newline_once)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    Err err = {0};
    ck_assert_int_eq(atomic_append_line(path, "epoch,train_loss", &err), 0);
    ck_assert_int_eq(atomic_append_line(path, "0,1.5\n", &err), 0);
    ck_assert_int_eq(atomic_append_line(path, "1,1.25", &err), 0);
    char *s = slurp(path, NULL);
    ck_assert_str_eq(s, "epoch,train_loss\n0,1.5\n1,1.25\n");
    free(s);
    tu_rmtree(dir);
}
END_TEST

START_TEST(mkdirs_creates_nested_and_accepts_existing)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs/pets/x", dir);
    Err err = {0};
    ck_assert_int_eq(atomic_mkdirs(path, &err), 0);
    ck_assert_int_eq(atomic_mkdirs(path, &err), 0);
    struct stat st;
    ck_assert(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    char file[600];
    snprintf(file, sizeof file, "%s/f", path);
    ck_assert_int_eq(atomic_write_file(file, "x", 1, &err), 0);
    ck_assert_int_eq(atomic_mkdirs(file, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "not a folder"), "%s", err.msg);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("atomic");
    TCase *t = tcase_create("atomic");
    tcase_add_test(t, write_file_replaces_content_and_leaves_no_temporary);
    tcase_add_test(t, abort_keeps_the_old_file);
    tcase_add_test(t, killed_writer_never_leaves_a_partial_file);
    tcase_add_test(t, missing_folder_is_a_clear_error);
    tcase_add_test(t, append_line_adds_newline_once);
    tcase_add_test(t, mkdirs_creates_nested_and_accepts_existing);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
