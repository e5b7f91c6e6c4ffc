/* state.h — the resume state container (state.safetensors in a run folder).
 *
 * One file holds everything `fastc train --resume` needs, written atomically
 * every epoch and when a run is stopped, so a crash leaves the previous complete state: named float and
 * uint64 arrays (weights, optimizer moments, RNG words...) and string values
 * (epoch, schedule position, best metric...).  The learner decides what goes
 * in; this module stores it and, on reading, checks that the file is a fastc
 * state of this format version written for the same model (its identity
 * line, models/weights.h weights_model_id: architecture, n_in, n_out and a
 * hash of the parameter names/shapes), with clear errors:
 *
 *     runs/x/state.safetensors: truncated file: tensor 'opt.0.0.weight.avg' needs ...
 *     runs/x/state.safetensors: resume state format 7; this fastc reads format 2
 *     runs/x/state.safetensors: written for a resnet34 model (n_in 3, n_out 10); this run's model is resnet18 (...)
 *
 * It is a safetensors file (metadata "fastc_state": "2"), so it can be
 * inspected with any safetensors tool.  Arrays are stored in fastc's own
 * memory layout (conv weights OHWI): this file is for fastc, not PyTorch.
 *
 *     StateWriter *w = state_writer_new(model_id);
 *     state_put_f32(w, "model.0.0.weight", w00, n, err);
 *     state_put_f32(w, "opt.avg.0", avg, n, err);
 *     state_set_int(w, "epoch", 3);
 *     state_write(w, "runs/x/state.safetensors", err);   // atomic
 *     state_writer_free(w);
 *
 *     StateFile *s;
 *     if (state_open("runs/x/state.safetensors", model_id, &s, err)) return err->code;
 *     state_get_f32(s, "model.0.0.weight", w00, n, err);
 *     state_get_int(s, "epoch", &epoch, err);
 *     state_close(s);
 */
#ifndef FASTC_IO_STATE_H
#define FASTC_IO_STATE_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* 2: a state can be written in the middle of an epoch (batch, n_batches,
 * epoch_secs, epoch_wait; pending lazy optimizer rows; opt.rsqr. arrays).
 * 3: the run's identity lines (learn/resume.h) and rec.n_val. */
#define STATE_FORMAT_VERSION "3"

typedef struct StateWriter StateWriter;
typedef struct StateFile StateFile;

/* model_id: the model's identity line, "resnet18 n_in=3 n_out=10 params=122
 * hash=1f2e..." (models/weights.h weights_model_id), kept in the file. */
StateWriter *state_writer_new(const char *model_id);   /* NULL on out of memory */
void state_writer_free(StateWriter *w);          /* NULL-safe */
/* Arrays are borrowed until state_write.  Names must be unique. */
int state_put_f32(StateWriter *w, const char *name, const float *v, size_t n, Err *err);
int state_put_u64(StateWriter *w, const char *name, const uint64_t *v, size_t n, Err *err);
int state_set(StateWriter *w, const char *key, const char *value);   /* 0, or -1 out of memory */
int state_set_int(StateWriter *w, const char *key, long long v);
int state_set_double(StateWriter *w, const char *key, double v);    /* exact (%.17g) */
int state_write(StateWriter *w, const char *path, Err *err);

/* Open and validate against this run's model_id (format, identity).  *out NULL on failure. */
int state_open(const char *path, const char *model_id, StateFile **out, Err *err);
void state_close(StateFile *s);   /* NULL-safe */
int state_has(const StateFile *s, const char *name);   /* an array of that name exists */
long long state_len(const StateFile *s, const char *name);   /* its number of values; -1 when absent */
/* Fill exactly n values; a missing array or another length is an error naming it. */
int state_get_f32(const StateFile *s, const char *name, float *dst, size_t n, Err *err);
int state_get_u64(const StateFile *s, const char *name, uint64_t *dst, size_t n, Err *err);
/* The array `name` is there with n f32 values, every one finite (a NaN
 * weight would train into NaN): checked without reading it anywhere. */
int state_check_f32(const StateFile *s, const char *name, size_t n, Err *err);
const char *state_get(const StateFile *s, const char *key);   /* NULL when absent */
int state_get_int(const StateFile *s, const char *key, long long *out, Err *err);
int state_get_double(const StateFile *s, const char *key, double *out, Err *err);
/* Refuse to resume when a recorded value differs from this run's:
 * "<path>: written with <key> = A; this run has B". Absent keys are an error too. */
int state_require(const StateFile *s, const char *key, const char *expected, Err *err);

#endif
