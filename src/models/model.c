/* model.c — the few model operations that do not depend on the architecture. */
#include "models/model.h"

#include <string.h>

void model_zero_grad(Model *m)
{
    if (m->zero_grad) {
        m->zero_grad(m);
        return;
    }
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].g) memset(m->params[i].g, 0, m->params[i].n * sizeof(float));
}

void model_free(Model *m)
{
    if (m && m->ops && m->ops->free) m->ops->free(m);
}

Param *model_param(Model *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
    return NULL;
}
