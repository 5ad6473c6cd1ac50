/* test_main.c - Unity tests of the keyword detector (bitear_detector.h) on the board (qemu_m4)
 * and the host, with synthetic score streams: a result every 40 ms whose top class has a given
 * probability and the other classes share the rest.
 *
 * A keyword held for 300 ms triggers once; suppression prevents a repeat; too few results give
 * no decision; noise below the threshold gives nothing; _silence_ and _unknown_ never trigger;
 * time may not go backwards; parameters are checked. On qemu_m4 the cost of one result is counted
 * (-icount: 1 tick = 40 instructions). The bit-exact comparison with host/detector.py on random
 * streams runs on the host: tests/test_detector.py.
 */
#include <stdint.h>
#include <string.h>

#include "bitear_board.h"
#include "bitear_detector.h"
#include "unity.h"

#define CLASSES 12
#define SILENCE 0
#define UNKNOWN 1
#define YES 2
#define NO 3
#define STEP_MS 40u

static bitear_detector_t det;
static uint32_t now_ms;
static int events;
static int last_label;
static uint32_t last_event_ms;

static const bitear_detector_params_t params = {
    .classes = CLASSES, .never_mask = (1u << SILENCE) | (1u << UNKNOWN), .window_ms = 200,
    .threshold_q15 = 19660 /* 0.6 */, .suppression_ms = 1500, .min_count = 3};

void setUp(void)
{
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_init(&det, &params));
    now_ms = 0;
    events = 0;
    last_label = -1;
    last_event_ms = 0;
}

void tearDown(void) {}

static void make_scores(uint16_t *scores, int top, uint32_t p_top_q15)
{
    const uint16_t rest = (uint16_t)((32768u - p_top_q15) / (CLASSES - 1));
    for (int c = 0; c < CLASSES; c++) {
        scores[c] = c == top ? (uint16_t)p_top_q15 : rest;
    }
}

/* duration_ms of results, one every STEP_MS, top class `top` at probability p_top_q15. */
static void run(uint32_t duration_ms, int top, uint32_t p_top_q15)
{
    uint16_t scores[CLASSES];
    bitear_detector_event_t ev;
    make_scores(scores, top, p_top_q15);
    for (uint32_t t = 0; t < duration_ms; t += STEP_MS) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, now_ms, scores, &ev));
        if (ev.is_new) {
            events++;
            last_label = ev.label;
            last_event_ms = now_ms;
            TEST_ASSERT_GREATER_OR_EQUAL(params.threshold_q15, ev.score_q15);
        }
        now_ms += STEP_MS;
    }
}

void test_a_keyword_held_for_300_ms_triggers_once(void)
{
    run(1000, SILENCE, 31000);
    run(300, YES, 29500);
    TEST_ASSERT_EQUAL_INT(1, events);
    TEST_ASSERT_EQUAL_INT(YES, last_label);
    run(1000, SILENCE, 31000);
    TEST_ASSERT_EQUAL_INT(1, events);
}

void test_suppression_prevents_a_repeat(void)
{
    run(400, SILENCE, 31000);
    run(300, YES, 29500);
    const uint32_t first = last_event_ms;
    run(300, SILENCE, 31000);
    run(300, YES, 29500); /* within 1500 ms of the first: suppressed */
    run(300, NO, 29500);  /* another word too */
    TEST_ASSERT_EQUAL_INT(1, events);
    run(2000, SILENCE, 31000);
    run(300, YES, 29500); /* long after: a new event */
    TEST_ASSERT_EQUAL_INT(2, events);
    TEST_ASSERT_GREATER_OR_EQUAL(params.suppression_ms, last_event_ms - first);
}

void test_a_word_held_for_five_seconds_triggers_once(void)
{
    run(500, SILENCE, 31000);
    run(5000, YES, 29500);
    TEST_ASSERT_EQUAL_INT(1, events);
}

void test_too_few_results_in_the_window_give_no_decision(void)
{
    uint16_t scores[CLASSES];
    bitear_detector_event_t ev;
    make_scores(scores, YES, 32000);
    for (int i = 0; i < 40; i++) { /* 150 ms apart: a 200 ms window never holds 3 */
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, (uint32_t)i * 150u, scores, &ev));
        TEST_ASSERT_EQUAL_INT(-1, ev.label);
        TEST_ASSERT_EQUAL_UINT8(0, ev.is_new);
    }
}

