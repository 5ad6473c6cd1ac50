/* board_host.c - bitear board support for the host build (bitear-host platform, stands in
 * for PlatformIO's "native"). The serial line is stdin/stdout; ticks are microseconds of
 * CLOCK_MONOTONIC; exit is exit(). When stdin reaches end of file the program has no more
 * input to wait for and exits with code 0 (so `echo ping | program` terminates).
 * RESULT costs are microseconds. No microphone, no stack painting (board_defaults.c). */
#if defined(BITEAR_BOARD_HOST)

#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bitear_board.h"
#include "bitear_protocol.h" /* BITEAR_PROTO_COST_* */

static int stdin_closed;

void bitear_board_init(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* behave like a UART: every byte goes out at once */
}

const char *bitear_board_name(void)
{
    return "host";
}

void bitear_board_putc(uint8_t c)
{
    fputc(c, stdout);
}

void bitear_board_write(const void *data, size_t n)
{
    fwrite(data, 1, n, stdout);
}

void bitear_board_puts(const char *s)
{
    fputs(s, stdout);
}

static int stdin_ready(int timeout_ms)
{
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    return !stdin_closed && poll(&pfd, 1, timeout_ms) > 0 && (pfd.revents & (POLLIN | POLLHUP));
}

int bitear_board_getc(void)
{
    unsigned char c;
    if (!stdin_ready(0)) {
        return -1;
    }
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n <= 0) {
        stdin_closed = 1;
        return -1;
    }
    return c;
}

size_t bitear_board_read(uint8_t *dst, size_t max)
{
    if (max == 0u || !stdin_ready(0)) {
        return 0u;
    }
    ssize_t n = read(STDIN_FILENO, dst, max);
    if (n <= 0) {
        stdin_closed = 1;
        return 0u;
    }
    return (size_t)n;
}

size_t bitear_board_rx_available(void)
{
    return stdin_ready(0) ? 1u : 0u; /* at least one byte (or end of file) is waiting */
}

void bitear_board_wait_for_input(void)
{
    if (stdin_closed) {
        exit(0);
    }
    (void)stdin_ready(-1);
}

uint32_t bitear_board_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

uint32_t bitear_board_tick_hz(void)
{
    return 1000000u;
}

uint8_t bitear_board_cost_unit(void)
{
    return BITEAR_PROTO_COST_MICROSECONDS;
}

uint32_t bitear_board_cost(uint32_t ticks)
{
    return ticks; /* ticks are microseconds */
}

void bitear_board_exit(int code)
{
    fflush(stdout);
    exit(code);
}

#endif /* BITEAR_BOARD_HOST */
