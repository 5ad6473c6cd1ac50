/* test_main.c - Unity tests of the binary network runtime (firmware/lib/bitear: bitear_kernels,
 * bitear_model, bitear_stream with the generated bitear_model_tables), on the emulated
 * Cortex-M4 (qemu_m4: the optimized DSP kernels) and on the host (reference kernels).
 *
 * Checked on the device itself (bit-exactness against the numpy reference over hundreds of
 * windows is tested from Python in tests/test_kernels.py):
 *   - the generated vectors (model_vectors.h, written by `python -m codegen` from the same
 *     checkpoint as the tables): every exit's logits and entropy at full depth, the exit and
 *     label at the default thresholds;
 *   - where both exist, optimized and reference kernels give the same bits, layer by layer;
 *   - thresholds: always-first, full depth, argument checks; statistics;
 *   - the generated descriptors: every layer reads inside its input (pad / skip / stride /
 *     kernel) and every map lies inside the activation arena;
 *   - streaming: a window of silence goes through bitear_stream;
 *   - cost (qemu_m4, -icount: 1 tick = 40 instructions): one full-depth inference within the
 *     2.0 M instruction bar.
 */
#include <stdint.h>
#include <string.h>

#include "bitear_board.h"
#include "bitear_model.h"
#include "bitear_stream.h"
#include "model_vectors.h"
#include "unity.h"

/* RAM is budgeted (24 KB with the 8 KB stack): one stream, whose network the other tests use. */
static bitear_stream_t stream;
#define model (stream.model)
static bitear_result_t result;

void setUp(void)
{
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_init(&model));
}

void tearDown(void) {}

void test_vectors_belong_to_these_tables(void)
{
    /* stale vectors (tables regenerated from another checkpoint): run python -m codegen again */
    TEST_ASSERT_EQUAL_STRING(BITEAR_MODEL_SHA256, VECTORS_MODEL_SHA256);
}

void test_every_layer_reads_inside_its_input(void)
{
    /* output t reads input rows skip + t * stride + j of pad + in_len + pad rows (bitear_kernels.h) */
    const bitear_stem_t *s = &bitear_model_stem;
    int in_len = s->out_len;
    TEST_ASSERT_TRUE(s->out_len >= 1);
    TEST_ASSERT_TRUE(s->skip + (s->out_len - 1) * s->stride + s->kernel <= s->frames + 2 * s->pad);
    TEST_ASSERT_TRUE(BITEAR_MODEL_STEM_OUT_OFFSET + s->out_len * (s->channels / 32) <= BITEAR_MODEL_ACT_WORDS);
    for (int i = 0; i < BITEAR_MODEL_BLOCKS; i++) {
        const bitear_block_t *b = &bitear_model_blocks[i];
        const bitear_bconv_t *c = &b->conv;
        TEST_ASSERT_EQUAL_INT(in_len, c->in_len);
        TEST_ASSERT_TRUE(c->out_len >= 1);
        TEST_ASSERT_TRUE(c->skip + (c->out_len - 1) * c->stride + c->kernel <= c->in_len + 2 * c->pad);
        TEST_ASSERT_TRUE(b->in_offset + (c->in_len + 2 * c->pad) * c->in_words <= BITEAR_MODEL_ACT_WORDS);
        TEST_ASSERT_TRUE(b->out_offset + c->out_len * c->out_words <= BITEAR_MODEL_ACT_WORDS);
        in_len = c->out_len;
    }
}

void test_full_depth_logits_and_entropy_of_every_exit(void)
{
    int32_t logits[BITEAR_MODEL_CLASSES];
    uint32_t entropy;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_set_full_depth(&model));
    for (int i = 0; i < VECTORS_WINDOWS; i++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_infer(&model, vectors_features[i], &result));
        TEST_ASSERT_EQUAL_INT(BITEAR_MODEL_EXITS - 1, result.exit_index);
        for (int e = 0; e < BITEAR_MODEL_EXITS; e++) {
            TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_exit_output(&model, e, logits, &entropy));
            TEST_ASSERT_EQUAL_INT32_ARRAY(vectors_logits[i][e], logits, BITEAR_MODEL_CLASSES);
            TEST_ASSERT_EQUAL_UINT32(vectors_entropy_q16[i][e], entropy);
        }
        TEST_ASSERT_EQUAL_INT32_ARRAY(vectors_logits[i][BITEAR_MODEL_EXITS - 1], result.logits, BITEAR_MODEL_CLASSES);
    }
}

void test_default_thresholds_give_the_expected_exit_and_label(void)
{
    for (int i = 0; i < VECTORS_WINDOWS; i++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_infer(&model, vectors_features[i], &result));
        TEST_ASSERT_EQUAL_INT(vectors_exit[i], result.exit_index);
        TEST_ASSERT_EQUAL_INT(vectors_label[i], result.label);
        TEST_ASSERT_EQUAL_INT32_ARRAY(vectors_logits[i][result.exit_index], result.logits, BITEAR_MODEL_CLASSES);
    }
}

