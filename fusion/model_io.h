/*
 * model_io.h — what the trainer needs of model_io.c beyond model.h: the
 * schema as text (to check a checkpoint belongs to a model) and a model
 * from an already open model file (to read a checkpoint's train state and
 * moments from the same validated file).
 */
#ifndef LOOM_FUSION_MODEL_IO_H
#define LOOM_FUSION_MODEL_IO_H

#include "core/model_file.h"
#include "model.h"

/* loom_schema_dump of the model's schema into *text (free() it). */
LOOM_WUR enum loom_status loom_model_schema_text(const struct loom_model *m, char **text,
                                                 size_t *len, struct loom_error *err);

/* loom_model_open_with's work on an open file; path names it in messages. */
LOOM_WUR enum loom_status loom_model_from_file(const struct loom_model_file *mf, const char *path,
                                               const struct loom_model_opts *opts,
                                               struct loom_model **out, struct loom_error *err);

#endif
