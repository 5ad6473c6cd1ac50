/*
 * bitear_stream.h — continuous keyword spotting: audio in, a classification every N hops out.
 *
 * Contract. The caller owns a bitear_stream_t (fixed size, no dynamic memory; static storage:
 * it holds the front end, the network and the feature window), initialises it once with the
 * inference period N (in 20 ms hops), then pushes audio. Each hop of BITEAR_FRONTEND_HOP (320)
 * samples goes through the front end into a window of the last BITEAR_MODEL_FRAMES (49) feature
 * frames (≈ 1 s). Once the window is full (49 hops after init), every N-th hop runs
 * bitear_model_infer on it and reports the result. Audio may arrive in pieces of any length:
 * bitear_stream_push collects partial hops.
 *
 *   static bitear_stream_t stream;
 *   bitear_stream_init(&stream, 4);                      // infer every 4 hops = 80 ms
 *   bitear_model_set_threshold(&stream.model, BITEAR_MODEL_ALL_EXITS, 19661);  // the network's API
 *   ...
 *   int ready;
 *   bitear_stream_push_hop(&stream, hop, &result, &ready);   // one hop; ready = 1 when result is new
 *   bitear_stream_push(&stream, samples, n, on_result, ctx); // any number of samples, callback per result
 *
 * Equivalence with training: a 1 s clip pushed into a freshly initialised stream gives, after its
 * 50th hop, exactly the window bitear_frontend_clip computes for that clip (the first frame has
 * dropped out), so that inference sees the very features the model was evaluated on.
 * All functions return BITEAR_OK or a negative bitear_status_t and never write through NULL.
 */
#ifndef BITEAR_STREAM_H
#define BITEAR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "bitear_frontend.h"
#include "bitear_model.h"
#include "bitear_status.h"

#define BITEAR_STREAM_WINDOW_BYTES (BITEAR_MODEL_FRAMES * BITEAR_MODEL_BINS)

/* Called by bitear_stream_push for every result: hop is the number of hops pushed so far. */
typedef void (*bitear_stream_result_fn)(void *ctx, const bitear_result_t *result, uint32_t hop);

typedef struct {
    bitear_frontend_t frontend;
    bitear_model_t model;                       /* use its API for thresholds and statistics */
    int8_t window[BITEAR_STREAM_WINDOW_BYTES];  /* last BITEAR_MODEL_FRAMES frames, oldest first */
    int16_t partial[BITEAR_FRONTEND_HOP];       /* samples of an incomplete hop (bitear_stream_push) */
    uint16_t partial_len;
    uint16_t infer_every;                       /* N */
    uint16_t until_infer;                       /* hops left before the next inference */
    uint32_t hops;                              /* hops pushed since init (wraps at 2^32) */
    uint32_t inferences;                        /* results produced since init */
    uint32_t magic;
} bitear_stream_t;

/* Reset everything (front end history, window of BITEAR_FRONTEND_FLOOR, network state and
 * statistics) and set the period: an inference every infer_every hops (1 .. 65535), the first
 * one on the hop that fills the window. BITEAR_ERR_NULL / BITEAR_ERR_ARG. */
bitear_status_t bitear_stream_init(bitear_stream_t *stream, unsigned infer_every);

/* Change the period (takes effect from the next hop). */
bitear_status_t bitear_stream_set_period(bitear_stream_t *stream, unsigned infer_every);

/* One hop of BITEAR_FRONTEND_HOP samples. *ready = 1 and *result written when an inference ran,
 * else *ready = 0 and *result untouched. Not to be mixed with a partial hop held by
 * bitear_stream_push (BITEAR_ERR_STATE then). */
bitear_status_t bitear_stream_push_hop(bitear_stream_t *stream, const int16_t *hop, bitear_result_t *result,
                                       int *ready);

/* n samples (any n); on_result (may be NULL) is called for every result. */
bitear_status_t bitear_stream_push(bitear_stream_t *stream, const int16_t *samples, size_t n,
                                   bitear_stream_result_fn on_result, void *ctx);

#endif /* BITEAR_STREAM_H */
