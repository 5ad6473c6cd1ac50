/*
 * bitear_model.h — the binary keyword-spotting network with early exits: public API.
 *
 * Contract. The caller owns a bitear_model_t (fixed size, no dynamic memory; put it in static
 * storage: it holds the activation maps, sized at compile time from the generated
 * bitear_model_tables.h), initialises it once, then classifies windows of
 * BITEAR_MODEL_FRAMES x BITEAR_MODEL_BINS (49 x 40) int8 features, frame-major, exactly as the
 * front end produces them (bitear_frontend.h). All functions return BITEAR_OK or a negative
 * bitear_status_t (bitear_status.h) and never write through a NULL pointer.
 *
 *   static bitear_model_t model;
 *   bitear_model_init(&model);                          // default exit thresholds from the checkpoint
 *   bitear_result_t r;
 *   bitear_model_infer(&model, features, &r);           // r.label, r.exit_index, r.entropy_q16,
 *                                                       // r.logits, r.scores_q15 (softmax)
 *   bitear_model_set_threshold(&model, BITEAR_MODEL_ALL_EXITS, 19661);  // 0.3 in Q16
 *   bitear_model_set_full_depth(&model);                // never stop early
 *   bitear_model_get_stats(&model, &stats);             // inferences and exits taken
 *
 * What infer computes (bit-exact with codegen/reference.py on every platform): the int8 stem,
 * then the binary blocks in order; after each block that carries an exit head, the head's
 * integer logits and the normalized entropy h of their softmax (Q16, 65536 = 1.0 = uniform over
 * the classes). At an early exit e, inference stops when h <= threshold[e]; the last exit always
 * stops. The result's label is the index of the largest logit of the exit taken (lowest index
 * on ties), its logits are that exit's integer logits (real logits ~ logits * scale of the head,
 * see the generated header) and scores_q15 their softmax in Q15 (from the same fixed-point
 * exponentials as the entropy; for a detector that averages scores over time). For a live
 * stream use bitear_stream.h, which owns a bitear_model_t and feeds it the last 49 frames.
 *
 * Memory: sizeof(bitear_model_t) is printed by `python -m codegen` (RAM line of the table); on
 * Cortex-M4 builds most of it is the optimized stem's scratch (the window widened to int16).
 *
 * Exit thresholds are normalized entropies in Q16: 0 stops only on a certain prediction,
 * 65536 (= 1.0) always stops at that exit, BITEAR_THRESHOLD_NEVER (-1) never stops there.
 * Setting 65536 for all exits means "always the first exit"; bitear_model_set_full_depth sets
 * BITEAR_THRESHOLD_NEVER everywhere. The defaults come from the checkpoint's exit_thresholds.
 *
 * Cost: see the size table printed by `python -m codegen` and `make bench`. The optimized
 * Cortex-M4 kernels are used where __ARM_FEATURE_DSP is defined unless BITEAR_REFERENCE_KERNELS
 * is (bitear_kernels.h); both give the same bits.
 */
#ifndef BITEAR_MODEL_H
#define BITEAR_MODEL_H

#include <stdint.h>

#include "bitear_kernels.h"
#include "bitear_model_tables.h" /* generated: BITEAR_MODEL_* sizes, tables, labels */
#include "bitear_status.h"

#define BITEAR_MODEL_ALL_EXITS (-1)
#define BITEAR_THRESHOLD_NEVER (-1)
#define BITEAR_THRESHOLD_ALWAYS 65536

/* Early exits = all heads but the last; arrays need at least one element. */
#define BITEAR_MODEL_EARLY_EXITS (BITEAR_MODEL_EXITS - 1)
#define BITEAR_MODEL_EARLY_EXITS_ALLOC (BITEAR_MODEL_EXITS > 1 ? BITEAR_MODEL_EXITS - 1 : 1)

typedef struct {
    int16_t label;                          /* class index (bitear_model_labels[label]) */
    int16_t exit_index;                     /* 0 .. BITEAR_MODEL_EXITS - 1 */
    uint32_t entropy_q16;                   /* normalized entropy at that exit, Q16 */
    int32_t logits[BITEAR_MODEL_CLASSES];   /* integer logits of that exit */
    uint16_t scores_q15[BITEAR_MODEL_CLASSES]; /* softmax of the logits, Q15 (32768 = 1.0) */
} bitear_result_t;

