/*
 * bitear_frontend.c — integer log-mel front end (see bitear_frontend.h for the contract).
 *
 * Per push (all integer, fixed point):
 *   1. Window: p[n] = s[n] * w[n] (w Q15 int16, |p| < 2^30). Block floating point: find the bit
 *      length L of max |p| (OR of one's-complement magnitudes), shift right by rs = max(L - 12, 0)
 *      with rounding, so |y[n]| <= 2^12 and the frame keeps ~12 significant bits at any level.
 *      y[2m] + i*y[2m+1] is stored at the base-4 digit-reversed position of m (zero-padded to 512).
 *   2. 256-point complex radix-4 DIT FFT in int16: stage 0 exact (no scaling, |X| <= 2^14), the
 *      three stages with twiddles (Q14) divide by 4 with one rounding per output. Complex
 *      magnitudes never exceed 2^14 * sqrt(2) < 2^15: no overflow. Result Z = DFT256(z) / 64.
 *   3. For every bin k the mel filters use, the real-FFT split gives X_y[k]/32 =
 *      S + W^k * (-i D) with S = Z[k] + conj Z[256-k], D = Z[k] - conj Z[256-k]; its power p[k]
 *      (< 2^32) is accumulated into the mel channels with Q15 weights in uint64.
 *      Scale: y = s*w*2^(15 - rs), so p[k] = |X_true[k]|^2 * 2^(20 - 2 rs) and
 *      E_acc = E_true * 2^(35 - 2 rs).
 *   4. v = floor(6 * log2(E_true) + 0.5) - 150 with log2 from count-leading-zeros + a Q8 table
 *      of the 7 mantissa bits below the leading one, and log2 E_true = log2 E_acc - 35 + 2 rs.
 *
 * Multiplications are int16 x int16 -> int32 (SMULBB/SMLABB class on a Cortex-M4) and
 * uint32 x uint16 -> uint64 accumulation (UMLAL).
 *
 * Two paths compute the same integers. The plain C below is the reference (host, Cortex-M0+).
 * The Cortex-M4 DSP path (__ARM_FEATURE_DSP) reorganises the work, not the arithmetic: the window
 * is fused with FFT stage 0 (no zero-padding pass, one digit-reversed store per butterfly); the
 * radix-4 butterflies are dual multiply-accumulates (SMLSD/SMLADX); split, power and both mel
 * slopes of a bin are one pass over a generated coefficient row per bin (SMLAD, UMLAL); the log
 * is a closed form of the plain one (step table, SSAT). tests/test_frontend_frozen.py holds the
 * output bytes of every build to the same frozen hashes; `python -m host.bench_frontend` counts
 * each stage.
 */
/* The Cortex-M4 DSP path (SIMD32/DSP instructions via ACLE intrinsics) computes exactly the
 * same integers as the plain C path, which stays the reference (host, Cortex-M0+); tests compare
 * both, on the emulated M4, with the host build and with frozen output bytes.
 * Define BITEAR_FRONTEND_NO_DSP to force plain C. */
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN) && \
    !defined(BITEAR_FRONTEND_NO_DSP)
#define FE_USE_DSP 1
#define BITEAR_FRONTEND_DSP_TABLES /* the DSP path's twiddle and split tables */
#include <arm_acle.h>
#else
#define FE_USE_DSP 0
#endif

#define BITEAR_FRONTEND_TABLES_DEFINE
#include "bitear_frontend.h"

#include <string.h>

/* Right shifts of negative int32 values below must be arithmetic (implementation-defined in C99;
 * true for gcc, clang, armcc/armclang, IAR). A compiler that differs fails to compile here. */
typedef char bitear_fe_requires_arithmetic_shift[(((int32_t)-8) >> 1) == -4 ? 1 : -1];

#define FE_MAGIC 0x62664531u /* "bfE1" */
#define FE_N 256             /* complex FFT points */
#define FE_HEADROOM_BITS 12  /* windowed samples are normalised to |y| <= 2^12 */

#if defined(__GNUC__)
#define FE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define FE_ALWAYS_INLINE static inline
#endif

/* Each stage of a push is a function of its own. The profiling build (-DBITEAR_FRONTEND_PROFILE,
 * host/bench_frontend.py) keeps them out of line so the instruction counter can attribute every
 * instruction to its stage; the normal build lets the compiler inline them. */
