"""run_cli: a user error is one line on stderr and exit code 2, Ctrl-C is a message and 130, anything else is not hidden."""
import pytest

from model.errors import BitearError, run_cli


def _raise(exc: BaseException):
    def run() -> int:
        raise exc
    return run


def test_user_error_is_one_line_and_exit_code_2(capsys):
    assert run_cli(_raise(BitearError("clip.wav: sample rate 8000 Hz, expected 16000"))) == 2
    assert capsys.readouterr().err == "error: clip.wav: sample rate 8000 Hz, expected 16000\n"


def test_ctrl_c_prints_the_given_message_and_exit_code_130(capsys):
    assert run_cli(_raise(KeyboardInterrupt()), interrupted="interrupted: rerun with --resume") == 130
    assert capsys.readouterr().err == "interrupted: rerun with --resume\n"


def test_success_passes_the_exit_code_and_bugs_are_not_swallowed():
    assert run_cli(lambda: 0) == 0 and run_cli(lambda: 1) == 1
    with pytest.raises(ZeroDivisionError):
        run_cli(_raise(ZeroDivisionError()))


def test_command_line_tools_report_user_errors_without_a_traceback(capsys):
    from host import streaming_quality

    assert streaming_quality.main(["--keywords", "0"]) == 2
    assert capsys.readouterr().err == "error: --keywords >= 1, --unknown >= 0 and --infer-every >= 1 please\n"
