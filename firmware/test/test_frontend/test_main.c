/* test_main.c - Unity tests of the integer front end (firmware/lib/bitear/bitear_frontend.c),
 * on the emulated Cortex-M4 (qemu_m4: the DSP path) and on the host (plain C).
 *
 * Properties checked on the device itself (byte-exactness against the host build is tested
 * from Python in tests/test_frontend.py):
 *   - NULL pointers and an uninitialised state give status codes, and touch nothing;
 *   - digital silence gives the floor (-128) in every channel;
 *   - a tone at an FFT bin centre peaks in the mel channel the generated tables give the
 *     largest weight at that bin (computed here from the tables, not by hand);
 *   - doubling the amplitude adds 12 codes (energy x4 = 2 octaves, 6 codes each), from 4 LSB to
 *     full scale: the block-floating-point shift is compensated exactly;
 *   - full-scale clipped audio stays below the top code (Parseval bound 123);
 *   - streaming: the same hops into two fresh states give the same frames, the history
 *     matters, init resets;
 *   - cost (qemu_m4, -icount: 1 tick = 40 instructions): one push within the 18 k budget.
 */
#include <stdint.h>
#include <string.h>

#include "bitear_board.h"
#include "bitear_frontend.h"
#include "unity.h"

#define BITEAR_FRONTEND_TABLES_DEFINE /* this file's own copy of the (static const) tables */
#undef BITEAR_FRONTEND_TABLES_H
#include "bitear_frontend_tables.h"

#define HOP BITEAR_FRONTEND_HOP
#define BINS BITEAR_FRONTEND_BINS

static bitear_frontend_t fe, fe2;
/* RAM is budgeted (24 KB with the 8 KB stack): a few hops of audio, not a whole clip. The clip
 * helper is checked against streaming on the M4 from Python (tests/test_frontend.py). */
#define N_HOPS 4
static int16_t audio[N_HOPS * HOP];
static int8_t frames[N_HOPS][BINS];
static int8_t out[BINS], out2[BINS];

void setUp(void)
{
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_init(&fe));
}

void tearDown(void) {}

/* sin by range reduction + Taylor series in double (test code only; no libm needed). */
static double t_sin(double x)
{
    const double pi = 3.14159265358979323846;
    double term, sum;
    int i;
    while (x > pi) x -= 2 * pi;
    while (x < -pi) x += 2 * pi;
    term = sum = x;
    for (i = 1; i < 14; i++) {
        term *= -x * x / ((2.0 * i) * (2.0 * i + 1.0));
        sum += term;
    }
    return sum;
}

/* n samples of amp * sin(2 pi f t + 0.3), rounded and clipped to int16, starting at sample start. */
static void make_tone(int16_t *dst, int n, long start, double freq_hz, double amp)
{
    int i;
    for (i = 0; i < n; i++) {
        double v = amp * t_sin(2.0 * 3.14159265358979323846 * freq_hz * (double)(start + i) / BITEAR_SAMPLE_RATE + 0.3);
        v = v >= 0 ? v + 0.5 : v - 0.5;
        if (v > 32767.0) v = 32767.0;
        if (v < -32768.0) v = -32768.0;
        dst[i] = (int16_t)v;
    }
}

/* Push hops of a tone into a fresh state; return the last frame's values in out. */
static void tone_frame(double freq_hz, double amp, int hops)
{
    static int16_t hop[HOP];
    int h;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_init(&fe));
    for (h = 0; h < hops; h++) {
        make_tone(hop, HOP, (long)h * HOP, freq_hz, amp);
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, hop, out));
    }
}

static void assert_each(int expected, const int8_t *v)
{
    int c;
    for (c = 0; c < BINS; c++) TEST_ASSERT_EQUAL_INT8(expected, v[c]);
}

static int argmax(const int8_t *v)
{
    int c, best = 0;
    for (c = 1; c < BINS; c++) {
        if (v[c] > v[best]) best = c;
    }
    return best;
}

/* Mel channel with the largest weight at FFT bin k, from the generated tables:
 * bin k lies in band j (rising slope of channel j, weight r; falling slope of j-1, 1 - r). */
static int channel_of_bin(int k)
{
    int j = 0;
    uint32_t r;
    TEST_ASSERT_TRUE(k >= BITEAR_FE_MEL_FIRST_BIN && k <= BITEAR_FE_MEL_LAST_BIN);
    while (!(bitear_fe_mel_band_start[j] <= k && k < bitear_fe_mel_band_start[j + 1])) j++;
    r = bitear_fe_mel_rise_q15[k - BITEAR_FE_MEL_FIRST_BIN];
    if (j == BINS) return BINS - 1;
    if (j == 0) return 0;
    return r >= 16384u ? j : j - 1;
}