#if defined(BITEAR_FRONTEND_PROFILE) && defined(__GNUC__)
#define FE_STAGE static __attribute__((noinline))
#else
#define FE_STAGE static
#endif

#if defined(__GNUC__) && !defined(BITEAR_FRONTEND_PORTABLE_CLZ)
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

#if FE_USE_DSP
/* Cortex-M4 DSP path: two int16 values (a complex value: re low, im high) form one 32-bit word,
 * loaded/stored with memcpy (one LDR/STR, no aliasing issue; little-endian only). The int16
 * halves are taken with (int16_t) casts and >> 16, which gcc/clang define as modulo/arithmetic
 * and compile to SMULBB/SMULTT; PKHBT/PKHTB come from inline assembly under gcc/clang. */
static inline int32_t fe_ld2(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}
static inline void fe_st2(int16_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}
/* Load the next four (two) words of a table row and advance p: one LDM instruction under gcc/clang
 * (its register list must ascend, hence the fixed registers), plain loads elsewhere. */
#if defined(__GNUC__)
#define FE_LOAD4(p, a, b, c, d)                                                                   \
    do {                                                                                          \
        register uint32_t a_ __asm__("r4"), b_ __asm__("r5"), c_ __asm__("r6"), d_ __asm__("r8"); \
        __asm__("ldmia %[ptr]!, {%[ra], %[rb], %[rc], %[rd]}"                                     \
                : [ptr] "+r"(p), [ra] "=r"(a_), [rb] "=r"(b_), [rc] "=r"(c_), [rd] "=r"(d_)        \
                : "m"(*(const uint32_t(*)[4])(p)));                                                \
        a = a_, b = b_, c = c_, d = d_;                                                           \
    } while (0)
#define FE_LOAD2(p, a, b)                                                                         \
    do {                                                                                          \
        register uint32_t a_ __asm__("r4"), b_ __asm__("r5");                                     \
        __asm__("ldmia %[ptr]!, {%[ra], %[rb]}" : [ptr] "+r"(p), [ra] "=r"(a_), [rb] "=r"(b_)      \
                : "m"(*(const uint32_t(*)[2])(p)));                                                \
        a = a_, b = b_;                                                                           \
    } while (0)
#else
#define FE_LOAD4(p, a, b, c, d) (a = (p)[0], b = (p)[1], c = (p)[2], d = (p)[3], (p) += 4)
#define FE_LOAD2(p, a, b) (a = (p)[0], b = (p)[1], (p) += 2)
#endif
/* high half of hi_word on top, high half of lo_word below: ((hi >> 16) << 16) | (lo >> 16) */
static inline uint32_t fe_pack_high(int32_t hi_word, int32_t lo_word)
{
#if defined(__GNUC__)
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi_word), "r"(lo_word));
    return r;
#else
    return ((uint32_t)hi_word & 0xFFFF0000u) | ((uint32_t)lo_word >> 16);
#endif
}
/* low half of hi on top, low half of lo below */
static inline uint32_t fe_pack_low(int32_t hi, int32_t lo)
{
#if defined(__GNUC__)
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
#else
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
#endif
}
#endif

/* OR of |s[i] * w[i]| over n (even) samples (one's-complement magnitude: the same bit length as
 * the largest magnitude). */
