"""bitear host package: talking to a board (protocol, board client, emulator, listen) and, above it, measuring
(evaluate, bench, streaming quality, fuzz, soak, demo); docs/architecture.md lists which module is which."""
