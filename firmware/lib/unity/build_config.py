# PlatformIO build hook of the unity library: compile unity.c with the project's test
# configuration (firmware/test/unity_config.h says where test output goes).
Import("env")  # noqa: F821 (SCons provides Import)

env.Append(CPPDEFINES=["UNITY_INCLUDE_CONFIG_H"], CPPPATH=["$PROJECT_TEST_DIR"])  # noqa: F821
