/*
 * bitear_stream_model.c — incremental (streaming) execution of the generated network
 * (bitear_stream_model.h), bit-exact with codegen/streaming.py.
 *
 * Layer l (0 = stem, block b = l = b + 1) numbers its outputs g = 0, 1, ... since the reset;
 * output g reads the layer below's outputs (the stem: frames) skip + g * stride + j, j < kernel.
 * Every new output is computed by the existing kernels on a one-output descriptor (in_len =
 * kernel, out_len = 1, skip = 0) pointed at its patch: the rings are mirrored (row i is stored at
 * i and at i + cap) so any kernel consecutive rows are one contiguous run.
 */
#include "bitear_stream_model.h"

#include <string.h>

#define BITEAR_STREAM_MODEL_MAGIC 0x73746D6Du /* "stmm" */

static uint32_t bitear_due(int kernel, int stride, int skip, uint32_t available)
{
    const uint32_t need = (uint32_t)skip + (uint32_t)kernel;
    return available >= need ? (available - need) / (uint32_t)stride + 1u : 0u;
}

static int bitear_layer_words(int layer)
{
    return layer == 0 ? bitear_model_stem.channels / 32 : bitear_model_blocks[layer - 1].conv.out_words;
}

static int bitear_layer_out_len(int layer)
{
    return layer == 0 ? bitear_model_stem.out_len : bitear_model_blocks[layer - 1].conv.out_len;
}

/* Pointer to row `row` of a layer's ring (the first copy; the next cap - 1 rows follow it). */
static uint32_t *bitear_ring_row(bitear_stream_model_t *sm, int layer, uint32_t row)
{
    const int words = bitear_layer_words(layer);
    return sm->rings + sm->ring_offset[layer] + (row % sm->ring_cap[layer]) * (uint32_t)words;
}

