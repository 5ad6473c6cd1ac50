/*
 * bitear_model.c — the early-exit inference loop over the generated tables (bitear_model.h).
 *
 * Memory: everything lives in the caller's bitear_model_t. The activation arena holds every
 * layer's output map at an offset fixed by the code generator, each preceded and followed by the
 * `pad` zero (+1) padding rows the next binary conv needs (none when its pad is 0); nothing ever
 * writes the padding rows, so zeroing the arena once in init keeps them zero. Each conv skips its
 * own `skip` oldest input rows (bitear_kernels.h): this file knows no padding mode.
 */
#include "bitear_model.h"

#include <string.h>

#include "bitear_frontend_tables.h" /* the C front end's parameters, checked below */

#define BITEAR_MODEL_MAGIC 0x6D6F646Cu /* "modl" */

#if BITEAR_MODEL_EXITS < 1
#error "the generated model has no exit head"
#endif

/* The model must see the features it was trained on: same front end as the one compiled here.
 * (The code generator checks all parameters, including the front end's source hash, at
 * generation time; this catches a front end changed after the tables were generated.) */
#if BITEAR_MODEL_BINS != BITEAR_FRONTEND_BINS
#error "model input bins differ from the front end's BITEAR_FRONTEND_BINS: regenerate or retrain"
#endif
#if defined(BITEAR_MODEL_FRONTEND_HOP) && (BITEAR_MODEL_FRONTEND_HOP != BITEAR_FRONTEND_HOP || \
    BITEAR_MODEL_FRONTEND_WINDOW != BITEAR_FRONTEND_WINDOW || BITEAR_MODEL_FRONTEND_SAMPLE_RATE != BITEAR_SAMPLE_RATE || \
    BITEAR_MODEL_FRONTEND_LOG_SCALE != BITEAR_FRONTEND_LOG_SCALE || BITEAR_MODEL_FRONTEND_LOG_OFFSET != BITEAR_FRONTEND_LOG_OFFSET)
#error "the model was trained with other front-end parameters than bitear_frontend_tables.h: retrain"
#endif

bitear_status_t bitear_model_init(bitear_model_t *model)
{
    if (model == NULL) {
        return BITEAR_ERR_NULL;
    }
    memset(model, 0, sizeof(*model));
    for (int e = 0; e < BITEAR_MODEL_EARLY_EXITS; e++) {
        model->thresholds_q16[e] = bitear_model_default_thresholds_q16[e];
    }
    model->last_exit = -1;
    model->magic = BITEAR_MODEL_MAGIC;
    return BITEAR_OK;
}