void test_always_first_exit_and_statistics(void)
{
    bitear_model_stats_t stats;
    int32_t logits[BITEAR_MODEL_CLASSES];
    uint32_t entropy;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_set_threshold(&model, BITEAR_MODEL_ALL_EXITS, BITEAR_THRESHOLD_ALWAYS));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_infer(&model, vectors_features[0], &result));
    TEST_ASSERT_EQUAL_INT(0, result.exit_index);
    TEST_ASSERT_EQUAL_INT32_ARRAY(vectors_logits[0][0], result.logits, BITEAR_MODEL_CLASSES);
    if (BITEAR_MODEL_EXITS > 1) {
        TEST_ASSERT_EQUAL_INT(BITEAR_ERR_STATE, bitear_model_exit_output(&model, 1, logits, &entropy));
    }
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_get_stats(&model, &stats));
    TEST_ASSERT_EQUAL_UINT32(1u, stats.inferences);
    TEST_ASSERT_EQUAL_UINT32(1u, stats.exits[0]);
    TEST_ASSERT_EQUAL_UINT32(bitear_model_blocks[0].binary_macs, (uint32_t)stats.binary_macs);
}

void test_threshold_arguments_are_checked(void)
{
    int32_t t;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_model_set_threshold(&model, 0, BITEAR_THRESHOLD_ALWAYS + 1));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_model_set_threshold(&model, 0, -2));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_model_set_threshold(&model, BITEAR_MODEL_EXITS - 1, 0));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_model_infer(&model, NULL, &result));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_model_get_threshold(&model, 0, NULL));
    if (BITEAR_MODEL_EXITS > 1) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_set_threshold(&model, 0, 1234));
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_get_threshold(&model, 0, &t));
        TEST_ASSERT_EQUAL_INT32(1234, t);
    }
}

void test_optimized_kernels_equal_reference_kernels(void)
{
#if BITEAR_KERNELS_OPTIMIZED
    static uint32_t b[BITEAR_MODEL_ACT_WORDS];
    const uint32_t *a = model.act;
    /* the optimized run fills model.act; redo every layer with the reference kernels */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_set_full_depth(&model));
    for (int i = 0; i < VECTORS_WINDOWS; i++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_infer(&model, vectors_features[i], &result));
        memset(b, 0, sizeof(b));
        bitear_stem_conv1d_ref(&bitear_model_stem, vectors_features[i], b + BITEAR_MODEL_STEM_OUT_OFFSET);
        for (int k = 0; k < BITEAR_MODEL_BLOCKS; k++) {
            const bitear_block_t *blk = &bitear_model_blocks[k];
            /* each layer from the optimized run's input, so a difference points at one layer */
            bitear_bconv1d_ref(&blk->conv, a + blk->in_offset, b + blk->out_offset);
        }
        TEST_ASSERT_EQUAL_UINT32_ARRAY(a, b, BITEAR_MODEL_ACT_WORDS);
    }
#else
    TEST_IGNORE_MESSAGE("reference kernels only in this build");
#endif
}

void test_stream_of_silence(void)
{
    static int16_t hop[BITEAR_FRONTEND_HOP];
    int ready = 0, results = 0;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_stream_init(&stream, 5));
    for (int h = 0; h < BITEAR_MODEL_FRAMES + 10; h++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_stream_push_hop(&stream, hop, &result, &ready));
        results += ready;
        if (h + 1 < BITEAR_MODEL_FRAMES) {
            TEST_ASSERT_EQUAL_INT(0, results); /* nothing before the window is full */
        }
    }
    TEST_ASSERT_EQUAL_INT(3, results); /* hops 49, 54, 59 */
    TEST_ASSERT_EQUAL_UINT32(3u, stream.inferences);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_stream_init(&stream, 0));
}

void test_full_depth_fits_the_instruction_budget(void)
{
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    uint32_t t0, t1;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_set_full_depth(&model));
    t0 = bitear_board_ticks();
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_model_infer(&model, vectors_features[0], &result));
    t1 = bitear_board_ticks();
    /* -icount shift=0: 1 tick = 40 instructions; host/bench.py counts it exactly */
    TEST_ASSERT_LESS_OR_EQUAL_UINT32(2000000u / 40u, t1 - t0);
#else
    TEST_IGNORE_MESSAGE("instruction counts only on qemu_m4");
#endif
}

int main(void)
{
    bitear_board_init();
    UNITY_BEGIN();
    RUN_TEST(test_vectors_belong_to_these_tables);
    RUN_TEST(test_every_layer_reads_inside_its_input);
    RUN_TEST(test_full_depth_logits_and_entropy_of_every_exit);
    RUN_TEST(test_default_thresholds_give_the_expected_exit_and_label);
    RUN_TEST(test_always_first_exit_and_statistics);
    RUN_TEST(test_threshold_arguments_are_checked);
    RUN_TEST(test_optimized_kernels_equal_reference_kernels);
    RUN_TEST(test_stream_of_silence);
    RUN_TEST(test_full_depth_fits_the_instruction_budget);
    return UNITY_END();
}
