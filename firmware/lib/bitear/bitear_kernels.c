/*
 * bitear_kernels.c — layer kernels of the binary network: plain reference versions, the
 * optimized binary conv (portable C, carry-save popcount accumulation) and the optimized int8
 * stem (Cortex-M DSP: SMLAD). Contract and bit conventions: bitear_kernels.h. Every function
 * here is bit-exact with codegen/reference.py; tests/test_kernels*.py check that on the host
 * and on the emulated Cortex-M4, for both paths.
 */
#include "bitear_kernels.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* ---------------------------------------------------------------------------------------------
 * Reference kernels: one output value at a time, in the order of the definitions.
 * ------------------------------------------------------------------------------------------- */

static int bitear_popcount32(uint32_t x)
{
    int n = 0;
    while (x != 0u) {
        x &= x - 1u; /* clears the lowest set bit */
        n++;
    }
    return n;
}

void bitear_stem_conv1d_ref(const bitear_stem_t *layer, const int8_t *features, uint32_t *out)
{
    const int words = layer->channels / 32;
    for (int t = 0; t < layer->out_len; t++) {
        const int first = layer->skip + t * layer->stride - layer->pad; /* frame of tap 0 */
        for (int w = 0; w < words; w++) {
            uint32_t bits = 0u;
            for (int b = 0; b < 32; b++) {
                const int c = 32 * w + b;
                const int8_t *wc = layer->weights + (int32_t)c * layer->kernel * layer->bins;
                int32_t acc = 0;
                for (int j = 0; j < layer->kernel; j++) {
                    const int f = first + j;
                    if (f < 0 || f >= layer->frames) {
                        continue; /* zero padding */
                    }
                    const int8_t *x = features + f * layer->bins;
                    const int8_t *wr = wc + j * layer->bins;
                    for (int i = 0; i < layer->bins; i++) {
                        acc += (int32_t)x[i] * wr[i];
                    }
                }
                bits |= (uint32_t)(acc < layer->thresholds[c]) << b;
            }
            out[t * words + w] = bits ^ layer->flips[w];
        }
    }
}

void bitear_bconv1d_ref(const bitear_bconv_t *layer, const uint32_t *region, uint32_t *out)
{
    const int n = layer->kernel * layer->in_words; /* words of one patch */
    const uint32_t *in = region + layer->skip * layer->in_words;
    for (int t = 0; t < layer->out_len; t++) {
        const uint32_t *patch = in + t * layer->stride * layer->in_words;
        for (int w = 0; w < layer->out_words; w++) {
            uint32_t bits = 0u;
            for (int b = 0; b < 32; b++) {
                const int c = 32 * w + b;
                const uint32_t *wc = layer->weights + c * n;
                int p = 0;
                for (int i = 0; i < n; i++) {
                    p += bitear_popcount32(patch[i] ^ wc[i]);
                }
                bits |= (uint32_t)(p > layer->thresholds[c]) << b;
            }
            out[t * layer->out_words + w] = bits ^ layer->flips[w];
        }
    }
}

void bitear_head_ref(const bitear_head_t *head, const uint32_t *act, uint16_t *counts, int32_t *logits)
{
    const int words = head->channels / 32;
    for (int c = 0; c < head->channels; c++) {
        counts[c] = 0u;
    }
    for (int t = 0; t < head->length; t++) {
        for (int w = 0; w < words; w++) {
            const uint32_t word = act[t * words + w];
            for (int b = 0; b < 32; b++) {
                counts[32 * w + b] = (uint16_t)(counts[32 * w + b] + ((word >> b) & 1u));
            }
        }
    }
    bitear_head_logits(head, counts, logits);
}

void bitear_head_logits(const bitear_head_t *head, const uint16_t *counts, int32_t *logits)
{
    const int32_t step = (int32_t)1 << head->step_shift;
    for (int k = 0; k < head->classes; k++) {
        const int8_t *wk = head->weights + k * head->channels;
        int32_t dot = 0;
        for (int c = 0; c < head->channels; c++) {
            dot += (int32_t)wk[c] * counts[c];
        }
        logits[k] = head->bias[k] - dot * step; /* in range: checked by the code generator */
    }
}