FE_STAGE uint32_t fe_magnitude_bits(const int16_t *s, const int16_t *w, int n)
{
    uint32_t acc = 0;
#if FE_USE_DSP
    const int16_t *end = s + n;
#if defined(__GNUC__)
    /* Eight samples per iteration (n is a multiple of 8: 160, 320), each pair: two post-increment
     * loads, SMULBB and SMULTT, the one's complement and OR of each product (8 instructions; gcc
     * makes 10 of the C below). */
    uint32_t sv, wv, p0, p1;
    __asm__("1:\n\t"
            ".rept 4\n\t"
            "ldr %[sv], [%[s]], #4\n\t"
            "ldr %[wv], [%[w]], #4\n\t"
            "smulbb %[p0], %[sv], %[wv]\n\t"
            "smultt %[p1], %[sv], %[wv]\n\t"
            "eor %[p0], %[p0], %[p0], asr #31\n\t"
            "eor %[p1], %[p1], %[p1], asr #31\n\t"
            "orr %[acc], %[acc], %[p0]\n\t"
            "orr %[acc], %[acc], %[p1]\n\t"
            ".endr\n\t"
            "cmp %[s], %[end]\n\t"
            "blo 1b"
            : [acc] "+r"(acc), [s] "+r"(s), [w] "+r"(w), [sv] "=&r"(sv), [wv] "=&r"(wv), [p0] "=&r"(p0),
              [p1] "=&r"(p1)
            : [end] "r"(end)
            : "cc", "memory");
#else
    while (s < end) {
        int32_t sv = fe_ld2(s), wv = fe_ld2(w);
        int32_t p0 = (int32_t)(int16_t)sv * (int16_t)wv, p1 = (sv >> 16) * (wv >> 16);
        acc |= (uint32_t)(p0 ^ (p0 >> 31)) | (uint32_t)(p1 ^ (p1 >> 31));
        s += 2, w += 2;
    }
#endif
#else
    int i;
    for (i = 0; i < n; i += 2) {
        int32_t p0 = (int32_t)s[i] * w[i];
        int32_t p1 = (int32_t)s[i + 1] * w[i + 1];
        acc |= (uint32_t)(p0 ^ (p0 >> 31)) | (uint32_t)(p1 ^ (p1 >> 31));
    }
#endif
    return acc;
}

#if FE_USE_DSP
/* Window the sample pair at s (window w) into one complex value (re low, im high). */
FE_ALWAYS_INLINE uint32_t fe_window_pair(const int16_t *s, const int16_t *w, int32_t bias, int rs)
{
    int32_t sv = fe_ld2(s), wv = fe_ld2(w);
    return fe_pack_low((__smlatt(sv, wv, bias)) >> rs, (__smlabb(sv, wv, bias)) >> rs);
}

/* Window and FFT stage 0 in one pass (DSP path). The complex inputs z[m0 + 64 i] (i = 0..3; z[m]
 * = samples 2m, 2m + 1) form the radix-4 butterfly written at digit-reversed position rev[m0]; s_i
 * points to the samples of z[m0 + 64 i] for the first m0 of the range (window offset 128 i), n
 * butterflies; with has_d == 0, z[m0 + 192] lies in the zero padding. */
FE_ALWAYS_INLINE void fe_window_fft0_dsp(int16_t *buf, const int16_t *s0, const int16_t *s1, const int16_t *s2,
                                         const int16_t *s3, const int16_t *w, const uint8_t *rev, int n,
                                         int32_t bias, int rs, const int has_d)
{
    int m;
    for (m = 0; m < n; m++, s0 += 2, s1 += 2, s2 += 2, s3 += 2, w += 2) {
        int32_t a = (int32_t)fe_window_pair(s0, w, bias, rs);
        int32_t b = (int32_t)fe_window_pair(s1, w + 128, bias, rs);
        int32_t c = (int32_t)fe_window_pair(s2, w + 256, bias, rs);
        int32_t t0 = __sadd16(a, c), t1 = __ssub16(a, c), t2 = b, t3 = b;
        int16_t *x = buf + 2 * rev[m];
        if (has_d) {
            int32_t d = (int32_t)fe_window_pair(s3, w + 384, bias, rs);
            t2 = __sadd16(b, d);
            t3 = __ssub16(b, d);
        }
        fe_st2(x, (uint32_t)__sadd16(t0, t2));
        fe_st2(x + 2, (uint32_t)__ssax(t1, t3)); /* t1 - i t3 */
        fe_st2(x + 4, (uint32_t)__ssub16(t0, t2));
        fe_st2(x + 6, (uint32_t)__sasx(t1, t3)); /* t1 + i t3 */
    }
}

