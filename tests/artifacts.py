"""Loading compiled contract artifacts from contracts/build/ (see contracts/README.md)."""
import json
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parents[1] / "contracts" / "build"


def load_artifact(name: str) -> dict:
    """contracts/build/<name>.json: contractName, abi, bytecode, deployedBytecode, compiler."""
    path = BUILD_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no artifact {path}; regenerate with "
            f"`npm --prefix contracts ci && npm --prefix contracts run compile`"
        )
    return json.loads(path.read_text())
