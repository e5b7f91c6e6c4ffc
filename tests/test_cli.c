/* test_cli.c — the fastc command line, run as a user runs it: exit status
 * 0 / 1 / 2, one-line errors on stderr, --help for every command, --version
 * with the BLAS core, validate's output, --set from the command line, and
 * every example config in configs/ passing validate. */
#include "check_main.h"
#include "io/json.h"
#include "testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[1 << 16];
static char tmpdir[1024];

static void setup(void) { tu_tmpdir(tmpdir, sizeof tmpdir); }
static void teardown(void) { tu_rmtree(tmpdir); }

/* Run `fastc <args>`; stdout+stderr in out.  stderr_only drops stdout. */
static int run(int stderr_only, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(int stderr_only, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if (stderr_only) snprintf(cmd, sizeof cmd, "{ %s %s 2>&1 >/dev/null; }", tu_fastc(), args);
    else snprintf(cmd, sizeof cmd, "%s %s", tu_fastc(), args);
    return tu_run(cmd, out, sizeof out);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static const char *COMMANDS[] = {"train", "lr_find", "interpret", "predict", "show_batch", "summary", "validate", "get"};

static const char *VALID = "[data]\npath = images\nblocks = ImageBlock, CategoryBlock\nget_y = parent_label\n"
                           "[model]\narch = resnet18\n[train]\nschedule = fit_one_cycle(1)\n";

static const char *write_config(const char *name, const char *text)
{
    static char path[2048];
    return tu_write(tmpdir, name, text, strlen(text), path, sizeof path);
}

START_TEST(version_names_blas_core_and_threads)
{
    ck_assert_int_eq(run(0, "--version"), 0);
    ck_assert_ptr_nonnull(strstr(out, "fastc "));
    ck_assert_ptr_nonnull(strstr(out, "core in use: "));
    ck_assert_ptr_nonnull(strstr(out, "threads: "));
    ck_assert_int_eq(run(0, "--version --threads 1"), 0); /* flags after --version are ignored */
}
END_TEST

/* Waiting OpenMP threads sleep unless the user asks otherwise (ctx_default_wait_policy):
 * fastc re-executes itself with OMP_WAIT_POLICY=PASSIVE, and a user's setting stands. */
START_TEST(version_shows_passive_wait_policy_by_default)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env -u OMP_WAIT_POLICY %s --version", tu_fastc());
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "OpenMP wait policy: PASSIVE\n"), "%s", out);
    snprintf(cmd, sizeof cmd, "env OMP_WAIT_POLICY=ACTIVE %s --version", tu_fastc());
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "OpenMP wait policy: ACTIVE\n"), "%s", out);
    snprintf(cmd, sizeof cmd, "env -u OMP_WAIT_POLICY %s validate /nonexistent.ini", tu_fastc());
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 2);   /* the re-executed program keeps argv and exit status */
    ck_assert_msg(strstr(out, "/nonexistent.ini"), "%s", out);
}
END_TEST

