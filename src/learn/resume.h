/* resume.h — a run's resume state: state.safetensors in its output folder
 * (io/state.h), what `fastc train --resume` needs to go on exactly where the
 * run stopped.
 *
 * It holds the weights and buffers, the optimizer's moments, step counters,
 * hypers and pending lazy rows (optim.h), the frozen flags, the position in
 * the schedule (stage, epoch, batch within the epoch), the counters, the
 * smoothed loss, the trackers and the recorder; and the run's identity: one
 * "name = value" line for everything the run's numbers and files depend on
 * (LearnerOpts.run_config — for `fastc train` the resolved config — then the
 * metrics.csv columns, every schedule step, the seed, the optimizer and
 * callback settings, the item counts and the batch size).
 *
 * learner_save_state writes it atomically (io/atomic.h), at the end of every
 * epoch and at a stop.  learner_resume reads it all or nothing: every value
 * is read and checked (present, sized, in range, finite, consistent with
 * metrics.csv) before the learner or any file changes; only then is
 * metrics.csv cut back to the epochs the state holds (a row appended after
 * the state was written goes) and the learner set to the saved position.
 *
 * learner_resume returns
 *   0                 resumed;
 *   RESUME_NO_STATE   there is no state file (the only case in which a run
 *                     may start from the beginning);
 *   ERR_USAGE         the state cannot be this run's: another model, format,
 *                     identity line (named: "the run started with [learner]
 *                     metrics = error_rate; this run has accuracy"), or a
 *                     position this schedule does not have;
 *   ERR_RUNTIME       the state or metrics.csv is damaged or unreadable
 *                     (truncated, a tensor missing or mis-sized, a value out
 *                     of range or not finite), named.
 * On any error nothing has changed, in memory or on disk.
 */
#ifndef FASTC_LEARN_RESUME_H
#define FASTC_LEARN_RESUME_H

#include "core/err.h"
#include "learn/sched.h"

typedef struct Learner Learner;

enum { RESUME_NO_STATE = -1 };

int learner_save_state(Learner *l, Err *err);
int learner_resume(Learner *l, const Schedule *s, Err *err);

#endif