/* Optimized head (portable C): the -1 counts of 32 channels are gathered in byte lanes — 8
 * accumulators, accumulator j holds channels j, j + 8, j + 16, j + 24 of a word — so each time
 * step costs two operations per 8 channels instead of two per channel. */
void bitear_head_opt(const bitear_head_t *head, const uint32_t *act, uint16_t *counts, int32_t *logits)
{
    const int words = head->channels / 32;
    for (int w = 0; w < words; w++) {
        uint16_t *cw = counts + 32 * w;
        for (int c = 0; c < 32; c++) {
            cw[c] = 0u;
        }
        for (int t0 = 0; t0 < head->length; t0 += 255) { /* byte lanes hold up to 255 */
            const int t1 = head->length - t0 < 255 ? head->length : t0 + 255;
            uint32_t a0 = 0u, a1 = 0u, a2 = 0u, a3 = 0u, a4 = 0u, a5 = 0u, a6 = 0u, a7 = 0u;
            const uint32_t *p = act + t0 * words + w;
            for (int t = t0; t < t1; t++, p += words) {
                const uint32_t x = *p;
                a0 += x & 0x01010101u;
                a1 += (x >> 1) & 0x01010101u;
                a2 += (x >> 2) & 0x01010101u;
                a3 += (x >> 3) & 0x01010101u;
                a4 += (x >> 4) & 0x01010101u;
                a5 += (x >> 5) & 0x01010101u;
                a6 += (x >> 6) & 0x01010101u;
                a7 += (x >> 7) & 0x01010101u;
            }
            const uint32_t lanes[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
            for (int j = 0; j < 8; j++) {
                for (int i = 0; i < 4; i++) {
                    cw[j + 8 * i] = (uint16_t)(cw[j + 8 * i] + ((lanes[j] >> (8 * i)) & 0xFFu));
                }
            }
        }
    }
    const int32_t step = (int32_t)1 << head->step_shift;
    for (int k = 0; k < head->classes; k++) {
        const int8_t *wk = head->weights + k * head->channels;
        int32_t d0 = 0, d1 = 0;
        for (int c = 0; c < head->channels; c += 2) {
            d0 += (int32_t)wk[c] * counts[c];
            d1 += (int32_t)wk[c + 1] * counts[c + 1];
        }
        logits[k] = head->bias[k] - (d0 + d1) * step;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Early-exit entropy in fixed point (bit-exact with codegen/reference.py entropy_q16):
 *   d_k = min((L_max - L_k) * mult >> shift, D_MAX)        Q10 nats, < 16
 *   e_k = exp_hi[d_k >> 7] * exp_lo[d_k & 127] >> 24       exp(-d_k), Q24
 *   Z = sum e_k;  ln Z = n ln 2 + ln(1 + f) (table + linear interpolation)
 *   H = ln Z + (sum e_k d_k << 6) / Z                       Q16 nats
 *   h = min(H * inv_ln_classes >> 16, 65536)                normalized, Q16
 * ------------------------------------------------------------------------------------------- */
#define BITEAR_ENTROPY_D_MAX ((16u << 10) - 1u)
#define BITEAR_ENTROPY_ONE (1u << 24)
#define BITEAR_ENTROPY_FRAC_BITS (24 - 6) /* Q24 mantissa -> 64-entry log table */

static int32_t bitear_max_logit(const bitear_head_t *head, const int32_t *logits)
{
    int32_t lmax = logits[0];
    for (int k = 1; k < head->classes; k++) {
        if (logits[k] > lmax) {
            lmax = logits[k];
        }
    }
    return lmax;
}

/* exp(-d) in Q24 of the logit difference lmax - logit; *d_out = d in Q10 (clamped). */
static inline uint32_t bitear_exp_q24(const bitear_head_t *head, const bitear_entropy_tables_t *tables,
                                      int32_t lmax, int32_t logit, uint32_t *d_out)
{
    const uint32_t diff = (uint32_t)(lmax - logit); /* < 2^31: logits lie in +-2^30 */
    uint64_t d = ((uint64_t)diff * head->mult) >> head->shift;
    if (d > BITEAR_ENTROPY_D_MAX) {
        d = BITEAR_ENTROPY_D_MAX;
    }
    *d_out = (uint32_t)d;
    return (uint32_t)(((uint64_t)tables->exp_hi[d >> 7] * tables->exp_lo[d & 127u]) >> 24);
}

uint32_t bitear_entropy_q16(const bitear_head_t *head, const bitear_entropy_tables_t *tables,
                            const int32_t *logits)
{
    const int32_t lmax = bitear_max_logit(head, logits);
    uint64_t z = 0u;
    uint64_t s = 0u;
    for (int k = 0; k < head->classes; k++) {
        uint32_t d;
        const uint32_t e = bitear_exp_q24(head, tables, lmax, logits[k], &d);
        z += e;
        s += (uint64_t)e * d;
    }
    unsigned n = 0u;
    while ((z >> n) >= 2u * BITEAR_ENTROPY_ONE) {
        n++;
    }
    const uint32_t m = (uint32_t)(z >> n) - BITEAR_ENTROPY_ONE;
    const uint32_t idx = m >> BITEAR_ENTROPY_FRAC_BITS;
    const uint32_t frac = m & ((1u << BITEAR_ENTROPY_FRAC_BITS) - 1u);
    const uint32_t ln = tables->ln[idx] +
        (uint32_t)(((uint64_t)(tables->ln[idx + 1u] - tables->ln[idx]) * frac) >> BITEAR_ENTROPY_FRAC_BITS);
    const uint64_t h_nats = (uint64_t)n * tables->ln2_q16 + ln + ((s << 6) / z);
    const uint64_t h = (h_nats * tables->inv_ln_classes_q16) >> 16;
    return h > 65536u ? 65536u : (uint32_t)h;
}

void bitear_exit_softmax_q15(const bitear_head_t *head, const bitear_entropy_tables_t *tables,
                             const int32_t *logits, uint16_t *scores_q15)
{
    const int32_t lmax = bitear_max_logit(head, logits);
    uint32_t z = 0u; /* <= classes * 2^24: fits for up to 255 classes */
    uint32_t d;
    for (int k = 0; k < head->classes; k++) {
        z += bitear_exp_q24(head, tables, lmax, logits[k], &d);
    }
    const uint64_t r = ((uint64_t)1 << 56) / z; /* < 2^32 since z >= 2^24 */
    for (int k = 0; k < head->classes; k++) {
        const uint64_t e = bitear_exp_q24(head, tables, lmax, logits[k], &d);
        scores_q15[k] = (uint16_t)((e * r) >> 41);
    }
}

int bitear_argmax(const int32_t *values, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (values[i] > values[best]) {
            best = i;
        }
    }
    return best;
}

/* ---------------------------------------------------------------------------------------------
 * Optimized binary conv: popcount of (patch XOR weights) without a popcount instruction.
 * Carry-save accumulation: every three XOR words go through one carry-save adder (5 bitwise
 * operations) into a `ones` and a `twos` word; their SWAR nibble counts are combined as
 * ones + 2 * twos (at most 12 per nibble, no carry out), folded into byte lanes and added up;
 * the byte lanes are summed horizontally once per output channel (USADA8 where the DSP
 * extension exists). The SWAR masks are kept in registers (BITEAR_IN_REGISTER) so that Thumb-2
 * folds every "(x >> s) & mask" into one instruction with a shifted operand.
 * ------------------------------------------------------------------------------------------- */
#if defined(__GNUC__) && (defined(__arm__) || defined(__thumb__))
/* An empty asm the compiler cannot see through: the constant stays in a register. */
#define BITEAR_IN_REGISTER(v) __asm__("" : "+r"(v))
#else
#define BITEAR_IN_REGISTER(v) ((void)0)
#endif

/* 8 nibble counts (each <= 4) of x. */
static inline uint32_t bitear_nibbles(uint32_t x, uint32_t m1, uint32_t m2)
{
    x = x - ((x >> 1) & m1);
    return (x & m2) + ((x >> 2) & m2);
}

/* Horizontal sum of 4 byte lanes. */
static inline uint32_t bitear_bytesum(uint32_t x)
{
#if defined(__ARM_FEATURE_SIMD32)
    return __usada8(x, 0u, 0u);
#else
    x = (x & 0x00FF00FFu) + ((x >> 8) & 0x00FF00FFu);
    return (x + (x >> 16)) & 0xFFFFu;
#endif
}

/* Three XOR words through one carry-save adder, counted in nibbles, added to the byte lanes. */
#define BITEAR_CSA_GROUP(k)                                                                      \
    do {                                                                                         \
        const uint32_t x0 = a[(k)] ^ w[(k)];                                                     \
        const uint32_t x1 = a[(k) + 1] ^ w[(k) + 1];                                             \
        const uint32_t x2 = a[(k) + 2] ^ w[(k) + 2];                                             \
        const uint32_t u = x0 ^ x1;                                                              \
        const uint32_t ones = u ^ x2; /* x0 + x1 + x2 = ones + 2 * twos, bit by bit */           \
        const uint32_t twos = (x0 & x1) | (u & x2);                                              \
        const uint32_t s = bitear_nibbles(ones, m1, m2) + (bitear_nibbles(twos, m1, m2) << 1);   \
        bytes += (s & m4) + ((s >> 4) & m4); /* s <= 12 per nibble */                          \
    } while (0)

/* One XOR word counted in nibbles (<= 4), added to the byte lanes. */
#define BITEAR_POP_WORD(k)                                                                       \
    do {                                                                                         \
        const uint32_t s = bitear_nibbles(a[(k)] ^ w[(k)], m1, m2);                              \
        bytes += (s + (s >> 4)) & m4;                                                            \
    } while (0)

/* popcount(a XOR w) over 3 * groups + rest words, groups <= 10, rest <= 2 (byte lanes <= 240).
 * Straight-line code entered at the right place (a switch that falls through), so a dot
 * product of any length up to 30 words runs without loop overhead. */
#if defined(__GNUC__)
#define BITEAR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define BITEAR_ALWAYS_INLINE inline
#endif

static BITEAR_ALWAYS_INLINE uint32_t bitear_popcount_xor(const uint32_t *a, const uint32_t *w, int groups, int rest,
                                           uint32_t m1, uint32_t m2, uint32_t m4)
{
    uint32_t bytes = 0u;
    const int n3 = 3 * groups;
    switch (rest) {
    case 2:
        BITEAR_POP_WORD(n3 + 1);
        /* fallthrough */
    case 1:
        BITEAR_POP_WORD(n3);
        /* fallthrough */
    default:
        break;
    }
    switch (groups) {
    case 10: BITEAR_CSA_GROUP(27); /* fallthrough */
    case 9: BITEAR_CSA_GROUP(24); /* fallthrough */
    case 8: BITEAR_CSA_GROUP(21); /* fallthrough */
    case 7: BITEAR_CSA_GROUP(18); /* fallthrough */
    case 6: BITEAR_CSA_GROUP(15); /* fallthrough */
    case 5: BITEAR_CSA_GROUP(12); /* fallthrough */
    case 4: BITEAR_CSA_GROUP(9); /* fallthrough */
    case 3: BITEAR_CSA_GROUP(6); /* fallthrough */
    case 2: BITEAR_CSA_GROUP(3); /* fallthrough */
    case 1: BITEAR_CSA_GROUP(0); /* fallthrough */
    default:
        break;
    }
    return bitear_bytesum(bytes);
}

/* The output loop of the optimized conv, for patches of n <= 30 words (LONG = 0) or any n. */
#define BITEAR_BCONV_LOOP(LONG)                                                                   \
    for (int t = 0; t < out_len; t++) {                                                          \
        const uint32_t *patch = in + t * step;                                                   \
        const uint32_t *wc = weights;                                                            \
        uint32_t *o = out + t * out_words;                                                       \
        for (int w = 0; w < out_words; w++) {                                                    \
            uint32_t bits = 0u;                                                                  \
            for (int b = 0; b < 32; b++) {                                                       \
                int32_t p = 0;                                                                   \
                if (LONG) {                                                                      \
                    for (int i = 0; i < n; i += 30) { /* byte lanes stay below 256 */           \
                        const int len = n - i < 30 ? n - i : 30;                                 \
                        p += (int32_t)bitear_popcount_xor(patch + i, wc + i, len / 3, len % 3,   \
                                                          m1, m2, m4);                           \
                    }                                                                            \
                } else {                                                                         \
                    p = (int32_t)bitear_popcount_xor(patch, wc, groups, rest, m1, m2, m4);       \
                }                                                                                \
                /* bit enters at the top; after 32 channels channel b sits at bit b */          \
                bits = (bits >> 1) | ((uint32_t)((int32_t)thr[b] - p) & 0x80000000u);            \
                wc += n;                                                                         \
            }                                                                                    \
            thr += 32;                                                                           \
            o[w] = bits ^ flips[w];                                                              \
        }                                                                                        \
        thr -= 32 * out_words;                                                                   \
    }

void bitear_bconv1d_opt(const bitear_bconv_t *layer, const uint32_t *region, uint32_t *out)
{
    const uint32_t *in = region + layer->skip * layer->in_words;
    const int n = layer->kernel * layer->in_words;
    const int groups = n / 3, rest = n % 3;
    const int step = layer->stride * layer->in_words;
    const int out_len = layer->out_len, out_words = layer->out_words;
    const uint32_t *weights = layer->weights;
    const uint32_t *flips = layer->flips;
    const int16_t *thr = layer->thresholds;
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    BITEAR_IN_REGISTER(m1);
    BITEAR_IN_REGISTER(m2);
    BITEAR_IN_REGISTER(m4);
    if (n <= 30) {
        BITEAR_BCONV_LOOP(0)
    } else {
        BITEAR_BCONV_LOOP(1)
    }
}

/* ---------------------------------------------------------------------------------------------
 * Optimized int8 stem (Cortex-M DSP extension: SXTB16, SMLAD). The feature window is widened
 * once per call into int16 pairs in the order SXTB16 produces them — for every 4 bytes
 * (x0, x1, x2, x3) the words (x0 | x2 << 16) and (x1 | x3 << 16) — from the first frame an
 * output reads (skip - pad) on, with zero frames where that lies outside the window, so every
 * output step reads one contiguous run and needs no edge handling.
 * The weights of two output channels at a time are widened the same way; then register blocks of
 * 2 channels x 3 output steps (2 x 2 and 2 x 1 for the last steps) share every load, and each
 * SMLAD does 2 MACs.
 * ------------------------------------------------------------------------------------------- */
#if defined(__ARM_FEATURE_DSP)

static inline uint32_t bitear_load32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* unaligned LDR is fine on Cortex-M3/M4/M7/M33 */
    return v;
}

/* 4 int8 -> 2 words of int16 pairs: (x0, x2), (x1, x3). */
static inline void bitear_widen4(const int8_t *p, uint32_t *dst)
{
    const uint32_t v = bitear_load32(p);
    dst[0] = __sxtb16(v);
    dst[1] = __sxtb16((v >> 8) | (v << 24));
}

/* 2 x 2 register block: dot products of patches x0, x1 with weights wa, wb (n words of int16
 * pairs, n even); every loaded word feeds two SMLADs. */
static BITEAR_ALWAYS_INLINE void bitear_dot22_s16(const uint32_t *x0, const uint32_t *x1, const uint32_t *wa,
                                                  const uint32_t *wb, int n, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
#define BITEAR_DOT22_STEP(k)                \
    do {                                    \
        const uint32_t p = x0[(k)], q = x1[(k)]; \
        const uint32_t u = wa[(k)], v = wb[(k)]; \
        a00 = __smlad(p, u, a00);           \
        a01 = __smlad(q, u, a01);           \
        a10 = __smlad(p, v, a10);           \
        a11 = __smlad(q, v, a11);           \
    } while (0)
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        BITEAR_DOT22_STEP(i);
        BITEAR_DOT22_STEP(i + 1);
        BITEAR_DOT22_STEP(i + 2);
        BITEAR_DOT22_STEP(i + 3);
    }
    for (; i < n; i++) {
        BITEAR_DOT22_STEP(i);
    }
#undef BITEAR_DOT22_STEP
    acc[0] = a00; /* x0 . wa */
    acc[1] = a01; /* x1 . wa */
    acc[2] = a10; /* x0 . wb */
    acc[3] = a11; /* x1 . wb */
}

