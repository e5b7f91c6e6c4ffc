/* validate.c — `fastc validate CONFIG`: load and check the config (every
 * error is a config error, exit 2), print the resolved config, and note data
 * that is not there yet.  Absent data is not a config mistake (`fastc get`
 * may fetch it later), so it is a note on stderr and the exit status stays 0. */
#include "cmd/cmd.h"
#include "config/config.h"
#include "io/json.h"
#include "io/pth.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Note {
    char text[4400];
} Note;

static int missing(const Config *cfg, const char *section, const char *key, Note *note)
{
    char path[4200];
    struct stat st;
    const CfgValue *v = cfg_get(cfg, section, key);
    if (v && v->kind == CV_BOOL) {   /* pretrained = True: torchvision's cache file */
        const CfgValue *arch = cfg_get(cfg, "model", "arch");
        Err err = {0};
        if (!v->num || !arch || !arch->str || !pth_torchvision_cached(arch->str, path, sizeof path, &err)) return 0;
        snprintf(note->text, sizeof note->text, "note: [%s] %s", section, err.msg);
        return 1;
    }
    if (!cfg_path(cfg, section, key, path, sizeof path)) return 0;
    if (stat(path, &st) == 0) return 0;
    snprintf(note->text, sizeof note->text, "note: [%s] %s: data not found: %s", section, key, path);
    return 1;
}

int cmd_validate(const CmdArgs *a, Err *err)
{
    Config *cfg = config_load(a->config_path, a->sets, a->n_sets, err);
    if (!cfg) return err->code;
    static const char *const paths[][2] = {
        {"data", "path"}, {"data", "csv"}, {"data", "item_names"}, {"model", "pretrained"}};
    Note notes[4];
    int n_notes = 0;
    for (int i = 0; i < 4; i++) n_notes += missing(cfg, paths[i][0], paths[i][1], &notes[n_notes]);
    int rc = 0;
    if (a->ctx.json) {
        printf("{\"valid\": true, \"config\": ");
        rc = config_print_json(cfg, stdout);
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
        rc = config_print(cfg, stdout);
        for (int i = 0; i < n_notes; i++) fprintf(stderr, "%s\n", notes[i].text);
    }
    if (fflush(stdout) != 0) rc = -1;
    config_free(cfg);
    if (rc) return err_set(err, ERR_RUNTIME, "fastc validate: cannot write to stdout");
    return 0;
}
