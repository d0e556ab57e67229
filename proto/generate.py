"""Generate the Python code for proto/zega/v1/*.proto into libs/common/zega_common/v1/.

`python proto/generate.py` writes it; `python proto/generate.py --check` fails when the committed
code differs from what the .proto files give (CI runs it through tests/test_contracts.py).
protoc writes `from zega.v1 import x_pb2`; the import is rewritten to the package the code lives in.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
TARGET = ROOT / "libs" / "common" / "zega_common" / "v1"
_IMPORT = re.compile(r"^from zega\.v1 import ", re.MULTILINE)


def generate(out: Path) -> None:
    """Run protoc over every .proto file and write the rewritten modules to `out`."""
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "zega" / "v1").glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out.mkdir(parents=True, exist_ok=True)
        for src in sorted((Path(tmp) / "zega" / "v1").iterdir()):
            text = _IMPORT.sub("from zega_common.v1 import ", src.read_text())
            (out / src.name).write_text(text)
    (out / "__init__.py").write_text('"""Code generated from proto/zega/v1 by proto/generate.py. Do not edit."""\n')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is out of date")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(TARGET, ignore_errors=True)
        generate(TARGET)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "v1"
        generate(fresh)
        cmp = filecmp.dircmp(fresh, TARGET, ignore=["__pycache__"])
        stale = cmp.diff_files + cmp.left_only + cmp.right_only
        if stale:
            print(f"generated code is out of date ({', '.join(sorted(stale))}): run `make proto`", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
