/* test_config.c — src/config: the value syntax, loading, every class of config
 * error (exact one-line messages with file:line and "did you mean"),
 * precedence of defaults < file < --set, path resolution, long lines, and the
 * resolved config written back and re-read. */
#include "check_main.h"
#include "config/config.h"
#include "config/schema.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A minimal valid image-classification config. */
static const char *BASE = "[data]\n"
                          "path = images\n"
                          "blocks = ImageBlock, CategoryBlock\n"
                          "get_y = parent_label\n"
                          "[model]\n"
                          "arch = resnet18\n"
                          "[train]\n"
                          "schedule = fit_one_cycle(1)\n";

static char tmpdir[1024];

static void setup(void) { tu_tmpdir(tmpdir, sizeof tmpdir); }
static void teardown(void) { tu_rmtree(tmpdir); }

/* Write text as <tmpdir>/<name> and load it. */
static Config *load_text(const char *name, const char *text, const char *const *sets, int n_sets, Err *err,
                         char *path, size_t cap)
{
    tu_write(tmpdir, name, text, strlen(text), path, cap);
    memset(err, 0, sizeof *err);
    return config_load(path, sets, n_sets, err);
}

/* Load text that must fail; check the message is exactly "<path><rest>". */
static void expect_error(const char *text, const char *const *sets, int n_sets, const char *rest)
{
    char path[2048], want[4096];
    Err err;
    Config *cfg = load_text("c.ini", text, sets, n_sets, &err, path, sizeof path);
    ck_assert_msg(cfg == NULL, "loaded but expected error: %s", rest);
    ck_assert_int_eq(err.code, ERR_USAGE);
    snprintf(want, sizeof want, "%s%s", rest[0] == ':' ? path : "", rest);
    ck_assert_str_eq(err.msg, want);
}

static char *with(const char *extra)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s%s", BASE, extra);
    return buf;
}

/* BASE with a MultiCategoryBlock target, plus extra. */
static char *with_multi(const char *extra)
{
    static char buf[8192];
    const char *p = strstr(BASE, "CategoryBlock");
    snprintf(buf, sizeof buf, "%.*sMulti%s%s", (int)(p - BASE), BASE, p, extra);
    return buf;
}

/* BASE with its line `key = ...` replaced by `line`. */
static char *replace(const char *key_prefix, const char *line)
{
    static char buf[8192];
    const char *p = strstr(BASE, key_prefix);
    ck_assert_ptr_nonnull(p);
    const char *e = strchr(p, '\n');
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - BASE), BASE, line, e);
    return buf;
}

static CfgValue *parse_ok(const char *text)
{
    Err err = {0};
    CfgValue *v = cfg_value_parse(text, "t", 1, &err);
    ck_assert_msg(v != NULL, "%s: %s", text, err.msg);
    return v;
}

static void parse_fails(const char *text, const char *want)
{
    Err err = {0};
    CfgValue *v = cfg_value_parse(text, "t", 3, &err);
    ck_assert_msg(v == NULL, "parsed %s", text);
    ck_assert_int_eq(err.code, ERR_USAGE);
    ck_assert_str_eq(err.msg, want);
}

/* ---- values ------------------------------------------------------------------ */

START_TEST(value_numbers_with_exponents_and_signs)
{
    const char *in[] = {"64", "1e-3", "-2", ".5", "1E+5", "3.", "+0.25", "2.5e2"};
    const double want[] = {64, 1e-3, -2, 0.5, 1e5, 3, 0.25, 250};
    for (int i = 0; i < 8; i++) {
        CfgValue *v = parse_ok(in[i]);
        ck_assert_int_eq(v->kind, CV_NUM);
        ck_assert_double_eq(v->num, want[i]);
        cfg_value_free(v);
    }
}
END_TEST

