/* test_main.c - Unity tests of the serial protocol decoder/encoder (bitear_protocol.h) on the
 * board (qemu_m4) and the host.
 *
 * vectors.h holds frames encoded by host/protocol.py: each must decode to its type and seq and
 * re-encode to the same bytes, alone and back to back. Damaged input (garbage, oversize, bad CRC)
 * is counted and the decoder resynchronises. On qemu_m4 the cost of decoding one AUDIO frame is
 * counted with the tick counter (-icount: 1 tick = 40 instructions).
 * The full malformed-input and fuzz comparison with Python runs on the host: tests/test_protocol.py.
 */
#include <stdint.h>
#include <string.h>

#include "bitear_board.h"
#include "bitear_protocol.h"
#include "unity.h"
#include "vectors.h"

static bitear_proto_decoder_t dec;
static bitear_proto_msg_t msg;
static uint8_t out[BITEAR_PROTO_MAX_FRAME];

void setUp(void)
{
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_decoder_init(&dec));
}

void tearDown(void) {}

/* Feed n bytes; returns the number of messages decoded, the last one left in msg. */
static int feed_all(const uint8_t *data, size_t n, int *errors)
{
    int messages = 0;
    bitear_proto_msg_t m;
    for (size_t i = 0; i < n; i++) {
        const bitear_status_t st = bitear_proto_decoder_feed(&dec, data[i], &m);
        if (st == BITEAR_PROTO_MESSAGE) {
            msg = m;
            messages++;
        } else if (st < 0 && errors != NULL) {
            (*errors)++;
        }
    }
    return messages;
}

void test_crc16_check_value(void)
{
    const uint8_t check[] = "123456789";
    TEST_ASSERT_EQUAL_HEX16(0x29B1, bitear_proto_crc16(0xFFFF, check, 9));
}

void test_every_vector_decodes_to_its_type_and_seq_and_reencodes_identically(void)
{
    for (size_t v = 0; v < VECTOR_COUNT; v++) {
        size_t len = 0;
        TEST_ASSERT_EQUAL_INT_MESSAGE(1, feed_all(vectors[v].frame, vectors[v].len, NULL), bitear_proto_type_name(vectors[v].type));
        TEST_ASSERT_EQUAL_HEX8(vectors[v].type, msg.type);
        TEST_ASSERT_EQUAL_UINT16(vectors[v].seq, msg.seq);
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_encode(&msg, out, sizeof out, &len));
        TEST_ASSERT_EQUAL_UINT(vectors[v].len, len);
        TEST_ASSERT_EQUAL_UINT8_ARRAY(vectors[v].frame, out, len);
    }
    TEST_ASSERT_EQUAL_UINT32(VECTOR_COUNT, dec.counters.frames);
}

void test_vector_fields(void)
{
    int16_t samples[BITEAR_PROTO_AUDIO_SAMPLES];
    feed_all(vector_2_audio, sizeof vector_2_audio, NULL);
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, msg.body.audio.hop);
    bitear_proto_audio_samples(&msg.body.audio, samples);
    for (int i = 0; i < (int)BITEAR_PROTO_AUDIO_SAMPLES; i++) { /* host: i * 211 - 32768 as int16 */
        TEST_ASSERT_EQUAL_INT16((int16_t)(uint16_t)(i * 211 - 32768), samples[i]);
    }
    feed_all(vector_8_ready, sizeof vector_8_ready, NULL);
    TEST_ASSERT_EQUAL_UINT32(16000, msg.body.ready.sample_rate_hz);
    TEST_ASSERT_EQUAL_UINT8(12, msg.body.ready.classes);
    TEST_ASSERT_EQUAL_STRING("qemu_mps2_an386", msg.body.ready.board);
    TEST_ASSERT_EQUAL_STRING("0f066307d9bed4e0", msg.body.ready.model);
    TEST_ASSERT_EQUAL_STRING("_silence_", bitear_proto_ready_label(&msg.body.ready, 0));
    TEST_ASSERT_EQUAL_STRING("go", bitear_proto_ready_label(&msg.body.ready, 11));
    TEST_ASSERT_EQUAL_STRING("", bitear_proto_ready_label(&msg.body.ready, 12));
    feed_all(vector_3_set_threshold, sizeof vector_3_set_threshold, NULL);
    TEST_ASSERT_EQUAL_UINT8(BITEAR_PROTO_EXIT_ALL, msg.body.set_threshold.exit_index);
    TEST_ASSERT_EQUAL_INT32(BITEAR_PROTO_THRESHOLD_NEVER, msg.body.set_threshold.threshold_q16);
    feed_all(vector_16_set_period, sizeof vector_16_set_period, NULL);
    TEST_ASSERT_EQUAL_UINT8(2, msg.body.set_period.infer_every);
    feed_all(vector_14_ack, sizeof vector_14_ack, NULL);
    TEST_ASSERT_EQUAL_INT16(BITEAR_ERR_ARG, msg.body.ack.status);
    feed_all(vector_12_stats, sizeof vector_12_stats, NULL);
    TEST_ASSERT_EQUAL_UINT32(1, msg.body.stats.frames_received);
    TEST_ASSERT_EQUAL_UINT32(BITEAR_PROTO_STATS_COUNT, msg.body.stats.results_dropped); /* the last field */
}