void test_null_pointers_and_uninitialised_state(void)
{
    static bitear_frontend_t never_initialised; /* zeroed, no magic */
    static const int16_t hop[HOP];
    memset(out, 7, sizeof out);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_frontend_init(NULL));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_frontend_push(NULL, hop, out));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_frontend_push(&fe, NULL, out));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_frontend_push(&fe, hop, NULL));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_NULL, bitear_frontend_clip(&fe, NULL, &frames[0][0]));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_STATE, bitear_frontend_push(&never_initialised, hop, out));
    assert_each(7, out);
    TEST_ASSERT_EQUAL_STRING("a required pointer argument is NULL", bitear_status_str(BITEAR_ERR_NULL));
}

void test_silence_gives_the_floor(void)
{
    static const int16_t zeros[HOP];
    int h;
    for (h = 0; h < 3; h++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, zeros, out));
        assert_each(BITEAR_FRONTEND_FLOOR, out);
    }
}

void test_tone_peaks_in_the_channel_the_tables_give_its_bin(void)
{
    /* FFT bins 10, 32 (1 kHz), 96, 192; bin k is k * 16000 / 512 Hz */
    static const int bins[] = {10, 32, 96, 192};
    unsigned i;
    for (i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        int k = bins[i];
        tone_frame((double)k * BITEAR_SAMPLE_RATE / BITEAR_FRONTEND_FFT_SIZE, 10000.0, 3);
        TEST_ASSERT_EQUAL_INT(channel_of_bin(k), argmax(out));
        TEST_ASSERT_GREATER_THAN(50, out[argmax(out)]);
    }
}

void test_amplitude_doubling_adds_twelve_codes(void)
{
    int k, prev = 0;
    const int ch = channel_of_bin(32);
    for (k = 0; k < 13; k++) { /* amplitude 4 .. 16384 */
        tone_frame(1000.0, 4.0 * (double)(1L << k), 2);
        TEST_ASSERT_EQUAL_INT(ch, argmax(out));
        if (k > 0) TEST_ASSERT_INT_WITHIN(1, 12, out[ch] - prev);
        prev = out[ch];
    }
}

void test_full_scale_clipping_stays_below_the_top(void)
{
    static int16_t hop[HOP];
    int h, i, c, top = -128;
    for (h = 0; h < 3; h++) {
        for (i = 0; i < HOP; i++) hop[i] = ((i / 8) & 1) ? 32767 : -32768; /* 1 kHz square */
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, hop, out));
        for (c = 0; c < BINS; c++) top = out[c] > top ? out[c] : top;
    }
    TEST_ASSERT_GREATER_THAN(100, top);
    TEST_ASSERT_LESS_OR_EQUAL(123, top);
}

void test_streaming_is_deterministic_and_init_resets(void)
{
    int h;
    make_tone(audio, N_HOPS * HOP, 0, 440.0, 3000.0);
    for (h = 0; h < N_HOPS * HOP; h += 7) audio[h] = (int16_t)(audio[h] + (h % 200) - 100);
    /* the same hops into two fresh states give the same frames */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_init(&fe2));
    for (h = 0; h < N_HOPS; h++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, audio + h * HOP, frames[h]));
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe2, audio + h * HOP, out2));
        TEST_ASSERT_EQUAL_INT8_ARRAY(frames[h], out2, BINS);
    }
    TEST_ASSERT_EQUAL_UINT32(N_HOPS, fe.hops);
    /* the history matters: the same hop after different audio gives a different frame */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_init(&fe2));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe2, audio + 2 * HOP, out2));
    TEST_ASSERT_TRUE(memcmp(out2, frames[2], BINS) != 0);
    /* init resets to the start of a stream */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_init(&fe));
    for (h = 0; h < N_HOPS; h++) {
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, audio + h * HOP, out));
        TEST_ASSERT_EQUAL_INT8_ARRAY(frames[h], out, BINS);
    }
}

void test_one_push_fits_the_instruction_budget(void)
{
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    static int16_t hop[HOP];
    uint32_t t0, t1;
    make_tone(hop, HOP, 0, 1234.0, 12000.0);
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, hop, out));
    t0 = bitear_board_ticks();
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_frontend_push(&fe, hop, out));
    t1 = bitear_board_ticks();
    /* -icount shift=0: 1 tick = 40 instructions (+1 tick for where the reads fall);
     * host/bench_frontend.py counts ~17.7 k exactly for a tone */
    TEST_ASSERT_LESS_OR_EQUAL_UINT32(18000u / 40u + 1u, t1 - t0);
    TEST_ASSERT_GREATER_THAN_UINT32(10000u / 40u, t1 - t0);
#else
    TEST_IGNORE_MESSAGE("instruction counts only on qemu_m4");
#endif
}

int main(void)
{
    bitear_board_init();
    UNITY_BEGIN();
    RUN_TEST(test_null_pointers_and_uninitialised_state);
    RUN_TEST(test_silence_gives_the_floor);
    RUN_TEST(test_tone_peaks_in_the_channel_the_tables_give_its_bin);
    RUN_TEST(test_amplitude_doubling_adds_twelve_codes);
    RUN_TEST(test_full_scale_clipping_stays_below_the_top);
    RUN_TEST(test_streaming_is_deterministic_and_init_resets);
    RUN_TEST(test_one_push_fits_the_instruction_budget);
    return UNITY_END();
}
