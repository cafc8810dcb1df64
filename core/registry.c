/* registry.c — the op table (see registry.h); its lines are in registry.def. */
#include <string.h>

#include "registry.h"

#define LOOM_OP(name) extern const struct loom_op_info loom_op_##name;
#include "ops/registry.def"
#undef LOOM_OP

#define LOOM_OP(name) &loom_op_##name,
const struct loom_op_info *const loom_ops[] = {
#include "ops/registry.def"
};
#undef LOOM_OP

const int loom_op_count = (int)LOOM_ARRAY_LEN(loom_ops);

const struct loom_op_info *loom_op_find(const char *name)
{
    for (int i = 0; i < loom_op_count; i++)
        if (strcmp(loom_ops[i]->name, name) == 0) return loom_ops[i];
    return NULL;
}
