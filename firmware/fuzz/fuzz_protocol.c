/* fuzz_protocol.c - libFuzzer target for the protocol decoder, encoder and AUDIO admission
 * (bitear_protocol.c), built with clang -fsanitize=fuzzer,address,undefined by scripts/fuzz.sh.
 *
 * The first input byte, modulo 3, picks what the rest is:
 *   0:    raw bytes off the line. Fed to one decoder byte by byte (bitear_proto_decoder_feed) and
 *         to another in runs (feed_bytes, run lengths taken from the data): both must report the
 *         same events and end with the same counters.
 *   1:    payloads, each [u16 LE length][length bytes] (length taken modulo 649), given a correct
 *         CRC and COBS framing here, so
 *         the body parsers are reached (random bytes almost never pass a CRC-16).
 *   2:    up to 16 AUDIO hops, each [u32 LE hop][u8 queue fill], encoded by bitear_proto_encode, so the
 *         admission rule sees any hop sequence (far off, wrapping, 0xFFFFFFFF).
 * Checked for every message: it re-encodes (the decoder accepts only what the encoder can
 * write), and the re-encoded frame decodes to a message that re-encodes to the same bytes; every
 * frame ends in exactly one counter; AUDIO hops go through bitear_proto_audio_admit, whose window
 * and counters must keep their invariants. A broken invariant aborts (a crash for libFuzzer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitear_protocol.h"

#define CHECK(cond) do { if (!(cond)) { abort(); } } while (0)

static uint32_t counter_sum(const bitear_proto_counters_t *c)
{
    uint32_t sum = 0;
#define ADD_(name, text) sum += c->name;
    BITEAR_PROTO_DECODER_COUNTERS(ADD_)
#undef ADD_
    return sum;
}

/* One message: re-encode, decode again, re-encode again: the same bytes. */
static void check_roundtrip(const bitear_proto_msg_t *msg)
{
    static uint8_t a[BITEAR_PROTO_MAX_FRAME], b[BITEAR_PROTO_MAX_FRAME];
    static bitear_proto_decoder_t dec;
    size_t na = 0, nb = 0, used = 0;
    bitear_proto_msg_t again;
    CHECK(bitear_proto_encode(msg, a, sizeof a, &na) == BITEAR_OK);
    CHECK(na >= 2u && na <= BITEAR_PROTO_MAX_FRAME && a[na - 1u] == 0u);
    for (size_t i = 0; i + 1u < na; i++) {
        CHECK(a[i] != 0u); /* 0x00 only as the delimiter */
    }
    CHECK(bitear_proto_decoder_init(&dec) == BITEAR_OK);
    CHECK(bitear_proto_decoder_feed_bytes(&dec, a, na, &used, &again) == BITEAR_PROTO_MESSAGE && used == na);
    CHECK(bitear_proto_encode(&again, b, sizeof b, &nb) == BITEAR_OK);
    CHECK(na == nb && memcmp(a, b, na) == 0);
}

static bitear_proto_audio_window_t window;
static bitear_proto_stats_t stats;

static void check_admit(uint32_t hop, unsigned queued)
{
    const bitear_proto_audio_window_t before = window;
    const bitear_proto_stats_t s0 = stats;
    const int flags = bitear_proto_audio_admit(&window, hop, queued % 5u, 4u, &stats);
    CHECK(flags >= 0 && flags <= (BITEAR_PROTO_ADMIT_QUEUE | BITEAR_PROTO_ADMIT_RESYNC | BITEAR_PROTO_ADMIT_REFUSED));
    CHECK(window.expected == before.expected || window.expected == hop + 1u); /* moves only to hop + 1 */
    CHECK(hop != 0xFFFFFFFFu || (flags == BITEAR_PROTO_ADMIT_REFUSED && window.expected == before.expected));
    CHECK(!(flags & BITEAR_PROTO_ADMIT_REFUSED) || window.expected == before.expected);
    CHECK(!(flags & BITEAR_PROTO_ADMIT_RESYNC) || hop == before.resync_hop);
    CHECK(stats.frames_dropped >= s0.frames_dropped && stats.frames_dropped - s0.frames_dropped <= BITEAR_PROTO_RESYNC_HOPS);
    CHECK(stats.audio_frames >= s0.audio_frames && stats.bad_commands >= s0.bad_commands);
    CHECK(stats.overruns >= s0.overruns && stats.resyncs >= s0.resyncs);
    CHECK(bitear_proto_credit_limit(window.expected, queued % 5u, 4u) >= window.expected);
}

static void handle(const bitear_proto_msg_t *msg)
{
    check_roundtrip(msg);
    if (msg->type == BITEAR_PROTO_AUDIO) {
        int16_t samples[BITEAR_PROTO_AUDIO_SAMPLES];
        bitear_proto_audio_samples(&msg->body.audio, samples);
        check_admit(msg->body.audio.hop, (unsigned)samples[0] & 0xFFu);
    } else if (msg->type == BITEAR_PROTO_READY) {
        for (unsigned i = 0; i <= msg->body.ready.classes; i++) {
            CHECK(bitear_proto_ready_label(&msg->body.ready, i) != NULL);
        }
    }
}

