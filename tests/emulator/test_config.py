"""wrangler.toml and .dev.vars: what is read, what is warned about, errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeline import ConfigError
from edgeline.emulator.config import load_dev_vars, load_wrangler

GOOD = """\
name = "w"
main = "src/entry.py"
compatibility_date = "2025-10-01"
compatibility_flags = ["python_workers"]
account_id = "abc"
[vars]
GREETING = "hi"
LIMIT = 3
[[kv_namespaces]]
binding = "CONFIG"
id = "cfg-1"
[[kv_namespaces]]
binding = "CACHE"
[dev]
port = 9000
"""


def write(tmp_path: Path, text: str, main: bool = True) -> Path:
    if main:
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / "entry.py").write_text("")
    path = tmp_path / "wrangler.toml"
    path.write_text(text)
    return path


def test_reads_what_the_emulator_uses(tmp_path: Path) -> None:
    config = load_wrangler(write(tmp_path, GOOD))
    assert config.name == "w"
    assert config.main == (tmp_path / "src" / "entry.py").resolve()
    assert config.vars == {"GREETING": "hi", "LIMIT": 3}
    assert [(b.binding, b.id) for b in config.kv_namespaces] == [("CONFIG", "cfg-1"), ("CACHE", "CACHE")]
    assert config.dev_port == 9000
    assert config.warnings == []


def test_unsupported_keys_are_warned_about_with_their_line(tmp_path: Path) -> None:
    text = GOOD.replace("[dev]", "[[d1_databases]]\nbinding = \"DB\"\n[dev]\nlocal_tls = true")
    config = load_wrangler(write(tmp_path, text))
    assert any("wrangler.toml:14: [d1_databases] is not supported" in w for w in config.warnings)
    assert any("dev.local_tls" in w for w in config.warnings)


def test_missing_python_flag_is_warned_about(tmp_path: Path) -> None:
    config = load_wrangler(write(tmp_path, GOOD.replace('["python_workers"]', "[]")))
    assert any("python_workers" in w for w in config.warnings)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "w"\nmain = "src/entry.py"\nvars = { A = }\n')
    with pytest.raises(ConfigError) as info:
        load_wrangler(path)
    assert info.value.file == str(path.resolve()) and info.value.line == 3
    assert "wrangler.toml:3" in str(info.value)


def test_missing_main_file_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "w"\n\nmain = "src/nope.py"\n')
    with pytest.raises(ConfigError) as info:
        load_wrangler(path)
    assert info.value.key == "main" and info.value.line == 3
    assert "does not exist" in str(info.value)


def test_absent_main_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[main\] is required"):
        load_wrangler(write(tmp_path, 'name = "w"\n'))


@pytest.mark.parametrize(("text", "key", "message"), [
    ('main = "src/entry.py"\ncompatibility_date = "tomorrow"\n', "compatibility_date", "YYYY-MM-DD"),
    ('main = "src/entry.py"\ncompatibility_flags = "python_workers"\n', "compatibility_flags", "list"),
    ('main = "src/entry.py"\n[[kv_namespaces]]\nid = "x"\n', "kv_namespaces[0].binding", "binding"),
    ('main = "src/entry.py"\n[dev]\nport = "80"\n', "dev.port", "port"),
    ('main = "src/entry.js"\n', "main", "not a Python module"),
])
def test_bad_values_name_their_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "entry.js").write_text("")
    with pytest.raises(ConfigError, match=message) as info:
        load_wrangler(write(tmp_path, text))
    assert info.value.key == key
    assert info.value.line is not None


def test_env_section_inherits_top_level_but_not_vars(tmp_path: Path) -> None:
    text = GOOD + '[env.staging]\nname = "w-staging"\n[env.staging.vars]\nGREETING = "staging"\n'
    config = load_wrangler(write(tmp_path, text), env="staging")
    assert config.name == "w-staging"
    assert config.vars == {"GREETING": "staging"}
    assert config.kv_namespaces == []
    with pytest.raises(ConfigError, match="no \\[env.prod\\]"):
        load_wrangler(write(tmp_path, text), env="prod")


def test_dev_vars(tmp_path: Path) -> None:
    (tmp_path / ".dev.vars").write_text(
        '# local secrets\nAPI_KEY=abc123\nQUOTED="a \\"b\\" c"\nSINGLE=\'x y\'\nexport TRAIL=v # note\n\n')
    assert load_dev_vars(tmp_path) == {"API_KEY": "abc123", "QUOTED": 'a "b" c', "SINGLE": "x y",
                                       "TRAIL": "v"}
    (tmp_path / ".dev.vars").write_text("OK=1\nnot a pair\n")
    with pytest.raises(ConfigError) as info:
        load_dev_vars(tmp_path)
    assert info.value.line == 2


def test_rate_limiting_bindings_are_read_and_checked(tmp_path: Path) -> None:
    text = GOOD.replace("[dev]", '[[ratelimits]]\nname = "LIMITER"\nnamespace_id = "1001"\n'
                                 "simple = { limit = 100, period = 60 }\n[dev]")
    config = load_wrangler(write(tmp_path, text))
    assert config.ratelimits[0]["name"] == "LIMITER" and config.warnings == []
    with pytest.raises(ConfigError, match="period") as info:
        load_wrangler(write(tmp_path, text.replace("period = 60", "period = 30")))
    assert info.value.key == "ratelimits" and info.value.line is not None
