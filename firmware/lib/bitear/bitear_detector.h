/*
 * bitear_detector.h — turns per-inference class scores into keyword events (in the style of
 * TFLM micro_speech's RecognizeCommands): averaging window, detection threshold, suppression time,
 * minimum count; parameters in milliseconds, fixed-size state, no dynamic memory.
 *
 * Contract. Scores are the network's softmax per class in Q15 (bitear_result_t.scores_q15 of
 * bitear_model.h: 32768 = 1.0), one array per inference, each with its time in ms (any origin,
 * non-decreasing, wrapping modulo 2^32 is fine; e.g. hop index * 20). For every result:
 *
 *   1. the result joins a ring of the last BITEAR_DETECTOR_CAPACITY results; results older than
 *      window_ms (now - t > window_ms) leave it;
 *   2. fewer than min_count results in the window: no decision (event.label = -1);
 *   3. otherwise each class's score is averaged over the window (integer sum / count, floor) and
 *      the top class is the largest average (lowest index on ties): event.label, event.score_q15;
 *   4. event.is_new = 1 — a keyword event — when the top average is >= threshold_q15, the class is
 *      not in never_mask (_silence_, _unknown_), at least suppression_ms have passed since the last
 *      event (of any class), and the class is not still latched from its own last event: after an
 *      event its class stays latched while it remains the top class at or above the threshold, so
 *      a held word fires once, and fires again only after it dropped and suppression_ms passed.
 *
 * host/detector.py is the same algorithm in Python, bit for bit (tests/test_detector.py compares
 * the two on random score streams). Functions return BITEAR_OK or a negative bitear_status_t.
 *
 *   static bitear_detector_t det;
 *   bitear_detector_params_t p = {.classes = 12, .never_mask = 0x3u, .window_ms = 750,
 *                                 .threshold_q15 = 26214, .suppression_ms = 1500, .min_count = 3};
 *   bitear_detector_init(&det, &p);
 *   bitear_detector_process(&det, hop * 20u, result.scores_q15, &event);
 *   if (event.is_new) report(event.label, event.score_q15);
 *
 * RAM: BITEAR_DETECTOR_CAPACITY * (4 + 2 * BITEAR_DETECTOR_MAX_CLASSES) + 4 * MAX_CLASSES + ~32
 * bytes (976 with the defaults). The window holds at most CAPACITY results: with an inference
 * every 40 ms a 1000 ms window needs 26; define a larger BITEAR_DETECTOR_CAPACITY for denser results.
 */
#ifndef BITEAR_DETECTOR_H
#define BITEAR_DETECTOR_H

#include <stdint.h>

#include "bitear_status.h"

#ifndef BITEAR_DETECTOR_MAX_CLASSES
#define BITEAR_DETECTOR_MAX_CLASSES 12 /* at most 32 (never_mask is 32 bits) */
#endif
#ifndef BITEAR_DETECTOR_CAPACITY
#define BITEAR_DETECTOR_CAPACITY 32 /* results kept, at most 255 */
#endif

/* Defaults chosen for the shipped model with `python -m host.streaming_quality --sweep` (real and
 * --generated streams): a 750 ms window at 0.8 detected more keywords than the former 1000 ms at 0.7
 * on both streams (66.7 vs 62.0 %, 56.3 vs 52.7 %) with 28.8 vs 25.2 and 33.0 vs 37.7 false/hour. */
#define BITEAR_DETECTOR_DEFAULT_WINDOW_MS 750u
#define BITEAR_DETECTOR_DEFAULT_THRESHOLD_Q15 26214u /* 0.8 */
#define BITEAR_DETECTOR_DEFAULT_SUPPRESSION_MS 1500u
#define BITEAR_DETECTOR_DEFAULT_MIN_COUNT 3u

typedef struct {
    uint8_t classes;         /* 1 .. BITEAR_DETECTOR_MAX_CLASSES */
    uint32_t never_mask;     /* bit c set: class c never triggers (e.g. 0x3 for _silence_, _unknown_) */
    uint16_t window_ms;      /* averaging window */
    uint16_t threshold_q15;  /* 0 .. 32768: averaged score needed for an event */
    uint16_t suppression_ms; /* no event for this long after an event */
    uint8_t min_count;       /* 1 .. BITEAR_DETECTOR_CAPACITY results needed in the window */
} bitear_detector_params_t;

typedef struct {
    int16_t label;      /* top class of the averaged scores; -1: too few results, no decision */
    uint16_t score_q15; /* its averaged score (0 when label is -1) */
    uint8_t is_new;     /* 1: a keyword event now */
} bitear_detector_event_t;

typedef struct {
    bitear_detector_params_t params;
    uint32_t times_ms[BITEAR_DETECTOR_CAPACITY];
    uint16_t scores[BITEAR_DETECTOR_CAPACITY][BITEAR_DETECTOR_MAX_CLASSES];
    uint32_t sums[BITEAR_DETECTOR_MAX_CLASSES]; /* of the scores in the ring, per class */
    uint8_t oldest;                             /* ring index of the oldest result */
    uint8_t count;                              /* results in the ring */
    int16_t last_label;                         /* class of the last event, -1: none yet */
    uint32_t last_ms;                           /* time of the last event */
    uint8_t latched;                            /* last event's class still on top and above */
    uint32_t magic;                             /* set by init */
} bitear_detector_t;

/* Check and store params, empty history. BITEAR_ERR_NULL, or BITEAR_ERR_ARG for params out of
 * range (then det is left uninitialised). */
bitear_status_t bitear_detector_init(bitear_detector_t *det, const bitear_detector_params_t *params);

/* New params (checked as in init) and an empty history; on BITEAR_ERR_ARG nothing changes. */
bitear_status_t bitear_detector_set_params(bitear_detector_t *det, const bitear_detector_params_t *params);

/* Forget all results and the last event; params kept. */
bitear_status_t bitear_detector_reset(bitear_detector_t *det);

/* Add one result (params.classes scores, Q15) at now_ms and decide (see the contract above).
 * BITEAR_ERR_ARG if now_ms is earlier than the previous result's time (nothing changes, event
 * says "no decision"); BITEAR_ERR_NULL, BITEAR_ERR_STATE as usual. */
bitear_status_t bitear_detector_process(bitear_detector_t *det, uint32_t now_ms, const uint16_t *scores_q15,
                                        bitear_detector_event_t *event);

#endif /* BITEAR_DETECTOR_H */
