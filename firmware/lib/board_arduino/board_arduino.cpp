/* board_arduino.cpp - bitear board support (bitear_board.h) for real boards with an Arduino core:
 *   nano33ble      Arduino Nano 33 BLE Sense, nRF52840 Cortex-M4F, on-board PDM microphone
 *   pico           Raspberry Pi Pico, RP2040 Cortex-M0+ (no microphone: audio over USB serial)
 *   nucleo_l476rg  ST Nucleo-L476RG, STM32L476 Cortex-M4F (no microphone: audio over ST-LINK serial)
 * Used only by those PlatformIO envs (lib_deps = board_arduino); they need the PlatformIO
 * registry, so CI does not build this file.
 *
 * Serial: the core's Serial (USB CDC or ST-LINK UART) at 115200 baud; the core keeps its own
 * RX buffer and does not count dropped bytes. Ticks and RESULT costs: the DWT cycle counter on
 * Cortex-M4 (cycles), micros() on Cortex-M0+ (no cycle counter: microseconds). The Arduino core
 * owns main(): setup() and loop() below call the application's bitear_app_setup() /
 * bitear_app_loop(). What these boards lack (a microphone except on the Nano 33 BLE Sense,
 * stack painting, an RX overflow count, frame-aware sleep) comes from ../board/board_defaults.c.
 */
#if defined(ARDUINO)

#include <Arduino.h>

#include "bitear_board.h"
extern "C" {
#include "bitear_protocol.h" /* BITEAR_PROTO_COST_* */
}

#if defined(ARDUINO_ARDUINO_NANO33BLE)
#include <PDM.h>
#define BITEAR_HAS_PDM_MIC 1
#endif

#if defined(__ARM_ARCH_7EM__) /* Cortex-M4/M7: DWT cycle counter */
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
extern "C" uint32_t SystemCoreClock; /* CMSIS system file of the core */
#endif

extern "C" {

void bitear_board_init(void)
{
    Serial.begin(115200);
    while (!Serial) { /* USB CDC: wait until the host opens the port, so the banner is seen */
    }
#if defined(__ARM_ARCH_7EM__)
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= 1u; /* CYCCNTENA */
#endif
}

const char *bitear_board_name(void)
{
#if defined(ARDUINO_ARDUINO_NANO33BLE)
    return "nano33ble";
#elif defined(ARDUINO_RASPBERRY_PI_PICO)
    return "pico";
#elif defined(ARDUINO_NUCLEO_L476RG)
    return "nucleo_l476rg";
#else
    return "arduino";
#endif
}

void bitear_board_putc(uint8_t c)
{
    Serial.write(c);
}

void bitear_board_write(const void *data, size_t n)
{
    Serial.write((const uint8_t *)data, n);
}

void bitear_board_puts(const char *s)
{
    Serial.print(s);
}

int bitear_board_getc(void)
{
    return Serial.available() > 0 ? Serial.read() : -1;
}

size_t bitear_board_read(uint8_t *dst, size_t max)
{
    size_t n = 0;
    while (n < max && Serial.available() > 0) {
        dst[n++] = (uint8_t)Serial.read();
    }
    return n;
}

size_t bitear_board_rx_available(void)
{
    int n = Serial.available();
    return n > 0 ? (size_t)n : 0u;
}

static size_t mic_waiting(void);

void bitear_board_wait_for_input(void)
{
    if (Serial.available() == 0 && mic_waiting() == 0u) {
        delay(1); /* polls: the cores offer no portable "sleep until a byte arrives" */
    }
}

uint32_t bitear_board_ticks(void)
{
#if defined(__ARM_ARCH_7EM__)
    return DWT_CYCCNT;
#else
    return (uint32_t)micros();
#endif
}

uint32_t bitear_board_tick_hz(void)
{
#if defined(__ARM_ARCH_7EM__)
    return SystemCoreClock;
#else
    return 1000000u;
#endif
}

uint8_t bitear_board_cost_unit(void)
{
#if defined(__ARM_ARCH_7EM__)
    return BITEAR_PROTO_COST_CYCLES;
#else
    return BITEAR_PROTO_COST_MICROSECONDS;
#endif
}

uint32_t bitear_board_cost(uint32_t ticks)
{
    return ticks; /* one tick is one cycle (DWT) or one microsecond (micros()) */
}

#if defined(BITEAR_HAS_PDM_MIC)

/* PDM callback (interrupt context) -> sample ring -> bitear_board_mic_read (main loop). */
#define MIC_RING_SAMPLES 2048u /* 128 ms at 16 kHz; power of two */
static int16_t mic_ring[MIC_RING_SAMPLES];
static volatile uint32_t mic_head, mic_tail, mic_lost;

static void on_pdm_data(void)
{
    int16_t chunk[256];
    int bytes = PDM.available();
    while (bytes > 0) {
        int n = PDM.read(chunk, bytes < (int)sizeof chunk ? bytes : (int)sizeof chunk);
        for (int i = 0; i < n / 2; i++) {
            if (mic_head - mic_tail < MIC_RING_SAMPLES) {
                mic_ring[mic_head % MIC_RING_SAMPLES] = chunk[i];
                mic_head = mic_head + 1u;
            } else { /* full: the newest samples are lost, and counted */
                mic_lost = mic_lost + 1u;
            }
        }
        bytes -= n;
        if (n <= 0) {
            break;
        }
    }
}

static size_t mic_waiting(void)
{
    return (size_t)(mic_head - mic_tail);
}

int bitear_board_mic_start(uint32_t sample_rate_hz)
{
    PDM.onReceive(on_pdm_data);
    return PDM.begin(1, (int)sample_rate_hz) ? 0 : -1;
}

size_t bitear_board_mic_read(int16_t *dst, size_t max_samples)
{
    size_t n = 0;
    while (n < max_samples && mic_tail != mic_head) {
        dst[n++] = mic_ring[mic_tail % MIC_RING_SAMPLES];
        mic_tail = mic_tail + 1u;
    }
    return n;
}

uint32_t bitear_board_mic_dropped(void)
{
    return mic_lost;
}

#else /* no microphone on this board: audio comes over the serial line (board_defaults.c) */

static size_t mic_waiting(void)
{
    return 0u;
}

#endif /* BITEAR_HAS_PDM_MIC */

void bitear_board_exit(int code)
{
    Serial.print("bitear exit ");
    Serial.println(code);
    Serial.flush();
    for (;;) {
        delay(1000);
    }
}

} /* extern "C" */

void setup()
{
    bitear_app_setup();
}

void loop()
{
    bitear_app_loop();
}

#endif /* ARDUINO */
