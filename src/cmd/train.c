/* train.c — `fastc train CONFIG [--set ...] [--resume]`: the pipeline, then
 * the [train] schedule through the learner; writes config.ini, metrics.csv,
 * best.safetensors (SaveModelCallback), state.safetensors (every epoch),
 * losses.png and, at the end, model.safetensors in the output dir.
 *
 * SIGINT/SIGTERM: the current batch finishes, the resume state as of that
 * batch is written, exit 130/143; `--resume` continues with the next batch
 * (learner.h).  A second signal before that is done ends the process at
 * once, killed by that signal: the state being written is a temporary file
 * (io/atomic.h), so the last state written whole stays; the next run removes
 * the temporary. */
#include "cmd/cmd.h"

#include "cmd/pipeline.h"
#include "config/config.h"
#include "data/warnings.h"
#include "io/atomic.h"
#include "learn/learner.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The global state a signal handler needs: which signal arrived, whether
 * to say what happens (not with --quiet), and whether stderr is a terminal
 * (a progress bar may be on the line). */
static volatile sig_atomic_t stop_signal, stop_say, stop_tty;
/* Signals so far: counted atomically, since two can arrive at once in two
 * threads (a lock-free atomic is async-signal-safe). */
static atomic_int n_signals;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free atomic_int");

/* msg starts with a newline, written only on a terminal */
static void say_now(const char *msg, size_t n)
{
    if (!stop_say) return;
    ssize_t w = write(STDERR_FILENO, msg + !stop_tty, n - !stop_tty);   /* async-signal-safe, unlike stdio */
    (void)w;
}

static void on_signal(int sig)
{
    if (atomic_fetch_add(&n_signals, 1) > 0) {
        /* the second: die of it now (the default action, so a calling shell
         * sees the signal), only async-signal-safe calls */
        static const char m[] = "\nfastc: stopped at once (second signal); the resume state on disk stays as it was\n";
        say_now(m, sizeof m - 1);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    stop_signal = sig;
    static const char m[] = "\nfastc: stopping after the current batch to write the resume state (Ctrl-C again: quit at "
                            "once)\n";
    say_now(m, sizeof m - 1);
}

static void note(const Pipeline *p, const char *fmt, const char *s)
{
    if (p->ctx.quiet) return;
    fprintf(stderr, fmt, s);
}

int cmd_train(const CmdArgs *a, Err *err)
{
    Pipeline p;
    Schedule s = {0};
    Learner *l = NULL;
    struct sigaction sa = {0}, old_int, old_term;
    int rc = pipeline_open(&p, a, PIPE_MODEL, err);
    if (rc) goto done;
    LearnerOpts o;
    if ((rc = pipeline_learner_opts(&p, &o, err)) || (rc = pipeline_schedule(&p, &s, err)) ||
        (rc = pipeline_mkdir_out(&p, err)))
        goto done;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.ini", p.out_dir);
    if ((rc = config_write(p.setup.cfg, path, err))) goto done;
    if (p.note[0]) note(&p, "note: [model] pretrained: %s\n", p.note);
    data_warn_build_skips(stderr, &p.ds);   /* data warnings: --quiet or not */

    /* temporaries of a run stopped at once (a second signal) or killed while writing */
    atomic_remove_stale(p.out_dir);
    stop_signal = 0;
    atomic_store(&n_signals, 0);
    stop_say = !p.ctx.quiet, stop_tty = isatty(STDERR_FILENO);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;   /* loader threads reading files must not see EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    o.stop = &stop_signal;

    if (!(l = learner_new(p.model, p.dls, &o, err))) {
        rc = err->code;
        goto restore;
    }
    if (p.pretrained) learner_freeze_to(l, -1);   /* vision_learner: pretrained → freeze() */
    snprintf(path, sizeof path, "%s/state.safetensors", p.out_dir);
    if (a->resume) {
        rc = learner_resume(l, &s, err);
        if (rc == 1) {
            note(&p, "note: no resume state in %s: starting from the beginning\n", p.out_dir);
            rc = 0;
        } else if (rc) {
            goto restore;
        } else if (!p.ctx.quiet && l->batch > 0) {
            fprintf(stderr, "resuming %s in epoch %d after batch %d of %d (schedule step %d)\n", p.out_dir, l->epoch,
                    l->batch, l->n_batches, l->stage + 1);
        } else if (!p.ctx.quiet) {
            fprintf(stderr, "resuming %s after epoch %d (schedule step %d)\n", p.out_dir, l->epoch, l->stage + 1);
        }
    } else if (unlink(path) != 0 && errno != ENOENT) {
        rc = err_set(err, ERR_RUNTIME, "%s: cannot remove the old resume state: %s", path, strerror(errno));
        goto restore;
    }
    rc = learner_fit_schedule(l, &s, err);
    /* what the image loader met while training: unreadable files, time the steps waited for data */
    data_warn_load_skips(stderr, &p.ds, p.dls);
    if (p.dls && !p.ctx.quiet && !p.ctx.json) fprintf(stderr, "time waiting for data: %.2f s\n", p.dls->wait_s);
    if (rc) goto restore;
    snprintf(path, sizeof path, "%s/model.safetensors", p.out_dir);
    if ((rc = pipeline_save_model(&p, p.model, path, p.setup.threshold, err)) || (rc = learner_plot_losses(l, err)))
        goto restore;
    if (!p.ctx.quiet && !p.ctx.json) fprintf(stderr, "saved %s\n", path);
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    learner_free(l);
    schedule_free(&s);
    pipeline_close(&p);
    return rc;
}
