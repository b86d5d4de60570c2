"The `crossfit-nb` console script as a user runs it."
from conftest import run_cli


def test_help_lists_commands():
    out = run_cli('--help').stdout
    for command in ('run', 'synth'):
        assert command in out


def test_unknown_profile_is_a_clear_error():
    proc = run_cli('run', '--profile', 'nope', check=False)
    assert proc.returncode == 2
    assert "no profile 'nope'" in proc.stderr
    assert 'ci' in proc.stderr and 'thesis' in proc.stderr


def test_unknown_chapter_is_a_clear_error():
    proc = run_cli('run', '--chapter', '99_nope', check=False)
    assert proc.returncode == 2
    assert 'no notebook for chapters' in proc.stderr
