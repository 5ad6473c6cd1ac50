"""PlatformIO test runner of bitear (test_framework = custom), offline.

PlatformIO's own Unity runner would download Unity from the registry (EXTRA_LIB_DEPS). This
runner keeps everything else of it (the Unity output parser: "file:line:name:PASS|FAIL|IGNORE"
and the "N Tests N Failures N Ignored" summary) and takes the test library from
firmware/lib/unity instead. Output goes through firmware/test/unity_config.h to the board's
serial line; on qemu_m4 the test command of platformio.ini runs QEMU, and the test's main
ends QEMU with its return value (0 = all passed) via semihosting.
"""

from platformio.test.runners.unity import UnityTestRunner


class CustomTestRunner(UnityTestRunner):
    EXTRA_LIB_DEPS = None