FE_STAGE void fe_window_fft0(int16_t *buf, const int16_t *history, const int16_t *hop, int32_t bias, int rs)
{
    const int16_t *w = bitear_fe_window_q15;
    const uint8_t *rev = bitear_fe_digit_rev;
    /* z[m0 + 64]: samples 2 m0 + 128 lie in the history for m0 < 16, in the hop after */
    fe_window_fft0_dsp(buf, history, history + 128, hop + 96, hop + 224, w, rev, 16, bias, rs, 1);
    fe_window_fft0_dsp(buf, history + 32, hop, hop + 128, hop + 256, w + 32, rev + 16, 32, bias, rs, 1);
    fe_window_fft0_dsp(buf, history + 96, hop + 64, hop + 192, hop, w + 96, rev + 48, 16, bias, rs, 0);
}
#else
/* Window pairs of samples into complex values at digit-reversed positions. */
FE_STAGE void fe_window(int16_t *buf, const int16_t *s, const int16_t *w, const uint8_t *rev,
                        int n_complex, int32_t bias, int rs)
{
    int m;
    for (m = 0; m < n_complex; m++) {
        int32_t p0 = (int32_t)s[2 * m] * w[2 * m];
        int32_t p1 = (int32_t)s[2 * m + 1] * w[2 * m + 1];
        int16_t *dst = buf + 2 * rev[m];
        dst[0] = (int16_t)((p0 + bias) >> rs);
        dst[1] = (int16_t)((p1 + bias) >> rs);
    }
}

/* The FFT: in-place radix-4 DIT of 256 complex int16 values in digit-reversed order (stage 0, then
 * stages with span 16, 64, 256); output = DFT / 64 (stage 0 exact, stages 1..3 divide by 4 with
 * rounding). Stage 0 (span 4): twiddles are all 1. */
FE_STAGE void fe_fft_stage0(int16_t *buf)
{
    int i;

    /* Stage 0 (span 4): twiddles are all 1, exact integer sums (|y| <= 2^12, so |X| <= 2^14). */
    for (i = 0; i < FE_N; i += 4) {
        int16_t *x = buf + 2 * i;
        int32_t t0r = x[0] + x[4], t0i = x[1] + x[5];
        int32_t t1r = x[0] - x[4], t1i = x[1] - x[5];
        int32_t t2r = x[2] + x[6], t2i = x[3] + x[7];
        int32_t t3r = x[2] - x[6], t3i = x[3] - x[7];
        x[0] = (int16_t)(t0r + t2r);
        x[1] = (int16_t)(t0i + t2i);
        x[2] = (int16_t)(t1r + t3i);
        x[3] = (int16_t)(t1i - t3r);
        x[4] = (int16_t)(t0r - t2r);
        x[5] = (int16_t)(t0i - t2i);
        x[6] = (int16_t)(t1r - t3i);
        x[7] = (int16_t)(t1i + t3r);
    }
}
#endif

#if FE_USE_DSP
/* One radix-4 stage with span 16, 64 or 256 (DSP path): the integers of the plain-C stage below.
 * a + c W^2j and b W^j + d W^3j are dual multiply-accumulates (SMLSD/SMLADX) onto a * 2^14 + 2^15
 * and b W^j; the differences follow as 2 x - (x + y) = x - y. Every value is the plain path's int32
 * (|sum| < 2^31; the instructions and the unsigned doubling wrap modulo 2^32, so partial sums
 * never matter). */
FE_ALWAYS_INLINE void fe_butterfly_dsp(int16_t *a, const int q, int32_t w1, int32_t w2, int32_t w3)
{
    int32_t av = fe_ld2(a), bv = fe_ld2(a + 2 * q), cv = fe_ld2(a + 4 * q), dv = fe_ld2(a + 6 * q);
    int32_t Ar = __smlabb(av, 16384, 32768); /* +2^15: rounding of >> 16 */
    int32_t Ai = __smlatb(av, 16384, 32768);
    int32_t Br = __smusd(bv, w1), Bi = __smuadx(bv, w1);
    int32_t t0r = __smlsd(cv, w2, Ar), t0i = __smladx(cv, w2, Ai); /* A + C */
    int32_t t2r = __smlsd(dv, w3, Br), t2i = __smladx(dv, w3, Bi); /* B + D */
    int32_t t1r = (int32_t)(2u * (uint32_t)Ar - (uint32_t)t0r);     /* A - C */
    int32_t t1i = (int32_t)(2u * (uint32_t)Ai - (uint32_t)t0i);
    int32_t t3r = (int32_t)(2u * (uint32_t)Br - (uint32_t)t2r);     /* B - D */
    int32_t t3i = (int32_t)(2u * (uint32_t)Bi - (uint32_t)t2i);
    fe_st2(a, fe_pack_high(t0i + t2i, t0r + t2r));
    fe_st2(a + 2 * q, fe_pack_high(t1i - t3r, t1r + t3i));
    fe_st2(a + 4 * q, fe_pack_high(t0i - t2i, t0r - t2r));
    fe_st2(a + 6 * q, fe_pack_high(t1i + t3r, t1r - t3i));
}

