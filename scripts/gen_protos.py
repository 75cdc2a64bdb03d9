"""Generate the Python modules and mypy stubs of `protos/` into a package folder.

`make protos` writes them to `generated/`; the sync test writes them to a
temporary folder and compares. protoc emits absolute imports such as
`from samvaad.v1 import auth_pb2`, which only work with `generated/` itself on
sys.path, so they are rewritten to `from generated.samvaad.v1 import ...`.

protos/google/ (vendored google.rpc status and error details, for clients in other
languages) is not generated: Python uses googleapis-common-protos' `google.rpc`, and a
second copy of the same descriptors in one process would clash.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE = "generated"
_IMPORT = re.compile(r"^(from|import) samvaad\.", re.MULTILINE)


# Folders of protos/ that other packages generate for Python.
VENDORED = {"google"}


def proto_files() -> list[Path]:
    """Samvaad's own protos: everything but the vendored folders."""
    return sorted(
        path
        for path in PROTO_ROOT.rglob("*.proto")
        if path.relative_to(PROTO_ROOT).parts[0] not in VENDORED
    )


def generate(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    # The mypy-protobuf plugins live beside the interpreter of the virtualenv.
    bin_dir = Path(sys.executable).parent
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    for path in out_dir.rglob("*.py*"):
        if path.suffix in {".py", ".pyi"}:
            text = path.read_text()
            path.write_text(_IMPORT.sub(rf"\1 {PACKAGE}.samvaad.", text))
    for folder in [out_dir, *(p for p in out_dir.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    (out_dir / "py.typed").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", nargs="?", default=str(ROOT / PACKAGE))
    generate(Path(parser.parse_args().out_dir))


if __name__ == "__main__":
    main()