START_TEST(help_for_every_command)
{
    ck_assert_int_eq(run(0, "--help"), 0);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        ck_assert_msg(strstr(out, COMMANDS[i]), "overview lacks %s", COMMANDS[i]);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "Usage: fastc %s ", COMMANDS[i]);
        ck_assert_int_eq(run(0, "%s --help", COMMANDS[i]), 0);
        ck_assert_msg(strstr(out, want), "%s --help: %s", COMMANDS[i], out);
        ck_assert_ptr_nonnull(strstr(out, "--threads N"));
        ck_assert_int_eq(run(0, "--help %s", COMMANDS[i]), 0);
        ck_assert_msg(strstr(out, want), "--help %s", COMMANDS[i]);
    }
    ck_assert_int_eq(run(0, "interpret -h"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--most-confused"));
}
END_TEST

START_TEST(help_config_lists_every_key_and_component)
{
    ck_assert_int_eq(run(0, "--help config"), 0);
    const char *want[] = {"[data]", "[model]", "[learner]", "[train]", "[output]", "  bs ", "on_bad_item",
                          "Resize(size, method='crop', pad_mode='reflection')", "fine_tune(epochs, base_lr=2e-3",
                          "Normalize.from_stats(mean, std=None)", "RandomSplitter(valid_pct=0.2, seed=None)"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]), "--help config lacks %s", want[i]);
    ck_assert_int_eq(run(0, "validate --help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "on_bad_item"));
}
END_TEST

START_TEST(usage_errors_exit_2_with_one_line)
{
    struct { const char *args, *text; } cases[] = {
        {"", "Usage:"},
        {"trian x.ini", "fastc: found unknown command 'trian', expected a command (did you mean train?)\n"},
        {"validate", "fastc validate: found 0 arguments, expected one CONFIG file"},
        {"validate a.ini b.ini", "found 2 arguments"},
        {"validate a.ini --thread 2", "fastc validate: found unknown option --thread, expected an option of validate "
                                      "(did you mean --threads?)\n"},
        {"validate a.ini --top-losses 3", "fastc validate: found option --top-losses, expected options of validate only"},
        {"validate a.ini --threads 0", "fastc: --threads: found '0', expected an integer in [1, 4096]\n"},
        {"validate a.ini --threads", "fastc validate: found --threads at the end, expected --threads N\n"},
        {"interpret a.ini --top-losses x", "fastc: --top-losses: found 'x', expected an integer"},
        {"interpret a.ini --min 3", "fastc interpret: found --min without --most-confused, expected both\n"},
        {"interpret a.ini --min 1", "fastc interpret: found --min without --most-confused, expected both\n"},
        {"interpret a.ini --most-confused --min -1", "fastc: --min: found '-1', expected an integer in [0, "},
        {"predict a.ini", "fastc predict: found no INPUT"},
        {"predict --model m.safetensors", "fastc predict: found no INPUT"},
        {"predict c.ini --model m.safetensors x.png", "fastc predict: found both c.ini and --model, expected one of them\n"},
        {"get", "fastc get: found 0 arguments, expected DATASET [DIR]\n"},
        {"get a b c", "fastc get: found 3 arguments, expected DATASET [DIR]\n"},
        {"train a.ini --set bs", "fastc train: --set bs: found no '=', expected SECTION.KEY=VALUE\n"},
        {"--help nothing", "fastc --help: found 'nothing', expected a command or 'config'\n"},
        {"--quiet validate a.ini", "found option --quiet before a command"},
        {"validate a.ini --quiet=1", "expected --quiet without a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(1, "%s", cases[i].args);
        ck_assert_msg(rc == 2, "fastc %s: exit %d, output %s", cases[i].args, rc, out);
        ck_assert_msg(strstr(out, cases[i].text), "fastc %s: %s", cases[i].args, out);
        if (i > 0) ck_assert_msg(count_lines(out) == 1, "fastc %s: not one line: %s", cases[i].args, out);
    }
}
END_TEST

START_TEST(validate_prints_resolved_config)
{
    const char *cfg = write_config("v.ini", VALID);
    ck_assert_int_eq(run(0, "validate '%s'", cfg), 0);
    ck_assert_ptr_nonnull(strstr(out, "\nbs = 64\n"));
    ck_assert_ptr_nonnull(strstr(out, "\narch = resnet18\n"));
    ck_assert_ptr_nonnull(strstr(out, "schedule = fit_one_cycle(n_epoch=1, lr_max=None"));
    ck_assert_ptr_nonnull(strstr(out, "note: [data] path: data not found: ")); /* absent data: a note, exit 0 */
    /* --set on the command line, both spellings */
    ck_assert_int_eq(run(0, "validate '%s' --set data.bs=32 --set=learner.lr=3e-3", cfg), 0);
    ck_assert_ptr_nonnull(strstr(out, "\nbs = 32\n"));
    ck_assert_ptr_nonnull(strstr(out, "\nlr = 0.003\n"));
    /* --quiet: nothing at all on success */
    ck_assert_int_eq(run(0, "validate --quiet '%s'", cfg), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Parse out as one JSON value (the project's strict reader); fails the test otherwise. */
static Json *parse_out(void)
{
    Err e = {0};
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '\n') n--;
    Json *j = json_parse(out, n, &e);
    ck_assert_msg(j, "not JSON (%s): %s", e.msg, out);
    return j;
}

/* validate --json: the resolved config as JSON values, not Python source in
 * strings: numbers, strings, true/false/null, lists, components as
 * {"call", "args"}, slices as {"slice": [lo, hi]}, paths absolute. */
START_TEST(validate_json_gives_json_values)
{
    const char *cfg = write_config("v.ini", VALID);
    ck_assert_int_eq(run(0, "validate --json '%s' --set 'train.schedule=fit_one_cycle(2, slice(1e-4, 1e-2)), "
                            "unfreeze()' 2>/dev/null", cfg), 0);
    Json *j = parse_out();
    ck_assert(json_get(j, "valid")->type == JSON_BOOL && json_get(j, "valid")->boolean);
    const Json *c = json_get(j, "config"), *data = json_get(c, "data");
    const Json *bs = json_get(data, "bs");
    ck_assert(bs->type == JSON_NUMBER && bs->is_int && bs->i == 64);
    ck_assert(json_get(data, "csv")->type == JSON_NULL);
    const Json *path = json_get(data, "path");
    ck_assert(path->type == JSON_STRING && path->str[0] == '/' && strstr(path->str, "/images"));
    const Json *blocks = json_get(data, "blocks");
    ck_assert(blocks->type == JSON_ARRAY && json_len(blocks) == 2);
    ck_assert_str_eq(json_get(json_at(blocks, 1), "call")->str, "CategoryBlock");
    const Json *sort = json_get(json_get(json_at(blocks, 1), "args"), "sort");
    ck_assert(sort->type == JSON_BOOL && sort->boolean);
    const Json *sched = json_get(json_get(c, "train"), "schedule");
    ck_assert(sched->type == JSON_ARRAY && json_len(sched) == 2);
    const Json *args = json_get(json_at(sched, 0), "args");
    ck_assert_str_eq(json_get(json_at(sched, 0), "call")->str, "fit_one_cycle");
    ck_assert(json_get(args, "n_epoch")->type == JSON_NUMBER && json_get(args, "n_epoch")->num == 2);
    const Json *sl = json_get(json_get(args, "lr_max"), "slice");
    ck_assert(sl && json_len(sl) == 2 && json_at(sl, 0)->num == 1e-4 && json_at(sl, 1)->num == 1e-2);
    ck_assert(json_get(json_get(c, "model"), "arch")->type == JSON_OBJECT);
    const Json *notes = json_get(j, "notes");
    ck_assert(notes->type == JSON_ARRAY && json_len(notes) == 1);
    ck_assert(strstr(json_at(notes, 0)->str, "note: [data] path: data not found"));
    json_free(j);
}
END_TEST

/* --version --json and errors under --json: one JSON object on one line,
 * {"error": message, "exit_status": N}, whatever the kind of error. */
START_TEST(version_and_errors_under_json)
{
    ck_assert_int_eq(run(0, "--version --json"), 0);
    Json *j = parse_out();
    ck_assert_str_eq(json_get(j, "fastc")->str, "0.1.0");
    ck_assert(json_get(j, "core")->type == JSON_STRING && json_get(j, "threads")->type == JSON_NUMBER);
    ck_assert(strstr(json_get(j, "blas")->str, "OpenBLAS"));
    json_free(j);
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", write_config("bad.ini", "[data]\nbsz = 3\n"));
    struct { const char *args; int rc; const char *text; } cases[] = {
        {"train x.ini --bogus --json", 2, "found unknown option --bogus"},   /* argv */
        {"validate --json '%s'", 2, "bad.ini:2: [data] bsz: found unknown key bsz"},   /* config */
        {"validate --json /nonexistent/x.ini", 2, "/nonexistent/x.ini"},
        {"train --json '%s' --set data.bs=0", 2, "bad.ini"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cases[i].args, bad);
        int rc = run(1, "%s", args);
        ck_assert_msg(rc == cases[i].rc, "%s: exit %d: %s", args, rc, out);
        ck_assert_msg(count_lines(out) == 1, "%s: %s", args, out);
        j = parse_out();
        ck_assert_msg(strstr(json_get(j, "error")->str, cases[i].text), "%s: %s", args, out);
        ck_assert_int_eq(json_get(j, "exit_status")->i, cases[i].rc);
        json_free(j);
    }
    /* a run-time failure (exit 1) too */
    const char *nodata = write_config("nodata.ini", VALID);
    ck_assert_int_eq(run(1, "train --json --quiet '%s'", nodata), 1);
    j = parse_out();
    ck_assert_int_eq(json_get(j, "exit_status")->i, 1);
    json_free(j);
    /* without --json the same error is plain text */
    ck_assert_int_eq(run(1, "validate '%s'", bad), 2);
    ck_assert_msg(out[0] != '{', "%s", out);
}
END_TEST

/* --json before the command is the same option (`fastc --json --version`,
 * `fastc --json validate x.ini`): it used to be refused as "option before a
 * command", in plain text; alone it is still a usage error, as JSON. */
START_TEST(json_may_come_before_the_command)
{
    ck_assert_int_eq(run(0, "--json --version"), 0);
    Json *j = parse_out();
    ck_assert_str_eq(json_get(j, "fastc")->str, "0.1.0");
    json_free(j);
    const char *good = write_config("good.ini", VALID);
    ck_assert_int_eq(run(0, "--json validate '%s' 2>/dev/null", good), 0);
    j = parse_out();
    ck_assert(json_get(j, "valid")->type == JSON_BOOL && json_get(j, "valid")->boolean);
    json_free(j);
    const char *bad = write_config("bad.ini", "[data]\nbsz = 3\n");
    ck_assert_int_eq(run(1, "--json validate '%s'", bad), 2);
    ck_assert_int_eq(count_lines(out), 1);
    j = parse_out();
    ck_assert(strstr(json_get(j, "error")->str, "bad.ini:2: [data] bsz"));
    json_free(j);
    ck_assert_int_eq(run(1, "--json"), 2);
    j = parse_out();
    ck_assert(strstr(json_get(j, "error")->str, "expected a command"));
    json_free(j);
}
END_TEST

/* get --json: what was made, where, and whether it was there already. */
START_TEST(get_json_says_what_it_made)
{
    ck_assert_int_eq(run(0, "get shapes '%s/shapes' --n 12 --json", tmpdir), 0);
    Json *j = parse_out();
    ck_assert_str_eq(json_get(j, "dataset")->str, "shapes");
    ck_assert(strstr(json_get(j, "dir")->str, "/shapes"));
    ck_assert(json_get(j, "already_complete")->type == JSON_BOOL && !json_get(j, "already_complete")->boolean);
    ck_assert(json_get(j, "seconds")->type == JSON_NUMBER);
    json_free(j);
    ck_assert_int_eq(run(0, "get shapes '%s/shapes' --n 12 --json", tmpdir), 0);
    j = parse_out();
    ck_assert(json_get(j, "already_complete")->boolean);
    json_free(j);
}
END_TEST

START_TEST(config_errors_exit_2_with_file_line)
{
    char want[4096];
    const char *cfg = write_config("bad.ini", "[data]\nbsz = 3\n");
    ck_assert_int_eq(run(1, "validate '%s'", cfg), 2);
    snprintf(want, sizeof want, "%s:2: [data] bsz: found unknown key bsz, expected a key of [data] (did you mean bs?)\n",
             cfg);
    ck_assert_str_eq(out, want);
    cfg = write_config("ok.ini", VALID);
    ck_assert_int_eq(run(1, "validate '%s' --set data.bs=0", cfg), 2);
    ck_assert_str_eq(out, "--set data.bs=0: [data] bs: found number 0, expected an integer in [1, 65536]\n");
    ck_assert_int_eq(run(1, "validate '%s/none.ini'", tmpdir), 2);
    ck_assert_int_eq(count_lines(out), 1);
    ck_assert_int_eq(run(1, "validate '%s'", tmpdir), 2);
    ck_assert_ptr_nonnull(strstr(out, "found a directory"));
    /* config errors exit 2 from every command that reads a config */
    cfg = write_config("bad.ini", "[data]\nbsz = 3\n");
    const char *cmds[] = {"train", "lr_find", "interpret", "show_batch", "summary"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = run(1, "%s '%s'", cmds[i], cfg);
        ck_assert_msg(rc == 2 || strstr(out, "not available yet"), "%s: exit %d: %s", cmds[i], rc, out);
    }
}
END_TEST

START_TEST(runtime_failure_exits_1)
{
    /* valid config, absent data: training cannot run */
    const char *cfg = write_config("nodata.ini", VALID);
    ck_assert_int_eq(run(1, "train '%s' --quiet", cfg), 1);
    ck_assert_int_ge(count_lines(out), 1);
    ck_assert(strlen(out) > 0);
}
END_TEST

START_TEST(example_configs_validate)
{
    const char *configs[] = {"fashion_mnist", "pets", "multilabel", "shapes_pretrain", "points", "collab", "collab_latest"};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        int rc = run(1, "validate configs/%s.ini", configs[i]);
        ck_assert_msg(rc == 0, "configs/%s.ini: exit %d: %s", configs[i], rc, out);
        /* stderr holds only notes about absent data */
        for (const char *p = out; *p; p = strchr(p, '\n') + 1) {
            ck_assert_msg(!strncmp(p, "note: ", 6), "configs/%s.ini: %s", configs[i], p);
            if (!strchr(p, '\n')) break;
        }
    }
}
END_TEST

START_TEST(the_process_keeps_its_name_after_re_executing_itself)
{
    /* fastc runs itself again at start-up (OMP_WAIT_POLICY, OPENBLAS_CORETYPE
     * are read when the libraries load); the kernel named the new image
     * "exe" after /proc/self/exe, and so did ps, top and the OOM killer's log.
     * Read its name while it is blocked writing `--help config` (10 KB) into
     * a pipe of 4 KB: by then it runs its final image. */
    int fd[2];
    ck_assert(pipe(fd) == 0);
    ck_assert(fcntl(fd[1], F_SETPIPE_SZ, 4096) >= 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]), close(fd[1]);
        unsetenv("OMP_WAIT_POLICY");   /* so that the re-exec happens */
        execl(tu_fastc(), tu_fastc(), "--help", "config", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    struct pollfd p = {.fd = fd[0], .events = POLLIN};
    ck_assert(poll(&p, 1, 60000) == 1);   /* it writes: it is past the re-exec */
    char path[64], comm[64] = "", env[1 << 16];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(comm, sizeof comm, f));
    fclose(f);
    /* proof that it did re-execute: the final image's environment has the
     * policy set, which the first one did not */
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(env, 1, sizeof env - 1, f);
    fclose(f);
    env[n] = 0;
    int passive = 0;
    for (size_t i = 0; i < n; i += strlen(env + i) + 1) passive |= !strcmp(env + i, "OMP_WAIT_POLICY=PASSIVE");
    char buf[4096];
    while (read(fd[0], buf, sizeof buf) > 0) {}
    close(fd[0]);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(passive, "no re-exec happened: the test proves nothing");
    const char *base = strrchr(tu_fastc(), '/') ? strrchr(tu_fastc(), '/') + 1 : tu_fastc();
    char want[64];
    snprintf(want, sizeof want, "%.15s\n", base);   /* the kernel keeps 15 characters */
    ck_assert_str_eq(comm, want);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli");
    TCase *t = tcase_create("cli");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, version_names_blas_core_and_threads);
    tcase_add_test(t, version_shows_passive_wait_policy_by_default);
    tcase_add_test(t, the_process_keeps_its_name_after_re_executing_itself);
    tcase_add_test(t, help_for_every_command);
    tcase_add_test(t, help_config_lists_every_key_and_component);
    tcase_add_test(t, usage_errors_exit_2_with_one_line);
    tcase_add_test(t, validate_prints_resolved_config);
    tcase_add_test(t, validate_json_gives_json_values);
    tcase_add_test(t, version_and_errors_under_json);
    tcase_add_test(t, json_may_come_before_the_command);
    tcase_add_test(t, get_json_says_what_it_made);
    tcase_add_test(t, config_errors_exit_2_with_file_line);
    tcase_add_test(t, runtime_failure_exits_1);
    tcase_add_test(t, example_configs_validate);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
