/*
 * bitear_frontend.c — integer log-mel front end (see bitear_frontend.h for the contract).
 *
 * Per push (all integer, fixed point):
 *   1. Window: p[n] = s[n] * w[n] (w Q15, |p| <= 2^30). Block floating point: find the bit length
 *      L of max |p| (OR of one's-complement magnitudes), shift right by rs = max(L - 14, 0) with
 *      rounding, so |y[n]| <= 2^14 and the frame keeps ~14 significant bits at any level.
 *      y[2m] + i*y[2m+1] is stored at the base-4 digit-reversed position of m (zero-padded to 512).
 *   2. 256-point complex radix-4 DIT FFT in int16, twiddles Q14, each stage divides by 4 with one
 *      rounding per output (complex magnitudes never exceed 2^14 * sqrt(2) < 2^15: no overflow).
 *      Result Z = DFT256(z) / 256.
 *   3. For every bin k the mel filters use, the real-FFT split gives X[k]/128 =
 *      S + W^k * (-i D) with S = Z[k] + conj Z[256-k], D = Z[k] - conj Z[256-k]; its power p[k]
 *      (< 2^32) is accumulated into the mel channels with Q15 weights in uint64.
 *      Scale: p[k] = |X_true[k]|^2 * 2^(16 - 2 rs), so E_acc = E_true * 2^(31 - 2 rs).
 *   4. v = floor(6 * log2(E_true) + 0.5) - 150 with log2 from count-leading-zeros + a Q8 table
 *      of the 7 mantissa bits below the leading one, and log2 E_true = log2 E_acc - 31 + 2 rs.
 *
 * Multiplications are int16 x int16 -> int32 (SMULBB/SMLABB class on a Cortex-M4) and
 * uint32 x uint16 -> uint64 accumulation (UMLAL).
 */
#define BITEAR_FRONTEND_TABLES_DEFINE
#include "bitear_frontend.h"

#include <string.h>

/* Right shifts of negative int32 values below must be arithmetic (implementation-defined in C99;
 * true for gcc, clang, armcc/armclang, IAR). A compiler that differs fails to compile here. */
typedef char bitear_fe_requires_arithmetic_shift[(((int32_t)-8) >> 1) == -4 ? 1 : -1];

#define FE_MAGIC 0x62664531u /* "bfE1" */
#define FE_N 256             /* complex FFT points */
#define FE_HEADROOM_BITS 14  /* windowed samples are normalised to |y| <= 2^14 */

#if (defined(__GNUC__) || defined(__clang__)) && !defined(BITEAR_FRONTEND_PORTABLE_CLZ)
#define FE_CLZ32(x) ((int)__builtin_clz(x)) /* x != 0 at every use */
#else
static int FE_CLZ32(uint32_t x)
{
    int n = 0;
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        n++;
    }
    return n;
}
#endif

/* OR of |s[i] * w[i]| (one's-complement magnitude: same bit length as the true magnitude bound). */
static uint32_t fe_magnitude_bits(const int16_t *s, const uint16_t *w, int n)
{
    uint32_t acc = 0;
    int i;
    for (i = 0; i < n; i++) {
        int32_t p = (int32_t)s[i] * (int32_t)w[i];
        acc |= (uint32_t)(p ^ (p >> 31));
    }
    return acc;
}

/* Window pairs of samples into complex values at digit-reversed positions. */
static void fe_window(int16_t *buf, const int16_t *s, const uint16_t *w, const uint8_t *rev,
                      int n_complex, int32_t bias, int rs)
{
    int m;
    for (m = 0; m < n_complex; m++) {
        int32_t p0 = (int32_t)s[2 * m] * (int32_t)w[2 * m];
        int32_t p1 = (int32_t)s[2 * m + 1] * (int32_t)w[2 * m + 1];
        int16_t *dst = buf + 2 * rev[m];
        dst[0] = (int16_t)((p0 + bias) >> rs);
        dst[1] = (int16_t)((p1 + bias) >> rs);
    }
}

