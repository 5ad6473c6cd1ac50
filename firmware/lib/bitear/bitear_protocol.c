/*
 * bitear_protocol.c — the serial protocol of bitear_protocol.h: COBS framing, CRC-16/CCITT-FALSE,
 * message bodies, the incremental decoder and the encoder. docs/protocol.md is the specification.
 *
 * The encoder COBS-encodes while it writes (a small writer keeps the position of the open block's
 * code byte), so a frame needs no second buffer. The CRC is the table-free byte-wise form of the
 * 0x1021 polynomial (about ten instructions per byte, no 512-byte table in flash).
 */
#include "bitear_protocol.h"

#include <string.h>

#define DECODER_MAGIC 0x50524F54u /* "PROT" */

enum { STATE_IDLE = 0, STATE_BLOCK = 1, STATE_DISCARD = 2 };

/* One kind per decoder counter, in the order of BITEAR_PROTO_DECODER_COUNTERS. */
#define KIND_ENUM_(name, text) KIND_##name,
enum { BITEAR_PROTO_DECODER_COUNTERS(KIND_ENUM_) KIND_COUNT };
#undef KIND_ENUM_

/* What feed/parse return for each kind of frame. */
static const int8_t kind_status[KIND_COUNT] = {
    [KIND_frames] = BITEAR_PROTO_MESSAGE,
    [KIND_cobs_errors] = BITEAR_ERR_FORMAT,
    [KIND_empty_frames] = BITEAR_ERR_FORMAT,
    [KIND_short_frames] = BITEAR_ERR_FORMAT,
    [KIND_oversize] = BITEAR_ERR_OVERFLOW,
    [KIND_crc_errors] = BITEAR_ERR_CRC,
    [KIND_bad_version] = BITEAR_ERR_UNSUPPORTED,
    [KIND_unknown_type] = BITEAR_ERR_UNSUPPORTED,
    [KIND_bad_length] = BITEAR_ERR_FORMAT,
};

static void count_kind(bitear_proto_counters_t *c, int kind)
{
#define COUNT_CASE_(name, text) case KIND_##name: c->name++; break;
    switch (kind) {
        BITEAR_PROTO_DECODER_COUNTERS(COUNT_CASE_)
        default: break;
    }
#undef COUNT_CASE_
}

/* ---- small helpers ------------------------------------------------------------------------- */

static uint16_t crc_step(uint16_t crc, uint8_t b)
{
    uint16_t x = (uint16_t)((crc >> 8) ^ b);
    x ^= (uint16_t)(x >> 4);
    return (uint16_t)((crc << 8) ^ (x << 12) ^ (x << 5) ^ x);
}

uint16_t bitear_proto_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc = crc_step(crc, data[i]);
    }
    return crc;
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Body length limits of a type; 0 for an unknown type. */
static int type_limits(uint8_t type, size_t *min_body, size_t *max_body)
{
#define LIMITS_CASE_(name, code, lo, hi, text) \
    case (code): *min_body = (lo); *max_body = (hi); return 1;
    switch (type) {
        BITEAR_PROTO_MESSAGE_LIST(LIMITS_CASE_)
        default: return 0;
    }
#undef LIMITS_CASE_
}

const char *bitear_proto_type_name(uint8_t type)
{
#define NAME_CASE_(name, code, lo, hi, text) case (code): return #name;
    switch (type) {
        BITEAR_PROTO_MESSAGE_LIST(NAME_CASE_)
        default: return "?";
    }
#undef NAME_CASE_
}

int bitear_proto_is_command(uint8_t type)
{
    size_t lo, hi;
    return type_limits(type, &lo, &hi) && (type & 0x80u) == 0u;
}

/* STATS field number i in BITEAR_PROTO_STATS_LIST order, NULL past the end. */
static uint32_t *stats_field(bitear_proto_stats_t *s, unsigned i)
{
    unsigned k = 0;
#define FIELD_AT_(name, text) if (i == k++) { return &s->name; }
    BITEAR_PROTO_STATS_LIST(FIELD_AT_)
#undef FIELD_AT_
    return NULL;
}

