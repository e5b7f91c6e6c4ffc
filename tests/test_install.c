/* test_install.c — `make install` / `make uninstall` (Makefile, tools/gendocs.c,
 * cmd_print_man and cmd_print_bash_completion in src/cmd/args.c): installed
 * into a temporary DESTDIR under PREFIX=/usr, the binary, fastc(1) and the
 * bash completion are where GNU's directory variables put them; every line of
 * `fastc --help`, of each `fastc COMMAND --help` and of `fastc --help config`
 * is in the manual page, each command under its own .SS heading in the table's
 * order; the completion script completes commands, a command's flags and
 * `--set` keys from the schema; uninstall removes all three. */
#include "check_main.h"
#include "testimg.h"
#include "testutil.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *COMMANDS[] = {"train", "lr_find", "interpret", "predict", "show_batch", "summary", "validate", "get"};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static char dest[512], build[1024];

/* The build folder of the fastc under test, as make names it (INSTALL_BUILD=
 * build/release or build/san, relative to the source tree the tests run in): the san tree's
 * rules carry the sanitizer flags. */
static const char *build_dir(void)
{
    char tmp[1024], cwd[1024];
    snprintf(tmp, sizeof tmp, "%s", tu_fastc());
    const char *d = dirname(tmp);
    size_t n = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
    if (n && !strncmp(d, cwd, n) && d[n] == '/') d += n + 1;
    snprintf(build, sizeof build, "%s", d);
    return build;
}

/* troff back to text: \- → -, \e → \, \& dropped */
static char *untroff(const char *s)
{
    char *o = malloc(strlen(s) + 1), *p = o;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == '-') *p++ = '-', s++;
        else if (s[0] == '\\' && s[1] == 'e') *p++ = '\\', s++;
        else if (s[0] == '\\' && s[1] == '&') s++;
        else *p++ = *s;
    }
    *p = 0;
    return o;
}

/* Every line of `fastc ARGS` appears in text, in order, after `from`; returns where the last one was. */
static const char *lines_in(const char *args, const char *text, const char *from)
{
    char cmd[2048];
    static char out[1 << 17];
    snprintf(cmd, sizeof cmd, "'%s' %s", tu_fastc(), args);
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 0);
    const char *at = from;
    char *save, *line;
    for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *hit = strstr(at, line);
        ck_assert_msg(hit != NULL, "fastc %s: line not in the manual page (in order): '%s'", args, line);
        at = hit;
    }
    return at;
}

static int exists(const char *dir, const char *name)
{
    char p[2048];
    struct stat st;
    snprintf(p, sizeof p, "%s%s", dir, name);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* COMPREPLY of the installed completion for the words given (the last one is completed). */
static void complete(const char *words, int cword, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "bash -c 'source \"%s/usr/share/bash-completion/completions/fastc\"; COMP_WORDS=(%s); COMP_CWORD=%d; "
             "_fastc; echo \"${COMPREPLY[*]}\"'",
             dest, words, cword);
    ck_assert_int_eq(tu_run(cmd, out, cap), 0);
}

START_TEST(install_puts_binary_man_page_and_completion_under_destdir)
{
    char cmd[4096], out[1 << 14];
    tu_tmpdir(dest, sizeof dest);
    snprintf(cmd, sizeof cmd, "make -s --no-print-directory install INSTALL_BUILD=%s DESTDIR='%s' PREFIX=/usr 2>&1",
             build_dir(), dest);
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "make install: exit %d: %s", rc, out);
    ck_assert(exists(dest, "/usr/bin/fastc"));
    ck_assert(exists(dest, "/usr/share/man/man1/fastc.1"));
    ck_assert(exists(dest, "/usr/share/bash-completion/completions/fastc"));
    /* the installed binary runs */
    snprintf(cmd, sizeof cmd, "'%s/usr/bin/fastc' --version", dest);
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 0);
    ck_assert(strncmp(out, "fastc ", 6) == 0);

    /* the manual page says what --help says */
    char p[1024];
    snprintf(p, sizeof p, "%s/usr/share/man/man1/fastc.1", dest);
    size_t n;
    char *raw = (char *)ti_read_all(p, &n), *man = untroff(raw);
    ck_assert(strstr(raw, ".TH FASTC 1") && strstr(raw, ".SH NAME\nfastc \\- "));
    lines_in("--help", man, man);
    const char *at = strstr(man, ".SH COMMANDS");
    ck_assert_ptr_nonnull(at);
    for (int i = 0; i < N_COMMANDS; i++) {
        char head[64], args[64];
        snprintf(head, sizeof head, "\n.SS %s\n", COMMANDS[i]);
        const char *h = strstr(at, head);
        ck_assert_msg(h != NULL, "no section for %s after the previous one", COMMANDS[i]);
        snprintf(args, sizeof args, "%s --help", COMMANDS[i]);
        lines_in(args, man, h);
        at = h;
    }
    const char *cfg = strstr(man, ".SH CONFIGURATION");
    ck_assert_ptr_nonnull(cfg);
    lines_in("--help config", man, cfg);
    free(raw), free(man);

    /* completion: commands, flags, schema keys */
    complete("fastc tr", 1, out, sizeof out);
    ck_assert_str_eq(out, "train\n");
    complete("fastc interpret --most", 2, out, sizeof out);
    ck_assert_str_eq(out, "--most-confused\n");
    complete("fastc train --set model.pre", 3, out, sizeof out);
    ck_assert_msg(strstr(out, "model.pretrained=") && strstr(out, "model.precision="), "%s", out);
    complete("fastc train --set learner.", 3, out, sizeof out);
    ck_assert_msg(strstr(out, "learner.metrics=") && strstr(out, "learner.seed="), "%s", out);
    complete("fastc show_batch --", 2, out, sizeof out);
    ck_assert_msg(strstr(out, "--out") && strstr(out, "--n") && !strstr(out, "--resume"), "%s", out);

    snprintf(cmd, sizeof cmd, "make -s --no-print-directory uninstall INSTALL_BUILD=%s DESTDIR='%s' PREFIX=/usr 2>&1",
             build_dir(), dest);
    rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "make uninstall: exit %d: %s", rc, out);
    ck_assert(!exists(dest, "/usr/bin/fastc") && !exists(dest, "/usr/share/man/man1/fastc.1") &&
              !exists(dest, "/usr/share/bash-completion/completions/fastc"));
    tu_rmtree(dest);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("install");
    TCase *t = tcase_create("install");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, install_puts_binary_man_page_and_completion_under_destdir);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
