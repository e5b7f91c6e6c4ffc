/* registry.c — the lookup over the registry's rows (registry.h).  The rows
 * live beside their constructors: blocks, getters, splitters and transforms
 * in data.c; architectures and losses in model.c; optimizers, metrics,
 * callbacks, schedule steps and lr_find suggestions in learn.c.  Adding a
 * component a config can name is its row in config/schema.c, its row and
 * constructor here, and the module code it builds. */
#include "setup/internal.h"

#include <string.h>

static const struct {
    const SetupComp *rows;
    const int *n;
} tables[] = {
    {setup_data_comps, &setup_n_data_comps},
    {setup_model_comps, &setup_n_model_comps},
    {setup_learn_comps, &setup_n_learn_comps},
};

int setup_comp_count(void)
{
    int n = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) n += *tables[t].n;
    return n;
}

const SetupComp *setup_comp_at(int i)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; i -= *tables[t].n, t++)
        if (i < *tables[t].n) return &tables[t].rows[i];
    FASTC_ASSERT(!"registry index out of range");
    return NULL;
}

const SetupComp *setup_comp(const char *name, CfgSlot slot)
{
    for (int i = 0, n = setup_comp_count(); i < n; i++) {
        const SetupComp *c = setup_comp_at(i);
        if (c->slot == slot && !strcmp(c->name, name)) return c;
    }
    return NULL;
}

int setup_build(CfgSlot slot, void *out, const CfgValue *call, const char *where, Err *err)
{
    FASTC_ASSERT(call && call->kind == CV_CALL);
    const SetupComp *c = setup_comp(call->str, slot);
    FASTC_ASSERT(c != NULL);   /* tests/test_setup.c: every schema component is here */
    return c->build(out, call, c->tag, where, err);
}
