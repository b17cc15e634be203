"""Check the built distributions in DIR: every module of the package is in the wheel,
nothing else is, and both files carry the package's version.

  python .ci/check_dist.py dist
"""

import ast
import pathlib
import sys
import tarfile
import zipfile

PACKAGE = "tf_robust_distill"


def package_version(init_file):
    """``__version__`` as assigned in the package's __init__.py, read without importing it."""
    for node in ast.parse(init_file.read_text()).body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__version__"]:
            return node.value.value
    sys.exit(f"{init_file} assigns no __version__")


def main(directory):
    directory = pathlib.Path(directory)
    root = pathlib.Path(__file__).resolve().parent.parent
    version = package_version(root / PACKAGE / "__init__.py")
    wheels = list(directory.glob(f"{PACKAGE}-{version}-*.whl"))
    sdists = list(directory.glob(f"{PACKAGE}-{version}.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        found = sorted(path.name for path in directory.iterdir())
        sys.exit(
            f"expected one wheel and one sdist of version {version} in {directory}; found {found}"
        )
    root = pathlib.Path(__file__).resolve().parent.parent
    modules = {path.relative_to(root).as_posix() for path in (root / PACKAGE).rglob("*.py")}
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
    missing = sorted(modules - names)
    strays = sorted(
        name for name in names if name.endswith(".py") and not name.startswith(f"{PACKAGE}/")
    )
    if missing or strays:
        sys.exit(
            f"{wheels[0].name}: missing modules {missing}; modules not of the package {strays}"
        )
    with tarfile.open(sdists[0]) as sdist:
        if not any(name.endswith("/setup.cfg") for name in sdist.getnames()):
            sys.exit(f"sdist {sdists[0].name} lacks setup.cfg")
    print(f"{wheels[0].name}: {len(modules)} modules; {sdists[0].name}: ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dist")