/* Stages with span 16 and 64: per j, the butterflies j, j + span, ... share their twiddles. */
FE_ALWAYS_INLINE void fe_fft_stage_dsp(int16_t *buf, const int16_t *tw, const int span)
{
    const int q = span / 4;
    int j;
    for (j = 0; j < q; j++, tw += 6) {
        const int32_t w1 = fe_ld2(tw), w2 = fe_ld2(tw + 2), w3 = fe_ld2(tw + 4);
        int16_t *a = buf + 2 * j;
        do {
            fe_butterfly_dsp(a, q, w1, w2, w3);
            a += 2 * span;
        } while (a < buf + 2 * FE_N);
    }
}

FE_STAGE void fe_fft_stages(int16_t *buf)
{
    const int16_t *tw = bitear_fe_twiddle_q14 + 6 * (4 + 16);
    int16_t *a;
    fe_fft_stage_dsp(buf, bitear_fe_twiddle_q14, 16);
    fe_fft_stage_dsp(buf, bitear_fe_twiddle_q14 + 6 * 4, 64);
    for (a = buf; a < buf + 2 * (FE_N / 4); a += 2, tw += 6) { /* span 256: one butterfly per j */
        fe_butterfly_dsp(a, FE_N / 4, fe_ld2(tw), fe_ld2(tw + 2), fe_ld2(tw + 4));
    }
}
#else
/* One radix-4 stage with span 16, 64 or 256: b, c, d multiplied by W^j, W^2j, W^3j (Q14, from tw).
 * Sums are kept at scale 2^14 and divided by 4 * 2^14 once: |sum| <= 4 * 2^14 * 23171 < 2^31. */
