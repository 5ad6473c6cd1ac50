/*
 * bitear_stream_model.h — the binary network run incrementally over a stream of front-end frames:
 * each frame computes only the outputs that are new, and early exits leave the deeper blocks to
 * catch up lazily. Public API.
 *
 * Contract. The caller owns a bitear_stream_model_t (fixed size, no dynamic memory; put it in
 * static storage: it holds per-layer rings sized at compile time from the generated
 * bitear_model_tables.h), initialises it once, pushes frames of BITEAR_MODEL_BINS int8 features
 * as the front end produces them (bitear_frontend.h) and asks for an inference whenever it likes.
 * Every function returns BITEAR_OK or a negative bitear_status_t (bitear_status.h) and never
 * writes through a NULL pointer. Bit-exact on every platform with codegen/streaming.py (the
 * definition, see its docstring for the time grid), which equals codegen/reference.py — and so
 * bitear_model_infer — on the last BITEAR_MODEL_FRAMES frames at every aligned step.
 *
 *   static bitear_stream_model_t sm;
 *   if (bitear_stream_model_init(&sm) == BITEAR_ERR_UNSUPPORTED) { ... "same"-padded model ... }
 *   bitear_stream_model_push_frame(&sm, frame);        // every hop: BITEAR_MODEL_BINS int8
 *   bitear_result_t r;
 *   bitear_stream_model_infer(&sm, &r);                // as bitear_model_infer's result
 *   bitear_stream_model_reset(&sm);                    // forget the stream (new recording)
 *
 * Only networks with "valid" time padding (no padding row in any layer) can be streamed: init
 * returns BITEAR_ERR_UNSUPPORTED for others. Time grid: layer l's outputs arrive every R_l
 * frames (R_l = product of the strides up to l); a step is aligned when frames_fed >= W and
 * (frames_fed - W) % R_last == 0 (W = BITEAR_MODEL_FRAMES), and then infer equals
 * bitear_model_infer on the last W frames. Between aligned steps exit e reports its block's newest window (codegen/streaming.py).
 *
 * Work: push_frame computes the stem's new output when one is due (every stem stride frames);
 * infer brings the blocks up to date in order and stops after the exit taken. A block skipped by
 * an early exit catches up at the next infer that needs it, from the ring of the block below
 * (each ring holds its layer's window plus the next stride - 1 outputs); one that fell more than
 * its window behind recomputes only its window. Each exit head keeps running -1 counts over its
 * block's `length` most recent outputs (newest added, leaving one subtracted). Counters run for 2^32 frames
 * (about 2.7 years at 20 ms a frame); reset before that.
 *
 * Exit thresholds: as bitear_model.h (Q16 normalized entropy, BITEAR_THRESHOLD_NEVER, defaults
 * from the checkpoint).
 */
#ifndef BITEAR_STREAM_MODEL_H
#define BITEAR_STREAM_MODEL_H

#include <stdint.h>

#include "bitear_kernels.h"
#include "bitear_model.h" /* bitear_result_t, thresholds, the generated tables */
#include "bitear_status.h"

#define BITEAR_STREAM_MODEL_LAYERS (BITEAR_MODEL_BLOCKS + 1) /* stem, then the blocks */
/* Rings, stored twice (a mirror) so every run of rows is contiguous: for a valid model the
 * windows take BITEAR_MODEL_ACT_WORDS, the stride slack at most as much again (checked by init). */
#define BITEAR_STREAM_MODEL_RING_WORDS (4 * BITEAR_MODEL_ACT_WORDS)

#if BITEAR_KERNELS_OPTIMIZED
#define BITEAR_STREAM_MODEL_STEM_SCRATCH_WORDS BITEAR_STEM_STEP_SCRATCH_WORDS(BITEAR_MODEL_BINS, BITEAR_MODEL_STEM_KERNEL)
#else
#define BITEAR_STREAM_MODEL_STEM_SCRATCH_WORDS 1
#endif