/* Number of NUL bytes in p[0 .. n). */
static size_t count_nuls(const uint8_t *p, size_t n)
{
    size_t nuls = 0;
    for (size_t i = 0; i < n; i++) {
        nuls += (p[i] == 0u);
    }
    return nuls;
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* Decode a body whose length is within the type's limits; 0 if its content is inconsistent. */
static int parse_body(const uint8_t *b, size_t n, bitear_proto_msg_t *msg)
{
    switch (msg->type) {
    case BITEAR_PROTO_HELLO:
    case BITEAR_PROTO_GET_STATS:
        return 1;
    case BITEAR_PROTO_AUDIO:
        msg->body.audio.hop = get_u32(b);
        msg->body.audio.pcm = b + 4;
        return 1;
    case BITEAR_PROTO_SET_THRESHOLD:
        msg->body.set_threshold.exit_index = b[0];
        msg->body.set_threshold.threshold_q16 = (int32_t)get_u32(b + 1);
        return 1;
    case BITEAR_PROTO_SET_DETECTOR:
        msg->body.set_detector.window_ms = get_u16(b);
        msg->body.set_detector.threshold_q15 = get_u16(b + 2);
        msg->body.set_detector.suppression_ms = get_u16(b + 4);
        msg->body.set_detector.min_count = b[6];
        return 1;
    case BITEAR_PROTO_RESET:
        msg->body.reset.flags = b[0];
        return 1;
    case BITEAR_PROTO_SET_PERIOD:
        msg->body.set_period.infer_every = b[0];
        return 1;
    case BITEAR_PROTO_READY: {
        bitear_proto_ready_t *r = &msg->body.ready;
        const uint8_t *s = b + 10;
        const size_t sn = n - 10;
        r->sample_rate_hz = get_u32(b);
        r->hop_samples = get_u16(b + 4);
        r->infer_every_hops = b[6];
        r->classes = b[7];
        r->exits = b[8];
        r->cost_unit = b[9];
        /* board, model, then `classes` labels, every one NUL-terminated, nothing after */
        if (sn == 0u || s[sn - 1u] != 0u || count_nuls(s, sn) != 2u + r->classes) {
            return 0;
        }
        r->board = (const char *)s;
        r->model = r->board + strlen(r->board) + 1;
        r->labels = r->model + strlen(r->model) + 1;
        r->labels_len = (uint16_t)(sn - (size_t)((const uint8_t *)r->labels - s));
        return 1;
    }
    case BITEAR_PROTO_RESULT: {
        bitear_proto_result_t *r = &msg->body.result;
        r->hop = get_u32(b);
        r->label = b[4];
        r->exit_index = b[5];
        r->score_q15 = get_u16(b + 6);
        r->entropy_q16 = get_u32(b + 8);
        r->cost = get_u32(b + 12);
        r->classes = b[16];
        if (r->classes > BITEAR_PROTO_MAX_CLASSES || n != 17u + 2u * r->classes) {
            return 0;
        }
        for (unsigned k = 0; k < r->classes; k++) {
            r->scores_q15[k] = get_u16(b + 17 + 2 * k);
        }
        return 1;
    }
    case BITEAR_PROTO_DETECTION:
        msg->body.detection.hop = get_u32(b);
        msg->body.detection.label = b[4];
        msg->body.detection.score_q15 = get_u16(b + 5);
        return 1;
    case BITEAR_PROTO_STATS: {
        const unsigned count = b[0];
        if (n != 1u + 4u * count) {
            return 0;
        }
        memset(&msg->body.stats, 0, sizeof msg->body.stats);
        for (unsigned i = 0; i < count; i++) {
            uint32_t *field = stats_field(&msg->body.stats, i);
            if (field == NULL) {
                break; /* a newer board: values we do not know are ignored */
            }
            *field = get_u32(b + 1 + 4 * i);
        }
        return 1;
    }
    case BITEAR_PROTO_ACK:
        msg->body.ack.seq = get_u16(b);
        msg->body.ack.type = b[2];
        msg->body.ack.status = (int16_t)get_u16(b + 3);
        return 1;
    case BITEAR_PROTO_CREDIT:
        msg->body.credit.limit = get_u32(b);
        msg->body.credit.capacity = get_u16(b + 4);
        return 1;
    default:
        return 0;
    }
}

/* Classify and decode a whole payload: returns a KIND_*. */
static int parse_kind(const uint8_t *p, size_t len, bitear_proto_msg_t *msg)
{
    size_t min_body, max_body;
    msg->type = 0;
    msg->seq = 0;
    if (len < BITEAR_PROTO_HEADER_BYTES + BITEAR_PROTO_CRC_BYTES) {
        return KIND_short_frames;
    }
    if (bitear_proto_crc16(0xFFFFu, p, len) != 0u) { /* CRC stored big-endian: residue 0 */
        return KIND_crc_errors;
    }
    msg->type = p[1];
    msg->seq = get_u16(p + 2);
    if (p[0] != BITEAR_PROTO_VERSION) {
        return KIND_bad_version;
    }
    if (!type_limits(p[1], &min_body, &max_body)) {
        return KIND_unknown_type;
    }
    const size_t n = len - BITEAR_PROTO_HEADER_BYTES - BITEAR_PROTO_CRC_BYTES;
    if (n < min_body || n > max_body || !parse_body(p + BITEAR_PROTO_HEADER_BYTES, n, msg)) {
        return KIND_bad_length;
    }
    return KIND_frames;
}

bitear_status_t bitear_proto_parse(const uint8_t *payload, size_t len, bitear_proto_msg_t *msg)
{
    if (msg == NULL || (payload == NULL && len > 0u)) {
        return BITEAR_ERR_NULL;
    }
    return kind_status[parse_kind(payload, len, msg)];
}

/* ---- decoder ------------------------------------------------------------------------------- */

bitear_status_t bitear_proto_decoder_init(bitear_proto_decoder_t *dec)
{
    if (dec == NULL) {
        return BITEAR_ERR_NULL;
    }
    memset(dec, 0, sizeof *dec);
    dec->state = STATE_IDLE;
    dec->magic = DECODER_MAGIC;
    return BITEAR_OK;
}

bitear_status_t bitear_proto_decoder_resync(bitear_proto_decoder_t *dec)
{
    if (dec == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (dec->magic != DECODER_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    dec->len = 0;
    dec->state = STATE_IDLE;
    dec->remaining = 0;
    return BITEAR_OK;
}

static bitear_status_t report(bitear_proto_decoder_t *dec, int kind)
{
    count_kind(&dec->counters, kind);
    return kind_status[kind];
}

/* The delimiter: judge the frame held in dec (state, len, remaining as they were before it). */
static bitear_status_t end_of_frame(bitear_proto_decoder_t *dec, uint8_t state, uint16_t len, uint8_t remaining,
                                    bitear_proto_msg_t *msg)
{
    msg->type = 0;
    msg->seq = 0;
    if (state == STATE_DISCARD) {
        return BITEAR_PROTO_NEED_MORE; /* the oversize frame was reported when it overflowed */
    }
    if (state == STATE_IDLE) {
        return report(dec, KIND_empty_frames);
    }
    if (remaining != 0u) {
        return report(dec, KIND_cobs_errors);
    }
    return report(dec, parse_kind(dec->buf, len, msg));
}

bitear_status_t bitear_proto_decoder_feed_bytes(bitear_proto_decoder_t *dec, const uint8_t *data, size_t n,
                                                size_t *used, bitear_proto_msg_t *msg)
{
    if (dec == NULL || msg == NULL || used == NULL || (data == NULL && n > 0u)) {
        return BITEAR_ERR_NULL;
    }
    *used = 0;
    if (dec->magic != DECODER_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    /* the state lives in locals while bytes flow and goes back into dec at the end */
    uint8_t state = dec->state, code = dec->code, remaining = dec->remaining;
    uint16_t len = dec->len;
    bitear_status_t st = BITEAR_PROTO_NEED_MORE;
    size_t i = 0;
    while (i < n) {
        uint8_t b = data[i++];
        if (b == 0u) { /* end of frame: judge it, start the next one */
            st = end_of_frame(dec, state, len, remaining, msg);
            state = STATE_IDLE;
            len = 0;
            remaining = 0;
            if (st != BITEAR_PROTO_NEED_MORE) {
                break;
            }
            continue;
        }
        if (state == STATE_DISCARD) {
            continue;
        }
        if (state == STATE_BLOCK && remaining > 0u) { /* a data byte */
            remaining--;
        } else { /* a code byte: the previous block (if any, and shorter than 254) ended in a zero */
            const int zero = state == STATE_BLOCK && code != 0xFFu;
            state = STATE_BLOCK;
            code = b;
            remaining = (uint8_t)(b - 1u);
            if (!zero) {
                continue;
            }
            b = 0u;
        }
        if (len >= BITEAR_PROTO_MAX_PAYLOAD) { /* reported once; the rest is skipped up to its 0x00 */
            state = STATE_DISCARD;
            len = 0;
            msg->type = 0;
            msg->seq = 0;
            st = report(dec, KIND_oversize);
            break;
        }
        dec->buf[len++] = b;
        if (remaining == 0u) {
            continue;
        }
        /* the rest of the block's data bytes that are here, in one loop (a 0x00 ends it early) */
        size_t k = remaining;
        k = k < n - i ? k : n - i;
        k = k < (size_t)(BITEAR_PROTO_MAX_PAYLOAD - len) ? k : (size_t)(BITEAR_PROTO_MAX_PAYLOAD - len);
        const uint8_t *src = data + i;
        uint8_t *dst = dec->buf + len;
        size_t j = 0;
        for (; j < k && src[j] != 0u; j++) {
            dst[j] = src[j];
        }
        i += j;
        len = (uint16_t)(len + j);
        remaining = (uint8_t)(remaining - j);
    }
    dec->state = state;
    dec->code = code;
    dec->remaining = remaining;
    dec->len = len;
    *used = i;
    return st;
}

/* One byte: the plain state machine (feed_bytes is the same with runs copied in bulk; the
 * tests check that both give the same results on the same bytes). */
bitear_status_t bitear_proto_decoder_feed(bitear_proto_decoder_t *dec, uint8_t byte, bitear_proto_msg_t *msg)
{
    if (dec == NULL || msg == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (dec->magic != DECODER_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    if (byte == 0u) { /* end of frame */
        const uint8_t state = dec->state;
        const uint8_t remaining = dec->remaining;
        const uint16_t len = dec->len;
        dec->state = STATE_IDLE;
        dec->len = 0;
        dec->remaining = 0;
        return end_of_frame(dec, state, len, remaining, msg);
    }
    if (dec->state == STATE_DISCARD) {
        return BITEAR_PROTO_NEED_MORE;
    }
    if (dec->state == STATE_BLOCK && dec->remaining > 0u) { /* a data byte */
        dec->remaining--;
    } else { /* a code byte: the previous block (if any, and shorter than 254) ended in a zero */
        const int zero = dec->state == STATE_BLOCK && dec->code != 0xFFu;
        dec->state = STATE_BLOCK;
        dec->code = byte;
        dec->remaining = (uint8_t)(byte - 1u);
        if (!zero) {
            return BITEAR_PROTO_NEED_MORE;
        }
        byte = 0u;
    }
    if (dec->len >= BITEAR_PROTO_MAX_PAYLOAD) { /* reported once; the rest is skipped up to its 0x00 */
        dec->state = STATE_DISCARD;
        dec->len = 0;
        msg->type = 0;
        msg->seq = 0;
        return report(dec, KIND_oversize);
    }
    dec->buf[dec->len++] = byte;
    return BITEAR_PROTO_NEED_MORE;
}

void bitear_proto_stats_from_decoder(const bitear_proto_decoder_t *dec, bitear_proto_stats_t *stats)
{
    if (dec == NULL || stats == NULL) {
        return;
    }
    const bitear_proto_counters_t *c = &dec->counters;
    stats->frames_received = c->frames;
    stats->crc_errors = c->crc_errors;
    stats->framing_errors = c->cobs_errors + c->empty_frames + c->short_frames + c->oversize;
    stats->unknown_commands = c->bad_version + c->unknown_type;
    stats->bad_commands = c->bad_length;
}

/* stats counters saturate: a counter that wrapped would read as a small number */
static void count_up(uint32_t *counter, uint32_t n)
{
    *counter = *counter > UINT32_MAX - n ? UINT32_MAX : *counter + n;
}

int bitear_proto_audio_admit(bitear_proto_audio_window_t *w, uint32_t hop, unsigned queued, unsigned capacity,
                             bitear_proto_stats_t *stats)
{
    if (w == NULL || stats == NULL) {
        return 0;
    }
    const uint32_t confirm = w->resync_hop; /* only the very next AUDIO frame can confirm */
    const uint32_t expected = w->expected;
    int flags = 0;
    w->resync_hop = 0u;
    if (hop > BITEAR_PROTO_HOP_MAX) {
        count_up(&stats->bad_commands, 1u);
        return BITEAR_PROTO_ADMIT_REFUSED;
    }
    if (hop == expected) {
        /* in order */
    } else if (hop > expected && hop - expected <= BITEAR_PROTO_RESYNC_HOPS) {
        count_up(&stats->frames_dropped, hop - expected);
    } else if (confirm != 0u && hop == confirm) {
        count_up(&stats->resyncs, 1u);
        flags = BITEAR_PROTO_ADMIT_RESYNC;
    } else if (hop < expected && expected - hop <= BITEAR_PROTO_RESYNC_HOPS) {
        count_up(&stats->bad_commands, 1u); /* stale or repeated */
        return 0;
    } else {
        count_up(&stats->bad_commands, 1u); /* far off: wait for the next frame to confirm it */
        w->resync_hop = hop + 1u;           /* hop <= HOP_MAX: never 0 */
        return BITEAR_PROTO_ADMIT_REFUSED;
    }
    w->expected = hop + 1u; /* hop <= HOP_MAX: no wrap */
    if (queued >= capacity) {
        count_up(&stats->overruns, 1u);
        return flags;
    }
    count_up(&stats->audio_frames, 1u);
    return flags | BITEAR_PROTO_ADMIT_QUEUE;
}

uint32_t bitear_proto_credit_limit(uint32_t expected, unsigned queued, unsigned capacity)
{
    const uint32_t free_slots = queued < capacity ? (uint32_t)(capacity - queued) : 0u;
    return expected > UINT32_MAX - free_slots ? UINT32_MAX : expected + free_slots;
}

/* ---- encoder ------------------------------------------------------------------------------- */

/* Writes payload bytes COBS-encoded into out; n counts on past cap so overflow is detected. */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t n;
    size_t code_pos; /* where the open block's code byte goes */
    uint8_t code;    /* 1 + data bytes in the open block */
    uint8_t open;
    uint16_t crc;
} writer_t;

static void w_emit(writer_t *w, uint8_t b)
{
    if (w->n < w->cap) {
        w->out[w->n] = b;
    }
    w->n++;
}

static void w_open(writer_t *w)
{
    w->code_pos = w->n;
    w_emit(w, 0u); /* placeholder for the code byte */
    w->code = 1u;
    w->open = 1u;
}

static void w_close(writer_t *w)
{
    if (w->code_pos < w->cap) {
        w->out[w->code_pos] = w->code;
    }
    w->open = 0u;
}

/* One payload byte, COBS-encoded, not added to the CRC. A block of 254 data bytes is closed at
 * once and the next block opened only when another byte comes (no trailing 0x01 after it). */
static void w_raw(writer_t *w, uint8_t b)
{
    if (!w->open) {
        w_open(w);
    }
    if (b == 0u) {
        w_close(w);
        w_open(w);
    } else {
        w_emit(w, b);
        if (++w->code == 0xFFu) {
            w_close(w);
        }
    }
}

static void w_u8(writer_t *w, uint8_t b)
{
    w->crc = crc_step(w->crc, b);
    w_raw(w, b);
}

static void w_u16(writer_t *w, uint16_t v)
{
    w_u8(w, (uint8_t)v);
    w_u8(w, (uint8_t)(v >> 8));
}

static void w_u32(writer_t *w, uint32_t v)
{
    w_u16(w, (uint16_t)v);
    w_u16(w, (uint16_t)(v >> 16));
}

static void w_bytes(writer_t *w, const void *data, size_t n)
{
    const uint8_t *p = (const uint8_t *)data;
    for (size_t i = 0; i < n; i++) {
        w_u8(w, p[i]);
    }
}

/* Body length of msg, or 0 with *ok = 0 when a field cannot be encoded. */
static size_t body_length(const bitear_proto_msg_t *msg, int *ok)
{
    *ok = 1;
    switch (msg->type) {
    case BITEAR_PROTO_READY: {
        const bitear_proto_ready_t *r = &msg->body.ready;
        if (r->board == NULL || r->model == NULL || (r->labels == NULL && r->labels_len > 0u) ||
            (r->labels_len > 0u && r->labels[r->labels_len - 1u] != '\0') ||
            count_nuls((const uint8_t *)r->labels, r->labels_len) != r->classes) {
            *ok = 0;
            return 0;
        }
        return 10u + strlen(r->board) + 1u + strlen(r->model) + 1u + r->labels_len;
    }
    case BITEAR_PROTO_RESULT:
        if (msg->body.result.classes > BITEAR_PROTO_MAX_CLASSES) {
            *ok = 0;
            return 0;
        }
        return 17u + 2u * msg->body.result.classes;
    case BITEAR_PROTO_STATS:
        return 1u + 4u * BITEAR_PROTO_STATS_COUNT;
    case BITEAR_PROTO_AUDIO:
        if (msg->body.audio.pcm == NULL) {
            *ok = 0;
            return 0;
        }
        return BITEAR_PROTO_AUDIO_BODY;
    default: {
        size_t lo, hi;
        if (!type_limits(msg->type, &lo, &hi)) {
            *ok = 0;
            return 0;
        }
        return lo; /* fixed-size bodies */
    }
    }
}

static void write_body(writer_t *w, const bitear_proto_msg_t *msg)
{
    switch (msg->type) {
    case BITEAR_PROTO_AUDIO:
        w_u32(w, msg->body.audio.hop);
        w_bytes(w, msg->body.audio.pcm, 2u * BITEAR_PROTO_AUDIO_SAMPLES);
        break;
    case BITEAR_PROTO_SET_THRESHOLD:
        w_u8(w, msg->body.set_threshold.exit_index);
        w_u32(w, (uint32_t)msg->body.set_threshold.threshold_q16);
        break;
    case BITEAR_PROTO_SET_DETECTOR:
        w_u16(w, msg->body.set_detector.window_ms);
        w_u16(w, msg->body.set_detector.threshold_q15);
        w_u16(w, msg->body.set_detector.suppression_ms);
        w_u8(w, msg->body.set_detector.min_count);
        break;
    case BITEAR_PROTO_RESET:
        w_u8(w, msg->body.reset.flags);
        break;
    case BITEAR_PROTO_SET_PERIOD:
        w_u8(w, msg->body.set_period.infer_every);
        break;
    case BITEAR_PROTO_READY: {
        const bitear_proto_ready_t *r = &msg->body.ready;
        w_u32(w, r->sample_rate_hz);
        w_u16(w, r->hop_samples);
        w_u8(w, r->infer_every_hops);
        w_u8(w, r->classes);
        w_u8(w, r->exits);
        w_u8(w, r->cost_unit);
        w_bytes(w, r->board, strlen(r->board) + 1u);
        w_bytes(w, r->model, strlen(r->model) + 1u);
        w_bytes(w, r->labels, r->labels_len);
        break;
    }
    case BITEAR_PROTO_RESULT: {
        const bitear_proto_result_t *r = &msg->body.result;
        w_u32(w, r->hop);
        w_u8(w, r->label);
        w_u8(w, r->exit_index);
        w_u16(w, r->score_q15);
        w_u32(w, r->entropy_q16);
        w_u32(w, r->cost);
        w_u8(w, r->classes);
        for (unsigned k = 0; k < r->classes; k++) {
            w_u16(w, r->scores_q15[k]);
        }
        break;
    }
    case BITEAR_PROTO_DETECTION:
        w_u32(w, msg->body.detection.hop);
        w_u8(w, msg->body.detection.label);
        w_u16(w, msg->body.detection.score_q15);
        break;
    case BITEAR_PROTO_STATS:
        w_u8(w, (uint8_t)BITEAR_PROTO_STATS_COUNT);
#define STATS_WRITE_(name, text) w_u32(w, msg->body.stats.name);
        BITEAR_PROTO_STATS_LIST(STATS_WRITE_)
#undef STATS_WRITE_
        break;
    case BITEAR_PROTO_ACK:
        w_u16(w, msg->body.ack.seq);
        w_u8(w, msg->body.ack.type);
        w_u16(w, (uint16_t)msg->body.ack.status);
        break;
    case BITEAR_PROTO_CREDIT:
        w_u32(w, msg->body.credit.limit);
        w_u16(w, msg->body.credit.capacity);
        break;
    default: /* HELLO, GET_STATS: no body */
        break;
    }
}

bitear_status_t bitear_proto_encode(const bitear_proto_msg_t *msg, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t min_body, max_body;
    int ok;
    if (msg == NULL || out == NULL || out_len == NULL) {
        return BITEAR_ERR_NULL;
    }
    *out_len = 0;
    if (!type_limits(msg->type, &min_body, &max_body)) {
        return BITEAR_ERR_ARG;
    }
    const size_t body = body_length(msg, &ok);
    if (!ok || body < min_body || body > max_body) {
        return BITEAR_ERR_ARG;
    }
    writer_t w = {.out = out, .cap = cap, .n = 0u, .code_pos = 0u, .code = 1u, .open = 0u, .crc = 0xFFFFu};
    w_u8(&w, (uint8_t)BITEAR_PROTO_VERSION);
    w_u8(&w, msg->type);
    w_u16(&w, msg->seq);
    write_body(&w, msg);
    const uint16_t crc = w.crc;
    w_raw(&w, (uint8_t)(crc >> 8)); /* big-endian: the CRC over the whole payload is then 0 */
    w_raw(&w, (uint8_t)crc);
    if (w.open) {
        w_close(&w);
    }
    w_emit(&w, 0u); /* delimiter */
    if (w.n > cap) {
        return BITEAR_ERR_SIZE;
    }
    *out_len = w.n;
    return BITEAR_OK;
}

/* ---- helpers ------------------------------------------------------------------------------- */

void bitear_proto_audio_samples(const bitear_proto_audio_t *audio, int16_t *dst)
{
    if (audio == NULL || audio->pcm == NULL || dst == NULL) {
        return;
    }
    for (unsigned i = 0; i < BITEAR_PROTO_AUDIO_SAMPLES; i++) {
        dst[i] = (int16_t)get_u16(audio->pcm + 2u * i);
    }
}

const char *bitear_proto_ready_label(const bitear_proto_ready_t *ready, unsigned i)
{
    if (ready == NULL || ready->labels == NULL || i >= ready->classes) {
        return "";
    }
    const char *s = ready->labels;
    while (i-- > 0u) {
        s += strlen(s) + 1u;
    }
    return s;
}

size_t bitear_proto_labels_join(const char *const *list, unsigned n, char *dst, size_t cap)
{
    size_t used = 0;
    if (list == NULL || dst == NULL) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        const size_t len = list[i] != NULL ? strlen(list[i]) : 0u;
        if (used + len + 1u > cap) {
            return 0;
        }
        if (len > 0u) {
            memcpy(dst + used, list[i], len);
        }
        dst[used + len] = '\0';
        used += len + 1u;
    }
    return used;
}