/* In-place radix-4 DIT FFT of 256 complex int16 values in digit-reversed order; output = DFT / 256. */
static void fe_fft256(int16_t *buf)
{
    const int16_t *tw = bitear_fe_twiddle_q14;
    int span, i;

    /* Stage 0 (span 4): twiddles are all 1. */
    for (i = 0; i < FE_N; i += 4) {
        int16_t *x = buf + 2 * i;
        int32_t ar = x[0] + 2, ai = x[1] + 2; /* +2: rounding of the final >> 2 */
        int32_t t0r = ar + x[4], t0i = ai + x[5];
        int32_t t1r = ar - x[4], t1i = ai - x[5];
        int32_t t2r = x[2] + x[6], t2i = x[3] + x[7];
        int32_t t3r = x[2] - x[6], t3i = x[3] - x[7];
        x[0] = (int16_t)((t0r + t2r) >> 2);
        x[1] = (int16_t)((t0i + t2i) >> 2);
        x[2] = (int16_t)((t1r + t3i) >> 2);
        x[3] = (int16_t)((t1i - t3r) >> 2);
        x[4] = (int16_t)((t0r - t2r) >> 2);
        x[5] = (int16_t)((t0i - t2i) >> 2);
        x[6] = (int16_t)((t1r - t3i) >> 2);
        x[7] = (int16_t)((t1i + t3r) >> 2);
    }

    /* Stages with span 16, 64, 256: b, c, d multiplied by W^j, W^2j, W^3j (Q14). Sums are kept
     * at scale 2^14 and divided by 4 * 2^14 once: |sum| <= 4 * 2^14 * 23171 < 2^31. */
    for (span = 16; span <= FE_N; span *= 4) {
        int q = span / 4, j;
        for (j = 0; j < q; j++, tw += 6) {
            int32_t w1r = tw[0], w1i = tw[1], w2r = tw[2], w2i = tw[3], w3r = tw[4], w3i = tw[5];
            int base;
            for (base = j; base < FE_N; base += span) {
                int16_t *a = buf + 2 * base;
                int16_t *b = a + 2 * q;
                int16_t *c = b + 2 * q;
                int16_t *d = c + 2 * q;
                int32_t br = b[0], bi = b[1], cr = c[0], ci = c[1], dr = d[0], di = d[1];
                int32_t Ar = (int32_t)a[0] * 16384 + 32768; /* +2^15: rounding of >> 16 */
                int32_t Ai = (int32_t)a[1] * 16384 + 32768;
                int32_t Br = br * w1r - bi * w1i, Bi = br * w1i + bi * w1r;
                int32_t Cr = cr * w2r - ci * w2i, Ci = cr * w2i + ci * w2r;
                int32_t Dr = dr * w3r - di * w3i, Di = dr * w3i + di * w3r;
                int32_t t0r = Ar + Cr, t0i = Ai + Ci;
                int32_t t1r = Ar - Cr, t1i = Ai - Ci;
                int32_t t2r = Br + Dr, t2i = Bi + Di;
                int32_t t3r = Br - Dr, t3i = Bi - Di;
                a[0] = (int16_t)((t0r + t2r) >> 16);
                a[1] = (int16_t)((t0i + t2i) >> 16);
                b[0] = (int16_t)((t1r + t3i) >> 16);
                b[1] = (int16_t)((t1i - t3r) >> 16);
                c[0] = (int16_t)((t0r - t2r) >> 16);
                c[1] = (int16_t)((t0i - t2i) >> 16);
                d[0] = (int16_t)((t1r - t3i) >> 16);
                d[1] = (int16_t)((t1i + t3r) >> 16);
            }
        }
    }
}

/* int8 code of a mel energy accumulated at scale 2^(31 - 2 rs). */
static int8_t fe_log_code(uint64_t e, int rs)
{
    uint32_t hi = (uint32_t)(e >> 32), lo = (uint32_t)e, x;
    int32_t msb, l8, v;
    if (hi != 0u) {
        int z = FE_CLZ32(hi);
        x = z ? (hi << z) | (lo >> (32 - z)) : hi;
        msb = 63 - z;
    } else if (lo != 0u) {
        int z = FE_CLZ32(lo);
        x = lo << z;
        msb = 31 - z;
    } else {
        return (int8_t)BITEAR_FRONTEND_FLOOR;
    }
    /* log2(E_true) in Q8 */
    l8 = 256 * (msb - 31 + 2 * rs) +
         bitear_fe_log2_frac_q8[(x >> (31 - BITEAR_FE_LOG2_MANTISSA_BITS)) &
                                ((1u << BITEAR_FE_LOG2_MANTISSA_BITS) - 1u)];
    if (l8 < 0) return (int8_t)BITEAR_FRONTEND_FLOOR; /* E_true < 1: far below the floor */
    v = ((BITEAR_FRONTEND_LOG_SCALE * l8 + 128) >> 8) + BITEAR_FRONTEND_LOG_OFFSET;
    if (v < -128) v = -128;
    if (v > 127) v = 127;
    return (int8_t)v;
}

/* Power of bin k (BITEAR_FE_MEL_FIRST_BIN <= k <= LAST_BIN, so 0 < 256 - k < 256). */
static uint32_t fe_bin_power(const int16_t *z, const int16_t *cs, int k)
{
    int32_t ar = z[2 * k], ai = z[2 * k + 1];
    int32_t br = z[2 * (FE_N - k)], bi = z[2 * (FE_N - k) + 1]; /* conj taken below */
    int32_t sr = ar + br, si = ai - bi;                         /* S = A + conj B */
    int32_t dr = ar - br, di = ai + bi;                         /* D = A - conj B */
    int32_t c = cs[0], s = cs[1];
    /* 2X/256 = S + (c - i s)(di - i dr), rounded from Q14; |.| < 2^16 */
    int32_t xr = (sr * 16384 + c * di - s * dr + 8192) >> 14;
    int32_t xi = (si * 16384 - c * dr - s * di + 8192) >> 14;
    uint32_t ur = (uint32_t)xr, ui = (uint32_t)xi; /* squares mod 2^32 are exact: xr^2 + xi^2 < 2^32 */
    return ur * ur + ui * ui;
}