/* 2 x 3 register block: patches x, x + row, x + 2 row with weights wa, wb = wa + n: 5 loads and
 * 6 SMLAD (12 MACs) per word. */
static BITEAR_ALWAYS_INLINE void bitear_dot23_s16(const uint32_t *x, int row, const uint32_t *wa, int n,
                                                  int32_t acc[6])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0;
    const uint32_t *end = wa + n;
    const uint32_t *x1 = x + row, *x2 = x + 2 * row, *wb = wa + n;
    while (wa < end) { /* (unrolling this further makes gcc spill: more instructions, not fewer) */
        const uint32_t u = *wa++, v = *wb++;
        uint32_t p = *x++;
        a0 = __smlad(p, u, a0);
        b0 = __smlad(p, v, b0);
        p = *x1++;
        a1 = __smlad(p, u, a1);
        b1 = __smlad(p, v, b1);
        p = *x2++;
        a2 = __smlad(p, u, a2);
        b2 = __smlad(p, v, b2);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = b0;
    acc[4] = b1;
    acc[5] = b2;
}

void bitear_stem_conv1d_opt(const bitear_stem_t *layer, const int8_t *features, uint32_t *scratch, uint32_t *out)
{
    const int bins = layer->bins, kernel = layer->kernel, stride = layer->stride;
    const int pad = layer->pad;
    const int lead = pad > layer->skip ? pad - layer->skip : 0; /* zero frames before the first one read */
    const int from = layer->skip > pad ? layer->skip - pad : 0; /* first frame read */
    const int rows = layer->frames - from;
    const int half = bins / 2;                     /* words of int16 pairs per frame */
    const int n = kernel * half;                   /* words of one patch (even) */
    const int words = layer->channels / 32;
    const int out_len = layer->out_len;
    if (bins % 4 != 0) {
        bitear_stem_conv1d_ref(layer, features, out); /* shapes this path does not handle */
        return;
    }
    uint32_t *x16 = scratch;                                   /* (lead + rows + pad) * half words */
    uint32_t *wa = scratch + (layer->frames + 2 * pad) * half; /* 2 n words: two channels */
    uint32_t *wb = wa + n;
    for (int i = 0; i < lead * half; i++) {
        x16[i] = 0u;
    }
    for (int i = 0; i < pad * half; i++) {
        x16[(lead + rows) * half + i] = 0u;
    }
    for (int i = 0; i < rows * bins; i += 4) {
        bitear_widen4(features + from * bins + i, x16 + lead * half + i / 2);
    }
    for (int i = 0; i < out_len * words; i++) {
        out[i] = 0u;
    }
    const int row = stride * half; /* words between two output steps' patches */
    for (int c = 0; c < layer->channels; c += 2) {
        const int8_t *wc = layer->weights + c * kernel * bins;
        for (int i = 0; i < 2 * kernel * bins; i += 4) {
            bitear_widen4(wc + i, wa + i / 2);
        }
        const int32_t ta = layer->thresholds[c], tb = layer->thresholds[c + 1];
        const uint32_t bit_a = 1u << (c & 31), bit_b = bit_a << 1;
        uint32_t *col = out + c / 32;
        const uint32_t *x = x16;
        int t = 0;
        for (; t + 3 <= out_len; t += 3) {
            int32_t acc[6];
            bitear_dot23_s16(x, row, wa, n, acc);
            col[0] |= (acc[0] < ta ? bit_a : 0u) | (acc[3] < tb ? bit_b : 0u);
            col[words] |= (acc[1] < ta ? bit_a : 0u) | (acc[4] < tb ? bit_b : 0u);
            col[2 * words] |= (acc[2] < ta ? bit_a : 0u) | (acc[5] < tb ? bit_b : 0u);
            x += 3 * row;
            col += 3 * words;
        }
        for (; t + 2 <= out_len; t += 2) {
            int32_t acc[4];
            bitear_dot22_s16(x, x + row, wa, wb, n, acc);
            col[0] |= (acc[0] < ta ? bit_a : 0u) | (acc[2] < tb ? bit_b : 0u);
            col[words] |= (acc[1] < ta ? bit_a : 0u) | (acc[3] < tb ? bit_b : 0u);
            x += 2 * row;
            col += 2 * words;
        }
        if (t < out_len) { /* odd number of steps: the last one alone (x1 = x0, result unused) */
            int32_t acc[4];
            bitear_dot22_s16(x, x, wa, wb, n, acc);
            col[0] |= (acc[0] < ta ? bit_a : 0u) | (acc[2] < tb ? bit_b : 0u);
        }
    }
    for (int t = 0; t < out_len; t++) {
        for (int w = 0; w < words; w++) {
            out[t * words + w] ^= layer->flips[w];
        }
    }
}