void test_noise_below_the_threshold_gives_nothing(void)
{
    uint16_t scores[CLASSES];
    bitear_detector_event_t ev;
    uint32_t lcg = 7u;
    for (int i = 0; i < 500; i++) { /* each class 0 .. ~0.25 at random */
        for (int c = 0; c < CLASSES; c++) {
            lcg = lcg * 1103515245u + 12345u;
            scores[c] = (uint16_t)((lcg >> 16) % 8192u);
        }
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, (uint32_t)i * STEP_MS, scores, &ev));
        TEST_ASSERT_EQUAL_UINT8(0, ev.is_new);
        TEST_ASSERT_LESS_THAN(params.threshold_q15, ev.score_q15);
    }
}

void test_silence_and_unknown_never_trigger(void)
{
    run(1000, SILENCE, 32768);
    run(1000, UNKNOWN, 32768);
    run(2000, SILENCE, 32768);
    TEST_ASSERT_EQUAL_INT(0, events);
}

void test_time_going_backwards_is_refused_and_changes_nothing(void)
{
    uint16_t scores[CLASSES];
    bitear_detector_event_t ev;
    make_scores(scores, YES, 32768);
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, 1000, scores, &ev));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_detector_process(&det, 999, scores, &ev));
    TEST_ASSERT_EQUAL_INT(-1, ev.label);
    TEST_ASSERT_EQUAL_UINT8(1, det.count);
    /* wrap-around of the ms counter is not "backwards" */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_reset(&det));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, 0xFFFFFFF0u, scores, &ev));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, 0x10u, scores, &ev));
    TEST_ASSERT_EQUAL_UINT8(2, det.count);
}

void test_parameters_are_checked(void)
{
    bitear_detector_params_t p = params;
    bitear_detector_t fresh;
    bitear_detector_event_t ev;
    uint16_t scores[CLASSES] = {0};
    memset(&fresh, 0, sizeof fresh);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_STATE, bitear_detector_process(&fresh, 0, scores, &ev));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_detector_init(NULL, &p));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_detector_process(&det, 0, NULL, &ev));
    p.min_count = 0;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_detector_set_params(&det, &p));
    p.min_count = BITEAR_DETECTOR_CAPACITY + 1;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_detector_set_params(&det, &p));
    p = params;
    p.classes = BITEAR_DETECTOR_MAX_CLASSES + 1;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_detector_init(&fresh, &p));
    p = params;
    p.threshold_q15 = 32769;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_detector_set_params(&det, &p));
    TEST_ASSERT_EQUAL_UINT16(params.threshold_q15, det.params.threshold_q15); /* unchanged */
}

void test_one_result_costs_few_instructions(void)
{
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    uint16_t scores[CLASSES];
    bitear_detector_event_t ev;
    make_scores(scores, YES, 29500);
    for (uint32_t i = 0; i < 40; i++) { /* a full window and ring */
        bitear_detector_process(&det, i * STEP_MS, scores, &ev);
    }
    const uint32_t t0 = bitear_board_ticks();
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&det, 40u * STEP_MS, scores, &ev));
    const uint32_t t1 = bitear_board_ticks();
    TEST_ASSERT_LESS_OR_EQUAL_UINT32(2000u / 40u, t1 - t0); /* 1 tick = 40 instructions */
#else
    TEST_IGNORE_MESSAGE("instruction counts only on qemu_m4");
#endif
}

int main(void)
{
    bitear_board_init();
    UNITY_BEGIN();
    RUN_TEST(test_a_keyword_held_for_300_ms_triggers_once);
    RUN_TEST(test_suppression_prevents_a_repeat);
    RUN_TEST(test_a_word_held_for_five_seconds_triggers_once);
    RUN_TEST(test_too_few_results_in_the_window_give_no_decision);
    RUN_TEST(test_noise_below_the_threshold_gives_nothing);
    RUN_TEST(test_silence_and_unknown_never_trigger);
    RUN_TEST(test_time_going_backwards_is_refused_and_changes_nothing);
    RUN_TEST(test_parameters_are_checked);
    RUN_TEST(test_one_result_costs_few_instructions);
    return UNITY_END();
}
