/* fuzz_config.c — libFuzzer target for the config parser (`make fuzz`).
 *
 * The input is a config file (optionally preceded by "!section.key=value\n"
 * lines, which become --set overrides).  It is loaded through a memfd, so the
 * whole path runs: UTF-8 checks, inih with the line-counting reader, values,
 * schema checks, cross-key checks.  When it loads, the resolved config is
 * printed and loaded again, and every non-path key must read back the same:
 * the writer and the parser agree.  The input is also parsed as one value,
 * whose formatted text must parse back to the same text.  Any crash, leak,
 * sanitizer report or abort() here is a bug. */
#include "config/config.h"
#include "config/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int memfd_with(const void *data, size_t n, char *path, size_t cap)
{
    int fd = memfd_create("fuzz.ini", 0);
    if (fd < 0) abort();
    if (n && write(fd, data, n) != (ssize_t)n) abort();
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static void check_value_round_trip(const char *text)
{
    Err err = {0};
    CfgValue *v = cfg_value_parse(text, "fuzz", 1, &err);
    if (!v) {
        if (err.code != ERR_USAGE || !err.msg[0] || strchr(err.msg, '\n')) abort();
        return;
    }
    char *a = malloc(1 << 16), *b = malloc(1 << 16);
    cfg_value_format(v, a, 1 << 16);
    if (strlen(a) + 1 < (1 << 16)) {
        CfgValue *w = cfg_value_parse(a, "fuzz", 1, &err);
        if (!w) {
            fprintf(stderr, "formatted value does not parse: %s\n%s\n", a, err.msg);
            abort();
        }
        cfg_value_format(w, b, 1 << 16);
        if (strcmp(a, b)) {
            fprintf(stderr, "format round trip differs:\n%s\n%s\n", a, b);
            abort();
        }
        cfg_value_free(w);
    }
    free(a);
    free(b);
    cfg_value_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    /* leading "!section.key=value" lines: --set overrides */
    const char *sets[8];
    char *copies[8];
    int n_sets = 0;
    size_t off = 0;
    while (off < size && data[off] == '!' && n_sets < 8) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = (nl ? (size_t)(nl - data) : size) - off - 1;
        copies[n_sets] = strndup((const char *)data + off + 1, len);
        sets[n_sets] = copies[n_sets];
        n_sets++;
        off += len + 1 + (nl != NULL);
    }

    char path[64];
    int fd = memfd_with(data + off, size - off, path, sizeof path);
    Err err = {0};
    Config *cfg = config_load(path, sets, n_sets, &err);
    if (!cfg) {
        if ((err.code != ERR_USAGE && err.code != ERR_RUNTIME) || !err.msg[0] || strchr(err.msg, '\n')) abort();
    } else {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (config_print(cfg, f) != 0) abort();
        config_print_json(cfg, f);
        fclose(f);
        /* the printed config (INI part) loads back to the same values */
        char *json = strstr(text, "\n{");
        size_t ini_len = json ? (size_t)(json - text) + 1 : len;
        char path2[64];
        int fd2 = memfd_with(text, ini_len, path2, sizeof path2);
        Config *back = config_load(path2, NULL, 0, &err);
        if (!back) {
            fprintf(stderr, "resolved config does not load: %s\n%.*s\n", err.msg, (int)ini_len, text);
            abort();
        }
        char *a = malloc(1 << 17), *b = malloc(1 << 17);
        for (int k = 0; k < schema_n_keys; k++) {
            const SchemaKey *key = &schema_keys[k];
            if (key->spec.type == ST_PATH) continue;
            cfg_value_format(cfg_get(cfg, key->section, key->name), a, 1 << 17);
            cfg_value_format(cfg_get(back, key->section, key->name), b, 1 << 17);
            if (strcmp(a, b)) {
                fprintf(stderr, "[%s] %s differs after write+load:\n%s\n%s\n", key->section, key->name, a, b);
                abort();
            }
        }
        free(a);
        free(b);
        config_free(back);
        close(fd2);
        free(text);
        config_free(cfg);
    }
    close(fd);

    char *s = strndup((const char *)data + off, size - off);
    check_value_round_trip(s);
    free(s);
    for (int i = 0; i < n_sets; i++) free(copies[i]);
    return 0;
}
