"""The edgeline command's pieces that are not covered by running `edgeline dev`."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from edgeline import cli


def test_listening_socket_disables_nagle() -> None:
    # Without TCP_NODELAY, a response written as headers then body stalls on
    # the client's delayed ACK (about 40 ms a request on Linux).
    sock = cli._bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


def test_bind_failure_is_a_clear_exit() -> None:
    taken = cli._bind("127.0.0.1", 0)
    try:
        with pytest.raises(SystemExit, match="cannot listen on 127.0.0.1"):
            cli._bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_build_vendors_the_runtime_without_the_emulator(tmp_path: Path) -> None:
    written = cli.vendor(tmp_path / "python_modules")
    names = {p.name for p in written}
    assert "edgeline" in names
    shipped = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "python_modules").rglob("*")}
    assert "python_modules/edgeline/app.py" in shipped
    assert "python_modules/edgeline/adapters/cloudflare.py" in shipped
    assert not any("/emulator" in p or p.endswith((".pyc", "cli.py", "demo.py")) for p in shipped)


def test_dev_with_a_broken_wrangler_toml_exits_2_naming_the_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "wrangler.toml"
    bad.write_text('name = "x"\nmain = [\n')
    assert cli.main(["dev", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "wrangler.toml:2" in err or "wrangler.toml:3" in err


def test_bench_writes_results_with_machine_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "tiny.py").write_text(
        "from __future__ import annotations\nfrom dataclasses import dataclass\n\n"
        "@dataclass(frozen=True)\nclass Case:\n    name: str\n\n"
        "def run(quick=False):\n    return {'figure': 1.5, 'quick_seen': quick}\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "tiny", "--quick"]) == 0
    result = json.loads((tmp_path / "bench" / "results" / "tiny.json").read_text())
    assert result["figure"] == 1.5 and result["quick_seen"] is True
    assert {"machine", "python", "commit"} <= result.keys()
    assert cli.main(["bench", "missing"]) == 2
