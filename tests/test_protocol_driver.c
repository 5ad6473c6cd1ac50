/* test_protocol_driver.c - runs the C protocol decoder over byte streams for tests/test_protocol.py.
 *
 * Input (stdin): cases, each [u32 LE length][length bytes]. For each case a fresh decoder is fed
 * every byte (with --bulk: runs of bytes through bitear_proto_decoder_feed_bytes); each event is
 * printed as one line, the same text host/protocol.py produces:
 *   case <i>
 *   M <hex of the decoded message re-encoded by bitear_proto_encode>
 *   E <counter that was incremented> <type as 0x..> <seq>
 *   C <counter>=<value> ...          (after the case)
 * Built by the test with the host gcc, once plainly and once with -fsanitize=address,undefined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitear_protocol.h"

static const char *changed_counter(const bitear_proto_counters_t *before, const bitear_proto_counters_t *after)
{
#define CHANGED_(name, text) if (before->name != after->name) { return #name; }
    BITEAR_PROTO_DECODER_COUNTERS(CHANGED_)
#undef CHANGED_
    return "none";
}

static void print_counters(const bitear_proto_counters_t *c)
{
    printf("C");
#define PRINT_(name, text) printf(" %s=%lu", #name, (unsigned long)c->name);
    BITEAR_PROTO_DECODER_COUNTERS(PRINT_)
#undef PRINT_
    printf("\n");
}

/* bulk = 0: bitear_proto_decoder_feed byte by byte; 1: bitear_proto_decoder_feed_bytes on the
 * rest of the case each time (it stops after every frame that ends). */
static int run_case(const uint8_t *data, size_t n, int bulk)
{
    static bitear_proto_decoder_t dec;
    static uint8_t frame[BITEAR_PROTO_MAX_FRAME];
    bitear_proto_msg_t msg;
    if (bitear_proto_decoder_init(&dec) != BITEAR_OK) {
        return 1;
    }
    for (size_t i = 0; i < n;) {
        const bitear_proto_counters_t before = dec.counters;
        bitear_status_t st;
        if (bulk) {
            size_t used = 0;
            st = bitear_proto_decoder_feed_bytes(&dec, data + i, n - i, &used, &msg);
            if (used == 0) {
                printf("X no progress\n");
                return 1;
            }
            i += used;
        } else {
            st = bitear_proto_decoder_feed(&dec, data[i++], &msg);
        }
        if (st == BITEAR_PROTO_MESSAGE) {
            size_t len = 0;
            if (bitear_proto_encode(&msg, frame, sizeof frame, &len) != BITEAR_OK) {
                printf("X re-encoding failed\n");
                return 1;
            }
            printf("M ");
            for (size_t k = 0; k < len; k++) {
                printf("%02x", frame[k]);
            }
            printf("\n");
        } else if (st < 0) {
            printf("E %s 0x%02x %u\n", changed_counter(&before, &dec.counters), msg.type, (unsigned)msg.seq);
        } else if (st != BITEAR_PROTO_NEED_MORE) {
            printf("X unexpected status %ld\n", (long)st);
            return 1;
        }
    }
    print_counters(&dec.counters);
    return 0;
}

/* --types: one line per message type, "<name> <code> <min_body> <max_body>" */
static void print_types(void)
{
#define TYPE_LINE_(name, code, lo, hi, text) printf("%s %d %d %d\n", #name, (int)(code), (int)(lo), (int)(hi));
    BITEAR_PROTO_MESSAGE_LIST(TYPE_LINE_)
#undef TYPE_LINE_
}

int main(int argc, char **argv)
{
    static uint8_t data[1 << 20];
    uint8_t head[4];
    unsigned index = 0;
    const int bulk = argc > 1 && strcmp(argv[1], "--bulk") == 0;
    if (argc > 1 && strcmp(argv[1], "--types") == 0) {
        print_types();
        return 0;
    }
    while (fread(head, 1, 4, stdin) == 4) {
        const size_t n = (size_t)head[0] | ((size_t)head[1] << 8) | ((size_t)head[2] << 16) | ((size_t)head[3] << 24);
        if (n > sizeof data || fread(data, 1, n, stdin) != n) {
            fprintf(stderr, "bad input\n");
            return 2;
        }
        printf("case %u\n", index++);
        if (run_case(data, n, bulk) != 0) {
            return 1;
        }
    }
    return 0;
}
