"""The pytest plugin (node/testing/plugin.py) as a user meets it: tests/sample_project run by pytest in a
subprocess from a fresh directory, alone and under pytest-xdist, and a plain test that must not pay for it; no fixture
of the repository's own tests hides one of the plugin's."""
import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample_project"
VAULT = Path(__file__).resolve().parents[1] / "contracts" / "build" / "Vault.json"


def project(tmp_path: Path, **modules: str) -> Path:
    """A user's project in tmp_path: the sample modules under their test_ names, and the Vault artifact."""
    for name, sample in modules.items():
        shutil.copy(SAMPLE / sample, tmp_path / f"{name}.py")
    shutil.copy(VAULT, tmp_path / "Vault.json")
    return tmp_path


def run_pytest(folder: Path, *args: str, env: dict | None = None) -> tuple[int, str, dict]:
    import os
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args], cwd=folder,
                            capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    output = result.stdout + result.stderr
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", output)}
    return result.returncode, output, counts


def test_the_sample_project_passes(tmp_path):
    folder = project(tmp_path, test_vault="sample_vault.py", test_devnet="sample_devnet.py")
    code, output, counts = run_pytest(folder, "-q")
    assert code == 0, output
    assert counts == {"passed": 12}, output
    for name in ("test_vault.py::test_03_the_next_test_sees_them_unchanged",
                 "test_vault.py::test_05_and_the_next_test_sees_the_leak",
                 "test_vault.py::test_07_load_fixture_later_restores_its_state_without_running_it",
                 "test_vault.py::test_09_reverts_tells_a_require_string_a_custom_error_and_a_panic_apart",
                 "test_devnet.py::test_a_new_validator_stakes_is_elected_and_seals"):
        assert f"PASSED {name}" in output, name


def test_without_isolation_the_order_dependent_tests_fail(tmp_path):
    """The control: the same module with every test marked no_isolation, so isolation is what made it pass."""
    folder = project(tmp_path, test_vault="sample_vault.py")
    source = (folder / "test_vault.py").read_text()
    (folder / "test_vault.py").write_text(source + "\n\npytestmark = pytest.mark.no_isolation\n")
    code, output, counts = run_pytest(folder, "-q")
    assert code == 1
    assert "FAILED test_vault.py::test_03_the_next_test_sees_them_unchanged" in output
    assert "FAILED test_vault.py::test_08_without_load_fixture_its_state_is_absent" in output


def test_under_xdist_each_worker_has_its_own_chain(tmp_path):
    """Two copies of the vault module and the devnet one on two workers (by file: their tests build on each other
    in order); each copy starts from a fresh chain, so they pass only if the workers do not share one."""
    (tmp_path / "p").mkdir()
    folder = project(tmp_path / "p", test_vault_a="sample_vault.py", test_vault_b="sample_vault.py",
                     test_devnet="sample_devnet.py")
    reports = tmp_path / "reports"
    reports.mkdir()
    code, output, counts = run_pytest(folder, "-n", "2", "--dist", "loadfile", "-q",
                                      env={"SAMPLE_REPORT_DIR": str(reports)})
    assert code == 0, output
    assert counts == {"passed": 23}, output
    seen = [json.loads(p.read_text()) | {"file": p.name} for p in reports.glob("vault-*.json")]
    assert len(seen) == 2 and all(s["head"] == 0 for s in seen)   # both modules met a fresh chain
    # loadfile hands each worker one file first, the files with most tests first: one vault copy on each worker,
    # each on its own chain in its own data dir
    assert {s["file"].split("-")[1] for s in seen} == {"gw0", "gw1"}
    assert len({s["datadir"] for s in seen}) == 2
    assert {p.name.split("-")[1] for p in reports.glob("*.json")} == {"gw0", "gw1"}


def test_no_fixture_of_the_repository_s_tests_shadows_the_plugin_s(repo_root):
    """A module's own `w3` (or `accounts`...) would silently replace the plugin's for that module's tests."""
    plugin = {name for name, _ in fixtures_of(repo_root / "node" / "testing" / "plugin.py")
              if not name.startswith("_")}
    assert {"smartchain", "w3", "accounts", "deploy", "devnet", "load_fixture"} <= plugin
    shadows = [f"{path.relative_to(repo_root)}:{line} {name}" for path in sorted((repo_root / "tests").rglob("*.py"))
               for name, line in fixtures_of(path) if name in plugin]
    assert shadows == []


def fixtures_of(path: Path) -> list[tuple[str, int]]:
    """(name, line) of each function decorated as a pytest fixture in a Python file; `name=` wins over the def's."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if ast.unparse(target) not in ("pytest.fixture", "fixture"):
                continue
            named = [k.value.value for k in getattr(decorator, "keywords", ())
                     if k.arg == "name" and isinstance(k.value, ast.Constant)]
            found.append((named[0] if named else node.name, node.lineno))
    return found


def test_a_test_that_uses_no_plugin_fixture_loads_no_node(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_plain(request):\n"
        "    assert request.config.pluginmanager.has_plugin('smartchain')\n"
        "    assert 'node.node' not in sys.modules and 'eth' not in sys.modules and 'web3' not in sys.modules\n")
    code, output, counts = run_pytest(tmp_path, "-q")
    assert code == 0, output
    assert counts == {"passed": 1}, output


def test_options_choose_the_genesis_and_the_devnet_validators(tmp_path, repo_root):
    genesis = json.loads((repo_root / "genesis.json").read_text())
    genesis["config"]["chainId"] = 4242
    (tmp_path / "custom.json").write_text(json.dumps(genesis))
    (tmp_path / "test_options.py").write_text(
        "def test_genesis(w3):\n"
        "    assert w3.eth.chain_id == 4242\n\n"
        "def test_validators(devnet):\n"
        "    assert len(devnet.validators()) == 2 and len(devnet.standby) == 1\n")
    code, output, counts = run_pytest(tmp_path, "-q", "--smartchain-genesis", str(tmp_path / "custom.json"),
                                      "--smartchain-validators", "2")
    assert code == 0, output
    assert counts == {"passed": 2}, output