/* One stem output from `kernel` consecutive frames (patch, contiguous), for the streaming runtime:
 * only the patch is widened (into scratch, kernel * bins / 2 words); each weight word is widened
 * on the fly (SXTB16, SXTB16 ROR 8), since every weight is used once. */
void bitear_stem_step_opt(const bitear_stem_t *layer, const int8_t *patch, uint32_t *scratch, uint32_t *out)
{
    const int n = layer->kernel * layer->bins; /* bytes of a patch and of a channel's weights */
    const int words = layer->channels / 32;
    if (n % 4 != 0) {
        bitear_stem_t one = *layer;
        one.frames = layer->kernel;
        one.out_len = 1;
        one.skip = 0;
        one.pad = 0;
        bitear_stem_conv1d_ref(&one, patch, out);
        return;
    }
    for (int i = 0; i < n; i += 4) {
        bitear_widen4(patch + i, scratch + i / 2);
    }
    for (int w = 0; w < words; w++) {
        uint32_t bits = 0u;
        for (int b = 0; b < 32; b += 2) { /* two channels at a time share every load of the patch */
            const int c = 32 * w + b;
            const int8_t *wa = layer->weights + (int32_t)c * n;
            const int8_t *wb = wa + n;
            const uint32_t *x = scratch;
            int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
            for (int i = 0; i < n; i += 4, x += 2) {
                const uint32_t u = bitear_load32(wa + i), v = bitear_load32(wb + i);
                a0 = __smlad(x[0], __sxtb16(u), a0);
                a1 = __smlad(x[1], __sxtb16((u >> 8) | (u << 24)), a1);
                b0 = __smlad(x[0], __sxtb16(v), b0);
                b1 = __smlad(x[1], __sxtb16((v >> 8) | (v << 24)), b1);
            }
            bits |= ((uint32_t)(a0 + a1 < layer->thresholds[c]) << b) |
                    ((uint32_t)(b0 + b1 < layer->thresholds[c + 1]) << (b + 1));
        }
        out[w] = bits ^ layer->flips[w];
    }
}

#endif /* __ARM_FEATURE_DSP */