void test_all_vectors_back_to_back_and_split_by_garbage(void)
{
    uint32_t lcg = 2024u;
    int errors = 0, messages = 0;
    for (size_t v = 0; v < VECTOR_COUNT; v++) {
        messages += feed_all(vectors[v].frame, vectors[v].len, &errors);
    }
    TEST_ASSERT_EQUAL_INT(VECTOR_COUNT, messages);
    TEST_ASSERT_EQUAL_INT(0, errors);
    /* garbage of varying length (no 0x00 inside), then a delimiter, before each vector */
    messages = 0;
    for (size_t v = 0; v < VECTOR_COUNT; v++) {
        uint8_t garbage[40];
        lcg = lcg * 1103515245u + 12345u;
        const size_t n = 1u + (lcg >> 16) % sizeof garbage;
        for (size_t i = 0; i < n; i++) {
            lcg = lcg * 1103515245u + 12345u;
            garbage[i] = (uint8_t)(1u + (lcg >> 16) % 255u);
        }
        garbage[n - 1] = 0x00;
        feed_all(garbage, n, &errors);
        messages += feed_all(vectors[v].frame, vectors[v].len, NULL);
        TEST_ASSERT_EQUAL_HEX8(vectors[v].type, msg.type);
    }
    TEST_ASSERT_EQUAL_INT(VECTOR_COUNT, messages);
    TEST_ASSERT_EQUAL_INT(VECTOR_COUNT, errors); /* each garbage run: exactly one counted error */
}

void test_oversize_is_counted_once_then_resync(void)
{
    int errors = 0;
    for (int i = 0; i < 2000; i++) {
        const uint8_t b = 0x42;
        feed_all(&b, 1, &errors);
    }
    TEST_ASSERT_EQUAL_INT(1, errors);
    TEST_ASSERT_EQUAL_UINT32(1, dec.counters.oversize);
    const uint8_t zero = 0;
    TEST_ASSERT_EQUAL_INT(0, feed_all(&zero, 1, &errors)); /* end of the skipped frame: silent */
    TEST_ASSERT_EQUAL_INT(1, feed_all(vector_0_hello, sizeof vector_0_hello, &errors));
    TEST_ASSERT_EQUAL_INT(1, errors);
}