bitear_status_t bitear_stream_model_reset(bitear_stream_model_t *sm)
{
    if (sm == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    memset(sm->rings, 0, sizeof(sm->rings));
    memset(sm->frames, 0, sizeof(sm->frames));
    memset(sm->counts, 0, sizeof(sm->counts));
    memset(sm->counted, 0, sizeof(sm->counted));
    memset(sm->produced, 0, sizeof(sm->produced));
    memset(sm->head_stale, 1, sizeof(sm->head_stale));
    memset(&sm->stats, 0, sizeof(sm->stats));
    sm->frames_fed = 0u;
    sm->infer_frames = 0u;
    return BITEAR_OK;
}

bitear_status_t bitear_stream_model_init(bitear_stream_model_t *sm)
{
    if (sm == NULL) {
        return BITEAR_ERR_NULL;
    }
    memset(sm, 0, sizeof(*sm));
    if (bitear_model_stem.pad != 0) {
        return BITEAR_ERR_UNSUPPORTED; /* "same" time padding: outputs depend on the window's edges */
    }
    for (int b = 0; b < BITEAR_MODEL_BLOCKS; b++) {
        if (bitear_model_blocks[b].conv.pad != 0) {
            return BITEAR_ERR_UNSUPPORTED;
        }
    }
    uint32_t offset = 0u;
    for (int l = 0; l < BITEAR_STREAM_MODEL_LAYERS; l++) {
        const int slack = l + 1 < BITEAR_STREAM_MODEL_LAYERS ? bitear_model_blocks[l].conv.stride - 1 : 0;
        const uint32_t cap = (uint32_t)bitear_layer_out_len(l) + (uint32_t)slack;
        sm->ring_offset[l] = offset;
        sm->ring_cap[l] = (uint16_t)cap;
        offset += 2u * cap * (uint32_t)bitear_layer_words(l);
        if (offset > BITEAR_STREAM_MODEL_RING_WORDS) {
            return BITEAR_ERR_SIZE;
        }
    }
    for (int e = 0; e < BITEAR_MODEL_EARLY_EXITS; e++) {
        sm->thresholds_q16[e] = bitear_model_default_thresholds_q16[e];
    }
    sm->magic = BITEAR_STREAM_MODEL_MAGIC;
    return bitear_stream_model_reset(sm);
}

/* Output g of a layer has been computed into its ring row: mirror it, update the head's counts. */
static void bitear_store(bitear_stream_model_t *sm, int layer, uint32_t g)
{
    const int words = bitear_layer_words(layer);
    uint32_t *row = bitear_ring_row(sm, layer, g);
    memcpy(row + sm->ring_cap[layer] * (uint32_t)words, row, (size_t)words * sizeof(uint32_t));
    sm->produced[layer] = g + 1u;
    sm->stats.layer_outputs[layer]++;
}

/* Running -1 counts of a head: add (sign +1) or subtract (sign -1) the bits of one output row. */
static void bitear_count(uint16_t *counts, const uint32_t *row, int words, int sign)
{
    for (int w = 0; w < words; w++) {
        const uint32_t x = row[w];
        uint16_t *c = counts + 32 * w;
        for (int b = 0; b < 32; b++) {
            c[b] = (uint16_t)(c[b] + sign * (int)((x >> b) & 1u));
        }
    }
}

bitear_status_t bitear_stream_model_push_frame(bitear_stream_model_t *sm, const int8_t *frame)
{
    if (sm == NULL || frame == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    const bitear_stem_t *s = &bitear_model_stem;
    const uint32_t k = s->kernel;
    const uint32_t slot = sm->frames_fed % k;
    memcpy(sm->frames + slot * BITEAR_MODEL_BINS, frame, BITEAR_MODEL_BINS);
    memcpy(sm->frames + (slot + k) * BITEAR_MODEL_BINS, frame, BITEAR_MODEL_BINS);
    sm->frames_fed++;
    sm->stats.frames++;
    if (bitear_due(s->kernel, s->stride, s->skip, sm->frames_fed) > sm->produced[0]) {
        /* the last `kernel` frames, oldest first, start at slot frames_fed % kernel */
        const uint32_t g = sm->produced[0];
        const int8_t *patch = sm->frames + (sm->frames_fed % k) * BITEAR_MODEL_BINS;
#if BITEAR_KERNELS_OPTIMIZED
        bitear_stem_step_opt(s, patch, sm->stem_scratch, bitear_ring_row(sm, 0, g));
#else
        bitear_stem_t one = *s;
        one.frames = s->kernel;
        one.out_len = 1;
        one.skip = 0;
        bitear_stem_conv1d_ref(&one, patch, bitear_ring_row(sm, 0, g));
#endif
        bitear_store(sm, 0, g);
    }
    return BITEAR_OK;
}

/* Outputs of every layer up to `layer` when all are current after `frames` frames. */
static uint32_t bitear_due_at(int layer, uint32_t frames)
{
    uint32_t n = bitear_due(bitear_model_stem.kernel, bitear_model_stem.stride, bitear_model_stem.skip, frames);
    for (int l = 1; l <= layer; l++) {
        const bitear_bconv_t *c = &bitear_model_blocks[l - 1].conv;
        n = bitear_due(c->kernel, c->stride, c->skip, n);
    }
    return n;
}

/* Compute every output of block layer - 1 that the (current) layer below allows. */
static void bitear_catch_up(bitear_stream_model_t *sm, int layer)
{
    const bitear_block_t *block = &bitear_model_blocks[layer - 1];
    const bitear_bconv_t *c = &block->conv;
    const uint32_t target = bitear_due(c->kernel, c->stride, c->skip, sm->produced[layer - 1]);
    uint32_t start = sm->produced[layer];
    if (target <= start) {
        return;
    }
    if (start < bitear_due_at(layer, sm->infer_frames)) {
        sm->stats.catch_ups++;
    }
    const int e = block->head;
    if (target - start > c->out_len) { /* fell out of the window: recompute it, recount the head */
        start = target - c->out_len;
        sm->stats.window_recomputes++;
        if (e >= 0) {
            memset(sm->counts[e], 0, sizeof(sm->counts[e]));
            sm->counted[e] = 0u;
        }
    }
    bitear_bconv_t one = *c;
    one.in_len = c->kernel;
    one.out_len = 1;
    one.skip = 0;
    const uint32_t pool = e >= 0 ? bitear_model_heads[e].length : 0u; /* outputs the head averages */
    for (uint32_t g = start; g < target; g++) {
        uint32_t *row = bitear_ring_row(sm, layer, g);
        if (e >= 0) {
            if (sm->counted[e] == pool) { /* the output leaving the window, before its row is reused */
                bitear_count(sm->counts[e], bitear_ring_row(sm, layer, g - pool), c->out_words, -1);
            } else {
                sm->counted[e]++;
            }
        }
        bitear_bconv1d(&one, bitear_ring_row(sm, layer - 1, (uint32_t)c->skip + g * c->stride), row);
        if (e >= 0) {
            bitear_count(sm->counts[e], row, c->out_words, +1);
            sm->head_stale[e] = 1u;
        }
        bitear_store(sm, layer, g);
    }
}

bitear_status_t bitear_stream_model_infer(bitear_stream_model_t *sm, bitear_result_t *result)
{
    if (sm == NULL || result == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    if (sm->frames_fed < BITEAR_MODEL_FRAMES) {
        return BITEAR_ERR_STATE; /* the first window is not complete yet */
    }
    int exit_index = BITEAR_MODEL_EXITS - 1;
    for (int b = 0; b < BITEAR_MODEL_BLOCKS; b++) {
        bitear_catch_up(sm, b + 1);
        const int e = bitear_model_blocks[b].head;
        if (e < 0) {
            continue;
        }
        if (sm->head_stale[e]) { /* logits and entropy change only with the counts */
            const bitear_head_t *head = &bitear_model_heads[e];
            bitear_head_logits(head, sm->counts[e], sm->logits[e]);
            sm->entropy_q16[e] = bitear_entropy_q16(head, &bitear_model_entropy_tables, sm->logits[e]);
            sm->head_stale[e] = 0u;
        }
        if (e == BITEAR_MODEL_EXITS - 1 ||
            (sm->thresholds_q16[e] >= 0 && sm->entropy_q16[e] <= (uint32_t)sm->thresholds_q16[e])) {
            exit_index = e;
            break;
        }
    }
    sm->infer_frames = sm->frames_fed;
    bitear_model_fill_result(exit_index, sm->logits[exit_index], sm->entropy_q16[exit_index], result);
    sm->stats.inferences++;
    sm->stats.exits[exit_index]++;
    return BITEAR_OK;
}

bitear_status_t bitear_stream_model_set_threshold(bitear_stream_model_t *sm, int exit_index, int32_t threshold_q16)
{
    if (sm == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    return bitear_model_store_threshold(sm->thresholds_q16, exit_index, threshold_q16);
}

bitear_status_t bitear_stream_model_get_threshold(const bitear_stream_model_t *sm, int exit_index,
                                                  int32_t *threshold_q16)
{
    if (sm == NULL || threshold_q16 == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    return bitear_model_load_threshold(sm->thresholds_q16, exit_index, threshold_q16);
}

bitear_status_t bitear_stream_model_set_full_depth(bitear_stream_model_t *sm)
{
    return bitear_stream_model_set_threshold(sm, BITEAR_MODEL_ALL_EXITS, BITEAR_THRESHOLD_NEVER);
}

bitear_status_t bitear_stream_model_get_stats(const bitear_stream_model_t *sm, bitear_stream_model_stats_t *stats)
{
    if (sm == NULL || stats == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    *stats = sm->stats;
    return BITEAR_OK;
}

bitear_status_t bitear_stream_model_reset_stats(bitear_stream_model_t *sm)
{
    if (sm == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (sm->magic != BITEAR_STREAM_MODEL_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    memset(&sm->stats, 0, sizeof(sm->stats));
    return BITEAR_OK;
}