typedef struct {
    uint32_t frames;                                   /* frames pushed */
    uint32_t inferences;                               /* infer calls that succeeded */
    uint32_t exits[BITEAR_MODEL_EXITS];                /* how many stopped at each exit */
    uint32_t layer_outputs[BITEAR_STREAM_MODEL_LAYERS]; /* time steps computed per layer (stem first) */
    uint32_t catch_ups;         /* a block computed outputs already due at an earlier infer */
    uint32_t window_recomputes; /* a block fell more than its window behind and recomputed it */
} bitear_stream_model_stats_t;

typedef struct {
    uint32_t rings[BITEAR_STREAM_MODEL_RING_WORDS];    /* per layer: cap rows, then the same cap rows again */
    int8_t frames[2 * BITEAR_MODEL_STEM_KERNEL * BITEAR_MODEL_BINS]; /* last stem-kernel frames, mirrored */
    uint32_t stem_scratch[BITEAR_STREAM_MODEL_STEM_SCRATCH_WORDS];
    uint16_t counts[BITEAR_MODEL_EXITS][BITEAR_MODEL_HEAD_MAX_CHANNELS]; /* running -1 counts per head */
    uint16_t counted[BITEAR_MODEL_EXITS];              /* outputs inside the running counts */
    uint32_t ring_offset[BITEAR_STREAM_MODEL_LAYERS];  /* word offset of each layer's ring */
    uint16_t ring_cap[BITEAR_STREAM_MODEL_LAYERS];     /* rows per ring */
    uint32_t produced[BITEAR_STREAM_MODEL_LAYERS];     /* outputs computed per layer since reset */
    uint32_t frames_fed;
    uint32_t infer_frames;                             /* frames_fed at the last infer */
    int32_t logits[BITEAR_MODEL_EXITS][BITEAR_MODEL_CLASSES]; /* per head, from its running counts */
    uint32_t entropy_q16[BITEAR_MODEL_EXITS];
    uint8_t head_stale[BITEAR_MODEL_EXITS];            /* counts changed since logits were computed */
    int32_t thresholds_q16[BITEAR_MODEL_EARLY_EXITS_ALLOC];
    bitear_stream_model_stats_t stats;
    uint32_t magic;                                    /* set by init */
} bitear_stream_model_t;

/* Check the model is streamable and fits, lay out the rings, default thresholds, empty stream.
 * BITEAR_ERR_NULL, BITEAR_ERR_UNSUPPORTED ("same" padding), BITEAR_ERR_SIZE (rings too small). */
bitear_status_t bitear_stream_model_init(bitear_stream_model_t *sm);

/* Forget the stream (frames, rings, counts) and the statistics; thresholds stay. */
bitear_status_t bitear_stream_model_reset(bitear_stream_model_t *sm);

/* Append one frame of BITEAR_MODEL_BINS int8 features; computes the stem's output when due. */
bitear_status_t bitear_stream_model_push_frame(bitear_stream_model_t *sm, const int8_t *frame);

/* The early-exit decision on the stream. BITEAR_ERR_STATE before BITEAR_MODEL_FRAMES frames. */
bitear_status_t bitear_stream_model_infer(bitear_stream_model_t *sm, bitear_result_t *result);

/* As bitear_model_set_threshold / bitear_model_get_threshold / bitear_model_set_full_depth. */
bitear_status_t bitear_stream_model_set_threshold(bitear_stream_model_t *sm, int exit_index, int32_t threshold_q16);
bitear_status_t bitear_stream_model_get_threshold(const bitear_stream_model_t *sm, int exit_index,
                                                  int32_t *threshold_q16);
bitear_status_t bitear_stream_model_set_full_depth(bitear_stream_model_t *sm);

/* Copy of the statistics since init / the last reset; zero them (the stream itself goes on). */
bitear_status_t bitear_stream_model_get_stats(const bitear_stream_model_t *sm, bitear_stream_model_stats_t *stats);
bitear_status_t bitear_stream_model_reset_stats(bitear_stream_model_t *sm);

#endif /* BITEAR_STREAM_MODEL_H */