void test_bad_crc_empty_and_truncated_frames(void)
{
    uint8_t frame[sizeof vector_0_hello];
    bitear_proto_msg_t m;
    memcpy(frame, vector_0_hello, sizeof frame);
    frame[5] ^= 0x01; /* a CRC byte (data, not a COBS code) */
    for (size_t i = 0; i + 1 < sizeof frame; i++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_PROTO_NEED_MORE, bitear_proto_decoder_feed(&dec, frame[i], &m));
    }
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_CRC, bitear_proto_decoder_feed(&dec, 0x00, &m));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_FORMAT, bitear_proto_decoder_feed(&dec, 0x00, &m)); /* empty */
    for (size_t i = 0; i < 3; i++) {                                                  /* truncated */
        bitear_proto_decoder_feed(&dec, vector_15_credit[i], &m);
    }
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_FORMAT, bitear_proto_decoder_feed(&dec, 0x00, &m));
    TEST_ASSERT_EQUAL_UINT32(1, dec.counters.crc_errors);
    TEST_ASSERT_EQUAL_UINT32(1, dec.counters.empty_frames);
    TEST_ASSERT_EQUAL_UINT32(1, dec.counters.cobs_errors);
    TEST_ASSERT_EQUAL_INT(1, feed_all(vector_15_credit, sizeof vector_15_credit, NULL));
    TEST_ASSERT_EQUAL_UINT32(8, msg.body.credit.limit);
    bitear_proto_stats_t stats;
    memset(&stats, 0, sizeof stats);
    bitear_proto_stats_from_decoder(&dec, &stats);
    TEST_ASSERT_EQUAL_UINT32(1, stats.frames_received);
    TEST_ASSERT_EQUAL_UINT32(1, stats.crc_errors);
    TEST_ASSERT_EQUAL_UINT32(2, stats.framing_errors);
}

void test_argument_and_size_errors(void)
{
    bitear_proto_decoder_t fresh;
    bitear_proto_msg_t m;
    size_t len = 123;
    memset(&fresh, 0, sizeof fresh);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_STATE, bitear_proto_decoder_feed(&fresh, 1, &m));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_proto_decoder_feed(NULL, 1, &m));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_proto_decoder_feed(&dec, 1, NULL));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_proto_decoder_init(NULL));
    feed_all(vector_9_result, sizeof vector_9_result, NULL);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_SIZE, bitear_proto_encode(&msg, out, sizeof vector_9_result - 1, &len));
    TEST_ASSERT_EQUAL_UINT(0, len);
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_encode(&msg, out, sizeof vector_9_result, &len));
    msg.body.result.classes = BITEAR_PROTO_MAX_CLASSES + 1;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_proto_encode(&msg, out, sizeof out, &len));
    msg.type = 0x42;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_proto_encode(&msg, out, sizeof out, &len));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_proto_encode(NULL, out, sizeof out, &len));
    TEST_ASSERT_EQUAL_STRING("CREDIT", bitear_proto_type_name(BITEAR_PROTO_CREDIT));
    TEST_ASSERT_EQUAL_STRING("?", bitear_proto_type_name(0x42));
    TEST_ASSERT_TRUE(bitear_proto_is_command(BITEAR_PROTO_AUDIO));
    TEST_ASSERT_FALSE(bitear_proto_is_command(BITEAR_PROTO_RESULT));
}

void test_ready_from_a_label_list(void)
{
    static const char *const labels[] = {"_silence_", "_unknown_", "yes"};
    char block[32];
    bitear_proto_msg_t ready = {0};
    size_t len = 0;
    const size_t n = bitear_proto_labels_join(labels, 3, block, sizeof block);
    TEST_ASSERT_EQUAL_UINT(24, n);
    TEST_ASSERT_EQUAL_UINT(0, bitear_proto_labels_join(labels, 3, block, 23)); /* does not fit */
    ready.type = BITEAR_PROTO_READY;
    ready.body.ready = (bitear_proto_ready_t){.sample_rate_hz = 16000, .hop_samples = 320, .infer_every_hops = 2,
                                              .classes = 3, .exits = 3, .cost_unit = BITEAR_PROTO_COST_INSTRUCTIONS,
                                              .board = "b", .model = "0123", .labels = block, .labels_len = (uint16_t)n};
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_encode(&ready, out, sizeof out, &len));
    TEST_ASSERT_EQUAL_INT(1, feed_all(out, len, NULL));
    TEST_ASSERT_EQUAL_STRING("yes", bitear_proto_ready_label(&msg.body.ready, 2));
    ready.body.ready.classes = 4; /* the block holds 3 labels */
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, bitear_proto_encode(&ready, out, sizeof out, &len));
}