START_TEST(value_strings_decode_escapes_like_python)
{
    struct { const char *in, *out; } cases[] = {
        {"'a\\tb'", "a\tb"},          {"\"x y\"", "x y"},        {"'it\\'s'", "it's"},
        {"'\\\\'", "\\"},             {"'\\x41\\u00e9'", "A\xc3\xa9"},
        {"'^(.+)_\\d+\\.jpg$'", "^(.+)_\\d+\\.jpg$"}, /* unknown escapes stay, as in Python */
        {"r'\\t\\d'", "\\t\\d"},      {"r'a\\'b'", "a\\'b"},     {"''", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CfgValue *v = parse_ok(cases[i].in);
        ck_assert_int_eq(v->kind, CV_STR);
        ck_assert_str_eq(v->str, cases[i].out);
        cfg_value_free(v);
    }
}
END_TEST

START_TEST(value_names_constants_tuples_slices)
{
    CfgValue *v = parse_ok("Normalize.from_stats");
    ck_assert_int_eq(v->kind, CV_IDENT);
    ck_assert_str_eq(v->str, "Normalize.from_stats");
    cfg_value_free(v);
    v = parse_ok("True");
    ck_assert(v->kind == CV_BOOL && v->num == 1);
    cfg_value_free(v);
    v = parse_ok("false");
    ck_assert(v->kind == CV_BOOL && v->num == 0);
    cfg_value_free(v);
    v = parse_ok("None");
    ck_assert_int_eq(v->kind, CV_NONE);
    cfg_value_free(v);
    v = parse_ok("(0, 5.5)");
    ck_assert(v->kind == CV_TUPLE && v->n == 2 && v->items[1]->num == 5.5);
    cfg_value_free(v);
    v = parse_ok("(7)"); /* parentheses only */
    ck_assert(v->kind == CV_NUM && v->num == 7);
    cfg_value_free(v);
    v = parse_ok("(7,)");
    ck_assert(v->kind == CV_TUPLE && v->n == 1);
    cfg_value_free(v);
    v = parse_ok("[1, 2, 3]");
    ck_assert(v->kind == CV_LIST && v->n == 3);
    cfg_value_free(v);
    v = parse_ok("slice(1e-6, 1e-4)");
    ck_assert(v->kind == CV_SLICE && v->n == 2 && v->items[0]->num == 1e-6 && v->items[1]->num == 1e-4);
    cfg_value_free(v);
    v = parse_ok("slice(3e-3)");
    ck_assert(v->kind == CV_SLICE && v->items[0]->kind == CV_NONE && v->items[1]->num == 3e-3);
    cfg_value_free(v);
}
END_TEST

START_TEST(value_calls_lists_and_nesting)
{
    CfgValue *v = parse_ok("fit_one_cycle(3, 3e-3), unfreeze(), fit_one_cycle(12, lr_max=slice(1e-6, 1e-4))");
    ck_assert(v->kind == CV_LIST && v->n == 3);
    const CfgValue *a = v->items[0], *c = v->items[2];
    ck_assert(a->kind == CV_CALL && !strcmp(a->str, "fit_one_cycle") && a->n == 2 && !a->names[0]);
    ck_assert(v->items[1]->kind == CV_CALL && v->items[1]->n == 0);
    ck_assert(c->n == 2 && !strcmp(c->names[1], "lr_max") && c->items[1]->kind == CV_SLICE);
    cfg_value_free(v);
    v = parse_ok("aug_transforms(size=(240, 320), mult=[1, (2, [3])])");
    ck_assert(v->kind == CV_CALL && v->n == 2 && v->items[0]->kind == CV_TUPLE);
    ck_assert(v->items[1]->items[1]->items[1]->kind == CV_LIST);
    cfg_value_free(v);
}
END_TEST

START_TEST(value_syntax_errors_name_the_column)
{
    parse_fails("'abc", "t:3: found unterminated string 'abc, expected a closing quote");
    parse_fails("Resize(460", "t:3: found end of value at column 11, expected a closing ')'");
    parse_fails("[1, 2", "t:3: found end of value at column 6, expected a closing ']'");
    parse_fails("1e", "t:3: found 'e' at column 2, expected digits of an exponent (like 1e-3)");
    parse_fails("a b", "t:3: found 'b' at column 3, expected ',' between items or the end of the value");
    parse_fails("f(x=1, 2)",
                "t:3: found '2' at column 8, expected a keyword argument (name=value): positional arguments come first");
    parse_fails("f(x=1, x=2)", "t:3: found argument 'x' twice, expected each argument once");
    parse_fails("slice(1, 2, 3)", "t:3: found slice() with a wrong number of arguments, expected slice(lo, hi) or slice(hi)");
    parse_fails("f(1,, 2)",
                "t:3: found ',' at column 5, expected a value (number, 'string', name, Name(...), (tuple), [list] or slice())");
    parse_fails("'a\\x0'", "t:3: found '\\' at column 3, expected two hex digits after \\x");
    parse_fails("'\\x00'", "t:3: found '\\' at column 2, expected no NUL character in a string");
    parse_fails("1e999", "t:3: found '1e999' at column 1, expected a finite number");
    parse_fails("", "t:3: found end of value at column 1, expected a value");
    char deep[400];
    memset(deep, '(', 200);
    deep[200] = 0;
    Err err = {0};
    ck_assert_ptr_null(cfg_value_parse(deep, "t", 1, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "expected at most 64 levels of nesting"));
}
END_TEST

START_TEST(value_format_round_trips)
{
    const char *in[] = {"64", "0.2", "1e-05", "'a\\tb'", "r'^(.+)_\\d+$'", "\"it's\"", "(0, 5.5)", "(1,)",
                        "[]", "slice(1e-06, 0.0001)", "slice(0.003)", "f(1, k=(2, 3), s='x')", "a, b, c",
                        "True", "None", "Normalize.from_stats(imagenet_stats)", "[1, [2, 3]]", "0.1",
                        "[learner] ," /* found by the fuzzer */};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char a[512], b[512];
        CfgValue *v = parse_ok(in[i]);
        cfg_value_format(v, a, sizeof a);
        CfgValue *w = parse_ok(a);
        cfg_value_format(w, b, sizeof b);
        ck_assert_str_eq(a, b);
        ck_assert_int_eq(v->kind, w->kind);
        ck_assert_int_eq(v->n, w->n);
        cfg_value_free(v);
        cfg_value_free(w);
    }
    char buf[64];
    CfgValue *v = parse_ok("0.1");
    cfg_value_format(v, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.1");
    cfg_value_free(v);
}
END_TEST

/* Every default in the schema parses and passes its own check. */
START_TEST(schema_defaults_pass_their_checks)
{
    for (int i = 0; i < schema_n_keys; i++) {
        const SchemaKey *k = &schema_keys[i];
        if (!k->spec.def) continue;
        Err err = {0};
        CfgValue *v = cv_parse(k->spec.def, k->name, 0, &err);
        ck_assert_msg(v, "[%s] %s default: %s", k->section, k->name, err.msg);
        CfgValue *r = check_value(v, &k->spec, &err, k->name);
        ck_assert_msg(r, "[%s] %s default: %s", k->section, k->name, err.msg);
        cfg_value_free(v);
        cfg_value_free(r);
    }
    for (int i = 0; i < schema_n_comps; i++) {
        const SchemaComp *c = &schema_comps[i];
        ck_assert_msg(c->help && *c->help, "%s has no help", c->name);
        for (int j = 0; j < schema_comp_n_args(c); j++) {
            const SchemaArg *a = &c->args[j];
            if (!a->spec.def) continue;
            Err err = {0};
            CfgValue *v = cv_parse(a->spec.def, a->name, 0, &err);
            ck_assert_msg(v, "%s %s: %s", c->name, a->name, err.msg);
            CfgValue *r = check_value(v, &a->spec, &err, a->name);
            ck_assert_msg(r, "%s %s: %s", c->name, a->name, err.msg);
            cfg_value_free(v);
            cfg_value_free(r);
        }
    }
}
END_TEST

START_TEST(value_parse_key_resolves_like_load)
{
    Err err = {0};
    CfgValue *v = cfg_value_parse_key("data", "item_tfms", "Resize(128, 'squish')", "meta", 0, &err);
    ck_assert_msg(v, "%s", err.msg);
    ck_assert_int_eq(cfg_list_len(v), 1);
    const CfgValue *r = cfg_list_at(v, 0);
    ck_assert_double_eq(cfg_arg_num(r, "size"), 128);
    ck_assert_str_eq(cfg_arg_str(r, "method"), "squish");
    ck_assert_str_eq(cfg_arg_str(r, "pad_mode"), "reflection");
    cfg_value_free(v);
    ck_assert_ptr_null(cfg_value_parse_key("data", "item_tfms", "Resise(1)", "meta", 2, &err));
    ck_assert_str_eq(err.msg, "meta:2: [data] item_tfms: found unknown Resise, expected one of Resize, "
                              "RandomResizedCrop (did you mean Resize?)");
    v = cfg_value_parse_key("data", "val_bs", "None", "meta", 0, &err);
    ck_assert(v && v->kind == CV_NONE);
    cfg_value_free(v);
}
END_TEST

/* ---- loading ------------------------------------------------------------------- */

START_TEST(load_resolves_components_by_name_with_defaults)
{
    char path[2048];
    Err err;
    Config *cfg = load_text("pets.ini",
                            with_multi("[data]\nitem_tfms = Resize(460)\n"
                                 "batch_tfms = aug_transforms(size=224, min_scale=0.75), "
                                 "Normalize.from_stats(imagenet_stats)\n"
                                 "[learner]\nmetrics = accuracy_multi(0.2), accuracy_multi\n"),
                            NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_str_eq(config_stem(cfg), "pets");
    /* a bare name is a call with every argument defaulted */
    const CfgValue *arch = cfg_get(cfg, "model", "arch");
    ck_assert(arch->kind == CV_CALL && !strcmp(arch->str, "resnet18") && arch->n == 0);
    const CfgValue *tf = cfg_list_at(cfg_get(cfg, "data", "item_tfms"), 0);
    ck_assert_str_eq(tf->str, "Resize");
    ck_assert_double_eq(cfg_arg_num(tf, "size"), 460);
    ck_assert_str_eq(cfg_arg_str(tf, "method"), "crop");
    const CfgValue *bt = cfg_get(cfg, "data", "batch_tfms");
    ck_assert_int_eq(cfg_list_len(bt), 2);
    const CfgValue *aug = cfg_list_at(bt, 0);
    ck_assert_double_eq(cfg_arg_num(aug, "min_scale"), 0.75);
    ck_assert_double_eq(cfg_arg_num(aug, "max_rotate"), 10.0);
    ck_assert_double_eq(cfg_arg_num(aug, "do_flip"), 1);
    const CfgValue *norm = cfg_list_at(bt, 1);
    const CfgValue *mean = cfg_arg(norm, "mean"), *std = cfg_arg(norm, "std");
    ck_assert(mean->kind == CV_TUPLE && mean->n == 3 && mean->items[0]->num == 0.485);
    ck_assert(std->kind == CV_TUPLE && std->n == 3 && std->items[2]->num == 0.225);
    const CfgValue *m = cfg_get(cfg, "learner", "metrics");
    ck_assert_int_eq(cfg_list_len(m), 2);
    ck_assert_double_eq(cfg_arg_num(cfg_list_at(m, 0), "thresh"), 0.2); /* positional → thresh */
    ck_assert_double_eq(cfg_arg_num(cfg_list_at(m, 1), "thresh"), 0.5); /* bare → defaults */
    ck_assert_int_eq(cfg_list_len(cfg_get(cfg, "train", "schedule")), 1);
    /* defaults everywhere, None reads as NULL */
    ck_assert_int_eq(cfg_int(cfg, "data", "bs"), 64);
    ck_assert_ptr_null(cfg_get(cfg, "data", "val_bs"));
    ck_assert_ptr_null(cfg_get(cfg, "learner", "wd"));
    ck_assert_str_eq(cfg_str(cfg, "data", "on_bad_item"), "fail");
    const CfgValue *sp = cfg_get(cfg, "data", "splitter");
    ck_assert_str_eq(sp->str, "RandomSplitter");
    ck_assert_double_eq(cfg_arg_num(sp, "seed"), 42);
    const CfgValue *opt = cfg_get(cfg, "learner", "opt_func");
    ck_assert_str_eq(opt->str, "Adam");
    ck_assert_double_eq(cfg_arg_num(opt, "wd"), 0.01);
    const CfgValue *sched = cfg_list_at(cfg_get(cfg, "train", "schedule"), 0);
    ck_assert_ptr_null(cfg_arg(sched, "lr_max"));
    ck_assert_double_eq(cfg_arg_num(sched, "div"), 25.0);
    ck_assert_double_eq(cfg_arg_num(sched, "n_epoch"), 1);
    ck_assert_int_eq(cfg_is_set(cfg, "data", "bs"), 0);
    ck_assert_int_eq(cfg_is_set(cfg, "data", "blocks"), 1);
    config_free(cfg);
}
END_TEST

START_TEST(load_choices_accept_fastai_enum_spelling)
{
    char path[2048];
    Err err;
    Config *cfg = load_text("c.ini",
                            with("[data]\nitem_tfms = Resize(64, method=ResizeMethod.Squish, pad_mode='Zeros')\n"
                                 "[model]\nprecision = bf16\n"),
                            NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    const CfgValue *tf = cfg_list_at(cfg_get(cfg, "data", "item_tfms"), 0);
    ck_assert_str_eq(cfg_arg_str(tf, "method"), "squish");
    ck_assert_str_eq(cfg_arg_str(tf, "pad_mode"), "zeros");
    ck_assert_str_eq(cfg_str(cfg, "model", "precision"), "bf16");
    config_free(cfg);
}
END_TEST

/* What the notebooks write is accepted as the same component, and the
 * resolved config shows fastc's spelling. */
START_TEST(load_accepts_fastai_notebook_spellings)
{
    char path[2048], buf[256];
    Err err;
    Config *cfg = load_text(
        "c.ini",
        "[data]\npath = images\nblocks = (ImageBlock, MultiCategoryBlock)\nget_y = parent_label\n"
        "get_items = get_image_files(path, folders=['train', 'valid'])\n"
        "batch_tfms = [*aug_transforms(size=64), Normalize.from_stats(*imagenet_stats)]\n"
        "[model]\narch = resnet18\n[learner]\nmetrics = partial(accuracy_multi, thresh=0.2)\n"
        "[train]\nschedule = fit_one_cycle(1)\n[lr_find]\nsuggest_funcs = (minimum, steep, "
        "SuggestionMethod.Valley)\n",
        NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    const CfgValue *b = cfg_get(cfg, "data", "blocks");
    ck_assert_int_eq(cfg_list_len(b), 2);
    ck_assert_str_eq(cfg_list_at(b, 1)->str, "MultiCategoryBlock");
    const CfgValue *gi = cfg_get(cfg, "data", "get_items");   /* `path` is [data] path, not folders=['path'] */
    ck_assert_int_eq(cfg_list_len(cfg_arg(gi, "folders")), 2);
    ck_assert_str_eq(cfg_list_at(cfg_arg(gi, "folders"), 0)->str, "train");
    const CfgValue *bt = cfg_get(cfg, "data", "batch_tfms");
    ck_assert_str_eq(cfg_list_at(bt, 0)->str, "aug_transforms");
    ck_assert_double_eq(cfg_arg_num(cfg_list_at(bt, 0), "size"), 64);
    ck_assert_double_eq_tol(cfg_list_at(cfg_arg(cfg_list_at(bt, 1), "mean"), 0)->num, 0.485, 1e-12);
    const CfgValue *m = cfg_list_at(cfg_get(cfg, "learner", "metrics"), 0);
    ck_assert_str_eq(m->str, "accuracy_multi");
    ck_assert_double_eq(cfg_arg_num(m, "thresh"), 0.2);
    const CfgValue *sf = cfg_get(cfg, "lr_find", "suggest_funcs");
    ck_assert_int_eq(cfg_list_len(sf), 3);
    ck_assert_str_eq(cfg_list_at(sf, 2)->str, "valley");
    cfg_value_format(cfg_get(cfg, "learner", "metrics"), buf, sizeof buf);
    ck_assert_str_eq(buf, "accuracy_multi(thresh=0.2, sigmoid=True)");
    config_free(cfg);
    /* using_attr(RegexLabeller(pat), 'name') is RegexLabeller(pat): it matches the file name */
    cfg = load_text("c.ini", replace("get_y", "get_y = using_attr(RegexLabeller(r'^(.+)_\\d+.jpg$'), 'name')"), NULL, 0,
                    &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_str_eq(cfg_get(cfg, "data", "get_y")->str, "RegexLabeller");
    ck_assert_str_eq(cfg_arg_str(cfg_get(cfg, "data", "get_y"), "pat"), "^(.+)_\\d+.jpg$");
    config_free(cfg);
    /* get_image_files(path) alone: every file under [data] path */
    cfg = load_text("c.ini", with("[data]\nget_items = get_image_files(path, False)\n"), NULL, 0, &err, path,
                    sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_ptr_null(cfg_arg(cfg_get(cfg, "data", "get_items"), "folders"));
    ck_assert_double_eq(cfg_arg_num(cfg_get(cfg, "data", "get_items"), "recurse"), 0);
    config_free(cfg);
}
END_TEST

/* What cannot be written in a config gets one line saying so and what does
 * the job; fastai's factory-method arguments written as keys say where they go. */
START_TEST(fastai_spellings_that_cannot_work_are_explained)
{
    expect_error(replace("get_y", "get_y = parent_label\nsplitter = FuncSplitter(lambda o: o.parent.name == '13')"),
                 NULL, 0,
                 ":5: [data] splitter: found a lambda, expected a component: a function cannot be written in a "
                 "config; FuncSplitter(parent_name='13') validates the items whose folder is named 13");
    expect_error(replace("get_y", "get_y = get_ctr"), NULL, 0,
                 ":4: [data] get_y: found get_ctr, which is no fastai component fastc knows: a function cannot be "
                 "written in a config; get_x/get_y take parent_label (the folder's name), RegexLabeller(pat) (a "
                 "regex on the file name), ColReader(col) (a column of [data] csv) or PointsFromCSV('file.csv') "
                 "(points)");
    expect_error(replace("get_y", "get_y = lambda x: x.parent.name, parent_label"), NULL, 0,
                 ":4: [data] get_y: found a lambda, expected a component: a function cannot be written in a "
                 "config; get_x/get_y take parent_label (the folder's name), RegexLabeller(pat) (a regex on the "
                 "file name), ColReader(col) (a column of [data] csv) or PointsFromCSV('file.csv') (points)");
    expect_error(with("[learner]\nmetrics = my_metric\n"), NULL, 0,
                 ":10: [learner] metrics: found my_metric, which is no fastai component fastc knows: a function "
                 "cannot be written in a config; a metric is one of error_rate, accuracy, accuracy_multi, mse, "
                 "rmse, mae");
    expect_error(with("[data]\nitem_name = 'title'\n"), NULL, 0,
                 ":10: [data] item_name: found unknown key item_name, expected a key of [data] "
                 "(CollabDataLoaders.from_df's item_name is blocks = CollabBlock(item='...') here)");
    expect_error(with("[data]\nvalid_pct = 0.2\n"), NULL, 0,
                 ":10: [data] valid_pct: found unknown key valid_pct, expected a key of [data] (valid_pct is the "
                 "splitter's: splitter = RandomSplitter(valid_pct=0.2, seed=42))");
    expect_error(with("[data]\nget_items = get_image_files('images')\n"), NULL, 0,
                 ":10: [data] get_items: found get_image_files('images'), expected get_image_files(path) or no "
                 "path: the files are those under [data] path (a sub-folder of it: "
                 "get_image_files(folders=['train']))");
    expect_error(with("[learner]\nmetrics = partial(thresh=0.2)\n"), NULL, 0,
                 ":10: [learner] metrics: found partial(...) without a component first, expected "
                 "partial(component, arg=value, ...) (fastai's partial(accuracy_multi, thresh=0.2))");
    expect_error(replace("get_y", "get_y = using_attr(parent_label, 'parent')"), NULL, 0,
                 ":4: [data] get_y: found using_attr(...), expected using_attr(RegexLabeller(pat), 'name') "
                 "(fastc's RegexLabeller matches the file name already; a pattern with a '/' matches the whole "
                 "path)");
}
END_TEST

START_TEST(load_collab_config_like_spec)
{
    char path[2048];
    Err err;
    const char *text = "[data]\ncsv        = ml-100k/u.data\ncsv_sep    = '\\t'\n"
                       "csv_names  = user, item, rating, timestamp\nitem_names = ml-100k/u.item\n"
                       "blocks     = CollabBlock(user='user', item='item', rating='rating')\n"
                       "splitter   = RandomSplitter(valid_pct=0.2, seed=42)\nbs = 64\n"
                       "[model]\narch = DotProductBias(n_factors=50, y_range=(0, 5.5))\n"
                       "[train]\nschedule = fit_one_cycle(5, 5e-3, wd=0.1)\n";
    Config *cfg = load_text("collab.ini", text, NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_str_eq(cfg_str(cfg, "data", "csv_sep"), "\t");
    const CfgValue *names = cfg_get(cfg, "data", "csv_names");
    ck_assert_int_eq(cfg_list_len(names), 4);
    ck_assert_str_eq(cfg_list_at(names, 3)->str, "timestamp");
    const CfgValue *arch = cfg_get(cfg, "model", "arch");
    const CfgValue *yr = cfg_arg(arch, "y_range");
    ck_assert(yr && cfg_list_len(yr) == 2 && cfg_list_at(yr, 1)->num == 5.5);
    const CfgValue *s = cfg_list_at(cfg_get(cfg, "train", "schedule"), 0);
    ck_assert_double_eq(cfg_arg_num(s, "lr_max"), 5e-3);
    ck_assert_double_eq(cfg_arg_num(s, "wd"), 0.1);
    config_free(cfg);
}
END_TEST

START_TEST(precedence_defaults_file_set)
{
    char path[2048];
    Err err;
    /* default */
    Config *cfg = load_text("c.ini", BASE, NULL, 0, &err, path, sizeof path);
    ck_assert_int_eq(cfg_int(cfg, "data", "bs"), 64);
    config_free(cfg);
    /* file over default */
    cfg = load_text("c.ini", with("[data]\nbs = 32\n"), NULL, 0, &err, path, sizeof path);
    ck_assert_int_eq(cfg_int(cfg, "data", "bs"), 32);
    config_free(cfg);
    /* --set over file, the last --set wins, --set over a default too */
    const char *sets[] = {"data.bs=8", "data.bs=16", "learner.lr=3e-3", "train.schedule=fine_tune(2)"};
    cfg = load_text("c.ini", with("[data]\nbs = 32\n"), sets, 4, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_int_eq(cfg_int(cfg, "data", "bs"), 16);
    ck_assert_double_eq(cfg_num(cfg, "learner", "lr"), 3e-3);
    ck_assert_int_eq(cfg_is_set(cfg, "learner", "lr"), 1);
    ck_assert_str_eq(cfg_list_at(cfg_get(cfg, "train", "schedule"), 0)->str, "fine_tune");
    config_free(cfg);
    /* --set may supply a required key the file lacks */
    const char *arch[] = {"model.arch=resnet50"};
    cfg = load_text("c.ini", replace("arch =", "[model]"), arch, 1, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_str_eq(cfg_get(cfg, "model", "arch")->str, "resnet50");
    config_free(cfg);
}
END_TEST

START_TEST(paths_resolve_against_config_folder)
{
    char path[2048], buf[4096], want[4096];
    Err err;
    Config *cfg = load_text("sub/dir/c.ini",
                            with("[data]\ncsv = labels.csv\nitem_names = /abs/names.csv\n"
                                 "[model]\npretrained = ../w/r18.safetensors\n[output]\ndir = 'out dir'\n"),
                            NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    char *real = realpath(tmpdir, NULL);
    snprintf(want, sizeof want, "%s/sub/dir/images", real);
    ck_assert_str_eq(cfg_path(cfg, "data", "path", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s/sub/dir/images/labels.csv", real); /* csv lives under path */
    ck_assert_str_eq(cfg_path(cfg, "data", "csv", buf, sizeof buf), want);
    ck_assert_str_eq(cfg_path(cfg, "data", "item_names", buf, sizeof buf), "/abs/names.csv");
    snprintf(want, sizeof want, "%s/sub/w/r18.safetensors", real);
    ck_assert_str_eq(cfg_path(cfg, "model", "pretrained", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s/sub/dir/out dir", real);
    ck_assert_str_eq(cfg_path(cfg, "output", "dir", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s/sub/dir/x/y.png", real);
    ck_assert_str_eq(cfg_resolve(cfg, "./x/y.png", buf, sizeof buf), want);
    config_free(cfg);
    /* without data.path, csv is relative to the config; default output dir: ./runs/<stem> */
    cfg = load_text("sub/c2.ini",
                    "[data]\ncsv = r.csv\nblocks = CollabBlock\n[model]\narch = DotProduct\n"
                    "[train]\nschedule = fit(1)\n",
                    NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    snprintf(want, sizeof want, "%s/sub/r.csv", real);
    ck_assert_str_eq(cfg_path(cfg, "data", "csv", buf, sizeof buf), want);
    char cwd[2048];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/runs/c2", cwd);
    ck_assert_str_eq(cfg_path(cfg, "output", "dir", buf, sizeof buf), want);
    ck_assert_ptr_null(cfg_path(cfg, "model", "pretrained", buf, sizeof buf));
    config_free(cfg);
    free(real);
}
END_TEST

/* Load BASE with [data] path = value; the resolved path into buf, or NULL with err set. */
static const char *data_path_of(const char *value, char *buf, size_t cap, Err *err)
{
    size_t n = strlen(BASE) + strlen(value) + 64;
    char *text = malloc(n), path[2048];
    snprintf(text, n, "[data]\npath = %s\n%s", value, strstr(BASE, "blocks"));
    Config *cfg = load_text("p.ini", text, NULL, 0, err, path, sizeof path);
    free(text);
    if (!cfg) return NULL;
    const char *r = cfg_path(cfg, "data", "path", buf, cap);
    config_free(cfg);
    return r;
}

START_TEST(paths_with_any_number_of_segments_and_dotdots_resolve_exactly)
{
    /* Path tidying once kept 512 segments in a fixed table: 600 segments lost
     * the last 88 without a word, and many ".." wrote past the table. */
    char buf[CFG_PATH_MAX], want[CFG_PATH_MAX + 64];
    Err err;
    char *real = realpath(tmpdir, NULL);
    size_t cap = 16384, n = 0;
    char *v = malloc(cap);
    /* 700 "x/.." pairs, then data: 1400 segments, 700 of them "..", tidied to one */
    for (int i = 0; i < 700; i++) n += (size_t)snprintf(v + n, cap - n, "x%d/../", i);
    snprintf(v + n, cap - n, "data");
    snprintf(want, sizeof want, "%s/data", real);
    ck_assert_str_eq(data_path_of(v, buf, sizeof buf, &err) ? buf : err.msg, want);
    /* 600 segments: every one kept */
    n = 0;
    for (int i = 0; i < 600; i++) n += (size_t)snprintf(v + n, cap - n, "%s%c", i ? "/" : "", 'a' + i % 26);
    int m = snprintf(want, sizeof want, "%s/%s", real, v);
    ck_assert_msg(data_path_of(v, buf, sizeof buf, &err), "%s", err.msg);
    ck_assert_int_eq((int)strlen(buf), m);
    ck_assert_str_eq(buf, want);
    /* ...then 650 "..": 600 undo the segments, the rest climb from the config's folder to the root */
    for (int i = 0; i < 650; i++) n += (size_t)snprintf(v + n, cap - n, "/..");
    snprintf(v + n, cap - n, "/top");
    ck_assert_str_eq(data_path_of(v, buf, sizeof buf, &err) ? buf : err.msg, "/top");
    /* ".", "//", a trailing "/" and ".." mixed in */
    ck_assert_str_eq(data_path_of("'/a/./b//c/../d/'", buf, sizeof buf, &err) ? buf : err.msg, "/a/b/d");
    ck_assert_str_eq(data_path_of("'/..'", buf, sizeof buf, &err) ? buf : err.msg, "/");
    ck_assert_str_eq(data_path_of("'/a/b/../..'", buf, sizeof buf, &err) ? buf : err.msg, "/");
    free(v);
    free(real);
}
END_TEST

START_TEST(a_path_too_long_once_resolved_is_an_error_not_cut_short)
{
    char buf[CFG_PATH_MAX];
    Err err;
    size_t cap = 16384, n = 0;
    char *v = malloc(cap);
    for (int i = 0; i < 800; i++) n += (size_t)snprintf(v + n, cap - n, "%sabc", i ? "/" : "");   /* 3199 bytes */
    ck_assert_ptr_null(data_path_of(v, buf, sizeof buf, &err));
    ck_assert_int_eq(err.code, ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "p.ini:2: [data] path: found a path of ") && strstr(err.msg, "expected at most 3071"),
                  "%s", err.msg);
    /* from --set: named by its argument */
    char path[2048], *set = malloc(cap + 32);
    snprintf(set, cap + 32, "data.path=%s", v);
    const char *sets[] = {set};
    Config *cfg = load_text("q.ini", BASE, sets, 1, &err, path, sizeof path);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(err.code, ERR_USAGE);
    ck_assert_msg(!strncmp(err.msg, "--set data.path=abc/abc", 23), "%s", err.msg);
    /* just under the limit, through many "..": fine */
    n = 0;
    for (int i = 0; i < 2000; i++) n += (size_t)snprintf(v + n, cap - n, "abc/../");
    snprintf(v + n, cap - n, "end");
    ck_assert_msg(data_path_of(v, buf, sizeof buf, &err), "%s", err.msg);
    free(set), free(v);
}
END_TEST

START_TEST(lines_of_any_length)
{
    /* a 200 kB value and a long comment: far past inih's 200-byte default */
    size_t n = 200000;
    char *text = malloc(n + 4096);
    char *p = text + sprintf(text, "; %0*d\n%s[data]\ncsv_names = ", 5000, 0, BASE);
    int cols = 0;
    while ((size_t)(p - text) < n) p += sprintf(p, "%scolumn_%d", cols ? ", " : "", cols), cols++;
    p += sprintf(p, "\nbs = 7\n");
    char path[2048];
    Err err;
    Config *cfg = load_text("long.ini", text, NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_int_eq(cfg_list_len(cfg_get(cfg, "data", "csv_names")), cols);
    char last[64];
    snprintf(last, sizeof last, "column_%d", cols - 1);
    ck_assert_str_eq(cfg_list_at(cfg_get(cfg, "data", "csv_names"), cols - 1)->str, last);
    ck_assert_int_eq(cfg_int(cfg, "data", "bs"), 7);
    config_free(cfg);
    /* an error after the long line still names the right line */
    snprintf(p, 64, "bsz = 3\n");
    cfg = load_text("long.ini", text, NULL, 0, &err, path, sizeof path);
    ck_assert_ptr_null(cfg);
    char want[2048];
    snprintf(want, sizeof want, "%.1900s:13: [data] bsz: found unknown key bsz, expected a key of [data] (did you mean bs?)",
             path);
    ck_assert_str_eq(err.msg, want);
    free(text);
}
END_TEST

START_TEST(continuation_lines_crlf_and_bom)
{
    char path[2048];
    Err err;
    const char *text = "\xEF\xBB\xBF[data]\r\npath = images\r\nblocks = ImageBlock,\r\n    CategoryBlock\r\n"
                       "get_y = parent_label ; inline comment\r\n# hash comment\r\n[model]\r\narch = resnet18\r\n"
                       "[train]\r\nschedule = fit_one_cycle(1),\r\n  unfreeze(),\r\n  fit(2)\r\n[data]\r\nbs = 9\r\n";
    Config *cfg = load_text("c.ini", text, NULL, 0, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_int_eq(cfg_list_len(cfg_get(cfg, "data", "blocks")), 2);
    ck_assert_int_eq(cfg_list_len(cfg_get(cfg, "train", "schedule")), 3);
    ck_assert_str_eq(cfg_get(cfg, "data", "get_y")->str, "parent_label");
    ck_assert_int_eq(cfg_int(cfg, "data", "bs"), 9);
    config_free(cfg);
    /* ' ;' inside quotes is text, outside it starts a comment */
    cfg = load_text("c.ini", replace("get_y", "get_y = RegexLabeller(pat='a ;b\\' ;c') ; comment 'x"), NULL, 0, &err,
                    path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    ck_assert_str_eq(cfg_arg_str(cfg_get(cfg, "data", "get_y"), "pat"), "a ;b' ;c");
    config_free(cfg);
}
END_TEST

START_TEST(write_round_trips)
{
    char path[2048], out[2048], a[1 << 14], b[1 << 14];
    Err err;
    const char *sched[] = {"train.schedule=fit_one_cycle(3, 3e-3), unfreeze(), "
                           "fit_one_cycle(12, lr_max=slice(1e-6, 1e-4))"};
    Config *cfg = load_text("c.ini",
                            with_multi("[data]\ncsv = t.csv\nget_x = ColReader('fname', pref='train/')\n"
                                 "splitter = ColSplitter('is_valid')\n"
                                 "item_tfms = RandomResizedCrop(128, min_scale=0.35)\n"
                                 "batch_tfms = aug_transforms(size=(240, 320)), Normalize.from_stats(mnist_stats)\n"
                                 "[learner]\ncbs = SaveModelCallback(every_epoch=2)\nwd = 0.1\n"
                                 "loss_func = BCEWithLogitsLossFlat(thresh=0.3)\n"
                                 "[output]\ndir = runs/x\n"),
                            sched, 1, &err, path, sizeof path);
    ck_assert_msg(cfg, "%s", err.msg);
    snprintf(out, sizeof out, "%s/elsewhere/config.ini", tmpdir);
    tu_write(tmpdir, "elsewhere/keep", "", 0, a, sizeof a);
    ck_assert_int_eq(config_write(cfg, out, &err), 0);
    Config *back = config_load(out, NULL, 0, &err);
    ck_assert_msg(back, "%s", err.msg);
    for (int k = 0; k < schema_n_keys; k++) {
        const SchemaKey *key = &schema_keys[k];
        if (key->spec.type == ST_PATH) {
            const char *pa = cfg_path(cfg, key->section, key->name, a, sizeof a);
            const char *pb = cfg_path(back, key->section, key->name, b, sizeof b);
            ck_assert_int_eq(pa == NULL, pb == NULL);
            if (pa) ck_assert_str_eq(pa, pb);
            continue;
        }
        cfg_value_format(cfg_get(cfg, key->section, key->name), a, sizeof a);
        cfg_value_format(cfg_get(back, key->section, key->name), b, sizeof b);
        ck_assert_msg(!strcmp(a, b), "[%s] %s: %s != %s", key->section, key->name, a, b);
    }
    /* no temporary file left next to it */
    char tmpname[2200];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%d", out, (int)getpid());
    ck_assert_int_ne(access(tmpname, F_OK), 0);
    config_free(back);
    config_free(cfg);
}
END_TEST

/* ---- errors: one line each, file:line, what was found and expected ---------------- */

START_TEST(error_file_level)
{
    char path[2048], want[4096];
    Err err = {0};
    snprintf(path, sizeof path, "%s/missing.ini", tmpdir);
    ck_assert_ptr_null(config_load(path, NULL, 0, &err));
    snprintf(want, sizeof want, "%s: found no such file, expected a config file", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(err.code, ERR_USAGE);
    ck_assert_ptr_null(config_load(tmpdir, NULL, 0, &err));
    snprintf(want, sizeof want, "%s: found a directory, expected a config file (.ini)", tmpdir);
    ck_assert_str_eq(err.msg, want);
    expect_error("", NULL, 0, ":1: found an empty file, expected [section] lines with key = value");
    expect_error("\n  \n", NULL, 0, ":1: found an empty file, expected [section] lines with key = value");
    expect_error("; only a comment\n[data]\n", NULL, 0,
                 ":1: found no settings (only comments or blank lines), expected [section] lines with key = value");
    expect_error("[data]\nbs = 6\xff\n", NULL, 0, ":2: found byte 0xff at column 7, expected UTF-8 text");
    expect_error("[data]\n\nbs = '\xc3\x28'\n", NULL, 0, ":3: found byte 0xc3 at column 7, expected UTF-8 text");
    expect_error("[data]\nbs = '\xed\xa0\x80'\n", NULL, 0, ":2: found byte 0xed at column 7, expected UTF-8 text");
    char nul[] = "[data]\nbs = 1\0\n";
    tu_write(tmpdir, "nul.ini", nul, sizeof nul - 1, path, sizeof path);
    ck_assert_ptr_null(config_load(path, NULL, 0, &err));
    snprintf(want, sizeof want, "%s:2: found NUL byte 0x00 at column 7, expected UTF-8 text", path);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

/* Writes ';' comment lines into a FIFO until the reader goes away (EPIPE) or
 * `limit` bytes are out; counts what went in. */
typedef struct FifoWriter {
    const char *path;
    size_t limit, written;
} FifoWriter;

static void *fifo_writer(void *arg)
{
    FifoWriter *w = arg;
    int fd = open(w->path, O_WRONLY);
    if (fd < 0) return NULL;
    char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? ';' : 'x';
    while (w->written < w->limit) {
        ssize_t k = write(fd, chunk, sizeof chunk);
        if (k <= 0) break;   /* EPIPE: the reader closed it */
        w->written += (size_t)k;
    }
    close(fd);
    return NULL;
}

START_TEST(a_device_or_pipe_as_config_is_read_only_up_to_the_limit)
{
    /* /dev/zero and endless pipes were read up to 1 GiB (2 GiB of memory)
     * before "too big": now at most 16 MiB + 1 byte are read. */
    char path[2048];
    Err err = {0};
    ck_assert_ptr_null(config_load("/dev/zero", NULL, 0, &err));
    ck_assert_str_eq(err.msg, "/dev/zero: found more than 16 MiB, expected a config file (at most 16 MiB of text)");
    ck_assert_int_eq(err.code, ERR_USAGE);
    /* a FIFO fed 64 MiB: the writer sees the reader leave after about 16 MiB */
    signal(SIGPIPE, SIG_IGN);
    snprintf(path, sizeof path, "%s/fifo.ini", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    FifoWriter w = {.path = path, .limit = (size_t)64 << 20};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fifo_writer, &w), 0);
    ck_assert_ptr_null(config_load(path, NULL, 0, &err));
    pthread_join(th, NULL);
    ck_assert_msg(strstr(err.msg, "fifo.ini: found more than 16 MiB"), "%s", err.msg);
    /* what the pipe buffer (64 KiB, up to 1 MiB if raised) holds may be in flight, no more */
    ck_assert_msg(w.written <= ((size_t)17 << 20), "%zu bytes went into the pipe", w.written);
    /* a regular file one byte over the limit */
    size_t big = ((size_t)16 << 20) + 1;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++) text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? ';' : 'x';
    tu_write(tmpdir, "big.ini", text, big, path, sizeof path);
    free(text);
    ck_assert_ptr_null(config_load(path, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "big.ini: found more than 16 MiB"), "%s", err.msg);
}
END_TEST

START_TEST(error_structure)
{
    expect_error(with("[trian]\nx = 1\n"), NULL, 0,
                 ":9: [trian]: found unknown section [trian], expected one of [data], [model], [learner], [train], "
                 "[lr_find], [output] (did you mean [train]?)");
    expect_error(with("[empty_unknown]\n"), NULL, 0,
                 ":9: [empty_unknown]: found unknown section [empty_unknown], expected one of [data], [model], "
                 "[learner], [train], [lr_find], [output]");
    expect_error(with("[data]\nbsz = 3\n"), NULL, 0,
                 ":10: [data] bsz: found unknown key bsz, expected a key of [data] (did you mean bs?)");
    expect_error(with("[data]\narch = resnet34\n"), NULL, 0,
                 ":10: [data] arch: found unknown key arch, expected a key of [data] (arch belongs in [model])");
    expect_error(with("[model]\nzzz = 1\n"), NULL, 0,
                 ":10: [model] zzz: found unknown key zzz, expected one of arch, pretrained, precision, n_in, "
                 "y_range, ps, head");
    expect_error(with("[data]\nbs = 3\n[model]\nn_in = 1\n[data]\nbs = 4\n"), NULL, 0,
                 ":14: [data] bs: found a second value, expected each key once (first set on line 10)");
    expect_error(with("oops\n"), NULL, 0, ":9: found 'oops', expected key = value or [section]");
    expect_error(with("[data\n"), NULL, 0, ":9: found '[data', expected a [section] line closed with ']'");
    expect_error("bs = 3\n[data]\n", NULL, 0, ":1: bs: found a key before any [section], expected a [section] line first");
    /* the earliest problem in the file is the one reported */
    expect_error(with("[data]\nbs = x\nbsz = 1\n"), NULL, 0,
                 ":10: [data] bs: found name x, expected an integer in [1, 65536]");
}
END_TEST

START_TEST(error_values)
{
    expect_error(replace("schedule", "schedule = fit_one_cycle(1"), NULL, 0,
                 ":8: [train] schedule: found end of value at column 16, expected a closing ')'");
    expect_error(replace("get_y", "get_y = RegexLabeller('^(.+)_\\d+)"), NULL, 0,
                 ":4: [data] get_y: found unterminated string '^(.+)_\\d+), expected a closing quote");
    expect_error(with("[learner]\nseed = abc\n"), NULL, 0, ":10: [learner] seed: found name abc, expected an integer >= 0");
    expect_error(with("[data]\nbs = 2.5\n"), NULL, 0, ":10: [data] bs: found number 2.5, expected an integer in [1, 65536]");
    expect_error(with("[data]\nbs = 0\n"), NULL, 0, ":10: [data] bs: found number 0, expected an integer in [1, 65536]");
    expect_error(with("[data]\nbs = 100000\n"), NULL, 0,
                 ":10: [data] bs: found number 100000, expected an integer in [1, 65536]");
    expect_error(with("[model]\nps = 1\n"), NULL, 0, ":10: [model] ps: found number 1, expected a number in [0, 1)");
    expect_error(with("[learner]\nlr = 0\n"), NULL, 0, ":10: [learner] lr: found number 0, expected a number > 0");
    expect_error(with("[learner]\ntrain_bn = yes\n"), NULL, 0,
                 ":10: [learner] train_bn: found name yes, expected True or False");
    expect_error(with("[data]\non_bad_item = skp\n"), NULL, 0,
                 ":10: [data] on_bad_item: found name skp, expected one of fail/skip (did you mean skip?)");
    expect_error(with("[model]\ny_range = (0, 1, 2)\n"), NULL, 0,
                 ":10: [model] y_range: found tuple (0, 1, 2), expected a tuple of 2 numbers");
    expect_error(with("[data]\nbs = \n[model]\nn_in = 65\n"), NULL, 0,
                 ":12: [model] n_in: found number 65, expected an integer in [1, 64]");
}
END_TEST

START_TEST(error_components)
{
    expect_error(with("[data]\nitem_tfms = Resise(460)\n"), NULL, 0,
                 ":10: [data] item_tfms: found unknown Resise, expected one of Resize, RandomResizedCrop (did you "
                 "mean Resize?)");
    expect_error(replace("get_y", "get_y = parent_label\nsplitter = RandomSpliter(valid_pct=0.1)"), NULL, 0,
                 ":5: [data] splitter: found unknown RandomSpliter, expected one of RandomSplitter, "
                 "GrandparentSplitter, ColSplitter, FuncSplitter (did you mean RandomSplitter?)");
    expect_error(replace("get_y", "get_y = parent_label\nsplitter = Resize(3)"), NULL, 0,
                 ":5: [data] splitter: found Resize, an item transform (item_tfms), expected a splitter: "
                 "RandomSplitter, GrandparentSplitter, ColSplitter, FuncSplitter");
    expect_error(replace("schedule", "schedule = fit_one_cycle(1, lr_maxx=3)"), NULL, 0,
                 ":8: [train] schedule: found argument 'lr_maxx' to fit_one_cycle, expected one of n_epoch, lr_max, "
                 "div, div_final, pct_start, wd, moms (did you mean lr_max?)");
    expect_error(replace("schedule", "schedule = fit(1, 2, 3, 4)"), NULL, 0,
                 ":8: [train] schedule: found 4 positional arguments to fit, expected at most 3: fit(n_epoch, "
                 "lr=None, wd=None)");
    expect_error(replace("schedule", "schedule = fit()"), NULL, 0,
                 ":8: [train] schedule: found no value for argument 'n_epoch' of fit, expected fit(n_epoch, "
                 "lr=None, wd=None)");
    expect_error(replace("schedule", "schedule = fit(1, n_epoch=2)"), NULL, 0,
                 ":8: [train] schedule: found argument 'n_epoch' to fit twice, expected it once: fit(n_epoch, "
                 "lr=None, wd=None)");
    expect_error(replace("schedule", "schedule = unfreeze(1)"), NULL, 0,
                 ":8: [train] schedule: found 1 positional arguments to unfreeze, expected at most 0: unfreeze");
    expect_error(with("[data]\nitem_tfms = Resize\n"), NULL, 0,
                 ":10: [data] item_tfms: found Resize without arguments, expected a call Resize(size, "
                 "method='crop', pad_mode='reflection')");
    expect_error(with("[data]\nitem_tfms = Resize('big')\n"), NULL, 0,
                 ":10: [data] item_tfms: Resize() size: found string 'big', expected a size: an integer or "
                 "(height, width)");
    expect_error(replace("schedule", "schedule = fit(1, lr=slice(1e-3, 1e-5))"), NULL, 0,
                 ":8: [train] schedule: fit() lr: found slice(0.001, 1e-05), expected slice(lo, hi) with 0 < lo "
                 "<= hi, or slice(hi)");
    expect_error(with("[data]\nbatch_tfms = Normalize.from_stats(imagenet_stat)\n"), NULL, 0,
                 ":10: [data] batch_tfms: Normalize.from_stats() mean: found name imagenet_stat, expected "
                 "imagenet_stats, mnist_stats, cifar_stats or a tuple of numbers");
    expect_error(with("[learner]\nmetrics = 3\n"), NULL, 0,
                 ":10: [learner] metrics: found number 3, expected a list of: error_rate, accuracy, accuracy_multi, "
                 "mse, rmse, mae");
}
END_TEST

START_TEST(error_missing_and_cross_checks)
{
    expect_error(replace("schedule", ""), NULL, 0,
                 ":7: [train] schedule: found nothing, expected a list of: fit, fit_one_cycle, fine_tune, freeze, "
                 "unfreeze, freeze_to (required: steps run in order, e.g. fit_one_cycle(3, 3e-3), unfreeze(), "
                 "fit_one_cycle(2))");
    expect_error(replace("get_y", ""), NULL, 0,
                 ":1: [data] get_y: found nothing, expected how to label an item (e.g. parent_label, "
                 "ColReader('label'))");
    expect_error(replace("blocks", "blocks = ImageBlock"), NULL, 0,
                 ":3: [data] blocks: found ImageBlock(cls='PILImage'), expected ImageBlock followed by one of "
                 "CategoryBlock, MultiCategoryBlock, PointBlock, RegressionBlock; or CollabBlock alone");
    expect_error(replace("arch", "arch = DotProduct"), NULL, 0,
                 ":6: [model] arch: found DotProduct, expected resnet18, resnet34, resnet50, resnet101 or resnet152 for ImageBlock data");
    expect_error(with("[learner]\nmetrics = error_rate, accuracy_multi\n"), NULL, 0,
                 ":10: [learner] metrics: found accuracy_multi, expected a metric for CategoryBlock: error_rate, "
                 "accuracy");
    expect_error(with("[learner]\nloss_func = MSELossFlat()\n"), NULL, 0,
                 ":10: [learner] loss_func: found MSELossFlat, expected a loss for CategoryBlock: "
                 "CrossEntropyLossFlat, LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyFlat");
    expect_error("[data]\ncsv = r.csv\nblocks = CollabBlock\n[model]\narch = DotProduct\n[learner]\n"
                 "metrics = rmse, accuracy\n[train]\nschedule = fit(1)\n",
                 NULL, 0, ":7: [learner] metrics: found accuracy, expected a metric for CollabBlock: mse, rmse, mae");
    expect_error(replace("get_y", "get_y = ColReader('label')"), NULL, 0,
                 ":4: [data] get_y: found ColReader without [data] csv, expected a csv to read columns from");
}
END_TEST

START_TEST(error_set_overrides)
{
    const char *s1[] = {"data.bsz=3"};
    expect_error(BASE, s1, 1, "--set data.bsz=3: [data] bsz: found unknown key bsz, expected a key of [data] (did you "
                              "mean bs?)");
    const char *s2[] = {"bs=3"};
    expect_error(BASE, s2, 1, "--set bs=3: found no section, expected section.key=value (did you mean data.bs=...?)");
    const char *s3[] = {"data.bs=x"};
    expect_error(BASE, s3, 1, "--set data.bs=x: [data] bs: found name x, expected an integer in [1, 65536]");
    const char *s4[] = {"dta.bs=3"};
    expect_error(BASE, s4, 1, "--set dta.bs=3: found unknown section dta, expected one of [data], [model], [learner], "
                              "[train], [lr_find], [output] (did you mean data?)");
    /* a file error comes before a --set error */
    const char *s5[] = {"learner.seed=x"};
    expect_error(with("[data]\nbs = 0\n"), s5, 1, ":10: [data] bs: found number 0, expected an integer in [1, 65536]");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *v = tcase_create("values");
    tcase_add_test(v, value_numbers_with_exponents_and_signs);
    tcase_add_test(v, value_strings_decode_escapes_like_python);
    tcase_add_test(v, value_names_constants_tuples_slices);
    tcase_add_test(v, value_calls_lists_and_nesting);
    tcase_add_test(v, value_syntax_errors_name_the_column);
    tcase_add_test(v, value_format_round_trips);
    tcase_add_test(v, schema_defaults_pass_their_checks);
    tcase_add_test(v, value_parse_key_resolves_like_load);
    suite_add_tcase(s, v);
    TCase *l = tcase_create("load");
    tcase_add_checked_fixture(l, setup, teardown);
    tcase_add_test(l, load_resolves_components_by_name_with_defaults);
    tcase_add_test(l, load_choices_accept_fastai_enum_spelling);
    tcase_add_test(l, load_accepts_fastai_notebook_spellings);
    tcase_add_test(l, fastai_spellings_that_cannot_work_are_explained);
    tcase_add_test(l, load_collab_config_like_spec);
    tcase_add_test(l, precedence_defaults_file_set);
    tcase_add_test(l, paths_resolve_against_config_folder);
    tcase_add_test(l, paths_with_any_number_of_segments_and_dotdots_resolve_exactly);
    tcase_add_test(l, a_path_too_long_once_resolved_is_an_error_not_cut_short);
    tcase_add_test(l, lines_of_any_length);
    tcase_add_test(l, continuation_lines_crlf_and_bom);
    tcase_add_test(l, write_round_trips);
    suite_add_tcase(s, l);
    TCase *e = tcase_create("errors");
    tcase_add_checked_fixture(e, setup, teardown);
    tcase_add_test(e, error_file_level);
    tcase_add_test(e, a_device_or_pipe_as_config_is_read_only_up_to_the_limit);
    tcase_add_test(e, error_structure);
    tcase_add_test(e, error_values);
    tcase_add_test(e, error_components);
    tcase_add_test(e, error_missing_and_cross_checks);
    tcase_add_test(e, error_set_overrides);
    suite_add_tcase(s, e);
    return s;
}

FASTC_CHECK_MAIN(suite)
