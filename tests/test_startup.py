"""Importing the worker reads no clock and draws no randomness.

Python Workers run top-level code once at deploy and restore a memory
snapshot of the result for every isolate: a random value drawn at import
would be the same everywhere, a clock read at import frozen at deploy time.
The import runs in a fresh interpreter with every clock and entropy source
replaced by a guard that records who called it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# Runs in a fresh interpreter: argv[1] is the worker folder, argv[2:] modules to import.
_CHECK = r'''
import datetime, json, os, random, secrets, sys, time, types, uuid
# NOTE: logging stamps its own start time when first imported; that is the
# standard library's, so it is imported before the guards go in.
import logging

worker, modules = sys.argv[1], sys.argv[2:]
import importlib.util
roots = (os.path.realpath(worker) + os.sep,
         os.path.dirname(os.path.realpath(importlib.util.find_spec("edgeline").origin)) + os.sep)
calls = []
busy = []

def guard(name, real):
    """Wrap ``real``: record the call when worker or edgeline code is on the stack."""
    def guarded(*args, **kwargs):
        if not busy:  # the walk below must not record itself
            busy.append(name)
            try:
                frame = sys._getframe(1)
                while frame is not None:
                    path = os.path.realpath(frame.f_code.co_filename)
                    if path.startswith(roots):
                        calls.append({"call": name, "at": f"{path}:{frame.f_lineno}"})
                        break
                    frame = frame.f_back
            finally:
                busy.pop()
        return real(*args, **kwargs)
    return guarded

for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
             "perf_counter_ns", "process_time", "localtime", "gmtime"):
    setattr(time, name, guard(f"time.{name}", getattr(time, name)))
os.urandom = guard("os.urandom", os.urandom)
os.getrandom = guard("os.getrandom", os.getrandom) if hasattr(os, "getrandom") else None
for name in ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample",
             "uniform", "getrandbits", "randbytes", "seed", "gauss"):
    setattr(random, name, guard(f"random.{name}", getattr(random, name)))
random.Random = type("Random", (random.Random,), {
    "__init__": guard("random.Random()", random.Random.__init__)})
random.SystemRandom = type("SystemRandom", (random.SystemRandom,), {
    "__init__": guard("random.SystemRandom()", random.SystemRandom.__init__)})
for name in ("token_bytes", "token_hex", "token_urlsafe", "choice", "randbelow", "randbits"):
    setattr(secrets, name, guard(f"secrets.{name}", getattr(secrets, name)))
uuid.uuid1 = guard("uuid.uuid1", uuid.uuid1)
uuid.uuid4 = guard("uuid.uuid4", uuid.uuid4)

real_datetime, real_date = datetime.datetime, datetime.date

class GuardedDatetime(real_datetime):
    now = classmethod(guard("datetime.now", lambda cls, tz=None: real_datetime.now(tz)))
    utcnow = classmethod(guard("datetime.utcnow", lambda cls: real_datetime.utcnow()))
    today = classmethod(guard("datetime.today", lambda cls: real_datetime.today()))

class GuardedDate(real_date):
    today = classmethod(guard("date.today", lambda cls: real_date.today()))

datetime.datetime, datetime.date = GuardedDatetime, GuardedDate

# The platform's SDK is not importable here; the worker needs only the class.
stub = types.ModuleType("workers")
stub.WorkerEntrypoint = type("WorkerEntrypoint", (), {
    "__init__": lambda self, ctx, env: setattr(self, "env", env) or setattr(self, "ctx", ctx)})
stub.Request = stub.Response = object
sys.modules["workers"] = stub

sys.path.insert(0, worker)
for name in modules:
    __import__(name)
leaked = sorted(n for n in sys.modules if n.partition(".")[0] in
                {"httpx", "anyio", "uvicorn", "httptools", "h11", "sniffio"})
print(json.dumps({"calls": calls, "server_packages": leaked, "modules": sorted(sys.modules)}))
'''

CORE = ["edgeline", "edgeline.app", "edgeline.context", "edgeline.messages", "edgeline.geo",
        "edgeline.origin", "edgeline.routing", "edgeline.adapters.cloudflare"]


def import_report(worker: Path, modules: list[str]) -> dict[str, list]:
    """Import ``modules`` with ``worker`` on sys.path in a fresh interpreter; return what they did."""
    done = subprocess.run([sys.executable, "-c", _CHECK, str(worker), *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_example_worker_import_reads_no_clock_and_no_entropy() -> None:
    report = import_report(ROOT / "worker", [*CORE, "app", "entry"])
    assert report["calls"] == []
    assert report["server_packages"] == []


def test_the_check_catches_a_clock_read_and_a_random_draw(tmp_path: Path) -> None:
    worker = tmp_path / "worker"
    shutil.copytree(ROOT / "worker", worker, ignore=shutil.ignore_patterns("__pycache__"))
    app_py = worker / "app.py"
    app_py.write_text(app_py.read_text() + (
        "\nimport random, time, datetime\n"
        "STARTED = time.time()\n"
        "BUCKET = random.randint(0, 99)\n"
        "TODAY = datetime.datetime.now()\n"))
    report = import_report(worker, ["entry"])
    assert [c["call"] for c in report["calls"]] == ["time.time", "random.randint", "datetime.now"]
    assert all(c["at"].startswith(str(app_py)) for c in report["calls"])


# Modules only a configuration (or a feature the example does not use) needs:
# importing them at start-up would add their compile and run time to every
# cold start that has no dedicated snapshot.
ON_DEMAND = ["edgeline.config._compile", "edgeline.config._ipset", "edgeline.config._load",
             "edgeline.filtering._apply", "edgeline.filtering._auth",
             "edgeline.filtering._compile", "edgeline.filtering._lists",
             "edgeline.filtering._managed", "edgeline.filtering._parse",
             "edgeline.filtering._ratelimit", "edgeline.filtering._ruleset",
             "edgeline.filtering._view", "edgeline.origin._origin",
             "edgeline.origin._resilience", "edgeline.personalize._plan",
             "edgeline.personalize._slots", "edgeline.personalize._stage",
             "edgeline.routing._reference", "http.cookies"]


def test_example_worker_import_leaves_on_demand_modules_out() -> None:
    report = import_report(ROOT / "worker", ["entry"])
    assert "edgeline.filtering._engine" in report["modules"]  # the check sees the imports
    assert [name for name in ON_DEMAND if name in report["modules"]] == []


def test_on_demand_modules_load_when_used() -> None:
    """What start-up leaves out still arrives through the packages' public names."""
    done = subprocess.run([sys.executable, "-c", (
        "import sys, json\n"
        "from edgeline.filtering import ManagedRules, compile_ruleset, hash_api_key\n"
        "from edgeline.origin import RetryTransport, build_origin_transport\n"
        "from edgeline.routing import ReferenceRouter\n"
        "from edgeline.config import IPSet\n"
        "from edgeline.filtering import RequestView\n"
        "from edgeline.personalize import GeoPlan\n"
        "print(json.dumps(sorted(sys.modules)))\n")], cwd=ROOT, capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout)
    for name in ["edgeline.filtering._managed", "edgeline.filtering._auth",
                 "edgeline.origin._resilience", "edgeline.origin._origin",
                 "edgeline.routing._reference", "edgeline.config._ipset",
                 "edgeline.filtering._view", "edgeline.personalize._plan"]:
        assert name in loaded


def test_rules_compiler_leaves_managed_rules_out_until_configured() -> None:
    """A configuration without managed rules does not compile their screens."""
    done = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "import edgeline.filtering.config\n"
        "print('edgeline.filtering._managed' in sys.modules)\n")], cwd=ROOT,
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"