static void fe_fft_stage(int16_t *buf, const int16_t *tw, int span)
{
    int q = span / 4, j;
    for (j = 0; j < q; j++, tw += 6) {
        int32_t w1r = tw[0], w1i = tw[1], w2r = tw[2], w2i = tw[3], w3r = tw[4], w3i = tw[5];
        int base;
        for (base = j; base < FE_N; base += span) {
            int16_t *a = buf + 2 * base;
            int16_t *b = a + 2 * q;
            int16_t *c = b + 2 * q;
            int16_t *d = c + 2 * q;
            int32_t Ar = (int32_t)a[0] * 16384 + 32768; /* +2^15: rounding of >> 16 */
            int32_t Ai = (int32_t)a[1] * 16384 + 32768;
            int32_t br = b[0], bi = b[1], cr = c[0], ci = c[1], dr = d[0], di = d[1];
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

FE_STAGE void fe_fft_stages(int16_t *buf)
{
    fe_fft_stage(buf, bitear_fe_twiddle_q14, 16);
    fe_fft_stage(buf, bitear_fe_twiddle_q14 + 6 * 4, 64);
    fe_fft_stage(buf, bitear_fe_twiddle_q14 + 6 * (4 + 16), 256);
}
#endif

#if !FE_USE_DSP
/* int8 code of a mel energy accumulated at scale 2^(35 - 2 rs). */
FE_STAGE int8_t fe_log_code(uint64_t e, int rs)
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
    l8 = 256 * (msb - 35 + 2 * rs) +
         bitear_fe_log2_frac_q8[(x >> (31 - BITEAR_FE_LOG2_MANTISSA_BITS)) &
                                ((1u << BITEAR_FE_LOG2_MANTISSA_BITS) - 1u)];
    if (l8 < 0) return (int8_t)BITEAR_FRONTEND_FLOOR; /* E_true < 1: far below the floor */
    v = ((BITEAR_FRONTEND_LOG_SCALE * l8 + 128) >> 8) + BITEAR_FRONTEND_LOG_OFFSET;
    if (v < -128) v = -128;
    if (v > 127) v = 127;
    return (int8_t)v;
}

/* Power of bin k from za = Z + k and zb = Z + (256 - k) (0 < k < 256) and cs = (cos, sin)(pi k/256). */
FE_ALWAYS_INLINE uint32_t fe_bin_power(const int16_t *za, const int16_t *zb, const int16_t *cs)
{
    int32_t ar = za[0], ai = za[1], br = zb[0], bi = zb[1]; /* conj of B taken below */
    int32_t sr = ar + br, si = ai - bi;                     /* S = A + conj B */
    int32_t dr = ar - br, di = ai + bi;                     /* D = A - conj B */
    int32_t c = cs[0], s = cs[1];
    /* X_y/32 = S + (c - i s)(di - i dr), rounded from Q14; |.| <= 480 * 2^12 / 32 < 2^16 */
    int32_t xr = (sr * 16384 + 8192 + c * di - s * dr) >> 14;
    int32_t xi = (si * 16384 + 8192 - c * dr - s * di) >> 14;
    uint32_t ur = (uint32_t)xr, ui = (uint32_t)xi; /* squares mod 2^32 are exact: xr^2 + xi^2 < 2^32 */
    return ur * ur + ui * ui;
}
#endif

#if FE_USE_DSP
/* int8 code of a mel energy e accumulated at scale 2^(35 - 2 rs), k_rs = LOG_SCALE * (2 rs - 35)
 * + LOG_OFFSET (DSP path): the plain path's fe_log_code in closed form. With msb the leading
 * one's position and m the 7 bits below it, the code is LOG_SCALE * msb + log_step[m] + k_rs,
 * saturated to int8 (SSAT): below the plain path's early returns (e = 0: msb = -1; E_true < 1)
 * it is under -128 already. */
FE_STAGE int8_t fe_log_code_dsp(uint64_t e, int32_t k_rs)
{
    uint32_t hi = (uint32_t)(e >> 32), lo = (uint32_t)e, x;
    int32_t msb;
    if (hi != 0u) {
        uint32_t z = (uint32_t)FE_CLZ32(hi);
        x = (hi << z) | ((lo >> 1) >> (31u - z));
        msb = 63 - (int32_t)z;
    } else {
        uint32_t z = lo != 0u ? (uint32_t)FE_CLZ32(lo) : 32u; /* one CLZ on Arm */
        x = lo << (z & 31u);
        msb = 31 - (int32_t)z;
    }
    return (int8_t)__ssat(BITEAR_FRONTEND_LOG_SCALE * msb +
                              bitear_fe_log_step[(x >> (31 - BITEAR_FE_LOG2_MANTISSA_BITS)) &
                                                 ((1u << BITEAR_FE_LOG2_MANTISSA_BITS) - 1u)] + k_rs,
                          8);
}

/* The bins of one band (DSP path): split, power, and the rising/falling mel sums. Each bin's table
 * row holds four coefficient pairs and its two mel weights: with A = Z[k], B = Z[256 - k],
 * xr * 2^14 + 8192 and xi * 2^14 + 8192 of fe_bin_power are each two dual multiply-accumulates
 * (exact: the values fit int32, the instructions wrap modulo 2^32). */
FE_ALWAYS_INLINE uint64_t fe_band_dsp(const uint32_t **row_p, const uint32_t *band_end, const int16_t **za_p,
                                      const int16_t **zb_p, uint64_t *up_p)
{
    const uint32_t *row = *row_p;
    const int16_t *za = *za_p, *zb = *zb_p;
    uint64_t up = 0, down = *up_p; /* the previous band's rising sum: same channel */
    do { /* no band is empty (codegen/frontend_tables.py checks) */
        int32_t A = fe_ld2(za), B = fe_ld2(zb);
        uint32_t c0, c1, c2, c3, r_up, r_down, ur, ui, p;
        FE_LOAD4(row, c0, c1, c2, c3);
        ur = (uint32_t)(__smlad(A, (int32_t)c0, __smlad(B, (int32_t)c1, 8192)) >> 14); /* xr */
        ui = (uint32_t)(__smlad(A, (int32_t)c2, __smlad(B, (int32_t)c3, 8192)) >> 14); /* xi */
        p = ur * ur + ui * ui;
        FE_LOAD2(row, r_up, r_down);
        up += (uint64_t)p * r_up;
        down += (uint64_t)p * r_down;
        za += 2;
        zb -= 2;
    } while (row < band_end);
    *row_p = row, *za_p = za, *zb_p = zb, *up_p = up;
    return down;
}

/* Split, power and mel sums of the bins the filters use, then the log of each channel (DSP path):
 * band j holds the rising slope of channel j and the falling slope of channel j - 1. */
FE_STAGE void fe_mel(const int16_t *buf, int8_t *out, int rs)
{
    const uint32_t *row = bitear_fe_mel_dsp; /* six words per bin */
    const int16_t *za = buf + 2 * BITEAR_FE_MEL_FIRST_BIN;          /* Z[k] */
    const int16_t *zb = buf + 2 * (FE_N - BITEAR_FE_MEL_FIRST_BIN); /* Z[256 - k] */
    const int32_t k_rs = BITEAR_FRONTEND_LOG_SCALE * (2 * rs - 35) + BITEAR_FRONTEND_LOG_OFFSET;
    uint64_t up = 0;
    int j;

    (void)fe_band_dsp(&row, bitear_fe_mel_dsp + bitear_fe_mel_dsp_band_end[0], &za, &zb, &up);
    for (j = 1; j <= BITEAR_FRONTEND_BINS; j++) {
        uint64_t e = fe_band_dsp(&row, bitear_fe_mel_dsp + bitear_fe_mel_dsp_band_end[j], &za, &zb, &up);
        out[j - 1] = fe_log_code_dsp(e, k_rs);
    }
}
#else
/* Real-FFT split, power and mel sums of the bins the filters use, then the log of each channel. */
FE_STAGE void fe_mel(const int16_t *buf, int8_t *out, int rs)
{
    const uint16_t *start = bitear_fe_mel_band_start;
    const uint16_t *rise = bitear_fe_mel_rise_q15; /* entry i is bin FIRST_BIN + i */
    const int16_t *cs = bitear_fe_split_q14;
    const int16_t *za = buf + 2 * BITEAR_FE_MEL_FIRST_BIN;          /* Z[k] */
    const int16_t *zb = buf + 2 * (FE_N - BITEAR_FE_MEL_FIRST_BIN); /* Z[256 - k] */
    uint64_t prev_rise = 0;
    int j;

    /* Band j = bins [start[j], start[j+1]): rising slope of channel j, falling of channel j-1. */
    for (j = 0; j <= BITEAR_FRONTEND_BINS; j++) {
        uint64_t up = 0, down = 0;
        int k;
        for (k = start[j]; k < start[j + 1]; k++, za += 2, zb -= 2, cs += 2) {
            uint32_t p = fe_bin_power(za, zb, cs);
            uint32_t r = *rise++;
            up += (uint64_t)p * r;
            down += (uint64_t)p * (32768u - r);
        }
        if (j > 0) out[j - 1] = fe_log_code(prev_rise + down, rs);
        prev_rise = up;
    }
}
#endif

size_t bitear_frontend_state_size(void)
{
    return sizeof(bitear_frontend_t);
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
    const int16_t *win = bitear_fe_window_q15;
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
        int16_t *buf = fe->work;

#if FE_USE_DSP
        fe_window_fft0(buf, fe->history, hop, bias, rs);
#else
        const uint8_t *rev = bitear_fe_digit_rev;
        int m;
        fe_window(buf, fe->history, win, rev, BITEAR_FRONTEND_HISTORY / 2, bias, rs);
        fe_window(buf, hop, win + BITEAR_FRONTEND_HISTORY, rev + BITEAR_FRONTEND_HISTORY / 2,
                  BITEAR_FRONTEND_HOP / 2, bias, rs);
        for (m = BITEAR_FRONTEND_WINDOW / 2; m < FE_N; m++) { /* zero padding 480..511 */
            buf[2 * rev[m]] = 0;
            buf[2 * rev[m] + 1] = 0;
        }
        fe_fft_stage0(buf);
#endif
        fe_fft_stages(buf);
        fe_mel(buf, out, rs);
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