/* Feed n bytes in runs through bitear_proto_decoder_feed_bytes; returns the messages decoded. */
static int feed_runs(const uint8_t *data, size_t n)
{
    int messages = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i += used) {
        if (bitear_proto_decoder_feed_bytes(&dec, data + i, n - i, &used, &msg) == BITEAR_PROTO_MESSAGE) {
            messages++;
        }
    }
    return messages;
}

void test_feed_bytes_decodes_every_vector_like_feed(void)
{
    for (size_t v = 0; v < VECTOR_COUNT; v++) {
        size_t len = 0;
        TEST_ASSERT_EQUAL_INT(1, feed_runs(vectors[v].frame, vectors[v].len));
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_encode(&msg, out, sizeof out, &len));
        TEST_ASSERT_EQUAL_UINT8_ARRAY(vectors[v].frame, out, len);
    }
    TEST_ASSERT_EQUAL_UINT32(VECTOR_COUNT, dec.counters.frames);
}

#define Q BITEAR_PROTO_ADMIT_QUEUE
#define RESYNC BITEAR_PROTO_ADMIT_RESYNC
#define REFUSED BITEAR_PROTO_ADMIT_REFUSED
#define FAR BITEAR_PROTO_RESYNC_HOPS

void test_audio_admission_and_credit_follow_the_documented_rules(void)
{
    bitear_proto_stats_t stats;
    bitear_proto_audio_window_t w = {0u, 0u};
    memset(&stats, 0, sizeof stats);
    TEST_ASSERT_EQUAL_UINT32(4, bitear_proto_credit_limit(w.expected, 0, 4));
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 0, 0, 4, &stats)); /* in order */
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 3, 1, 4, &stats)); /* 1, 2 lost */
    TEST_ASSERT_EQUAL_UINT32(4, w.expected);
    TEST_ASSERT_EQUAL_UINT32(2, stats.frames_dropped);
    TEST_ASSERT_EQUAL_INT(0, bitear_proto_audio_admit(&w, 2, 2, 4, &stats)); /* stale */
    TEST_ASSERT_EQUAL_UINT32(1, stats.bad_commands);
    TEST_ASSERT_EQUAL_UINT32(4, w.expected);
    TEST_ASSERT_EQUAL_INT(0, bitear_proto_audio_admit(&w, 4, 4, 4, &stats)); /* queue full */
    TEST_ASSERT_EQUAL_UINT32(1, stats.overruns);
    TEST_ASSERT_EQUAL_UINT32(5, w.expected);
    TEST_ASSERT_EQUAL_UINT32(2, stats.audio_frames);
    TEST_ASSERT_EQUAL_UINT32(5, bitear_proto_credit_limit(w.expected, 4, 4)); /* no room: limit = expected */
    TEST_ASSERT_EQUAL_UINT32(7, bitear_proto_credit_limit(w.expected, 2, 4));
    TEST_ASSERT_EQUAL_UINT32(0, stats.resyncs);
}

