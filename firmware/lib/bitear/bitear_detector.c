/*
 * bitear_detector.c — the keyword detector of bitear_detector.h: a ring of recent results with
 * running per-class sums, so each result costs O(classes) whatever the window length.
 * host/detector.py mirrors this file line for line; change both together.
 */
#include "bitear_detector.h"

#include <stddef.h>
#include <string.h>

#define DETECTOR_MAGIC 0x44455443u /* "DETC" */

static int params_ok(const bitear_detector_params_t *p)
{
    return p->classes >= 1u && p->classes <= BITEAR_DETECTOR_MAX_CLASSES && p->threshold_q15 <= 32768u &&
           p->min_count >= 1u && p->min_count <= BITEAR_DETECTOR_CAPACITY;
}

static void clear_history(bitear_detector_t *det)
{
    memset(det->sums, 0, sizeof det->sums);
    det->oldest = 0;
    det->count = 0;
    det->last_label = -1;
    det->last_ms = 0;
    det->latched = 0;
}

/* Remove the oldest result from the ring and the sums. */
static void drop_oldest(bitear_detector_t *det)
{
    const uint16_t *old = det->scores[det->oldest];
    for (unsigned c = 0; c < det->params.classes; c++) {
        det->sums[c] -= old[c];
    }
    det->oldest = (uint8_t)((det->oldest + 1u) % BITEAR_DETECTOR_CAPACITY);
    det->count--;
}

bitear_status_t bitear_detector_init(bitear_detector_t *det, const bitear_detector_params_t *params)
{
    if (det == NULL || params == NULL) {
        return BITEAR_ERR_NULL;
    }
    det->magic = 0;
    if (!params_ok(params)) {
        return BITEAR_ERR_ARG;
    }
    det->params = *params;
    clear_history(det);
    det->magic = DETECTOR_MAGIC;
    return BITEAR_OK;
}

bitear_status_t bitear_detector_set_params(bitear_detector_t *det, const bitear_detector_params_t *params)
{
    if (det == NULL || params == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (det->magic != DETECTOR_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    if (!params_ok(params)) {
        return BITEAR_ERR_ARG;
    }
    det->params = *params;
    clear_history(det);
    return BITEAR_OK;
}

bitear_status_t bitear_detector_reset(bitear_detector_t *det)
{
    if (det == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (det->magic != DETECTOR_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    clear_history(det);
    return BITEAR_OK;
}

bitear_status_t bitear_detector_process(bitear_detector_t *det, uint32_t now_ms, const uint16_t *scores_q15,
                                        bitear_detector_event_t *event)
{
    if (det == NULL || scores_q15 == NULL || event == NULL) {
        return BITEAR_ERR_NULL;
    }
    event->label = -1;
    event->score_q15 = 0;
    event->is_new = 0;
    if (det->magic != DETECTOR_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    const bitear_detector_params_t *p = &det->params;
    const unsigned classes = p->classes;

    /* 1. add the result (making room if the ring is full), then let old results go */
    if (det->count > 0u) {
        const unsigned newest = (det->oldest + det->count - 1u) % BITEAR_DETECTOR_CAPACITY;
        if ((int32_t)(now_ms - det->times_ms[newest]) < 0) {
            return BITEAR_ERR_ARG; /* time went backwards */
        }
    }
    if (det->count == BITEAR_DETECTOR_CAPACITY) {
        drop_oldest(det);
    }
    const unsigned slot = (det->oldest + det->count) % BITEAR_DETECTOR_CAPACITY;
    det->times_ms[slot] = now_ms;
    for (unsigned c = 0; c < classes; c++) {
        det->scores[slot][c] = scores_q15[c];
        det->sums[c] += scores_q15[c];
    }
    det->count++;
    while ((uint32_t)(now_ms - det->times_ms[det->oldest]) > p->window_ms) {
        drop_oldest(det); /* never the new result: its age is 0 */
    }

    /* 2. enough results to decide? */
    if (det->count < p->min_count) {
        return BITEAR_OK;
    }

    /* 3. top class of the averages: the sums share one divisor, so compare the sums */
    unsigned top = 0;
    for (unsigned c = 1; c < classes; c++) {
        if (det->sums[c] > det->sums[top]) {
            top = c;
        }
    }
    const uint16_t average = (uint16_t)(det->sums[top] / det->count);
    const int above = average >= p->threshold_q15;

    /* 4. a new event? */
    if (det->latched && (top != (unsigned)det->last_label || !above)) {
        det->latched = 0;
    }
    const int quiet = det->last_label < 0 || (uint32_t)(now_ms - det->last_ms) >= p->suppression_ms;
    const int is_new = above && !((p->never_mask >> top) & 1u) && !det->latched && quiet;
    if (is_new) {
        det->last_label = (int16_t)top;
        det->last_ms = now_ms;
        det->latched = 1;
    }
    event->label = (int16_t)top;
    event->score_q15 = average;
    event->is_new = (uint8_t)is_new;
    return BITEAR_OK;
}