typedef struct {
    uint32_t inferences;                    /* bitear_model_infer calls that succeeded */
    uint32_t exits[BITEAR_MODEL_EXITS];     /* how many stopped at each exit */
    uint64_t binary_macs;                   /* binary MACs spent in the binary blocks, in total */
} bitear_model_stats_t;

#if BITEAR_KERNELS_OPTIMIZED
#define BITEAR_MODEL_STEM_SCRATCH_WORDS \
    BITEAR_STEM_SCRATCH_WORDS(BITEAR_MODEL_FRAMES, BITEAR_MODEL_BINS, BITEAR_MODEL_STEM_KERNEL, BITEAR_MODEL_STEM_PAD)
#else
#define BITEAR_MODEL_STEM_SCRATCH_WORDS 1
#endif

typedef struct {
    uint32_t act[BITEAR_MODEL_ACT_WORDS];   /* activation maps, with zero padding rows where pad > 0 (see tables) */
    int32_t logits[BITEAR_MODEL_EXITS][BITEAR_MODEL_CLASSES]; /* per exit, from the last infer */
    uint32_t entropy_q16[BITEAR_MODEL_EXITS];
    uint16_t counts[BITEAR_MODEL_HEAD_MAX_CHANNELS];          /* head scratch */
    uint32_t stem_scratch[BITEAR_MODEL_STEM_SCRATCH_WORDS];   /* optimized stem: widened input */
    int32_t thresholds_q16[BITEAR_MODEL_EARLY_EXITS_ALLOC];
    int16_t last_exit;                      /* exit of the last inference, -1 before the first */
    bitear_model_stats_t stats;
    uint32_t magic;                         /* set by init */
} bitear_model_t;

/* Zero the maps, default thresholds, clear the statistics. BITEAR_ERR_NULL if model is NULL. */
bitear_status_t bitear_model_init(bitear_model_t *model);

/* Classify one window of BITEAR_MODEL_FRAMES * BITEAR_MODEL_BINS int8 features (frame-major).
 * BITEAR_ERR_NULL for NULL pointers, BITEAR_ERR_STATE if model was not initialised. */
bitear_status_t bitear_model_infer(bitear_model_t *model, const int8_t *features, bitear_result_t *result);

/* Threshold of one early exit (0 .. BITEAR_MODEL_EXITS - 2) or of all (BITEAR_MODEL_ALL_EXITS):
 * 0 .. 65536 (Q16 normalized entropy) or BITEAR_THRESHOLD_NEVER. BITEAR_ERR_ARG otherwise. */
bitear_status_t bitear_model_set_threshold(bitear_model_t *model, int exit_index, int32_t threshold_q16);
bitear_status_t bitear_model_get_threshold(const bitear_model_t *model, int exit_index, int32_t *threshold_q16);

/* Never stop early (every early exit set to BITEAR_THRESHOLD_NEVER). */
bitear_status_t bitear_model_set_full_depth(bitear_model_t *model);

/* Copy of the statistics since init / the last reset. */
bitear_status_t bitear_model_get_stats(const bitear_model_t *model, bitear_model_stats_t *stats);
bitear_status_t bitear_model_reset_stats(bitear_model_t *model);

/* Copy the integer logits (BITEAR_MODEL_CLASSES values) and the entropy of exit e from the last
 * inference; BITEAR_ERR_STATE if that exit was not reached (inference stopped earlier), then
 * nothing is written. For tests and for looking at every exit (run at full depth). */
bitear_status_t bitear_model_exit_output(const bitear_model_t *model, int exit_index, int32_t *logits,
                                         uint32_t *entropy_q16);

/* Shared with the streaming runtime (bitear_stream_model.c), which keeps its own thresholds and logits:
 * store one threshold (or all, BITEAR_MODEL_ALL_EXITS) into a BITEAR_MODEL_EARLY_EXITS_ALLOC array with
 * the checks of bitear_model_set_threshold, read one back with those of bitear_model_get_threshold; fill a result from the logits and entropy of exit e. */
bitear_status_t bitear_model_store_threshold(int32_t *thresholds_q16, int exit_index, int32_t threshold_q16);
bitear_status_t bitear_model_load_threshold(const int32_t *thresholds_q16, int exit_index, int32_t *threshold_q16);
void bitear_model_fill_result(int exit_index, const int32_t *logits, uint32_t entropy_q16, bitear_result_t *result);

/* Label text of a class, "" for an index out of range. */
const char *bitear_model_label(int index);

#endif /* BITEAR_MODEL_H */
