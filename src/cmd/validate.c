/* validate.c — `fastc validate CONFIG`: load the config and build every spec
 * from it (setup/setup.h: the whole setup layer, as train runs it, without
 * reading any data), so that a config train would refuse is refused here
 * (exit 2); print the resolved config, and note data that is not there yet.
 * Absent data is not a config mistake (`fastc get` may fetch it later), so it
 * is a note on stderr and the exit status stays 0. */
#include "cmd/cmd.h"
#include "config/config.h"
#include "io/json.h"
#include "io/pth.h"
#include "setup/setup.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Note {
    char text[4400];
} Note;

static int missing(const char *section, const char *key, const char *path, Note *note)
{
    struct stat st;
    if (!path || stat(path, &st) == 0) return 0;
    snprintf(note->text, sizeof note->text, "note: [%s] %s: data not found: %s", section, key, path);
    return 1;
}

/* pretrained = True: torchvision's file absent from its cache (fetched later, perhaps) */
static int missing_torchvision(const SetupModel *m, Note *note)
{
    char path[4096];
    Err err = {0};
    if (!m->pretrained_torchvision || !pth_torchvision_cached(m->arch, path, sizeof path, &err)) return 0;
    snprintf(note->text, sizeof note->text, "note: [model] %s", err.msg);
    return 1;
}

int cmd_validate(const CmdArgs *a, Err *err)
{
    Setup s;
    if (setup_load(&s, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    Note notes[5];
    int n_notes = 0;
    n_notes += missing("data", "path", s.paths.data, &notes[n_notes]);
    n_notes += missing("data", "csv", s.paths.csv, &notes[n_notes]);
    n_notes += missing("data", "item_names", s.paths.item_names, &notes[n_notes]);
    n_notes += missing("model", "pretrained", s.paths.pretrained, &notes[n_notes]);
    n_notes += missing_torchvision(&s.model, &notes[n_notes]);
    int rc = 0;
    if (a->ctx.json) {
        printf("{\"valid\": true, \"config\": ");
        rc = config_print_json(s.cfg, stdout);
        printf(", \"notes\": [");
        for (int i = 0; i < n_notes; i++) {
            if (i) printf(", ");
            JsonBuf b = {0};
            json_buf_str(&b, notes[i].text);
            fputs(b.s ? b.s : "\"\"", stdout);
            json_buf_free(&b);
        }
        printf("]}\n");
    } else if (!a->ctx.quiet) {
        rc = config_print(s.cfg, stdout);
        for (int i = 0; i < n_notes; i++) fprintf(stderr, "%s\n", notes[i].text);
    }
    if (fflush(stdout) != 0) rc = -1;
    setup_free(&s);
    if (rc) return err_set(err, ERR_RUNTIME, "fastc validate: cannot write to stdout");
    return 0;
}