bitear_status_t bitear_model_infer(bitear_model_t *model, const int8_t *features, bitear_result_t *result)
{
    if (model == NULL || features == NULL || result == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (model->magic != BITEAR_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    uint32_t *act = model->act;
    bitear_stem_conv1d(&bitear_model_stem, features, model->stem_scratch, act + BITEAR_MODEL_STEM_OUT_OFFSET);
    int exit_index = -1;
    uint32_t macs = 0u;
    for (int i = 0; i < BITEAR_MODEL_BLOCKS; i++) {
        const bitear_block_t *block = &bitear_model_blocks[i];
        bitear_bconv1d(&block->conv, act + block->in_offset, act + block->out_offset);
        macs += block->binary_macs;
        if (block->head < 0) {
            continue;
        }
        const int e = block->head;
        const bitear_head_t *head = &bitear_model_heads[e];
        /* the head counts the `length` most recent rows of the block's map */
        const uint32_t *rows = act + block->out_offset + (block->conv.out_len - head->length) * block->conv.out_words;
        bitear_head(head, rows, model->counts, model->logits[e]);
        model->entropy_q16[e] = bitear_entropy_q16(head, &bitear_model_entropy_tables, model->logits[e]);
        if (e == BITEAR_MODEL_EXITS - 1) {
            exit_index = e;
            break;
        }
        const int32_t thr = model->thresholds_q16[e];
        if (thr >= 0 && model->entropy_q16[e] <= (uint32_t)thr) {
            exit_index = e;
            break;
        }
    }
    bitear_model_fill_result(exit_index, model->logits[exit_index], model->entropy_q16[exit_index], result);
    model->last_exit = (int16_t)exit_index;
    model->stats.inferences++;
    model->stats.exits[exit_index]++;
    model->stats.binary_macs += macs;
    return BITEAR_OK;
}

bitear_status_t bitear_model_set_threshold(bitear_model_t *model, int exit_index, int32_t threshold_q16)
{
    if (model == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (model->magic != BITEAR_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    return bitear_model_store_threshold(model->thresholds_q16, exit_index, threshold_q16);
}

bitear_status_t bitear_model_store_threshold(int32_t *thresholds_q16, int exit_index, int32_t threshold_q16)
{
    if (threshold_q16 < BITEAR_THRESHOLD_NEVER || threshold_q16 > BITEAR_THRESHOLD_ALWAYS) {
        return BITEAR_ERR_ARG;
    }
    if (exit_index == BITEAR_MODEL_ALL_EXITS) {
        for (int e = 0; e < BITEAR_MODEL_EARLY_EXITS; e++) {
            thresholds_q16[e] = threshold_q16;
        }
        return BITEAR_OK;
    }
    if (exit_index < 0 || exit_index >= BITEAR_MODEL_EARLY_EXITS) {
        return BITEAR_ERR_ARG;
    }
    thresholds_q16[exit_index] = threshold_q16;
    return BITEAR_OK;
}

void bitear_model_fill_result(int exit_index, const int32_t *logits, uint32_t entropy_q16, bitear_result_t *result)
{
    result->exit_index = (int16_t)exit_index;
    result->label = (int16_t)bitear_argmax(logits, BITEAR_MODEL_CLASSES);
    result->entropy_q16 = entropy_q16;
    memcpy(result->logits, logits, sizeof(result->logits));
    bitear_exit_softmax_q15(&bitear_model_heads[exit_index], &bitear_model_entropy_tables, logits, result->scores_q15);
}

bitear_status_t bitear_model_get_threshold(const bitear_model_t *model, int exit_index, int32_t *threshold_q16)
{
    if (model == NULL || threshold_q16 == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (model->magic != BITEAR_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    return bitear_model_load_threshold(model->thresholds_q16, exit_index, threshold_q16);
}

bitear_status_t bitear_model_load_threshold(const int32_t *thresholds_q16, int exit_index, int32_t *threshold_q16)
{
    if (exit_index < 0 || exit_index >= BITEAR_MODEL_EARLY_EXITS) {
        return BITEAR_ERR_ARG;
    }
    *threshold_q16 = thresholds_q16[exit_index];
    return BITEAR_OK;
}

bitear_status_t bitear_model_set_full_depth(bitear_model_t *model)
{
    return bitear_model_set_threshold(model, BITEAR_MODEL_ALL_EXITS, BITEAR_THRESHOLD_NEVER);
}

bitear_status_t bitear_model_get_stats(const bitear_model_t *model, bitear_model_stats_t *stats)
{
    if (model == NULL || stats == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (model->magic != BITEAR_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    *stats = model->stats;
    return BITEAR_OK;
}

bitear_status_t bitear_model_reset_stats(bitear_model_t *model)
{
    if (model == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (model->magic != BITEAR_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    memset(&model->stats, 0, sizeof(model->stats));
    return BITEAR_OK;
}

bitear_status_t bitear_model_exit_output(const bitear_model_t *model, int exit_index, int32_t *logits,
                                         uint32_t *entropy_q16)
{
    if (model == NULL || logits == NULL || entropy_q16 == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (model->magic != BITEAR_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    if (exit_index < 0 || exit_index >= BITEAR_MODEL_EXITS) {
        return BITEAR_ERR_ARG;
    }
    if (model->last_exit < exit_index) {
        return BITEAR_ERR_STATE; /* not reached by the last inference (or none yet) */
    }
    memcpy(logits, model->logits[exit_index], sizeof(model->logits[exit_index]));
    *entropy_q16 = model->entropy_q16[exit_index];
    return BITEAR_OK;
}

const char *bitear_model_label(int index)
{
    if (index < 0 || index >= BITEAR_MODEL_CLASSES) {
        return "";
    }
    return bitear_model_labels[index];
}