/* Both decoders over the same bytes, event by event. */
static void decode_both(const uint8_t *data, size_t n, const uint8_t *runs, size_t n_runs)
{
    static bitear_proto_decoder_t one, bulk;
    bitear_proto_msg_t m1, m2;
    CHECK(bitear_proto_decoder_init(&one) == BITEAR_OK && bitear_proto_decoder_init(&bulk) == BITEAR_OK);
    size_t i = 0, j = 0, r = 0;
    while (j < n) {
        size_t run = n_runs ? 1u + runs[r++ % n_runs] : n - j;
        if (run > n - j) {
            run = n - j;
        }
        size_t used = 0;
        const uint32_t frames_before = counter_sum(&bulk.counters);
        const bitear_status_t st2 = bitear_proto_decoder_feed_bytes(&bulk, data + j, run, &used, &m2);
        CHECK(used >= 1u && used <= run);
        /* the byte-by-byte decoder catches up to the same point */
        bitear_status_t st1 = BITEAR_PROTO_NEED_MORE;
        for (; i < j + used; i++) {
            st1 = bitear_proto_decoder_feed(&one, data[i], &m1);
            CHECK(i + 1u == j + used || st1 == BITEAR_PROTO_NEED_MORE);
        }
        j += used;
        CHECK(st1 == st2);
        CHECK(memcmp(&one.counters, &bulk.counters, sizeof one.counters) == 0);
        CHECK(counter_sum(&bulk.counters) - frames_before == (st2 == BITEAR_PROTO_NEED_MORE ? 0u : 1u));
        if (st2 == BITEAR_PROTO_MESSAGE) {
            CHECK(m1.type == m2.type && m1.seq == m2.seq);
            handle(&m2);
        } else if (st2 < 0 && m2.type != 0u) {
            CHECK(m1.type == m2.type && m1.seq == m2.seq); /* NACKable: passed its CRC */
        }
    }
}

/* COBS-frame payload[0 .. n) with its CRC appended into out; returns the frame length. */
static size_t frame_payload(const uint8_t *payload, size_t n, uint8_t *out)
{
    uint8_t p[BITEAR_PROTO_MAX_PAYLOAD];
    const uint16_t crc = bitear_proto_crc16(0xFFFFu, payload, n);
    memcpy(p, payload, n);
    p[n] = (uint8_t)(crc >> 8);
    p[n + 1u] = (uint8_t)(crc & 0xFFu);
    n += 2u;
    size_t o = 0, code_at = o++;
    uint8_t code = 1;
    for (size_t k = 0; k < n; k++) {
        if (p[k] == 0u) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = p[k];
            if (++code == 0xFFu) {
                out[code_at] = code;
                code_at = o++;
                code = 1;
            }
        }
    }
    out[code_at] = code;
    out[o++] = 0u;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t stream[1u << 16];
    if (size < 1u) {
        return 0;
    }
    const uint8_t mode = data[0];
    data++;
    size--;
    memset(&window, 0, sizeof window);
    memset(&stats, 0, sizeof stats);
    if (mode % 3u == 0u) {
        const size_t n_runs = (mode / 3u) & 7u; /* 0: one run per call */
        const size_t skip = n_runs < size ? n_runs : size;
        decode_both(data + skip, size - skip, data, skip);
        return 0;
    }
    if (mode % 3u == 2u) {
        static uint8_t pcm[2u * BITEAR_PROTO_AUDIO_SAMPLES];
        size_t n = 0, len = 0;
        for (size_t k = 0; k + 5u <= size && k < 5u * 16u; k += 5u) { /* at most 16 hops: speed */
            bitear_proto_msg_t msg = {.type = BITEAR_PROTO_AUDIO, .seq = (uint16_t)k};
            msg.body.audio.hop = (uint32_t)data[k] | ((uint32_t)data[k + 1u] << 8) | ((uint32_t)data[k + 2u] << 16) |
                                 ((uint32_t)data[k + 3u] << 24);
            pcm[0] = data[k + 4u]; /* the queue fill check_admit uses */
            msg.body.audio.pcm = pcm;
            CHECK(bitear_proto_encode(&msg, stream + n, sizeof stream - n, &len) == BITEAR_OK);
            n += len;
        }
        decode_both(stream, n, NULL, 0);
        return 0;
    }
    size_t n = 0;
    for (size_t k = 0; k + 2u <= size && n + BITEAR_PROTO_MAX_FRAME + 8u < sizeof stream;) {
        size_t len = (size_t)(data[k] | (data[k + 1u] << 8)) % (BITEAR_PROTO_MAX_PAYLOAD - 1u);
        k += 2u;
        if (len > size - k) {
            len = size - k;
        }
        n += frame_payload(data + k, len, stream + n);
        /* and the payload with its CRC straight into the parser */
        bitear_proto_msg_t msg;
        uint8_t p[BITEAR_PROTO_MAX_PAYLOAD + 2u];
        const uint16_t crc = bitear_proto_crc16(0xFFFFu, data + k, len);
        memcpy(p, data + k, len);
        p[len] = (uint8_t)(crc >> 8);
        p[len + 1u] = (uint8_t)(crc & 0xFFu);
        if (bitear_proto_parse(p, len + 2u, &msg) == BITEAR_PROTO_MESSAGE) {
            check_roundtrip(&msg);
        }
        k += len;
    }
    decode_both(stream, n, NULL, 0);
    return 0;
}
