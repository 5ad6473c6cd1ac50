/*
 * bitear_stream.h — continuous keyword spotting: audio in, a classification every N hops out.
 *
 * Contract. The caller owns a bitear_stream_t (fixed size, no dynamic memory; static storage:
 * it holds the front end and the network's state), initialises it once with the inference
 * period N (in 20 ms hops), then pushes audio. Each hop of BITEAR_FRONTEND_HOP (320) samples
 * goes through the front end into one feature frame; the network looks at the last
 * BITEAR_MODEL_FRAMES (49) frames (≈ 1 s). Once 49 frames have arrived (49 hops after init),
 * every N-th hop runs an inference and reports the result. Audio may arrive in pieces of any
 * length: bitear_stream_push collects partial hops.
 *
 * Two runtimes, chosen at compile time by the generated tables:
 * - BITEAR_MODEL_STREAMABLE ("valid" time padding): the network runs incrementally
 *   (bitear_stream_model.h): every hop feeds its frame, an inference computes only the outputs
 *   that are new and exits early without going stale. Default period BITEAR_STREAM_DEFAULT_PERIOD = 2.
 * - otherwise ("same" padding): a window of the last 49 frames, bitear_model_infer on all of it
 *   at every inference. Default period 4.
 *
 *   static bitear_stream_t stream;
 *   bitear_stream_init(&stream, BITEAR_STREAM_DEFAULT_PERIOD);
 *   bitear_stream_set_threshold(&stream, BITEAR_MODEL_ALL_EXITS, 19661);
 *   ...
 *   int ready;
 *   bitear_stream_push_hop(&stream, hop, &result, &ready);   // one hop; ready = 1 when result is new
 *   bitear_stream_push(&stream, samples, n, on_result, ctx); // any number of samples, callback per result
 *
 * Equivalence with training: a 1 s clip pushed into a freshly initialised stream gives, after its
 * 50th hop, exactly the window bitear_frontend_clip computes for that clip (the first frame has
 * dropped out), so an inference there sees the very features the model was evaluated on. With the
 * streaming runtime that holds on the hops where the frames pushed are 49 + a multiple of
 * BITEAR_MODEL_STREAM_ALIGN_FRAMES (the product of the strides; 1 for the window runtime); between
 * them each exit speaks for its block's newest window (codegen/streaming.py).
 * All functions return BITEAR_OK or a negative bitear_status_t and never write through NULL.
 */
#ifndef BITEAR_STREAM_H
#define BITEAR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "bitear_frontend.h"
#include "bitear_model.h"
#include "bitear_status.h"

#ifndef BITEAR_MODEL_STREAMABLE
#error "tables without BITEAR_MODEL_STREAMABLE (codegen < 1.3): regenerate them with python -m codegen CHECKPOINT"
#endif

/* Default inference periods in hops: the window runtime's is explained in app.c ("Why N = 4");
 * the streaming runtime costs about the same per second of audio at any period (README,
 * "Streaming execution") and 2 keeps a 750 ms detector window within BITEAR_DETECTOR_CAPACITY. */
#define BITEAR_STREAM_PERIOD_WINDOW 4u
#define BITEAR_STREAM_PERIOD_STREAMING 2u

#if BITEAR_MODEL_STREAMABLE
#include "bitear_stream_model.h"
#define BITEAR_STREAM_DEFAULT_PERIOD BITEAR_STREAM_PERIOD_STREAMING
#else
#define BITEAR_STREAM_DEFAULT_PERIOD BITEAR_STREAM_PERIOD_WINDOW
#define BITEAR_STREAM_WINDOW_BYTES (BITEAR_MODEL_FRAMES * BITEAR_MODEL_BINS)
#endif

/* Called by bitear_stream_push for every result: hop is the number of hops pushed so far. */
typedef void (*bitear_stream_result_fn)(void *ctx, const bitear_result_t *result, uint32_t hop);

typedef struct {
    bitear_frontend_t frontend;
#if BITEAR_MODEL_STREAMABLE
    bitear_stream_model_t network;              /* per-layer rings, running head counts */
    int8_t frame[BITEAR_MODEL_BINS];            /* the newest frame */
#else
    bitear_model_t model;                       /* the network, run on the whole window */
    int8_t window[BITEAR_STREAM_WINDOW_BYTES];  /* last BITEAR_MODEL_FRAMES frames, oldest first */
#endif
    int16_t partial[BITEAR_FRONTEND_HOP];       /* samples of an incomplete hop (bitear_stream_push) */
    uint16_t partial_len;
    uint16_t infer_every;                       /* N */
    uint16_t until_infer;                       /* hops left before the next inference */
    uint32_t hops;                              /* hops pushed since init (wraps at 2^32) */
    uint32_t inferences;                        /* results produced since init */
    uint32_t magic;
} bitear_stream_t;

/* Reset everything (front end history, window or network state, exit thresholds to the
 * checkpoint's defaults, statistics) and set the period: an inference every infer_every hops (1 .. 65535), the first
 * one on the hop that fills the window. BITEAR_ERR_NULL / BITEAR_ERR_ARG. */
bitear_status_t bitear_stream_init(bitear_stream_t *stream, unsigned infer_every);

/* Change the period (takes effect from the next hop). */
bitear_status_t bitear_stream_set_period(bitear_stream_t *stream, unsigned infer_every);

/* The network's exit thresholds and statistics, whichever runtime holds them (as
 * bitear_model_set_threshold / bitear_model_get_threshold / bitear_model_reset_stats). */
bitear_status_t bitear_stream_set_threshold(bitear_stream_t *stream, int exit_index, int32_t threshold_q16);
bitear_status_t bitear_stream_get_threshold(const bitear_stream_t *stream, int exit_index, int32_t *threshold_q16);
bitear_status_t bitear_stream_reset_stats(bitear_stream_t *stream);

/* One hop of BITEAR_FRONTEND_HOP samples. *ready = 1 and *result written when an inference ran,
 * else *ready = 0 and *result untouched. Not to be mixed with a partial hop held by
 * bitear_stream_push (BITEAR_ERR_STATE then). */
bitear_status_t bitear_stream_push_hop(bitear_stream_t *stream, const int16_t *hop, bitear_result_t *result,
                                       int *ready);

/* n samples (any n); on_result (may be NULL) is called for every result. */
bitear_status_t bitear_stream_push(bitear_stream_t *stream, const int16_t *samples, size_t n,
                                   bitear_stream_result_fn on_result, void *ctx);

#endif /* BITEAR_STREAM_H */