bitear_status_t bitear_frontend_init(bitear_frontend_t *fe)
{
    if (fe == NULL) return BITEAR_ERR_NULL;
    memset(fe, 0, sizeof(*fe));
    fe->magic = FE_MAGIC;
    return BITEAR_OK;
}

bitear_status_t bitear_frontend_push(bitear_frontend_t *fe, const int16_t *hop, int8_t *out)
{
    const uint16_t *win = bitear_fe_window_q15;
    uint32_t bits;
    int c;

    if (fe == NULL || hop == NULL || out == NULL) return BITEAR_ERR_NULL;
    if (fe->magic != FE_MAGIC) return BITEAR_ERR_STATE;
    fe->hops++;

    bits = fe_magnitude_bits(fe->history, win, BITEAR_FRONTEND_HISTORY) |
           fe_magnitude_bits(hop, win + BITEAR_FRONTEND_HISTORY, BITEAR_FRONTEND_HOP);
    if (bits == 0u) { /* digital silence: every channel is at the floor */
        for (c = 0; c < BITEAR_FRONTEND_BINS; c++) out[c] = (int8_t)BITEAR_FRONTEND_FLOOR;
    } else {
        int len = 32 - FE_CLZ32(bits);
        int rs = len > FE_HEADROOM_BITS ? len - FE_HEADROOM_BITS : 0;
        int32_t bias = (int32_t)((1u << rs) >> 1);
        const uint8_t *rev = bitear_fe_digit_rev;
        const uint16_t *start = bitear_fe_mel_band_start;
        const uint16_t *rise = bitear_fe_mel_rise_q15; /* entry i is bin FIRST_BIN + i */
        const int16_t *cs = bitear_fe_split_q14;
        int16_t *buf = fe->work;
        uint64_t prev_rise = 0;
        int m, j;

        fe_window(buf, fe->history, win, rev, BITEAR_FRONTEND_HISTORY / 2, bias, rs);
        fe_window(buf, hop, win + BITEAR_FRONTEND_HISTORY, rev + BITEAR_FRONTEND_HISTORY / 2,
                  BITEAR_FRONTEND_HOP / 2, bias, rs);
        for (m = BITEAR_FRONTEND_WINDOW / 2; m < FE_N; m++) { /* zero padding 480..511 */
            buf[2 * rev[m]] = 0;
            buf[2 * rev[m] + 1] = 0;
        }
        fe_fft256(buf);

        /* Band j = bins [start[j], start[j+1]): rising slope of channel j, falling of channel j-1. */
        for (j = 0; j <= BITEAR_FRONTEND_BINS; j++) {
            uint64_t up = 0, down = 0;
            int k;
            for (k = start[j]; k < start[j + 1]; k++) {
                int i = k - BITEAR_FE_MEL_FIRST_BIN;
                uint32_t p = fe_bin_power(buf, cs + 2 * i, k);
                uint32_t r = rise[i];
                up += (uint64_t)p * r;
                down += (uint64_t)p * (32768u - r);
            }
            if (j > 0) out[j - 1] = fe_log_code(prev_rise + down, rs);
            prev_rise = up;
        }
    }

    memcpy(fe->history, hop + (BITEAR_FRONTEND_HOP - BITEAR_FRONTEND_HISTORY),
           sizeof(fe->history));
    return BITEAR_OK;
}

bitear_status_t bitear_frontend_clip(bitear_frontend_t *fe, const int16_t *clip, int8_t *out)
{
    int8_t first[BITEAR_FRONTEND_BINS];
    bitear_status_t st;
    int h;

    if (fe == NULL || clip == NULL || out == NULL) return BITEAR_ERR_NULL;
    st = bitear_frontend_init(fe);
    if (st != BITEAR_OK) return st;
    st = bitear_frontend_push(fe, clip, first); /* frame -1 straddles the clip start: dropped */
    for (h = 1; st == BITEAR_OK && h <= BITEAR_FRONTEND_FRAMES; h++) {
        st = bitear_frontend_push(fe, clip + h * BITEAR_FRONTEND_HOP,
                                  out + (h - 1) * BITEAR_FRONTEND_BINS);
    }
    return st;
}

bitear_status_t bitear_frontend_clips(bitear_frontend_t *fe, const int16_t *clips, size_t n_clips,
                                      int8_t *out)
{
    size_t i;
    if (fe == NULL || clips == NULL || out == NULL) return BITEAR_ERR_NULL;
    for (i = 0; i < n_clips; i++) {
        bitear_status_t st = bitear_frontend_clip(fe, clips + i * BITEAR_FRONTEND_CLIP_SAMPLES,
                                                  out + i * (BITEAR_FRONTEND_FRAMES * BITEAR_FRONTEND_BINS));
        if (st != BITEAR_OK) return st;
    }
    return BITEAR_OK;
}