void test_far_off_hops_are_refused_alone_and_followed_two_in_a_row(void)
{
    bitear_proto_stats_t stats;
    bitear_proto_audio_window_t w = {1000u, 0u};
    memset(&stats, 0, sizeof stats);
    /* the window edges: FAR ahead is a gap, FAR behind is stale, one more is far off */
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 1000u + FAR, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(FAR, stats.frames_dropped);
    w.expected = 1000u;
    TEST_ASSERT_EQUAL_INT(0, bitear_proto_audio_admit(&w, 1000u - FAR, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(1, stats.bad_commands);
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 1000u + FAR + 1u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 1000u - FAR - 1u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(3, stats.bad_commands);
    TEST_ASSERT_EQUAL_UINT32(1000u, w.expected); /* refused frames never move the stream */
    /* a stray frame followed by the expected one: nothing changes */
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 101000u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 1000u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 1001u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(FAR, stats.frames_dropped);
    /* two in a row: the board takes the new numbering (also when the queue is full) */
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 7u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(RESYNC | Q, bitear_proto_audio_admit(&w, 8u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(9u, w.expected);
    TEST_ASSERT_EQUAL_UINT32(1, stats.resyncs);
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 90000u, 4, 4, &stats));
    TEST_ASSERT_EQUAL_INT(RESYNC, bitear_proto_audio_admit(&w, 90001u, 4, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(2, stats.resyncs);
    TEST_ASSERT_EQUAL_UINT32(1, stats.overruns);
    /* only the very next frame confirms */
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 5u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 90002u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 6u, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(90003u, w.expected);
    TEST_ASSERT_EQUAL_UINT32(2, stats.resyncs);
}

void test_hops_and_counters_never_wrap(void)
{
    bitear_proto_stats_t stats;
    bitear_proto_audio_window_t w = {200u, 0u};
    memset(&stats, 0, sizeof stats);
    /* 0xFFFFFFFF is no stream position: refused even when it is the expected hop */
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 0xFFFFFFFFu, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 0xFFFFFFFFu, 0, 4, &stats)); /* not a confirmation */
    TEST_ASSERT_EQUAL_UINT32(0, stats.resyncs);
    w.expected = 0xFFFFFFF0u;
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 0xFFFFFFFEu, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, w.expected);
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 0xFFFFFFFFu, 0, 4, &stats));
    TEST_ASSERT_EQUAL_INT(REFUSED, bitear_proto_audio_admit(&w, 0u, 0, 4, &stats)); /* no wrap to 0 */
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, w.expected);
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, bitear_proto_credit_limit(0xFFFFFFFEu, 0, 4)); /* saturates */
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, bitear_proto_credit_limit(0xFFFFFFFFu, 0, 255));
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFEu, bitear_proto_credit_limit(0xFFFFFFFCu, 2, 4));
    /* counters saturate instead of wrapping to small numbers */
    stats.frames_dropped = 0xFFFFFF00u;
    stats.audio_frames = 0xFFFFFFFFu;
    w.expected = 10u;
    TEST_ASSERT_EQUAL_INT(Q, bitear_proto_audio_admit(&w, 10u + FAR, 0, 4, &stats));
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, stats.frames_dropped);
    TEST_ASSERT_EQUAL_UINT32(0xFFFFFFFFu, stats.audio_frames);
}

void test_decoding_an_audio_frame_costs_few_instructions(void)
{
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    /* 653 bytes: COBS and the CRC over 650 bytes; 1 tick = 40 instructions. Unicorn counts
     * ~11.4 k instructions in runs and ~36 k byte by byte (tests/test_protocol.py). */
    uint32_t t0 = bitear_board_ticks();
    TEST_ASSERT_EQUAL_INT(1, feed_runs(vector_2_audio, sizeof vector_2_audio));
    uint32_t t1 = bitear_board_ticks();
    TEST_ASSERT_LESS_OR_EQUAL_UINT32(14000u / 40u, t1 - t0);
    t0 = bitear_board_ticks();
    TEST_ASSERT_EQUAL_INT(1, feed_all(vector_2_audio, sizeof vector_2_audio, NULL));
    t1 = bitear_board_ticks();
    TEST_ASSERT_LESS_OR_EQUAL_UINT32(40000u / 40u, t1 - t0);
#else
    TEST_IGNORE_MESSAGE("instruction counts only on qemu_m4");
#endif
}

int main(void)
{
    bitear_board_init();
    UNITY_BEGIN();
    RUN_TEST(test_crc16_check_value);
    RUN_TEST(test_every_vector_decodes_to_its_type_and_seq_and_reencodes_identically);
    RUN_TEST(test_vector_fields);
    RUN_TEST(test_all_vectors_back_to_back_and_split_by_garbage);
    RUN_TEST(test_oversize_is_counted_once_then_resync);
    RUN_TEST(test_bad_crc_empty_and_truncated_frames);
    RUN_TEST(test_argument_and_size_errors);
    RUN_TEST(test_ready_from_a_label_list);
    RUN_TEST(test_feed_bytes_decodes_every_vector_like_feed);
    RUN_TEST(test_audio_admission_and_credit_follow_the_documented_rules);
    RUN_TEST(test_far_off_hops_are_refused_alone_and_followed_two_in_a_row);
    RUN_TEST(test_hops_and_counters_never_wrap);
    RUN_TEST(test_decoding_an_audio_frame_costs_few_instructions);
    return UNITY_END();
}
